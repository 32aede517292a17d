"""Which frequencies (and when) did the network use: one call per domain.

:func:`frequency_relevance` -> ``(freqs, R_f)`` with ``R_f`` (N, F, C), F = T//2 + 1;
:func:`time_frequency_relevance` -> ``(times, freqs, R_tf)`` with ``R_tf`` (N, M, F, C),
F = window//2 + 1. ``method`` selects how:

- ``"relevance"``: ``model_or_relevance`` is a time-domain relevance (N, T, C) of ``X``
  from any explainer; the closed-form virtual layer (:func:`.virtual.dft_lrp`) maps it.
- ``"lrp"`` (default for a model): LRP with ``rule`` in the time domain
  (:func:`seis_keras.explain.lrp.lrp`), then the closed-form virtual layer: the paper's
  DFT-LRP (any rule in the network, LRP-epsilon in the virtual layer).
- ``"lrp_spectral"``: innvestigate on :func:`.virtual.spectral_model` (the inverse
  transform prepended as a Dense layer), so the analyzer's rule also runs the virtual
  layer; equal to ``"lrp"`` for ``rule="epsilon"`` with the same epsilon.
- ``"gradient_x_input"``, ``"integrated_gradients"``: gradients with respect to the
  coefficients, the inverse transform composed in front of the model in eager TF
  (:func:`.virtual.spectral_gradients`).

Targets follow :mod:`seis_keras.explain.targets` for every method: a k-unit model explains
the logit ``z[t]``, a 1-unit model ``z`` for class 1 and ``-z`` for class 0 (LRP of ``-z``
is minus LRP of ``z``: the rules are linear in the starting relevance).
"""
from __future__ import annotations

import numpy as np

from seis_keras.explain.frequency import transforms as tr
from seis_keras.explain.frequency.virtual import dft_lrp, spectral_gradients, spectral_model, stdft_lrp
from seis_keras.explain.lrp import lrp
from seis_keras.explain.targets import ClassIndex, predict_logits, resolve_model, resolve_targets

__all__ = ["METHODS", "frequency_relevance", "time_frequency_relevance"]

METHODS = ("relevance", "lrp", "lrp_spectral", "gradient_x_input", "integrated_gradients")


def _targeted_lrp(model, X, targets, n_outputs, rule, settings):
    """LRP of each sample's target score (targets.py semantics), shaped like ``X``."""
    if n_outputs == 1:
        sign = (2.0 * targets - 1.0).reshape((-1,) + (1,) * (X.ndim - 1))
        return np.asarray(lrp(model, X, rule, neuron=0, **settings), dtype=np.float64) * sign
    return np.asarray(lrp(model, X, rule, neuron=targets, **settings), dtype=np.float64)


def _relevance(model_or_relevance, X, *, window, hop, taper, method, class_index, rule,
               lrp_settings, epsilon, steps, baseline, batch_size):
    """Relevance per coefficient bin for the DFT (window None) or the STDFT."""
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"X: expected a batch (N, T, C), got shape {X.shape}")
    is_array = isinstance(model_or_relevance, np.ndarray)
    method = method or ("relevance" if is_array else "lrp")
    if method not in METHODS:
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if (method == "relevance") != is_array:
        raise ValueError("model_or_relevance: method 'relevance' takes a time-domain relevance array (N, T, C); "
                         f"method {method!r} takes a model or saved-model path")
    t = X.shape[1]

    def closed_form(R, x):
        if window is None:
            return dft_lrp(R, x, epsilon=epsilon)
        return stdft_lrp(R, x, window=window, hop=hop, taper=taper, epsilon=epsilon)

    if method == "relevance":
        return closed_form(model_or_relevance, X)
    X = X.astype(np.float32)  # what the model sees
    settings = dict(lrp_settings or {})
    if "neuron" in settings:
        raise ValueError("lrp_settings: 'neuron' is set by class_index (targets.py semantics); leave it out")
    model = resolve_model(model_or_relevance)
    logits = predict_logits(model, X)
    targets = resolve_targets(class_index, logits)
    if method == "lrp":
        return closed_form(_targeted_lrp(model, X, targets, logits.shape[1], rule, settings), X)
    S = tr.dft(X) if window is None else tr.stdft(X, window, hop, taper)
    if method == "lrp_spectral":
        spectral = spectral_model(model, window=window, hop=hop, taper=taper)
        R = _targeted_lrp(spectral, S.astype(np.float32), targets, logits.shape[1], rule, settings)
    else:
        S0 = None
        if baseline is not None:
            b = np.broadcast_to(np.asarray(baseline, dtype=np.float64), X.shape)
            S0 = tr.dft(b) if window is None else tr.stdft(b, window, hop, taper)
        R = spectral_gradients(model, S, targets, n_samples=t, window=window, hop=hop, taper=taper,
                               method=method, steps=steps, baseline=S0, batch_size=batch_size)
    return tr.coefficients_to_bins(R, axis=1 if window is None else 2)


