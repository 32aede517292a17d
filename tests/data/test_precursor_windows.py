"""Macro-windows, sub-windows, normalisation and mode A/B noise of Ong et al. (section 4)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seis_keras.data import precursor_windows as pw
from seis_keras.data.store import write_store

REPO = Path(__file__).resolve().parents[2]
FS = 1.0  # 1 Hz keeps the tiny records' times readable


def _paper_metadata():
    """The 31 records of the Ong manifest, 10 h each, as the fetched store describes them."""
    from seis_keras.data.fetch import load_manifest, record_specs

    manifest = load_manifest(REPO / "data_manifests" / "ong_majo.toml")
    specs = record_specs(manifest)
    meta = pd.DataFrame([{**s["meta"], "trace_name": s["id"], "trace_start_time": str(s["starttime"])}
                         for s in specs])
    return meta, np.full(len(meta), 1_440_000)


def test_paper_counts_and_offsets_from_metadata_alone():
    meta, lengths = _paper_metadata()
    s = pw.WindowingSettings()
    assert (meta["split"] == "train").sum() == 24 and (meta["split"] == "test").sum() == 7
    train = pw.training_windows(meta, lengths, 40.0, s, mode="A", split="train")
    test = pw.training_windows(meta, lengths, 40.0, s, mode="A", split="test")
    for table, n in ((train, 888), (test, 259)):
        subs = pw.sub_window_table(table, s)
        assert (subs["label"] == 1).sum() == n and (subs["label"] == 0).sum() == n
    # window 36 ends at the origin (sample 1 440 000), window 1 starts at the record start
    assert set(train.loc[train.label == 1, "start"]) == {1_400_000}
    assert set(train.loc[train.label == 0, "start"]) == {0}
    # 37 sub-windows of 16384 inside 40000 samples: stride 656, the paper's 1010 does not fit
    offs = s.sub_window_offsets()
    assert len(offs) == 37 and s.stride == 656 and offs[-1] + 16384 <= 40000
    assert (36 * 1010 + 16384) > 40000
    with pytest.raises(ValueError, match="sub_window_stride=1010"):
        pw.WindowingSettings(sub_window_stride=1010)
    assert len(pw.WindowingSettings(sub_window_stride=1010, sub_windows=24).sub_window_offsets()) == 24
    # interval windows: 36 per test event, ordered by window, window 36 labelled precursor
    iv = pw.interval_windows(meta, lengths, 40.0, s, split="test")
    assert len(iv) == 36 * 7 and iv["macro_window"].tolist()[:7] == [1] * 7
    assert np.array_equal(iv.loc[iv.macro_window == 5, "start"].to_numpy(), np.full(7, 4 * 40000))
    assert iv.loc[iv.label == 1, "macro_window"].unique().tolist() == [36]


def test_record_anchored_at_origin_and_too_short_record_rejected():
    s = pw.WindowingSettings(n_macro_windows=3, macro_window_samples=10, sub_window_samples=4, sub_windows=3)
    meta = pd.DataFrame({"trace_name": ["a", "b"], "record_kind": "event", "source_id": ["a", "b"], "split": "train",
                         "trace_start_time": ["2020-01-01T00:00:00", "2020-01-01T00:00:00"],
                         "source_origin_time": ["2020-01-01T00:00:35", "2020-01-01T00:00:30"]})
    starts = pw.event_macro_window_starts(meta, [40, 30], FS, s)
    assert starts[["start_1", "start_2", "start_3"]].to_numpy().tolist() == [[5, 15, 25], [0, 10, 20]]
    assert s.sub_window_offsets().tolist() == [0, 3, 6]
    meta.loc[1, "source_origin_time"] = "2020-01-01T00:00:25"
    with pytest.raises(ValueError, match="'b' holds 25 samples before its origin"):
        pw.event_macro_window_starts(meta, [40, 30], FS, s)
    with pytest.raises(ValueError, match="meta.csv: column 'source_id' missing"):
        pw.event_macro_window_starts(meta.drop(columns="source_id"), [40, 30], FS, s, where="meta.csv")


def test_sub_windows_normalise_jointly_per_macro_window():
    s = pw.WindowingSettings(n_macro_windows=2, macro_window_samples=50, sub_window_samples=20, sub_windows=4)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 50, 3)) * np.array([1.0, 3.0, 10.0]) + np.array([5.0, -2.0, 1.0])
    out = pw.SubWindows(s)(x)
    assert out.shape == (2, 4, 20, 3) == pw.SubWindows(s).output_shape((2, 50, 3))
    ref = x - x.mean(axis=1, keepdims=True)
    ref = ref / ref.std(axis=(1, 2), keepdims=True)
    assert s.stride == 10
    for k, off in enumerate(s.sub_window_offsets()):
        np.testing.assert_allclose(out[:, k], ref[:, off:off + 20], rtol=1e-5, atol=1e-6)
    # joint: the components keep their amplitude ratios (not each set to unit std)
    stds = ref.std(axis=1)
    assert stds[0, 2] / stds[0, 0] > 5


def _mode_b_meta():
    day = 24 * 3600
    t = pd.Timestamp("2020-01-10T00:00:00", tz="UTC")
    iso = lambda ts: ts.strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    origin = t + pd.Timedelta(seconds=3600)
    rows = [dict(trace_name="ev", record_kind="event", source_id="ev", split="train", trace_start_time=iso(t),
                 source_origin_time=iso(origin))]
    # noise record 1 ends 47 h before the origin (its last window breaks the rule, earlier ones pass)
    n1 = origin - pd.Timedelta(hours=47) - pd.Timedelta(seconds=2 * 3600)
    rows.append(dict(trace_name="n1", record_kind="noise", source_id="n1", split="train", trace_start_time=iso(n1),
                     source_origin_time=""))
    # noise record 2 starts 48 h + 1 s after the origin: all windows pass
    n2 = origin + pd.Timedelta(hours=48) + pd.Timedelta(seconds=1)
    rows.append(dict(trace_name="n2", record_kind="noise_b", source_id="n2", split="", trace_start_time=iso(n2),
                     source_origin_time=""))
    return pd.DataFrame(rows), day


def test_mode_b_respects_the_48_hour_rule():
    meta, _ = _mode_b_meta()
    s = pw.WindowingSettings(n_macro_windows=1, macro_window_samples=3600, sub_window_samples=1800, sub_windows=2)
    lengths = [3600, 2 * 3600, 2 * 3600]
    cand = pw.mode_b_candidates(meta, lengths, FS, s)
    origin = pd.Timestamp("2020-01-10T01:00:00", tz="UTC").timestamp()
    # record n1: window 0 ends 48 h + 1 s before the origin (kept), window 1 ends 47 h before (dropped)
    assert cand[["row", "start"]].values.tolist() == [[1, 0], [2, 0], [2, 3600]]
    for a in cand["start_time_s"]:
        assert a - origin >= 48 * 3600 or origin - (a + 3599) >= 48 * 3600
    # an extra catalog origin 10 h after n2 starts removes n2's windows
    extra = [(pd.Timestamp(meta.trace_start_time[2], tz="UTC") + pd.Timedelta(hours=10)).isoformat()]
    assert pw.mode_b_candidates(meta, lengths, FS, s, extra_origins=extra)["row"].tolist() == [1]
    w = pw.training_windows(meta, lengths, FS, s, mode="B", split="train", seed=3)
    assert w["label"].tolist() == [0, 1] and w["kind"].tolist() == ["noise_B", "precursor"]
    assert w["start"].iat[1] == 0 and (int(w["row"].iat[0]), int(w["start"].iat[0])) in {(1, 0), (2, 0), (2, 3600)}
    a = pw.training_windows(meta, lengths, FS, s, mode="A", split="train")
    assert a["kind"].tolist() == ["noise_A", "precursor"] and a["row"].tolist() == [0, 0]
    s48 = pw.WindowingSettings(n_macro_windows=1, macro_window_samples=3600, sub_window_samples=1800, sub_windows=2,
                               noise_min_separation_hours=60.0)
    with pytest.raises(ValueError, match="0 mode-B noise macro-windows >= 60.0 h"):
        pw.training_windows(meta, lengths, FS, s48, mode="B", split="train")


def test_mode_b_window_exactly_48_hours_away_is_kept():
    # "at least 48 h": a window ending exactly 48 h before an origin, or starting exactly 48 h after it,
    # passes; one sample closer fails
    origin = pd.Timestamp("2020-01-10T00:00:00", tz="UTC")
    iso = lambda ts: ts.strftime("%Y-%m-%dT%H:%M:%S")  # noqa: E731
    s = pw.WindowingSettings(n_macro_windows=1, macro_window_samples=10, sub_window_samples=5, sub_windows=2)
    h48 = pd.Timedelta(hours=48)
    starts = [origin - h48 - pd.Timedelta(seconds=9),   # last sample exactly 48 h before: kept
              origin - h48 - pd.Timedelta(seconds=8),   # last sample 47 h 59 min 59 s before: dropped
              origin + h48,                             # first sample exactly 48 h after: kept
              origin + h48 - pd.Timedelta(seconds=1)]   # 1 s closer: dropped
    meta = pd.DataFrame([dict(trace_name="ev", record_kind="event", source_id="ev", split="train",
                              trace_start_time=iso(origin - pd.Timedelta(seconds=10)), source_origin_time=iso(origin))]
                        + [dict(trace_name=f"n{i}", record_kind="noise", source_id=f"n{i}", split="train",
                                trace_start_time=iso(t), source_origin_time="") for i, t in enumerate(starts)])
    cand = pw.mode_b_candidates(meta, [10] * 5, FS, s)
    assert cand["row"].tolist() == [1, 3]


def test_streamed_sub_windows_equal_the_in_memory_ones(tmp_path):
    s = pw.WindowingSettings(n_macro_windows=3, macro_window_samples=64, sub_window_samples=16, sub_windows=5)
    rng = np.random.default_rng(1)
    n_ev = 4
    x = rng.normal(size=(n_ev, 3 * 64, 3)).astype(np.float32)
    meta = pd.DataFrame({"trace_name": [f"e{i}" for i in range(n_ev)], "record_kind": "event",
                         "source_id": [f"e{i}" for i in range(n_ev)], "split": ["train", "train", "test", "train"],
                         "trace_start_time": "2020-01-01T00:00:00",
                         "source_origin_time": "2020-01-01T00:03:12"})
    write_store(tmp_path / "st", x, meta, sampling_rate=FS, component_order="12Z")
    w = pw.training_windows(meta, [192] * n_ev, FS, s, mode="A", split="train")
    xm, ym = pw.load_sub_windows(tmp_path / "st", w, s)
    assert xm.shape == (6 * 5, 16, 3) and ym.tolist() == [0] * 15 + [1] * 15
    ref = pw.SubWindows(s)(x[[0, 1, 3]][:, 128:192])
    np.testing.assert_allclose(xm[15:], ref.reshape(-1, 16, 3), rtol=1e-6)
    batches = list(pw.sub_window_dataset(tmp_path / "st", w, s, batch_size=7))
    xs = np.concatenate([b[0].numpy() for b in batches])
    ys = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(xs, xm)
    np.testing.assert_array_equal(ys, ym)
    # shuffled: same multiset of windows, classes mixed, reproducible by seed
    def shuffled(seed):
        b = list(pw.sub_window_dataset(tmp_path / "st", w, s, batch_size=30, shuffle=True, seed=seed,
                                       shuffle_buffer=8))
        return np.concatenate([t[0].numpy() for t in b]), np.concatenate([t[1].numpy() for t in b])
    xs1, ys1 = shuffled(5)
    xs2, _ = shuffled(5)
    np.testing.assert_array_equal(xs1, xs2)
    assert sorted(map(tuple, xs1[:, 0, :].round(5))) == sorted(map(tuple, xm[:, 0, :].round(5)))
    assert ys1[:15].tolist() != ys.tolist()[:15]
    table = pw.sub_window_table(w, s)
    assert table["sample"].tolist()[:5] == [0, 12, 24, 36, 48] and table["sub_window"].tolist()[-1] == 4
