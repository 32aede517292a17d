"""Seismic background noise as real stations record it: Peterson-bounded, coloured, non-stationary.

Every realistic detector window's ground motion noise is drawn here (ground velocity, m/s;
:mod:`seis_keras.data.synthetic.instruments` then records it). What is planted, per window:

* **Spectrum between Peterson's models.** The acceleration PSD (dB rel. 1 (m/s²)²/Hz) of each
  component lies between the New Low and New High Noise Models of Peterson (1993, USGS OFR
  93-322; :func:`obspy.signal.spectral_estimation.get_nlnm` / ``get_nhnm``): at every
  frequency ``PSD = NLNM + w(f) (NHNM − NLNM)`` with the position ``w`` interpolated (in
  log f) between values drawn at ``knots_hz``: a window-wide level uniform in ``level_range``
  plus an independent scatter ``shape_sigma`` per knot, so the spectral *shape* varies from
  window to window (a quiet microseism under loud cultural noise, or the reverse), not one
  power law. Horizontal components get ``horizontal_long_period_db`` more noise below 0.1 Hz
  (tilt; Peterson 1993, Wielandt & Forbriger 1999) and every component a ±``component_scatter_db``
  level offset. The final PSD is clipped into [NLNM, NHNM].
* **Day/night variation.** Cultural noise above ~1 Hz is louder by day (McNamara & Buland 2004,
  BSSA 94: 10–15 dB at urban sites; Groos & Ritter 2009): a gain of ``day_night_db`` (drawn
  per station) times a diurnal profile ``(1 − cos(2π (h − day_peak_hour + 12) / 24)) / 2`` of
  the window's local hour ``h`` is added above 1 Hz (a smooth step from 0.5 to 2 Hz).
* **Cultural lines.** With ``line_probability``, 1 to ``lines_max`` narrow spectral peaks
  (pumps, generators, turbines; Gaussian, ``line_width_hz``) between ``line_hz`` 1–9.5 Hz,
  ``line_db`` above the background PSD there (then clipped at NHNM).
* **Non-stationarity.** With ``modulation_probability`` the noise amplitude is modulated by
  ``exp(σ m(t))``, ``m`` a smooth unit-variance Gaussian process (correlation time
  ``modulation_time_s``), σ uniform in ``modulation_sigma``; normalised to unit mean power.
* **Bursts.** With ``burst_probability``, 1 to ``bursts_max`` emergent, band-limited noise bursts
  (traffic, footsteps, wind gusts): Gaussian envelopes of duration ``burst_duration_s`` around a
  random time, a band centred uniform in ``burst_hz`` one octave wide, random polarisation,
  peak envelope ``burst_amplitude`` times the window's noise RMS above 1 Hz. They have no P/S pair,
  no impulsive onset and no coda: what separates them from the earthquakes of the paper's
  positive class.

No earthquake energy is put into noise windows (no distant-event or coda tails): the paper's
positive class holds "local, regional, and teleseismic events" (Majstorović et al. 2023, §4),
so such a window would be an earthquake under its labelling.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import scipy.fft as sfft
from obspy.signal.spectral_estimation import get_nhnm, get_nlnm

from seis_keras.data.synthetic import wavefield as wf


@dataclasses.dataclass(frozen=True)
class NoiseSettings:
    """The noise population (defaults documented per field; references in the module docstring).

    Attributes:
        knots_hz: frequencies where the position between NLNM and NHNM is drawn
            ((0.04, 0.12, 0.3, 1, 3, 10) Hz).
        level_range: range of the window-wide position (0 = NLNM, 1 = NHNM), uniform ((0.1, 0.85)).
        shape_sigma: standard deviation of each knot's position about that level (0.15).
        horizontal_long_period_db: range of the extra E/N noise below 0.1 Hz ((0, 10) dB).
        component_scatter_db: standard deviation of a per-component level offset (2 dB).
        day_night_db: range of the daytime gain of the noise above 1 Hz, per station ((0, 15) dB).
        day_peak_hour: local hour of the loudest cultural noise (13).
        line_probability: chance that a window holds cultural lines (0.3).
        lines_max: most lines in one window (3).
        line_hz: range of the line frequencies ((1.0, 9.5) Hz).
        line_width_hz: range of the lines' Gaussian half-widths ((0.02, 0.1) Hz).
        line_db: range of a line's height above the background PSD ((6, 20) dB).
        modulation_probability: chance of amplitude modulation (0.5).
        modulation_sigma: range of σ of the log-amplitude modulation ((0.1, 0.7)).
        modulation_time_s: range of its correlation time ((1, 8) s).
        burst_probability: chance that a window holds noise bursts (0.15).
        bursts_max: most bursts in one window (3).
        burst_duration_s: range of a burst's Gaussian envelope standard deviation ((1, 5) s: a
            vehicle or a gust rises and fades over 4–20 s).
        burst_hz: range of a burst's centre frequency ((1, 8) Hz).
        burst_amplitude: range of the burst peak / noise RMS, log-uniform ((1.5, 5)).
    """

    knots_hz: tuple[float, ...] = (0.04, 0.12, 0.3, 1.0, 3.0, 10.0)
    level_range: tuple[float, float] = (0.1, 0.85)
    shape_sigma: float = 0.15
    horizontal_long_period_db: tuple[float, float] = (0.0, 10.0)
    component_scatter_db: float = 2.0
    day_night_db: tuple[float, float] = (0.0, 15.0)
    day_peak_hour: float = 13.0
    line_probability: float = 0.3
    lines_max: int = 3
    line_hz: tuple[float, float] = (1.0, 9.5)
    line_width_hz: tuple[float, float] = (0.02, 0.1)
    line_db: tuple[float, float] = (6.0, 20.0)
    modulation_probability: float = 0.5
    modulation_sigma: tuple[float, float] = (0.1, 0.7)
    modulation_time_s: tuple[float, float] = (1.0, 8.0)
    burst_probability: float = 0.15
    bursts_max: int = 3
    burst_duration_s: tuple[float, float] = (1.0, 5.0)
    burst_hz: tuple[float, float] = (1.0, 8.0)
    burst_amplitude: tuple[float, float] = (1.5, 5.0)


@functools.lru_cache(maxsize=16)
def _peterson_db(n_samples: int, sampling_rate: float) -> tuple[np.ndarray, np.ndarray]:
    freqs = wf.frequencies(n_samples, sampling_rate)
    out = []
    for model in (get_nlnm, get_nhnm):
        periods, db = model()
        order = np.argsort(periods)
        f = np.maximum(freqs, 1e-9)
        out.append(np.interp(np.log10(1.0 / f), np.log10(periods[order]), db[order]))
    return out[0], out[1]


def peterson_bounds(n_samples: int, sampling_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """NLNM and NHNM (dB rel. 1 (m/s²)²/Hz) on the ``rfft`` axis; outside 0.1–1e5 s the end values."""
    lo, hi = _peterson_db(n_samples, float(sampling_rate))
    return lo.copy(), hi.copy()


def diurnal_profile(hour: np.ndarray, peak_hour: float) -> np.ndarray:
    """0 at ``peak_hour − 12``, 1 at ``peak_hour``: ``(1 − cos(2π (h − peak + 12) / 24)) / 2``."""
    return 0.5 * (1.0 - np.cos(2 * np.pi * (np.asarray(hour, float) - peak_hour + 12.0) / 24.0))


def noise_psd_db(rng: np.random.Generator, n: int, n_samples: int, sampling_rate: float, local_hour: np.ndarray,
                 settings: NoiseSettings, n_channels: int = 3) -> tuple[np.ndarray, dict]:
    """Acceleration PSDs ``(n, C, F)`` in dB between NLNM and NHNM, and their ground truth.

    Args:
        rng: random generator.
        n: windows.
        n_samples: window length ``T`` (``F = T // 2 + 1``).
        sampling_rate: Hz.
        local_hour: ``(n,)`` local time of day of each window (0–24).
        settings: the noise settings.
        n_channels: components (the last is the vertical).

    Returns:
        ``(psd_db, truth)``; ``truth`` holds ``position_microseism`` and ``position_cultural``
        (mean position between NLNM and NHNM over 0.1–0.5 Hz and 1–8 Hz, vertical component,
        after the clipping), ``day_gain_db`` (the gain added above 1 Hz at that hour),
        ``day_night_db`` (the station's full day/night contrast), ``lines_hz`` (list of arrays).
    """
    s = settings
    freqs = wf.frequencies(n_samples, sampling_rate)
    nlnm, nhnm = peterson_bounds(n_samples, sampling_rate)
    span = nhnm - nlnm
    logf = np.log10(np.maximum(freqs, freqs[1] if len(freqs) > 1 else 1.0))
    knots = np.log10(np.asarray(s.knots_hz, float))
    level = rng.uniform(*s.level_range, n)
    kv = np.clip(level[:, None, None] + s.shape_sigma * rng.standard_normal((n, n_channels, len(knots))), 0.0, 1.0)
    # linear interpolation in log f between the knots, vectorised: weights (F, K)
    idx = np.clip(np.searchsorted(knots, logf) - 1, 0, len(knots) - 2)
    t = np.clip((logf - knots[idx]) / (knots[idx + 1] - knots[idx]), 0.0, 1.0)
    pos = kv[..., idx] * (1 - t) + kv[..., idx + 1] * t  # (n, C, F)
    db = nlnm + pos * span
    contrast = rng.uniform(*s.day_night_db, n)
    day_gain = contrast * diurnal_profile(local_hour, s.day_peak_hour)
    step = np.clip((logf - np.log10(0.5)) / (np.log10(2.0) - np.log10(0.5)), 0.0, 1.0)
    step = 0.5 * (1 - np.cos(np.pi * step))
    db = db + day_gain[:, None, None] * step
    lp = (freqs < 0.1).astype(float)
    extra = rng.uniform(*s.horizontal_long_period_db, (n, n_channels))
    extra[:, -1] = 0.0  # the vertical has no tilt noise
    db = db + extra[..., None] * lp + s.component_scatter_db * rng.standard_normal((n, n_channels, 1))
    lines = [np.zeros(0)] * n
    has = rng.random(n) < s.line_probability
    count = rng.integers(1, s.lines_max + 1, n)
    for i in np.flatnonzero(has):
        f_l = rng.uniform(*s.line_hz, count[i])
        width = rng.uniform(*s.line_width_hz, count[i])
        height = rng.uniform(*s.line_db, count[i])
        lines[i] = f_l
        bump = np.zeros_like(freqs)
        for fl, wd, hd in zip(f_l, width, height):
            bump += (10 ** (hd / 10) - 1) * np.exp(-0.5 * ((freqs - fl) / wd) ** 2)
        db[i] = 10 * np.log10(10 ** (db[i] / 10) * (1 + bump))
    db = np.clip(db, nlnm, nhnm)
    z = (db[:, -1] - nlnm) / span
    micro, cultural = (freqs >= 0.1) & (freqs <= 0.5), (freqs >= 1.0) & (freqs <= 8.0)
    truth = {"position_microseism": z[:, micro].mean(axis=1), "position_cultural": z[:, cultural].mean(axis=1),
             "day_gain_db": day_gain, "day_night_db": contrast, "lines_hz": lines}
    return db, truth


def velocity_amplitude(psd_db: np.ndarray, n_samples: int, sampling_rate: float) -> np.ndarray:
    """``rfft`` amplitude that shapes unit white noise into ground velocity with PSD ``psd_db``.

    One-sided acceleration PSD ``S_a = 10^(dB/10)`` → velocity ``S_v = S_a / (2πf)²``; unit white
    noise has ``E|rfft|² = T``, so multiplying its ``rfft`` by ``sqrt(S_v fs / 2)`` gives a series
    whose one-sided PSD is ``S_v`` (``var = S fs / 2`` for a white PSD ``S``). DC is zero.
    """
    freqs = wf.frequencies(n_samples, sampling_rate)
    w = 2 * np.pi * np.maximum(freqs, 1e-12)
    amp = np.sqrt(10 ** (psd_db / 10) * sampling_rate / 2.0) / w
    amp[..., 0] = 0.0
    return amp


def modulation_envelopes(rng: np.random.Generator, n: int, n_samples: int, sampling_rate: float,
                         settings: NoiseSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(n, T)`` positive envelopes of unit mean power (ones where not modulated) and their σ."""
    s = settings
    sigma = np.where(rng.random(n) < s.modulation_probability, rng.uniform(*s.modulation_sigma, n), 0.0)
    tau = rng.uniform(*s.modulation_time_s, n)
    freqs = wf.frequencies(n_samples, sampling_rate)
    h = np.exp(-0.5 * (freqs[None, :] * tau[:, None] * 2.0) ** 2)  # Gaussian low-pass ~ 1 / (2τ)
    h[:, 0] = 0.0
    m = wf.shape_white_noise(rng, h, n_samples)  # unit expected RMS
    m /= np.maximum(m.std(axis=1, keepdims=True), 1e-6)
    env = np.exp(sigma[:, None] * m)
    env /= np.sqrt((env ** 2).mean(axis=1, keepdims=True))
    return env.astype(np.float32), sigma


def noise_bursts(rng: np.random.Generator, n: int, n_samples: int, sampling_rate: float, noise_rms: np.ndarray,
                 response: np.ndarray, settings: NoiseSettings, n_channels: int = 3) -> tuple[np.ndarray | None, dict]:
    """Emergent band-limited bursts ``(n, T, C)`` in recorded units (``None`` if no window has one).

    Args:
        rng: random generator.
        n, n_samples, sampling_rate: windows, samples, Hz.
        noise_rms: ``(n,)`` RMS of each window's recorded noise in the bursts' band (their peaks
            are relative to it; the realistic windows pass the RMS above 1 Hz).
        response: ``(n, F)`` amplitude response of the recording (shapes the burst band).
        settings: noise settings.
        n_channels: components.

    Returns:
        ``(bursts, truth)``; ``truth``: ``n_bursts``, ``burst_sample`` (first burst centre, NaN
        if none), ``burst_amplitude`` (largest peak / noise RMS, NaN if none).
    """
    s = settings
    has = rng.random(n) < s.burst_probability
    count = np.where(has, rng.integers(1, s.bursts_max + 1, n), 0)
    first = np.full(n, np.nan)
    peak = np.full(n, np.nan)
    rows = np.flatnonzero(count)
    if len(rows) == 0:
        return None, {"n_bursts": count, "burst_sample": first, "burst_amplitude": peak}
    freqs = wf.frequencies(n_samples, sampling_rate)
    t = np.arange(n_samples, dtype=np.float32)
    out = np.zeros((n, n_samples, n_channels), np.float32)
    for i in rows:
        k = count[i]
        fc = rng.uniform(*s.burst_hz, k)
        h = np.exp(-0.5 * ((np.log2(np.maximum(freqs, 1e-3))[None, :] - np.log2(fc)[:, None]) / 0.5) ** 2)
        h = h * np.abs(response[i])[None, :]
        h[:, 0] = 0.0
        carrier = wf.shape_white_noise(rng, h[:, None, :], n_samples, batch_shape=(k, n_channels))  # (k, C, T)
        centre = rng.uniform(0, n_samples, k)
        dur = rng.uniform(*s.burst_duration_s, k) * sampling_rate
        amp = np.exp(rng.uniform(*np.log(s.burst_amplitude), k)) * noise_rms[i]
        pol = rng.standard_normal((k, n_channels))
        pol /= np.linalg.norm(pol, axis=1, keepdims=True)
        env = np.exp(-0.5 * ((t[None, :] - centre[:, None]) / dur[:, None]) ** 2)  # (k, T)
        # the envelope's peak times a unit-RMS carrier on the dominant component ~ amp
        out[i] = np.einsum("kt,kc,kct->tc", env * amp[:, None], pol / np.abs(pol).max(axis=1, keepdims=True), carrier)
        first[i] = centre[np.argmin(centre)]
        peak[i] = amp.max() / noise_rms[i]
    return out, {"n_bursts": count, "burst_sample": first, "burst_amplitude": peak}


def ground_noise(rng: np.random.Generator, n: int, n_samples: int, sampling_rate: float, local_hour: np.ndarray,
                 settings: NoiseSettings, response: np.ndarray, n_channels: int = 3) -> tuple[np.ndarray, dict]:
    """Ground noise recorded through ``response``: ``(n, T, C)`` float32, and its ground truth.

    Args:
        rng: random generator.
        n, n_samples, sampling_rate: windows, samples, Hz.
        local_hour: ``(n,)`` local hours.
        settings: noise settings.
        response: ``(n, F)`` complex response (counts per m/s, decimation filter included).
        n_channels: components.

    Returns:
        ``(noise, truth)``: modulated stationary noise (no bursts); ``truth`` = the keys of
        :func:`noise_psd_db` plus ``modulation_sigma``.
    """
    psd, truth = noise_psd_db(rng, n, n_samples, sampling_rate, local_hour, settings, n_channels)
    h = (velocity_amplitude(psd, n_samples, sampling_rate) * response[:, None, :]).astype(np.complex64)
    white = rng.standard_normal((n, n_channels, n_samples), dtype=np.float32)
    spec = sfft.rfft(white, axis=-1)
    spec *= h
    noise = sfft.irfft(spec, n=n_samples, axis=-1)  # (n, C, T)
    env, sigma = modulation_envelopes(rng, n, n_samples, sampling_rate, settings)
    noise *= env[:, None, :]
    truth["modulation_sigma"] = sigma
    return np.ascontiguousarray(np.transpose(noise, (0, 2, 1))), truth