def frequency_relevance(model_or_relevance, X: np.ndarray, *, method: str | None = None, fs: float = 1.0,
                        class_index: ClassIndex = "predicted", rule: str = "epsilon",
                        lrp_settings: dict | None = None, epsilon: float = 1e-6, steps: int = 64,
                        baseline: np.ndarray | None = None, batch_size: int = 64):
    """Relevance of each frequency bin of each channel (DFT-LRP and its gradient analogues).

    Args:
        model_or_relevance: a Keras model / saved-model path (methods ``"lrp"``,
            ``"lrp_spectral"``, ``"gradient_x_input"``, ``"integrated_gradients"``) or a
            time-domain relevance array (N, T, C) of ``X`` (method ``"relevance"``).
        X: the explained batch (N, T, C).
        method: see the module docstring; None: ``"relevance"`` for an array, ``"lrp"`` for a model.
        fs: sampling rate in Hz (for the frequency axis).
        class_index: ``"predicted"``, an int or one int per sample (targets.py).
        rule: LRP rule (``seis_keras.explain.lrp.RULES``) for the LRP methods.
        lrp_settings: further ``LRPAnalyzer`` settings (``epsilon``, ``beta``, ``bias`` ...).
        epsilon: stabiliser of the closed-form virtual layer (``"relevance"``, ``"lrp"``);
            reference code 1e-6. (``"lrp_spectral"`` uses the analyzer's epsilon.)
        steps: Integrated Gradients steps.
        baseline: Integrated Gradients baseline waveform (N, T, C) or (T, C); default zeros.
        batch_size: samples per gradient call.

    Returns:
        (freqs (F,) Hz, float64 R_f (N, F, C)), F = T//2 + 1 bins at ``rfftfreq(T, 1/fs)``.
        For ``"relevance"``/``"lrp"`` the sum over bins equals the time-domain relevance
        sum up to the stabiliser; for Integrated Gradients it is f(x) - f(baseline).
    """
    X = np.asarray(X)
    R = _relevance(model_or_relevance, X, window=None, hop=None, taper=None, method=method,
                   class_index=class_index, rule=rule, lrp_settings=lrp_settings, epsilon=epsilon,
                   steps=steps, baseline=baseline, batch_size=batch_size)
    return np.fft.rfftfreq(X.shape[1], 1.0 / fs), R


def time_frequency_relevance(model_or_relevance, X: np.ndarray, *, window: int = 128, hop: int | None = None,
                             taper="cosine", method: str | None = None, fs: float = 1.0,
                             class_index: ClassIndex = "predicted", rule: str = "epsilon",
                             lrp_settings: dict | None = None, epsilon: float = 1e-6, steps: int = 64,
                             baseline: np.ndarray | None = None, batch_size: int = 64):
    """Relevance of each time-frequency cell (STDFT-LRP and its gradient analogues).

    Args:
        model_or_relevance, X, method, fs, class_index, rule, lrp_settings, epsilon, steps,
            baseline, batch_size: as :func:`frequency_relevance`.
        window: STDFT window in samples (open in the paper; default 128 = 1.28 s at 100 Hz).
        hop: samples between windows (default ``window // 2``); a last window flush with
            the trace end is added when it does not divide ``T - window``.
        taper: scipy window name or array; default ``"cosine"`` (the reference's half-sine).
            A taper with zero end points (``"hann"``) cannot be inverted and is refused.

    Returns:
        (times (M,) window centres in s, freqs (F,) Hz, float64 R_tf (N, M, F, C)),
        F = window//2 + 1; the sum over cells equals the DFT relevance's sum.
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"X: expected a batch (N, T, C), got shape {X.shape}")
    hop = window // 2 if hop is None else hop
    starts = tr.stdft_starts(X.shape[1], window, hop)
    R = _relevance(model_or_relevance, X, window=window, hop=hop, taper=taper, method=method,
                   class_index=class_index, rule=rule, lrp_settings=lrp_settings, epsilon=epsilon,
                   steps=steps, baseline=baseline, batch_size=batch_size)
    return (starts + window / 2.0) / fs, np.fft.rfftfreq(window, 1.0 / fs), R
