"""innvestigate analyzers for every LRP method of :mod:`seis_keras.explain.methods` (worker side).

Imported only inside the LRP worker (eager execution disabled). A method becomes either
one of innvestigate's own analyzers (``lrp.epsilon``, ``lrp.alpha_beta``, ``lrp.z_plus``,
``gradient``: unchanged, checked against our numpy reference) or innvestigate's generic
``LRP`` analyzer with a per-layer rule map (conditions, first match wins): the
``input`` rule at the first layer(s) with weights, then the ``dense`` rule at Dense
layers, then the ``conv`` rule at convolutions. Layers without weights keep
innvestigate's handling (ReLU/Dropout pass, MaxPooling winner-takes-all, average
pooling proportional, ZeroPadding cropped). BatchNorm is folded before (lrp_worker).

Rules beyond innvestigate's (``x+ = max(x, 0)``, ``x- = min(x, 0)``, same for weights):

- ``RelativeEpsilonRule``: LRP-epsilon with stabiliser ``epsilon x RMS(z)``, the RMS over
  all units of the layer **per sample** (floored at 1e-7).
- ``GammaRule``: zennit's generalised LRP-gamma. Neurons with ``z > 0`` share
  ``R`` in proportion to ``x+ (w + g w+) + x- (w + g w-)`` (+ ``b + g b+``), neurons with
  ``z < 0`` to ``x+ (w + g w-) + x- (w + g w+)`` (+ ``b + g b-``); ``z`` is the real
  pre-activation; denominators ``d + 1e-6 sign(d)`` (sign(0) = +1). For ``x >= 0`` and
  ``z > 0`` this is Montavon et al. 2019's LRP-gamma.
- ``StabilisedAlphaBetaRule``: the b-rule of moboehle/Pytorch-LRP (the detector authors'
  library, SPEC section 1): no biases; activating ``z_a = x+ w+ + x- w-`` and inhibiting
  ``z_i = x+ w- + x- w+`` denominators get ``+ epsilon sign(z)``; a neuron whose
  ``z_a`` or ``z_i`` is exactly 0 ("rare": one sign of contribution only) has its
  denominators scaled by ``alpha`` resp. ``-beta`` (``1`` when beta = 0), so it passes
  ``R`` on unchanged where innvestigate's alpha-beta passes ``alpha R`` (only
  activating inputs) or ``-beta R`` (only inhibiting). Relevance is then conserved in a
  bias-free network for any beta; innvestigate's is not.
- ``BoxRule`` (z^B, Montavon et al. 2017), ``MaskedFlatRule``, ``MaskedWSquareRule``: as
  innvestigate's ``BoundedRule``/``FlatRule``/``WSquareRule`` (exact-zero denominators
  -> 1e-7), except that positions an explicit ``ZeroPadding`` layer added before the
  input layer count as fixed zeros (bounds 0, no "ones"): innvestigate's rules treat them
  as data and lose the relevance they get when the padding is cropped (the detector pads
  before conv1). Without padding they equal innvestigate's rules (tests).

innvestigate's own ``input_layer_rule`` is not used: its ``is_input_layer`` check does not
look through ``ZeroPadding1D``, so on the detector its ``..._flat`` presets never apply
the flat rule. Input layers are found here by walking the graph (:func:`first_layers`).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

import innvestigate.analyzer as ia
import innvestigate.analyzer.relevance_based.relevance_rule as rrule
import innvestigate.backend as ibackend
import innvestigate.backend.checks as ichecks
import innvestigate.backend.graph as igraph
from innvestigate.analyzer.relevance_based.relevance_analyzer import LRP

__all__ = ["build_analyzer", "first_layers", "input_masks", "resolve_bounds", "GammaRule",
           "RelativeEpsilonRule", "StabilisedAlphaBetaRule", "BoxRule", "MaskedFlatRule", "MaskedWSquareRule"]

K = keras.backend
GAMMA_STABILISER = 1e-6  # zennit's default stabiliser of the gamma denominators
_FLOOR = 1e-7            # innvestigate's safe-divide constant; floor of the relative epsilon


def _f(x):
    return tf.cast(x, K.floatx())


def _pos(x):
    return x * _f(x > 0)


def _neg(x):
    return x * _f(x < 0)


def _sign(x):
    """sign with sign(0) = +1 (innvestigate's epsilon convention)."""
    return _f(x >= 0) * 2.0 - 1.0


def _lam(fn, *tensors):
    """Apply ``fn`` to Keras tensors through a Lambda layer (as innvestigate's rules do)."""
    return keras.layers.Lambda(lambda args: fn(*args))(list(tensors))


def _check_layer(layer, rule):
    if not hasattr(layer, "kernel") or len(layer.weights) not in (1, 2):
        raise ValueError(f"{rule}: layer '{layer.name}' ({type(layer).__name__}) is not a Dense/Conv layer with "
                         "kernel (+ bias)")


def _copy(layer, kernel, bias=None, tag="x"):
    """Copy of ``layer`` without activation whose weights are the given symbolic tensors."""
    keep = bias is not None and getattr(layer, "use_bias", False)
    return igraph.copy_layer_wo_activation(layer, keep_bias=keep, weights=[kernel, bias] if keep else [kernel],
                                           name_template=f"reversed_{tag}_%s")


def _grads(X, Z, S):
    return ibackend.gradients([X], [Z], [S])[0]


class RelativeEpsilonRule(igraph.ReverseMappingBase):
    """LRP-epsilon with stabiliser ``epsilon x RMS(z)`` per sample and layer (floor 1e-7)."""

    def __init__(self, layer, _state, epsilon=0.25, bias=True):
        _check_layer(layer, "epsilon(relative=true)")
        self._epsilon = float(epsilon)
        self._layer = igraph.copy_layer_wo_activation(layer, keep_bias=bias, name_template="reversed_releps_%s")

    def apply(self, Xs, _Ys, Rs, _state):
        eps = self._epsilon

        def share(r, z):
            rms = K.sqrt(K.mean(K.square(z), axis=list(range(1, len(z.shape))), keepdims=True))
            return r / (z + _sign(z) * K.maximum(eps * rms, _FLOOR))

        out = []
        for x, r in zip(Xs, Rs):
            z = self._layer(x)
            out.append(keras.layers.Multiply()([x, _grads(x, z, _lam(share, r, z))]))
        return out


class GammaRule(igraph.ReverseMappingBase):
    """zennit's generalised LRP-gamma (see the module docstring)."""

    def __init__(self, layer, _state, gamma=0.25, bias=True):
        _check_layer(layer, "gamma")
        g = float(gamma)
        kernel = layer.weights[0]
        b = layer.weights[1] if bias and getattr(layer, "use_bias", False) else None
        self._pp = _copy(layer, kernel + g * _pos(kernel), None if b is None else b + g * _pos(b), "gpp")
        self._nn = _copy(layer, kernel + g * _neg(kernel), None, "gnn")
        self._pn = _copy(layer, kernel + g * _neg(kernel), None if b is None else b + g * _neg(b), "gpn")
        self._np = _copy(layer, kernel + g * _pos(kernel), None, "gnp")
        self._z = igraph.copy_layer_wo_activation(layer, keep_bias=True, name_template="reversed_gz_%s")

    def apply(self, Xs, _Ys, Rs, _state):
        out = []
        for x, r in zip(Xs, Rs):
            xp, xn = _lam(_pos, x), _lam(_neg, x)
            z = self._z(x)
            a1, a2, i1, i2 = self._pp(xp), self._nn(xn), self._pn(xp), self._np(xn)

            def share(r_, z_, d1, d2, positive):
                d = d1 + d2
                mask = _f(z_ > 0) if positive else _f(z_ < 0)
                return r_ * mask / (d + GAMMA_STABILISER * _sign(d))

            sp = _lam(lambda *a: share(*a, True), r, z, a1, a2)
            sn = _lam(lambda *a: share(*a, False), r, z, i1, i2)
            terms = [keras.layers.Multiply()([xp, _grads(xp, a1, sp)]), keras.layers.Multiply()([xn, _grads(xn, a2, sp)]),
                     keras.layers.Multiply()([xp, _grads(xp, i1, sn)]), keras.layers.Multiply()([xn, _grads(xn, i2, sn)])]
            out.append(keras.layers.Add()(terms))
        return out


class StabilisedAlphaBetaRule(igraph.ReverseMappingBase):
    """Pytorch-LRP's b-rule: alpha = 1 + beta, eps*sign(z) denominators, one-sign neurons keep R."""

    def __init__(self, layer, _state, beta=0.0, epsilon=1e-6):
        _check_layer(layer, "alpha_beta(stabilised=true)")
        self._beta, self._epsilon = float(beta), float(epsilon)
        kernel = layer.weights[0]
        self._wp = _copy(layer, _pos(kernel), None, "sabp")
        self._wn = _copy(layer, _neg(kernel), None, "sabn")

    def apply(self, Xs, _Ys, Rs, _state):
        beta, eps = self._beta, self._epsilon
        alpha = 1.0 + beta
        inhibit_scale = -beta if beta != 0 else 1.0

        def shares(r, a1, a2, i1, i2):
            za, zi = a1 + a2, i1 + i2
            za_zero, zi_zero = tf.equal(za, 0.0), tf.equal(zi, 0.0)
            rare = tf.logical_or(za_zero, zi_zero)
            da = tf.where(za_zero, tf.ones_like(za), za) * tf.where(rare, alpha * tf.ones_like(za), tf.ones_like(za))
            di = tf.where(zi_zero, tf.ones_like(zi), zi) * tf.where(rare, inhibit_scale * tf.ones_like(zi),
                                                                     tf.ones_like(zi))
            da, di = da + eps * tf.sign(da), di + eps * tf.sign(di)
            return tf.stack([alpha * r / da, -beta * r / di])

        out = []
        for x, r in zip(Xs, Rs):
            xp, xn = _lam(_pos, x), _lam(_neg, x)
            a1, a2, i1, i2 = self._wp(xp), self._wn(xn), self._wn(xp), self._wp(xn)
            both = _lam(shares, r, a1, a2, i1, i2)
            sa, si = _lam(lambda s: s[0], both), _lam(lambda s: s[1], both)
            terms = [keras.layers.Multiply()([xp, _grads(xp, a1, sa)]), keras.layers.Multiply()([xn, _grads(xn, a2, sa)])]
            if beta:
                terms += [keras.layers.Multiply()([xp, _grads(xp, i1, si)]),
                          keras.layers.Multiply()([xn, _grads(xn, i2, si)])]
            out.append(keras.layers.Add()(terms))
        return out


class BoxRule(igraph.ReverseMappingBase):
    """z^B rule with bounds ``low``/``high`` (scalars or one per channel); padding = fixed zeros."""

    def __init__(self, layer, _state, low=-1.0, high=1.0, mask=None):
        _check_layer(layer, "zbox")
        kernel = layer.weights[0]
        self._w = _copy(layer, kernel, None, "zb")
        self._wp = _copy(layer, _pos(kernel), None, "zbp")
        self._wn = _copy(layer, _neg(kernel), None, "zbn")
        m = 1.0 if mask is None else mask
        self._low = (np.asarray(low, dtype=np.float32) * m).astype(np.float32)
        self._high = (np.asarray(high, dtype=np.float32) * m).astype(np.float32)

    def apply(self, Xs, _Ys, Rs, _state):
        low, high = self._low, self._high
        out = []
        for x, r in zip(Xs, Rs):
            lo = keras.layers.Lambda(lambda t: t * 0 + low)(x)
            hi = keras.layers.Lambda(lambda t: t * 0 + high)(x)
            a, b, c = self._w(x), self._wp(lo), self._wn(hi)
            s = _lam(lambda r_, a_, b_, c_: ibackend.safe_divide(r_, a_ - b_ - c_), r, a, b, c)
            ra = keras.layers.Multiply()([x, _grads(x, a, s)])
            rb = keras.layers.Multiply()([lo, _grads(lo, b, s)])
            rc = keras.layers.Multiply()([hi, _grads(hi, c, s)])
            out.append(keras.layers.Subtract()([ra, keras.layers.Add()([rb, rc])]))
        return out


class _MaskedMixin:
    """Flat / w^2 with padded positions excluded from the "ones" and from the result."""

    _mask = None

    def apply(self, Xs, Ys, Rs, state):
        if self._mask is None:
            return super().apply(Xs, Ys, Rs, state)
        mask = self._mask
        out = []
        for x, r in zip(Xs, Rs):
            ones = keras.layers.Lambda(lambda t: t * 0 + mask)(x)
            y, z = self._layer_wo_act_b(x), self._layer_wo_act_b(ones)
            s = _lam(ibackend.safe_divide, r, z)
            out.append(keras.layers.Lambda(lambda g: g * mask)(_grads(x, y, s)))
        return out


class MaskedFlatRule(_MaskedMixin, rrule.FlatRule):
    """innvestigate's flat rule; padding before the input layer excluded."""

    def __init__(self, layer, state, mask=None):
        _check_layer(layer, "flat")
        super().__init__(layer, state)
        self._mask = None if mask is None else np.asarray(mask, dtype=np.float32)


class MaskedWSquareRule(_MaskedMixin, rrule.WSquareRule):
    """innvestigate's w^2 rule; padding before the input layer excluded."""

    def __init__(self, layer, state, mask=None):
        _check_layer(layer, "w_square")
        super().__init__(layer, state)
        self._mask = None if mask is None else np.asarray(mask, dtype=np.float32)


# ---------------------------------------------------------------- layer maps
def _has_kernel(layer) -> bool:
    return ichecks.contains_kernel(layer)


def first_layers(model) -> list[str]:
    """Names of the layers with weights reached from an input without passing another one."""
    names = []
    for layer in model.layers:
        if not _has_kernel(layer):
            continue
        stack, seen, first = list(_inbound(layer)), set(), True
        while stack and first:
            prev = stack.pop()
            if id(prev) in seen:
                continue
            seen.add(id(prev))
            if _has_kernel(prev):
                first = False
            stack.extend(_inbound(prev))
        if first:
            names.append(layer.name)
    return names


def _inbound(layer):
    if isinstance(layer, keras.layers.InputLayer):
        return []
    found = []
    for node in layer._inbound_nodes:
        found.extend(tf.nest.flatten(node.inbound_layers))
    return found


def input_masks(model, names) -> dict:
    """For each named layer: 1 where its input holds data, 0 where padding was added.

    Computed by running the model's prefix on an all-ones input (the layers before an
    input layer may only pad, reshape or pass values on).
    """
    masks = {}
    for name in names:
        layer = model.get_layer(name)
        if any(layer.input is x for x in model.inputs):  # right after the input: nothing padded
            masks[name] = None
            continue
        prefix = K.function(model.inputs, [layer.input])
        ones = [np.ones((1,) + tuple(d for d in x.shape[1:]), dtype=np.float32) for x in model.inputs]
        mask = np.asarray(prefix(ones)[0], dtype=np.float32)
        if not np.all((mask == 0) | (mask == 1)):
            raise ValueError(f"input-layer rule at '{name}': the layers before it change the input values "
                             "(only padding, reshaping and pass-through layers are supported there)")
        masks[name] = None if np.all(mask == 1) else mask
    return masks


def resolve_bounds(low, high, channels: int):
    """Check zbox bounds (scalars or one per channel) and return them as float32 arrays."""
    out = []
    for which, value in (("low", low), ("high", high)):
        if value is None:
            raise ValueError(f"zbox: {which} bound missing (the session fills it from the data)")
        arr = np.asarray(value, dtype=np.float32)
        if arr.ndim == 1 and arr.shape[0] not in (1, channels):
            raise ValueError(f"zbox: {arr.shape[0]} {which} bounds for an input with {channels} channels")
        out.append(arr)
    if np.any(out[0] > out[1]):
        raise ValueError(f"zbox: low {out[0].tolist()} above high {out[1].tolist()}")
    return out


def _rule_class(rule, mask=None, channels=1):
    """An innvestigate rule class for a layer-rule :class:`MethodSpec` (parameters bound)."""
    p = rule.as_dict()
    if rule.name == "epsilon":
        if p["relative"]:
            return _bind(RelativeEpsilonRule, epsilon=p["epsilon"], bias=p["bias"])
        return _bind(rrule.EpsilonRule, epsilon=p["epsilon"], bias=p["bias"])
    if rule.name == "alpha_beta":
        if p["stabilised"]:
            return _bind(StabilisedAlphaBetaRule, beta=p["beta"], epsilon=p["epsilon"])
        return _bind(rrule.AlphaBetaRule, alpha=1.0 + p["beta"], beta=p["beta"], bias=p["bias"])
    if rule.name == "z_plus":
        return rrule.ZPlusRule
    if rule.name == "gamma":
        return _bind(GammaRule, gamma=p["gamma"], bias=p["bias"])
    if rule.name == "flat":
        return _bind(MaskedFlatRule, mask=mask)
    if rule.name == "w_square":
        return _bind(MaskedWSquareRule, mask=mask)
    if rule.name == "zbox":
        low, high = resolve_bounds(p["low"], p["high"], channels)
        return _bind(BoxRule, low=low, high=high, mask=mask)
    raise ValueError(f"layer rule '{rule.name}' unknown")


def _bind(cls, **params):
    class Bound(cls):
        def __init__(self, layer, state):
            super().__init__(layer, state, **params)

    Bound.__name__ = f"{cls.__name__}Bound"
    return Bound


class _NoRule(igraph.ReverseMappingBase):
    def __init__(self, layer, _state):
        raise ValueError(f"layer '{layer.name}' ({type(layer).__name__}) has weights but is neither Dense nor "
                         "convolutional: no LRP rule for it")


def build_analyzer(model, spec, *, disable_model_checks: bool = False):
    """The innvestigate analyzer (index neuron selection) of an LRP method, built.

    Args:
        model: logits model without BatchNorm / random-input layers (graph mode).
        spec: :class:`~seis_keras.explain.methods.MethodSpec` of an LRP method or
            ``gradient``; zbox bounds already filled in.
        disable_model_checks: skip innvestigate's model checks.

    Returns:
        The analyzer, its analysis model created.
    """
    spec = spec.expanded()
    common = dict(neuron_selection_mode="index", disable_model_checks=bool(disable_model_checks))
    p = spec.as_dict()
    if spec.name == "gradient":
        analyzer = ia.Gradient(model, **common)
    elif spec.name == "lrp.epsilon" and not p["relative"]:
        analyzer = ia.LRPEpsilon(model, epsilon=p["epsilon"], bias=p["bias"], **common)
    elif spec.name == "lrp.alpha_beta" and not p["stabilised"]:
        analyzer = ia.LRPAlphaBeta(model, alpha=1.0 + p["beta"], beta=p["beta"], bias=p["bias"], **common)
    elif spec.name == "lrp.z_plus":
        analyzer = ia.LRPZPlus(model, **common)
    else:
        analyzer = LRP(model, rule=layer_rule_map(model, spec), **common)
        analyzer._do_model_checks()
    analyzer.create_analyzer_model()
    return analyzer


def layer_rule_map(model, spec):
    """innvestigate's conditional rule list ``[(condition, rule class), ...]`` for ``spec``."""
    if spec.name == "lrp.composite":
        slots = spec.as_dict()
    else:  # one rule for every layer: the method's own parameters as a layer rule
        rule = type(spec)(spec.name.removeprefix("lrp."), spec.params, layer_rule=True)
        slots = {"dense": rule, "conv": rule, "input": None}
    channels = int(model.inputs[0].shape[-1])
    rules = []
    if slots["input"] is not None:
        names = first_layers(model)
        masks = input_masks(model, names)
        for name in names:
            rules.append((lambda layer, name=name: layer.name == name,
                          _rule_class(slots["input"], mask=masks[name], channels=channels)))
    rules.append((ichecks.is_dense_layer, _rule_class(slots["dense"])))
    rules.append((ichecks.is_conv_layer, _rule_class(slots["conv"])))
    rules.append((lambda layer: True, _NoRule))
    return rules
