"""Numpy transforms on waveform batches, vectorised over the batch.

Every transform takes channels-last float arrays, a batch ``(N, T, C)`` or one trace
``(T, C)`` (returned without the batch axis), and returns float32. Each has
``output_shape(input_shape)`` so a pipeline can declare static shapes. Settings are stored
by the constructor; fitted values end in ``_`` (scikit-learn style).

Which paper uses which:

* Majstorović et al. 2023: :class:`MaxNormalize` (each sample divided by the max |value| over
  its 3 components).
* Laurenti et al. 2024: :class:`L2Normalize` (each channel divided by its L2 norm over time),
  :class:`Bandpass` for the 3 Hz band experiments.
* Magrini & Marrocco: :class:`LogSpectrogram` then :class:`Standardize` fitted on training data.
* Ong et al.: :class:`JointNormalize` (per-channel mean removed, one joint scale), :class:`Lowpass`
  (8th-order) for frequency occlusion.
"""
from __future__ import annotations

import abc
from typing import Sequence

import numpy as np
from scipy import signal


def _batch(x) -> tuple[np.ndarray, bool]:
    x = np.asarray(x)
    if x.ndim == 2:
        return x[None].astype(np.float32, copy=False), True
    if x.ndim != 3:
        raise ValueError(f"waveforms: expected (N, T, C) or (T, C), got shape {x.shape}")
    return x, False


class Transform(abc.ABC):
    """Base: ``__call__`` handles the single-trace case, subclasses implement ``apply``."""

    def __call__(self, x) -> np.ndarray:
        xb, single = _batch(x)
        out = np.asarray(self.apply(xb), dtype=np.float32)
        return out[0] if single else out

    @abc.abstractmethod
    def apply(self, x: np.ndarray) -> np.ndarray:
        """The transform of a batch ``(N, T, C)``."""

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        """Shape of the output for an input of ``input_shape`` (batch axis optional)."""
        return tuple(input_shape)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({args})"


class Demean(Transform):
    """Remove each channel's mean over time. ``(N, T, C) -> (N, T, C)``."""

    def apply(self, x):
        return x - x.mean(axis=1, keepdims=True)


class Detrend(Transform):
    """Remove each channel's least-squares line (``scipy.signal.detrend``, linear). ``(N, T, C) -> (N, T, C)``."""

    def apply(self, x):
        return signal.detrend(x.astype(np.float64), axis=1, type="linear")


class MaxNormalize(Transform):
    """Majstorović: divide each sample (trace) by the max |value| over all its components.

    Args:
        eps: added to the maximum (an all-zero trace stays zero). ``(N, T, C) -> (N, T, C)``.
    """

    def __init__(self, eps: float = 1e-12):
        self.eps = eps

    def apply(self, x):
        return x / (np.abs(x).max(axis=(1, 2), keepdims=True) + self.eps)


class L2Normalize(Transform):
    """Laurenti: divide each channel by its L2 norm over time (``x / max(||x||, eps)``, as
    ``torch.nn.functional.normalize``). ``(N, T, C) -> (N, T, C)``.

    Args:
        eps: lower bound of the norm (default 1e-12, the authors' code).
    """

    def __init__(self, eps: float = 1e-12):
        self.eps = eps

    def apply(self, x):
        norm = np.sqrt((x.astype(np.float64) ** 2).sum(axis=1, keepdims=True))
        return x / np.maximum(norm, self.eps)


class JointNormalize(Transform):
    """Ong: remove each channel's mean, then divide all components by one joint scale.

    The paper: "mean removal (standardization) and normalisation of all three components
    jointly", keeping the components' relative amplitudes. ``(N, T, C) -> (N, T, C)``.

    Args:
        scale: ``"std"`` (default; the standard deviation over all samples of all components,
            the paper's "standardization") or ``"max"`` (the max |value| over all components).
        eps: added to the scale.
    """

    def __init__(self, scale: str = "std", eps: float = 1e-12):
        if scale not in ("std", "max"):
            raise ValueError(f"scale: expected 'std' or 'max', got {scale!r}")
        self.scale, self.eps = scale, eps

    def apply(self, x):
        x = x.astype(np.float64) - x.mean(axis=1, keepdims=True)
        s = x.std(axis=(1, 2), keepdims=True) if self.scale == "std" else np.abs(x).max(axis=(1, 2), keepdims=True)
        return x / (s + self.eps)


class _Butterworth(Transform):
    def _filter(self, x, sos):
        x = x.astype(np.float64)
        if self.zero_phase:
            return signal.sosfiltfilt(sos, x, axis=1)
        return signal.sosfilt(sos, x, axis=1)


class Bandpass(_Butterworth):
    """Butterworth band-pass (``scipy.signal.butter(output="sos")`` + ``sosfiltfilt``).

    ``fmin <= 0`` gives a low-pass at ``fmax`` and ``fmax >= fs/2`` a high-pass at ``fmin``
    (Laurenti's 0–3 Hz and 47–50 Hz bands). ``(N, T, C) -> (N, T, C)``.

    Args:
        fmin, fmax: corner frequencies, Hz.
        fs: sampling rate, Hz.
        order: filter order (default 4; zero-phase doubles the effective order).
        zero_phase: forward-backward filtering (default True) or causal ``sosfilt``.
    """

    def __init__(self, fmin: float, fmax: float, fs: float, order: int = 4, zero_phase: bool = True):
        nyq = fs / 2
        if not fmax > fmin or (fmin <= 0 and fmax >= nyq):
            raise ValueError(f"Bandpass: need fmin < fmax and a band inside (0, {nyq}) Hz, got ({fmin}, {fmax})")
        self.fmin, self.fmax, self.fs, self.order, self.zero_phase = fmin, fmax, fs, order, zero_phase
        if fmin <= 0:
            self.sos_ = signal.butter(order, fmax, "lowpass", fs=fs, output="sos")
        elif fmax >= nyq:
            self.sos_ = signal.butter(order, fmin, "highpass", fs=fs, output="sos")
        else:
            self.sos_ = signal.butter(order, [fmin, fmax], "bandpass", fs=fs, output="sos")

    def apply(self, x):
        return self._filter(x, self.sos_)


