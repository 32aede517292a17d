"""Tests for seis_keras.data.subduction: loading, classes, transforms, spatial exclusion split."""
import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import PowerTransformer

from seis_keras.data.subduction import (ALONG_STRIKE, FEATURE_COLUMNS, REGION, TARGET, ClassScheme,
                                        SubductionTransforms, along_strike_slices, balanced_sample,
                                        load_subduction_tables, prepare_table, spatial_exclusion_split,
                                        validation_rows)


def _table(rng, regions=("aaa", "bbb", "ccc"), sizes=(23, 17, 31), gaps=True):
    rows = []
    for region, n in zip(regions, sizes):
        step = 50.0
        pos = np.arange(n) * step
        if gaps:  # irregular positions: some segments missing, one region at 25 km steps
            pos = np.cumsum(rng.choice([25.0, 50.0, 100.0], size=n))
        df = pd.DataFrame(rng.normal(size=(n, len(FEATURE_COLUMNS))), columns=list(FEATURE_COLUMNS))
        df[TARGET] = rng.uniform(5.0, 9.5, size=n)
        df[REGION] = region
        df[ALONG_STRIKE] = pos
        rows.append(df)
    return pd.concat(rows, ignore_index=True)


def _write_csv(path, n, rng, nan_rows=()):
    df = pd.DataFrame(rng.normal(size=(n, len(FEATURE_COLUMNS))), columns=list(FEATURE_COLUMNS))
    df[TARGET] = rng.uniform(5.0, 9.5, size=n)
    df.loc[0, TARGET] = 0.0  # "no event"
    for r in nan_rows:
        df.loc[r, "SED_AVE"] = np.nan
    df.to_csv(path)  # first unnamed column = row index, like the public tables
    return df


def test_real_tables_load_as_the_paper_counts(shared_data):
    t = load_subduction_tables(shared_data / "subduction")
    assert t.n_read == 591 and t.n_dropped == 35 and len(t.frame) == 556
    assert sum(t.dropped_per_region.values()) == 35
    assert sorted(t.frame[REGION].unique()) == ["alu", "cam", "izu", "ker", "kur", "ryu", "sam", "sum"]
    assert t.features.shape == (556, 49) and not np.isnan(t.features).any()
    # no-event rows (<= 1) became Mw 4, nothing else is <= 1
    raw = t.frame[f"{TARGET}_raw"].to_numpy()
    assert np.all(t.target[raw <= 1] == 4.0) and np.all(t.target[raw > 1] == raw[raw > 1])
    assert t.n_no_event == int((raw <= 1).sum()) > 0
    # along strike: row order in the file × 50 km, gaps where rows were dropped
    alu_raw = pd.read_csv(shared_data / "subduction" / "alu.csv", index_col=0)
    kept = alu_raw.notna().all(axis=1).to_numpy()
    expect = np.arange(len(alu_raw))[kept] * 50.0
    np.testing.assert_array_equal(t.frame.loc[t.frame[REGION] == "alu", ALONG_STRIKE].to_numpy(), expect)
    # 3 quantile classes on all rows: cuts at Mw ~6.4 / ~8.3 and about a third of rows each
    tr = SubductionTransforms().fit(t.features, t.target)
    cuts = ClassScheme((0.33, 0.65), "quantile").mw_cuts(tr)
    assert cuts[0] == pytest.approx(6.4, abs=0.05) and cuts[1] == pytest.approx(8.3, abs=0.06)


def test_loading_tmp_csvs_counts_drops_and_positions(tmp_path):
    rng = np.random.default_rng(0)
    _write_csv(tmp_path / "xxa.csv", 12, rng, nan_rows=(3, 7))
    _write_csv(tmp_path / "xxb.csv", 9, rng)
    t = load_subduction_tables(tmp_path, segment_step_km=25.0)
    assert (t.n_read, t.n_dropped, len(t.frame)) == (21, 2, 19)
    assert t.dropped_per_region == {"xxa": 2}
    pos = t.frame.loc[t.frame[REGION] == "xxa", ALONG_STRIKE].to_numpy()
    np.testing.assert_array_equal(pos, np.array([0, 1, 2, 4, 5, 6, 8, 9, 10, 11]) * 25.0)
    assert t.n_no_event == 2 and (t.frame[TARGET] == 4.0).sum() >= 2


