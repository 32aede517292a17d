"""The noise and earthquake wavefield pieces every synthetic generator is built from.

All functions are vectorised over a batch and work in the frequency domain: white Gaussian
noise is shaped by a filter (``numpy.fft.rfft`` → multiply → ``irfft``), which gives
stationary noise with a chosen spectrum, or band-limited earthquake "carriers" that an
envelope then turns into phases with sharp onsets and an exponential coda.

Physical relations used (each one is a documented, replaceable function):

* Seismic moment ``M0 = 10**(1.5 Mw + 9.1)`` N·m (Hanks & Kanamori 1979).
* Brune (1970) corner frequency ``fc = 0.49 β (Δσ / M0)**(1/3)``.
* Velocity source spectrum ``f / (1 + (f / fc)**2)`` (omega-square model) times whole-path
  attenuation ``exp(-π f t*)``, ``t* = r / (Q β)``.
* Peak amplitude from local magnitude with the Hutton & Boore (1987) distance correction
  ``-log10 A0(r) = 1.11 log10(r / 100) + 0.00189 (r - 100) + 3.0``; amplitudes are in
  Wood-Anderson micrometres (arbitrary but consistent units).
* Signal duration from the duration magnitude of Lee et al. (1972),
  ``Md = -0.87 + 2 log10(τ) + 0.0035 Δ``.
"""
from __future__ import annotations

import numpy as np
import scipy.fft as sfft


def seismic_moment(magnitude: np.ndarray) -> np.ndarray:
    """Seismic moment in N·m from moment magnitude (Hanks & Kanamori 1979)."""
    return 10.0 ** (1.5 * np.asarray(magnitude, dtype=float) + 9.1)


def brune_corner_frequency(magnitude: np.ndarray, *, stress_drop_mpa: float = 3.0,
                           shear_velocity_km_s: float = 3.5) -> np.ndarray:
    """Brune (1970) corner frequency in Hz.

    Args:
        magnitude: moment magnitudes, any shape.
        stress_drop_mpa: static stress drop Δσ in MPa.
        shear_velocity_km_s: shear-wave velocity β at the source.

    Returns:
        Corner frequencies, same shape as ``magnitude``.
    """
    beta = shear_velocity_km_s * 1e3
    return 0.49 * beta * (stress_drop_mpa * 1e6 / seismic_moment(magnitude)) ** (1.0 / 3.0)


def local_magnitude_amplitude(magnitude: np.ndarray, hypocentral_km: np.ndarray) -> np.ndarray:
    """Peak amplitude (Wood-Anderson micrometres) of an event of local magnitude ``magnitude``.

    Inverts ``ML = log10 A + 1.11 log10(r/100) + 0.00189 (r - 100) + 3.0`` (Hutton & Boore 1987,
    A in mm) and converts to micrometres.
    """
    r = np.maximum(np.asarray(hypocentral_km, dtype=float), 1.0)
    log_a_mm = np.asarray(magnitude, dtype=float) - 3.0 - 1.11 * np.log10(r / 100.0) - 0.00189 * (r - 100.0)
    return 1e3 * 10.0 ** log_a_mm


def duration_seconds(magnitude: np.ndarray, epicentral_km: np.ndarray) -> np.ndarray:
    """Signal duration from the P onset to the end of the coda (Lee et al. 1972 duration magnitude)."""
    return 10.0 ** ((np.asarray(magnitude, dtype=float) + 0.87 - 0.0035 * np.asarray(epicentral_km)) / 2.0)


def frequencies(n_samples: int, sampling_rate: float) -> np.ndarray:
    """The ``rfft`` frequency axis in Hz for ``n_samples`` samples."""
    return np.fft.rfftfreq(n_samples, d=1.0 / sampling_rate)


