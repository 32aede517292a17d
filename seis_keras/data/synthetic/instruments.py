"""Recording instruments of the realistic detector windows: sensor, digitiser, decimation filter.

Real detector training sets mix stations (AQULO is one broadband station, but the records a
trained detector meets come from broadband, short-period and strong-motion channels). The
sensor's response changes the spectral shape a window has after max normalisation, so each
window is "recorded" by one of three families, drawn with ``family_probabilities``:

* ``broadband`` (channel code ``HH``): a velocity seismometer flat from its long-period corner
  ``T0`` (log-uniform in ``broadband_period_s``, 20–360 s: Trillium Compact … STS-1) to well
  above 10 Hz; poles and zeros of a damped pendulum from
  :func:`obspy.signal.invsim.corn_freq_2_paz` (two zeros at 0, damping 0.707 as STS-2 /
  Trillium nominal responses). Sensitivity log-uniform in ``broadband_counts_per_m_s``
  (STS-2 1500 V/(m/s) or Trillium 120 1200 V/(m/s) on a Q330 at 4.2e5 counts/V ≈ 5e8–6e8).
* ``short_period`` (``EH``): a 1–2 Hz geophone (Mark L-4C 1 Hz, L-22 2 Hz), velocity flat above
  its natural frequency ``f0`` (log-uniform in ``geophone_hz``), falling as f² below it,
  damping uniform in ``geophone_damping`` (0.5–0.8; real geophones are shunted to 0.6–0.7),
  again :func:`corn_freq_2_paz`. Sensitivity log-uniform in ``geophone_counts_per_m_s``
  (L-4C 276 V/(m/s) or L-22 88 V/(m/s) behind a preamplifier on a 24-bit digitiser ≈ 1e8–1e9:
  ground noise, not the digitiser floor, dominates short-period records).
* ``strong_motion`` (``HN``): a force-balance accelerometer (Kinemetrics EpiSensor), output
  proportional to ground acceleration (one zero at 0 on velocity input) up to a two-pole
  corner at ``accelerometer_corner_hz`` (50–200 Hz, far above our 10 Hz Nyquist).
  Sensitivity log-uniform in ``accelerometer_counts_per_m_s2`` (EpiSensor 2.5–20 V/g on a
  4e5 counts/V digitiser ≈ 1e5–8e5 counts/(m/s²)).

Every record then carries the digitiser's own noise (white, ``self_noise_counts`` RMS, the
quantisation and electronic floor of a 24-bit digitiser, ~1 count), a DC offset per component
(log-uniform ``dc_offset_noise_ratio`` times the noise RMS, random sign: raw counts are never
centred), with ``drift_probability`` a linear drift (``drift_noise_ratio`` times the noise RMS
from end to end) and the zero-phase low-pass of the decimation to 20 Hz (squared Butterworth, order
``anti_alias_order``, corner uniform in ``anti_alias_hz``; as ``filtfilt``). Because the
sensitivities are physical, the balance of ground noise against the digitiser floor is too:
an accelerometer at a quiet site records almost only its white floor, a broadband station
records ground noise hundreds of counts above it — as in real records.

Responses are evaluated from the poles and zeros in one vectorised product
(:func:`paz_response`), equal to :func:`obspy.signal.invsim.paz_to_freq_resp` (tested).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from obspy.signal.invsim import corn_freq_2_paz

FAMILIES = ("broadband", "short_period", "strong_motion")
#: SEED band + instrument codes of each family (100 Hz records decimated to 20 Hz keep them).
CHANNEL_CODES = {"broadband": "HH", "short_period": "EH", "strong_motion": "HN"}


@dataclasses.dataclass(frozen=True)
class InstrumentSettings:
    """The instrument population (defaults documented per field; references in the module docstring).

    Attributes:
        family_probabilities: chance of broadband, short-period, strong-motion ((1/3, 1/3, 1/3):
            no family favoured; not taken from any evaluation set).
        broadband_period_s: range of the broadband long-period corner, log-uniform ((20, 360) s).
        broadband_counts_per_m_s: broadband sensitivity range, log-uniform ((2e8, 2e9)).
        geophone_hz: geophone natural frequency range, log-uniform ((1.0, 2.0) Hz).
        geophone_damping: geophone damping range, uniform ((0.5, 0.8)).
        geophone_counts_per_m_s: geophone sensitivity range, log-uniform ((1e8, 1e9)).
        accelerometer_corner_hz: accelerometer corner range, log-uniform ((50, 200) Hz).
        accelerometer_counts_per_m_s2: accelerometer sensitivity range, log-uniform ((1e5, 1e6)).
        self_noise_counts: digitiser floor RMS range, log-uniform ((0.3, 3.0) counts).
        dc_offset_noise_ratio: DC offset / noise RMS range, log-uniform ((0.1, 1000)).
        drift_probability: chance of a linear drift across the window (0.3; thermal or mass drift).
        drift_noise_ratio: range of the drift's end-to-end change / noise RMS, log-uniform ((0.3, 5)).
        anti_alias_hz: decimation low-pass corner range, uniform ((7.0, 9.5) Hz).
        anti_alias_order: Butterworth order of the decimation low-pass (6; applied forward and
            backward, so the amplitude is squared).
    """

    family_probabilities: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    broadband_period_s: tuple[float, float] = (20.0, 360.0)
    broadband_counts_per_m_s: tuple[float, float] = (2e8, 2e9)
    geophone_hz: tuple[float, float] = (1.0, 2.0)
    geophone_damping: tuple[float, float] = (0.5, 0.8)
    geophone_counts_per_m_s: tuple[float, float] = (1e8, 1e9)
    accelerometer_corner_hz: tuple[float, float] = (50.0, 200.0)
    accelerometer_counts_per_m_s2: tuple[float, float] = (1e5, 1e6)
    self_noise_counts: tuple[float, float] = (0.3, 3.0)
    dc_offset_noise_ratio: tuple[float, float] = (0.1, 1000.0)
    drift_probability: float = 0.3
    drift_noise_ratio: tuple[float, float] = (0.3, 5.0)
    anti_alias_hz: tuple[float, float] = (7.0, 9.5)
    anti_alias_order: int = 6

    def __post_init__(self):
        p = np.asarray(self.family_probabilities, float)
        if p.shape != (3,) or (p < 0).any() or not np.isclose(p.sum(), 1.0):
            raise ValueError(f"InstrumentSettings.family_probabilities={self.family_probabilities} "
                             "(expected 3 non-negative numbers summing to 1)")


def log_uniform(rng: np.random.Generator, bounds: tuple[float, float], n: int) -> np.ndarray:
    """``n`` draws uniform in ``log`` between ``bounds`` (equal bounds give a constant)."""
    lo, hi = np.log(bounds[0]), np.log(bounds[1])
    return np.exp(rng.uniform(lo, hi, n)) if hi > lo else np.full(n, float(bounds[0]))


def paz_response(poles: np.ndarray, zeros: np.ndarray, gain: np.ndarray, freqs: np.ndarray,
                 n_zeros: np.ndarray | None = None) -> np.ndarray:
    """Complex response ``gain · Π(s − z) / Π(s − p)``, ``s = 2πif``, of many instruments at once.

    Args:
        poles: ``(N, P)`` complex poles (rad/s).
        zeros: ``(N, Z)`` complex zeros (rad/s).
        gain: ``(N,)`` scale factor (A0 times sensitivity).
        freqs: ``(F,)`` frequencies in Hz.
        n_zeros: ``(N,)`` how many of the ``Z`` zeros each row uses (default all).

    Returns:
        ``(N, F)`` complex128: what :func:`obspy.signal.invsim.paz_to_freq_resp` gives for each row.
    """
    zeros = np.asarray(zeros, complex)
    s = 2j * np.pi * np.asarray(freqs, float)[None, :, None]
    factors = s - zeros[:, None, :]
    if n_zeros is not None:
        used = np.arange(zeros.shape[1])[None, :] < np.asarray(n_zeros)[:, None]
        factors = np.where(used[:, None, :], factors, 1.0)
    num = np.prod(factors, axis=-1)
    den = np.prod(s - np.asarray(poles)[:, None, :], axis=-1)
    return np.asarray(gain, float)[:, None] * num / den


def draw_instruments(rng: np.random.Generator, n: int, settings: InstrumentSettings) -> dict:
    """Draw ``n`` instruments: family, poles/zeros and sensitivity (response to ground velocity).

    Returns:
        dict of ``(n,)`` arrays: ``family`` (str), ``channel`` (``HH``/``EH``/``HN``),
        ``corner_hz`` (long-period corner, geophone natural frequency, or accelerometer
        corner), ``damping``, ``sensitivity`` (counts per m/s, or per m/s² for strong motion),
        ``poles`` ``(n, 2)`` and ``zeros`` ``(n, 2)`` complex (unused zeros are NaN-free zeros
        at 0 of a cancelling pole-free form: accelerometers carry one zero), ``scale`` (the
        PAZ scale factor on velocity input, sensitivity included), ``self_noise_counts``,
        ``anti_alias_hz``.
    """
    s = settings
    fam = rng.choice(3, n, p=np.asarray(s.family_probabilities, float))
    u = rng.random((n, 3))  # one uniform per parameter, drawn for every row (fixed consumption)
    corner = np.empty(n)
    damping = np.full(n, 0.707)
    sens = np.empty(n)

    def lu(bounds, x):
        return np.exp(np.log(bounds[0]) + x * (np.log(bounds[1]) - np.log(bounds[0])))

    bb, sp, sm = fam == 0, fam == 1, fam == 2
    corner[bb] = 1.0 / lu(s.broadband_period_s, u[bb, 0])
    sens[bb] = lu(s.broadband_counts_per_m_s, u[bb, 1])
    corner[sp] = lu(s.geophone_hz, u[sp, 0])
    damping[sp] = s.geophone_damping[0] + u[sp, 2] * (s.geophone_damping[1] - s.geophone_damping[0])
    sens[sp] = lu(s.geophone_counts_per_m_s, u[sp, 1])
    corner[sm] = lu(s.accelerometer_corner_hz, u[sm, 0])
    sens[sm] = lu(s.accelerometer_counts_per_m_s2, u[sm, 1])
    poles = np.empty((n, 2), complex)
    zeros = np.zeros((n, 2), complex)
    for i in range(n):  # obspy's pendulum poles (a few µs each)
        poles[i] = corn_freq_2_paz(float(corner[i]), damp=float(damping[i]))["poles"]
    # velocity sensors: s² / (s² + 2hω0 s + ω0²), flat (1) above the corner, times the sensitivity;
    # accelerometer on velocity input: s · ωc² / (s² + 2hωc s + ωc²) ≈ s (acceleration) below ωc
    n_zeros = np.where(sm, 1, 2)
    scale = np.where(sm, sens * (2 * np.pi * corner) ** 2, sens)
    names = np.asarray(FAMILIES)[fam]
    return {"family": names, "channel": np.vectorize(CHANNEL_CODES.get)(names) if n else names,
            "corner_hz": corner, "damping": damping, "sensitivity": sens, "poles": poles, "zeros": zeros,
            "n_zeros": n_zeros, "scale": scale, "self_noise_counts": log_uniform(rng, s.self_noise_counts, n),
            "anti_alias_hz": rng.uniform(*s.anti_alias_hz, n)}


def instrument_response(instruments: dict, freqs: np.ndarray) -> np.ndarray:
    """``(n, F)`` complex response in counts per (m/s) of ground velocity (sensor and digitiser)."""
    return paz_response(instruments["poles"], instruments["zeros"], instruments["scale"], freqs,
                        instruments["n_zeros"])


def anti_alias_response(corner_hz: np.ndarray, freqs: np.ndarray, order: int) -> np.ndarray:
    """``(n, F)`` zero-phase amplitude ``1 / (1 + (f/fc)^(2·order))`` (Butterworth, forward-backward)."""
    f = np.asarray(freqs, float)[None, :] / np.asarray(corner_hz, float)[:, None]
    return 1.0 / (1.0 + f ** (2 * order))
