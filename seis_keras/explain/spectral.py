"""Spectral analysis of inputs and relevance maps (Ong §6.3, Laurenti Fig. 6, Majstorović §3).

- :func:`spectrogram`: Fourier amplitude in sliding windows (Ong: window 1000, stride 500).
- :func:`amplitude_spectrum`, :func:`cumulative_spectrum`, :func:`class_cumulative_spectra`:
  Ong's "cumulative sum of the frequency responses for all events and their 3 channels" is
  read as the *sum over windows and channels* of the amplitude spectra (not a running sum
  over frequency), computed separately per class.
- :func:`relative_difference` ((a - b) / b) and :func:`smooth_spectrum` (Savitzky–Golay
  with a width given in Hz, converted by :func:`savgol_width_to_bins` to an odd number of
  frequency bins), :func:`find_spectral_peaks`.
- :func:`multitaper_spectrum` (Thomson: mean of DPSS-tapered periodograms,
  ``scipy.signal.windows.dpss``) and :func:`spectral_ratio` for co-located event pairs.
- :func:`band_power_fraction`: the share of a relevance map's power in a frequency band.
  Two documented readings (``method``): ``"relevance_trace"`` (default) takes the power
  spectrum of the relevance trace itself, R(t); ``"relevance_times_signal"`` takes the
  spectrum of R(t)·x(t), the relevance-weighted signal.
- :func:`sigma_lrp`: Majstorović's σ_LRP, the standard deviation in time of the positive
  relevance (relevance used as weights).

Arrays are channels-last: one trace (T,) or (T, C), a batch (N, T, C); ``axis`` names the
time axis where a function takes one.
"""
from __future__ import annotations

import numpy as np
from scipy import signal


def amplitude_spectrum(x: np.ndarray, fs: float, *, axis: int = -2, taper: str | None = None):
    """One-sided Fourier amplitude |X(f)| along the time axis.

    Args:
        x: array with time along ``axis`` ((T, C) or (N, T, C): axis -2; (T,): pass axis=-1).
        fs: sampling rate in Hz.
        axis: time axis.
        taper: optional scipy window name applied before the FFT (None: boxcar).

    Returns:
        (freqs (F,), amplitude with the time axis replaced by F = T//2 + 1).
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[axis]
    if taper is not None:
        shape = [1] * x.ndim
        shape[axis] = n
        x = x * signal.get_window(taper, n).reshape(shape)
    return np.fft.rfftfreq(n, 1.0 / fs), np.abs(np.fft.rfft(x, axis=axis))


def spectrogram(x: np.ndarray, fs: float, *, window: int = 1000, stride: int = 500,
                taper: str = "hann", axis: int = -2):
    """Sliding-window Fourier amplitude (Ong Fig. 9: window 1000, stride 500).

    Args:
        x: array with time along ``axis``.
        fs: sampling rate in Hz.
        window: samples per FFT window.
        stride: samples between window starts (noverlap = window - stride).
        taper: scipy window applied in each segment (Ong: open; Hann here).
        axis: time axis.

    Returns:
        (freqs (F,), times (W,) window centres in s, Fourier amplitude |rfft(segment·taper)|
        (unscaled) shaped like x with the time axis replaced by (F, W)).
    """
    if not 0 < stride <= window:
        raise ValueError(f"stride: expected 0 < stride <= window ({window}), got {stride}")
    x = np.asarray(x, dtype=np.float64)
    ax = axis % x.ndim
    if x.shape[ax] < window:
        raise ValueError(f"x: {x.shape[ax]} samples along axis {axis}, fewer than one window ({window})")
    segs = np.lib.stride_tricks.sliding_window_view(np.moveaxis(x, ax, -1), window, axis=-1)[..., ::stride, :]
    A = np.abs(np.fft.rfft(segs * signal.get_window(taper, window), axis=-1))  # (..., W, F)
    A = np.moveaxis(np.swapaxes(A, -1, -2), (-2, -1), (ax, ax + 1))
    times = (np.arange(A.shape[ax + 1]) * stride + window / 2) / fs
    return np.fft.rfftfreq(window, 1.0 / fs), times, A


def cumulative_spectrum(X: np.ndarray, fs: float, *, taper: str | None = None) -> tuple:
    """Sum of amplitude spectra over all windows and channels of a batch (N, T, C).

    Returns:
        (freqs (F,), summed amplitude (F,)).
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise ValueError(f"X: expected a batch (N, T, C), got shape {X.shape}")
    f, A = amplitude_spectrum(X, fs, axis=1, taper=taper)
    return f, A.sum(axis=(0, 2))


