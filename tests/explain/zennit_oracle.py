"""zennit (PyTorch LRP) as the oracle of tests/explain/test_lrp_oracle.py, and LRP conventions as zennit rules.

zennit's own rules and composites are used as they are, except where a test states the
convention it changes:

- :class:`MergeBatchNormExact`: zennit 0.5.1's BatchNorm canonizer with its eps bug fixed;
- :func:`alpha_beta_whole_bias`: zennit's AlphaBeta with innvestigate's ``bias=True``
  convention (the whole bias in both denominators; zennit puts b+ in z+ and b- in z-);
- :func:`safe`: innvestigate's alpha-beta denominator (no stabiliser; exact zeros -> 1e-7);
- :class:`PytorchLRPAlphaBeta`, :func:`pytorch_lrp_epsilon`: the conventions of
  moboehle/Pytorch-LRP, the library Majstorović et al. 2023 used (written from its
  ``inverter_util.py``; no code copied).

Imports torch and zennit: import this module only after ``pytest.importorskip("torch")``.
"""
import copy

import numpy as np
import torch
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import LayerMapComposite, layer_map_base
from zennit.core import BasicHook
from zennit.rules import AlphaBeta, ClampMod, Epsilon
from zennit.types import Linear


def safe(z):
    """innvestigate's ``safe_divide`` denominator: only exact zeros are replaced (by 1e-7)."""
    return z + 1e-7 * (z == 0)


def rel(a, b) -> float:
    """Max absolute difference relative to the largest ``|b|`` (``b`` is the reference)."""
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


def channels_first(X) -> "torch.Tensor":
    """Keras ``(N, T, C)`` (or tabular ``(N, F)``) numpy -> float64 torch ``(N, C, T)`` (``(N, F)``)."""
    X = np.asarray(X, np.float64)
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(X, -1, 1) if X.ndim == 3 else X))


def channels_last(R: np.ndarray) -> np.ndarray:
    """Inverse of :func:`channels_first` for numpy relevance."""
    return np.moveaxis(R, 1, -1) if R.ndim == 3 else R


class MergeBatchNormExact(SequentialMergeBatchNorm):
    """zennit's SequentialMergeBatchNorm, also zeroing the merged BN's eps (and restoring it).

    zennit 0.5.1 turns the merged BN into mean 0, variance 1, scale 1, shift 0 but keeps its
    eps, so the "identity" divides by sqrt(1 + eps) (~5e-6 per layer for eps 1e-5, ~3e-5 in
    relevance on a 3-block Norcia model). Fixed upstream in commit c30e3cc (zennit 1.0, which
    needs Python >= 3.11.11).
    """

    def register(self, linears, batch_norm):
        self.batch_norm_eps = batch_norm.eps
        super().register(linears, batch_norm)
        batch_norm.eps = 0.0

    def remove(self):
        super().remove()
        self.batch_norm.eps = self.batch_norm_eps


def alpha_beta_whole_bias(alpha: float, beta: float) -> AlphaBeta:
    """zennit's AlphaBeta with innvestigate's ``bias=True`` convention.

    zennit's four branches are (x+, w+ and b+), (x-, w-, no bias) -> z+ and (x+, w- and b-),
    (x-, w+, no bias) -> z-. The one-line change keeps the clamped bias in the x- branches
    too, so z+ gets b+ + b- = b, and so does z- (innvestigate's copies of the layer with
    positive/negative weights keep their clamped biases). No stabiliser, as innvestigate.
    """
    rule = AlphaBeta(alpha, beta, stabilizer=safe)
    rule.param_modifiers[1], rule.param_modifiers[3] = ClampMod(max=0.0), ClampMod(min=0.0)
    return rule


