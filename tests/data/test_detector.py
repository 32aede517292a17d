"""Tests of seis_keras.data.detector: labels, splits, ingest of picked records, conforming a STEAD store, windows."""
import numpy as np
import pandas as pd
import pytest
from obspy import Trace, UTCDateTime

from seis_keras.data import detector as dd
from seis_keras.data.store import WaveformStore, write_store
from seis_keras.data.synthetic import detector_continuous
from seis_keras.data.transforms import Compose, Demean, MaxNormalize

WINDOWS = dict(sampling_rate=20.0, component_order="ENZ", window_s=25.0)


def test_labels_from_label_or_category_columns():
    assert dd.earthquake_labels(pd.DataFrame({"label": [1, 0, 1]}), "m.csv").tolist() == [1, 0, 1]
    cat = pd.DataFrame({"trace_category": ["earthquake_local", "noise", "Earthquake"]})
    assert dd.earthquake_labels(cat, "m.csv").tolist() == [1, 0, 1]
    src = pd.DataFrame({"source_event_category": ["eq", "noise", "ke"]})
    assert dd.earthquake_labels(src, "m.csv").tolist() == [1, 0, 1]
    # 'label' wins over a category column that disagrees
    both = pd.DataFrame({"label": [0, 1], "trace_category": ["earthquake", "noise"]})
    assert dd.earthquake_labels(both, "m.csv").tolist() == [0, 1]
    with pytest.raises(ValueError, match="m.csv: column 'trace_category' has values \\['blast'\\]"):
        dd.earthquake_labels(pd.DataFrame({"trace_category": ["blast", "noise"]}), "m.csv")
    with pytest.raises(ValueError, match="m.csv: column 'label' must hold 0"):
        dd.earthquake_labels(pd.DataFrame({"label": [2, 0]}), "m.csv")
    with pytest.raises(ValueError, match="m.csv: column 'label' must hold 0"):
        dd.earthquake_labels(pd.DataFrame({"label": [1, None]}), "m.csv")
    with pytest.raises(ValueError, match="no column 'label'"):
        dd.earthquake_labels(pd.DataFrame({"x": [1]}), "m.csv")


def test_splits_use_the_column_or_a_seeded_80_10_10_split():
    meta = pd.DataFrame({"split": ["train", "dev", "test", "val", "train"]})
    s = dd.data_splits(meta, (0.8, 0.1, 0.1), 0, "m.csv")
    assert s["train"].tolist() == [0, 4] and s["dev"].tolist() == [1, 3] and s["test"].tolist() == [2]
    s1 = dd.data_splits(pd.DataFrame({"a": range(1000)}), (0.8, 0.1, 0.1), 5, "m.csv")
    s2 = dd.data_splits(pd.DataFrame({"a": range(1000)}), (0.8, 0.1, 0.1), 5, "m.csv")
    s3 = dd.data_splits(pd.DataFrame({"a": range(1000)}), (0.8, 0.1, 0.1), 6, "m.csv")
    assert [len(s1[k]) for k in ("train", "dev", "test")] == [800, 100, 100]
    assert np.array_equal(np.sort(np.concatenate(list(s1.values()))), np.arange(1000))
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
    assert not np.array_equal(s1["test"], s3["test"])
    # fractions are proportions: (8, 1, 1) is the same split
    s4 = dd.data_splits(pd.DataFrame({"a": range(1000)}), (8, 1, 1), 5, "m.csv")
    assert all(np.array_equal(s1[k], s4[k]) for k in s1)
    with pytest.raises(ValueError, match="column 'split' has values \\['holdout'\\]"):
        dd.data_splits(pd.DataFrame({"split": ["train", "holdout"]}), (0.8, 0.1, 0.1), 0, "m.csv")
    with pytest.raises(ValueError, match="no windows in split\\(s\\) \\['dev', 'test'\\]"):
        dd.data_splits(pd.DataFrame({"split": ["train", "train"]}), (0.8, 0.1, 0.1), 0, "m.csv")


