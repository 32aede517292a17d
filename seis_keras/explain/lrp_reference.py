"""An independent plain-numpy LRP, for checking innvestigate and for tiny models.

It walks a Keras model's layers (a single chain), reads their weights and computes the
relevance with numpy in float64 — no TensorFlow ops, no gradients — following the
conventions of innvestigate 2.1.2 (``../shared/STACK.md``), so the two must agree:

- **epsilon** rule at Dense/Conv1D: ``z = x W (+ b)``, ``s = R / (z + eps * sign(z))``
  with ``sign(0) = +1``; ``R_in = x * (W^T s)``. ``bias=False`` drops ``b`` from ``z``.
- **alpha-beta** rule: inputs and weights split by sign, ``x+ = max(x, 0)``,
  ``x- = min(x, 0)``; activating part ``z_a = x+ W+ + x- W-`` (contributions with
  ``x w > 0``, also in the first layer), inhibiting ``z_i = x+ W- + x- W+``;
  ``R_in = alpha x+ W+^T s_a + alpha x- W-^T s_a - beta (x+ W-^T s_i + x- W+^T s_i)``,
  ``s = R / z`` with exact zeros of ``z`` replaced by 1e-7. With ``bias=True`` the
  *whole* bias ``b`` is added to both ``z_a`` and ``z_i`` (innvestigate's convention,
  which explodes with negative biases); ``bias=False`` is the ``_IB`` variant.
- ``z_plus`` is alpha=1, beta=0 without bias (innvestigate's ``lrp.z_plus``).
- Every other LRP method of :mod:`seis_keras.explain.methods` (``rule=`` method text):
  ``epsilon(relative=true)`` (stabiliser ``epsilon x RMS(z)`` per sample, floor 1e-7),
  ``alpha_beta(stabilised=true)`` (Pytorch-LRP's b-rule), ``gamma`` (zennit's
  generalised LRP-gamma, denominators ``d + 1e-6 sign(d)``), ``flat``, ``w_square`` and
  ``zbox`` (exact zeros -> 1e-7; positions padded before the input layer are fixed
  zeros), and composites: the ``input`` rule at the first Dense/Conv1D, the ``dense``
  rule at Dense layers, the ``conv`` rule at Conv1D layers. The formulas are those of
  :mod:`seis_keras.explain.lrp_rules`, written again here from the papers in numpy.
- ``gradient``: the plain gradient of the selected logit (ReLU gradient ``y > 0``).
- ReLU / linear activations and Dropout pass relevance through; MaxPooling1D gives each
  window's relevance to its (first) maximum; GlobalAveragePooling1D splits relevance in
  proportion to the inputs; ZeroPadding1D relevance is cropped; Flatten reshapes.
- Relevance starts at the selected logit (sign included): the largest logit
  (``neuron="predicted"``), a fixed index, or one index per sample.

BatchNormalization is folded into the preceding layer first, random-input layers are
removed and a final softmax/sigmoid is stripped (:mod:`seis_keras.models.surgery`), as
the innvestigate worker does.
"""
from __future__ import annotations

import numpy as np

__all__ = ["lrp_reference", "RULES"]

RULES = ("epsilon", "alpha_beta", "z_plus", "gradient")
_SAFE_EPS = 1e-7  # innvestigate's safe_divide: exact zeros of the denominator -> 1e-7
_GAMMA_STABILISER = 1e-6


def _chain(model):
    """The model's layers as a chain (first = InputLayer); raises for branching graphs."""
    from tensorflow import keras

    layers = []
    tensor = model.outputs[0] if len(model.outputs) == 1 else None
    if tensor is None or len(model.inputs) != 1:
        raise ValueError(f"lrp_reference: model '{model.name}' must have one input and one output")
    while True:
        layer = tensor._keras_history.layer
        layers.append(layer)
        if isinstance(layer, keras.layers.InputLayer):
            break
        node = layer._inbound_nodes[tensor._keras_history.node_index]
        if len(node.keras_inputs) != 1:
            raise ValueError(f"lrp_reference: layer '{layer.name}' has {len(node.keras_inputs)} inputs; only chains are supported")
        tensor = node.keras_inputs[0]
    return layers[::-1]


def _activation_name(layer):
    from tensorflow import keras

    act = getattr(layer, "activation", None)
    return "linear" if act is None else keras.activations.serialize(act)


