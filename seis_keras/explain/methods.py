"""One vocabulary of explanation methods for configs, the CLI and the API.

A method is written as text, e.g. in a recipe config or on the command line::

    lrp.epsilon                                   # defaults: epsilon=1e-06, bias=true
    lrp.epsilon(epsilon=1e-6, bias=false)         # Majstorovic et al. 2023 / Pytorch-LRP
    lrp.alpha_beta(beta=0.5)                      # alpha = 1 + beta, biases ignored
    lrp.alpha_beta(beta=1, stabilised=true)       # Pytorch-LRP's b-rule (SPEC section 1)
    lrp.composite(dense=epsilon(epsilon=0.25, relative=true), conv=gamma(gamma=0.25), input=zbox(low=-1, high=1))
    lrp.epsilon_gamma_box(low=-1, high=1)         # a named composite (zennit's names)
    gradient | gradient_x_input | saliency
    integrated_gradients(steps=64)
    smoothgrad(samples=50, noise=0.2)
    occlusion(mask=20, stride=10, score="logit")  # forward passes only (explain.occlusion)

:func:`parse_method` turns it into a :class:`MethodSpec` (name, every parameter filled
with its default, a label for reports) or raises a one-line ``ValueError`` naming the bad
part and what is allowed. The syntax is a Python call expression read with :mod:`ast`
(no code is run); ``true``/``false``/``none`` are accepted as in TOML. Parsing imports
no TensorFlow, so a config can be validated before any training starts.
:func:`explain` runs a method: LRP methods (``lrp.*``) in the innvestigate worker
(:class:`seis_keras.explain.lrp.LRPSession`), the gradient methods eagerly in this process
(:mod:`seis_keras.explain.saliency`), occlusion by forward passes (:mod:`seis_keras.explain.occlusion`).

LRP rules per layer (``lrp.composite`` slots ``input`` = the first layer(s) with weights,
``conv`` = convolutions, ``dense`` = Dense layers; BatchNorm is folded into the
preceding layer first, so its rule is that layer's):

- ``epsilon(epsilon, bias, relative)``: ``z + eps * sign(z)``; ``relative=true`` makes
  the stabiliser ``epsilon x RMS(z)`` of that layer, per sample (Montavon et al. 2019
  use 0.25 "std"; their tutorial takes the RMS over the batch, per sample keeps a map
  independent of its batch).
- ``alpha_beta(beta, bias, stabilised, epsilon)``: innvestigate's alpha-beta with
  ``alpha = 1 + beta``; ``stabilised=true`` is the authors' Pytorch-LRP variant.
- ``z_plus``, ``gamma(gamma, bias)`` (zennit's generalised LRP-gamma),
  ``flat``, ``w_square`` and ``zbox(low, high)`` (input layer only; bounds in input
  units, default the data range of the analysed batch).
Full conventions: :mod:`seis_keras.explain.lrp_rules`.
"""
from __future__ import annotations

import ast
import importlib
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from seis_keras.explain.method_table import (ALIASES, GRADIENT_METHODS, INPUT_ONLY_RULES, LAYER_RULES,
                                             LRP_METHODS, METHODS, NAMED_COMPOSITES, PERTURBATION_METHODS, SLOTS,
                                             Param)

__all__ = ["MethodSpec", "parse_method", "explain", "METHODS", "LAYER_RULES", "LRP_METHODS", "NAMED_COMPOSITES",
           "GRADIENT_METHODS", "PERTURBATION_METHODS", "ALIASES", "Param", "method_names"]

_GREEK = {"epsilon": "ε", "beta": "β", "gamma": "γ"}


def method_names() -> tuple[str, ...]:
    """Every method name, LRP first (for help texts and error messages)."""
    return tuple(METHODS)


