"""Tests of seis_keras.data.synthetic: reproducibility, layout, and the planted physics measured
by independent computations (STA/LTA, energy ratios, Welch spectra, least squares)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.signal as ss
from obspy.signal.trigger import classic_sta_lta

from seis_keras.data.store import WaveformStore
from seis_keras.data.synthetic import (FEATURE_COLUMNS, PLANTED_COEFFICIENTS, PLANTED_FEATURES, DetectorPhysics,
                                       NorciaSettings, PrecursorSettings, detector_continuous, detector_data,
                                       norcia_data, planted_band_gain, precursor_data, subduction_rule,
                                       subduction_table)
from seis_keras.data.synthetic.norcia import seismic_clock

# ----------------------------------------------------------------------------- detector


# the clean windows (realism=None); the realistic default is tested in test_synthetic_realistic.py


@pytest.fixture(scope="module")
def detector():
    return detector_data(1200, seed=11, realism=None)


def test_detector_reproducible_and_seed_dependent():
    w1, m1 = detector_data(150, seed=3, realism=None)
    w2, m2 = detector_data(150, seed=3, realism=None)
    w3, _ = detector_data(150, seed=4, realism=None)
    assert np.array_equal(w1, w2)
    pd.testing.assert_frame_equal(m1, m2)
    assert not np.allclose(w1, w3)


def test_detector_layout(detector):
    w, m = detector
    assert w.shape == (1200, 500, 3) and w.dtype == np.float32 and np.isfinite(w).all()
    for col in ("label", "trace_category", "trace_p_arrival_sample", "trace_s_arrival_sample", "source_magnitude",
                "source_distance_km", "trace_name", "split", "coda_end_sample", "trace_start_time"):
        assert col in m.columns, col
    assert 0.42 < m.label.mean() < 0.54  # ~48% earthquakes
    assert m.split.value_counts().to_dict() == {"train": 960, "dev": 120, "test": 120}
    eq, noise = m[m.label == 1], m[m.label == 0]
    assert (eq.trace_category == "earthquake_local").all() and (noise.trace_category == "noise").all()
    assert noise.trace_p_arrival_sample.isna().all() and noise.trace_s_arrival_sample.isna().all()
    assert eq[["trace_p_arrival_sample", "trace_s_arrival_sample", "source_magnitude"]].notna().all().all()
    assert (eq.trace_s_arrival_sample < 500).all() and (eq.trace_p_arrival_sample >= 20).all()
    assert m.trace_name.is_unique


def _highpass(x, fs, f=1.0):
    """Causal high-pass (a zero-phase filter would smear energy ahead of the onsets)."""
    sos = ss.butter(4, f, "highpass", fs=fs, output="sos")
    return ss.sosfilt(sos, x, axis=0)


def test_detector_p_onset_found_by_sta_lta(detector):
    w, m = detector
    eq = m[(m.label == 1) & (m.trace_p_arrival_sample >= 80)
           & (m.signal_amplitude_um * DetectorPhysics().p_to_s_ratio[0] > 10 * m.noise_rms_um)]
    assert len(eq) > 50
    errors = []
    for i, row in eq.iterrows():
        z = _highpass(w[i, :, 2].astype(float), 20.0)
        cf = classic_sta_lta(z, 5, 60)  # 0.25 s / 3 s; the ratio can reach 12
        onset = 60 + int(np.argmax(cf[60:] > 4.0))
        errors.append(onset - row.trace_p_arrival_sample)
    errors = np.asarray(errors)
    assert np.median(np.abs(errors)) <= 3
    assert np.mean((errors >= -2) & (errors <= 10)) > 0.85


def test_detector_s_minus_p_follows_distance_and_polarisation(detector):
    w, m = detector
    phys = DetectorPhysics()
    eq = m[(m.label == 1) & (m.signal_amplitude_um > 20 * m.noise_rms_um)]
    sp_est, r, h_over_z_p, h_over_z_s = [], [], [], []
    for i, row in eq.iterrows():
        x = _highpass(w[i].astype(float), 20.0)
        horiz = (x[:, :2] ** 2).sum(axis=1)
        p, s = int(row.trace_p_arrival_sample), int(np.ceil(row.trace_s_arrival_sample))
        # S pick: the largest jump of horizontal energy (1 s after over 1 s before), after P + 1 s
        c = np.concatenate([[0.0], np.cumsum(horiz)])
        t = np.arange(p + 20, 490)
        ratio = (c[t + 10] - c[t]) / (c[t] - c[t - 10] + 1e-12)
        sp_est.append((t[np.argmax(ratio)] - p) / 20.0)
        r.append(row.source_hypocentral_distance_km)
        if s - p >= 20:
            h_over_z_p.append(horiz[p:s].mean() / 2 / (x[p:s, 2] ** 2).mean())
        h_over_z_s.append(horiz[s:s + 20].mean() / 2 / (x[s:s + 20, 2] ** 2).mean())
    sp_est, r = np.asarray(sp_est), np.asarray(r)
    slope = np.polyfit(r, sp_est, 1)[0]
    expected = 1.0 / phys.vs_km_s - 1.0 / phys.vp_km_s
    assert abs(slope - expected) / expected < 0.15, (slope, expected)
    assert np.corrcoef(r, sp_est)[0, 1] > 0.9
    assert np.median(h_over_z_p) < 0.7  # P strongest on Z
    assert np.median(h_over_z_s) > 1.5  # S strongest on the horizontals


def test_detector_amplitude_and_spectrum_follow_magnitude(detector):
    w, m = detector
    eq = m[(m.label == 1) & (m.signal_amplitude_um > 10 * m.noise_rms_um)]
    idx = eq.index.to_numpy()
    peak = np.log10(np.abs(w[idx]).max(axis=(1, 2)))
    design = np.column_stack([eq.source_magnitude, np.log10(eq.source_hypocentral_distance_km), np.ones(len(eq))])
    coef = np.linalg.lstsq(design, peak, rcond=None)[0]
    assert 0.75 < coef[0] < 1.25  # log amplitude grows one decade per magnitude unit
    assert coef[1] < -0.5  # and decays with distance

def test_detector_corner_frequency_follows_magnitude():
    # Brune: bigger events have lower corner frequencies -> lower spectral centroid (fixed distance)
    phys = DetectorPhysics(distance_range_km=(30.0, 30.01), magnitude_range=(1.5, 4.0), b_value=0.0)
    w, m = detector_data(150, seed=9, earthquake_fraction=1.0, physics=phys, realism=None)
    centroid = []
    for i, row in m.iterrows():
        s = int(np.ceil(row.trace_s_arrival_sample))
        seg = w[i, s:s + 40, :2].astype(float)
        f, p = ss.periodogram(seg, fs=20.0, axis=0)
        p = p.sum(axis=1)
        centroid.append((f * p).sum() / p.sum())
    rho = pd.Series(centroid).corr(m.source_magnitude, method="spearman")
    assert rho < -0.5


def test_detector_coda_decays_and_glitches_are_where_recorded(detector):
    w, m = detector
    eq = m[(m.label == 1) & (m.signal_amplitude_um > 30 * m.noise_rms_um) & (m.trace_s_arrival_sample < 420)]
    early, late = [], []
    for i, row in eq.iterrows():
        s = int(np.ceil(row.trace_s_arrival_sample))
        early.append(np.sqrt((w[i, s + 5:s + 30] ** 2).mean()))
        late.append(np.sqrt((w[i, s + 55:s + 80] ** 2).mean()))
    assert np.mean(np.asarray(late) < np.asarray(early)) > 0.9
    gl = m[m.glitch_sample.notna()]
    assert 0.01 < len(gl) / len(m) < 0.12
    for i, row in gl.iterrows():
        j = int(row.glitch_sample)
        assert np.abs(w[i, j]).max() > 4 * row.noise_rms_um


def test_detector_store_round_trip(tmp_path):
    meta = detector_data(40, seed=2, path=tmp_path / "det", block_size=16, realism=None)
    w, m = detector_data(40, seed=2, realism=None)
    with WaveformStore(tmp_path / "det") as store:
        assert len(store) == 40 and store.sampling_rate == 20.0 and store.component_order == "ENZ"
        assert np.array_equal(store.get_waveforms(np.arange(40)), w)
        assert list(store.metadata.trace_name_original) == list(m.trace_name)
        assert np.array_equal(store.metadata.label.to_numpy(), m.label.to_numpy())
    pd.testing.assert_frame_equal(meta, m)


def test_detector_bad_input():
    with pytest.raises(ValueError, match="earthquake_fraction"):
        detector_data(10, earthquake_fraction=1.5)
    with pytest.raises(ValueError, match="n=0"):
        detector_data(0)


def test_detector_continuous_events_at_recorded_times():
    st, ev = detector_continuous(900.0, 6, seed=4)
    st2, ev2 = detector_continuous(900.0, 6, seed=4)
    assert np.array_equal(st[2].data, st2[2].data) and ev.equals(ev2)
    assert [tr.stats.channel for tr in st] == ["HHE", "HHN", "HHZ"]
    assert all(tr.stats.sampling_rate == 100.0 and tr.stats.npts == 90000 for tr in st)
    assert len(ev) == 6 and (np.diff(ev.p_sample) >= 90 * 100).all()
    z = _highpass(st.select(channel="HHZ")[0].data.astype(float), 100.0)
    cf = classic_sta_lta(z, 50, 500)
    for p in ev.p_sample:
        onset = p - 300 + int(np.argmax(cf[p - 300:p + 300] > 4.0))
        assert -5 <= onset - p <= 50, (onset, p)
    from obspy import UTCDateTime
    assert UTCDateTime(ev.p_time[0]) == st[0].stats.starttime + ev.p_sample[0] / 100.0
    with pytest.raises(ValueError, match="do not fit"):
        detector_continuous(100.0, 5, seed=0)


# ----------------------------------------------------------------------------- norcia


def test_norcia_layout_and_catalogue():
    w, m = norcia_data(40, seed=1)
    w2, m2 = norcia_data(40, seed=1)
    w3, _ = norcia_data(40, seed=2)
    assert np.array_equal(w, w2) and m.equals(m2) and not np.array_equal(w[:5], w3[:5])
    assert w.shape == (len(m), 2500, 3) and w.dtype == np.float32
    assert (m.trace_p_arrival_sample == 500).all() and (m.station_network_code == "IV").all()
    assert m.groupby("source_id").size().max() > 1  # several stations per event
    assert m.groupby("source_id").station_code.apply(lambda s: s.is_unique).all()
    assert ((m.label == 1) == (m.period == "post")).all()
    assert ((m.time_to_mainshock_days >= 0) == (m.period == "post")).all()
    assert m.time_to_mainshock_days.abs().max() <= 60 and (m.source_depth_km > 2).all()
    origin = pd.to_datetime(m.source_origin_time)
    start = pd.to_datetime(m.trace_start_time)
    np.testing.assert_allclose((start - origin).dt.total_seconds(), m.p_travel_sec - 5.0, atol=1e-3)
    visso = m[m.visso_cluster]
    assert len(visso) and (pd.to_datetime(visso.source_origin_time) >= pd.Timestamp("2016-10-26", tz="UTC")).all()
    assert (m.period[m.visso_cluster] == "pre").all()
    assert set(m.station_code) <= {"FDMO", "MC2", "MMO1", "NRCA", "T1212", "T1213", "T1214", "T1216", "T1244"}
    # P onset at sample 500: energy jumps there
    before = (w[:, 400:495] ** 2).mean(axis=(1, 2))
    after = (w[:, 500:595] ** 2).mean(axis=(1, 2))
    assert np.median(after / before) > 5  # the planted change moves energy between bands (issue 14), adds none
    with pytest.raises(ValueError, match="stations"):
        norcia_data(10, stations=("XXXX",))


def _band_power(w, lo, hi):
    f, p = ss.welch(w[:, 500:1500, :].astype(float), fs=100.0, nperseg=256, axis=1)
    band = (f >= lo) & (f <= hi)
    return p[:, band].sum(axis=(1, 2))


def test_norcia_planted_band_change_at_fixed_magnitude():
    settings = NorciaSettings(magnitude_range=(2.0, 2.001))
    w, m = norcia_data(160, seed=5, stations=("NRCA",), settings=settings)
    post = m.label.to_numpy() == 1
    hi = _band_power(w, 30.0, 40.0)
    lo = _band_power(w, 1.0, 10.0)
    # the planted size, measured: the 30-40 Hz / 1-10 Hz power ratio changes by the planted g^2 (geometric
    # means; the noise, not gained, dilutes it a little)
    log_g2 = 2 * np.log(m.planted_band_gain.to_numpy())
    planted = np.exp(log_g2[post].mean() - log_g2[~post].mean())
    measured = np.exp(np.log(hi / lo)[post].mean() - np.log(hi / lo)[~post].mean())
    assert 0.7 * planted < measured < 1.1 * planted, (measured, planted)
    assert 0.7 < np.median(lo[post]) / np.median(lo[~post]) < 1.2  # below the band: only k (energy kept)
    # the change evolves with time to failure: the measured high/low band ratio follows the planted gain
    rho = pd.Series(hi / lo).corr(m.planted_band_gain, method="spearman")
    assert rho > 0.5
    pre = m[~post].sort_values("time_to_mainshock_days")
    assert np.all(np.diff(pre.planted_band_gain_trend) >= 0)  # smooth ramp within the pre period


def _signal_only(settings, **kw):
    """Traces with (almost) no noise: the signal's own spectrum."""
    return norcia_data(kw.pop("n", 60), seed=kw.pop("seed", 4), stations=("NRCA",),
                       settings=dataclasses.replace(settings, noise_rms_um=1e-7), **kw)


