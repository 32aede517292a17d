"""Tests of seis_keras.data.norcia_experiments: labelled splits, relabelling, Fig. 5 bands, the band to score."""
import numpy as np
import pandas as pd
import pytest

from seis_keras.data import norcia as nd
from seis_keras.data.norcia_experiments import (LabelledSplit, bandpass_bands, file_labels, label_check, labelled_split,
                                               planted_band)
from tests.data.test_norcia import catalogue


def _event_time(meta):
    return pd.to_datetime(meta.trace_start_time, utc=True, format="ISO8601")


def test_labelled_split_is_the_primitives_applied_to_the_masked_traces():
    meta = catalogue(n_pre=60, n_visso=6, n_post=64, stations=2)
    mask = (meta.station_code == "S1").to_numpy()
    s = labelled_split(meta, mask, 4, seed=3)
    sub = meta[mask].reset_index(drop=True)
    y = nd.balance_classes(nd.time_to_failure_classes(sub, 4), sub, seed=3)
    np.testing.assert_array_equal(s.labels[mask], y)
    np.testing.assert_array_equal(s.split[mask], nd.temporal_middle_split(sub, y))
    assert (s.labels[~mask] == -1).all() and set(s.split[~mask]) == {""}  # the other station takes no part
    assert s.n_classes == 4 and s.class_names == ["FEQ1", "FEQ2", "AEQ1", "AEQ2"]
    assert s.counts() == {p: int(((s.split == p) & (s.labels >= 0)).sum()) for p in nd.SPLITS}
    assert set(s.split[s.labels < 0]) <= {""} and sum(s.counts().values()) == int((s.labels >= 0).sum())
    # Visso left out of even counts by default, kept when asked
    t = _event_time(meta)
    visso = (t >= pd.Timestamp("2016-10-26T00:00Z")) & (t < pd.Timestamp(nd.MAINSHOCK_TIME))
    assert (s.labels[visso.to_numpy() & mask] == -1).all()
    kept = labelled_split(meta, mask, 2, exclude_visso=False, balance=False)
    assert (kept.labels[visso.to_numpy() & mask] == 0).all()
    with pytest.raises(ValueError, match="mask of 3 values"):
        labelled_split(meta, mask[:3], 2)
    with pytest.raises(ValueError, match="'middle' unknown"):
        labelled_split(meta, mask, 2, split="middle")


def test_random_split_is_by_event_and_a_wrong_date_refit_balances_the_fake_classes():
    meta = catalogue(n_pre=60, n_visso=6, n_post=64, stations=2)
    mask = np.ones(len(meta), bool)
    s = labelled_split(meta, mask, 2, split="random", seed=5)
    used = meta.assign(y=s.labels, split=s.split)[s.labels >= 0]
    assert (used.groupby("source_id").split.nunique() == 1).all()  # by event
    per_event = used.groupby("source_id").split.first().value_counts()
    assert per_event.sum() == 120 and (per_event["train"], per_event["dev"]) == (84, 12)  # 70/10/20 of 120
    assert set(s.split[s.labels < 0]) == {""}
    # refit with a wrong date: labels follow the fake boundary, Visso kept, balanced in events
    fake = "2016-10-21"
    s = labelled_split(meta, mask, 2, mainshock_time=fake, exclude_visso=False, seed=5)
    keep = s.labels >= 0
    np.testing.assert_array_equal(s.labels[keep], nd.pre_post_labels(meta, fake)[keep])
    ev = meta.assign(y=s.labels)[keep].groupby("source_id").y.first()
    event_time = _event_time(meta).groupby(meta.source_id).min()
    n_before = int((event_time < pd.Timestamp(fake, tz="UTC")).sum())
    assert 0 < n_before < 60
    assert (ev == 0).sum() == (ev == 1).sum() == min(n_before, 130 - n_before)


