"""Resampling of obspy traces: obspy's FFT resampling on the bins it keeps, traces in parallel.

The one resampling of every path that turns obspy data into model input (``data.ingest``'s
windows, ``data.records``' continuous stations, hence ``seis_keras.scan``), so the scan and the
recipes read the same windows:

* ``method="resample"`` is obspy's ``Trace.resample(no_filter=True)`` (obspy 1.5): a real FFT
  of the whole segment (``scipy.fftpack.rfft``), a frequency-domain taper ``window`` (obspy's
  default ``"hann"``: a Hann window as long as the trace, ``ifftshift``-ed), the spectrum
  linearly interpolated onto the new frequency grid (exact bins when the rate ratio divides the
  length), an inverse FFT of the new length. :func:`fft_resample` does the same operations in
  the same order, but tapers and interpolates only the ``new_npts // 2 + 1`` bins the inverse
  FFT reads (obspy tapers all ``npts // 2 + 1`` and copies the spectrum through
  ``np.insert``/``np.append``/``np.delete``) and builds the taper once per (name, length)
  (:func:`_fft_window`; obspy rebuilds it per trace). With ``exact=True`` the output is
  bit-identical to obspy's. By default, when the length has a factor ``q`` between 3 and the
  rate ratio (100 -> 20 Hz: ``q = 5``), the low spectrum comes from ``q`` FFTs of ``npts / q``
  samples instead of one of ``npts`` (:func:`_low_spectrum`): the same transform summed in
  another order, within 1e-13 of obspy's output relative to its largest sample (the tolerance
  tests/data/test_ingest.py asserts; measured worst 1.2e-15), so the float32 windows differ
  from obspy's in a few rounding ties by one ulp (9 of 1,296,000 samples of the 6 h bench
  record). bench/scan.py times obspy, ``exact=True`` and the default on 6 h of 100 Hz data
  (paired medians over obspy with the cached window, four runs at load 3-4.6: exact=True
  1.15-1.45x, the default 2.0-2.6x).
* ``method="interpolate"``: ``Trace.interpolate`` (``interpolation``, ``"lanczos"`` with
  :data:`LANCZOS_A` lobes) after a zero-phase 8-pole Butterworth low-pass at ``corner`` times
  the new Nyquist frequency when it downsamples with ``anti_alias``.

:func:`resample_traces` resamples several traces (the components and segments of a station),
with ``workers > 1`` on a thread pool: the FFTs release the GIL, each trace is computed on its
own by the same single-threaded code, so the results are the same arrays as one at a time
(one thread by default: the pool was slower on the shared 2-core machine, bench/scan.py).
"""
from __future__ import annotations

import functools
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft
import scipy.fftpack
import scipy.signal

LANCZOS_A = 20  # width (samples each side) of the Lanczos kernel used by interpolation="lanczos"

#: Below this many samples in all, :func:`resample_traces` works serially (threads cost more than they save).
PARALLEL_MIN_SAMPLES = 200_000


@functools.lru_cache(maxsize=16)
def _fft_window(name: str, npts: int) -> np.ndarray:
    """obspy's resample window once per (name, length): obspy rebuilds it per trace (bench/scan.py)."""
    return np.fft.ifftshift(scipy.signal.get_window(name, npts))


def _taper(window, npts: int) -> np.ndarray | None:
    """The frequency-domain taper obspy's ``Trace.resample`` applies, as a length-``npts`` array."""
    if window is None:
        return None
    if callable(window):
        return window(np.fft.fftfreq(npts))
    if isinstance(window, np.ndarray):
        if window.shape != (npts,):
            raise ValueError("Window has the wrong shape. Window length must equal the number of points.")
        return window
    return _fft_window(window, npts) if isinstance(window, str) else np.fft.ifftshift(
        scipy.signal.get_window(window, npts))


@functools.lru_cache(maxsize=4)
def _twiddles(npts: int, k: int) -> np.ndarray:
    """``exp(-2 pi i j / npts)`` for ``j < k`` (cached: a scan resamples traces of one length)."""
    return np.exp(-2j * np.pi * np.arange(k) / npts)