def test_norcia_planted_size_measured_against_the_same_events_without_it():
    """Same seed with and without the planted gain: identical random draws, so the ratio of the two
    signals' spectra is the planted response: ``g k`` inside 31-39 Hz, ``k`` below 25 Hz, equal energy."""
    s = NorciaSettings()
    w, m = _signal_only(s)
    w1, m1 = _signal_only(dataclasses.replace(s, band_gain_pre=(1.0, 1.0), band_gain_post=(1.0, 1.0),
                                              band_gain_scatter=0.0))
    assert (m1.planted_band_gain == 1).all() and np.allclose(m1.planted_energy_scale, 1.0)
    f = np.fft.rfftfreq(2500, 0.01)
    spec, spec1 = (np.abs(np.fft.rfft(x.astype(float), axis=1)) ** 2 for x in (w, w1))

    def ratio(lo, hi):
        b = (f >= lo) & (f <= hi)
        return np.sqrt(spec[:, b].sum(axis=(1, 2)) / spec1[:, b].sum(axis=(1, 2)))

    g, k = m.planted_band_gain.to_numpy(), m.planted_energy_scale.to_numpy()
    # (the envelopes smear each carrier's spectrum by ~1 Hz: a little leakage across the band edges)
    for measured, planted in ((ratio(32.0, 38.0), g * k), (ratio(0.5, 25.0), k)):
        err = np.abs(measured / planted - 1.0)
        assert np.median(err) < 0.02 and np.quantile(err, 0.9) < 0.06, err
    # energy preserved: the planted change moves power between bands, it adds none
    energy = (w.astype(float) ** 2).sum(axis=(1, 2)) / (w1.astype(float) ** 2).sum(axis=(1, 2))
    assert abs(np.median(energy) - 1.0) < 0.01 and np.quantile(np.abs(energy - 1.0), 0.9) < 0.15  # realisations scatter
    trend = m.planted_band_gain_trend.to_numpy()
    assert trend[m.label == 1].min() > trend[m.label == 0].max()  # the trend: post always richer in 30-40 Hz
    # the event-to-event scatter around the trend, one value per event
    scatter = np.log(g / trend)
    assert m.assign(s=scatter).groupby("source_id").s.nunique().max() == 1



