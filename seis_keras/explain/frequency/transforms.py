"""The fixed, invertible transforms of the virtual inspection layers (numpy).

**DFT coefficients.** A real trace of T samples is represented by T real numbers, the
orthonormal one-sided DFT ``Y = rfft(x, norm="ortho")`` split into real and imaginary
parts (Vielhaben et al. 2024 with ``leverage_symmetry=True``)::

    s = [Re Y_0, ..., Re Y_{K-1}, Im Y_1, ..., Im Y_{(T-1)//2}],   K = T//2 + 1

(Im Y_0 = 0 always, and Im Y_{T/2} = 0 for even T, so they are left out). The inverse is
linear, ``x_n = sum_p s_p W[p, n]`` with :func:`inverse_dft_matrix` ``W``, whose rows are
``c_k cos(2 pi k n / T) / sqrt(T)`` and ``-c_k sin(2 pi k n / T) / sqrt(T)``; ``c_k = 2``
except ``c_0 = 1`` and, for even T, ``c_{T/2} = 1`` (the authors' reference code,
github.com/jvielhaben/DFT-LRP ``dft_utils.py``, uses a row of ones for the Nyquist term
instead of ``(-1)^n``; here it is ``(-1)^n``, the exact inverse).

**STDFT coefficients.** Windows of ``window`` samples start every ``hop`` samples (and a
last one flush with the end when ``hop`` does not divide ``T - window``); window m holds
the DFT coefficients above of ``w * x[s_m : s_m + window]`` with taper ``w``. Overlap-add
of the inverse DFTs gives ``x_n * sum_m w(n - s_m)``, so the inverse divides by that
coverage, which must be > 0 everywhere (Hann's zero end points are refused; the default
``"cosine"`` taper, ``sin(pi (j + 1/2) / window)``, is the reference code's "halfsine").
The frequency resolution is that of the window (``rfftfreq(window)``), as in an STFT; the
reference code instead zero-pads each window to the full trace length.

Arrays are channels-last with time on ``axis`` (default 1 for a batch (N, T, C)).
"""
from __future__ import annotations

import numpy as np
from scipy import signal

__all__ = ["n_frequencies", "bin_weights", "dft", "inverse_dft", "inverse_dft_matrix",
           "coefficients_to_bins", "stdft_starts", "stdft_taper", "stdft_coverage", "stdft",
           "inverse_stdft", "inverse_stdft_matrix", "energy_spectrum"]


def n_frequencies(n_samples: int) -> int:
    """Number of one-sided DFT bins, ``T // 2 + 1``."""
    return int(n_samples) // 2 + 1


def bin_weights(n_samples: int) -> np.ndarray:
    """``c_k``: how often bin k appears in the two-sided spectrum (1 for DC and Nyquist, else 2).

    Returns:
        float array (T//2 + 1,).
    """
    c = np.full(n_frequencies(n_samples), 2.0)
    c[0] = 1.0
    if n_samples % 2 == 0:
        c[-1] = 1.0
    return c


def _n_imag(n_samples: int) -> int:
    return (int(n_samples) - 1) // 2


