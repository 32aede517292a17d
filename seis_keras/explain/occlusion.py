"""Occlusion in time and in frequency (Ong et al. §6.1–6.2; Laurenti et al. Fig. 5).

- :func:`occlude_time`: slide a mask (Ong: 400 zeros, stride 400) along the time axis and
  record the target-class score for every mask position, all channels at once
  (``channels="all"``) or each channel alone (``channels="each"``). Positions run from 0 in
  steps of ``stride`` until the mask start passes the end; the last mask is cut at the end
  of the window, so every sample is occluded at least once (16384 samples, 400/400: 41
  positions, the last covering 16000–16383).
- :func:`occlusion_map`: the same masks as a map shaped like the input (the ``occlusion``
  method of :mod:`seis_keras.explain.methods`): each sample gets the mean drop of the target
  score over the mask positions that cover it (Zeiler & Fergus 2014), spread over the channels.
  Model-agnostic: it needs only forward passes, so it is the perturbation baseline beside LRP
  and the gradient methods.
- :func:`occlude_frequency`: filter the whole test set with a zero-phase Butterworth filter
  (second-order sections, ``sosfiltfilt``) at each cutoff and report accuracy and loss vs
  cutoff (Ong Fig. 8: 8th order low-pass from 20 Hz down to 0.1 Hz in 0.1 Hz steps).
  Note: ``sosfiltfilt`` runs the filter forward and backward, so the roll-off is twice the
  one-pass value (order 8: -96 instead of -48 dB/octave); ``zero_phase=False`` applies the
  one-pass causal filter the paper's "-48 dB/octave" describes. A cutoff at or above the
  Nyquist frequency leaves the data unfiltered (Ong's first step, 20 Hz at 40 Hz sampling).
- :func:`occlude_band`: keep only one band (band-pass; a band starting at 0 is a low-pass)
  and score, for the Laurenti 3 Hz sweep.

Scores are the target-class probability (``score="probability"``: sigmoid of the target
score, or softmax) as Ong plots them, or the raw target logit (``score="logit"``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import signal

from seis_keras.explain.targets import (ClassIndex, classification_loss, predict_logits, predicted_classes,
                                        resolve_model, resolve_targets, select_scores, target_probabilities)


def _scores(logits, targets, score):
    if score == "probability":
        return target_probabilities(logits, targets)
    if score == "logit":
        return select_scores(np.asarray(logits, np.float64), targets)
    raise ValueError(f"score: expected 'probability' or 'logit', got {score!r}")


def occlusion_positions(n_time: int, mask: int, stride: int) -> np.ndarray:
    """Start samples of the mask: 0, stride, 2·stride, … < n_time."""
    if mask < 1 or stride < 1:
        raise ValueError(f"mask, stride: expected positive sample counts, got {mask}, {stride}")
    return np.arange(0, n_time, stride)


def occlude_time(model, X: np.ndarray, *, mask: int = 400, stride: int = 400, fill: float = 0.0,
                 channels: str = "all", class_index: ClassIndex = "predicted",
                 score: str = "probability", time_axis: int = 1, batch_size: int = 256):
    """Score of each sample with a sliding window of its time axis replaced by ``fill``.

    Args:
        model: Keras model outputting logits, or a saved-model path (``.keras``/``.h5`` file or Keras SavedModel dir).
        X: batch (N, T, C) (or (N, F, T, C) with ``time_axis=2``); channels last.
        mask: occluded samples per position (Ong 400).
        stride: samples between positions (Ong 400).
        fill: value written into the mask (Ong: zeros).
        channels: ``"all"``: occlude every channel together; ``"each"``: one channel at a time.
        class_index: target class (default: the class predicted on the unoccluded input).
        score: ``"probability"`` or ``"logit"``.
        time_axis: axis of ``X`` holding time.
        batch_size: occluded copies per model call.

    Returns:
        (scores, positions): scores (N, P) for ``"all"`` or (N, C, P) for ``"each"``;
        positions (P,) the mask start samples.
    """
    model = resolve_model(model)
    X = np.asarray(X, dtype=np.float32)
    if X.ndim < 3:
        raise ValueError(f"X: expected (N, T, C) or (N, F, T, C), got shape {X.shape}")
    if channels not in ("all", "each"):
        raise ValueError(f"channels: expected 'all' or 'each', got {channels!r}")
    n, n_time, n_ch = len(X), X.shape[time_axis], X.shape[-1]
    positions = occlusion_positions(n_time, mask, stride)
    targets = resolve_targets(class_index, predict_logits(model, X, batch_size=batch_size))
    groups = [None] if channels == "all" else list(range(n_ch))
    jobs = [(i, g, p) for i in range(n) for g in range(len(groups)) for p in range(len(positions))]
    out = np.empty((n, len(groups), len(positions)), dtype=np.float64)
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start:start + batch_size]
        batch = X[[i for i, _, _ in chunk]].copy()
        for row, (_, g, p) in enumerate(chunk):
            index = [row] + [slice(None)] * (X.ndim - 1)
            index[time_axis] = slice(positions[p], positions[p] + mask)
            if groups[g] is not None:
                index[-1] = groups[g]
            batch[tuple(index)] = fill
        z = predict_logits(model, batch, batch_size=batch_size)
        values = _scores(z, targets[[i for i, _, _ in chunk]], score)
        for (i, g, p), v in zip(chunk, values):
            out[i, g, p] = v
    return (out[:, 0] if channels == "all" else out), positions


def occlusion_map(model, X: np.ndarray, *, mask: int = 400, stride: int = 400, fill: float = 0.0,
                  class_index: ClassIndex = "predicted", score: str = "probability", time_axis: int = 1,
                  batch_size: int = 256) -> np.ndarray:
    """Occlusion as a map shaped like ``X``: the mean score drop of the masks covering each sample.

    Args:
        model, X, mask, stride, fill, class_index, score, time_axis, batch_size: as
            :func:`occlude_time` (all channels occluded together).

    Returns:
        float32 array shaped like ``X``: ``R[i, t] = mean over the positions p covering t of
        (score(x_i) - score(x_i with mask p))``, the same value on every channel (and every
        other axis). Positive = the masked part raised the target score.
    """
    model = resolve_model(model)
    X = np.asarray(X, dtype=np.float32)
    scores, positions = occlude_time(model, X, mask=mask, stride=stride, fill=fill, channels="all",
                                     class_index=class_index, score=score, time_axis=time_axis,
                                     batch_size=batch_size)
    logits = predict_logits(model, X, batch_size=batch_size)
    base = _scores(logits, resolve_targets(class_index, logits), score)
    n_time = X.shape[time_axis]
    drop, cover = np.zeros((len(X), n_time)), np.zeros(n_time)
    for j, p in enumerate(positions):
        drop[:, p:p + mask] += (base - scores[:, j])[:, None]
        cover[p:p + mask] += 1
    drop /= cover  # every sample is covered (occlusion_positions)
    shape = [len(X)] + [1] * (X.ndim - 1)
    shape[time_axis] = n_time
    return np.broadcast_to(drop.reshape(shape), X.shape).astype(np.float32)


def _filter(X: np.ndarray, sos: np.ndarray, zero_phase: bool, time_axis: int) -> np.ndarray:
    if zero_phase:
        return signal.sosfiltfilt(sos, X, axis=time_axis).astype(np.float32)
    return signal.sosfilt(sos, X, axis=time_axis).astype(np.float32)


def _evaluate(model, X, y, batch_size):
    z = predict_logits(model, X, batch_size=batch_size)
    return float(np.mean(predicted_classes(z) == y)), float(np.mean(classification_loss(z, y)))


def occlude_frequency(model, X: np.ndarray, y: np.ndarray, *, fs: float,
                      cutoffs=None, order: int = 8, kind: str = "lowpass",
                      zero_phase: bool = True, time_axis: int = 1,
                      batch_size: int = 256) -> pd.DataFrame:
    """Accuracy and loss of a trained model on filtered inputs, for each cutoff.

    Args:
        model: Keras model outputting logits, or a saved-model path (``.keras``/``.h5`` file or Keras SavedModel dir).
        X: test batch (N, T, C).
        y: true classes (N,).
        fs: sampling rate in Hz.
        cutoffs: cutoff frequencies in Hz (default Ong's ``np.arange(20, 0.05, -0.1)``).
        order: Butterworth order (Ong 8).
        kind: ``"lowpass"`` (Ong) or ``"highpass"``.
        zero_phase: ``sosfiltfilt`` (default) or one-pass ``sosfilt`` (module docstring).
        time_axis: axis of ``X`` holding time.
        batch_size: rows per model call.

    Returns:
        DataFrame with columns ``cutoff_hz``, ``accuracy``, ``loss`` (mean cross-entropy from
        logits), one row per cutoff, in the given order.
    """
    if kind not in ("lowpass", "highpass"):
        raise ValueError(f"kind: expected 'lowpass' or 'highpass', got {kind!r}")
    model = resolve_model(model)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if len(y) != len(X):
        raise ValueError(f"y: expected {len(X)} labels, got {len(y)}")
    cutoffs = np.arange(20, 0.05, -0.1) if cutoffs is None else np.asarray(cutoffs, dtype=np.float64)
    nyquist = fs / 2.0
    rows = []
    for fc in cutoffs:
        if fc <= 0:
            raise ValueError(f"cutoffs: expected positive frequencies, got {fc}")
        if fc >= nyquist:
            Xf = X if kind == "lowpass" else np.zeros_like(X)
        else:
            sos = signal.butter(order, fc, btype=kind, fs=fs, output="sos")
            Xf = _filter(X, sos, zero_phase, time_axis)
        acc, loss = _evaluate(model, Xf, y, batch_size)
        rows.append({"cutoff_hz": float(fc), "accuracy": acc, "loss": loss})
    return pd.DataFrame(rows, columns=["cutoff_hz", "accuracy", "loss"])


def occlude_band(model, X: np.ndarray, y: np.ndarray, *, fs: float, bands, order: int = 4,
                 zero_phase: bool = True, time_axis: int = 1, batch_size: int = 256) -> pd.DataFrame:
    """Accuracy and loss when only one frequency band of the input is kept.

    Args:
        model: Keras model outputting logits, or a saved-model path (``.keras``/``.h5`` file or Keras SavedModel dir).
        X: test batch (N, T, C).
        y: true classes (N,).
        fs: sampling rate in Hz.
        bands: sequence of (f_lo, f_hi) in Hz; f_lo = 0 gives a low-pass, f_hi >= Nyquist a
            high-pass (Laurenti: 3 Hz steps over 0–50 Hz, e.g. ``[(i, i + 3) for i in
            range(0, 48, 3)]``).
        order: Butterworth order (Laurenti: open; 4 here).
        zero_phase: ``sosfiltfilt`` (default) or one-pass ``sosfilt``.
        time_axis: axis of ``X`` holding time.
        batch_size: rows per model call.

    Returns:
        DataFrame with columns ``band_low_hz``, ``band_high_hz``, ``accuracy``, ``loss``.
    """
    model = resolve_model(model)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if len(y) != len(X):
        raise ValueError(f"y: expected {len(X)} labels, got {len(y)}")
    nyquist = fs / 2.0
    rows = []
    for lo, hi in bands:
        if not 0 <= lo < hi:
            raise ValueError(f"bands: expected 0 <= f_lo < f_hi, got ({lo}, {hi})")
        if lo <= 0 and hi >= nyquist:
            Xf = X
        else:
            if lo <= 0:
                sos = signal.butter(order, hi, btype="lowpass", fs=fs, output="sos")
            elif hi >= nyquist:
                sos = signal.butter(order, lo, btype="highpass", fs=fs, output="sos")
            else:
                sos = signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
            Xf = _filter(X, sos, zero_phase, time_axis)
        acc, loss = _evaluate(model, Xf, y, batch_size)
        rows.append({"band_low_hz": float(lo), "band_high_hz": float(hi), "accuracy": acc, "loss": loss})
    return pd.DataFrame(rows, columns=["band_low_hz", "band_high_hz", "accuracy", "loss"])