def test_norcia_classes_matched_in_amplitude_and_noise():
    """The only class cue is spectral shape: magnitude, distance, noise and signal amplitude are
    drawn alike (two-sample KS tests; the generator before issue 14 made post traces ~1.3x louder
    at fixed magnitude)."""
    from scipy.stats import ks_2samp

    w, m = norcia_data(300, seed=6, stations=("NRCA",))
    post = (m.label == 1).to_numpy()
    signal_rms = np.log10(np.sqrt((w[:, 500:1500].astype(float) ** 2).mean(axis=(1, 2))))
    for values in (m.source_magnitude, m.source_distance_km, np.log10(m.noise_rms_um), signal_rms):
        assert ks_2samp(np.asarray(values)[post], np.asarray(values)[~post]).pvalue > 0.05
    fixed = NorciaSettings(magnitude_range=(2.0, 2.001))
    wf_, mf = norcia_data(160, seed=5, stations=("NRCA",), settings=fixed)
    rms = np.sqrt((wf_[:, 500:1500].astype(float) ** 2).mean(axis=(1, 2)))
    ratio = np.median(rms[mf.label == 1]) / np.median(rms[mf.label == 0])
    assert 0.9 < ratio < 1.1, ratio


def test_norcia_gain_clock_spaces_equal_count_classes_evenly():
    """On the seismic clock the catalogue's events are uniform in each period, so the 4-class
    chunks (equal event counts, chronological) see evenly spaced log-gains."""
    s = NorciaSettings()
    _, m = norcia_data(2000, seed=3, stations=("NRCA",))
    u = seismic_clock(m.time_to_mainshock_days.to_numpy(), s)
    for period in (0, 1):
        q = np.quantile(u[m.label == period], [0.25, 0.5, 0.75])
        np.testing.assert_allclose(q, [0.25, 0.5, 0.75], atol=0.04)
    scatter = np.log(m.planted_band_gain / m.planted_band_gain_trend).groupby(m.source_id).first()
    np.testing.assert_allclose(scatter.std(), s.band_gain_scatter, rtol=0.1, atol=1e-12)
    assert abs(scatter.mean()) < 3 * s.band_gain_scatter / np.sqrt(len(scatter)) + 1e-12
    lg = np.log(m.planted_band_gain_trend.to_numpy())
    pre = np.sort(lg[m.label == 0])
    halves = [h.mean() for h in np.array_split(pre, 2)]
    np.testing.assert_allclose(np.diff(halves), 0.5 * np.diff(np.log(s.band_gain_pre)), rtol=0.1)
    days = planted_band_gain(np.array([-30.0]), dataclasses.replace(s, gain_clock="days"))
    np.testing.assert_allclose(days, np.sqrt(np.prod(s.band_gain_pre)), rtol=1e-9)
    with pytest.raises(ValueError, match="gain_clock"):
        planted_band_gain(np.zeros(1), dataclasses.replace(s, gain_clock="hours"))


