"""Tests for the ml4szeq subduction recipe: config, CV, relevance, end to end (the trainer: tests/train/test_mlp.py)."""
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from seis_keras.data.subduction import FEATURE_COLUMNS, TARGET, ClassScheme, prepare_table
from seis_keras.recipes.config import load_config
from seis_keras.recipes.subduction import relevance
from seis_keras.recipes.subduction.__main__ import main
from seis_keras.recipes.subduction.config import SubductionConfig
from seis_keras.recipes.subduction.cross_validation import cross_validate
from seis_keras.recipes.subduction.study import f1_summary, load_data, make_trainer

TINY = ["model.h1=16", "model.h2=8", "train.epochs=3", "train.seeds=1", "cv.exclusion_km=[0, 50]",
        "cv.compare_seeds=1", "explain.lrp_backend=\"reference\"", "explain.shap_samples=8",
        "explain.shap_background=8", "train.batch_size=16", 'trust.randomisation_layers=["logits", "fc2"]',
        "trust.randomisation_samples=4", "trust.steps=4", "trust.random_orders=2", "trust.faithfulness_samples=8"]


def _planted_frame(rng, regions=("aa", "bb", "cc"), n=24):
    rows = []
    for r in regions:
        df = pd.DataFrame(rng.normal(size=(n, len(FEATURE_COLUMNS))), columns=list(FEATURE_COLUMNS))
        df[TARGET] = np.clip(7.5 + 1.0 * df["SED_AVE"] - 0.6 * df["AGE"], 5.0, 9.5)
        df["region"] = r
        rows.append(df)
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def cfg():
    return load_config(SubductionConfig, "subduction", "quick", TINY)


def _with(cfg, section, **changes):
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **changes)})


def test_cross_validation_tests_every_row_once_per_seed(cfg):
    rng = np.random.default_rng(1)
    table = prepare_table(_planted_frame(rng))
    trainer = make_trainer(_with(cfg, "train", epochs=2), 2, max_rows=len(table.frame))
    res = cross_validate(table, ClassScheme((7.5,)), 50.0, [0, 1], cfg, trainer)
    assert res["labels"].shape == (2, len(table.frame)) and np.all(res["labels"] >= 0)
    assert np.all(res["mlp"] >= 0) and np.all(res["logistic"] >= 0) and np.all(res["majority"] >= 0)
    np.testing.assert_array_equal(res["labels"][0], (table.target >= 7.5).astype(int))
    # the logistic baseline finds the planted linear rule
    s = f1_summary(res["labels"][0], res["logistic"], 2)
    assert s["macro_mean"] > 0.8 and len(s["per_class_mean"]) == 2


def test_lrp_epsilon_conserves_the_predicted_logit(cfg):
    from seis_keras.models import get_model

    rng = np.random.default_rng(2)
    model = get_model("subduction", n_features=49, n_classes=3, hidden_units=(20, 10), dropout=0.2)
    model.set_weights([w if w.ndim > 1 else np.zeros_like(w) for w in model.get_weights()])  # zero biases
    X = rng.normal(size=(12, 49)).astype(np.float32)
    R = relevance.relevance(model, X, "lrp", cfg, X)
    logits = model(X, training=False).numpy().astype(np.float64)
    np.testing.assert_allclose(R.sum(axis=1), logits.max(axis=1), rtol=1e-5, atol=1e-8)
    assert R.shape == X.shape


def test_lrp_through_the_innvestigate_worker_agrees_with_numpy(cfg):
    from seis_keras.models import get_model

    rng = np.random.default_rng(4)
    model = get_model("subduction", n_features=49, n_classes=2, hidden_units=(12, 6), dropout=0.2)
    X = rng.normal(size=(7, 49)).astype(np.float32)
    from seis_keras.explain.lrp import LRPSession

    worker_cfg = _with(cfg, "explain", lrp_backend="innvestigate")
    with LRPSession(model) as session:   # one worker serves the paper's LRP-eps and the recommended composite
        ref = {m: relevance.relevance(model, X, m, cfg, X) for m in ("lrp", "recommended")}
        for method in ref:
            got = relevance.relevance(model, X, method, worker_cfg, X, session=session)
            np.testing.assert_allclose(got, ref[method], rtol=1e-4, atol=1e-6, err_msg=method)
    assert not np.allclose(ref["recommended"], ref["lrp"], rtol=0.1)   # two different rules