def test_bad_input_names_file_and_column(tmp_path):
    rng = np.random.default_rng(1)
    df = _write_csv(tmp_path / "bad.csv", 5, rng)
    df.drop(columns=["AGE"]).to_csv(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match=r"bad\.csv: column 'AGE' missing"):
        load_subduction_tables(tmp_path)
    df = df.astype({"V_TN": object})
    df.loc[2, "V_TN"] = "fast"
    df.to_csv(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match=r"bad\.csv: column 'V_TN' is not numeric"):
        load_subduction_tables(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        load_subduction_tables(tmp_path, regions=["nope"])


def test_along_strike_column_overrides_row_order():
    rng = np.random.default_rng(2)
    frame = _table(rng)
    t = prepare_table(frame)
    np.testing.assert_array_equal(t.frame[ALONG_STRIKE].to_numpy(), frame[ALONG_STRIKE].to_numpy())
    t2 = prepare_table(frame.drop(columns=[ALONG_STRIKE]), segment_step_km=50.0)
    np.testing.assert_array_equal(t2.frame.loc[t2.frame[REGION] == "bbb", ALONG_STRIKE].to_numpy(),
                                  np.arange(17) * 50.0)


@pytest.mark.parametrize("by", ["length", "rows"])
@pytest.mark.parametrize("exclusion_km", [0.0, 50.0, 100.0, 175.0])
def test_exclusion_split_respects_distance_and_tests_each_row_once(by, exclusion_km):
    rng = np.random.default_rng(3)
    frame = prepare_table(_table(rng)).frame
    region = frame[REGION].to_numpy()
    pos = frame[ALONG_STRIKE].to_numpy()
    tested = np.zeros(len(frame), dtype=int)
    for k in range(5):
        train, test = spatial_exclusion_split(frame, k, exclusion_km, by=by)
        tested[test] += 1
        assert len(np.intersect1d(train, test)) == 0 and len(test) > 0
        # independent brute force: a row trains iff not tested and > d from all same-region test rows
        expect = []
        for i in range(len(frame)):
            if i in set(test):
                continue
            same = [j for j in test if region[j] == region[i]]
            if all(abs(pos[i] - pos[j]) > exclusion_km for j in same):
                expect.append(i)
        np.testing.assert_array_equal(train, expect)
        for i in train:
            same = test[region[test] == region[i]]
            assert np.all(np.abs(pos[same] - pos[i]) > exclusion_km)
    np.testing.assert_array_equal(tested, 1)


def test_exclusion_removes_neighbour_segments_at_50_km_steps():
    frame = pd.DataFrame({REGION: ["r"] * 20, ALONG_STRIKE: np.arange(20) * 50.0})
    sizes = {d: len(spatial_exclusion_split(frame, 2, d)[0]) for d in (0, 50, 100)}
    # slice 2 = rows 8..11 (4 rows); 50 km drops one neighbour each side, 100 km two
    assert sizes == {0: 16, 50: 14, 100: 12}
    slices = along_strike_slices(frame)
    np.testing.assert_array_equal(np.bincount(slices), [4, 4, 4, 4, 4])


def test_two_classes_cut_at_mw_8():
    s = ClassScheme((8.0,))
    np.testing.assert_array_equal(s.labels([4.0, 7.99, 8.0, 9.6]), [0, 0, 1, 1])
    assert s.class_names() == ["Mw < 8.0", "Mw ≥ 8.0"] and s.n_classes == 2


def test_three_quantile_classes_follow_the_fitted_quantiles():
    y = np.linspace(5.0, 9.95, 100)  # distinct values: quantile transform = rank / (n-1)
    X = np.random.default_rng(4).normal(size=(100, 3))
    tr = SubductionTransforms().fit(X, y)
    s = ClassScheme((0.33, 0.65), "quantile")
    labels = s.labels(y, tr)
    ranks = np.arange(100) / 99
    np.testing.assert_array_equal(labels, np.searchsorted([0.33, 0.65], ranks, side="right"))
    # reported Mw cut = lowest magnitude of the upper class
    cuts = s.mw_cuts(tr)
    assert cuts == [y[labels >= 1].min(), y[labels >= 2].min()]
    assert s.class_names(tr)[1] == f"{cuts[0]:.2f} ≤ Mw < {cuts[1]:.2f}"
    with pytest.raises(ValueError, match="quantile"):
        s.labels(y)
    with pytest.raises(ValueError, match="increasing"):
        ClassScheme((0.6, 0.3), "quantile")


def test_transforms_fitted_on_training_rows_only():
    rng = np.random.default_rng(5)
    X = rng.lognormal(size=(200, 4))
    y = rng.uniform(4, 9.5, size=200)
    train = np.arange(0, 120)
    X[120:] *= 3.0  # test rows differ, so an all-rows fit differs from a train-only fit
    tr = SubductionTransforms().fit(X[train], y[train])
    ref = PowerTransformer(method="yeo-johnson", standardize=True).fit(X[train])
    np.testing.assert_allclose(tr.power_.lambdas_, ref.lambdas_)
    np.testing.assert_allclose(tr.transform(X[150:]), ref.transform(X[150:]), rtol=1e-5, atol=1e-5)
    every = SubductionTransforms().fit(X, y)
    assert np.max(np.abs(every.power_.lambdas_ - tr.power_.lambdas_)) > 1e-3
    np.testing.assert_allclose(tr.transform(X[train]).mean(axis=0), 0, atol=1e-4)
    np.testing.assert_array_equal(tr.target_fit_, np.sort(y[train]))
    assert tr.transform(X).dtype == np.float32


def test_balanced_sample_draws_classes_equally_and_validation_split():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    draws = balanced_sample(labels, n=30000, seed=0)
    freq = np.bincount(labels[draws], minlength=3) / 30000
    np.testing.assert_allclose(freq, 1 / 3, atol=0.02)
    np.testing.assert_array_equal(balanced_sample(labels, seed=7), balanced_sample(labels, seed=7))
    rows = np.arange(10, 60)
    fit, val = validation_rows(rows, 0.2, seed=1)
    assert len(val) == 10 and len(fit) == 40
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, val])), rows)