def _conv1d_geometry(layer, length):
    """(pad_left, output length) of a Conv1D/MaxPooling1D along time."""
    if hasattr(layer, "kernel_size"):
        k, s, d = layer.kernel_size[0], layer.strides[0], layer.dilation_rate[0]
    else:
        k, s, d = layer.pool_size[0], layer.strides[0], 1
    span = (k - 1) * d + 1
    if layer.padding == "valid":
        return 0, (length - span) // s + 1
    if layer.padding == "same":
        out = -(-length // s)
        total = max((out - 1) * s + span - length, 0)
        return total // 2, out
    raise ValueError(f"lrp_reference: layer '{layer.name}' padding '{layer.padding}' not supported (valid/same)")


def _patch_index(layer, length):
    """Input time index of each (output step, kernel tap) and the padded length."""
    pad, out = _conv1d_geometry(layer, length)
    k = layer.kernel_size[0] if hasattr(layer, "kernel_size") else layer.pool_size[0]
    d = layer.dilation_rate[0] if hasattr(layer, "dilation_rate") else 1
    idx = np.arange(out)[:, None] * layer.strides[0] + np.arange(k)[None, :] * d
    return idx - pad  # may be < 0 or >= length for 'same' padding (zeros)


class _Linear:
    """Dense or Conv1D as ``z = x W + b`` with its transpose, on float64 arrays."""

    def __init__(self, layer, x_shape):
        from tensorflow import keras

        w = [a.astype(np.float64) for a in layer.get_weights()]
        self.kernel = w[0]
        self.bias = w[1] if layer.use_bias else np.zeros(self.kernel.shape[-1])
        self.conv = isinstance(layer, keras.layers.Conv1D)
        if self.conv:
            if layer.data_format != "channels_last" or getattr(layer, "groups", 1) != 1:
                raise ValueError(f"lrp_reference: Conv1D '{layer.name}' must be channels_last with groups=1")
            self.length = x_shape[1]
            self.idx = _patch_index(layer, self.length)

    def _patches(self, x):
        padded = np.concatenate([x, np.zeros_like(x[:, :1])], axis=1)  # index -1/len -> 0
        idx = np.where((self.idx < 0) | (self.idx >= self.length), self.length, self.idx)
        return padded[:, idx, :]  # (N, T_out, k, C_in)

    def forward(self, x, kernel):
        if self.conv:
            return np.einsum("ntkc,kcf->ntf", self._patches(x), kernel)
        return x @ kernel

    def backward(self, s, kernel):
        """Transpose of :meth:`forward` applied to ``s`` (the gradient w.r.t. x)."""
        if not self.conv:
            return s @ kernel.T
        g = np.einsum("ntf,kcf->ntkc", s, kernel)
        out = np.zeros((s.shape[0], self.length + 1, kernel.shape[1]))
        idx = np.where((self.idx < 0) | (self.idx >= self.length), self.length, self.idx)
        np.add.at(out, (slice(None), idx), g)
        return out[:, : self.length]


def _epsilon(lin, x, r, eps, bias):
    z = lin.forward(x, lin.kernel) + (lin.bias if bias else 0.0)
    s = r / (z + eps * np.where(z >= 0, 1.0, -1.0))
    return x * lin.backward(s, lin.kernel)


def _safe(z):
    return z + _SAFE_EPS * (z == 0)


def _alpha_beta(lin, x, r, alpha, beta, bias):
    xp, xn = x * (x > 0), x * (x < 0)
    wp, wn = lin.kernel * (lin.kernel > 0), lin.kernel * (lin.kernel < 0)
    b = lin.bias if bias else 0.0

    def part(w1, w2):
        z = lin.forward(xp, w1) + lin.forward(xn, w2) + b
        s = r / _safe(z)
        return xp * lin.backward(s, w1) + xn * lin.backward(s, w2)

    activating = part(wp, wn)
    if not beta:
        return activating
    return alpha * activating - beta * part(wn, wp)


def _sign0(z):
    return np.where(z >= 0, 1.0, -1.0)


def _relative_epsilon(lin, x, r, eps, bias):
    z = lin.forward(x, lin.kernel) + (lin.bias if bias else 0.0)
    rms = np.sqrt(np.mean(z ** 2, axis=tuple(range(1, z.ndim)), keepdims=True))
    s = r / (z + np.maximum(eps * rms, _SAFE_EPS) * _sign0(z))
    return x * lin.backward(s, lin.kernel)


def _stabilised_alpha_beta(lin, x, r, beta, eps):
    """Pytorch-LRP's b-rule (moboehle/Pytorch-LRP inverter_util.py, read line by line)."""
    xp, xn = x * (x > 0), x * (x < 0)
    wp, wn = lin.kernel * (lin.kernel > 0), lin.kernel * (lin.kernel < 0)
    za = lin.forward(xp, wp) + lin.forward(xn, wn)
    zi = lin.forward(xp, wn) + lin.forward(xn, wp)
    rare = (za == 0) | (zi == 0)
    da = np.where(za == 0, 1.0, za) * np.where(rare, 1.0 + beta, 1.0)
    di = np.where(zi == 0, 1.0, zi) * np.where(rare, -beta if beta else 1.0, 1.0)
    sa = (1.0 + beta) * r / (da + eps * np.sign(da))
    out = xp * lin.backward(sa, wp) + xn * lin.backward(sa, wn)
    if beta:
        si = -beta * r / (di + eps * np.sign(di))
        out = out + xp * lin.backward(si, wn) + xn * lin.backward(si, wp)
    return out


def _gamma(lin, x, r, gamma, bias):
    xp, xn = x * (x > 0), x * (x < 0)
    w = lin.kernel
    w_up, w_down = w + gamma * w * (w > 0), w + gamma * w * (w < 0)
    b = lin.bias
    b_up, b_down = (b + gamma * b * (b > 0), b + gamma * b * (b < 0)) if bias else (0.0, 0.0)
    z = lin.forward(x, w) + b

    def stab(d):
        return d + _GAMMA_STABILISER * _sign0(d)

    sp = r * (z > 0) / stab(lin.forward(xp, w_up) + lin.forward(xn, w_down) + b_up)
    sn = r * (z < 0) / stab(lin.forward(xp, w_down) + lin.forward(xn, w_up) + b_down)
    return (xp * lin.backward(sp, w_up) + xn * lin.backward(sp, w_down)
            + xp * lin.backward(sn, w_down) + xn * lin.backward(sn, w_up))


def _zbox(lin, x, r, low, high, mask):
    m = np.ones_like(x) if mask is None else np.broadcast_to(mask, x.shape)
    lo, hi = m * np.asarray(low, dtype=np.float64), m * np.asarray(high, dtype=np.float64)
    wp, wn = lin.kernel * (lin.kernel > 0), lin.kernel * (lin.kernel < 0)
    z = lin.forward(x, lin.kernel) - lin.forward(lo, wp) - lin.forward(hi, wn)
    s = r / _safe(z)
    return x * lin.backward(s, lin.kernel) - lo * lin.backward(s, wp) - hi * lin.backward(s, wn)


def _flat_or_square(lin, x, r, square, mask):
    m = np.ones_like(x) if mask is None else np.broadcast_to(mask, x.shape).astype(np.float64)
    w = lin.kernel ** 2 if square else np.ones_like(lin.kernel)
    s = r / _safe(lin.forward(m, w))
    return m * lin.backward(s, w)


def _apply_rule(rule, lin, x, r, mask):
    """Relevance through one Dense/Conv1D for a layer-rule MethodSpec."""
    p = rule.as_dict()
    if rule.name == "epsilon":
        if p["relative"]:
            return _relative_epsilon(lin, x, r, p["epsilon"], p["bias"])
        return _epsilon(lin, x, r, p["epsilon"], p["bias"])
    if rule.name == "alpha_beta":
        if p["stabilised"]:
            return _stabilised_alpha_beta(lin, x, r, p["beta"], p["epsilon"])
        return _alpha_beta(lin, x, r, 1.0 + p["beta"], p["beta"], p["bias"])
    if rule.name == "z_plus":
        return _alpha_beta(lin, x, r, 1.0, 0.0, False)
    if rule.name == "gamma":
        return _gamma(lin, x, r, p["gamma"], p["bias"])
    if rule.name == "zbox":
        return _zbox(lin, x, r, p["low"], p["high"], mask)
    return _flat_or_square(lin, x, r, rule.name == "w_square", mask)


def _slots(rule, epsilon, beta, bias, X):
    """``{"dense", "conv", "input"}`` layer rules of ``rule`` (old name or method), or "gradient"."""
    from seis_keras.explain.methods import MethodSpec, parse_method

    if rule in RULES:
        if rule == "gradient":
            return "gradient"
        bias = (rule == "epsilon") if bias is None else bool(bias)
        if rule == "alpha_beta" and beta < 0:
            raise ValueError(f"lrp_reference: beta must be >= 0, got {beta}")
        text = {"epsilon": f"epsilon(epsilon={epsilon!r}, bias={bias})",
                "alpha_beta": f"alpha_beta(beta={beta!r}, bias={bias})", "z_plus": "z_plus"}[rule]
        spec = parse_method(f"lrp.composite(dense={text}, conv={text}, input=none)")
    else:
        try:
            spec = parse_method(rule)
        except ValueError as exc:
            raise ValueError(f"lrp_reference: rule '{rule}' unknown ({exc})") from None
        if spec.name == "gradient":
            return "gradient"
        if spec.backend != "lrp":
            raise ValueError(f"lrp_reference: rule '{rule}' unknown (expected an LRP method or gradient)")
        spec = spec.expanded()
        if spec.name != "lrp.composite":
            one = MethodSpec(spec.name.removeprefix("lrp."), spec.params, layer_rule=True)
            spec = MethodSpec("lrp.composite", (("dense", one), ("conv", one), ("input", None)))
    slots = spec.as_dict()
    box = slots["input"]
    if box is not None and box.name == "zbox":  # unset bounds: the data range, as LRPSession
        slots["input"] = box.replace(low=float(np.min(X)) if box["low"] is None else box["low"],
                                     high=float(np.max(X)) if box["high"] is None else box["high"])
    return slots


def _maxpool(layer, x):
    if layer.data_format != "channels_last":
        raise ValueError(f"lrp_reference: MaxPooling1D '{layer.name}' must be channels_last")
    idx = _patch_index(layer, x.shape[1])  # (T_out, k); out of range = 'same' padding
    idx = np.where((idx < 0) | (idx >= x.shape[1]), x.shape[1], idx)
    padded = np.concatenate([x, np.full_like(x[:, :1], -np.inf)], axis=1)
    windows = padded[:, idx, :]  # (N, T_out, k, C)
    winner = idx[np.arange(idx.shape[0])[None, :, None], windows.argmax(axis=2)]  # (N, T_out, C)
    return windows.max(axis=2), winner


def _maxpool_back(r, winner, length):
    out = np.zeros((r.shape[0], length, r.shape[2]))
    n, _, c = np.meshgrid(np.arange(r.shape[0]), np.arange(r.shape[1]), np.arange(r.shape[2]), indexing="ij")
    np.add.at(out, (n, winner, c), r)
    return out


def _is_linear(layer) -> bool:
    from tensorflow import keras

    return isinstance(layer, (keras.layers.Dense, keras.layers.Conv1D))


def _forward(layers, X):
    """Activations after each layer (``acts[0] = X``) and the caches the backward pass needs."""
    from tensorflow import keras

    acts, caches = [X], []
    for layer in layers[1:]:
        x = acts[-1]
        cache = None
        if _is_linear(layer):
            if isinstance(layer, keras.layers.Conv1D) and type(layer) is not keras.layers.Conv1D:
                raise ValueError(f"lrp_reference: layer '{layer.name}' ({type(layer).__name__}) not supported")
            lin = _Linear(layer, x.shape)
            cache = lin
            y = _apply_activation(layer, lin.forward(x, lin.kernel) + lin.bias)
        elif isinstance(layer, keras.layers.Activation):
            y = _apply_activation(layer, x)
        elif isinstance(layer, keras.layers.ZeroPadding1D):
            a, b = layer.padding
            y = np.pad(x, ((0, 0), (a, b), (0, 0)))
        elif isinstance(layer, keras.layers.MaxPooling1D):
            y, cache = _maxpool(layer, x)
        elif isinstance(layer, keras.layers.GlobalAveragePooling1D):
            if layer.keepdims or layer.data_format != "channels_last":
                raise ValueError(f"lrp_reference: '{layer.name}' must be channels_last without keepdims")
            y = x.mean(axis=1)
        elif isinstance(layer, keras.layers.Flatten):
            y = x.reshape(x.shape[0], -1)
        elif isinstance(layer, keras.layers.Dropout):
            y = x
        else:
            raise ValueError(f"lrp_reference: layer '{layer.name}' ({type(layer).__name__}) not supported")
        acts.append(y)
        caches.append(cache)
    return acts, caches


def lrp_reference(model, X, rule: str = "epsilon", *, epsilon: float = 1e-6, beta: float = 0.0,
                  bias: bool | None = None, neuron="predicted") -> np.ndarray:
    """Layer-wise relevance propagation in numpy (float64), innvestigate's conventions.

    Args:
        model: a Keras model that is a chain of InputLayer, Dense, Conv1D (channels-last,
            any stride/dilation, valid or same padding), ZeroPadding1D, Activation
            (relu/linear) or layers with a built-in relu/linear activation,
            MaxPooling1D (valid or same), GlobalAveragePooling1D, Flatten, Dropout,
            BatchNormalization (folded first) and RandomInputLayer (removed).
            The output must be logits ``(N, k)``, or become logits once a final
            softmax/sigmoid is removed.
        X: input batch ``(N, *input_shape)``.
        rule: ``"epsilon"``, ``"alpha_beta"`` (alpha = 1 + beta), ``"z_plus"``,
            ``"gradient"``, or any LRP method text / MethodSpec of
            :mod:`seis_keras.explain.methods` (then ``epsilon``/``beta``/``bias`` are
            ignored; unset zbox bounds are the range of ``X``).
        epsilon: stabiliser of the epsilon rule.
        beta: beta of the alpha-beta rule (``>= 0``).
        bias: include biases in the denominators; ``None`` = the rule's default in
            :class:`seis_keras.explain.lrp.LRPAnalyzer` (True for epsilon, False for
            alpha-beta; z_plus always ignores them).
        neuron: ``"predicted"`` (largest logit), an int class index, or an int array
            with one index per sample.

    Returns:
        Relevance ``(N, *input_shape)`` float64 (for ``"gradient"``: the gradient).
    """
    from tensorflow import keras

    from seis_keras.models.surgery import fold_batchnorm, logits_model, strip_random_input

    slots = _slots(rule, epsilon, beta, bias, X)
    model = logits_model(fold_batchnorm(strip_random_input(model)))
    layers = _chain(model)

    X = np.asarray(X, dtype=np.float64)
    acts, caches = _forward(layers, X)
    kernel_at = [i for i, layer in enumerate(layers) if _is_linear(layer)]
    first = kernel_at[0] if kernel_at else None
    mask = None
    if slots != "gradient" and slots["input"] is not None and first is not None:
        ones_acts, _ = _forward(layers[:first + 1], np.ones((1,) + X.shape[1:]))
        mask = ones_acts[first - 1]
        if not np.all((mask == 0) | (mask == 1)):
            raise ValueError(f"lrp_reference: the layers before '{layers[first].name}' change the input values")
    logits = acts[-1]
    if logits.ndim != 2:
        raise ValueError(f"lrp_reference: model output must be (N, k) logits, got shape {logits.shape}")
    n = logits.shape[0]
    if isinstance(neuron, str):
        if neuron != "predicted":
            raise ValueError(f"lrp_reference: neuron '{neuron}' unknown (expected 'predicted' or class index)")
        index = logits.argmax(axis=1)
    else:
        index = np.broadcast_to(np.asarray(neuron, dtype=int), (n,))
    r = np.zeros_like(logits)
    r[np.arange(n), index] = 1.0 if slots == "gradient" else logits[np.arange(n), index]

    for i in range(len(layers) - 1, 0, -1):
        layer, x, y, cache = layers[i], acts[i - 1], acts[i], caches[i - 1]
        if slots == "gradient":
            r = _gradient_step(layer, x, y, r, cache)
        elif _is_linear(layer):
            if i == first and slots["input"] is not None:
                r = _apply_rule(slots["input"], cache, x, r, mask)
            else:
                r = _apply_rule(slots["dense" if isinstance(layer, keras.layers.Dense) else "conv"], cache, x, r, None)
        elif isinstance(layer, keras.layers.GlobalAveragePooling1D):
            z = x.mean(axis=1, keepdims=True)
            r = x * (r[:, None, :] / _safe(z)) / x.shape[1]
        else:
            r = _pass_back(layer, x, r, cache)
    return r


def _apply_activation(layer, z):
    name = _activation_name(layer)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "linear":
        return z
    raise ValueError(f"lrp_reference: layer '{layer.name}' activation '{name}' not supported "
                     "(relu/linear; strip an output softmax/sigmoid with surgery.logits_model)")


def _pass_back(layer, x, r, cache):
    """Relevance through layers without weights (same for every rule)."""
    from tensorflow import keras

    if isinstance(layer, keras.layers.ZeroPadding1D):
        a, _ = layer.padding
        return r[:, a: a + x.shape[1]]
    if isinstance(layer, keras.layers.MaxPooling1D):
        return _maxpool_back(r, cache, x.shape[1])
    if isinstance(layer, keras.layers.Flatten):
        return r.reshape(x.shape)
    return r  # Activation relu/linear, Dropout: relevance passes through


def _gradient_step(layer, x, y, g, cache):
    """Chain rule through one layer (for ``rule='gradient'``)."""
    from tensorflow import keras

    if isinstance(layer, (keras.layers.Dense, keras.layers.Conv1D)):
        if _activation_name(layer) == "relu":
            g = g * (y > 0)
        return cache.backward(g, cache.kernel)
    if isinstance(layer, keras.layers.Activation):
        return g * (y > 0) if _activation_name(layer) == "relu" else g
    if isinstance(layer, keras.layers.GlobalAveragePooling1D):
        return np.broadcast_to(g[:, None, :] / x.shape[1], x.shape).copy()
    return _pass_back(layer, x, g, cache)