def class_cumulative_spectra(X: np.ndarray, y: np.ndarray, fs: float, **kwargs) -> tuple:
    """:func:`cumulative_spectrum` separately for each class label in ``y``.

    Returns:
        (freqs (F,), {label: summed amplitude (F,)}).
    """
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"y: expected {len(X)} labels (one per window), got {len(y)}")
    out, f = {}, None
    for label in np.unique(y):
        f, out[label.item()] = cumulative_spectrum(np.asarray(X)[y == label], fs, **kwargs)
    return f, out


def relative_difference(a: np.ndarray, b: np.ndarray, *, percent: bool = False) -> np.ndarray:
    """(a - b) / b, Ong's relative difference of precursor (a) vs noise (b) spectra.

    Args:
        a, b: same-shaped arrays; b must be non-zero.
        percent: multiply by 100.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.any(b == 0):
        raise ValueError("b: reference spectrum has zeros (relative difference undefined)")
    return (a - b) / b * (100.0 if percent else 1.0)


def savgol_width_to_bins(width_hz: float, df: float, *, polyorder: int = 2) -> int:
    """Savitzky–Golay window for a width in Hz: round(width/df), made odd, > polyorder.

    Ong: 0.062 Hz on 16384-sample windows at 40 Hz (df = 40/16384 Hz) -> 25 bins.
    """
    if width_hz <= 0 or df <= 0:
        raise ValueError(f"width_hz, df: expected positive values, got {width_hz}, {df}")
    n = int(round(width_hz / df))
    if n % 2 == 0:
        n += 1
    smallest = polyorder + 2 if polyorder % 2 == 1 else polyorder + 1
    return max(n, smallest)


def smooth_spectrum(values: np.ndarray, freqs: np.ndarray, *, width_hz: float = 0.062,
                    polyorder: int = 2) -> np.ndarray:
    """Savitzky–Golay smoothing of a spectrum over ``width_hz`` (Ong Fig. 11: 0.062 Hz).

    Args:
        values: spectrum (F,) (or (..., F): smoothed along the last axis).
        freqs: equally spaced frequencies (F,).
        width_hz: smoothing width in Hz.
        polyorder: polynomial order (open in Ong; 2 here).
    """
    df = float(freqs[1] - freqs[0])
    n = savgol_width_to_bins(width_hz, df, polyorder=polyorder)
    return signal.savgol_filter(np.asarray(values, dtype=np.float64), n, polyorder, axis=-1)


def find_spectral_peaks(freqs: np.ndarray, values: np.ndarray, *, fmin: float = 0.0,
                        fmax: float | None = None, prominence: float | None = None,
                        n_peaks: int | None = None) -> np.ndarray:
    """Frequencies of local maxima of a (smoothed) spectrum, strongest first.

    Args:
        freqs, values: the spectrum (F,).
        fmin, fmax: search band in Hz.
        prominence: minimal peak prominence (scipy.signal.find_peaks).
        n_peaks: keep at most this many (highest values).

    Returns:
        peak frequencies in Hz, ordered by decreasing value.
    """
    freqs, values = np.asarray(freqs), np.asarray(values)
    band = np.flatnonzero((freqs >= fmin) & (freqs <= (freqs[-1] if fmax is None else fmax)))
    if len(band) == 0:
        return np.empty(0)
    idx, _ = signal.find_peaks(values[band[0]:band[-1] + 1], prominence=prominence)
    idx = idx + band[0]
    idx = idx[np.argsort(values[idx])[::-1]]
    return freqs[idx[:n_peaks] if n_peaks else idx]


def multitaper_spectrum(x: np.ndarray, fs: float, *, nw: float = 4.0, k: int | None = None,
                        axis: int = -2):
    """Thomson multitaper power spectral density: mean of K DPSS-tapered periodograms.

    Args:
        x: array with time along ``axis``.
        fs: sampling rate in Hz.
        nw: time-half-bandwidth product.
        k: number of tapers (default 2·NW - 1).
        axis: time axis.

    Returns:
        (freqs (F,), one-sided PSD shaped like x with time replaced by F), units²/Hz.
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    n = x.shape[-1]
    k = int(2 * nw - 1) if k is None else int(k)
    if k < 1:
        raise ValueError(f"k: expected at least one taper, got {k}")
    tapers = signal.windows.dpss(n, nw, Kmax=k, norm=2).reshape(k, n)
    spectra = np.abs(np.fft.rfft(x[..., None, :] * tapers, axis=-1)) ** 2 / fs
    psd = spectra.mean(axis=-2)
    psd[..., 1:(n + 1) // 2] *= 2.0  # one-sided (not the DC or Nyquist bins)
    return np.fft.rfftfreq(n, 1.0 / fs), np.moveaxis(psd, -1, axis)


def spectral_ratio(a: np.ndarray, b: np.ndarray, fs: float, *, nw: float = 4.0,
                   k: int | None = None, kind: str = "amplitude", axis: int = -2,
                   water_level: float = 1e-20):
    """Multitaper spectral ratio a/b of two co-located events (Laurenti Fig. 6: post/pre).

    Args:
        a, b: same-shaped traces, time along ``axis``.
        fs: sampling rate in Hz.
        nw, k: multitaper settings.
        kind: ``"amplitude"`` (sqrt of the PSD ratio) or ``"power"``.
        axis: time axis.
        water_level: added to both PSDs to avoid division by zero.

    Returns:
        (freqs (F,), ratio shaped like the PSD).
    """
    if np.shape(a) != np.shape(b):
        raise ValueError(f"a, b: expected equal shapes for a spectral ratio, got {np.shape(a)} and {np.shape(b)}")
    if kind not in ("amplitude", "power"):
        raise ValueError(f"kind: expected 'amplitude' or 'power', got {kind!r}")
    f, pa = multitaper_spectrum(a, fs, nw=nw, k=k, axis=axis)
    _, pb = multitaper_spectrum(b, fs, nw=nw, k=k, axis=axis)
    r = (pa + water_level) / (pb + water_level)
    return f, (np.sqrt(r) if kind == "amplitude" else r)


def band_power_fraction(relevance: np.ndarray, band: tuple, fs: float, *, x: np.ndarray | None = None,
                        method: str = "relevance_trace", exclude_dc: bool = True) -> np.ndarray:
    """Fraction of a relevance map's spectral power inside ``band`` = (f_lo, f_hi) Hz.

    Args:
        relevance: (N, T, C) relevance maps (channels are summed in power).
        band: (f_lo, f_hi) in Hz, inclusive.
        fs: sampling rate in Hz.
        x: the explained batch (N, T, C); needed for ``method="relevance_times_signal"``.
        method: ``"relevance_trace"``: power spectrum of R(t) per channel;
            ``"relevance_times_signal"``: power spectrum of R(t)·x(t).
        exclude_dc: leave the 0 Hz bin out of numerator and denominator (positive relevance
            has a large mean that says nothing about frequency).

    Returns:
        float array (N,) in [0, 1].
    """
    R = np.asarray(relevance, dtype=np.float64)
    if R.ndim != 3:
        raise ValueError(f"relevance: expected (N, T, C), got shape {R.shape}")
    if method == "relevance_times_signal":
        if x is None or np.shape(x) != R.shape:
            raise ValueError(f"x: expected the explained batch shaped {R.shape} for method='relevance_times_signal'")
        R = R * np.asarray(x, dtype=np.float64)
    elif method != "relevance_trace":
        raise ValueError(f"method: expected 'relevance_trace' or 'relevance_times_signal', got {method!r}")
    f, A = amplitude_spectrum(R, fs, axis=1)
    P = (A ** 2).sum(axis=2)
    keep = f > 0 if exclude_dc else np.ones_like(f, dtype=bool)
    inside = keep & (f >= band[0]) & (f <= band[1])
    total = P[:, keep].sum(axis=1)
    return np.divide(P[:, inside].sum(axis=1), total, out=np.zeros(len(P)), where=total > 0)


def sigma_lrp(relevance: np.ndarray, *, fs: float = 1.0, channels: str = "sum") -> np.ndarray:
    """σ_LRP (Majstorović §3.3): std in time of the positive relevance, relevance as weights.

    Args:
        relevance: (N, T, C) or (N, T).
        fs: sampling rate; σ is returned in seconds (fs = 1: in samples).
        channels: ``"sum"``: positive relevance summed over channels before weighting.

    Returns:
        float array (N,); NaN where a sample has no positive relevance.
    """
    R = np.asarray(relevance, dtype=np.float64)
    if R.ndim == 3:
        if channels != "sum":
            raise ValueError(f"channels: only 'sum' is supported, got {channels!r}")
        w = np.clip(R, 0, None).sum(axis=2)
    elif R.ndim == 2:
        w = np.clip(R, 0, None)
    else:
        raise ValueError(f"relevance: expected (N, T, C) or (N, T), got shape {R.shape}")
    t = np.arange(w.shape[1]) / fs
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (w * t).sum(axis=1) / total
        var = (w * (t[None] - mu[:, None]) ** 2).sum(axis=1) / total
    return np.where(total > 0, np.sqrt(var), np.nan)