def shape_white_noise(rng: np.random.Generator, amplitude_response: np.ndarray, n_samples: int,
                      gain: np.ndarray | None = None, batch_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Filter unit white noise by an amplitude response, normalised to unit expected RMS.

    Computed in single precision with ``scipy.fft`` (the generators' speed is set by these FFTs).

    Args:
        rng: random generator.
        amplitude_response: ``(..., F)`` real filter on the ``rfft`` axis of ``n_samples``
            (``F = n_samples // 2 + 1``); its leading dimensions must broadcast to the batch.
        n_samples: output length ``T``.
        gain: optional ``(..., F)`` response applied after the normalisation (so it changes
            only the bands where it differs from 1, e.g. a planted band gain).
        batch_shape: shape of the batch of independent noise series; default the leading
            dimensions of ``amplitude_response``.

    Returns:
        ``(*batch_shape, T)`` float32 noise whose expected RMS is 1 for every batch member
        before ``gain`` (Parseval on the filter, so one realisation's RMS scatters around 1).
    """
    h = np.asarray(amplitude_response, dtype=float)
    h = h / filter_rms(h, n_samples)[..., None]
    if gain is not None:
        h = h * gain
    shape = tuple(batch_shape) if batch_shape is not None else h.shape[:-1]
    white = rng.standard_normal(shape + (n_samples,), dtype=np.float32)
    spec = sfft.rfft(white, axis=-1)
    del white
    spec *= h.astype(np.float32)
    return sfft.irfft(spec, n=n_samples, axis=-1)


def filter_rms(h: np.ndarray, n_samples: int) -> np.ndarray:
    """Expected output RMS of unit white noise passed through the ``rfft`` amplitude response ``h``."""
    power = np.abs(h) ** 2
    full = 2.0 * power.sum(axis=-1) - power[..., 0]
    if n_samples % 2 == 0:
        full = full - power[..., -1]
    return np.sqrt(np.maximum(full / n_samples, 1e-300))


def coloured_response(freqs: np.ndarray, exponent: np.ndarray, f_min: float) -> np.ndarray:
    """Amplitude response of 1/f^exponent (power) noise, flat below ``f_min``.

    Args:
        freqs: ``(F,)`` frequency axis.
        exponent: ``(N,)`` power-law exponents of the power spectrum.
        f_min: low-frequency corner that keeps the noise from drifting.

    Returns:
        ``(N, F)`` amplitude response.
    """
    f = np.maximum(freqs, f_min)[None, :]
    h = f ** (-np.asarray(exponent, dtype=float)[:, None] / 2.0)
    h[:, 0] = 0.0  # no DC offset
    return h


def band_response(freqs: np.ndarray, low: np.ndarray, high: np.ndarray, taper_hz: float) -> np.ndarray:
    """A flat pass band ``[low, high]`` with raised-cosine tapers ``taper_hz`` wide outside it.

    Args:
        freqs: ``(F,)`` frequency axis.
        low: ``(N,)`` or scalar lower band edge (Hz).
        high: ``(N,)`` or scalar upper band edge (Hz).
        taper_hz: width of each cosine taper.

    Returns:
        ``(N, F)`` response between 0 and 1 (``(1, F)`` for scalar edges).
    """
    low = np.atleast_1d(np.asarray(low, dtype=float))[:, None]
    high = np.atleast_1d(np.asarray(high, dtype=float))[:, None]
    f = freqs[None, :]
    below = np.clip((f - (low - taper_hz)) / taper_hz, 0.0, 1.0)
    above = np.clip(((high + taper_hz) - f) / taper_hz, 0.0, 1.0)
    return 0.5 * (1 - np.cos(np.pi * below)) * 0.5 * (1 - np.cos(np.pi * above))


def gaussian_peak_response(freqs: np.ndarray, centre: np.ndarray, width: np.ndarray) -> np.ndarray:
    """``(N, F)`` amplitude response of a Gaussian spectral peak (a microseism band)."""
    centre = np.asarray(centre, dtype=float)[:, None]
    width = np.asarray(width, dtype=float)[:, None]
    return np.exp(-0.5 * ((freqs[None, :] - centre) / width) ** 2)


def brune_response(freqs: np.ndarray, corner_hz: np.ndarray, t_star: np.ndarray) -> np.ndarray:
    """``(N, F)`` velocity source spectrum ``f / (1 + (f/fc)^2)`` times ``exp(-π f t*)``."""
    fc = np.asarray(corner_hz, dtype=float)[:, None]
    ts = np.asarray(t_star, dtype=float)[:, None]
    f = freqs[None, :]
    return f / (1.0 + (f / fc) ** 2) * np.exp(-np.pi * f * ts)


def phase_envelope(n_samples: int, onset: np.ndarray, rise: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """Envelope of a seismic phase: zero before the onset, a fast rise, an exponential coda.

    ``e(t) = (1 - exp(-(t - t0) / rise)) * exp(-(t - t0) / decay)`` for ``t >= t0`` (samples),
    normalised so its maximum is 1.

    Args:
        n_samples: ``T``.
        onset: ``(N,)`` onset sample ``t0`` (float; the first non-zero sample is ``ceil(t0)``).
        rise: ``(N,)`` rise time in samples.
        decay: ``(N,)`` exponential decay time in samples.

    Returns:
        ``(N, T)`` float32 envelope.
    """
    onset = np.asarray(onset, dtype=float)[:, None]
    rise = np.maximum(np.asarray(rise, dtype=float), 1e-3)[:, None]
    decay = np.maximum(np.asarray(decay, dtype=float), 1e-3)[:, None]
    # peak of the product, at t* = rise * ln(1 + decay / rise)
    t_peak = rise * np.log1p(decay / rise)
    peak = (1.0 - np.exp(-t_peak / rise)) * np.exp(-t_peak / decay)
    t = np.arange(n_samples, dtype=np.float32)[None, :] - onset.astype(np.float32)
    tp = np.maximum(t, np.float32(0.0))
    env = (1.0 - np.exp(-tp / rise.astype(np.float32))) * np.exp(-tp / decay.astype(np.float32))
    env *= (1.0 / peak).astype(np.float32)
    env[t < 0] = 0.0
    return env


def gutenberg_richter(rng: np.random.Generator, n: int, low: float, high: float, b_value: float) -> np.ndarray:
    """``n`` magnitudes from a Gutenberg–Richter law truncated to ``[low, high]`` (inverse CDF).

    ``b_value = 0`` gives magnitudes uniform in ``[low, high]``.
    """
    beta = b_value * np.log(10.0)
    u = rng.random(n)
    if beta == 0.0:
        return low + u * (high - low)
    span = 1.0 - np.exp(-beta * (high - low))
    return low - np.log1p(-u * span) / beta
