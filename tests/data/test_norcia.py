"""Tests of seis_keras.data.norcia: time-to-failure classes, balancing, splits, relabelling, pairs."""
import h5py
import numpy as np
import pandas as pd
import pytest

from seis_keras.data import norcia as nd

MAIN = pd.Timestamp(nd.MAINSHOCK_TIME)


def catalogue(n_pre=40, n_visso=6, n_post=44, stations=1, seed=0):
    """Events at known times: n_pre before Visso, n_visso on 27 Oct, n_post after the mainshock."""
    rng = np.random.default_rng(seed)
    pre = MAIN - pd.Timedelta(days=60) + pd.to_timedelta(np.sort(rng.uniform(0, 55, n_pre)), unit="D")
    visso = pd.Timestamp("2016-10-27T00:00:00Z") + pd.to_timedelta(np.sort(rng.uniform(0, 2, n_visso)), unit="D")
    post = MAIN + pd.to_timedelta(np.sort(rng.uniform(0.01, 60, n_post)), unit="D")
    times = pd.DatetimeIndex(np.concatenate([pre.values, visso.values, post.values])).tz_localize("UTC")
    rows = []
    for i, t in enumerate(times):
        for s in range(stations):
            rows.append({"source_id": str(1000 + i), "station_code": f"S{s}",
                         "trace_start_time": (t + pd.Timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
    meta = pd.DataFrame(rows)
    # shuffle rows: nothing may rely on the stored order
    return meta.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _event_time(meta):
    return pd.to_datetime(meta.trace_start_time, utc=True, format="ISO8601")


def test_two_classes_split_at_the_mainshock_and_leave_visso_out():
    meta = catalogue()
    y = nd.time_to_failure_classes(meta, 2)
    t = _event_time(meta)
    assert np.all(y[np.asarray(t >= MAIN)] == 1)
    visso = np.asarray((t >= pd.Timestamp("2016-10-26T00:00Z")) & (t < MAIN))
    assert np.all(y[visso] == -1) and visso.sum() == 6
    assert np.all(y[np.asarray(t < pd.Timestamp("2016-10-26T00:00Z"))] == 0)
    # with Visso kept, Visso events are foreshocks
    y_all = nd.time_to_failure_classes(meta, 2, exclude_visso=False)
    assert np.all(y_all[visso] == 0)


@pytest.mark.parametrize("n_classes", [4, 8, 9])
def test_n_classes_are_equal_count_chronological_chunks(n_classes):
    meta = catalogue(stations=3)
    y = nd.time_to_failure_classes(meta, n_classes)
    t = _event_time(meta)
    ev = meta.assign(y=y, t=t).groupby("source_id").agg(y=("y", "first"), ny=("y", "nunique"), t=("t", "min"))
    assert (ev.ny == 1).all()  # every trace of an event has the event's class
    used = ev[ev.y >= 0].sort_values("t")
    # chronological: labels never decrease in time
    assert np.all(np.diff(used.y.to_numpy()) >= 0)
    assert sorted(used.y.unique()) == list(range(n_classes))
    half = n_classes // 2
    counts = used.y.value_counts().sort_index().to_numpy()
    pre_counts, post_counts = counts[:half], counts[-half:]
    assert pre_counts.max() - pre_counts.min() <= 1 and post_counts.max() - post_counts.min() <= 1
    assert pre_counts.sum() == 40 and post_counts.sum() == 44
    if n_classes == 9:
        assert counts[4] == 6  # the Visso class
        assert nd.class_names(9)[4] == "Visso"
    else:
        assert (ev.y == -1).sum() == 6


def test_bad_class_count_is_a_clear_error():
    with pytest.raises(ValueError, match="n_classes=3"):
        nd.time_to_failure_classes(catalogue(), 3)
    with pytest.raises(ValueError, match="exclude_visso"):
        nd.time_to_failure_classes(catalogue(), 9, exclude_visso=True)
    with pytest.raises(ValueError, match="trace_start_time"):
        nd.time_to_failure_classes(catalogue().drop(columns="trace_start_time"), 2)


def test_a_missing_time_is_an_error_not_a_foreshock():
    meta = catalogue()
    meta.loc[7, "trace_start_time"] = None
    for call in (lambda: nd.time_to_failure_classes(meta, 2), lambda: nd.pre_post_labels(meta),
                 lambda: nd.temporal_middle_split(meta, np.zeros(len(meta), np.int64))):
        with pytest.raises(ValueError, match="'trace_start_time' has 1 missing times \\(first at row 7"):
            call()


def test_balancing_truncates_every_class_to_the_smallest_in_events():
    meta = catalogue(stations=2)
    y = nd.time_to_failure_classes(meta, 2)
    b = nd.balance_classes(y, meta, seed=3)
    ev = meta.assign(b=b).groupby("source_id").b.first()
    assert (ev == 0).sum() == (ev == 1).sum() == 40
    assert np.all(b[y == -1] == -1) and np.all((b == y) | (b == -1))
    # truncation is random (after shuffling), not the last events in time
    b2 = nd.balance_classes(y, meta, seed=4)
    assert not np.array_equal(b, b2)
    assert np.array_equal(b, nd.balance_classes(y, meta, seed=3))


def test_temporal_middle_split_takes_validation_and_test_from_the_middle():
    meta = catalogue(n_pre=100, n_post=100, stations=2)
    y = nd.balance_classes(nd.time_to_failure_classes(meta, 2), meta, seed=0)
    split = nd.temporal_middle_split(meta, y)
    assert set(split[y == -1]) <= {""} and set(split[y >= 0]) == {"train", "dev", "test"}
    frame = meta.assign(y=y, split=split, t=_event_time(meta))
    # no source_id in two splits
    assert (frame[frame.y >= 0].groupby("source_id").split.nunique() == 1).all()
    for c in (0, 1):
        ev = frame[frame.y == c].groupby("source_id").agg(split=("split", "first"), t=("t", "min")).sort_values("t")
        seq = ev.split.tolist()
        n = len(seq)
        assert seq[:35] == ["train"] * 35 and seq[35:45] == ["dev"] * 10 and seq[45:65] == ["test"] * 20
        assert seq[65:] == ["train"] * (n - 65)
        assert n == 100


def test_random_split_grouped_by_event_or_by_trace():
    meta = catalogue(stations=4)
    grouped = nd.random_split(meta, fractions=(0.7, 0.15, 0.15), seed=1)
    assert (meta.assign(s=grouped).groupby("source_id").s.nunique() == 1).all()
    n_events = meta.source_id.nunique()
    ev = meta.assign(s=grouped).groupby("source_id").s.first().value_counts()
    assert ev["train"] == round(0.7 * n_events) and ev["dev"] == round(0.15 * n_events)
    by_trace = nd.random_split(meta, group=None, seed=1)
    assert (meta.assign(s=by_trace).groupby("source_id").s.nunique() > 1).any()  # events shared by splits
    with pytest.raises(ValueError, match="fractions"):
        nd.random_split(meta, fractions=(0.5, 0.2, 0.2))


def test_wrong_date_relabelling_flips_exactly_the_fake_interval():
    meta = catalogue()
    true = nd.pre_post_labels(meta)
    t = _event_time(meta)
    for fake in ("2016-10-21", "2016-11-09"):
        fake_y = nd.pre_post_labels(meta, fake)
        flipped = nd.fake_interval(meta, fake)
        assert np.array_equal(fake_y != true, flipped)
        lo, hi = sorted([pd.Timestamp(fake, tz="UTC"), MAIN])
        assert np.array_equal(flipped, np.asarray((t >= lo) & (t < hi)))
        assert flipped.sum() > 0
    # an earlier fake date turns foreshocks into aftershocks, a later one the reverse
    assert np.all(nd.pre_post_labels(meta, "2016-10-21")[nd.fake_interval(meta, "2016-10-21")] == 1)
    assert np.all(nd.pre_post_labels(meta, "2016-11-09")[nd.fake_interval(meta, "2016-11-09")] == 0)


def test_co_located_pairs_respect_the_tolerances_and_match_one_to_one():
    lat0, lon0 = 42.83, 13.11
    km = 1 / 111.19
    rows = [
        # id, days from mainshock, north km, east km, depth, magnitude
        ("a", -10, 0.0, 0.0, 5.0, 1.00),   # pairs with b (0.3 km, dM 0.05)
        ("b", +10, 0.3, 0.0, 5.0, 1.05),
        ("c", +12, 0.0, 0.0, 5.45, 1.00),  # 0.45 km from a, dM 0: closer in M but farther; a taken by b first? no: by distance
        ("d", -20, 3.0, 0.0, 5.0, 2.00),   # pairs with e only if dM <= 0.1: dM 0.15 -> no pair
        ("e", +20, 3.0, 0.1, 5.0, 2.15),
        ("f", -30, 6.0, 0.0, 5.0, 1.50),   # 0.6 km from g: too far
        ("g", +30, 6.6, 0.0, 5.0, 1.50),
    ]
    meta = pd.DataFrame([{
        "source_id": i, "source_origin_time": (MAIN + pd.Timedelta(days=d)).isoformat(),
        "source_latitude_deg": lat0 + n * km, "source_longitude_deg": lon0 + e * km / np.cos(np.deg2rad(lat0)),
        "source_depth_km": z, "source_magnitude": m} for i, d, n, e, z, m in rows])
    every = nd.co_located_pairs(meta, one_to_one=False)
    assert set(zip(every.pre_id, every.post_id)) == {("a", "b"), ("a", "c")}
    pairs = nd.co_located_pairs(meta)
    assert list(zip(pairs.pre_id, pairs.post_id)) == [("a", "b")]
    assert pairs.distance_km.iloc[0] == pytest.approx(0.3, rel=2e-3)
    assert pairs.magnitude_difference.iloc[0] == pytest.approx(0.05)
    wider = nd.co_located_pairs(meta, max_distance_km=0.7, max_magnitude_difference=0.2)
    assert set(zip(wider.pre_id, wider.post_id)) == {("a", "b"), ("d", "e"), ("f", "g")}


def _write_zenodo(root, station, period, names, n_rows=3, order="NEZ"):
    folder = root / station
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(names) + (period == "post"))
    waves = {}
    with h5py.File(folder / f"{station}_waveforms_{period}.hdf5", "w") as h5:
        for k, name in enumerate(names):
            data = rng.normal(size=(3, 2500))
            data[order.index("E")] += 100 * (k + 1)  # E row recognisable by its offset
            rows = 2 if (n_rows == 2 and k == 0) else 3
            h5.create_dataset(name, data=data[:rows])
            waves[name] = data
    base = MAIN + pd.Timedelta(days=-5 if period == "pre" else 5)
    pd.DataFrame({
        "trace_name": names,
        "trace_start_time": [(base + pd.Timedelta(hours=k)).strftime("%Y-%m-%dT%H:%M:%S.%f") for k in range(len(names))],
        "network_code": "IV", "receiver_code": station, "source_id": [n.split(".")[2][:-3] for n in names],
        "source_latitude": 42.8, "source_longitude": 13.1, "source_depth_km": 5.0, "source_magnitude": 1.0,
    }).to_csv(folder / f"{station}_attributes_{period}.csv", index=False)
    return waves


def test_zenodo_layout_opens_as_a_store_through_the_readers(tmp_path):
    root = tmp_path / "zenodo"
    pre = _write_zenodo(root, "NRCA", "pre", ["NRCA.IV.1001_EV", "NRCA.IV.1002_EV"], n_rows=2)
    post = _write_zenodo(root, "NRCA", "post", ["NRCA.IV.2001_EV", "NRCA.IV.2002_EV", "NRCA.IV.2003_EV"])
    store, desc, skipped = nd.open_norcia(root, tmp_path / "work", component_order="NEZ")
    assert "Zenodo" in desc
    assert [s[1] for s in skipped] == ["NRCA.IV.1001_EV"]  # 2 rows only: skipped, reported
    meta = store.metadata
    assert len(store) == 4 and list(meta.period) == ["pre", "post", "post", "post"]
    x = store.get_waveforms(np.arange(4))
    assert x.shape == (4, 2500, 3) and store.component_order == "ENZ"
    expected = post["NRCA.IV.2002_EV"][[1, 0, 2]].T  # NEZ rows -> ENZ channels
    np.testing.assert_allclose(x[2], expected, rtol=1e-6)
    assert x[0, :, 0].mean() == pytest.approx(200, abs=1)  # E of the 2nd pre trace
    np.testing.assert_allclose(x[0], pre["NRCA.IV.1002_EV"][[1, 0, 2]].T, rtol=1e-6)
    assert list(nd.pre_post_labels(meta)) == [0, 1, 1, 1]
    assert nd.select_stations(meta, ["NRCA"]).all()
    with pytest.raises(ValueError, match="T1213"):
        nd.select_stations(meta, ["T1213"])


def test_built_in_data_opens_as_a_store(tmp_path):
    store, desc, skipped = nd.open_norcia(None, tmp_path, stations=["NRCA", "T1213"], n_events=12, seed=2)
    meta = store.metadata
    assert "built-in" in desc and not skipped
    assert set(meta.station_code) <= {"NRCA", "T1213"} and len(meta) >= 12
    assert np.array_equal(nd.pre_post_labels(meta), meta.label.to_numpy())


def test_an_existing_store_is_opened_as_is_and_a_missing_folder_is_a_clear_error(tmp_path):
    from seis_keras.data.synthetic import norcia_data

    norcia_data(6, seed=1, stations=("NRCA",), path=tmp_path / "mine")
    store, desc, skipped = nd.open_norcia(tmp_path / "mine", tmp_path / "work")
    assert desc == f"store {tmp_path / 'mine'}" and not skipped and not (tmp_path / "work").exists()
    assert len(store) == len(store.metadata) >= 6
    with pytest.raises(FileNotFoundError, match="nowhere"):
        nd.open_norcia(tmp_path / "nowhere", tmp_path / "work")
