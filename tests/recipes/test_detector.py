"""Tests of the detector recipe (Majstorović et al. 2023): data preparation and the quick path end to end."""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest

from seis_keras.recipes import detector
from seis_keras.recipes.detector_explain import choose_samples
from seis_keras.recipes.runner import RunFolder, load_config


def test_labels_from_label_or_category_columns():
    assert detector.earthquake_labels(pd.DataFrame({"label": [1, 0, 1]}), "m.csv").tolist() == [1, 0, 1]
    cat = pd.DataFrame({"trace_category": ["earthquake_local", "noise", "Earthquake"]})
    assert detector.earthquake_labels(cat, "m.csv").tolist() == [1, 0, 1]
    src = pd.DataFrame({"source_event_category": ["eq", "noise", "ke"]})
    assert detector.earthquake_labels(src, "m.csv").tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="m.csv: column 'trace_category' has values \\['blast'\\]"):
        detector.earthquake_labels(pd.DataFrame({"trace_category": ["blast", "noise"]}), "m.csv")
    with pytest.raises(ValueError, match="m.csv: column 'label' must hold 0"):
        detector.earthquake_labels(pd.DataFrame({"label": [2, 0]}), "m.csv")
    with pytest.raises(ValueError, match="no column 'label'"):
        detector.earthquake_labels(pd.DataFrame({"x": [1]}), "m.csv")


def test_splits_use_the_column_or_a_seeded_80_10_10_split():
    meta = pd.DataFrame({"split": ["train", "dev", "test", "val", "train"]})
    s = detector.data_splits(meta, (0.8, 0.1, 0.1), 0, "m.csv")
    assert s["train"].tolist() == [0, 4] and s["dev"].tolist() == [1, 3] and s["test"].tolist() == [2]
    s1 = detector.data_splits(pd.DataFrame({"a": range(1000)}), (0.8, 0.1, 0.1), 5, "m.csv")
    s2 = detector.data_splits(pd.DataFrame({"a": range(1000)}), (0.8, 0.1, 0.1), 5, "m.csv")
    assert [len(s1[k]) for k in ("train", "dev", "test")] == [800, 100, 100]
    assert np.array_equal(np.sort(np.concatenate(list(s1.values()))), np.arange(1000))
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)
    with pytest.raises(ValueError, match="column 'split' has values \\['holdout'\\]"):
        detector.data_splits(pd.DataFrame({"split": ["train", "holdout"]}), (0.8, 0.1, 0.1), 0, "m.csv")


def test_chosen_earthquakes_are_correct_and_spread_over_distance():
    rng = np.random.default_rng(0)
    n = 200
    y = (np.arange(n) % 2).astype(int)
    p = np.where(y == 1, 0.9, 0.1)
    p[:20] = 1 - p[:20]  # twenty misclassified windows
    meta = pd.DataFrame({"source_distance_km": np.where(y == 1, rng.uniform(5, 110, n), np.nan)})
    eq, noise = choose_samples(meta, y, p, 10, 2, seed=0)
    d = meta["source_distance_km"].to_numpy()
    ok_eq = np.flatnonzero((y == 1) & (p >= 0.5))
    assert len(eq) == 10 and set(eq) <= set(ok_eq)
    assert np.all(np.diff(d[eq]) >= 0)  # A nearest ... J farthest
    assert d[eq[0]] == d[ok_eq].min() and d[eq[-1]] == d[ok_eq].max()
    assert len(noise) == 2 and np.all((y[noise] == 0) & (p[noise] < 0.5))


def test_waveform_files_with_picks_become_earthquake_and_noise_windows(tmp_path):
    from obspy import UTCDateTime

    from seis_keras.data.store import WaveformStore
    from seis_keras.data.synthetic import detector_continuous

    stream, events = detector_continuous(900.0, 3, seed=2, min_separation_s=200.0)
    records = tmp_path / "records"
    records.mkdir()
    for tr in stream:
        tr.write(str(records / f"{tr.id}.mseed"), format="MSEED")
    picks = tmp_path / "picks.csv"
    pd.DataFrame({"station": "SY.SYN", "time": events["p_time"], "phase": "P"}).to_csv(picks, index=False)
    cfg = load_config("detector", "quick")
    path = detector.ingest_records(records, str(picks), tmp_path / "store", cfg)
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
    assert store.trace_shape(0) == (500, 3)
    with pytest.raises(ValueError, match="needs a picks CSV"):
        detector.ingest_records(records, "", tmp_path / "store2", cfg)


