"""The table of explanation methods and LRP layer rules (names, parameters, defaults, checks).

Data only (no TensorFlow, no parsing): :mod:`seis_keras.explain.methods` reads it. Every
choice a paper leaves open is a parameter here with its documented default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["Param", "LAYER_RULES", "INPUT_ONLY_RULES", "SLOTS", "NAMED_COMPOSITES", "LRP_METHODS",
           "GRADIENT_METHODS", "PERTURBATION_METHODS", "METHODS", "ALIASES"]


# ---------------------------------------------------------------- parameter checks
def _positive(v):
    return None if v > 0 else "must be > 0"


def _non_negative(v):
    return None if v >= 0 else "must be >= 0"


def _at_least_one(v):
    return None if v >= 1 else "must be >= 1"


@dataclass(frozen=True)
class Param:
    """One parameter of a method or layer rule.

    ``kind``: ``float``, ``int``, ``bool``, ``bounds`` (a number, a list of numbers one
    per channel, or none = the data range), ``rule`` (a layer rule, or none), ``choice``.
    """

    name: str
    kind: str
    default: Any
    doc: str
    check: Callable[[Any], str | None] | None = None
    choices: tuple = ()


def _p(name, kind, default, doc, check=None, choices=()):
    return Param(name, kind, default, doc, check, choices)


_EPS = _p("epsilon", "float", 1e-6, "stabiliser of the denominators", _positive)

#: layer rule name -> parameters (rules of ``lrp.composite`` slots)
LAYER_RULES: dict[str, tuple[Param, ...]] = {
    "epsilon": (_EPS, _p("bias", "bool", True, "biases inside z"),
                _p("relative", "bool", False, "stabiliser = epsilon x RMS(z) of the layer, per sample")),
    "alpha_beta": (_p("beta", "float", 0.0, "beta (alpha = 1 + beta)", _non_negative),
                   _p("bias", "bool", False, "whole bias in both denominators (innvestigate)"),
                   _p("stabilised", "bool", False, "Pytorch-LRP b-rule: eps*sign(z), one-sign neurons keep R"),
                   _EPS),
    "z_plus": (),
    "gamma": (_p("gamma", "float", 0.25, "weight of the added positive parts", _non_negative),
              _p("bias", "bool", True, "biases (b + gamma b+) in the denominators")),
    "flat": (),
    "w_square": (),
    "zbox": (_p("low", "bounds", None, "lowest input value (none: data minimum)"),
             _p("high", "bounds", None, "highest input value (none: data maximum)")),
}
INPUT_ONLY_RULES = ("zbox",)

SLOTS = (_p("dense", "rule", "epsilon(epsilon=0.25, relative=true)", "rule at Dense layers"),
          _p("conv", "rule", "gamma(gamma=0.25)", "rule at convolutions"),
          _p("input", "rule", "zbox", "rule at the first layer(s) with weights (none: its type's rule)"))


def _named(dense, conv, input_, *params):
    return {"params": params, "expand": (dense, conv, input_)}


#: named composites: parameters and the slot rules they expand to (``{x}`` = parameter x)
NAMED_COMPOSITES = {
    # zennit's composites (Anders et al.), so that the two libraries can be compared by name
    "lrp.epsilon_plus": _named("epsilon(epsilon={epsilon})", "z_plus", None, _EPS),
    "lrp.epsilon_plus_flat": _named("epsilon(epsilon={epsilon})", "z_plus", "flat", _EPS),
    "lrp.epsilon_alpha2_beta1": _named("epsilon(epsilon={epsilon})", "alpha_beta(beta=1)", None, _EPS),
    "lrp.epsilon_alpha2_beta1_flat": _named("epsilon(epsilon={epsilon})", "alpha_beta(beta=1)", "flat", _EPS),
    "lrp.epsilon_gamma_box": _named(
        "epsilon(epsilon={epsilon})", "gamma(gamma={gamma})", "zbox(low={low}, high={high})", _EPS,
        _p("gamma", "float", 0.25, "LRP-gamma at convolutions", _non_negative),
        _p("low", "bounds", None, "lowest input value (none: data minimum)"),
        _p("high", "bounds", None, "highest input value (none: data maximum)")),
    # innvestigate's presets (epsilon 0.1 at Dense, alpha1beta0 / alpha2beta1 WITH bias at convs)
    "lrp.sequential_preset_a": _named("epsilon(epsilon={epsilon})", "alpha_beta(beta=0, bias=true)", None,
                                      _p("epsilon", "float", 0.1, "epsilon at Dense layers", _positive)),
    "lrp.sequential_preset_b": _named("epsilon(epsilon={epsilon})", "alpha_beta(beta=1, bias=true)", None,
                                      _p("epsilon", "float", 0.1, "epsilon at Dense layers", _positive)),
    "lrp.sequential_preset_a_flat": _named("epsilon(epsilon={epsilon})", "alpha_beta(beta=0, bias=true)", "flat",
                                           _p("epsilon", "float", 0.1, "epsilon at Dense layers", _positive)),
    "lrp.sequential_preset_b_flat": _named("epsilon(epsilon={epsilon})", "alpha_beta(beta=1, bias=true)", "flat",
                                           _p("epsilon", "float", 0.1, "epsilon at Dense layers", _positive)),
}

#: LRP methods run by the worker: one rule for every layer, or a composite
LRP_METHODS: dict[str, tuple[Param, ...]] = {
    "lrp.epsilon": LAYER_RULES["epsilon"],
    "lrp.alpha_beta": LAYER_RULES["alpha_beta"],
    "lrp.z_plus": (),
    "lrp.gamma": LAYER_RULES["gamma"],
    "lrp.composite": SLOTS,
    **{name: entry["params"] for name, entry in NAMED_COMPOSITES.items()},
}

#: gradient methods, run eagerly (``gradient`` also runs in the LRP worker, for LRPAnalyzer)
GRADIENT_METHODS: dict[str, tuple[Param, ...]] = {
    "gradient": (),
    "saliency": (),
    "gradient_x_input": (),
    "integrated_gradients": (_p("steps", "int", 64, "points on the path", _at_least_one),
                             _p("baseline", "float", 0.0, "constant baseline input"),
                             _p("rule", "choice", "riemann_trapezoid", "quadrature",
                                choices=("riemann_trapezoid", "riemann_right", "riemann_left",
                                         "riemann_middle", "gausslegendre"))),
    "smoothgrad": (_p("samples", "int", 50, "noisy copies per sample", _at_least_one),
                   _p("noise", "float", 0.2, "noise std / (max - min) of each sample", _non_negative),
                   _p("absolute", "bool", False, "average |gradient| instead of the gradient")),
}

#: perturbation methods (forward passes only, run in this process): :mod:`seis_keras.explain.occlusion`
PERTURBATION_METHODS: dict[str, tuple[Param, ...]] = {
    # defaults are Ong et al.'s §6.1 (400 zeros, stride 400, class probability); mask and stride in samples
    "occlusion": (_p("mask", "int", 400, "occluded samples per position", _at_least_one),
                  _p("stride", "int", 400, "samples between mask positions", _at_least_one),
                  _p("fill", "float", 0.0, "value written into the mask"),
                  _p("score", "choice", "probability", "score whose drop is the map",
                     choices=("probability", "logit"))),
}

METHODS: dict[str, tuple[Param, ...]] = {**LRP_METHODS, **GRADIENT_METHODS, **PERTURBATION_METHODS}

#: older names (CLI before the vocabulary, LRPAnalyzer rules) -> method text
ALIASES = {
    "lrp_epsilon": "lrp.epsilon", "lrp_alpha_beta": "lrp.alpha_beta", "lrp_z_plus": "lrp.z_plus",
}