# ---------------------------------------------------------------- the spec
@dataclass(frozen=True)
class MethodSpec:
    """A parsed method or layer rule: name and every parameter (defaults filled in).

    Attributes:
        name: e.g. ``"lrp.alpha_beta"`` (a method) or ``"gamma"`` (a layer rule).
        params: ``(name, value)`` pairs in the registry's order; a ``rule`` parameter
            holds a nested :class:`MethodSpec` (or None), ``bounds`` a float, a tuple of
            floats or None.
        layer_rule: True for a layer rule inside ``lrp.composite``.
    """

    name: str
    params: tuple = ()
    layer_rule: bool = False

    def __getitem__(self, key: str):
        for k, v in self.params:
            if k == key:
                return v
        raise KeyError(f"{self.name} has no parameter '{key}'")

    def as_dict(self) -> dict:
        """Parameters as a dict (nested rules stay :class:`MethodSpec`)."""
        return dict(self.params)

    @property
    def backend(self) -> str:
        """``"lrp"`` (innvestigate worker), ``"gradient"`` (eager, this process) or ``"perturbation"``
        (forward passes, this process)."""
        if self.name.startswith("lrp."):
            return "lrp"
        return "perturbation" if self.name in PERTURBATION_METHODS else "gradient"

    @property
    def text(self) -> str:
        """Canonical text: every parameter written out; ``parse_method(text) == self``."""
        if not self.params:
            return self.name
        return f"{self.name}({', '.join(f'{k}={_format(v)}' for k, v in self.params)})"

    def __str__(self) -> str:
        return self.text

    @property
    def label(self) -> str:
        """Short human label for figures and reports, e.g. ``LRP-αβ (β=0.5)``."""
        base = self.name.removeprefix("lrp.")
        shown = []
        for param in _params_of(self):
            value = self[param.name]
            if value != param.default or param.kind == "rule":
                key = _GREEK.get(param.name, param.name)
                shown.append(f"{key}={value.label if isinstance(value, MethodSpec) else _format(value)}")
        title = {"epsilon": "LRP-ε", "alpha_beta": "LRP-αβ", "gamma": "LRP-γ", "z_plus": "LRP-z⁺",
                 "composite": "LRP composite"}.get(base, ("LRP " if self.backend == "lrp" else "") + base)
        if self.layer_rule:
            title = {"epsilon": "ε", "alpha_beta": "αβ", "gamma": "γ", "z_plus": "z⁺"}.get(base, base)
        return f"{title} ({', '.join(shown)})" if shown else title

    def replace(self, **changes) -> "MethodSpec":
        """A copy with some parameters changed (validated like parsed values)."""
        known = {p.name: p for p in _params_of(self)}
        for key in changes:
            if key not in known:
                raise ValueError(f"method '{self.text}': unknown parameter '{key}' "
                                 f"(allowed: {', '.join(known) or 'none'})")
        params = tuple((k, _convert(known[k], changes[k], self.name) if k in changes else v) for k, v in self.params)
        return MethodSpec(self.name, params, self.layer_rule)

    def expanded(self) -> "MethodSpec":
        """A named composite as the ``lrp.composite`` it stands for (others unchanged)."""
        if self.name not in NAMED_COMPOSITES:
            return self
        values = {k: _format(v) for k, v in self.params}
        slots = []
        for slot, template in zip(("dense", "conv", "input"), NAMED_COMPOSITES[self.name]["expand"]):
            slots.append((slot, None if template is None else
                          _parse_rule(ast.parse(template.format(**values), mode="eval").body, slot, template)))
        return MethodSpec("lrp.composite", tuple(slots))


def _params_of(spec: MethodSpec) -> tuple[Param, ...]:
    return LAYER_RULES[spec.name] if spec.layer_rule else METHODS[spec.name]


