"""Synthetic Norcia foreshock/aftershock traces (Laurenti et al. 2024, SPEC §2).

25 s at 100 Hz (2500 samples), P at sample 500 (5 s), components E, N, Z, events within ±2
months of the Mw 6.5 Norcia mainshock (2016-10-30T06:40:17 UTC) near the Vettore fault,
recorded by up to nine INGV stations (several stations per event, same ``source_id``).

**Planted physics.** Every event's signal (not the noise) passes through a band gain
``G(f) = 1 + (g - 1) B(f)`` where ``B`` is 1 on ``planted_band_hz`` = 30–40 Hz with 2 Hz
raised-cosine tapers outside and 0 elsewhere, and then (``preserve_energy``, default) through a
flat factor ``k`` that gives the gained source spectrum the expected energy of the ungained one:
``k = rms(H) / rms(H G)`` with ``H`` the event's Brune × attenuation spectrum (recorded as
``planted_energy_scale``). The planted change is thus a pure change of spectral *shape*: the
in-band amplitude is multiplied by ``g k`` and everything outside by ``k`` (≈ 1), so the
amplitude, energy and magnitude distributions of the two classes are the same and the only cue
is the share of 30–40 Hz in the signal (its ratio to the power below 28 Hz is multiplied by
``g²``).

The gain ``g`` (``planted_band_gain``, an amplitude factor) evolves smoothly (continuous,
monotone within each period) with time to failure on the sequence's *seismic clock*
(``gain_clock="events"``): the expected cumulative share of the period's events under the
catalogue's own Omori laws (below), so equal-count chronological classes (4-, 8-, 9-class
experiments) see evenly spaced gains. ``log g`` rises linearly on that clock from
``band_gain_pre[0]`` (the first foreshock) to ``band_gain_pre[1]`` (just before the mainshock),
jumps to ``band_gain_post[0]`` and relaxes linearly to ``band_gain_post[1]`` (the last
aftershock, +``window_days``). ``gain_clock="days"`` makes ``log g`` linear in days instead (the
generator before issue 14). Around the trend each event's gain scatters log-normally
(``band_gain_scatter``, σ of ``ln g``; one value per event, shared by its stations): the 30–40 Hz
content of an event varies beyond what its time predicts, so even a classifier that measured
``g`` exactly would err on some events (at the defaults: 0.98 binary accuracy on balanced
classes).

Defaults, calibrated with ``bench/synthetic_calibration.py`` (log-gain shape (-0.3, -0.1, 0.3,
0.1) × strength 2.5, scatter 0.2): ``band_gain_pre = (0.47, 0.78)``, ``band_gain_post = (2.12,
1.28)``; mean post/pre in-band power ≈ 7 at fixed magnitude and distance, a median 30–40 Hz share
of the traces' power (5–25 s, noise included; 0.20 for a flat spectrum) of 0.10 before and 0.38
after, with a scatter of 0.2 in log10 within each class against the 0.57 between the medians
(the generator before issue 14: 0.09 → 0.46, with the aftershocks also louder). Measured test accuracies (quick profiles, load average 4–12 on 2 shared cores):

* ``norcia`` (600 events at NRCA, seed 123), binary: 0.898 / 0.857 / 0.969 / 1.000 at strength
  1 / 1.5 / 2 / 2.5 without scatter; 0.980 at 2.5 with scatter 0.2, where the 4-, 8- and 9-class
  models score 0.600 / 0.240 / 0.222 (chance 0.25 / 0.125 / 0.111; the quick profile balances
  each class down to the smallest, about 45 events for 9 classes). The recipe's quick profile on
  the (rounded) defaults: 0.980 / 0.560 / 0.219 / 0.185 for 2 / 4 / 8 / 9 classes;
* ``norcia_shap`` (400 events, nine stations, seed 0, trace-grouped split): 1.000 / 0.998 at
  strength 2 / 1.5 without scatter; 0.975 at 2.5 with scatter 0.2. The whole quick profile on
  the defaults: test accuracy 0.973 (trace-grouped) / 0.956 (event-grouped), SHAP positive share
  in 30–40 Hz 1.57 × uniform (Partition) / 1.60 × (Gradient); on the generator before issue 14
  the same run gives 1.000 / 1.000 and 1.52 × / 1.62 ×: the SHAP share is not set by the data.

Magnitudes, locations, noise and path
attenuation are drawn from the same distributions before and after.

Event times: pre-Visso foreshocks decay from the Amatrice mainshock (Omori, c = 1 day), the
Visso cluster (``visso_fraction`` of the foreshocks) decays from 2016-10-26T17:10:36 UTC, and
aftershocks from the Norcia mainshock (c = 0.05 day). Station coordinates are approximate (the
synthetic geometry only needs their distances, 0–25 km from the fault).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Iterator

import numpy as np
import pandas as pd

from seis_keras.data.synthetic import wavefield as wf
from seis_keras.data.synthetic.detector import DetectorPhysics, background_noise, earthquake_signals
from seis_keras.data.synthetic.to_store import collect_chunks, write_chunks

COMPONENT_ORDER = "ENZ"
MAINSHOCK_TIME = pd.Timestamp("2016-10-30T06:40:17", tz="UTC")
MAINSHOCK_LOCATION = (42.83, 13.11)  # lat, lon
AMATRICE_TIME = pd.Timestamp("2016-08-24T01:36:32", tz="UTC")
VISSO_TIME = pd.Timestamp("2016-10-26T17:10:36", tz="UTC")
VISSO_LOCATION = (42.90, 13.13)
FAULT_STRIKE_DEG = 155.0
PLANTED_BAND_HZ = (30.0, 40.0)
#: approximate (lat, lon) of the nine stations of the paper; the network code is IV.
NORCIA_STATIONS = {
    "FDMO": (43.037, 13.087), "MC2": (42.913, 13.191), "MMO1": (42.899, 13.327),
    "NRCA": (42.834, 13.114), "T1212": (42.759, 13.214), "T1213": (42.757, 13.096),
    "T1214": (42.869, 13.021), "T1216": (42.810, 13.252), "T1244": (42.944, 13.169),
}
CHUNK_SIZE = 1024
_KM_PER_DEG = 111.19
VISSO_OMORI_C_DAYS = 0.05       # Omori c of the Visso cluster (from its M5.9 shock)
AFTERSHOCK_OMORI_C_DAYS = 0.05  # Omori c of the Norcia aftershocks
GAIN_CLOCKS = ("events", "days")


@dataclasses.dataclass(frozen=True)
class NorciaSettings:
    """Settings of ``norcia_data`` (defaults documented per field).

    Attributes:
        window_days: events within ±this many days of the mainshock (60, the paper's ±2 months).
        post_fraction: share of events after the mainshock (0.52 ≈ 5135 / 9829, the paper).
        visso_fraction: share of foreshocks in the Visso cluster, 26–30 Oct 2016 (0.15).
        magnitude_range: Mw range (0.5, 3.5); ``b_value`` 1.0 for the Gutenberg–Richter draw.
        depth_range_km: hypocentral depths (2, 10): the paper keeps events below 2 km.
        along_strike_km: half-length of the event zone along the fault (12).
        across_strike_km: events within this distance of the fault (3, the paper's).
        station_probability: chance that a station records a given event (0.75; ≥ 1 station).
        band_gain_pre: planted 30–40 Hz amplitude gain at the first foreshock and just before the
            mainshock ((0.47, 0.78) = exp(-0.75), exp(-0.25); calibrated, ``bench/synthetic_calibration.py``).
        band_gain_post: the gain just after the mainshock and at +window_days ((2.12, 1.28) = exp(0.75), exp(0.25)).
        band_taper_hz: taper width outside the planted band (2 Hz).
        band_gain_scatter: event-to-event log-normal scatter of the gain (σ of ``ln g`` around the
            trend; 0.2, calibrated; 0 = none), the same for every station of an event: the 30–40 Hz content of an
            event varies beyond what its magnitude and distance predict, so no classifier can be
            perfect (a Bayes-error floor).
        gain_clock: what the gain is log-linear in: ``"events"`` (default: the expected cumulative
            share of the period's events under the catalogue's Omori laws, so equal-count
            chronological classes see evenly spaced gains) or ``"days"`` (linear in time).
        preserve_energy: rescale each gained source spectrum to the ungained one's expected energy
            (True): the classes differ in spectral shape only, not in amplitude.
        vp_km_s, vs_km_s, q: velocities and quality factor of the Apennine crust (5.8, 3.3, 250).
        noise_rms_um: median noise RMS (5 µm; log-normal scatter 0.25 in log10).
    """

    window_days: float = 60.0
    post_fraction: float = 0.52
    visso_fraction: float = 0.15
    magnitude_range: tuple[float, float] = (0.5, 3.5)
    b_value: float = 1.0
    depth_range_km: tuple[float, float] = (2.0, 10.0)
    along_strike_km: float = 12.0
    across_strike_km: float = 3.0
    station_probability: float = 0.75
    band_gain_pre: tuple[float, float] = (0.47, 0.78)
    band_gain_post: tuple[float, float] = (2.12, 1.28)
    band_taper_hz: float = 2.0
    band_gain_scatter: float = 0.2
    gain_clock: str = "events"
    preserve_energy: bool = True
    vp_km_s: float = 5.8
    vs_km_s: float = 3.3
    q: float = 250.0
    noise_rms_um: float = 5.0

    def physics(self) -> DetectorPhysics:
        """The shared wavefield settings with this crust and noise level."""
        return DetectorPhysics(vp_km_s=self.vp_km_s, vs_km_s=self.vs_km_s, q=self.q,
                               noise_rms_um=self.noise_rms_um, glitch_probability=0.0,
                               microseism_ratio=(0.2, 0.5))


def _omori_share(delay_days: np.ndarray, span_days: float, c_days: float) -> np.ndarray:
    """Expected share of an Omori sequence (rate 1/(t + c), truncated at ``span_days``) before ``delay``."""
    d = np.clip(delay_days, 0.0, span_days)
    return np.log1p(d / c_days) / np.log1p(span_days / c_days)


def _period_days(s: NorciaSettings) -> tuple[float, float, float]:
    """(start, Visso, Amatrice) in signed days from the mainshock."""
    day = pd.Timedelta(days=1)
    return -s.window_days, (VISSO_TIME - MAINSHOCK_TIME) / day, (AMATRICE_TIME - MAINSHOCK_TIME) / day


def seismic_clock(days_to_mainshock: np.ndarray, settings: NorciaSettings = NorciaSettings()) -> np.ndarray:
    """Expected cumulative share of the period's events at signed time ``days`` (pre: 0 → 1, post: 0 → 1).

    Foreshocks: the pre-Visso Omori decay from Amatrice, then the Visso cluster (its share
    ``visso_fraction``); aftershocks: the Norcia Omori decay. The same laws draw the catalogue,
    so the clock of the catalogue's events is uniform on [0, 1] in each period.
    """
    s = settings
    d = np.asarray(days_to_mainshock, dtype=float)
    start, visso, amatrice = _period_days(s)
    c_pre = start - amatrice + 1.0
    vf = s.visso_fraction
    pre = np.where(d < visso, (1.0 - vf) * _omori_share(d - start, visso - start, c_pre),
                   (1.0 - vf) + vf * _omori_share(d - visso, -visso, VISSO_OMORI_C_DAYS))
    post = _omori_share(d, s.window_days, AFTERSHOCK_OMORI_C_DAYS)
    return np.where(d < 0, pre, post)


def planted_band_gain(days_to_mainshock: np.ndarray, settings: NorciaSettings = NorciaSettings()) -> np.ndarray:
    """The planted 30–40 Hz amplitude gain at signed time ``days`` from the mainshock."""
    s = settings
    if s.gain_clock not in GAIN_CLOCKS:
        raise ValueError(f"NorciaSettings.gain_clock={s.gain_clock!r} (expected one of {GAIN_CLOCKS})")
    d = np.clip(np.asarray(days_to_mainshock, dtype=float), -s.window_days, s.window_days)
    if s.gain_clock == "days":
        u = np.where(d < 0, d / s.window_days + 1.0, d / s.window_days)
    else:
        u = seismic_clock(d, s)
    lp0, lp1 = np.log(s.band_gain_pre)
    la0, la1 = np.log(s.band_gain_post)
    return np.exp(np.where(d < 0, lp0 + u * (lp1 - lp0), la0 + u * (la1 - la0)))


def energy_scale(gain: np.ndarray, magnitude: np.ndarray, hypocentral_km: np.ndarray, freqs: np.ndarray,
                 s: NorciaSettings) -> np.ndarray:
    """``(n,)`` flat factors that give each gained source spectrum ``H G`` the energy of ``H``.

    ``H`` is the Brune × attenuation amplitude spectrum ``earthquake_signals`` shapes its
    carriers with (same corner frequency and ``t*``); ``gain`` is ``(n, F)``.
    """
    phys = s.physics()
    fc = wf.brune_corner_frequency(magnitude, stress_drop_mpa=phys.stress_drop_mpa, shear_velocity_km_s=phys.vs_km_s)
    h = wf.brune_response(freqs, fc, hypocentral_km / (phys.q * phys.vs_km_s))
    n_samples = 2 * (len(freqs) - 1)
    return wf.filter_rms(h, n_samples) / wf.filter_rms(h * gain, n_samples)


def _omori(rng: np.random.Generator, n: int, span_days: float, c_days: float) -> np.ndarray:
    """``n`` delays in days after a mainshock, Omori rate 1/(t + c), truncated at ``span_days``."""
    return c_days * ((1.0 + span_days / c_days) ** rng.random(n) - 1.0)


def _catalogue(n_events: int, seed: int, s: NorciaSettings) -> pd.DataFrame:
    rng = np.random.default_rng([seed, 20])
    n_post = int(round(n_events * s.post_fraction))
    n_pre = n_events - n_post
    n_visso = int(round(n_pre * s.visso_fraction))
    start, visso_days, amatrice_days = _period_days(s)
    # pre-Visso: Omori decay from Amatrice, kept inside [start, Visso)
    first = start - amatrice_days
    pre = start + _omori(rng, n_pre - n_visso, visso_days - start, first + 1.0)
    visso = visso_days + _omori(rng, n_visso, -visso_days, VISSO_OMORI_C_DAYS)
    post = _omori(rng, n_post, s.window_days, AFTERSHOCK_OMORI_C_DAYS)
    days = np.concatenate([pre, visso, post])
    is_visso = np.concatenate([np.zeros(len(pre), bool), np.ones(n_visso, bool), np.zeros(n_post, bool)])
    order = np.argsort(days, kind="stable")
    days, is_visso = days[order], is_visso[order]
    along = rng.uniform(-s.along_strike_km, s.along_strike_km, n_events)
    across = np.clip(rng.normal(0.0, s.across_strike_km / 2, n_events), -s.across_strike_km, s.across_strike_km)
    strike = np.deg2rad(FAULT_STRIKE_DEG)
    east = along * np.sin(strike) + across * np.cos(strike)
    north = along * np.cos(strike) - across * np.sin(strike)
    lat0 = np.where(is_visso, VISSO_LOCATION[0], MAINSHOCK_LOCATION[0])
    lon0 = np.where(is_visso, VISSO_LOCATION[1], MAINSHOCK_LOCATION[1])
    east = np.where(is_visso, east / 4, east)  # the Visso cluster is compact
    north = np.where(is_visso, north / 4, north)
    lat = lat0 + north / _KM_PER_DEG
    lon = lon0 + east / (_KM_PER_DEG * np.cos(np.deg2rad(lat0)))
    return pd.DataFrame({
        "source_id": [str(900000001 + i) for i in range(n_events)],
        "time_to_mainshock_days": days,
        "visso_cluster": is_visso,
        "source_latitude_deg": lat, "source_longitude_deg": lon,
        "source_depth_km": rng.uniform(*s.depth_range_km, n_events),
        "source_magnitude": wf.gutenberg_richter(rng, n_events, *s.magnitude_range, s.b_value),
    })


def _iso(t: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _norcia_chunks(n_events: int, seed: int, stations: tuple[str, ...],
                   s: NorciaSettings) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
    cat = _catalogue(n_events, seed, s)
    rng = np.random.default_rng([seed, 21])
    rec = rng.random((n_events, len(stations))) < s.station_probability
    rec[np.arange(n_events), rng.integers(0, len(stations), n_events)] |= ~rec.any(axis=1)
    ev, st = np.nonzero(rec)  # event-major: sorted by time, then station order
    tr = cat.iloc[ev].reset_index(drop=True)
    sta = np.asarray(stations)[st]
    slat = np.array([NORCIA_STATIONS[x][0] for x in sta])
    slon = np.array([NORCIA_STATIONS[x][1] for x in sta])
    dn = (tr.source_latitude_deg.to_numpy() - slat) * _KM_PER_DEG
    de = (tr.source_longitude_deg.to_numpy() - slon) * _KM_PER_DEG * np.cos(np.deg2rad(slat))
    tr["source_distance_km"] = np.hypot(dn, de)
    r = np.hypot(tr.source_distance_km.to_numpy(), tr.source_depth_km.to_numpy())
    origin = MAINSHOCK_TIME + pd.to_timedelta(tr.time_to_mainshock_days.to_numpy(), unit="D")
    p_travel = r / s.vp_km_s
    tr["source_origin_time"] = _iso(origin)
    tr["trace_start_time"] = _iso(origin + pd.to_timedelta(p_travel - 5.0, unit="s"))
    tr["p_travel_sec"] = p_travel
    tr["station_code"] = sta
    tr["station_network_code"] = "IV"
    tr["station_latitude_deg"], tr["station_longitude_deg"] = slat, slon
    tr["trace_name"] = [f"{a}.IV.{b}_EV" for a, b in zip(sta, tr.source_id)]
    tr["trace_sampling_rate_hz"] = 100.0
    tr["trace_p_arrival_sample"] = 500
    tr["period"] = np.where(tr.time_to_mainshock_days < 0, "pre", "post")
    tr["label"] = (tr.time_to_mainshock_days >= 0).astype(np.int64)
    trend = planted_band_gain(cat.time_to_mainshock_days.to_numpy(), s)
    scatter = np.exp(s.band_gain_scatter * np.random.default_rng([seed, 23]).standard_normal(n_events))
    tr["planted_band_gain_trend"] = trend[ev]
    tr["planted_band_gain"] = (trend * scatter)[ev]  # one gain per event, shared by its stations
    tr["planted_band_low_hz"], tr["planted_band_high_hz"] = PLANTED_BAND_HZ
    tr["planted_band_hz"] = f"{PLANTED_BAND_HZ[0]:g}-{PLANTED_BAND_HZ[1]:g}"
    phys = s.physics()
    fs, t_len = 100.0, 2500
    freqs = wf.frequencies(t_len, fs)
    band = wf.band_response(freqs, *PLANTED_BAND_HZ, s.band_taper_hz)[0]
    n = len(tr)
    s_sample = np.full(n, np.nan)
    for c, lo in enumerate(range(0, n, CHUNK_SIZE)):
        crng = np.random.default_rng([seed, 22, c])
        hi = min(lo + CHUNK_SIZE, n)
        part = tr.iloc[lo:hi]
        noise, truth = background_noise(crng, hi - lo, t_len, fs, phys)
        gain = 1.0 + (part.planted_band_gain.to_numpy()[:, None] - 1.0) * band[None, :]
        scale = np.ones(hi - lo)
        if s.preserve_energy:
            scale = energy_scale(gain, part.source_magnitude.to_numpy(), r[lo:hi], freqs, s)
            gain = gain * scale[:, None]
        sig, st_truth = earthquake_signals(crng, t_len, fs, np.full(hi - lo, 500.0),
                                           part.source_magnitude.to_numpy(), part.source_distance_km.to_numpy(),
                                           part.source_depth_km.to_numpy(), truth["noise_rms"], phys, band_gain=gain)
        s_sample[lo:hi] = st_truth["s_sample"]
        meta = part.copy()
        meta["trace_s_arrival_sample"] = st_truth["s_sample"]
        meta["source_corner_frequency_hz"] = st_truth["corner_hz"]
        meta["noise_rms_um"] = truth["noise_rms"]
        meta["planted_energy_scale"] = scale
        yield (noise + sig).astype(np.float32), meta.reset_index(drop=True)


def norcia_data(n_events: int = 200, *, seed: int = 0, stations: tuple[str, ...] = tuple(NORCIA_STATIONS),
                settings: NorciaSettings = NorciaSettings(), path: str | os.PathLike | None = None,
                block_size: int = 1024):
    """Pre/post-mainshock traces of the Norcia sequence with a planted 30–40 Hz change.

    Args:
        n_events: number of events; each is recorded by a random subset of ``stations``
            (``settings.station_probability``), so the trace count is larger.
        seed: same seed → identical arrays and metadata.
        stations: station codes, a subset of ``NORCIA_STATIONS``.
        settings: catalogue and physics settings, see ``NorciaSettings``.
        path: if given, write a waveform store there (streamed) and return only the metadata.
        block_size: traces per HDF5 block when writing a store.

    Returns:
        ``(waveforms (N, 2500, 3) float32 in E, N, Z, metadata)`` (metadata only with
        ``path``), rows ordered by origin time, then station. Metadata: ``source_id``,
        ``source_origin_time``, ``trace_start_time`` (P − 5 s), ``station_code``,
        ``station_network_code`` ("IV"), ``station_latitude_deg``/``_longitude_deg``,
        ``source_magnitude``, ``source_latitude_deg``, ``source_longitude_deg``,
        ``source_depth_km``, ``source_distance_km``, ``p_travel_sec``, ``trace_p_arrival_sample``
        (500), ``trace_s_arrival_sample``, ``trace_sampling_rate_hz``, ``period`` ("pre"/"post"),
        ``label`` (0 pre, 1 post), ``time_to_mainshock_days`` (signed), ``visso_cluster``,
        ``planted_band_gain`` (``g`` of the event), ``planted_band_gain_trend`` (its time trend,
        ``planted_band_gain`` without the scatter), ``planted_energy_scale`` (``k``; 1 without
        ``preserve_energy``), ``planted_band_low_hz``/``_high_hz``/``planted_band_hz``,
        ``source_corner_frequency_hz``, ``noise_rms_um``, ``trace_name`` (``STA.IV.<id>_EV``).
    """
    if n_events < 2:
        raise ValueError(f"norcia_data: n_events={n_events} (expected at least 2: one pre, one post)")
    unknown = [x for x in stations if x not in NORCIA_STATIONS]
    if unknown or not stations:
        raise ValueError(f"norcia_data: stations {unknown or '()'} (expected a subset of {sorted(NORCIA_STATIONS)})")
    chunks = _norcia_chunks(n_events, seed, tuple(stations), settings)
    if path is not None:
        return write_chunks(path, chunks, sampling_rate=100.0, component_order=COMPONENT_ORDER, block_size=block_size)
    return collect_chunks(chunks)