def test_robust_scaling_per_sample_and_class_medians():
    rng = np.random.default_rng(5)
    R = rng.normal(size=(9, 49)) * rng.uniform(0.1, 10, size=(9, 1))
    S = relevance.robust_scale_per_sample(R)
    q25, med, q75 = np.percentile(R, [25, 50, 75], axis=1, keepdims=True)
    np.testing.assert_allclose(S, (R - med) / (q75 - q25), rtol=1e-10)
    classes = np.array([0, 0, 0, 2, 2, 2, 2, 0, 0])
    M = relevance.class_medians(S, classes, 3)
    np.testing.assert_allclose(M[0], np.median(S[classes == 0], axis=0))
    assert np.isnan(M[1]).all()
    top = relevance.top_features(M, 3)
    assert top[1] == [] and top[2] == [FEATURE_COLUMNS[i] for i in np.argsort(-M[2])[:3]]


def _write_tables(folder, rng):
    for r in ("aa", "bb", "cc"):
        df = _planted_frame(rng, regions=(r,), n=26).drop(columns=["region"])
        df.loc[5, "V_UP"] = np.nan  # one row per region dropped
        df.to_csv(folder / f"{r}.csv")


def test_quick_recipe_end_to_end_on_tiny_tables(tmp_path):
    rng = np.random.default_rng(6)
    data = tmp_path / "tables"
    data.mkdir()
    _write_tables(data, rng)
    argv = ["--data", str(data), "--profile", "quick", "--out", str(tmp_path / "runs")]
    for s in TINY:
        argv += ["--set", s]
    assert main(argv) == 0
    run = next((tmp_path / "runs").iterdir())
    m = json.loads((run / "metrics.json").read_text())
    assert m["data"]["n_read"] == 78 and m["data"]["n_dropped_missing"] == 3 and m["data"]["n_rows"] == 75
    assert set(m["cross_validation"]["f1"]) == {"2", "3"} and set(m["cross_validation"]["f1"]["3"]) == {"0", "50"}
    for n_cls, by_dist in m["cross_validation"]["f1"].items():
        for e in by_dist.values():
            for method in ("mlp", "logistic", "majority"):
                assert 0.0 <= e[method]["macro_mean"] <= 1.0
                assert len(e[method]["per_class_mean"]) == int(n_cls)
            assert len(e["mw_cuts_per_fold"]) == 5
    # the code fits the transforms on all rows (the default); the train-rows fit is run beside it
    assert set(m["cross_validation"]["fit_transforms_comparison"]["2"]["0"]) == {"train", "all", "train_minus_all",
                                                                                 "seeds"}
    rel = m["relevance"]["3"]
    assert set(rel) == {"lrp", "saliency", "shap", "recommended"}
    assert rel["recommended"]["agreement_with_lrp"]["top_k"] == 8 and "agreement_with_lrp" not in rel["lrp"]
    # the trust section: every shown method checked per class count; no ground truth on these tables
    tr = m["trust"]
    assert tr["localisation_ground_truth"].startswith("none")
    for n_cls in ("2", "3"):
        assert set(tr[n_cls]["methods"]) == {"lrp", "saliency", "shap", "recommended"}
        for r in tr[n_cls]["methods"].values():
            assert r["checks"]["localisation"]["verdict"] == "not run"
            assert r["checks"]["randomisation"]["verdict"] in ("pass", "fail")
            assert r["checks"]["faithfulness"]["verdict"] in ("pass", "fail")
            assert r["extras"]["folds"] >= 1
            # the two-copies control, pooled over the folds like the cascade, at the verdict layer
            ctrl = r["randomisation_control"]
            assert ctrl["layer"] == r["checks"]["randomisation"]["numbers"]["layer"]
            assert set(ctrl) == {"layer", "spearman_abs", "spearman", "spearman_positive"}
        head = tr[n_cls]["headline"]
        assert head is None or tr[n_cls]["methods"][head]["verdict"] == "trusted"
    assert all(len(v) == 8 for v in rel["lrp"]["top_features"].values() if v)
    for name in ("f1_vs_exclusion", "relevance_2class", "relevance_3class", "trust_randomisation_3class",
                 "trust_deletion_2class"):
        png = (run / "figures" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    report = (run / "report.md").read_text()
    assert "| exclusion (km) | MLP macro F1 |" in report and "3 dropped for missing" in report
    assert "## Can the relevance be trusted?" in report and "The paper's LRP-ε: **" in report
    assert report.count("vs the paper's LRP-ε:") == 3 * 2
    top_rows = [line for line in report.splitlines() if line.startswith("| lrp | ")]
    assert len(top_rows) == 2 + 3 and all(line.count(",") == 7 for line in top_rows if "—" not in line)
    # the exported model reloads and classifies with its saved transforms
    from tensorflow import keras

    model = keras.models.load_model(run / "model_2class.h5", compile=False)
    params = json.loads((run / "transforms_2class.json").read_text())
    assert model.output_shape == (None, 2) and len(params["yeo_johnson_lambdas"]) == 49
    assert (run / "model_3class_serving").is_dir() and m["final_models"]["3"]["serving"] == "model_3class_serving"


@pytest.fixture(scope="module")
def builtin_fold(cfg):
    """One MLP trained on the built-in table (planted rule on SED_AVE, V_TN, AGE), as an explained fold."""
    from seis_keras.data import synthetic
    from seis_keras.data.subduction import SubductionTransforms, validation_rows

    frame = synthetic.subduction_table(n_segments_per_region=30, seed=0)
    table = prepare_table(frame)
    tr = SubductionTransforms().fit(table.features, table.target)
    X = tr.transform(table.features).astype(np.float32)
    y = ClassScheme((0.33, 0.65), "quantile").labels(table.target, tr)
    fit, val = validation_rows(np.arange(len(y)), 0.2, seed=0)
    trainer = make_trainer(_with(_with(cfg, "train", epochs=25), "model", h1=64, h2=32, dropout=0.2), 3,
                           max_rows=len(y))
    model, _ = trainer.fit(X[fit], y[fit], X[val], y[val], seed=0)
    pred = np.argmax(model(X, training=False).numpy(), axis=1)
    return {"model": model, "X_train": X[fit], "X_test": X, "y_test": y, "pred": pred,
            "planted": list(frame.attrs["planted_features"])}


def test_lrp_ranks_the_planted_features_of_the_builtin_table_on_top(cfg, builtin_fold):
    model, X, y, pred = (builtin_fold[k] for k in ("model", "X_test", "y_test", "pred"))
    tp = pred == y
    assert tp.mean() > 0.7
    R = relevance.relevance(model, X[tp], "lrp", cfg, X)
    medians = relevance.class_medians(relevance.robust_scale_per_sample(R), y[tp], 3)
    order = [FEATURE_COLUMNS[i] for i in np.argsort(-np.nanmean(medians, axis=0))]
    ranks = dict((f, order.index(f) + 1) for f in builtin_fold["planted"])
    # the strongest planted feature (SED_AVE, coefficient 0.7) near the top, and at least two of
    # the three planted features among the best 8 of 49 (by chance: ~1 %)
    assert ranks["SED_AVE"] <= 3, (ranks, order[:8])
    assert sum(r <= 8 for r in ranks.values()) >= 2, (ranks, order[:8])


def test_trust_finds_the_planted_features_and_fails_a_randomised_model(cfg, builtin_fold):
    from seis_keras.explain import metrics as explain_metrics
    from seis_keras.recipes.subduction import trust

    toml_trust = load_config(SubductionConfig, "subduction", "quick", []).trust   # the recipe's checks, not TINY's
    c = dataclasses.replace(_with(cfg, "explain", methods=["lrp", "saliency"]), trust=toml_trust)
    planted = builtin_fold["planted"]
    settings = trust.settings_of(c)

    def verdicts(fold):
        maps = {m: r["maps"] for m, r in relevance.explain_folds([fold], 3, c).items()}
        return trust.assess_folds([fold], maps, c, planted, settings)

    res = verdicts(builtin_fold)
    assert set(res) == {"lrp", "saliency", "recommended"}
    trusted = [m for m, r in res.items() if r.trusted]
    assert trusted, {m: r.rule for m, r in res.items()}
    for m in trusted:   # a trusted method found the planted columns: >= 1.5x their uniform share 3/49
        loc = res[m].checks["localisation"].numbers
        assert loc["uniform_share"] == pytest.approx(3 / 49) and loc["mass_ratio"] >= 1.5
    # the paper's LRP-eps (input x gradient at eps 1e-9) keeps the |x| ranking under random weights: Spearman |R| stays
    # above 0.3 after re-initialising down to fc2, and as high between two independent random copies (the confound the
    # recipe's max(R, 0) verdict avoids); its positive evidence does change
    lrp_rand = res["lrp"].checks["randomisation"]
    curve = res["lrp"].randomisation
    at_fc2 = curve.layers.index("fc2")
    assert lrp_rand.numbers["layer"] == "fc2" and lrp_rand.numbers["kind"] == "spearman_positive"
    assert curve.mean("spearman_abs")[at_fc2] > 0.3 and curve.control["spearman_abs"] > 0.3
    assert abs(curve.mean("spearman_abs")[at_fc2] - curve.control["spearman_abs"]) < 0.15
    assert lrp_rand.verdict == "pass" and lrp_rand.numbers["similarity"] < 0.3
    assert res["lrp"].extras["folds"] == 1 and res["lrp"].checks["faithfulness"].numbers["n_samples"] == int(
        (builtin_fold["pred"] == builtin_fold["y_test"]).sum())
    # the same network with every layer re-drawn: nothing it explains lands on the planted features
    _, random_model = list(explain_metrics.randomised_cascade(builtin_fold["model"], seed=3))[-1]
    pred = np.argmax(random_model(builtin_fold["X_test"], training=False).numpy(), axis=1)
    rand = verdicts({**builtin_fold, "model": random_model, "pred": pred, "y_test": pred})
    assert not any(r.trusted for r in rand.values()), {m: r.rule for m, r in rand.items()}
    for m in trusted:
        assert rand[m].checks["localisation"].numbers["mass_ratio"] < 1.5


def test_rank_agreement_of_two_methods():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2, 49))
    same = relevance.rank_agreement(a, 2 * a + 1, 8)
    assert same["spearman"] == pytest.approx(1.0) and same["top_k_shared"] == 8 and not same["depends_on_method"]
    assert same["top_k_shared_per_class"] == [8, 8]
    flipped = relevance.rank_agreement(a, -a, 8)
    assert flipped["spearman"] == pytest.approx(-1.0) and flipped["top_k_shared"] == 0 and flipped["depends_on_method"]
    # a class without explained rows has no per-class overlap; the class average uses the other class
    b = a.copy()
    b[1] = np.nan
    part = relevance.rank_agreement(a, b, 8)
    assert part["top_k_shared_per_class"] == [8, None]
    assert part["spearman"] == pytest.approx(stats.spearmanr(a.mean(axis=0), a[0]).statistic)