def _format(v) -> str:
    if isinstance(v, MethodSpec):
        return v.text
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "[" + ", ".join(_format(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    return str(v)


# ---------------------------------------------------------------- parsing
def _allowed_methods() -> str:
    return ", ".join(METHODS)


def _literal(node, what: str):
    """A constant from the syntax tree: number, bool, none, string, list of numbers."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (int, float, str))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, what)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Name):
        lowered = node.id.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("none", "null"):
            return None
        if lowered in ("inf", "nan"):
            return float(lowered)
        return node.id  # a bare word: a choice or a rule name
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(_literal(e, what) for e in node.elts)
    raise ValueError(f"{what}: cannot read '{ast.unparse(node)}' (expected a number, true/false, none, a word "
                     "or a list of numbers)")


def _convert(param: Param, value, where: str):
    what = f"method '{where}': parameter '{param.name}'"
    if param.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{what} must be true or false, got {_format(value) if value is not None else 'none'}")
        return value
    if param.kind in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{what} must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise ValueError(f"{what} must be finite, got {value!r}")
        if param.kind == "int":
            if float(value) != int(value):
                raise ValueError(f"{what} must be a whole number, got {value!r}")
            value = int(value)
        else:
            value = float(value)
    elif param.kind == "bounds":
        if value is None:
            return None
        items = value if isinstance(value, tuple) else (value,)
        if not items or any(isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x)
                            for x in items):
            raise ValueError(f"{what} must be a finite number, a list of them (one per channel) or none, got "
                             f"{_format(value) if isinstance(value, tuple) else repr(value)}")
        value = tuple(float(x) for x in items) if isinstance(value, tuple) else float(value)
    elif param.kind == "choice":
        if value not in param.choices:
            raise ValueError(f"{what} must be one of {', '.join(param.choices)}, got {value!r}")
    if param.check is not None:
        problem = param.check(value)
        if problem:
            raise ValueError(f"{what} {problem}, got {_format(value)}")
    return value


def _fill(name: str, params: tuple[Param, ...], keywords: Mapping[str, Any], where: str, layer_rule=False):
    known = {p.name: p for p in params}
    for key in keywords:
        if key not in known:
            raise ValueError(f"method '{where}': unknown parameter '{key}' for {name} "
                             f"(allowed: {', '.join(known) or 'none'})")
    spec = MethodSpec(name, tuple((p.name, _convert(p, keywords[p.name], where) if p.name in keywords
                                   else p.default) for p in params), layer_rule)
    if spec.name.removeprefix("lrp.") == "alpha_beta" and spec["stabilised"] and spec["bias"]:
        raise ValueError(f"method '{where}': alpha_beta(stabilised=true) has no bias term (Pytorch-LRP ignores "
                         "biases); drop bias=true")
    return spec


def _call_parts(node, where: str):
    """(dotted name, {keyword: node}) of ``name`` or ``name(k=v, ...)``."""
    call = node if isinstance(node, ast.Call) else None
    target = call.func if call is not None else node
    parts = []
    while isinstance(target, ast.Attribute):
        parts.append(target.attr)
        target = target.value
    if not isinstance(target, ast.Name):
        raise ValueError(f"method '{where}': expected a name like lrp.epsilon or smoothgrad(samples=50)")
    name = ".".join([target.id] + parts[::-1])
    if call is not None and call.args:
        raise ValueError(f"method '{where}': write parameters as name=value "
                         f"(got positional '{ast.unparse(call.args[0])}')")
    keywords = {}
    for kw in (call.keywords if call is not None else []):
        if kw.arg is None:
            raise ValueError(f"method '{where}': '**' is not allowed")
        if kw.arg in keywords:
            raise ValueError(f"method '{where}': parameter '{kw.arg}' given twice")
        keywords[kw.arg] = kw.value
    return name, keywords


def _parse_rule(node, slot: str, where: str):
    """A layer rule (nested in ``lrp.composite``) from its syntax tree, or None."""
    if isinstance(node, ast.Constant) and node.value is None or (
            isinstance(node, ast.Name) and node.id.lower() in ("none", "null")):
        if slot != "input":
            raise ValueError(f"method '{where}': the {slot} slot needs a rule (allowed: {', '.join(LAYER_RULES)})")
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            raise ValueError(f"method '{where}': cannot read the {slot} rule {node.value!r}") from None
    name, keywords = _call_parts(node, where)
    name = name.removeprefix("lrp.")
    if name not in LAYER_RULES:
        raise ValueError(f"method '{where}': unknown {slot} rule '{name}' (allowed: {', '.join(LAYER_RULES)})")
    if name in INPUT_ONLY_RULES and slot != "input":
        raise ValueError(f"method '{where}': rule '{name}' is for the input layer only (slot input=, not {slot}=)")
    values = {k: _literal(v, f"method '{where}'") for k, v in keywords.items()}
    return _fill(name, LAYER_RULES[name], values, where, layer_rule=True)


def parse_method(method) -> MethodSpec:
    """Parse and validate a method: ``"lrp.alpha_beta(beta=0.5)"`` -> :class:`MethodSpec`.

    Args:
        method: method text (see the module docstring), an older alias such as
            ``"lrp_epsilon"``, or a :class:`MethodSpec` (returned unchanged).

    Returns:
        The :class:`MethodSpec`, every parameter filled in.

    Raises:
        ValueError: one line naming the bad part (unknown method or parameter, a value
            of the wrong type or out of range) and what is allowed.
    """
    if isinstance(method, MethodSpec):
        return method
    if not isinstance(method, str) or not method.strip():
        raise ValueError(f"method: expected text such as 'lrp.epsilon', got {method!r} "
                         f"(allowed: {_allowed_methods()})")
    text = ALIASES.get(method.strip(), method.strip())
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise ValueError(f"method '{method}': not readable (expected name or name(key=value, ...), "
                         f"e.g. lrp.alpha_beta(beta=0.5))") from None
    name, keywords = _call_parts(node, method)
    if name not in METHODS:
        hint = f"; did you mean lrp.{name}?" if f"lrp.{name}" in METHODS else ""
        raise ValueError(f"method '{method}': unknown method '{name}'{hint} (allowed: {_allowed_methods()})")
    values = {}
    for key, value in keywords.items():
        param = next((p for p in METHODS[name] if p.name == key), None)
        values[key] = _parse_rule(value, key, method) if param is not None and param.kind == "rule" \
            else _literal(value, f"method '{method}'")
    if name == "lrp.composite":  # slot defaults are text: parse them like given values
        for param in SLOTS:
            if param.name not in values:
                values[param.name] = _parse_rule(ast.parse(param.default, mode="eval").body, param.name, method)
        known = [p.name for p in SLOTS]
        unknown = [k for k in values if k not in known]
        if unknown:
            raise ValueError(f"method '{method}': unknown parameter '{unknown[0]}' for lrp.composite "
                             f"(allowed: {', '.join(known)})")
        return MethodSpec(name, tuple((p.name, values[p.name]) for p in SLOTS))
    return _fill(name, METHODS[name], values, method)


# ---------------------------------------------------------------- running a method
def explain(model, X, method="lrp.epsilon", *, class_index="predicted", session=None,
            batch_size: int = 256, seed: int | None = 0) -> np.ndarray:
    """Relevance / attribution of every input value for each sample's target score.

    The target follows :mod:`seis_keras.explain.targets` for every method: a k-unit
    model explains the logit ``z[t]`` of the target class; a 1-unit model explains
    ``z`` for class 1 and ``-z`` for class 0 (LRP rules are linear in the starting
    relevance, so class 0 is the class-1 map negated). ``class_index=1`` on the detector
    is the paper's choice (relevance of the single logit for every window).

    Args:
        model: a Keras model or saved-model path (``.h5``/SavedModel; LRP also takes
            ``.keras``, re-saved as ``.h5`` for the worker).
        X: batch shaped like the model input, e.g. ``(N, 500, 3)``.
        method: method text or :class:`MethodSpec` (see the module docstring).
        class_index: ``"predicted"``, an int, or one int per sample.
        session: an open :class:`~seis_keras.explain.lrp.LRPSession` on the same model
            for LRP methods (no new worker; its current weights are used); else a worker
            is started and stopped for this call.
        batch_size: samples per worker request / gradient call.
        seed: seed of SmoothGrad's noise.

    Returns:
        float32 array shaped like ``X``.

    Raises:
        ValueError: unknown method or bad parameters, bad ``class_index``.
    """
    spec = parse_method(method)
    X = np.asarray(X, dtype=np.float32)
    if spec.backend == "lrp":
        return _explain_lrp(model, X, spec, class_index, session, batch_size)
    if spec.name == "occlusion":
        occ = importlib.import_module("seis_keras.explain.occlusion")  # deferred like the gradient methods below
        return occ.occlusion_map(model, X, mask=spec["mask"], stride=spec["stride"], fill=spec["fill"],
                                 class_index=class_index, score=spec["score"], batch_size=batch_size)
    # TensorFlow (eager) only now that it is needed: parsing stays import-free. The module, not
    # the package attribute of the same name (that is the saliency function)
    grad = importlib.import_module("seis_keras.explain.saliency")

    common = dict(class_index=class_index, batch_size=batch_size)
    if spec.name == "gradient":
        return grad.saliency(model, X, **common)
    if spec.name == "saliency":
        return grad.saliency(model, X, absolute=True, **common)
    if spec.name == "gradient_x_input":
        return grad.gradient_x_input(model, X, **common)
    if spec.name == "integrated_gradients":
        return grad.integrated_gradients(model, X, steps=spec["steps"], baseline=spec["baseline"],
                                         rule=spec["rule"], **common)
    return grad.smoothgrad(model, X, samples=spec["samples"], noise=spec["noise"], absolute=spec["absolute"],
                           seed=seed, **common)


def _explain_lrp(model, X, spec, class_index, session, batch_size):
    # the worker client imports TensorFlow only to save in-memory models: deferred like above
    from seis_keras.explain.lrp import LRPSession

    if session is None:
        with LRPSession(model, batch_size=batch_size) as own:
            return _explain_lrp(model, X, spec, class_index, own, batch_size)
    n_out = session.info["n_outputs"]
    if n_out > 1:
        neuron = class_index if isinstance(class_index, str) else np.broadcast_to(
            np.asarray(class_index), (len(X),))
        if isinstance(neuron, str) and neuron != "predicted":
            raise ValueError(f"class_index: expected 'predicted', an int or one int per sample, got {class_index!r}")
        return session.analyze(X, spec, neuron=neuron)
    if isinstance(class_index, str):
        if class_index != "predicted":
            raise ValueError(f"class_index: expected 'predicted', an int or one int per sample, got {class_index!r}")
        targets = (session.predict(X)[:, 0] > 0).astype(np.int64)
    else:
        targets = np.broadcast_to(np.asarray(class_index), (len(X),)).astype(np.int64)
        if targets.size and (targets.min() < 0 or targets.max() > 1):
            raise ValueError(f"class_index: classes must lie in 0..1 for a 1-unit model, got "
                             f"{sorted(set(targets.tolist()))}")
    R = session.analyze(X, spec, neuron=0)
    sign = (2.0 * targets - 1.0).astype(np.float32).reshape((-1,) + (1,) * (X.ndim - 1))
    return R * sign