class Lowpass(_Butterworth):
    """Butterworth low-pass (Ong's frequency occlusion: 8th order). ``(N, T, C) -> (N, T, C)``.

    Args:
        cutoff: corner frequency, Hz (below ``fs/2``).
        fs: sampling rate, Hz.
        order: filter order (default 8).
        zero_phase: forward-backward filtering (default True).
    """

    def __init__(self, cutoff: float, fs: float, order: int = 8, zero_phase: bool = True):
        if not 0 < cutoff < fs / 2:
            raise ValueError(f"Lowpass: cutoff must lie in (0, {fs / 2}) Hz, got {cutoff}")
        self.cutoff, self.fs, self.order, self.zero_phase = cutoff, fs, order, zero_phase
        self.sos_ = signal.butter(order, cutoff, "lowpass", fs=fs, output="sos")

    def apply(self, x):
        return self._filter(x, self.sos_)


class LogSpectrogram(Transform):
    """Magrini & Marrocco: per-channel spectrogram, ``log1p``, min-max to [0, 1] per channel.

    ``scipy.signal.spectrogram(fs, nperseg, noverlap)`` with scipy's other defaults (Tukey
    window 0.25, constant detrend, density scaling). For 2500 samples at the defaults:
    ``(N, 2500, C) -> (N, 33, 153, C)`` (frequency, time, channel).

    Args:
        fs: sampling rate, Hz (default 100).
        nperseg: samples per segment (default 64 -> 33 frequencies).
        noverlap: overlapping samples (default 48 -> hop 16).
        eps: floor of the min-max range (a constant channel maps to 0).
        quantise_uint8: round the [0, 1] image down to 8-bit levels, ``floor(255 x) / 255``,
            as the authors' PNG files do (``plt.imsave`` truncates to uint8, ``ToTensor``
            divides by 255). Default off: float spectrograms.
    """

    def __init__(self, fs: float = 100.0, nperseg: int = 64, noverlap: int = 48, eps: float = 1e-12,
                 quantise_uint8: bool = False):
        self.fs, self.nperseg, self.noverlap, self.eps = fs, nperseg, noverlap, eps
        self.quantise_uint8 = bool(quantise_uint8)

    def apply(self, x):
        _, _, sxx = signal.spectrogram(x.astype(np.float64), fs=self.fs, nperseg=self.nperseg,
                                       noverlap=self.noverlap, axis=1)
        # sxx: (N, F, C, T') with the time axis consumed -> move to (N, F, T', C)
        s = np.log1p(np.moveaxis(sxx, 2, -1))
        lo = s.min(axis=(1, 2), keepdims=True)
        hi = s.max(axis=(1, 2), keepdims=True)
        s = (s - lo) / np.maximum(hi - lo, self.eps)
        return np.floor(s * 255.0) / 255.0 if self.quantise_uint8 else s

    def output_shape(self, input_shape):
        *batch, t, c = input_shape
        step = self.nperseg - self.noverlap
        return (*batch, self.nperseg // 2 + 1, (t - self.noverlap) // step, c)


class Standardize(Transform):
    """Subtract the per-channel mean and divide by the per-channel std fitted on training data.

    Works on any channels-last input, e.g. spectrograms ``(N, F, T, C)`` (Magrini & Marrocco)
    or waveforms; statistics pool every axis but the last. Output shape = input shape.

    Args:
        eps: added to the std.

    Attributes:
        mean_, std_: per-channel statistics, shape ``(C,)``, set by :meth:`fit`.
    """

    def __init__(self, eps: float = 1e-12, mean=None, std=None):
        self.eps = eps
        self.mean_ = None if mean is None else np.asarray(mean, np.float64)
        self.std_ = None if std is None else np.asarray(std, np.float64)

    def fit(self, x) -> "Standardize":
        """Store the per-channel mean and std of ``x`` (float64 accumulation); returns self."""
        x = np.asarray(x, np.float64)
        flat = x.reshape(-1, x.shape[-1])
        self.mean_, self.std_ = flat.mean(axis=0), flat.std(axis=0)
        return self

    def __call__(self, x):  # any rank (waveforms or spectrograms): no (N, T, C) batching
        return self.apply(x)

    def apply(self, x):
        if self.mean_ is None:
            raise ValueError("Standardize: call fit(training data) first (or pass mean=, std=)")
        x = np.asarray(x)
        return ((x - self.mean_) / (self.std_ + self.eps)).astype(np.float32)


class Compose(Transform):
    """Apply transforms in order. Output shape is that of the last one."""

    def __init__(self, transforms: Sequence):
        self.transforms = list(transforms)

    def __call__(self, x):  # each member handles its own input rank
        return self.apply(x)

    def apply(self, x):
        for t in self.transforms:
            x = t(x)
        return np.asarray(x, np.float32)

    def output_shape(self, input_shape):
        shape = tuple(input_shape)
        for t in self.transforms:
            shape = t.output_shape(shape) if hasattr(t, "output_shape") else shape
        return shape