def test_norcia_store(tmp_path):
    meta = norcia_data(6, seed=3, path=tmp_path / "norcia")
    with WaveformStore(tmp_path / "norcia") as store:
        assert len(store) == len(meta) and store.sampling_rate == 100.0
        assert store.get_waveforms(0).shape == (2500, 3)
        assert list(store.metadata.source_id.astype(str)) == list(meta.source_id)


# ----------------------------------------------------------------------------- precursor

SMALL = PrecursorSettings(hours=0.5, onset_hours=0.3, tremor_snr=3.0)


def _tremor_growth(x, band, fs=40.0, part=5):
    n = x.shape[0] // part
    out = []
    for seg in (x[:n], x[-n:]):
        f, p = ss.welch(seg.astype(float), fs=fs, nperseg=4096, axis=0)
        out.append(p[(f >= band[0]) & (f <= band[1])].sum())
    return out[1] / out[0]


def test_precursor_tremor_grows_before_events_only():
    w, m = precursor_data(4, seed=2, settings=SMALL)
    assert w.shape == (8, 72000, 3) and w.dtype == np.float32
    assert list(m.record_kind) == ["event"] * 4 + ["noise"] * 4
    growth = np.array([_tremor_growth(w[i], SMALL.tremor_band) for i in range(len(m))])
    event = (m.record_kind == "event").to_numpy()
    assert (growth[event] > 2.5).all(), growth
    assert (growth[~event] < 2.0).all(), growth
    assert (m.tremor_final_rms[~event] == 0).all() and m.tremor_onset_sample[~event].isna().all()
    assert (m.tremor_onset_sample[event] == 72000 - 0.3 * 3600 * 40).all()
    # the tremor sits in its band: no growth in a control band above it
    control = np.array([_tremor_growth(w[i], (0.5, 1.0)) for i in np.flatnonzero(event)])
    assert (control < 2.0).all()


