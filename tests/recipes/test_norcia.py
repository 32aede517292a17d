"""Quick paths of the Laurenti et al. 2024 recipe on tiny built-in data (tiny network, 1 epoch)."""
import json

import numpy as np
import pandas as pd
import pytest

from seis_keras.data import norcia as nd
from seis_keras.recipes import norcia
from seis_keras.recipes.norcia_experiments import bands_of

TINY = ["--profile", "quick", "--set", "train.epochs=1", "--set", "train.verbose=0",
        "--set", "model.blocks=[[4,7,1],[4,7,2],[4,5,1],[4,5,1],[8,5,1],[8,3,1],[8,3,1]]"]


def _run(tmp_path, *extra):
    folder = norcia.main([*TINY, "--out", str(tmp_path), *extra])
    metrics = json.loads((folder.path / "metrics.json").read_text())
    return folder, metrics


def test_classes_and_explanations_quick_path(tmp_path):
    folder, m = _run(tmp_path, "--classes", "--explain", "--set", "data.builtin_events=160",
                     "--set", "classes.counts=[2, 4]", "--set", "explain.per_class=4",
                     "--set", 'explain.methods=["saliency"]')
    assert m["parts"] == ["classes", "explain"]
    store_meta = pd.read_csv(folder.path / "data" / "norcia_builtin" / "metadata.csv")
    for n in ("2", "4"):
        run0 = m["classes"]["NRCA"][n]["runs"][0]
        cm = np.array(run0["confusion_matrix"])
        assert cm.shape == (int(n), int(n)) and cm.sum() == run0["counts"]["test"]
        assert run0["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
        # the recipe's counts are those of the data module applied to the same metadata
        setting = norcia.make_setting(store_meta, np.ones(len(store_meta), bool), int(n),
                                      norcia.load_config("norcia", "quick"), m["seed"])
        assert run0["counts"] == setting.counts()
        assert run0["class_names"] == nd.class_names(int(n))
    e = m["explain"]
    assert e["band"] == [30.0, 40.0] and e["band_kind"] == "planted"
    share = e["methods"]["saliency"]["band_share_all"]
    assert 0.0 <= share <= 1.0
    assert e["methods"]["saliency"]["enrichment_vs_uniform"] == pytest.approx(share / e["uniform_share"])
    for name in ("confusion_NRCA", "explain_relevance_spectra"):
        assert (folder.path / "figures" / f"{name}.png").stat().st_size > 1000
    report = (folder.path / "report.md").read_text()
    assert "99.19 ± 0.12" in report and "| NRCA | ours |" in report  # paper beside ours
    # the exported serving model classifies like the trained one
    import tensorflow as tf

    from seis_keras.recipes.norcia import transforms_for
    from seis_keras.data.store import WaveformStore
    from seis_keras.data.transforms import Compose

    serve = tf.saved_model.load(str(folder.path / m["exported"]["savedmodel"])).signatures["serving_default"]
    x = Compose(transforms_for(norcia.load_config("norcia", "quick")))(
        WaveformStore(folder.path / "data" / "norcia_builtin").get_waveforms(np.arange(3)))
    out = serve(waveform=tf.constant(x))
    np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)


def test_wrong_dates_and_bandpass_quick_path(tmp_path):
    folder, m = _run(tmp_path, "--wrong-dates", "--bandpass", "--set", "data.builtin_events=140",
                     "--set", 'wrong_dates.dates=["2016-11-09"]', "--set", "bandpass.bands=[[33.0, 36.0]]")
    rows = m["wrong_dates"]["table"]
    assert [r["date"] for r in rows] == ["2016-11-09", "2016-10-30"] and rows[1]["true_date"]
    # the true date mislabels nothing: FP is null (strict JSON, no NaN)
    json.loads((folder.path / "metrics.json").read_text(), parse_constant=lambda c: pytest.fail(f"JSON holds {c}"))
    assert rows[1]["NM"] == 0 and rows[1]["FP"] is None
    fake = rows[0]
    meta = pd.read_csv(folder.path / "data" / "norcia_builtin" / "metadata.csv")
    cfg = norcia.load_config("norcia", "quick")
    base = norcia.make_setting(meta, np.ones(len(meta), bool), 2, cfg, m["seed"], exclude_visso=False)
    test = base.rows("test")
    t = pd.to_datetime(meta.trace_start_time.iloc[test], utc=True)
    expected_nm = int(((t >= pd.Timestamp("2016-10-30T06:40:17Z")) & (t < pd.Timestamp("2016-11-09", tz="UTC"))).sum())
    assert fake["NM"] == expected_nm and fake["n_test"] == len(test)
    assert 0 <= fake["NC"] <= fake["NM"]
    if fake["NM"]:
        assert fake["FP"] == pytest.approx(100 * (fake["NM"] - fake["NC"]) / fake["NM"])
    b = m["bandpass"]["table"]
    assert [(r["band_low_hz"], r["band_high_hz"]) for r in b] == [(33.0, 36.0)]
    assert 0 <= b[0]["accuracy"] <= 100
    assert (folder.path / "figures" / "wrong_dates.png").exists() and (folder.path / "figures" / "bandpass.png").exists()
    assert "| 2016-11-09 |" in (folder.path / "report.md").read_text()


