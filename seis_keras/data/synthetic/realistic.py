"""Detector windows that look like raw real records (the default of ``detector_data``).

Each window is a raw three-component record in counts, built in this order (every property is
drawn per window, documented where it is drawn, and recorded in the metadata):

1. An **instrument** (:mod:`~seis_keras.data.synthetic.instruments`): broadband, 1–2 Hz
   geophone or accelerometer, sensitivity, digitiser floor, decimation low-pass.
2. **Ground noise** between Peterson's NLNM and NHNM with a per-window spectral shape, day/night
   variation of its cultural band, cultural lines and amplitude modulation
   (:mod:`~seis_keras.data.synthetic.noise_models`), recorded through that instrument, plus
   the digitiser's white floor.
3. For earthquake windows, an **earthquake** (P, S, codas; the source and path physics of
   :func:`~seis_keras.data.synthetic.detector_physics.earthquake_signals`) seen through the
   same instrument, scaled to a drawn **SNR**: log-normal with median ``snr_median`` (30) and
   ``snr_log10_sigma`` (0.6) in log10, kept inside ``snr_range`` (1–1000) — catalogued local
   events as STEAD holds them (Mousavi et al. 2019; its 50-record sample in
   ``../shared/data/stead_sample`` spans 12–58 dB of power ratio, 5–95 %, median 31 dB, i.e.
   amplitude ratios 4–800, median 35), with a tail down to SNR 1 (1 % below 1.2). SNR is the RMS of the earthquake over the ``snr_window_s`` (5 s)
   after P, all components, divided by the RMS of the window's noise, both above
   ``snr_highpass_hz`` (1 Hz, as STEAD measures SNR on 1–45 Hz band-passed records; on a raw
   broadband record the microseism can still dwarf an event of SNR 10); amplitude ratio,
   ``trace_snr_db = 20 log10``.
   P lies anywhere from ``p_first_s`` to the latest sample that keeps S and ``s_margin_s`` in
   the window, or, for a share ``p_anywhere_fraction`` of earthquakes, anywhere up to
   ``p_last_margin_s`` before the end (S may then fall outside: its pick is NaN, as
   SeisBench stores picks outside a window). With ``second_event_probability`` a second,
   independent earthquake follows or precedes the first by at least
   ``second_event_min_separation_s``.
4. **Noise bursts** (emergent, band-limited; noise, not earthquakes) at the same rate in both
   classes, their peaks relative to the noise above ``snr_highpass_hz`` (as the SNR).
5. The record's **DC offset** and **drift** (raw counts are never centred).
6. **Transients that are not earthquakes** (:mod:`~seis_keras.data.synthetic.transients`):
   spikes, boxcars, steps, gaps of zeros and dead components, at the same rates in both
   classes.

Absolute units are counts, so windows must be demeaned before max normalisation (the detector
recipe's ``data.demean``); the ground truth lets tests deconvolve the instrument and compare
the noise with Peterson's models.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import ndtr, ndtri

from seis_keras.data.synthetic import wavefield as wf
from seis_keras.data.synthetic.detector_physics import DetectorPhysics, earthquake_signals
from seis_keras.data.synthetic.instruments import (InstrumentSettings, anti_alias_response, draw_instruments,
                                                   instrument_response, log_uniform)
from seis_keras.data.synthetic.noise_models import NoiseSettings, ground_noise, noise_bursts
from seis_keras.data.synthetic.transients import TransientSettings, add_transients


@dataclasses.dataclass(frozen=True)
class DetectorRealism:
    """Settings of the realistic windows (the module docstring says what each one does).

    Attributes:
        noise: ground-noise population (:class:`~seis_keras.data.synthetic.noise_models.NoiseSettings`).
        instruments: instrument population (:class:`~seis_keras.data.synthetic.instruments.InstrumentSettings`).
        transients: fault rates and shapes (:class:`~seis_keras.data.synthetic.transients.TransientSettings`).
        snr_median: median earthquake SNR (amplitude RMS ratio; 30).
        snr_log10_sigma: standard deviation of log10 SNR (0.6); 0 with ``snr_median`` outside
            ``snr_range`` is an error.
        snr_range: bounds of the SNR ((1, 1000)); draws outside are redrawn (truncated log-normal).
        snr_window_s: length after P over which the SNR is measured (5 s).
        snr_highpass_hz: the SNR compares signal and noise above this frequency (1 Hz).
        p_to_s_ratio: range of the direct P / S amplitude ratio, uniform ((0.2, 1.0); replaces
            ``DetectorPhysics.p_to_s_ratio``: on the vertical, P is often as strong as S — deeper
            events, nodal S radiation — and a window may hold little more than P).
        coda_decay_s: range of the coda envelopes' e-folding time, log-uniform ((2, 8) s; the
            lapse-time decay ``t⁻¹ exp(−π f t / Qc)`` of local coda with Qc ≈ 100–400 at 1–5 Hz
            over 5–30 s, Aki & Chouet 1975): a strong event's coda lasts many seconds.
        p_anywhere_fraction: share of earthquakes whose P may lie anywhere, S possibly outside (0.25).
        p_last_margin_s: for those, the latest P before the window end (3 s).
        second_event_probability: chance of a second earthquake in an earthquake window (0.05).
        second_event_min_separation_s: least time between the two P onsets (3 s).
    """

    noise: NoiseSettings = NoiseSettings()
    instruments: InstrumentSettings = InstrumentSettings()
    transients: TransientSettings = TransientSettings()
    snr_median: float = 30.0
    snr_log10_sigma: float = 0.6
    snr_range: tuple[float, float] = (1.0, 1000.0)
    snr_window_s: float = 5.0
    snr_highpass_hz: float = 1.0
    p_to_s_ratio: tuple[float, float] = (0.2, 1.0)
    coda_decay_s: tuple[float, float] = (2.0, 8.0)
    p_anywhere_fraction: float = 0.25
    p_last_margin_s: float = 3.0
    second_event_probability: float = 0.05
    second_event_min_separation_s: float = 3.0

    def __post_init__(self):
        if not 0 < self.snr_range[0] <= self.snr_range[1]:
            raise ValueError(f"DetectorRealism.snr_range={self.snr_range} (expected 0 < low <= high)")
        if self.snr_log10_sigma < 0 or (self.snr_log10_sigma == 0
                                        and not self.snr_range[0] <= self.snr_median <= self.snr_range[1]):
            raise ValueError(f"DetectorRealism.snr_log10_sigma={self.snr_log10_sigma} with snr_median="
                             f"{self.snr_median} (expected sigma >= 0 and, for sigma 0, the median inside snr_range)")


def draw_snr(rng: np.random.Generator, n: int, realism: "DetectorRealism") -> np.ndarray:
    """``n`` SNRs from the truncated log-normal of ``realism`` (inverse CDF: a fixed number of draws)."""
    lo, hi = np.log10(realism.snr_range)
    mu, sd = np.log10(realism.snr_median), realism.snr_log10_sigma
    if sd == 0:
        return np.full(n, realism.snr_median)
    a, b = ndtr((lo - mu) / sd), ndtr((hi - mu) / sd)
    return 10 ** (mu + sd * ndtri(a + rng.random(n) * (b - a)))


def _sources(rng: np.random.Generator, k: int, physics: DetectorPhysics) -> dict:
    mag = wf.gutenberg_richter(rng, k, *physics.magnitude_range, physics.b_value)
    dist = rng.uniform(*physics.distance_range_km, k)
    depth = rng.uniform(*physics.depth_range_km, k)
    sp_s = np.hypot(dist, depth) * (1.0 / physics.vs_km_s - 1.0 / physics.vp_km_s)
    return {"magnitude": mag, "distance": dist, "depth": depth, "sp_s": sp_s}


def highpass(x: np.ndarray, sampling_rate: float, corner_hz: float) -> np.ndarray:
    """``x`` ``(n, T, C)`` without its Fourier components below ``corner_hz`` (circular, zero phase)."""
    spec = np.fft.rfft(x, axis=1)
    spec[:, np.fft.rfftfreq(x.shape[1], 1.0 / sampling_rate) < corner_hz] = 0.0
    return np.fft.irfft(spec, n=x.shape[1], axis=1)


def _scaled_earthquakes(rng, src: dict, p_sample: np.ndarray, snr: np.ndarray, noise_rms: np.ndarray,
                        gain: np.ndarray, n_samples: int, fs: float, physics: DetectorPhysics,
                        snr_window: int, coda_decay_s: tuple[float, float],
                        highpass_hz: float) -> tuple[np.ndarray, dict]:
    """Earthquakes through the instrument amplitude ``gain`` ``(k, F)``, scaled to ``snr``.

    ``noise_rms`` is the noise RMS above ``highpass_hz``; the signal's RMS is taken there too.
    """
    r = np.hypot(src["distance"], src["depth"])
    a_s = wf.local_magnitude_amplitude(src["magnitude"], r)
    # the coda decays into the noise at the level the SNR puts it (a_s / snr in the signal's units)
    tau = log_uniform(rng, coda_decay_s, len(snr))
    sig, truth = earthquake_signals(rng, n_samples, fs, p_sample, src["magnitude"], src["distance"], src["depth"],
                                    a_s / snr, physics, band_gain=gain, coda_decay_s=tau)
    t = np.arange(n_samples)[None, :]
    inside = ((t >= np.ceil(p_sample)[:, None]) & (t < np.ceil(p_sample)[:, None] + snr_window)).astype(np.float32)
    sig_hp = highpass(sig.astype(np.float64), fs, highpass_hz)
    power = np.einsum("kt,ktc->k", inside, sig_hp ** 2) / np.maximum(inside.sum(axis=1), 1) / sig.shape[2]
    sig *= (snr * noise_rms / np.sqrt(np.maximum(power, 1e-30))).astype(np.float32)[:, None, None]
    return sig, truth


def _p_positions(rng, src: dict, window_s: float, fs: float, physics: DetectorPhysics,
                 realism: DetectorRealism) -> np.ndarray:
    k = len(src["sp_s"])
    latest_s_inside = np.maximum(window_s - src["sp_s"] - physics.s_margin_s, physics.p_first_s)
    latest = np.where(rng.random(k) < realism.p_anywhere_fraction,
                      max(window_s - realism.p_last_margin_s, physics.p_first_s), latest_s_inside)
    return np.round(rng.uniform(physics.p_first_s, latest) * fs)


def realistic_windows(rng: np.random.Generator, labels: np.ndarray, start_s: np.ndarray, sampling_rate: float,
                      window_s: float, physics: DetectorPhysics, realism: DetectorRealism,
                      component_order: str = "ENZ") -> tuple[np.ndarray, dict]:
    """Raw realistic windows ``(n, T, 3)`` float32 (counts) and their metadata columns.

    Args:
        rng: random generator (one chunk's).
        labels: ``(n,)`` 1 earthquake, 0 noise.
        start_s: ``(n,)`` window start, seconds since the generator's epoch (UTC; sets the
            local hour with a per-window station longitude).
        sampling_rate: Hz.
        window_s: seconds.
        physics: source and path settings (its noise and glitch fields are not used here, its
            ``p_to_s_ratio`` is replaced by ``realism.p_to_s_ratio``).
        realism: the realistic-window settings.
        component_order: letters naming the channels in the metadata (last = vertical).

    Returns:
        ``(waveforms, columns)``: ``columns`` maps metadata column names to ``(n,)`` arrays
        (listed in :func:`~seis_keras.data.synthetic.detector.detector_data`).
    """
    n, fs = len(labels), float(sampling_rate)
    physics = dataclasses.replace(physics, p_to_s_ratio=realism.p_to_s_ratio)
    t_len = int(round(window_s * fs))
    freqs = wf.frequencies(t_len, fs)
    inst = draw_instruments(rng, n, realism.instruments)
    aa = anti_alias_response(inst["anti_alias_hz"], freqs, realism.instruments.anti_alias_order)
    resp = instrument_response(inst, freqs) * aa
    utc_offset_h = rng.uniform(-12.0, 12.0, n)
    local_hour = np.mod(np.asarray(start_s) / 3600.0 + utc_offset_h, 24.0)
    x, ntruth = ground_noise(rng, n, t_len, fs, local_hour, realism.noise, resp)
    floor = wf.shape_white_noise(rng, aa[:, None, :], t_len, batch_shape=(n, 3))  # (n, C, T), unit RMS
    x += np.transpose(floor, (0, 2, 1)) * inst["self_noise_counts"].astype(np.float32)[:, None, None]
    noise_rms = np.sqrt((x.astype(np.float64) ** 2).mean(axis=(1, 2)))
    noise_rms_hp = np.sqrt((highpass(x.astype(np.float64), fs, realism.snr_highpass_hz) ** 2).mean(axis=(1, 2)))

    nan = np.full(n, np.nan)
    cols = {c: nan.copy() for c in ("trace_p_arrival_sample", "trace_s_arrival_sample", "source_magnitude",
                                    "source_distance_km", "source_depth_km", "source_hypocentral_distance_km",
                                    "source_corner_frequency_hz", "coda_end_sample", "source_back_azimuth_deg",
                                    "trace_snr", "trace_snr_db", "second_p_arrival_sample", "second_source_magnitude",
                                    "second_trace_snr")}
    eq = np.flatnonzero(np.asarray(labels) == 1)
    gain = np.abs(resp) / np.maximum(np.abs(resp).max(axis=1, keepdims=True), 1e-30)
    snr_window = max(1, int(round(realism.snr_window_s * fs)))
    if len(eq):
        k = len(eq)
        src = _sources(rng, k, physics)
        p = _p_positions(rng, src, window_s, fs, physics, realism)
        snr = draw_snr(rng, k, realism)
        sig, truth = _scaled_earthquakes(rng, src, p, snr, noise_rms_hp[eq], gain[eq], t_len, fs, physics, snr_window,
                                         realism.coda_decay_s, realism.snr_highpass_hz)
        x[eq] += sig
        s_pick = np.where(truth["s_sample"] < t_len, truth["s_sample"], np.nan)
        for col, val in (("trace_p_arrival_sample", p), ("trace_s_arrival_sample", s_pick),
                         ("source_magnitude", src["magnitude"]), ("source_distance_km", src["distance"]),
                         ("source_depth_km", src["depth"]),
                         ("source_hypocentral_distance_km", truth["hypocentral_km"]),
                         ("source_corner_frequency_hz", truth["corner_hz"]),
                         ("coda_end_sample", truth["coda_end_sample"]),
                         ("source_back_azimuth_deg", truth["back_azimuth_deg"]), ("trace_snr", snr),
                         ("trace_snr_db", 20 * np.log10(snr))):
            cols[col][eq] = val
        # a second, independent earthquake in some windows
        sep = realism.second_event_min_separation_s * fs
        lo, hi = physics.p_first_s * fs, t_len - realism.p_last_margin_s * fs
        u = rng.random((k, 3))
        after_ok, before_ok = p + sep <= hi, p - sep >= lo
        second = (u[:, 0] < realism.second_event_probability) & (after_ok | before_ok)
        use_after = after_ok & (~before_ok | (u[:, 1] < 0.5))
        p2 = np.where(use_after, p + sep + u[:, 2] * np.maximum(hi - p - sep, 0),
                      lo + u[:, 2] * np.maximum(p - sep - lo, 0))
        rows = np.flatnonzero(second)
        src2 = _sources(rng, len(rows), physics)
        snr2 = draw_snr(rng, len(rows), realism)
        if len(rows):
            idx = eq[rows]
            sig2, _ = _scaled_earthquakes(rng, src2, np.round(p2[rows]), snr2, noise_rms_hp[idx], gain[idx], t_len, fs,
                                          physics, snr_window, realism.coda_decay_s, realism.snr_highpass_hz)
            x[idx] += sig2
            cols["second_p_arrival_sample"][idx] = np.round(p2[rows])
            cols["second_source_magnitude"][idx] = src2["magnitude"]
            cols["second_trace_snr"][idx] = snr2

    bursts, btruth = noise_bursts(rng, n, t_len, fs, noise_rms_hp, resp, realism.noise)
    if bursts is not None:
        x += bursts
    ins = realism.instruments
    offset = (log_uniform(rng, ins.dc_offset_noise_ratio, n * 3).reshape(n, 3) * rng.choice([-1.0, 1.0], (n, 3))
              * noise_rms[:, None])
    drift_ratio = np.where(rng.random(n) < ins.drift_probability, log_uniform(rng, ins.drift_noise_ratio, n), 0.0)
    drift = drift_ratio[:, None] * rng.choice([-1.0, 1.0], (n, 3)) * noise_rms[:, None]
    ramp = np.linspace(-0.5, 0.5, t_len, dtype=np.float32)
    x += (offset[:, None, :] + drift[:, None, :] * ramp[None, :, None]).astype(np.float32)
    ttruth = add_transients(rng, x, fs, realism.transients, lowpass=aa, labels=labels)

    letters = np.asarray(list(component_order))
    cols.update({
        "trace_channel": np.array(["_".join(ch + c for c in component_order) for ch in inst["channel"]], dtype=object),
        "instrument_family": inst["family"].astype(object),
        "instrument_corner_hz": inst["corner_hz"], "instrument_damping": inst["damping"],
        "instrument_sensitivity": inst["sensitivity"], "instrument_self_noise_counts": inst["self_noise_counts"],
        "anti_alias_corner_hz": inst["anti_alias_hz"],
        **{f"dc_offset_{c.lower()}_counts": offset[:, j] for j, c in enumerate(component_order)},
        "drift_noise_ratio": drift_ratio,
        "noise_rms_counts": noise_rms, "noise_rms_snr_band_counts": noise_rms_hp,
        "noise_position_microseism": ntruth["position_microseism"],
        "noise_position_cultural": ntruth["position_cultural"],
        "station_local_hour": local_hour, "noise_day_gain_db": ntruth["day_gain_db"],
        "noise_day_night_db": ntruth["day_night_db"],
        "n_cultural_lines": np.array([len(v) for v in ntruth["lines_hz"]]),
        "cultural_lines_hz": np.array([";".join(f"{f:.3f}" for f in v) for v in ntruth["lines_hz"]], dtype=object),
        "noise_modulation_sigma": ntruth["modulation_sigma"],
        "n_noise_bursts": btruth["n_bursts"], "noise_burst_sample": btruth["burst_sample"],
        "noise_burst_amplitude": btruth["burst_amplitude"],
    })
    for kind in ("spike", "boxcar", "step", "gap"):
        cols[f"{kind}_sample"] = ttruth[f"{kind}_sample"]
    cols["gap_samples"] = ttruth["gap_samples"]
    for kind in ("spike", "boxcar", "step", "gap", "dead"):
        cols[f"{kind}_components"] = np.array(["".join(letters[int(d)] for d in v)
                                               for v in ttruth[f"{kind}_components"]], dtype=object)
    cols["transient_kinds"] = ttruth["transient_kinds"]
    cols["glitch_sample"] = np.fmin(ttruth["spike_sample"], ttruth["boxcar_sample"])
    return x, cols