def test_precursor_planted_tremor_size_measured():
    """Same seed with and without the tremor: the difference is the tremor alone; its RMS follows the
    planted linear ramp up to ``tremor_snr`` x the background's band RMS, and it lies in its band."""
    settings = dataclasses.replace(SMALL, hours=2.0, onset_hours=1.8)  # long enough for a 3 % RMS estimate
    w, m = precursor_data(2, seed=3, settings=settings)
    w0, _ = precursor_data(2, seed=3, settings=dataclasses.replace(settings, tremor_snr=0.0))
    fs, band = settings.sampling_rate, settings.tremor_band
    for i in np.flatnonzero((m.record_kind == "noise").to_numpy()):
        assert np.array_equal(w[i], w0[i])  # noise records carry no tremor
    for i in np.flatnonzero((m.record_kind == "event").to_numpy()):
        tremor = (w[i] - w0[i]).astype(float)
        onset = int(m.tremor_onset_sample.iat[i])
        assert np.abs(tremor[:onset]).max() == 0
        # background RMS in the band, measured independently (Welch) on the tremor-free record
        f, p = ss.welch(w0[i].astype(float), fs=fs, nperseg=8192, axis=0)
        sel = (f >= band[0]) & (f <= band[1])
        background_band_rms = np.sqrt(p[sel].sum(axis=0).mean() * (f[1] - f[0]))
        n_ramp = len(tremor) - onset
        ramp = (np.arange(n_ramp) + 1.0) / n_ramp  # tremor = final RMS x ramp x unit noise
        measured = np.sqrt((tremor[onset:] ** 2).mean() / (ramp ** 2).mean())
        np.testing.assert_allclose(measured / background_band_rms, settings.tremor_snr, rtol=0.2)
        np.testing.assert_allclose(measured, m.tremor_final_rms.iat[i], rtol=0.1)
        np.testing.assert_allclose(m.tremor_final_rms.iat[i], m.tremor_snr.iat[i] * m.background_band_rms.iat[i])
        spec = np.abs(np.fft.rfft(tremor[onset:], axis=0)) ** 2
        fr = np.fft.rfftfreq(n_ramp, 1.0 / fs)
        inside = (fr >= band[0] - 0.01) & (fr <= band[1] + 0.01)
        assert spec[inside].sum() / spec.sum() > 0.95


