"""The physics of the detector windows (Majstorović et al. 2023 setting), shared by generators.

``DetectorPhysics`` holds the source, path and (clean) noise settings; ``background_noise`` is
the stationary coloured noise + microseism of the clean generator (also used by the Norcia and
continuous-record generators), ``earthquake_signals`` the P, S and coda of local earthquakes
(also used by the realistic windows of :mod:`seis_keras.data.synthetic.realistic`), and
``add_glitches`` the clean generator's spikes. The physical relations are documented in
:mod:`seis_keras.data.synthetic.detector` and :mod:`seis_keras.data.synthetic.wavefield`.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.data.synthetic import wavefield as wf


@dataclasses.dataclass(frozen=True)
class DetectorPhysics:
    """Every physical setting of the detector generators (defaults documented per field).

    Attributes:
        vp_km_s: P velocity (6.0, crustal average).
        vs_km_s: S velocity (3.5).
        q: whole-path quality factor for ``t* = r / (Q Vs)`` (300).
        stress_drop_mpa: Brune stress drop (3 MPa).
        magnitude_range: ``(min, max)`` magnitudes (0.5, 4.0).
        b_value: Gutenberg–Richter b (1.0).
        distance_range_km: epicentral distances (5, 110); 110 km keeps S inside 25 s.
        depth_range_km: hypocentral depths (5, 15).
        p_to_s_ratio: range of the P/S direct-wave amplitude ratio ((0.2, 0.5)).
        incidence_deg: range of P incidence angles at the surface ((15, 35)).
        coda_fraction: amplitude of the scattered coda relative to the direct phase (0.6).
        noise_rms_um: median noise RMS in the amplitude units (1.0 µm).
        noise_rms_log10_sigma: log10 scatter of the noise RMS between windows (0.25).
        noise_exponent: range of α in power ∝ 1/f^α ((0.5, 1.5)).
        noise_f_min: Hz below which the coloured noise is flat (0.05).
        microseism_hz: range of the microseism peak frequency ((0.1, 0.3)).
        microseism_width_hz: Gaussian half-width of the microseism peak (0.03).
        microseism_ratio: range of microseism RMS relative to the coloured noise ((0.5, 2.0)).
        glitch_probability: chance that a window carries one spike/boxcar glitch (0.05).
        glitch_amplitude: range of the glitch height in noise RMS ((5, 50)).
        p_first_s: earliest P position in the window, seconds (1.0).
        s_margin_s: time kept after S inside the window, seconds (2.0).
    """

    vp_km_s: float = 6.0
    vs_km_s: float = 3.5
    q: float = 300.0
    stress_drop_mpa: float = 3.0
    magnitude_range: tuple[float, float] = (0.5, 4.0)
    b_value: float = 1.0
    distance_range_km: tuple[float, float] = (5.0, 110.0)
    depth_range_km: tuple[float, float] = (5.0, 15.0)
    p_to_s_ratio: tuple[float, float] = (0.2, 0.5)
    incidence_deg: tuple[float, float] = (15.0, 35.0)
    coda_fraction: float = 0.6
    noise_rms_um: float = 1.0
    noise_rms_log10_sigma: float = 0.25
    noise_exponent: tuple[float, float] = (0.5, 1.5)
    noise_f_min: float = 0.05
    microseism_hz: tuple[float, float] = (0.1, 0.3)
    microseism_width_hz: float = 0.03
    microseism_ratio: tuple[float, float] = (0.5, 2.0)
    glitch_probability: float = 0.05
    glitch_amplitude: tuple[float, float] = (5.0, 50.0)
    p_first_s: float = 1.0
    s_margin_s: float = 2.0


def background_noise(rng: np.random.Generator, n: int, n_samples: int, sampling_rate: float,
                     physics: DetectorPhysics, n_channels: int = 3) -> tuple[np.ndarray, dict]:
    """Coloured noise plus a microseism peak, ``(n, T, C)``, and its ground truth per window.

    Returns:
        ``(noise, truth)``; ``truth`` holds ``noise_rms``, ``noise_exponent``,
        ``microseism_frequency_hz`` arrays of length ``n``.
    """
    p = physics
    freqs = wf.frequencies(n_samples, sampling_rate)
    alpha = rng.uniform(*p.noise_exponent, n)
    f_micro = rng.uniform(*p.microseism_hz, n)
    ratio = rng.uniform(*p.microseism_ratio, n)
    rms = p.noise_rms_um * 10.0 ** (p.noise_rms_log10_sigma * rng.standard_normal(n))
    col = wf.coloured_response(freqs, alpha, p.noise_f_min)
    mic = wf.gaussian_peak_response(freqs, f_micro, np.full(n, p.microseism_width_hz))
    h = (col / wf.filter_rms(col, n_samples)[:, None]
         + ratio[:, None] * mic / wf.filter_rms(mic, n_samples)[:, None])
    noise = wf.shape_white_noise(rng, h[:, None, :], n_samples, batch_shape=(n, n_channels))
    noise *= rms[:, None, None]
    truth = {"noise_rms": rms, "noise_exponent": alpha, "microseism_frequency_hz": f_micro}
    return np.transpose(noise, (0, 2, 1)), truth


def earthquake_signals(rng: np.random.Generator, n_samples: int, sampling_rate: float,
                       p_sample: np.ndarray, magnitude: np.ndarray, distance_km: np.ndarray,
                       depth_km: np.ndarray, noise_rms: np.ndarray,
                       physics: DetectorPhysics, band_gain: np.ndarray | None = None,
                       coda_decay_s: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """P, S and coda of ``n`` earthquakes (no noise), ``(n, T, 3)`` in E, N, Z.

    Args:
        rng: random generator.
        n_samples: window length ``T``.
        sampling_rate: Hz.
        p_sample: ``(n,)`` P onset sample (may be fractional).
        magnitude, distance_km, depth_km: ``(n,)`` source magnitude, epicentral distance, depth.
        noise_rms: ``(n,)`` noise level the coda decays into (defines ``coda_end_sample``).
        physics: settings.
        band_gain: optional ``(n, F)`` amplitude response on the ``rfft`` axis multiplied into
            every carrier after its unit-RMS normalisation (the Norcia planted band change).
        coda_decay_s: optional ``(n,)`` e-folding time of the coda envelopes in seconds. Default
            (``None``): the coda reaches ``noise_rms`` where the Lee et al. (1972) duration ends.
            Given: the codas decay with this time (lapse-time decay of local coda, Aki & Chouet
            1975), and ``coda_end_sample`` is where the S coda reaches ``noise_rms``.

    Returns:
        ``(signals, truth)``; ``truth`` holds ``s_sample``, ``coda_end_sample``,
        ``hypocentral_km``, ``corner_hz``, ``amplitude_s``, ``back_azimuth_deg`` arrays.
    """
    p = physics
    n = len(magnitude)
    fs = sampling_rate
    r = np.hypot(distance_km, depth_km)
    s_sample = p_sample + r * (1.0 / p.vs_km_s - 1.0 / p.vp_km_s) * fs
    fc = wf.brune_corner_frequency(magnitude, stress_drop_mpa=p.stress_drop_mpa, shear_velocity_km_s=p.vs_km_s)
    t_star = r / (p.q * p.vs_km_s)
    a_s = wf.local_magnitude_amplitude(magnitude, r)
    a_p = a_s * rng.uniform(*p.p_to_s_ratio, n)
    dur = wf.duration_seconds(magnitude, distance_km) * fs  # samples from P to coda end
    coda_end = p_sample + dur
    tail = np.maximum(coda_end - s_sample, 0.5 * fs)
    coda_end = s_sample + tail  # the S coda lasts at least 0.5 s
    tau_c = tail / np.maximum(np.log(p.coda_fraction * a_s / noise_rms), 1.0)
    if coda_decay_s is not None:
        tau_c = np.asarray(coda_decay_s, float) * fs
        coda_end = s_sample + tau_c * np.maximum(np.log(p.coda_fraction * a_s / noise_rms), 0.0)
    rise = np.clip(0.25 / fc, 0.02, 0.3) * fs
    direct_decay = np.clip(2.0 / fc, 0.3, 2.0) * fs

    freqs = wf.frequencies(n_samples, fs)
    h = wf.brune_response(freqs, fc, t_star)
    gain = None if band_gain is None else np.asarray(band_gain)[:, None, :]
    carriers = wf.shape_white_noise(rng, h[:, None, :], n_samples, gain, batch_shape=(n, 8))  # (n, 8, T)
    env_p = wf.phase_envelope(n_samples, p_sample, rise, direct_decay)
    env_s = wf.phase_envelope(n_samples, s_sample, rise * 1.5, direct_decay * 1.5)
    env_pc = wf.phase_envelope(n_samples, p_sample, rise * 4, tau_c)
    env_sc = wf.phase_envelope(n_samples, s_sample, rise * 4, tau_c)

    baz = rng.uniform(0.0, 360.0, n)
    inc = np.deg2rad(rng.uniform(*p.incidence_deg, n))
    theta = np.deg2rad(baz)
    radial = np.stack([-np.sin(theta), -np.cos(theta)], axis=1)  # E, N of the wave's direction
    transverse = np.stack([np.cos(theta), -np.sin(theta)], axis=1)
    psi = rng.uniform(0.0, 2 * np.pi, n)  # S polarisation angle between SV and SH
    w_p = np.column_stack([radial * np.sin(inc)[:, None], np.cos(inc)])  # (n, 3) ENZ
    sv, sh = np.cos(psi), np.sin(psi)
    w_s = np.column_stack([radial * (sv * np.cos(inc))[:, None] + transverse * sh[:, None],
                           -sv * np.sin(inc)])
    coda_p_w = (0.6, 0.6, 1.0)
    coda_s_w = (1.0, 1.0, 0.7)
    f32 = np.float32
    amp_p, amp_s = (a_p[:, None] * w_p).astype(f32), (a_s[:, None] * w_s).astype(f32)
    coda_p, coda_s = (p.coda_fraction * a_p).astype(f32), (p.coda_fraction * a_s).astype(f32)
    sig = np.empty((n, n_samples, 3), dtype=f32)
    for c in range(3):
        sig[:, :, c] = (amp_p[:, c, None] * env_p * carriers[:, 0] + amp_s[:, c, None] * env_s * carriers[:, 1]
                        + (coda_p_w[c] * coda_p)[:, None] * env_pc * carriers[:, 2 + c]
                        + (coda_s_w[c] * coda_s)[:, None] * env_sc * carriers[:, 5 + c])
    truth = {"s_sample": s_sample, "coda_end_sample": coda_end, "hypocentral_km": r, "corner_hz": fc,
             "amplitude_s": a_s, "back_azimuth_deg": baz}
    return sig, truth


def add_glitches(rng: np.random.Generator, waves: np.ndarray, noise_rms: np.ndarray,
                 physics: DetectorPhysics) -> np.ndarray:
    """Add one spike or short boxcar to a random component of some windows (in place).

    Returns:
        ``(n,)`` float array: the glitch's first sample, NaN where none was added.
    """
    n, t_len, n_c = waves.shape
    has = rng.random(n) < physics.glitch_probability
    start = rng.integers(0, t_len, n)
    width = np.where(rng.random(n) < 0.5, 1, rng.integers(2, 11, n))
    comp = rng.integers(0, n_c, n)
    height = rng.uniform(*physics.glitch_amplitude, n) * noise_rms * rng.choice([-1.0, 1.0], n)
    for i in np.flatnonzero(has):
        waves[i, start[i]:start[i] + width[i], comp[i]] += height[i]
    return np.where(has, start.astype(float), np.nan)
