"""Synthetic earthquake/noise windows for the detector of Majstorović et al. (2023), SPEC §1.

25 s windows at 20 Hz (500 samples), components E, N, Z, about 48% earthquakes (the AQULO
proportion). Two generators share the labels, splits, start times and earthquake physics:

* **realistic** (default, ``realism=DetectorRealism()``): raw records in counts as real
  stations give them — noise between Peterson's NLNM and NHNM with varying spectral shape,
  day/night variation, cultural lines, modulation and bursts; broadband, short-period and
  strong-motion instruments; DC offsets; spikes, boxcars, steps, gaps and dead components in
  both classes; earthquakes at SNR 1–300 with P anywhere and occasional second events. See
  :mod:`seis_keras.data.synthetic.realistic` and the modules it names.
* **clean** (``realism=None``, the generator before issue 12): what follows, kept for the
  planted-physics tests and explainer checks that need a clean planted answer.

Clean windows, what is planted and recorded in the metadata:

* **Noise** (every window): stationary coloured noise, power ∝ 1/f^α (α drawn per window from
  ``noise_exponent``, flat below ``noise_f_min``), plus a microseism peak between 0.1 and
  0.3 Hz, plus, with probability ``glitch_probability``, one spike or short boxcar glitch on one
  component (``glitch_sample``). Noise RMS is log-normal around ``noise_rms_um``.
* **Earthquakes** (both generators): a P and an S arrival. Travel times from a hypocentral
  distance ``r`` with ``Vp``/``Vs`` (6 / 3.5 km/s), so ``ts - tp = r (1/Vs - 1/Vp)`` ≈ r / 8.4 km/s.
  Amplitude from magnitude and distance (Hutton & Boore ML scale; the realistic generator
  rescales it to its drawn SNR), spectrum from magnitude (Brune corner frequency) and distance
  (``exp(-π f r / (Q β))``), P strongest on Z (rectilinear, incidence angle 15–35°), S
  strongest on the horizontals, P and S codas decaying exponentially so that the S coda
  reaches the noise level at ``coda_end_sample`` (duration from the Lee et al. 1972 duration
  magnitude; may lie beyond the window). P sits anywhere from ``p_first_s`` into the window
  to the latest position that still leaves S and ``s_margin_s`` inside it.

Magnitudes follow a truncated Gutenberg–Richter law (``magnitude_range``, ``b_value``),
epicentral distances are uniform in ``distance_range_km``, depths in ``depth_range_km``.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Iterator

import numpy as np
import pandas as pd

from seis_keras.data.synthetic import wavefield as wf
from seis_keras.data.synthetic.detector_physics import (DetectorPhysics, add_glitches, background_noise,  # noqa: F401
                                                         earthquake_signals)
from seis_keras.data.synthetic.realistic import DetectorRealism, realistic_windows
from seis_keras.data.synthetic.to_store import collect_chunks, write_chunks

COMPONENT_ORDER = "ENZ"
CHUNK_SIZE = 2048  # windows generated per vectorised pass (fixed: results do not depend on it)
_SPLITS = ("train", "dev", "test")


def _detector_chunks(n: int, *, seed: int, earthquake_fraction: float, sampling_rate: float,
                     window_s: float, physics: DetectorPhysics, split_fractions: tuple[float, float, float],
                     realism: DetectorRealism | None) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    top = np.random.default_rng([seed, 0])
    labels = (top.random(n) < earthquake_fraction).astype(np.int64)
    counts = np.floor(np.asarray(split_fractions) / np.sum(split_fractions) * n).astype(int)
    counts[0] = n - counts[1:].sum()
    splits = top.permutation(np.repeat(np.array(_SPLITS), counts))
    start_s = np.sort(top.uniform(0.0, 365.0 * 86400.0, n))
    t_len = int(round(window_s * sampling_rate))
    for c, lo in enumerate(range(0, n, CHUNK_SIZE)):
        rng = np.random.default_rng([seed, 1, c])
        hi = min(lo + CHUNK_SIZE, n)
        m = hi - lo
        lab = labels[lo:hi]
        idx = np.arange(lo, hi)
        common = {
            "trace_name": [f"synthetic_detector_{i:08d}" for i in idx],
            "trace_start_time": pd.to_datetime(start_s[lo:hi], unit="s", origin=pd.Timestamp("2015-01-01"))
            .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "trace_sampling_rate_hz": float(sampling_rate),
            "label": lab,
            "trace_category": np.where(lab == 1, "earthquake_local", "noise"),
        }
        if realism is not None:
            x, cols = realistic_windows(np.random.default_rng([seed, 2, c]), lab, start_s[lo:hi], sampling_rate,
                                        window_s, physics, realism, COMPONENT_ORDER)
            yield x.astype(np.float32), pd.DataFrame({**common, **cols, "split": splits[lo:hi]})
            continue
        noise, ntruth = background_noise(rng, m, t_len, sampling_rate, physics)
        eq = np.flatnonzero(lab == 1)
        nan = np.full(m, np.nan)
        meta = {k: nan.copy() for k in ("trace_p_arrival_sample", "trace_s_arrival_sample", "source_magnitude",
                                        "source_distance_km", "source_depth_km", "source_hypocentral_distance_km",
                                        "source_corner_frequency_hz", "coda_end_sample", "source_back_azimuth_deg",
                                        "signal_amplitude_um")}
        if len(eq):
            k = len(eq)
            mag = wf.gutenberg_richter(rng, k, *physics.magnitude_range, physics.b_value)
            dist = rng.uniform(*physics.distance_range_km, k)
            depth = rng.uniform(*physics.depth_range_km, k)
            sp_s = np.hypot(dist, depth) * (1.0 / physics.vs_km_s - 1.0 / physics.vp_km_s)
            latest = np.maximum(window_s - sp_s - physics.s_margin_s, physics.p_first_s)
            p_sample = np.round(rng.uniform(physics.p_first_s, latest) * sampling_rate)
            sig, truth = earthquake_signals(rng, t_len, sampling_rate, p_sample, mag, dist, depth,
                                            ntruth["noise_rms"][eq], physics)
            noise[eq] += sig
            for col, val in (("trace_p_arrival_sample", p_sample), ("trace_s_arrival_sample", truth["s_sample"]),
                             ("source_magnitude", mag), ("source_distance_km", dist), ("source_depth_km", depth),
                             ("source_hypocentral_distance_km", truth["hypocentral_km"]),
                             ("source_corner_frequency_hz", truth["corner_hz"]),
                             ("coda_end_sample", truth["coda_end_sample"]),
                             ("source_back_azimuth_deg", truth["back_azimuth_deg"]),
                             ("signal_amplitude_um", truth["amplitude_s"])):
                meta[col][eq] = val
        glitch = add_glitches(rng, noise, ntruth["noise_rms"], physics)
        df = pd.DataFrame({
            **common,
            **meta,
            "noise_rms_um": ntruth["noise_rms"],
            "noise_exponent": ntruth["noise_exponent"],
            "microseism_frequency_hz": ntruth["microseism_frequency_hz"],
            "glitch_sample": glitch,
            "split": splits[lo:hi],
        })
        yield noise.astype(np.float32), df


def detector_data(n: int = 1000, *, seed: int = 0, earthquake_fraction: float = 0.48,
                  sampling_rate: float = 20.0, window_s: float = 25.0,
                  physics: DetectorPhysics = DetectorPhysics(),
                  split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                  path: str | os.PathLike | None = None, block_size: int = 1024,
                  realism: DetectorRealism | None = DetectorRealism()):
    """Earthquake and noise windows with planted P/S physics (Majstorović et al. 2023 setting).

    Args:
        n: number of windows.
        seed: same seed → identical arrays and metadata.
        earthquake_fraction: probability that a window holds an earthquake (0.48, as AQULO).
        sampling_rate: Hz (20, the paper's).
        window_s: window length in seconds (25 → 500 samples).
        physics: the physical settings, see ``DetectorPhysics`` (the realistic windows use its
            source, path and P-position fields; its noise and glitch fields only apply to the
            clean windows).
        split_fractions: train/dev/test proportions (0.8, 0.1, 0.1, the paper's), exact counts.
        path: if given, write a waveform store there (streamed chunk by chunk) instead of
            returning the waveforms.
        block_size: traces per HDF5 block when writing a store.
        realism: settings of the realistic windows (default), or ``None`` for the clean ones.

    Returns:
        ``(waveforms (n, T, 3) float32 in E, N, Z, metadata DataFrame)``; with ``path``, only
        the metadata. Columns of both generators: ``trace_name``, ``trace_start_time``,
        ``trace_sampling_rate_hz``, ``label`` (1 earthquake, 0 noise), ``trace_category``,
        ``trace_p_arrival_sample``, ``trace_s_arrival_sample`` (fractional sample of the S onset;
        realistic: NaN when S falls outside the window), ``source_magnitude``,
        ``source_distance_km`` (epicentral), ``source_depth_km``, ``source_hypocentral_distance_km``,
        ``source_corner_frequency_hz``, ``coda_end_sample`` (where the S coda reaches the noise
        RMS; may exceed ``T``), ``source_back_azimuth_deg`` (all NaN for noise),
        ``glitch_sample`` (first spike or boxcar, NaN if none), ``split``.
        Clean windows add ``signal_amplitude_um``, ``noise_rms_um``, ``noise_exponent``,
        ``microseism_frequency_hz``.
        Realistic windows (values in counts) add: earthquake ``trace_snr`` (amplitude RMS ratio
        over 5 s after P, above 1 Hz), ``trace_snr_db``, ``second_p_arrival_sample``,
        ``second_source_magnitude``, ``second_trace_snr`` (NaN without a second event);
        instrument ``trace_channel`` (``HHE_HHN_HHZ``, ``EH…``, ``HN…``), ``instrument_family``,
        ``instrument_corner_hz``, ``instrument_damping``, ``instrument_sensitivity`` (counts per
        m/s, per m/s² for ``strong_motion``), ``instrument_self_noise_counts``,
        ``anti_alias_corner_hz``, ``dc_offset_{e,n,z}_counts``, ``drift_noise_ratio``; noise
        ``noise_rms_counts`` (RMS of the recorded noise before earthquakes, bursts, offsets and
        faults), ``noise_rms_snr_band_counts`` (the same above ``snr_highpass_hz``, the SNR's
        reference), ``noise_position_microseism`` / ``noise_position_cultural`` (mean position
        between NLNM = 0 and NHNM = 1 over 0.1–0.5 Hz / 1–8 Hz on Z), ``station_local_hour``,
        ``noise_day_gain_db``, ``noise_day_night_db``, ``n_cultural_lines``,
        ``cultural_lines_hz`` (``;``-separated), ``noise_modulation_sigma``, ``n_noise_bursts``,
        ``noise_burst_sample``, ``noise_burst_amplitude``; transients ``spike_sample``,
        ``boxcar_sample``, ``step_sample``, ``gap_sample`` (first sample, NaN if none),
        ``gap_samples``, ``{spike,boxcar,step,gap,dead}_components`` (component letters, ``""``
        if none), ``transient_kinds`` (``;``-separated).
    """
    if n < 1:
        raise ValueError(f"detector_data: n={n} (expected a positive number of windows)")
    if not 0.0 <= earthquake_fraction <= 1.0:
        raise ValueError(f"detector_data: earthquake_fraction={earthquake_fraction} (expected 0..1)")
    chunks = _detector_chunks(n, seed=seed, earthquake_fraction=earthquake_fraction, sampling_rate=sampling_rate,
                              window_s=window_s, physics=physics, split_fractions=split_fractions,
                              realism=realism)
    if path is not None:
        return write_chunks(path, chunks, sampling_rate=sampling_rate, component_order=COMPONENT_ORDER,
                            block_size=block_size)
    return collect_chunks(chunks)