def test_relabelled_keeps_the_traces_and_split_and_changes_only_the_labels():
    meta = catalogue(stations=1)
    base = labelled_split(meta, np.ones(len(meta), bool), 2, exclude_visso=False, seed=1)
    fake = nd.pre_post_labels(meta, "2016-11-09")
    s = base.relabelled(fake)
    assert isinstance(s, LabelledSplit) and s.class_names == ["pre", "post"]
    np.testing.assert_array_equal(s.split, base.split)
    np.testing.assert_array_equal(s.labels >= 0, base.labels >= 0)
    used = base.labels >= 0
    np.testing.assert_array_equal(s.labels[used], fake[used])
    flipped = used & (s.labels != base.labels)
    np.testing.assert_array_equal(flipped, used & nd.fake_interval(meta, "2016-11-09"))
    with pytest.raises(ValueError, match="2 labels"):
        base.relabelled(fake[:2])


def test_bandpass_bands_are_the_papers_3_hz_steps():
    bands = bandpass_bands(3.0, 50.0)
    assert len(bands) == 17 and bands[0] == (0.0, 3.0) and bands[-1] == (48.0, 50.0)
    assert all(hi - lo == 3.0 for lo, hi in bands[:-1]) and all(b[1] == c[0] for b, c in zip(bands, bands[1:]))
    assert bandpass_bands(3.0, 50.0, bands=[[6, 9]]) == [(6.0, 9.0)]
    with pytest.raises(ValueError, match="step_hz"):
        bandpass_bands(0.0, 50.0)


def test_planted_band_is_read_from_built_in_metadata_else_the_default():
    meta = pd.DataFrame({"planted_band_low_hz": [30.0, 30.0], "planted_band_high_hz": [40.0, 40.0]})
    assert planted_band(meta, (1.0, 2.0)) == ((30.0, 40.0), "planted")
    assert planted_band(pd.DataFrame({"x": [1]}), (31, 39)) == ((31.0, 39.0), "paper")


def test_labels_from_the_files_and_their_check_against_the_time_rule():
    meta = catalogue(n_pre=40, n_visso=6, n_post=44, stations=2)
    t = _event_time(meta)
    hours = ((t - pd.Timestamp(nd.MAINSHOCK_TIME)).dt.total_seconds() / 3600).to_numpy()
    # a file split made at 07:40:17 written as UTC (the code's mainshock): the first hour of aftershocks in _pre
    meta["period"] = np.where(hours < 1.0, "pre", "post")
    early = (hours >= 0) & (hours < 1)
    assert early.sum() == 0  # the catalogue starts 0.01 d = 14 min after: move two events into the first hour
    first_post = np.sort(np.unique(meta.source_id[hours > 0]))[:2]
    shift = meta.source_id.isin(first_post).to_numpy()
    meta.loc[shift, "trace_start_time"] = (pd.Timestamp(nd.MAINSHOCK_TIME) + pd.Timedelta(minutes=20)).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    meta.loc[shift, "period"] = "pre"
    np.testing.assert_array_equal(file_labels(meta), (meta.period == "post").to_numpy())
    q = label_check(meta)
    assert (q["n_disagree"], q["file_pre_time_post"], q["file_post_time_pre"]) == (4, 4, 0)  # 2 events x 2 stations
    assert q["n_within_shift_after"] == 4 and q["disagree_within_shift"] == 4 and q["n_within_shift_before"] == 0
    by_time = labelled_split(meta, np.ones(len(meta), bool), 2, balance=False)
    by_file = labelled_split(meta, np.ones(len(meta), bool), 2, balance=False, labels="file")
    assert (by_time.labels[shift] == 1).all() and (by_file.labels[shift] == 0).all()
    np.testing.assert_array_equal(by_time.labels[~shift], by_file.labels[~shift])
    # 4 classes from the files: the shifted events are the last foreshock chunk's, chunks still in time order
    four = labelled_split(meta, np.ones(len(meta), bool), 4, balance=False, labels="file")
    assert (four.labels[shift] == 1).all()
    with pytest.raises(ValueError, match="column 'period' missing"):
        file_labels(meta.drop(columns="period"))
    with pytest.raises(ValueError, match=r"holds \['during'\]"):
        file_labels(meta.assign(period="during"))
    with pytest.raises(ValueError, match="labels 'files' unknown"):
        labelled_split(meta, np.ones(len(meta), bool), 2, labels="files")