TINY = ["data.synthetic_n=500", "train.runs=2", "train.epochs=2", "train.batch_size=64", "bo.steps=5",
        "lrp.betas=[0.0]", "lrp.epsilon_rule=false", "lrp.cross_run_betas=[0.0]", "lrp.sigma_samples=0",
        "quality.n_samples=12", "quality.randomisation_samples=3", "quality.deletion_steps=5",
        "scan.duration_s=150.0", "scan.n_events=1", "fmv.n_earthquakes=3"]


def _non_trivial_png(path) -> bool:
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    return path.stat().st_size > 5000 and float(img[..., :3].std()) > 0.02


def test_quick_path_end_to_end(tmp_path):
    cfg = load_config("detector", "quick", TINY)
    folder = detector.run(cfg, run_path=tmp_path / "run")
    assert isinstance(folder, RunFolder)
    m = json.loads((folder.path / "metrics.json").read_text())
    for key in ("data", "evaluation", "training", "chosen_samples", "fmv", "backward_optimisation", "lrp", "quality",
                "scan", "exported_model", "timings"):
        assert key in m, key
    assert m["data"]["n_windows"] == 500 and m["data"]["split_sizes"] == {"train": 400, "dev": 50, "test": 50}
    for k in ("accuracy", "precision", "recall", "f1"):
        s = m["evaluation"]["summary"][k]
        assert 0.0 <= s["mean"] <= 1.0 and s["std"] >= 0.0 and set(s["per_run"]) == {"A", "B"}
    runs = m["evaluation"]["runs"]
    acc_a = runs["A"]["accuracy"]
    cm = np.array(runs["A"]["confusion_matrix"])
    assert cm.sum() == 50 and acc_a == pytest.approx(np.trace(cm) / 50)
    assert [r["sample"] for r in m["chosen_samples"]] == list("ABCDE")
    fc = m["fmv"]["fraction_correlated_channels"]
    assert 0.0 <= fc["reference_sample"] <= 1.0 and fc["paper_reference_sample"] == 0.49
    assert 0.0 <= m["fmv"]["cross_run"]["per_run"]["B"]["fraction_reference_sample"] <= 1.0
    bo = m["backward_optimisation"]
    assert set(bo["per_run"]) == {"A", "B"} and 0.0 <= bo["fraction_components_within_unit_amplitude"] <= 1.0
    assert bo["per_run"]["A"]["final_loss_zero_init"] <= bo["per_run"]["A"]["initial_loss_zero_init"] + 1e-6
    # lrp.sigma_samples=0: sigma_LRP over the whole evaluation split (50 windows), as Fig. 8
    assert m["lrp"]["n_sigma_samples"] == 50 and -1.0 <= m["lrp"]["cross_run_pearson_reference_sample"]["beta_0"]["B"] <= 1.0
    q = m["quality"]
    assert 0.0 <= q["pointing_game_hit_rate"] <= 1.0 and 0.0 < q["window_fraction_of_samples_mean"] < 1.0
    assert len(q["randomisation_spearman_by_layer"]) >= 9  # conv1..7, fc1, logits
    assert m["scan"]["n_events"] == 1 and 0.0 <= m["scan"]["recall"] <= 1.0
    figures = sorted(p.name for p in folder.figures_dir.glob("*.png"))
    expected = {"training_curves", "fig3_feature_maps_earthquake", "fig3_feature_maps_noise",
                "fig4_layer5_feature_maps", "figS12_channel_correlation", "figS14_cross_run_matching",
                "fig5_optimal_inputs_zero_init", "figS15_bo_loss", "fig6_real_init_log_ratio",
                "figS16_noise_prototype", "fig7_lrp_beta_0", "figS23_cross_run_lrp", "fig8_sigma_lrp",
                "deletion_curve", "randomisation_test", "scan_continuous_record"}
    assert expected <= {f[:-4] for f in figures}
    empty = [f for f in figures if not _non_trivial_png(folder.figures_dir / f)]
    assert not empty, f"empty figures: {empty}"
    report = (folder.path / "report.md").read_text()
    assert "0.9758 ± 0.0008" in report and "| run A |" in report and '"profile": "quick"' in report
    assert "Profile `quick` is smaller than the paper's study" in report and "2 runs (paper: 10)" in report
    assert "at most 2 epochs" in report and "5 iterations (paper: 5000)" in report
    for name in ("A", "B"):
        assert (folder.path / "runs" / name / "history.csv").is_file()
        assert any((folder.path / "runs" / name / "tensorboard").rglob("events.out.tfevents*"))

    # the exported model scans through its stored input contract, as `seis-keras scan --model RUN/model` does
    from seis_keras.data.synthetic import detector_continuous
    from seis_keras.scan import scan

    stream, _ = detector_continuous(120.0, 0, seed=5)
    res = scan(folder.path / "model", stream, stride_s=5.0)
    assert res.settings["contract"]["transforms"] == ["Demean", "MaxNormalize"]
    assert res.probabilities[0].stats.npts == (120 * 20 - 500) // 100 + 1