class PytorchLRPAlphaBeta(BasicHook):
    """Pytorch-LRP's alpha-beta ("b-rule") as a zennit rule.

    Biases ignored; contributions split by the sign of x*w; z+ and z- stabilised by
    ``eps * sign(z)`` (exact zeros first set to 1); a neuron whose contributions all have one
    sign has its z scaled by alpha (or -beta), so it passes R on where innvestigate and zennit
    pass alpha*R (or -beta*R).

    Args:
        beta: beta >= 0 (alpha = 1 + beta).
        epsilon: the stabiliser (the paper: 1e-6).
        one_sign_passes_r: False leaves out the one-sign scaling (to isolate it in a test).
    """

    def __init__(self, beta: float, epsilon: float, one_sign_passes_r: bool = True):
        alpha = 1.0 + beta
        no_bias = ["bias"]

        def mapper(out_grad, outputs):
            pos, neg = outputs[0] + outputs[1], outputs[2] + outputs[3]
            one_sign = ((pos == 0) | (neg == 0)) & one_sign_passes_r
            pos, neg = torch.where(pos == 0, 1.0, pos), torch.where(neg == 0, 1.0, neg)
            pos = torch.where(one_sign, pos * alpha, pos)
            neg = torch.where(one_sign, neg * (-beta if beta else 1.0), neg)
            pos, neg = pos + epsilon * torch.sign(pos), neg + epsilon * torch.sign(neg)
            return [alpha * out_grad / pos] * 2 + [-beta * out_grad / neg] * 2

        super().__init__(
            input_modifiers=[lambda x: x.clamp(min=0), lambda x: x.clamp(max=0)] * 2,
            param_modifiers=[ClampMod(min=0.0, zero_params=no_bias), ClampMod(max=0.0, zero_params=no_bias),
                             ClampMod(max=0.0, zero_params=no_bias), ClampMod(min=0.0, zero_params=no_bias)],
            output_modifiers=[lambda y: y] * 4,
            gradient_mapper=mapper,
            reducer=lambda inputs, grads: sum(x * g for x, g in zip(inputs, grads)),
        )


def pytorch_lrp_epsilon(epsilon: float) -> Epsilon:
    """Pytorch-LRP's epsilon ("e-rule"): no bias, ``z + eps*sign(z)`` with sign(0) = 0 and R = 0 where z = 0."""
    return Epsilon(lambda z: torch.where(z == 0, torch.inf, z + epsilon * torch.sign(z)), zero_params="bias")


def composite(rule, stabilizer=safe) -> LayerMapComposite:
    """``rule`` at every Conv/Dense; zennit's base map elsewhere (Pass at ReLU and BN, Norm at
    average pooling, with innvestigate's denominator by default); BN merged exactly."""
    return LayerMapComposite(layer_map_base(stabilizer) + [(Linear, rule)], canonizers=[MergeBatchNormExact()])


def zennit_lrp(twin, composite, X, neuron, dtype=torch.float64) -> np.ndarray:
    """zennit relevance of the selected logits, starting at their value (innvestigate's start).

    Args:
        twin: the PyTorch model (evaluation mode).
        composite: a zennit composite (applied for this call only).
        X: Keras-layout input batch (numpy).
        neuron: one logit index per sample.
        dtype: computation dtype (the model is converted in place).

    Returns:
        Relevance in Keras layout, numpy.
    """
    twin.to(dtype)
    x = channels_first(X).to(dtype).requires_grad_(True)
    with torch.no_grad():
        n_out = twin(x).shape[1]
    select = torch.nn.functional.one_hot(torch.as_tensor(neuron), num_classes=n_out).to(dtype)
    with Gradient(twin, composite) as attributor:
        _, relevance = attributor(x, lambda out: out * select)
    return channels_last(relevance.detach().numpy())


def tolerance(twin, make_composite, X, neuron, expected) -> float:
    """1e-5, or twice the oracle's own float32 rounding error where the problem is worse
    conditioned than that (bias-free epsilon with small denominators amplifies rounding):
    innvestigate runs in float32, the oracle in float64."""
    relevance32 = zennit_lrp(copy.deepcopy(twin), make_composite(), X, neuron, dtype=torch.float32)
    return max(1e-5, 2 * rel(relevance32, expected))