def _phases(npts: int, k: int, factor: float) -> int:
    """The phase count ``q`` of :func:`_low_spectrum`'s decomposition, 1 for the whole FFT.

    The largest ``q`` in 3..min(16, rate ratio) that divides ``npts`` and leaves the ``k`` bins
    within one period of the ``npts / q``-point spectra; 1 when there is none (upsampling, a
    ratio under 3, a length with no such factor) or the trace is short.
    """
    if npts < 4096:
        return 1
    for q in range(min(16, int(factor)), 2, -1):
        if npts % q == 0 and k <= npts // q:
            return q
    return 1


def _low_spectrum(x: np.ndarray, k: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary parts of the DFT bins ``0..k-1`` of ``x`` (``Im X_0`` set to 0, as obspy does).

    ``q == 1``: obspy's FFT of the whole trace (``scipy.fftpack.rfft``; the same numbers).
    ``q > 1``: the ``q`` phases ``x[p::q]`` are transformed with ``npts / q``-point FFTs (they fit
    in the caches; the whole trace does not) and combined, ``X_j = sum_p exp(-2 pi i p j / npts)
    X^(p)_j`` for the bins needed only: the same transform in another order, within ~1e-15 of
    the whole FFT relative to its largest bin (tests/data/test_ingest.py states and tests the
    tolerance on the resampled samples).
    """
    npts = len(x)
    if q == 1:
        spec = scipy.fftpack.rfft(x)  # fftpack order: r0, r1, i1, r2, i2, ... (rn/2 last for even npts)
        x_r, x_i = np.empty(k), np.zeros(k)
        x_r[0] = spec[0]
        x_r[1:] = spec[1:2 * k - 1:2]
        imag = spec[2:2 * k:2]  # one short for an even npts at the top bin (obspy appends a zero there)
        x_i[1:1 + len(imag)] = imag
        return x_r, x_i
    m = npts // q
    sub = scipy.fft.rfft(x.reshape(m, q).T, axis=1)  # (q, m // 2 + 1): X^(p)_j
    h = min(k, sub.shape[1])
    w = _twiddles(npts, k)
    acc, turn = sub[0, :h].copy(), w[:h].copy()
    for p in range(1, q):
        acc += turn * sub[p, :h]
        turn *= w[:h]
    if k > h:  # bins past m / 2: X^(p)_j = conj(X^(p)_(m - j))
        j = np.arange(h, k)
        tail = np.conj(sub[:, m - j]) * np.exp(-2j * np.pi * np.outer(np.arange(q), j) / npts)
        acc = np.concatenate([acc, tail.sum(axis=0)])
    x_r, x_i = acc.real.copy(), acc.imag.copy()
    x_i[0] = 0.0
    return x_r, x_i


def fft_resample(data: np.ndarray, sampling_rate: float, new_rate: float, window="hann", *,
                 exact: bool = False) -> np.ndarray:
    """``data`` sampled at ``sampling_rate`` resampled to ``new_rate``: obspy's ``Trace.resample(no_filter=True)``.

    Args:
        data: 1-D samples (cast to float64, as obspy's FFT does).
        sampling_rate, new_rate: old and new rates in Hz.
        window: frequency-domain taper as obspy takes it: a ``scipy.signal.get_window`` name or
            tuple, a length-``npts`` array (``ifftshift``-ed), a callable of
            ``np.fft.fftfreq(npts)``, or ``None`` (plain truncation).
        exact: always take the FFT of the whole trace, as obspy (bit-identical output). By
            default a trace whose length has a factor ``q`` between 3 and the rate ratio (100 -> 20
            Hz: 5) gets its low spectrum from ``q`` shorter FFTs (:func:`_low_spectrum`): within
            1e-12 of obspy's output relative to its largest sample, ~2-3x faster on long traces.

    Returns:
        float64 array of ``int(npts / (sampling_rate / new_rate))`` samples (at least one).
    """
    x = np.asarray(data, dtype=np.float64)
    npts = len(x)
    factor = sampling_rate / float(new_rate)
    n_f = npts // 2 + 1
    num = int(npts / factor)
    if num == 0:
        warnings.warn("Resampled trace would have less than one sample. Retaining exactly one sample.")
        num = 1
    df = 1.0 / (npts * (1.0 / sampling_rate))
    d_large_f = 1.0 / num * new_rate
    n_large_f = num // 2 + 1
    large_f = d_large_f * np.arange(0, n_large_f, dtype=np.int32)
    # the bins np.interp reads for large_f (k <= top / df, two more for rounding); obspy keeps all n_f
    k = min(n_f, int(math.ceil(large_f[-1] / df)) + 2)
    w = _taper(window, npts)  # before the FFT: a wrong-shaped window is refused first, as in obspy
    x_r, x_i = _low_spectrum(x, k, 1 if exact else _phases(npts, k, factor))
    if w is not None:
        x_r *= w[:k]
        x_i *= w[:k]
    f = df * np.arange(0, k, dtype=np.int32)
    y_r, y_i = np.interp(large_f, f, x_r), np.interp(large_f, f, x_i)
    # fftpack order of the new spectrum: obspy's interleaved (r, i) pairs without i0 (and the top i of an even num)
    y = np.empty(num)
    y[0] = y_r[0]
    y[1::2] = y_r[1:1 + len(y[1::2])]
    y[2::2] = y_i[1:1 + len(y[2::2])]
    return scipy.fftpack.irfft(y) * (float(num) / float(npts))


def resample_trace(trace, sampling_rate: float, method: str, anti_alias: bool, window, interpolation: str,
                   corner: float):
    """A copy of ``trace`` at ``sampling_rate`` (the resampling of ``ingest.stream_to_windows``; scan uses it too)."""
    from obspy import Trace  # obspy (~0.5 s to import) only once a trace is resampled, as in data.ingest

    rate = trace.stats.sampling_rate
    if abs(rate - sampling_rate) < 1e-9 * sampling_rate:
        tr = trace.copy()
        tr.data = tr.data.astype(np.float64)
        return tr
    if method == "resample":
        tr = Trace(header=trace.stats.copy())  # the header only: fft_resample reads the data itself
        tr.data = fft_resample(trace.data, rate, sampling_rate, window)
        tr.stats.sampling_rate = sampling_rate
        return tr
    tr = trace.copy()
    tr.data = tr.data.astype(np.float64)
    if anti_alias and sampling_rate < rate:
        tr.filter("lowpass", freq=corner * sampling_rate / 2.0, corners=8, zerophase=True)
    extra = {"a": LANCZOS_A} if interpolation == "lanczos" else {}
    tr.interpolate(sampling_rate, method=interpolation, **extra)
    return tr


def resample_traces(traces, sampling_rate: float, method: str, anti_alias: bool, window, interpolation: str,
                    corner: float, *, workers: int | None = 1) -> list:
    """:func:`resample_trace` of each trace, in order, on up to ``workers`` threads (``None``: the CPUs).

    The traces are independent and each is computed by the same single-threaded code, so the
    result is the same as resampling them one after the other; under
    :data:`PARALLEL_MIN_SAMPLES` samples in all it is done so. The default is one thread: on the
    shared 2-core machine the pool was slower than one trace after the other (bench/scan.py, the
    three 6 h traces: 0.77x paired at load 4, 0.9x at load 3-8); opt in where cores are idle.
    """
    traces = list(traces)
    n = min(len(traces), workers or os.cpu_count() or 1)
    if n < 2 or sum(t.stats.npts for t in traces) < PARALLEL_MIN_SAMPLES:
        return [resample_trace(t, sampling_rate, method, anti_alias, window, interpolation, corner) for t in traces]
    with ThreadPoolExecutor(n, thread_name_prefix="resample") as pool:
        return list(pool.map(lambda t: resample_trace(t, sampling_rate, method, anti_alias, window, interpolation,
                                                      corner), traces))


__all__ = ["LANCZOS_A", "fft_resample", "resample_trace", "resample_traces"]