def test_precursor_one_station_background():
    """One station: every record's background shape scatters a little around the station's (metadata),
    so the tremor band's share of power in tremor-free records is stable from record to record (Welch),
    unlike independent draws from the whole ranges (mode B compares records: issue 14)."""
    short = dataclasses.replace(SMALL, hours=0.25, onset_hours=0.1)

    def band_share_spread(settings):
        w, m = precursor_data(8, seed=4, settings=settings)
        f, p = ss.welch(w[:, : int(0.15 * 3600 * 40)].astype(float), fs=40.0, nperseg=4096, axis=1)
        band = (f >= 0.16) & (f <= 0.21)
        share = p[:, band].sum(axis=(1, 2)) / p[:, f > 0].sum(axis=(1, 2))  # before any tremor
        return np.log10(share).std(), m

    station, m = band_share_spread(short)
    independent, m_ind = band_share_spread(dataclasses.replace(short, station_background=False))
    assert station < 0.5 * independent, (station, independent)
    lo, hi = short.microseism_secondary_hz
    assert m.microseism_secondary_hz.std() < 2 * short.record_jitter * (hi - lo)
    assert m_ind.microseism_secondary_hz.std() > 0.15 * (hi - lo)


def test_precursor_default_ten_hours_last_hour_vs_first_hour():
    from seis_keras.data.synthetic import precursor_records

    growth = {}
    for x, meta in precursor_records(1, seed=5):  # the paper's 10 h at 40 Hz: one event, one noise record
        assert x.shape == (10 * 3600 * 40, 3)
        growth[meta["record_kind"]] = _tremor_growth(x, (0.16, 0.21), part=10)
    assert growth["event"] > 2.5 and growth["noise"] < 1.6, growth


def test_precursor_schedule_and_reproducibility():
    settings = PrecursorSettings(hours=0.01, onset_hours=0.005)
    w1, m = precursor_data(31, seed=7, settings=settings)
    w2, m2 = precursor_data(31, seed=7, settings=settings)
    w3, _ = precursor_data(31, seed=8, settings=settings)
    assert np.array_equal(w1, w2) and m.equals(m2) and not np.array_equal(w1, w3)
    ev, no = m[m.record_kind == "event"], m[m.record_kind == "noise"]
    assert (ev.split == "test").sum() == 7 and (ev.split == "train").sum() == 24
    assert (no.split == "test").sum() == 7
    def times(col):
        return pd.to_datetime(col).dt.tz_localize(None).to_numpy()

    origins = times(ev.source_origin_time)
    ev_start = times(ev.trace_start_time)
    assert np.all((origins - ev_start) == np.timedelta64(36, "s"))
    hours = np.timedelta64(3600, "s")
    for start in times(no.trace_start_time):
        gap_before = (start - origins) / hours
        gap_after = (origins - (start + np.timedelta64(36, "s"))) / hours
        assert np.all((gap_before >= 48) | (gap_after >= 48))


