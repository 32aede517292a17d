"""The virtual inspection layer three ways: closed form, prepended Keras layer, TF gradient.

Vielhaben, Lapuschkin, Montavon & Samek (2024), "Explainable AI for time series via
virtual inspection layers", Pattern Recognition 150:110309. The time signal is written as
the output of a fixed linear layer ``x_n = sum_q s_q V[q, n]`` whose input ``s`` are the
(short-time) DFT coefficients (:mod:`.transforms`). Relevance ``R_n`` of the time samples
is propagated through that layer with the LRP-epsilon rule (their Eq. for DFT-LRP)::

    R_q = sum_n  s_q V[q, n] / (x_n + epsilon * sign(x_n)) * R_n        (sign(0) = +1)

and the relevance of a frequency bin is R(Re Y_k) + R(Im Y_k). Conservation:
``sum_q R_q = sum_n R_n x_n / (x_n + epsilon sign x_n)`` (= sum_n R_n up to the stabiliser).
(The reference code, github.com/jvielhaben/DFT-LRP, adds ``+epsilon`` without the sign; the
sign form is innvestigate's LRP-epsilon, so path (a) below agrees with path (b).)

- (b) :func:`dft_lrp`, :func:`stdft_lrp`: the closed form for any time-domain relevance, in
  O(T log T) with FFTs: ``R_k = c_k Re(Y_k conj(U_k))`` with ``Y = rfft(x)``,
  ``U = rfft(R / (x + eps sign x))`` (orthonormal), per window for the STDFT.
- (a) :func:`spectral_model`: the model with the inverse transform prepended as a frozen,
  bias-free ``Dense`` layer (between two ``Permute``), whose input is the coefficient
  array; LRP through innvestigate then explains the spectrum directly. Its virtual layer
  gets the analyzer's rule: the paper's rule for ``"epsilon"`` (and the presets, which use
  epsilon at Dense layers); with ``"alpha_beta"``/``"z_plus"`` the virtual layer is also
  split by sign, which the paper does not do (use the closed form then). The Dense kernel
  is T x T (STDFT: M*window x T) float32: 1 GB for T = 16384; use (b) for long windows.
- (c) :func:`spectral_gradients`: gradient x input and Integrated Gradients with respect
  to the coefficients, by composing the inverse transform (``tf.signal.irfft``, overlap-add)
  in front of the model in eager TensorFlow.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow import keras

from seis_keras.explain.frequency import transforms as tr
from seis_keras.explain.targets import resolve_model, select_scores

__all__ = ["dft_lrp", "stdft_lrp", "spectral_model", "spectral_gradients"]


def _stabilised_ratio(relevance: np.ndarray, x: np.ndarray, epsilon: float) -> np.ndarray:
    """``R / (x + epsilon sign(x))``; with epsilon = 0, 0 where x = 0 (that relevance is lost)."""
    if not epsilon >= 0:
        raise ValueError(f"epsilon: expected >= 0 (stabiliser of the virtual layer), got {epsilon}")
    z = x + epsilon * np.where(x >= 0, 1.0, -1.0)
    return np.divide(relevance, z, out=np.zeros_like(relevance), where=z != 0)


def _pair(relevance, x):
    R = np.asarray(relevance, dtype=np.float64)
    X = np.asarray(x, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"X: expected a batch (N, T, C), got shape {X.shape}")
    if R.shape != X.shape:
        raise ValueError(f"relevance: expected the batch's shape {X.shape} (time-domain relevance), got {R.shape}")
    return R, X


def dft_lrp(relevance: np.ndarray, x: np.ndarray, *, epsilon: float = 1e-6) -> np.ndarray:
    """DFT-LRP: relevance per frequency bin from time-domain relevance (closed form).

    Args:
        relevance: time-domain relevance (N, T, C) of the batch ``x`` (any method).
        x: the explained batch (N, T, C) (for Integrated Gradients: ``x - baseline``).
        epsilon: stabiliser of the virtual layer (reference code: 1e-6); 0 gives the exact
            chain rule, e.g. gradient x input in the frequency domain.

    Returns:
        float64 (N, T//2 + 1, C), bins at ``numpy.fft.rfftfreq(T, 1 / fs)``; the sum over
        bins is ``sum_t R_t x_t / (x_t + epsilon sign x_t)``.
    """
    R, X = _pair(relevance, x)
    u = _stabilised_ratio(R, X, float(epsilon))
    y = np.fft.rfft(X, axis=1, norm="ortho")
    v = np.fft.rfft(u, axis=1, norm="ortho")
    return tr.bin_weights(X.shape[1])[None, :, None] * np.real(y * np.conj(v))


def stdft_lrp(relevance: np.ndarray, x: np.ndarray, *, window: int, hop: int, taper="cosine",
              epsilon: float = 1e-6) -> np.ndarray:
    """STDFT-LRP: relevance per time-frequency cell from time-domain relevance (closed form).

    Args:
        relevance: time-domain relevance (N, T, C) of the batch ``x``.
        x: the explained batch (N, T, C).
        window, hop, taper: the STDFT (see :mod:`.transforms`).
        epsilon: stabiliser of the virtual layer.

    Returns:
        float64 (N, M, window//2 + 1, C): M windows (:func:`~.transforms.stdft_starts`),
        bins at ``rfftfreq(window, 1 / fs)``; the sum over cells equals :func:`dft_lrp`'s.
    """
    R, X = _pair(relevance, x)
    t = X.shape[1]
    cov = tr.stdft_coverage(t, window, hop, taper)
    u = _stabilised_ratio(R, X, float(epsilon)) / cov[None, :, None]
    starts = tr.stdft_starts(t, window, hop)
    idx = starts[:, None] + np.arange(window)[None, :]
    w = tr.stdft_taper(window, taper)[:, None]
    y = np.fft.rfft(X[:, idx, :] * w, axis=2, norm="ortho")
    v = np.fft.rfft(u[:, idx, :], axis=2, norm="ortho")
    return tr.bin_weights(window)[None, None, :, None] * np.real(y * np.conj(v))


def _unique(name: str, taken: set) -> str:
    out, i = name, 1
    while out in taken:
        out, i = f"{name}_{i}", i + 1
    return out


def spectral_model(model, *, window: int | None = None, hop: int | None = None, taper="cosine"):
    """The model with the fixed inverse (ST)DFT prepended: input = coefficients, output = logits.

    Built from the model's config (a new input layer, ``Permute``, a bias-free ``Dense``
    holding :func:`~.transforms.inverse_dft_matrix` or
    :func:`~.transforms.inverse_stdft_matrix`, ``Permute`` named like the original input)
    plus copies of every original layer with its weights, so the result is one flat
    functional model that :func:`~seis_keras.models.surgery.strip_random_input`,
    :func:`~seis_keras.models.surgery.fold_batchnorm` and innvestigate accept.

    Args:
        model: Keras model (or saved-model path) with one input (N, T, C), outputting logits.
        window: None for the DFT; an int for the STDFT with this window length.
        hop: STDFT hop (default ``window // 2``).
        taper: STDFT taper (scipy window name or array).

    Returns:
        keras.Model with input ``spectrum`` shaped (N, T, C) (DFT: ``transforms.dft(X)``) or
        (N, M, window, C) (STDFT: ``transforms.stdft(X, ...)``) and the model's outputs;
        ``spectral(dft(X))`` equals ``model(X)`` within float32 rounding.
    """
    model = resolve_model(model)
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 3 or None in model.inputs[0].shape[1:]:
        raise ValueError(f"spectral_model: expected one input (N, T, C) with fixed T and C, got {model.input_shape}")
    t, c = (int(d) for d in model.inputs[0].shape[1:])
    functional = model if not isinstance(model, keras.Sequential) else keras.Model(model.inputs, model.outputs)
    config = functional.get_config()
    (in_name, _, _), = config["input_layers"]
    taken = {layer["name"] for layer in config["layers"]}
    spec_name = _unique("spectrum", taken)
    dense_name = _unique("virtual_inverse_dft" if window is None else "virtual_inverse_stdft", taken)
    if window is None:
        kernel = tr.inverse_dft_matrix(t)
        spec_shape = (t, c)
        virtual = [keras.layers.Permute((2, 1), name=_unique("virtual_channels_first", taken))]
    else:
        hop = window // 2 if hop is None else hop
        kernel = tr.inverse_stdft_matrix(t, window, hop, taper)
        n_windows = len(tr.stdft_starts(t, window, hop))
        spec_shape = (n_windows, window, c)
        virtual = [keras.layers.Permute((3, 1, 2), name=_unique("virtual_channels_first", taken)),
                   keras.layers.Reshape((c, n_windows * window), name=_unique("virtual_flatten", taken))]
    virtual += [keras.layers.Dense(t, use_bias=False, trainable=False, name=dense_name),
                keras.layers.Permute((2, 1), name=in_name)]  # its output is the waveform
    entries = [{"class_name": "InputLayer", "name": spec_name, "inbound_nodes": [],
                "config": {"batch_input_shape": (None,) + spec_shape, "dtype": "float32",
                           "sparse": False, "ragged": False, "name": spec_name}}]
    previous = spec_name
    for layer in virtual:
        entry = keras.layers.serialize(layer)
        entry.update(name=layer.name, inbound_nodes=[[[previous, 0, 0, {}]]])
        entries.append(entry)
        previous = layer.name
    config["layers"] = entries + [e for e in config["layers"] if e["name"] != in_name]
    config["input_layers"] = [[spec_name, 0, 0]]
    config["name"] = f"{model.name}_spectral"
    out = keras.Model.from_config(config)
    for layer in functional.layers:
        if layer.name != in_name:
            out.get_layer(layer.name).set_weights(layer.get_weights())
    out.get_layer(dense_name).set_weights([kernel.astype(np.float32)])
    return out


def _tf_inverse_dft(s):
    """TF version of :func:`~.transforms.inverse_dft` along the last axis (..., T)."""
    t = int(s.shape[-1])
    k, n_imag = tr.n_frequencies(t), (t - 1) // 2
    pad = [[0, 0]] * (len(s.shape) - 1) + [[1, k - 1 - n_imag]]
    y = tf.complex(s[..., :k], tf.pad(s[..., k:], pad)) * tf.cast(np.sqrt(t), tf.complex64)
    return tf.signal.irfft(y, fft_length=[t])


def _tf_inverse(s, n_samples: int, window, hop, taper):
    """Coefficients (N, T, C) or (N, M, window, C) -> waveform (N, T, C), differentiable."""
    if window is None:
        return tf.transpose(_tf_inverse_dft(tf.transpose(s, [0, 2, 1])), [0, 2, 1])
    segs = tf.transpose(_tf_inverse_dft(tf.transpose(s, [0, 1, 3, 2])), [0, 1, 3, 2])  # (N, M, L, C)
    starts = tr.stdft_starts(n_samples, window, hop)
    x = 0.0
    for m, start in enumerate(starts):
        x = x + tf.pad(segs[:, m], [[0, 0], [int(start), int(n_samples - window - start)], [0, 0]])
    cov = tr.stdft_coverage(n_samples, window, hop, taper).astype(np.float32)
    return x / cov[None, :, None]


def spectral_gradients(model, S: np.ndarray, targets: np.ndarray, *, n_samples: int,
                       window: int | None = None, hop: int | None = None, taper="cosine",
                       method: str = "gradient_x_input", steps: int = 64,
                       baseline: np.ndarray | None = None, batch_size: int = 64) -> np.ndarray:
    """Gradient x input or Integrated Gradients with respect to the (ST)DFT coefficients.

    The inverse transform is composed in front of the model in eager TF, so the gradient is
    taken with respect to the coefficients themselves.

    Args:
        model: Keras model (N, T, C) -> logits.
        S: coefficients, (N, T, C) (``transforms.dft``) or (N, M, window, C) (``stdft``).
        targets: target class per sample (``targets.resolve_targets``).
        n_samples: T.
        window, hop, taper: None for the DFT, else the STDFT settings of ``S``.
        method: ``"gradient_x_input"`` or ``"integrated_gradients"``.
        steps: Integrated Gradients midpoint Riemann steps.
        baseline: IG baseline coefficients shaped like ``S`` (or one sample); default zeros
            (the all-zero waveform).
        batch_size: samples per gradient call.

    Returns:
        float64 relevance per coefficient, shaped like ``S`` (sum: Integrated Gradients'
        completeness, f(x) - f(baseline) up to the Riemann error).
    """
    if method not in ("gradient_x_input", "integrated_gradients"):
        raise ValueError(f"method: expected 'gradient_x_input' or 'integrated_gradients', got {method!r}")
    if not (isinstance(steps, (int, np.integer)) and steps >= 1):
        raise ValueError(f"steps: expected an int >= 1 (Integrated Gradients), got {steps!r}")
    S = np.asarray(S, dtype=np.float32)
    S0 = np.zeros_like(S) if baseline is None else np.broadcast_to(np.asarray(baseline, np.float32), S.shape)
    alphas = (np.arange(steps) + 0.5) / steps if method == "integrated_gradients" else np.array([1.0])
    targets = np.asarray(targets)
    out = np.empty(S.shape, dtype=np.float64)
    for i in range(0, len(S), batch_size):
        s, s0, tb = S[i:i + batch_size], S0[i:i + batch_size], targets[i:i + batch_size]
        ref = np.zeros_like(s) if method == "gradient_x_input" else s0
        total = np.zeros(s.shape, dtype=np.float64)
        for a in alphas:
            point = tf.constant(ref + np.float32(a) * (s - ref))
            with tf.GradientTape() as tape:
                tape.watch(point)
                score = select_scores(model(_tf_inverse(point, n_samples, window, hop, taper), training=False), tb)
            total += tape.gradient(score, point).numpy()
        out[i:i + batch_size] = (s - ref).astype(np.float64) * total / len(alphas)
    return out
