"""The Ong et al. precursor recipe: helpers against constructed answers, and the quick path on tiny data."""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd
import pytest

from seis_keras.recipes.runner import load_config

TINY = ["data.n_events=6", "windows.macro_window_s=20.0", "synthetic.onset_hours=0.06",
        "windows.sub_window_samples=256", "windows.sub_windows=4", "model.filters=[4,4,4,4,4,8,8]",
        "model.fc_units=8", "train.epochs=2", "train.retrainings=2", "frequency_occlusion.cutoffs=[19.9,2.0,0.2]",
        "spectra.spectrogram_window=100", "spectra.spectrogram_stride=50", "occlusion.mask=64", "occlusion.stride=64",
        "relevance.n_per_class=3", "relevance.lrp=false", "scan.stride_s=20.0"]


def test_config_profiles_hold_the_paper_settings():
    full = load_config("precursor")
    assert full["windows"]["n_macro_windows"] == 36 and full["windows"]["sub_windows"] == 37
    assert full["windows"]["sub_window_samples"] == 16384 and full["occlusion"]["mask"] == 400
    assert full["train"]["retrainings"] == 5 and full["model"]["dropout"] == 0.02
    # §6.2: 8th order, -48 dB/octave: one filter pass (a forward-backward pass would roll off at -96 dB/octave)
    fo = full["frequency_occlusion"]
    assert (fo["order"], fo["zero_phase"], fo["start_hz"], fo["stop_hz"], fo["step_hz"]) == (8, False, 20.0, 0.1, 0.1)
    sp = full["spectra"]  # §6.3, Fig. 9 (channel 0 only), Fig. 11
    assert (sp["spectrogram_window"], sp["spectrogram_stride"], sp["spectrogram_channel"], sp["savgol_width_hz"]) == \
        (1000, 500, 0, 0.062)
    quick = load_config("precursor", "quick")
    assert quick["windows"]["sub_window_samples"] < 16384 and quick["model"]["filters"][-1] < 256


def test_cutoffs_knee_and_rise():
    from seis_keras.recipes.precursor import rise_interval
    from seis_keras.recipes.precursor_analysis import cutoff_list, occlusion_knee

    c = cutoff_list(load_config("precursor"))
    assert len(c) == 200 and c[0] == 20.0 and c[-1] == pytest.approx(0.1) and np.all(np.diff(c) < 0)
    table = pd.DataFrame({"cutoff_hz": [20, 5, 1, 0.3, 0.2, 0.15, 0.1],
                          "accuracy": [0.9, 0.9, 0.88, 0.86, 0.8, 0.6, 0.5]})
    assert occlusion_knee(table) == 0.2  # midpoint 0.7: first below at 0.15
    assert occlusion_knee(table.assign(accuracy=0.9)) is None
    mean = np.r_[np.full(24, 0.1), np.linspace(0.25, 0.9, 12)]  # background level 0.1 + 0.05
    std = np.full(36, 0.05)
    assert rise_interval(mean, std, 12) == 25
    mean[30] = 0.1  # a dip after the start: the rise counts from after it
    assert rise_interval(mean, std, 12) == 32
    assert rise_interval(np.full(36, 0.3), std, 12) is None