def test_pairs_recover_the_planted_30_40_hz_enrichment(tmp_path):
    folder, m = _run(tmp_path, "--pairs", "--set", "data.builtin_events=1500")
    p = m["pairs"]
    meta = pd.read_csv(folder.path / "data" / "norcia_builtin" / "metadata.csv")
    assert p["n_pairs"] == len(nd.co_located_pairs(meta)) >= 5
    # built-in aftershocks carry a larger 30-40 Hz gain: the spectral ratio finds it
    assert p["planted_gain_ratio"] > 1.5
    assert p["mean_ratio_in_band"] > 1.5 * p["mean_ratio_reference_band"]
    assert p["fraction_of_pairs_richer_in_band"] >= 0.8
    assert (folder.path / "figures" / "pairs_spectral_ratio.png").exists()


def test_bands_and_bad_settings():
    cfg = norcia.load_config("norcia")
    bands = bands_of(cfg)
    assert len(bands) == 17 and bands[0] == (0.0, 3.0) and bands[-1] == (48.0, 50.0)
    assert all(hi - lo == 3.0 for lo, hi in bands[:-1])
    with pytest.raises(ValueError, match="run.parts"):
        norcia.parts_to_run(norcia.parser().parse_args([]), {"run": {"parts": ["classes", "nope"]}})
    assert norcia.stations_of(cfg, "all") is None and norcia.stations_of(cfg, "T1213") == ["T1213"]


def test_spectral_gradient_input_share_is_parseval_exact():
    from seis_keras.recipes.norcia_experiments import spectral_gradient_input_share

    fs, n = 100.0, 500
    t = np.arange(n) / fs
    rng = np.random.default_rng(0)
    g = rng.normal(size=(1, n, 2))
    x = np.zeros((1, n, 2))
    x[0, :, 0] = np.sin(2 * np.pi * 35.0 * t)  # all input power at 35 Hz
    share = spectral_gradient_input_share(x, g, (30.0, 40.0), fs)
    assert share[0] == pytest.approx(1.0)
    # the frequency terms add up to sum_t x g (Parseval), the quantity being decomposed
    X, G = np.fft.rfft(x[0, :, 0]), np.fft.rfft(g[0, :, 0])
    w = np.full(len(X), 2.0)
    w[0] = w[-1] = 1.0
    assert (w * np.real(X * np.conj(G))).sum() / n == pytest.approx((x[0, :, 0] * g[0, :, 0]).sum())
    x[0, :, 1] = np.sin(2 * np.pi * 10.0 * t)
    g2 = np.zeros_like(g)
    g2[0, :, 1] = np.sin(2 * np.pi * 10.0 * t)
    g2[0, :, 0] = np.sin(2 * np.pi * 35.0 * t)
    assert spectral_gradient_input_share(x, g2, (30.0, 40.0), fs)[0] == pytest.approx(0.5, abs=1e-6)


def test_zenodo_layout_runs_through_the_recipe(tmp_path):
    from test_norcia_data import _write_zenodo

    root = tmp_path / "zenodo"
    _write_zenodo(root, "NRCA", "pre", ["NRCA.IV.1001_EV", "NRCA.IV.1002_EV"])
    _write_zenodo(root, "NRCA", "post", ["NRCA.IV.2001_EV", "NRCA.IV.2002_EV", "NRCA.IV.2003_EV"])
    folder, m = _run(tmp_path / "runs", "--pairs", "--data", str(root), "--set", 'data.component_order="NEZ"')
    assert m["data"]["n_traces"] == 5 and "Zenodo" in m["data"]["source"]
    p = m["pairs"]
    # every event sits at one place with one magnitude: one-to-one matching pairs both pre events
    assert p["n_pairs"] == 2 and p["band_kind"] == "paper" and p["band"] == [30.0, 40.0]
    assert "planted_gain_ratio" not in p


def test_make_setting_random_split_and_wrong_date_refit():
    from test_norcia_data import catalogue

    meta = catalogue(n_pre=60, n_visso=6, n_post=64, stations=2)
    mask = np.ones(len(meta), bool)
    cfg = norcia.load_config("norcia", overrides=['split.kind="random"'])
    s = norcia.make_setting(meta, mask, 2, cfg, seed=5)
    used = meta.assign(y=s.labels, split=s.split)[s.labels >= 0]
    assert (used.groupby("source_id").split.nunique() == 1).all()  # by event
    per_event = used.groupby("source_id").split.first().value_counts()
    assert per_event.sum() == 120 and (per_event["train"], per_event["dev"]) == (84, 12)  # 70/10/20 of 120
    assert set(s.split[s.labels < 0]) == {""}
    with pytest.raises(ValueError, match="split.kind"):
        norcia.make_setting(meta, mask, 2, norcia.load_config("norcia", overrides=['split.kind="middle"']), seed=5)
    # refit with a wrong date: labels follow the fake boundary, Visso kept, balanced in events
    cfg = norcia.load_config("norcia")
    fake = "2016-10-21"
    s = norcia.make_setting(meta, mask, 2, cfg, seed=5, mainshock_time=fake, exclude_visso=False)
    keep = s.labels >= 0
    np.testing.assert_array_equal(s.labels[keep], nd.pre_post_labels(meta, fake)[keep])
    ev = meta.assign(y=s.labels)[keep].groupby("source_id").y.first()
    event_time = pd.to_datetime(meta.trace_start_time, utc=True, format="ISO8601").groupby(meta.source_id).min()
    n_before = int((event_time < pd.Timestamp(fake, tz="UTC")).sum())
    assert 0 < n_before < 60
    assert (ev == 0).sum() == (ev == 1).sum() == min(n_before, 130 - n_before)