def test_a_split_with_one_class_is_refused():
    labels = np.array([1, 0, 1, 1, 0, 1])
    dd.require_both_classes(labels, {"train": np.array([0, 1]), "test": np.array([4, 5])}, "m.csv")
    with pytest.raises(ValueError, match="m.csv: split 'test' holds only earthquake windows"):
        dd.require_both_classes(labels, {"train": np.array([0, 1]), "test": np.array([2, 3])}, "m.csv")
    with pytest.raises(ValueError, match="split 'dev' holds only noise windows"):
        dd.require_both_classes(labels, {"dev": np.array([1, 4])}, "m.csv")


def test_distance_classes_of_earthquakes_and_noise():
    meta = pd.DataFrame({"source_distance_km": [3.0, 25.0, 49.9, 80.0, np.nan, 10.0, np.nan]})
    labels = np.array([1, 1, 1, 1, 1, 0, 0])
    got = dd.distance_classes(meta, labels, (25.0, 50.0, 75.0)).tolist()
    assert got == ["0-25 km", "25-50 km", "25-50 km", "75-inf km", "noise", "noise", "noise"]
    assert dd.distance_classes(pd.DataFrame({"x": [1]}), np.array([1]), (25.0,)) is None


def test_waveform_files_with_picks_become_earthquake_and_noise_windows(tmp_path):
    stream, events = detector_continuous(900.0, 3, seed=2, min_separation_s=200.0)
    records = tmp_path / "records"
    records.mkdir()
    for tr in stream:
        tr.write(str(records / f"{tr.id}.mseed"), format="MSEED")
    picks = tmp_path / "picks.csv"
    pd.DataFrame({"station": "SY.SYN", "time": events["p_time"], "phase": "P"}).to_csv(picks, index=False)
    kw = dict(**WINDOWS, pick_offset_s=5.0, noise_pick_margin_s=60.0)
    path = dd.ingest_records(records, str(picks), tmp_path / "store", **kw)
    store = WaveformStore(path)
    meta = store.metadata
    eq = meta[meta["label"] == 1]
    assert len(eq) == 3 and np.allclose(eq["trace_p_arrival_sample"], 5.0 * 20)  # pick_offset_s at 20 Hz
    noise = meta[meta["label"] == 0]
    assert len(noise) > 0 and noise["trace_p_arrival_sample"].isna().all()
    pick_t = np.array([UTCDateTime(t).timestamp for t in events["p_time"]])
    for t0 in noise["trace_start_time"]:
        start = UTCDateTime(t0).timestamp
        before = pick_t[pick_t <= start + 25.0]
        assert len(before) == 0 or start - before.max() >= 60.0
    # back-to-back 25 s windows over 900 s: those within 60 s after a pick (or holding one) are left out
    assert len(noise) < 900 // 25 - 3
    assert store.trace_shape(0) == (500, 3)
    assert dd.earthquake_labels(meta, "ingested").sum() == 3
    with pytest.raises(ValueError, match="needs a picks CSV"):
        dd.ingest_records(records, "", tmp_path / "store2", **kw)
    far = tmp_path / "far.csv"
    pd.DataFrame({"station": "XX.NONE", "time": events["p_time"], "phase": "P"}).to_csv(far, index=False)
    with pytest.raises(ValueError, match="got 0 earthquake and"):
        dd.ingest_records(records, str(far), tmp_path / "store3", **kw)


def test_built_in_store_is_generated_once_and_reused(tmp_path):
    kw = dict(n=40, seed=3, earthquake_fraction=0.5, sampling_rate=20.0, window_s=25.0,
              split_fractions=(0.8, 0.1, 0.1), block_size=16)
    path = dd.built_in_store(tmp_path, **kw)
    assert path == tmp_path / "detector_n40_seed3"
    store = WaveformStore(path)
    assert len(store) == 40 and store.trace_shape(0) == (500, 3) and set(store.metadata["split"]) == set(dd.SPLITS)
    stamp = (path / "waveforms.hdf5").stat().st_mtime_ns
    assert dd.built_in_store(tmp_path, **kw) == path and (path / "waveforms.hdf5").stat().st_mtime_ns == stamp
    other = WaveformStore(dd.built_in_store(tmp_path, **{**kw, "seed": 4}))
    assert not np.array_equal(other.get_waveforms(0), store.get_waveforms(0))