def test_full_profile_holds_the_papers_settings_and_quick_stays_small():
    full = load_config("detector", "full")
    assert (full["data"]["sampling_rate"], full["data"]["window_s"], full["data"]["component_order"]) == (20.0, 25.0, "ENZ")
    assert full["data"]["split"] == [0.8, 0.1, 0.1] and full["data"]["earthquake_fraction"] == 0.48
    t = full["train"]
    assert (t["optimizer"], t["learning_rate"], t["momentum"], t["batch_size"], t["early_stopping_patience"],
            t["runs"]) == ("sgd", 1e-2, 0.9, 512, 50, 10)
    assert full["bo"]["steps"] == 5000 and full["lrp"]["betas"] == [0.0, 0.5, 1.0] and full["lrp"]["epsilon"] == 1e-6
    assert full["lrp"]["sigma_samples"] == 0 and full["fmv"]["layer"] == "conv5" and full["fmv"]["threshold"] == 0.8
    quick = load_config("detector", "quick")
    assert quick["data"]["synthetic_n"] <= 6000 and quick["train"]["runs"] == 2 and quick["bo"]["steps"] <= 200
    assert quick["train"]["optimizer"] == "sgd" and quick["lrp"]["betas"] == [0.0, 0.5, 1.0]
    c = detector.input_contract(full)
    assert (c.sampling_rate, c.window_samples, c.transforms) == (20.0, 500, ("Demean", "MaxNormalize"))


def test_a_stead_store_is_resampled_and_cropped_to_detector_windows(shared_data, tmp_path):
    from obspy import Trace

    from seis_keras.data.store import WaveformStore

    from seis_keras.recipes.detector_data import conform_store

    cfg = load_config("detector", "quick")
    folder = RunFolder("detector", path=tmp_path / "run")
    src = WaveformStore(shared_data / "stead_sample")
    # the sample holds earthquakes only: the recipe refuses it before converting anything
    with pytest.raises(ValueError, match="split 'train' holds only earthquake windows"):
        detector.load_data(str(shared_data / "stead_sample"), cfg, folder, 0)
    assert not (folder.path / "data" / "conformed").exists()

    conformed = WaveformStore(conform_store(src, tmp_path / "conformed", cfg))
    assert conformed.sampling_rate == 20.0 and len(conformed) == len(src)
    assert conformed.trace_shape(0) == (500, 3)
    np.testing.assert_array_equal(detector.earthquake_labels(conformed.metadata, "conformed"),
                                  detector.earthquake_labels(src.metadata, "stead"))
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
    with pytest.raises(FileNotFoundError, match="--data not found"):
        detector.load_data(str(tmp_path / "missing"), cfg, folder, 0)
