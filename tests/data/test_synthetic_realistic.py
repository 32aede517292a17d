"""Tests of the realistic detector windows (seis_keras.data.synthetic.realistic and the modules it uses):
each planted property measured in generated data by an independent computation (Welch spectra
against obspy's Peterson models, obspy's own poles-and-zeros response, energy ratios, rates)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.signal as ss
import scipy.stats as st
from obspy.signal.invsim import corn_freq_2_paz, paz_to_freq_resp
from obspy.signal.spectral_estimation import get_nhnm, get_nlnm

from seis_keras.data.store import WaveformStore
from seis_keras.data.synthetic import (DetectorRealism, InstrumentSettings, NoiseSettings, TransientSettings,
                                       detector_data)
from seis_keras.data.synthetic.instruments import draw_instruments, instrument_response, paz_response
from seis_keras.data.synthetic.noise_models import ground_noise, noise_bursts

FS, T = 20.0, 500
QUIET = NoiseSettings(modulation_probability=0.0, line_probability=0.0, burst_probability=0.0)


@pytest.fixture(scope="module")
def windows():
    return detector_data(1500, seed=21)


def _peterson(freqs):
    out = []
    for model in (get_nlnm, get_nhnm):
        p, db = model()
        o = np.argsort(p)
        out.append(np.interp(np.log10(1 / freqs), np.log10(p[o]), db[o]))
    return out


def _accel_psd_db(velocity, fs=FS, nperseg=128):
    """Welch PSD of ground velocity ``(..., T)`` -> acceleration dB rel. 1 (m/s²)²/Hz."""
    f, p = ss.welch(velocity, fs=fs, nperseg=nperseg, detrend="linear", axis=-1)
    keep = f > 0
    return f[keep], 10 * np.log10(p[..., keep] * (2 * np.pi * f[keep]) ** 2)


def _clean(m, *extra):
    """Rows with no transient, burst or drift (and the extra conditions)."""
    ok = (m.transient_kinds == "") & (m.n_noise_bursts == 0) & (m.drift_noise_ratio == 0)
    for e in extra:
        ok &= e
    return m[ok]


# ----------------------------------------------------------------------------- reproducibility, layout


def test_reproducible_seed_dependent_and_streams_to_a_store(tmp_path):
    w1, m1 = detector_data(300, seed=3)
    w2, m2 = detector_data(300, seed=3)
    w3, _ = detector_data(300, seed=4)
    assert np.array_equal(w1, w2) and not np.allclose(w1, w3)
    pd.testing.assert_frame_equal(m1, m2)
    meta = detector_data(300, seed=3, path=tmp_path / "det", block_size=64)
    with WaveformStore(tmp_path / "det") as store:
        assert np.array_equal(store.get_waveforms(np.arange(300)), w1)
        assert np.array_equal(store.metadata.label.to_numpy(), m1.label.to_numpy())
    pd.testing.assert_frame_equal(meta, m1)
    # the labels, splits and start times are those of the clean generator (same seed)
    _, clean = detector_data(300, seed=3, realism=None)
    for col in ("label", "split", "trace_start_time", "trace_name"):
        assert (clean[col] == m1[col]).all(), col


def test_layout_and_earthquake_geometry(windows):
    w, m = windows
    assert w.shape == (1500, T, 3) and w.dtype == np.float32 and np.isfinite(w).all()
    eq, noise = m[m.label == 1], m[m.label == 0]
    assert 0.42 < m.label.mean() < 0.54
    assert noise[["trace_p_arrival_sample", "trace_snr", "source_magnitude"]].isna().all().all()
    assert eq[["trace_p_arrival_sample", "trace_snr", "source_magnitude"]].notna().all().all()
    p = eq.trace_p_arrival_sample
    assert p.min() >= 20 and p.max() <= T - 60  # p_first_s = 1 s, p_last_margin_s = 3 s
    assert p.quantile(0.9) > 300  # P anywhere, not only early
    s_out = eq.trace_s_arrival_sample.isna()
    assert 0.05 < s_out.mean() < 0.4  # S outside the window for part of the "P anywhere" share
    assert (eq.trace_s_arrival_sample.dropna() < T).all()
    assert set(m.trace_channel) == {"HHE_HHN_HHZ", "EHE_EHN_EHZ", "HNE_HNN_HNZ"}


# ----------------------------------------------------------------------------- noise


def test_ground_noise_psd_spans_peterson_models_with_varied_shapes():
    rng = np.random.default_rng(0)
    n = 300
    freqs = np.fft.rfftfreq(T, 1 / FS)
    x, truth = ground_noise(rng, n, T, FS, np.full(n, 3.0), QUIET, np.ones((n, len(freqs)), complex))
    f, db = _accel_psd_db(np.transpose(x[:, :, 2], (0, 1)))  # vertical, (n, F)
    band = (f >= 0.2) & (f <= 8.0)
    lo, hi = _peterson(f[band])
    pos = (db[:, band] - lo) / (hi - lo)  # 0 = NLNM, 1 = NHNM
    # a Welch estimate of 7 segments scatters ~±2.5 dB: nearly all bins inside the models ± 4 dB
    assert np.mean((db[:, band] >= lo - 4) & (db[:, band] <= hi + 4)) > 0.98
    level = np.median(pos, axis=1)
    assert level.min() < 0.2 and level.max() > 0.75  # the windows span the range between the models
    # the measured position follows the recorded one
    assert st.spearmanr(level, truth["position_cultural"]).correlation > 0.8
    # not one power law: the slope of the PSD between 0.3 and 5 Hz varies strongly between windows
    slope = np.polyfit(np.log10(f[band]), (db[:, band] - np.r_[lo]).T, 1)[0]
    assert np.std(slope) > 10.0


def test_day_night_variation_raises_only_the_cultural_band():
    s = dataclasses.replace(QUIET, day_night_db=(12.0, 12.0))
    n, freqs = 200, np.fft.rfftfreq(T, 1 / FS)
    one = np.ones((n, len(freqs)), complex)
    day, tday = ground_noise(np.random.default_rng(5), n, T, FS, np.full(n, 13.0), s, one)
    night, tnight = ground_noise(np.random.default_rng(5), n, T, FS, np.full(n, 1.0), s, one)
    np.testing.assert_allclose(tday["day_gain_db"] - tnight["day_gain_db"], 12.0, atol=1e-9)
    f, d_db = _accel_psd_db(np.transpose(day, (0, 2, 1)))
    _, n_db = _accel_psd_db(np.transpose(night, (0, 2, 1)))
    diff = np.median(d_db - n_db, axis=(0, 1))
    assert 7.0 < np.median(diff[(f >= 2.5) & (f <= 8)]) < 12.5  # ~12 dB where NHNM does not clip it
    assert abs(np.median(diff[(f >= 0.15) & (f <= 0.4)])) < 1.0  # the microseism band is unchanged


def test_cultural_lines_stand_out_where_recorded():
    s = dataclasses.replace(QUIET, line_probability=1.0, line_db=(15.0, 20.0), level_range=(0.1, 0.4))
    n, freqs = 100, np.fft.rfftfreq(T, 1 / FS)
    x, truth = ground_noise(np.random.default_rng(2), n, T, FS, np.full(n, 2.0), s, np.ones((n, len(freqs)), complex))
    f, p = ss.periodogram(x[:, :, 2], fs=FS, window="hann", axis=1)
    above = []
    for i, lines in enumerate(truth["lines_hz"]):
        assert 1 <= len(lines) <= 3 and ((lines >= 1.0) & (lines <= 9.5)).all()
        for fl in lines:
            at = p[i, np.abs(f - fl) <= 0.06].max()
            ring = p[i, (np.abs(f - fl) > 0.4) & (np.abs(f - fl) < 1.0)]
            above.append(10 * np.log10(at / np.median(ring)))
    assert np.median(above) > 8.0 and np.mean(np.asarray(above) > 3.0) > 0.85


def test_amplitude_modulation_follows_its_sigma():
    s = dataclasses.replace(QUIET, modulation_probability=1.0, modulation_sigma=(0.05, 1.0),
                            modulation_time_s=(3.0, 3.0), level_range=(0.1, 0.2))
    n, freqs = 200, np.fft.rfftfreq(T, 1 / FS)
    # a white (flat) response keeps the noise broadband, so short segments estimate the envelope
    x, truth = ground_noise(np.random.default_rng(4), n, T, FS, np.full(n, 2.0), s,
                            np.tile(2 * np.pi * np.maximum(freqs, 0.05), (n, 1)).astype(complex))
    seg = np.sqrt((x[:, :500].reshape(n, 25, 20, 3) ** 2).mean(axis=(2, 3)))  # 1 s RMS
    spread = np.log(seg).std(axis=1)
    assert st.spearmanr(spread, truth["modulation_sigma"]).correlation > 0.8
    unmod, _ = ground_noise(np.random.default_rng(4), n, T, FS, np.full(n, 2.0), QUIET, np.ones((n, len(freqs))))
    seg0 = np.sqrt((unmod.reshape(n, 25, 20, 3) ** 2).mean(axis=(2, 3)))
    assert np.median(np.log(seg0).std(axis=1)) < np.median(spread[truth["modulation_sigma"] > 0.5])


def test_noise_bursts_are_where_and_as_strong_as_recorded():
    s = dataclasses.replace(QUIET, burst_probability=1.0, bursts_max=1, burst_duration_s=(1.0, 1.0))
    n, freqs = 60, np.fft.rfftfreq(T, 1 / FS)
    rms = np.full(n, 2.0)
    b, truth = noise_bursts(np.random.default_rng(1), n, T, FS, rms, np.ones((n, len(freqs))), s)
    assert (truth["n_bursts"] == 1).all()
    env = ss.oaconvolve((b ** 2).sum(axis=2), np.ones((1, 11)) / 11, mode="same", axes=1)
    centre = truth["burst_sample"]
    inside = (centre > 30) & (centre < T - 30)
    assert np.median(np.abs(env.argmax(axis=1) - centre)[inside]) <= 10  # half the envelope's 20-sample sigma
    peak = np.abs(b).max(axis=(1, 2)) / rms
    ratio = peak / truth["burst_amplitude"]
    assert 0.8 < np.median(ratio) < 4.0  # peak of a unit-RMS carrier under the envelope's maximum


def test_recorded_noise_deconvolved_lies_between_peterson_models(windows):
    """End to end: remove the digitiser floor and the recorded response (obspy PAZ) from noise windows."""
    w, m = windows
    rows = _clean(m, m.label == 0, m.n_cultural_lines == 0)
    rows = rows[rows.instrument_family != "strong_motion"]  # accelerometers record mostly their floor
    assert len(rows) > 150
    f, pw = ss.welch(w[rows.index.to_numpy(), :, 2].astype(float), fs=FS, nperseg=128, detrend="linear", axis=1)
    band = (f >= 0.2) & (f <= 6.0)
    lo, hi = _peterson(f[band])
    inside, pos, rec = [], [], []
    for k, (i, r) in enumerate(rows.iterrows()):
        paz = corn_freq_2_paz(r.instrument_corner_hz, damp=r.instrument_damping)
        h, fh = paz_to_freq_resp(paz["poles"], paz["zeros"], r.instrument_sensitivity, 1 / FS, T, freq=True)
        aa = 1 / (1 + (fh / r.anti_alias_corner_hz) ** 12)
        gain2 = np.interp(f, fh, np.abs(h * aa) ** 2)
        floor = 2 * r.instrument_self_noise_counts ** 2 / FS * np.interp(f, fh, aa ** 2)
        ground = np.maximum(pw[k] - floor, 1e-30) / np.maximum(gain2, 1e-30)  # the response is 0 at 0 Hz
        db = 10 * np.log10(ground[band] * (2 * np.pi * f[band]) ** 2)
        ok = pw[k, band] > 3 * floor[band]  # where the ground noise dominates the floor
        inside.append(np.mean(((db >= lo - 5) & (db <= hi + 5))[ok]) if ok.any() else 1.0)
        pos.append(np.median(((db - lo) / (hi - lo))[ok]) if ok.sum() > 5 else np.nan)
        rec.append(r.noise_position_cultural)
    assert np.mean(inside) > 0.97
    good = np.isfinite(pos)
    assert st.spearmanr(np.asarray(pos)[good], np.asarray(rec)[good]).correlation > 0.7


# ----------------------------------------------------------------------------- instruments


def test_paz_response_equals_obspy():
    inst = draw_instruments(np.random.default_rng(0), 30, InstrumentSettings())
    freqs = np.fft.rfftfreq(T, 1 / FS)
    mine = instrument_response(inst, freqs)
    for i in range(30):
        ref, fr = paz_to_freq_resp(inst["poles"][i], inst["zeros"][i, :inst["n_zeros"][i]], inst["scale"][i],
                                   1 / FS, T, freq=True)
        np.testing.assert_allclose(fr, freqs)
        np.testing.assert_allclose(mine[i], ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
    # velocity sensors: the sensitivity in the flat band; accelerometers: sensitivity x 2 pi f
    f5 = np.argmin(np.abs(freqs - 5.0))
    vel = inst["family"] != "strong_motion"
    bb = inst["family"] == "broadband"
    np.testing.assert_allclose(np.abs(mine[bb, f5]), inst["sensitivity"][bb], rtol=0.01)
    acc = ~vel
    np.testing.assert_allclose(np.abs(mine[acc, f5]), inst["sensitivity"][acc] * 2 * np.pi * 5.0, rtol=0.02)
    with pytest.raises(ValueError, match="family_probabilities"):
        InstrumentSettings(family_probabilities=(0.5, 0.5, 0.5))
    assert paz_response(np.array([[-1.0 + 0j]]), np.zeros((1, 0)), np.ones(1), np.array([0.0]))[0, 0] == 1.0


def test_instrument_families_shape_the_normalised_spectrum(windows):
    w, m = windows
    shares = m.instrument_family.value_counts(normalize=True)
    assert set(shares.index) == {"broadband", "short_period", "strong_motion"} and shares.min() > 0.25
    rows = _clean(m, m.label == 0, m.n_cultural_lines == 0)
    f, p = ss.welch(w[rows.index.to_numpy()].astype(float), fs=FS, nperseg=128, detrend="linear", axis=1)
    p = p.sum(axis=2)
    hf_lf = np.log10(p[:, (f >= 2) & (f <= 7)].mean(axis=1) / p[:, (f >= 0.15) & (f <= 0.5)].mean(axis=1))
    med = pd.Series(hf_lf, index=rows.index).groupby(rows.instrument_family).median()
    # a broadband station is dominated by the microseism; a geophone suppresses it (f² below f0);
    # an accelerometer at most sites records its white floor (equal power per Hz)
    assert med["broadband"] < min(med["short_period"], med["strong_motion"]) - 1.5
    assert abs(med["strong_motion"]) < 0.5 and med["short_period"] > med["broadband"] + 1.5
    # the accelerometers' floor: their noise RMS in counts is near the digitiser floor
    sm = rows[rows.instrument_family == "strong_motion"]
    assert np.median(sm.noise_rms_counts / sm.instrument_self_noise_counts) < 3.0
    bb = rows[rows.instrument_family == "broadband"]
    assert np.median(bb.noise_rms_counts / bb.instrument_self_noise_counts) > 30.0


def test_dc_offsets_and_drift_are_recorded(windows):
    w, m = windows
    rows = m[(m.label == 0) & (m.transient_kinds == "") & (m.n_noise_bursts == 0)]
    mean = w[rows.index.to_numpy()].astype(float).mean(axis=1)
    off = rows[["dc_offset_e_counts", "dc_offset_n_counts", "dc_offset_z_counts"]].to_numpy()
    err = np.abs(mean - off) / rows.noise_rms_counts.to_numpy()[:, None]
    assert np.quantile(err, 0.95) < 1.0
    assert np.quantile(np.abs(off) / rows.noise_rms_counts.to_numpy()[:, None], 0.9) > 100  # raw counts are off-centre
    drift = rows[rows.drift_noise_ratio > 2]
    x = w[drift.index.to_numpy()].astype(float)  # (k, T, 3)
    slope = np.polyfit(np.arange(T), np.transpose(x, (1, 0, 2)).reshape(T, -1), 1)[0].reshape(len(x), 3)
    measured = np.abs(slope) * (T - 1) / drift.noise_rms_counts.to_numpy()[:, None]
    assert len(drift) > 20
    assert np.median(measured / drift.drift_noise_ratio.to_numpy()[:, None]) == pytest.approx(1.0, abs=0.15)


# ----------------------------------------------------------------------------- transients


def test_transients_are_where_recorded_at_their_rates_in_both_classes():
    s = TransientSettings()
    w, m = detector_data(3000, seed=8)
    n = len(m)
    for kind, prob in (("spike", s.spike_probability), ("boxcar", s.boxcar_probability),
                       ("step", s.step_probability), ("gap", s.gap_probability),
                       ("dead", s.dead_component_probability)):
        has = m.transient_kinds.str.contains(kind).to_numpy()
        assert abs(has.mean() - prob) < 4 * np.sqrt(prob * (1 - prob) / n), kind
        lab = m.label.to_numpy()
        assert abs(has[lab == 1].mean() - has[lab == 0].mean()) < 5 * np.sqrt(prob / (n / 2)), kind
    letters = {"E": 0, "N": 1, "Z": 2}
    for i, r in m[m.gap_sample.notna()].iterrows():
        a, k = int(r.gap_sample), int(r.gap_samples)
        comps = [letters[c] for c in r.gap_components]
        assert (w[i, a:a + k][:, comps] == 0).all() and k >= 10
    for i, r in m[m.dead_components != ""].iterrows():
        assert (w[i][:, [letters[c] for c in r.dead_components]] == 0).all()
    spikes = m[m.spike_sample.notna() & (m.gap_sample.isna()) & (m.dead_components == "")]
    hits = []
    for i, r in spikes.iterrows():
        c = letters[r.spike_components[0]]
        x = w[i, :, c].astype(float) - np.median(w[i, :, c])
        hits.append(np.abs(x).argmax() - r.spike_sample)
    # the recorded spike is the largest sample of its component unless an earthquake or a larger fault hides it
    assert np.mean(np.abs(hits) <= 2) > 0.6
    steps = m[m.step_sample.notna() & (m.transient_kinds == "step")]
    jump = []
    for i, r in steps.iterrows():
        c, a = letters[r.step_components[0]], int(r.step_sample)
        x = w[i, :, c].astype(float)
        if 40 <= a <= T - 40:
            jump.append(abs(np.median(x[a:a + 40]) - np.median(x[a - 40:a])) / (np.abs(x - x.mean()).max() + 1e-9))
    assert np.median(jump) > 0.3  # a step is a large share of the window's range


def test_filtered_spikes_ring_and_sharp_spikes_do_not():
    s = TransientSettings(spike_probability=1.0, spike_filtered_fraction=0.5, boxcar_probability=0,
                          step_probability=0, gap_probability=0, dead_component_probability=0,
                          amplitude=(1000.0, 1000.0), all_components_fraction=0.0)
    w, m = detector_data(200, seed=2, earthquake_fraction=0.0, realism=DetectorRealism(transients=s))
    width = []
    for i, r in m.iterrows():
        c = "ENZ".index(r.spike_components)
        x = np.abs(w[i, :, c] - np.median(w[i, :, c]))
        width.append(int((x > 0.2 * x.max()).sum()))
    width = np.asarray(width)
    assert np.mean(width <= 3) > 0.3 and np.mean(width >= 3) > 0.3  # sharp (1-3 samples) and ringing pulses


def test_faults_in_earthquake_windows_never_hide_the_earthquake():
    s = TransientSettings(spike_probability=1.0, spike_filtered_fraction=0.0, boxcar_probability=0,
                          step_probability=0, gap_probability=0, dead_component_probability=0,
                          all_components_fraction=0.0)
    w, m = detector_data(400, seed=6, realism=DetectorRealism(transients=s))
    ratio = []
    for i, r in m.iterrows():
        c, a = "ENZ".index(r.spike_components), int(r.spike_sample)
        x = w[i] - w[i].mean(axis=0)
        rest = np.abs(np.delete(x, np.arange(a, min(a + 3, T)), axis=0)).max()
        ratio.append(np.abs(x[a:a + 3, c]).max() / rest)
    ratio = np.asarray(ratio)
    eq = m.label.to_numpy() == 1
    assert np.quantile(ratio[eq], 0.98) < 3.0  # earthquake_amplitude (0.5, 2) + the noise under the spike
    assert np.quantile(ratio[~eq], 0.9) > 8.0 and ratio[~eq].max() > 20.0  # amplitude (0.5, 30)


# ----------------------------------------------------------------------------- earthquakes


def test_snr_distribution_and_measured_snr(windows):
    w, m = windows
    eq = m[m.label == 1]
    r = DetectorRealism()
    lo, hi = r.snr_range
    assert eq.trace_snr.min() >= lo and eq.trace_snr.max() <= hi
    law = st.truncnorm((np.log10(lo) - np.log10(r.snr_median)) / r.snr_log10_sigma,
                       (np.log10(hi) - np.log10(r.snr_median)) / r.snr_log10_sigma,
                       loc=np.log10(r.snr_median), scale=r.snr_log10_sigma)
    assert st.kstest(np.log10(eq.trace_snr), law.cdf).pvalue > 0.01  # truncated log-normal
    assert (eq.trace_snr < 3).mean() > 0.02  # down to SNR ~1
    np.testing.assert_allclose(eq.trace_snr_db, 20 * np.log10(eq.trace_snr))
    rows = _clean(eq, eq.noise_modulation_sigma == 0, eq.trace_p_arrival_sample >= 150,
                  eq.trace_p_arrival_sample <= T - 100, eq.second_p_arrival_sample.isna())
    measured = []
    sos = ss.butter(8, 1.0, "highpass", fs=FS, output="sos")  # SNR above 1 Hz, as STEAD measures it
    for i, r in rows.iterrows():
        p = int(r.trace_p_arrival_sample)
        x = ss.sosfiltfilt(sos, w[i].astype(float), axis=0)
        noise = np.sqrt((x[20:p - 5] ** 2).mean())
        sig = np.sqrt(max((x[p:p + 100] ** 2).mean() - noise ** 2, 0.0))
        measured.append(sig / noise)
    measured = np.asarray(measured)
    assert st.spearmanr(measured, rows.trace_snr).correlation > 0.85
    strong = rows.trace_snr.to_numpy() > 3
    assert abs(np.median(np.log10(measured[strong] / rows.trace_snr.to_numpy()[strong]))) < 0.2


def test_second_events_and_physics_survive_the_instruments():
    r = DetectorRealism(second_event_probability=1.0, snr_range=(30.0, 300.0), snr_median=100.0,
                        transients=TransientSettings(spike_probability=0, boxcar_probability=0, step_probability=0,
                                                     gap_probability=0, dead_component_probability=0),
                        noise=dataclasses.replace(NoiseSettings(), burst_probability=0.0))
    w, m = detector_data(300, seed=4, earthquake_fraction=1.0, realism=r)
    two = m[m.second_p_arrival_sample.notna()]
    assert len(two) > 0.6 * len(m)  # every window with room for a second P gets one
    assert (np.abs(two.second_p_arrival_sample - two.trace_p_arrival_sample) >= 60).all()
    jumps = []
    for i, row in two[two.second_trace_snr > 3 * two.trace_snr].iterrows():
        p2 = int(row.second_p_arrival_sample)
        if p2 >= 40:
            x = w[i].astype(float) - w[i].mean(axis=0)
            jumps.append(np.sqrt((x[p2:p2 + 20] ** 2).mean() / (x[p2 - 40:p2 - 2] ** 2).mean()))
    assert len(jumps) >= 10 and np.median(jumps) > 3.0
    # P strongest on Z, S on the horizontals, also through the instruments
    one = m[m.trace_s_arrival_sample.notna() & (m.trace_s_arrival_sample - m.trace_p_arrival_sample > 30)
            & (m.second_p_arrival_sample.isna() | (m.second_p_arrival_sample > m.trace_s_arrival_sample + 40))]
    hz_p, hz_s = [], []
    for i, row in one.iterrows():
        p, s = int(row.trace_p_arrival_sample), int(np.ceil(row.trace_s_arrival_sample))
        x = w[i].astype(float) - w[i].mean(axis=0)
        hz_p.append((x[p:p + 20, :2] ** 2).mean() / (x[p:p + 20, 2] ** 2).mean())
        hz_s.append((x[s:s + 20, :2] ** 2).mean() / (x[s:s + 20, 2] ** 2).mean())
    assert len(hz_p) > 20 and np.median(hz_p) < 0.7 and np.median(hz_s) > 1.5


def test_bad_settings():
    with pytest.raises(ValueError, match="snr_range"):
        DetectorRealism(snr_range=(0.0, 10.0))
    with pytest.raises(ValueError, match="snr_log10_sigma"):
        DetectorRealism(snr_log10_sigma=0.0, snr_median=5000.0)
    assert (detector_data(50, seed=1, earthquake_fraction=1.0,
                          realism=DetectorRealism(snr_log10_sigma=0.0, snr_median=7.0))[1].trace_snr == 7.0).all()