def dft(x: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """Real DFT coefficients ``[Re Y_0..Re Y_{K-1}, Im Y_1..]`` of ``x`` along ``axis``.

    Args:
        x: real array with T samples along ``axis`` (a batch (N, T, C): axis 1).
        axis: time axis.

    Returns:
        float64 array shaped like ``x`` (T coefficients replace the T samples).
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    y = np.fft.rfft(x, norm="ortho")
    s = np.concatenate([y.real, y.imag[..., 1:1 + _n_imag(x.shape[-1])]], axis=-1)
    return np.moveaxis(s, -1, axis)


def _complex(s: np.ndarray) -> np.ndarray:
    """Coefficients (..., T) -> complex one-sided spectrum (..., T//2 + 1)."""
    t = s.shape[-1]
    k = n_frequencies(t)
    imag = np.zeros(s.shape[:-1] + (k,))
    imag[..., 1:1 + _n_imag(t)] = s[..., k:]
    return s[..., :k] + 1j * imag


def inverse_dft(s: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """The trace whose :func:`dft` is ``s`` (exact inverse).

    Args:
        s: coefficients with T values along ``axis``.
        axis: coefficient axis.

    Returns:
        float64 array shaped like ``s``.
    """
    s = np.moveaxis(np.asarray(s, dtype=np.float64), axis, -1)
    x = np.fft.irfft(_complex(s), n=s.shape[-1], norm="ortho")
    return np.moveaxis(x, -1, axis)


def inverse_dft_matrix(n_samples: int) -> np.ndarray:
    """``W`` (T coefficients, T samples) with ``x_n = sum_p s_p W[p, n]``, built from cos/sin.

    This is the kernel of the virtual layer (a bias-free Dense layer); it is built from the
    closed-form basis, independently of numpy's FFT.

    Returns:
        float64 array (T, T).
    """
    t = int(n_samples)
    n = np.arange(t)
    k = np.arange(n_frequencies(t))
    c = bin_weights(t)[:, None] / np.sqrt(t)
    theta = 2.0 * np.pi * np.outer(k, n) / t
    return np.vstack([c * np.cos(theta), -(c * np.sin(theta))[1:1 + _n_imag(t)]])


def coefficients_to_bins(r: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """Relevance per coefficient -> relevance per frequency bin: R(Re Y_k) + R(Im Y_k).

    Args:
        r: relevance of the T coefficients along ``axis`` (e.g. LRP of a spectral model).
        axis: coefficient axis.

    Returns:
        array with T//2 + 1 frequency bins along ``axis``; sums are unchanged.
    """
    r = np.moveaxis(np.asarray(r, dtype=np.float64), axis, -1)
    t = r.shape[-1]
    k = n_frequencies(t)
    out = r[..., :k].copy()
    out[..., 1:1 + _n_imag(t)] += r[..., k:]
    return np.moveaxis(out, -1, axis)


def stdft_starts(n_samples: int, window: int, hop: int) -> np.ndarray:
    """Start samples of the STDFT windows (regular hop, plus one flush with the end if needed).

    Args:
        n_samples: trace length T.
        window: window length in samples (<= T).
        hop: samples between window starts (1 <= hop <= window, so every sample is covered).

    Returns:
        int array (M,).
    """
    if not (isinstance(window, (int, np.integer)) and 1 <= window <= n_samples):
        raise ValueError(f"window: expected an int in 1..{n_samples} (trace length), got {window!r}")
    if not (isinstance(hop, (int, np.integer)) and 1 <= hop <= window):
        raise ValueError(f"hop: expected an int in 1..{window} (window), got {hop!r}")
    starts = np.arange(0, n_samples - window + 1, hop)
    if starts[-1] + window < n_samples:
        starts = np.append(starts, n_samples - window)
    return starts


def stdft_taper(window: int, taper) -> np.ndarray:
    """The taper as an array: a scipy window name (symmetric form) or an array of ``window`` values."""
    if isinstance(taper, str) or isinstance(taper, tuple):
        return signal.get_window(taper, window, fftbins=False).astype(np.float64)
    w = np.asarray(taper, dtype=np.float64)
    if w.shape != (window,):
        raise ValueError(f"taper: expected a scipy window name or {window} values, got shape {w.shape}")
    return w


def stdft_coverage(n_samples: int, window: int, hop: int, taper="cosine") -> np.ndarray:
    """``sum_m w(n - s_m)`` per sample; the inverse STDFT divides by it.

    Raises:
        ValueError: a sample is not covered (coverage <= 1e-12 times its maximum).
    """
    w = stdft_taper(window, taper)
    cov = np.zeros(n_samples)
    for s in stdft_starts(n_samples, window, hop):
        cov[s:s + window] += w
    bad = np.flatnonzero(cov <= 1e-12 * max(np.abs(cov).max(), 1e-300))
    if len(bad):
        raise ValueError(f"taper: window {window}, hop {hop} leave {len(bad)} samples uncovered "
                         f"(first {bad[0]}; a taper with zero end points such as 'hann' cannot be "
                         "inverted there: use 'cosine' or 'boxcar')")
    return cov


def _segments(x: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """(N, T, C) -> (N, M, window, C) windows starting at ``starts``."""
    return x[:, starts[:, None] + np.arange(window)[None, :], :]


def _check_batch(x, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"{what}: expected a batch (N, T, C), got shape {x.shape}")
    return x


def stdft(x: np.ndarray, window: int, hop: int, taper="cosine") -> np.ndarray:
    """Short-time DFT coefficients of a batch: (N, T, C) -> (N, M, window, C).

    Args:
        x: batch (N, T, C).
        window, hop: see :func:`stdft_starts`.
        taper: scipy window name or array (see module docstring).

    Returns:
        float64 (N, M, window, C): per window the :func:`dft` coefficients of ``w * segment``.
    """
    x = _check_batch(x, "x")
    stdft_coverage(x.shape[1], window, hop, taper)  # refuses a non-invertible setting
    w = stdft_taper(window, taper)
    return dft(_segments(x, stdft_starts(x.shape[1], window, hop), window) * w[:, None], axis=2)


def inverse_stdft(s: np.ndarray, n_samples: int, hop: int, taper="cosine") -> np.ndarray:
    """Exact inverse of :func:`stdft`: overlap-add of the window inverses over the coverage.

    Args:
        s: (N, M, window, C) coefficients.
        n_samples: trace length T.
        hop, taper: as given to :func:`stdft`.

    Returns:
        float64 (N, T, C).
    """
    s = np.asarray(s, dtype=np.float64)
    if s.ndim != 4:
        raise ValueError(f"s: expected STDFT coefficients (N, M, window, C), got shape {s.shape}")
    window = s.shape[2]
    starts = stdft_starts(n_samples, window, hop)
    if len(starts) != s.shape[1]:
        raise ValueError(f"s: {s.shape[1]} windows, expected {len(starts)} for T={n_samples}, "
                         f"window {window}, hop {hop}")
    segs = inverse_dft(s, axis=2)
    x = np.zeros((s.shape[0], n_samples, s.shape[3]))
    for m, start in enumerate(starts):
        x[:, start:start + window] += segs[:, m]
    return x / stdft_coverage(n_samples, window, hop, taper)[None, :, None]


def inverse_stdft_matrix(n_samples: int, window: int, hop: int, taper="cosine") -> np.ndarray:
    """``V`` (M * window coefficients, T samples) with ``x_n = sum_q s_q V[q, n]``.

    Row ``m * window + p`` is coefficient p of window m (the layout of
    ``s.reshape(N, M * window, C)``). The kernel of the STDFT virtual layer.

    Returns:
        float64 array (M * window, T).
    """
    starts = stdft_starts(n_samples, window, hop)
    cov = stdft_coverage(n_samples, window, hop, taper)
    w_inv = inverse_dft_matrix(window)
    v = np.zeros((len(starts) * window, n_samples))
    for m, start in enumerate(starts):
        v[m * window:(m + 1) * window, start:start + window] = w_inv / cov[start:start + window]
    return v


def energy_spectrum(x: np.ndarray, fs: float, *, axis: int = 1):
    """One-sided energy per DFT bin, ``c_k |rfft(x)_k|^2 / T`` (sums to sum_n x_n^2, Parseval).

    Args:
        x: array with T samples along ``axis`` (batch (N, T, C): axis 1).
        fs: sampling rate in Hz.
        axis: time axis.

    Returns:
        (freqs (T//2 + 1,) in Hz, energy shaped like ``x`` with T replaced by T//2 + 1).
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    t = x.shape[-1]
    e = bin_weights(t) * np.abs(np.fft.rfft(x, norm="ortho")) ** 2
    return np.fft.rfftfreq(t, 1.0 / fs), np.moveaxis(e, -1, axis)