def test_records_from_obspy_files_and_events_csv(tmp_path):
    import obspy

    from seis_keras.data.store import WaveformStore
    from seis_keras.recipes.precursor import records_from_files

    cfg = load_config("precursor", overrides=["windows.macro_window_s=10.0", "windows.n_macro_windows=3"])
    fs, t0 = 40.0, obspy.UTCDateTime("2020-01-01T00:00:00")
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3, int(200 * fs))).astype(np.float32)
    st = obspy.Stream([obspy.Trace(data[j], header={"network": "IU", "station": "MAJO", "location": "10",
                                                   "channel": f"BH{c}", "sampling_rate": fs, "starttime": t0})
                       for j, c in enumerate("12Z")])
    (tmp_path / "wf").mkdir()
    st.write(str(tmp_path / "wf" / "day.mseed"), format="MSEED")
    pd.DataFrame({"origin_time": ["2020-01-01T00:01:00", "2020-01-01T00:02:30", ""],
                  "split": ["train", "test", "train"], "record_kind": ["event", "event", "noise"],
                  "start_time": ["", "", "2020-01-01T00:00:10"], "end_time": ["", "", "2020-01-01T00:00:50"]}
                 ).to_csv(tmp_path / "events.csv", index=False)
    path = records_from_files(str(tmp_path / "wf"), str(tmp_path / "events.csv"), cfg, tmp_path / "store")
    store = WaveformStore(path)
    meta = store.metadata
    assert meta["record_kind"].tolist() == ["event", "event", "noise"]
    x = store.get_waveforms(1)  # 30 s before 00:02:30 -> samples 4800 .. 6000
    np.testing.assert_allclose(x, data[:, 4800:6000].T, rtol=1e-6)
    np.testing.assert_allclose(store.get_waveforms(2), data[:, 400:2000].T, rtol=1e-6)
    bad = tmp_path / "late.csv"
    pd.DataFrame({"origin_time": ["2020-01-01T00:10:00"], "split": ["train"]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match="late.csv: row 1"):
        records_from_files(str(tmp_path / "wf"), str(bad), cfg, tmp_path / "store2")


def test_quick_path_on_tiny_built_in_data(tmp_path):
    import tensorflow as tf

    from seis_keras.recipes.precursor import main

    argv = ["--out", str(tmp_path)] + [a for s in TINY for a in ("--set", s)]
    assert main(argv) == 0
    (run,) = list(tmp_path.glob("precursor-*"))
    m = json.loads((run / "metrics.json").read_text())
    d = m["data"]
    n_train, n_test = d["events"]["train"], d["events"]["test"]
    assert (n_train, n_test) == (5, 1)
    # window counts: one noise and one precursor macro-window per event, 4 sub-windows each
    for mode in ("A", "B"):
        assert d["windows"][f"{mode}_train"] == {"noise": 4 * n_train, "precursor": 4 * n_train}
        assert d["windows"][f"{mode}_test"] == {"noise": 4 * n_test, "precursor": 4 * n_test}
    runs = m["training"]["A"]
    assert len(runs) == 2 and len(m["training"]["B"]) == 1
    cm = np.asarray(runs[0]["test"]["confusion_matrix"])
    assert cm.sum() == 8 and cm.sum(axis=1).tolist() == [4, 4]
    tc = m["time_course"]
    fr = np.asarray(tc["fractions"])
    assert fr.shape == (2, 36) and np.all((fr >= 0) & (fr <= 1))
    np.testing.assert_allclose(tc["mean"], fr.mean(axis=0))
    # each fraction is a multiple of 1/(4 windows x 1 test event)
    np.testing.assert_allclose(fr * 4, np.round(fr * 4), atol=1e-9)
    # the unfiltered cutoff (19.9 Hz ~ Nyquist 20 Hz: filtered, but nearly all-pass) vs the evaluation
    fo = m["frequency_occlusion"]
    assert fo["table"]["cutoff_hz"] == [19.9, 2.0, 0.2] and fo["n_windows"] == 8
    assert m["occlusion"]["mask"] == 64 and len(m["occlusion"]["scores"]) == 4
    assert m["relevance"]["saliency"]["band_power_fraction_precursor"] >= 0 and "LRP" not in m["relevance"]
    assert set(m["planted_band"]) >= {"band_hz", "relative_difference_peak_train", "saliency_band_enrichment"}
    assert m["scan"]["n_windows"] == (720 * 40 - 256) // (20 * 40) + 1
    for name in ("fig4_confusion_A", "fig4_confusion_A_train", "fig4_confusion_B_train", "fig5_precursor_fraction", "fig7_time_occlusion", "fig8_frequency_occlusion",
                 "fig9_spectrogram", "fig10_cumulative_spectra", "fig11_relative_difference", "scan_continuous_record",
                 "table2_per_event_accuracy", "relevance_spectra"):
        assert (run / "figures" / f"{name}.png").stat().st_size > 1000
    report = (run / "report.md").read_text()
    assert "90.0%" in report and "467/518" in report and "3.3 h" in report
    # the exported serving model gives the first mode-A network's probabilities
    from seis_keras.data.precursor_windows import load_sub_windows
    from seis_keras.data.store import WaveformStore

    contract = json.loads((run / "model" / "input_contract.json").read_text())
    assert contract["window_samples"] == 256 and contract["class_names"] == ["noise", "precursor"]
    keras_model = tf.keras.models.load_model(run / "model", compile=False)
    serve = tf.saved_model.load(str(run / "serving")).signatures["serving_default"]
    store = WaveformStore(next((run / "data").glob("precursor_*")))
    from seis_keras.recipes.precursor import load_data

    cfg = load_config("precursor", overrides=TINY)
    study = load_data(cfg, None, type("F", (), {"path": run})(), 0)
    from seis_keras.recipes.precursor import windows_of

    x, _ = load_sub_windows(store, windows_of(study, "A", "test"), study.windowing, components="12Z")
    p_keras = tf.nn.softmax(keras_model(x, training=False)).numpy()
    out = serve(**{keras_model.input_names[0]: tf.constant(x)})
    np.testing.assert_allclose(out["probabilities"].numpy(), p_keras, atol=1e-5)
    acc = np.mean(p_keras.argmax(1) == np.repeat([0, 1], 4))
    assert acc == pytest.approx(runs[0]["test"]["accuracy"])


def test_fetched_store_layout_with_mode_b_noise_records(tmp_path):
    """A store laid out as ``seis-keras data fetch data_manifests/ong_majo.toml`` writes it:
    event records of 36 macro-windows ending at the origin, 1000 s-style ``noise_b`` records
    without a split (shared out between the splits), the 48 h rule applied."""
    from seis_keras.data.store import StoreWriter
    from seis_keras.recipes.precursor import load_data
    from seis_keras.recipes.precursor_report import data_summary
    from seis_keras.recipes.runner import RunFolder

    cfg = load_config("precursor", overrides=TINY)
    fs, n = 40.0, 36 * 800
    rng = np.random.default_rng(2)
    events = pd.DataFrame({"trace_name": ["ev01", "ev02"], "source_id": ["ev01", "ev02"], "record_kind": "event",
                           "split": ["train", "test"], "trace_start_time": ["2016-01-01T00:00:00", "2017-01-01T00:00:00"],
                           "source_origin_time": ["2016-01-01T00:12:00.000000Z", "2017-01-01T00:12:00.000000Z"]})
    # noise 1 starts 47 h after event 1 (rejected by the 48 h rule); noise 2 and 3 are far away
    noise = pd.DataFrame({"trace_name": ["nb0", "nb1", "nb2"], "source_id": "", "record_kind": "noise_b", "split": "",
                          "trace_start_time": ["2016-01-02T23:12:00", "2016-06-01T00:00:00", "2016-07-01T00:00:00"],
                          "source_origin_time": ""})
    with StoreWriter(tmp_path / "ong2", sampling_rate=fs, component_order="12Z", block_size=1) as w:
        for i in range(2):
            w.add_many(rng.normal(size=(1, n, 3)).astype(np.float32), events.iloc[[i]])
        for i in range(3):
            w.add_many(rng.normal(size=(1, 800, 3)).astype(np.float32), noise.iloc[[i]])
    study = load_data(cfg, str(tmp_path / "ong2"), RunFolder("precursor", tmp_path / "runs"), 0)
    d = data_summary(study)
    assert d["events"] == {"train": 1, "test": 1} and d["noise_records"] == 3
    assert d["windows"]["B_train"] == {"noise": 4, "precursor": 4} == d["windows"]["B_test"]
    from seis_keras.recipes.precursor import windows_of

    used = pd.concat([windows_of(study, "B", s) for s in ("train", "test")])
    assert sorted(used.loc[used.kind == "noise_B", "row"]) == [3, 4]  # never the record 47 h after event 1
    # a wider catalogue: an origin 10 h after noise record 2 starts removes it from the mode-B pool
    (tmp_path / "catalog.csv").write_text("origin_time\n2016-06-01T10:00:00\n")
    cfg_extra = {**cfg, "data": {**cfg["data"], "extra_origins_csv": str(tmp_path / "catalog.csv")}}
    study_extra = load_data(cfg_extra, str(tmp_path / "ong2"), RunFolder("precursor", tmp_path / "runs"), 0)
    assert study_extra.extra_origins == ("2016-06-01T10:00:00",)
    with pytest.raises(ValueError, match="mode-B noise macro-windows"):  # one record left for two splits
        pd.concat([windows_of(study_extra, "B", s) for s in ("train", "test")])
    (tmp_path / "bad.csv").write_text("time\n2016-06-01T10:00:00\n")
    cfg_bad = {**cfg, "data": {**cfg["data"], "extra_origins_csv": str(tmp_path / "bad.csv")}}
    with pytest.raises(ValueError, match="bad.csv: column 'origin_time' missing"):
        load_data(cfg_bad, str(tmp_path / "ong2"), RunFolder("precursor", tmp_path / "runs"), 0)
    cfg["windows"]["noise_min_separation_hours"] = 24 * 200.0
    with pytest.raises(ValueError, match="mode-B noise macro-windows >= 4800.0 h"):
        windows_of(load_data(cfg, str(tmp_path / "ong2"), RunFolder("precursor", tmp_path / "runs"), 0), "B", "train")