def test_precursor_store_streams_records(tmp_path):
    settings = PrecursorSettings(hours=0.05, onset_hours=0.02)
    meta = precursor_data(2, seed=1, settings=settings, path=tmp_path / "pre")
    w, m = precursor_data(2, seed=1, settings=settings)
    with WaveformStore(tmp_path / "pre") as store:
        assert len(store) == 4 and store.component_order == "12Z" and store.sampling_rate == 40.0
        assert np.array_equal(store.get_waveforms(3), w[3])
    assert list(meta.record_kind) == list(m.record_kind)


def test_precursor_bad_settings():
    with pytest.raises(ValueError, match="onset_hours"):
        precursor_data(1, settings=PrecursorSettings(hours=1.0, onset_hours=2.0))
    with pytest.raises(ValueError, match="tremor_band"):
        precursor_data(1, settings=PrecursorSettings(hours=0.01, onset_hours=0.0, tremor_band=(0.3, 0.2)))


# ----------------------------------------------------------------------------- subduction


def test_subduction_columns_match_real_tables(shared_data):
    header = pd.read_csv(shared_data / "subduction" / "alu.csv", index_col=0, nrows=1).columns
    table = subduction_table(5, regions=("alu", "cam"), seed=0)
    assert list(table.columns) == [c for c in header if c != "MR_GCMT"] + ["MR_GCMT", "region", "along_strike_km"]


def test_subduction_table_layout_and_rule():
    t = subduction_table(seed=3)
    assert len(FEATURE_COLUMNS) == 49 and list(t.columns[:49]) == list(FEATURE_COLUMNS)
    assert len(t) == 591 and t.groupby("region").size().to_dict()["sam"] == 124
    assert t.equals(subduction_table(seed=3)) and not t.equals(subduction_table(seed=4))
    assert t.attrs["planted_features"] == list(PLANTED_FEATURES)
    for _, g in t.groupby("region"):
        assert np.all(np.diff(g.along_strike_km) == 50.0)
        assert np.log(g.SED_AVE).autocorr(1) > 0.6  # smooth along strike
    assert (t.SED_AVE > 0).all() and (t.AGE > 0).all()
    no_event = t.MR_GCMT <= 1
    assert 0.02 < no_event.mean() < 0.4 and (t.MR_GCMT[~no_event] >= 6.4).all() and t.MR_GCMT.max() <= 9.6
    # the rule reproduces MR_GCMT
    rule = subduction_rule(t)
    assert np.corrcoef(rule[~no_event], t.MR_GCMT[~no_event])[0, 1] > 0.9
    assert rule[no_event].mean() < rule[~no_event].mean() - 1.0
    # independent least squares on standardised log features recovers the planted coefficients
    inner = t[(t.MR_GCMT > 6.9) & (t.MR_GCMT < 9.5)]
    x = {}
    for c in FEATURE_COLUMNS:
        v = np.log(inner[c]) if (t[c] > 0).all() else inner[c]
        x[c] = (v - v.mean()) / v.std()
    design = np.column_stack([x[c] for c in FEATURE_COLUMNS] + [np.ones(len(inner))])
    coef = dict(zip(FEATURE_COLUMNS, np.linalg.lstsq(design, inner.MR_GCMT.to_numpy(), rcond=None)[0]))
    ranked = sorted(FEATURE_COLUMNS, key=lambda c: -abs(coef[c]))
    assert set(ranked[:3]) == set(PLANTED_FEATURES), [(c, round(coef[c], 2)) for c in ranked[:5]]
    for c, k in PLANTED_COEFFICIENTS.items():
        assert np.sign(coef[c]) == np.sign(k)


def test_subduction_bad_input():
    with pytest.raises(ValueError, match="n_segments_per_region"):
        subduction_table({"alu": 3}, regions=("alu", "cam"))
    with pytest.raises(ValueError, match="SED_AVE"):
        subduction_rule(pd.DataFrame({"V_TN": [1.0]}))