def test_load_windows_reads_in_the_component_order_through_the_transforms(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 500, 3)).astype(np.float32) + np.array([5.0, -2.0, 0.5], np.float32)
    store = WaveformStore(write_store(tmp_path / "s", x, pd.DataFrame({"label": [0, 1] * 3}), sampling_rate=20.0,
                                      component_order="ENZ"))
    raw = dd.load_windows(store, [4, 1], components="ZNE")
    np.testing.assert_array_equal(raw, x[[4, 1]][:, :, ::-1])
    got = dd.load_windows(store, [4, 1], components="ENZ", transform=Compose([Demean(), MaxNormalize()]))
    d = x[[4, 1]] - x[[4, 1]].mean(axis=1, keepdims=True)
    np.testing.assert_allclose(got, d / np.abs(d).max(axis=(1, 2), keepdims=True), rtol=1e-5, atol=1e-6)
    assert dd.needs_conforming(store, 20.0, 500) is False
    assert dd.needs_conforming(store, 40.0, 500) and dd.needs_conforming(store, 20.0, 400)


def test_a_stead_store_is_resampled_and_cropped_to_detector_windows(shared_data, tmp_path):
    src = WaveformStore(shared_data / "stead_sample")
    assert dd.needs_conforming(src, 20.0, 500)
    conformed = WaveformStore(dd.conform_store(src, tmp_path / "conformed", sampling_rate=20.0, window_s=25.0,
                                               pick_offset_s=5.0, component_order="ENZ", block_size=1024))
    assert conformed.sampling_rate == 20.0 and len(conformed) == len(src)
    assert conformed.trace_shape(0) == (500, 3) and not dd.needs_conforming(conformed, 20.0, 500)
    np.testing.assert_array_equal(dd.earthquake_labels(conformed.metadata, "conformed"),
                                  dd.earthquake_labels(src.metadata, "stead"))
    meta = conformed.metadata
    p_src = src.metadata["trace_p_arrival_sample"].to_numpy(dtype=float)
    eq = np.flatnonzero(np.isfinite(p_src))
    assert len(eq) > 0
    # P sits pick_offset_s = 5 s into the window unless the trace start forced the window later/earlier
    p_new = meta["trace_p_arrival_sample"].to_numpy(dtype=float)[eq]
    start = meta["trace_window_start_sample_original"].to_numpy()[eq]
    np.testing.assert_allclose(p_new, (p_src[eq] - start) * 20.0 / src.sampling_rate, atol=1e-6)
    assert np.mean(np.abs(p_new - 100.0) < 1.0) > 0.5
    # the samples equal obspy's FFT resampling of the source trace, cut at the same place
    i = int(eq[0])
    tr = Trace(src.get_waveforms(i, components="ENZ")[:, 2].astype(np.float64))
    tr.stats.sampling_rate = src.sampling_rate
    tr.resample(20.0, window="hann", no_filter=True)
    k0 = int(round(start[0] * 20.0 / src.sampling_rate))
    # (scipy and obspy place the Hann taper's Nyquist bin slightly differently: 0.5 % of the peak)
    np.testing.assert_allclose(conformed.get_waveforms(i, components="ENZ")[:, 2], tr.data[k0:k0 + 500],
                               rtol=0, atol=5e-3 * np.abs(tr.data).max())
    shifted = tr.data[k0 + 1:k0 + 501]
    assert np.abs(conformed.get_waveforms(i, components="ENZ")[:, 2] - shifted).max() > 5e-2 * np.abs(tr.data).max()
    with pytest.raises(ValueError, match="shorter than the 100 s window"):
        dd.conform_store(src, tmp_path / "too_long", sampling_rate=20.0, window_s=100.0, pick_offset_s=5.0,
                         component_order="ENZ", block_size=1024)