def test_builtin_table_is_the_fallback_and_planted_ranks_are_reported(cfg):
    table, source, planted = load_data(None, cfg, seed=0)
    n = cfg.data.synthetic_segments_per_region
    assert source == "built-in synthetic" and len(table.frame) == 8 * n and table.n_dropped == 0
    assert planted and set(planted) <= set(FEATURE_COLUMNS)
    np.testing.assert_array_equal(table.frame.groupby("region").along_strike_km.max().to_numpy(), 50.0 * (n - 1))
    # relevance_summary ranks features by the class-averaged median: planted ones placed 1st, 2nd and 11th
    med = np.zeros((2, len(FEATURE_COLUMNS)))
    score = np.linspace(0.5, 0.0, len(FEATURE_COLUMNS) - 3)
    others = [i for i, f in enumerate(FEATURE_COLUMNS) if f not in planted]
    med[:, others] = score
    med[:, FEATURE_COLUMNS.index(planted[0])] = [3.0, 1.0]   # mean 2.0 -> rank 1
    med[:, FEATURE_COLUMNS.index(planted[1])] = [0.0, 2.0]   # mean 1.0 -> rank 2
    med[:, FEATURE_COLUMNS.index(planted[2])] = score[7] - 1e-3  # just below the 8th other feature -> rank 11
    rel = {"lrp": {"medians": med, "counts": [5, 6]}}
    out = relevance.relevance_summary(rel, ["a", "b"], planted, cfg.explain.top_k)["lrp"]
    assert out["planted_ranks"] == {planted[0]: 1, planted[1]: 2, planted[2]: 11}
    assert out["planted_in_top_k"] is False  # top_k = 8
    assert out["top_features"]["a"][0] == planted[0] and out["top_features"]["b"][0] == planted[1]


def test_config_errors_are_one_line_and_come_before_any_data_is_read(tmp_path, capsys):
    out = tmp_path / "runs"
    for bad, message in (("train.epoch=3", "did you mean 'epochs'"),
                         ("train.epochs=-5", "[train] epochs = -5: expected an integer >= 1"),
                         ("train.balance=oversample", "expected one of 'sampling', 'class_weight', 'none'"),
                         ("explain.exclusion_km=75", "explain.exclusion_km = 75 is not among the exclusion distances"),
                         ('explain.recommended="lrp.epsilonn"', "unknown method 'lrp.epsilonn'"),
                         ('trust.randomisation_layer="fc9"', "randomisation_layer = 'fc9' is not in randomisation_layers"),
                         ("trust.colour=1", "'colour' is not a setting of [trust]")):
        assert main(["--data", str(tmp_path / "nowhere"), "--out", str(out), "--set", bad]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not out.exists()                                             # no run folder for a refused config
    assert main(["--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2   # a valid config, a bad --data
    assert "nowhere" in capsys.readouterr().err and not any(out.iterdir())      # ... leaves no folder behind


def test_released_checkpoints_scored_on_our_folds_and_their_layer_sizes_reused(tmp_path):
    torch = pytest.importorskip("torch")
    from sklearn.metrics import f1_score

    from seis_keras.data.subduction import SubductionTransforms, load_subduction_tables, spatial_exclusion_split
    from tests.models.test_checkpoints import write_released_layout

    rng = np.random.default_rng(8)
    data = tmp_path / "tables"
    data.mkdir()
    _write_tables(data, rng)
    sizes = ((12, 9), (7, 5), (10, 10), (6, 8), (9, 4))
    modules = write_released_layout(tmp_path / "repo", sizes=sizes, combos=((2, 50),))
    argv = ["--data", str(data), "--profile", "quick", "--out", str(tmp_path / "runs"),
            "--reference-checkpoints", str(tmp_path / "repo"), "--set", f'model.architectures_from="{tmp_path / "repo"}"',
            "--set", 'explain.methods=["lrp"]']   # relevance and trust: covered by the end-to-end test
    for s in TINY:
        argv += ["--set", s]
    assert main(argv) == 0
    run = next((tmp_path / "runs").iterdir())
    m = json.loads((run / "metrics.json").read_text())
    ref = m["reference_checkpoints"]["2"]["50"]
    # independently: the torch modules on our folds, transforms fitted on all rows (the code)
    table = load_subduction_tables(data)
    tr = SubductionTransforms().fit(table.features, table.target)
    X, y = tr.transform(table.features), (table.target >= 8.0).astype(int)
    pred = np.full(len(y), -1)
    on_train = []
    for k in range(5):
        train, test = spatial_exclusion_split(table.frame, k, 50.0, n_slices=5, by="length")
        with torch.no_grad():
            pred[test] = modules[(2, 50.0, k)](torch.from_numpy(X[test])).numpy().argmax(axis=1)
            p_tr = modules[(2, 50.0, k)](torch.from_numpy(X[train])).numpy().argmax(axis=1)
        on_train.append(f1_score(y[train], p_tr, average="macro", labels=[0, 1], zero_division=0))
    assert ref["pooled"]["macro_mean"] == pytest.approx(f1_score(y, pred, average="macro"), abs=1e-9)
    # each checkpoint also scored on our training rows of its fold (the fold-alignment check)
    np.testing.assert_allclose([f["macro_mean"] for f in ref["train_rows_per_fold"]], on_train, atol=1e-9)
    assert ref["hidden_units_per_fold"] == [list(s) for s in sizes]
    # our own models at 2 classes / 50 km trained with each fold's released sizes; elsewhere the config's
    xv = m["cross_validation"]["f1"]
    assert xv["2"]["50"]["hidden_units_per_fold"] == [list(s) for s in sizes]
    assert xv["2"]["0"]["hidden_units_per_fold"] == [[16, 8]] * 5
    assert len(xv["2"]["50"]["mlp_per_fold"]) == 5
    report = (run / "report.md").read_text()
    assert "## The authors' released models on our folds" in report and "## F1 per test slice" in report
    assert "Is our slice k the authors' test slice k?" in report
    assert "Where this run differs from the code" in report


def test_the_folds_controls_pool_as_one_mean_over_their_rows():
    from seis_keras.explain.trust_checks import FaithfulnessResult, RandomisationResult
    from seis_keras.recipes.subduction.trust import _pool

    def fold(n, abs_value):
        sim = {k: np.full((2, n), 0.5) for k in ("spearman_abs", "spearman", "spearman_positive")}
        return RandomisationResult(["logits", "fc2"], sim, {"layer": "fc2", "spearman_abs": abs_value,
                                                            "spearman": 0.1, "spearman_positive": 0.2})

    rand, _, _ = _pool({"randomisation": [fold(3, 0.9), fold(1, 0.1)], "localisation": [],
                        "faithfulness": [FaithfulnessResult(np.zeros(2), *([np.zeros(1)] * 4), score="logit")] * 2})
    assert rand.similarity["spearman_abs"].shape == (2, 4)
    assert rand.control == {"layer": "fc2", "spearman_abs": pytest.approx(0.7), "spearman": pytest.approx(0.1),
                            "spearman_positive": pytest.approx(0.2)}
    missing = dataclasses.replace(fold(2, 0.5), control=None)
    assert _pool({"randomisation": [fold(3, 0.9), missing], "localisation": [],
                  "faithfulness": [FaithfulnessResult(np.zeros(2), *([np.zeros(1)] * 4), score="logit")] * 2})[0].control is None
