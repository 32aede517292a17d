"""Tests of the detector recipe's input rule (issue 15.14), augmentation (12.2), scoring of other records (12.3)
and false alarms on records without events (12.4). The --eval-data section end to end is in test_detector.py's
quick path."""
import argparse

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from seis_keras.data.augment import DETECTOR_BUILT_IN, ORDER, Augmentations, one_spike
from seis_keras.data.detector import built_in_store
from seis_keras.data.store import WaveformStore
from seis_keras.models import contract_of
from seis_keras.recipes.config import load_config
from seis_keras.recipes.detector import __main__ as main_module
from seis_keras.recipes.detector import data as data_section
from seis_keras.recipes.detector import training as training_section
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.real_data import eval_windows, read_eval_windows, spike_robustness
from seis_keras.recipes.detector.scan import inject_glitches
from seis_keras.recipes.detector.study import input_contract
from seis_keras.recipes.runner import RunFolder


def _cfg(profile="quick", overrides=()):
    return load_config(DetectorConfig, "detector", profile, list(overrides))


class _Stop(Exception):
    pass


# --- issue 15.14: demean is not the paper's; "auto" keeps it for the built-in windows only ---------------
def test_demean_auto_is_the_papers_input_for_given_data_and_demeans_built_in_data(tmp_path):
    paper = contract_of("detector")
    full = _cfg("full")
    assert full.data.demean == "auto" and _cfg("quick").data.demean == "auto"
    assert input_contract(full, built_in=False) == paper and paper.transforms == ("MaxNormalize",)
    assert input_contract(full, built_in=True).transforms == ("Demean", "MaxNormalize")
    assert input_contract(_cfg("full", ["data.demean=true"]), built_in=False).transforms == ("Demean", "MaxNormalize")
    assert input_contract(_cfg("full", ["data.demean=false"]), built_in=True) == paper
    # a --data store is read as the paper does: divided by the maximum, DC offsets kept (old: demeaned)
    src = built_in_store(tmp_path / "src", n=60, seed=1, earthquake_fraction=0.5, sampling_rate=20.0, window_s=25.0,
                         split_fractions=(0.8, 0.1, 0.1), block_size=32)
    cfg = _cfg("quick", ["data.synthetic_n=60"])
    folder = RunFolder("detector", path=tmp_path / "run", quiet=True)
    data = data_section.load_data(cfg, input_contract(cfg, built_in=False), folder, str(src))
    x = data.store.get_waveforms(data.test.rows, components="ENZ")
    np.testing.assert_allclose(data.test.x, x / np.abs(x).max(axis=(1, 2), keepdims=True), rtol=1e-5, atol=1e-7)
    assert np.abs(data.test.x.mean(axis=1)).max() > 0.05  # the realistic windows' offsets survive
    assert data.metrics["transforms"] == ["MaxNormalize"] and data.metrics["augment"] is None


def test_run_builds_the_contract_from_the_data_it_is_given(tmp_path, monkeypatch):
    seen = []

    def stop(cfg, contract, *args):
        seen.append(contract.transforms)
        raise _Stop

    monkeypatch.setattr(main_module, "load_data", stop)
    cfg = _cfg("quick")
    for data in (None, str(tmp_path)):
        with pytest.raises(_Stop):
            main_module.run(cfg, argparse.Namespace(data=data, picks=None, out=tmp_path / "out", keep_failed=False))
    assert seen == [("Demean", "MaxNormalize"), ("MaxNormalize",)]


# --- issue 12.2: [augment] --------------------------------------------------------------------------------
#: The recipe's default: DETECTOR_BUILT_IN without gaps (chosen on the 149-earthquake dev-proxy; see the TOML).
RECIPE_AUGMENT = {k: v for k, v in DETECTOR_BUILT_IN.items() if k != "gaps"}


def test_augment_defaults_are_the_measured_preset_and_auto_follows_the_data():
    quick, full = _cfg("quick"), _cfg("full")
    preset = repr(Augmentations(RECIPE_AUGMENT))
    assert [name for name, _ in Augmentations(RECIPE_AUGMENT).steps] == ["gain", "glitches", "channel_dropout"]
    assert repr(training_section.training_augmentations(quick, True)) == preset
    assert repr(training_section.training_augmentations(full, True)) == preset  # built-in data: on in full too
    assert training_section.training_augmentations(quick, False) is None  # --data: the paper's training
    assert repr(training_section.training_augmentations(_cfg("quick", ["augment.enabled=true"]), False)) == preset
    assert training_section.training_augmentations(_cfg("quick", ["augment.enabled=false"]), True) is None
    assert training_section.training_augmentations(
        _cfg("quick", [f"augment.{k}.enabled=false" for k in ORDER]), True) is None
    steps = dict(training_section.training_augmentations(_cfg("quick", [
        "augment.glitches.probability=0.7", "augment.glitches.classes=all", "augment.glitches.kinds=[\"step\"]",
        "augment.time_shift.enabled=true", "augment.time_shift.max_shift=20", "augment.noise_mix.enabled=true",
        "augment.noise_mix.classes=earthquake", "augment.gaps.enabled=true"]), True).steps)
    assert steps["glitches"].probability == 0.7 and steps["glitches"].classes is None
    assert steps["glitches"].kinds == ("step",) and steps["time_shift"].max_shift == 20
    assert steps["noise_mix"].classes == (1,) and list(steps) == ["time_shift", "noise_mix", "gain", "gaps",
                                                                   "glitches", "channel_dropout"]


@pytest.mark.parametrize("override, message", [
    ("augment.glitches.probability=1.5", r"\[augment.glitches\] probability = 1.5: expected an integer <= 1|<= 1"),
    ("augment.gain.range_db=[6.0, -6.0]", "expected \\[low, high\\] with low <= high"),
    ("augment.glitches.kinds=[\"spike\", \"spike\"]", "expected distinct kinds"),
    ("augment.glitches.classes=both", "expected one of 'noise', 'earthquake', 'all'"),
    ("augment.enabled=maybe", "expected true or false or one of 'auto'"),
    ("augment.gain.gain=1.0", "'gain' is not a setting of \\[augment.gain\\]"),
    ("data.demean=yes", "expected true or false or one of 'auto'"),
    ("scan.glitch_kinds=[\"boxcar\"]", "expected one of 'spike', 'step'"),
])
def test_bad_augment_and_scan_values_are_one_line_errors(override, message):
    with pytest.raises(ValueError, match=message) as err:
        _cfg("quick", [override])
    assert "\n" not in str(err.value)


def test_train_runs_streams_augmented_training_windows_and_plain_validation(tmp_path, monkeypatch):
    cfg = _cfg("quick", ["data.synthetic_n=200", "train.batch_size=16"])
    folder = RunFolder("detector", path=tmp_path / "run", quiet=True)
    data = data_section.load_data(cfg, input_contract(cfg), folder)
    calls, streams = [], []
    real = training_section.make_dataset
    monkeypatch.setattr(training_section, "make_dataset", lambda *a, **k: calls.append(k) or real(*a, **k))

    def fit_stop(model_fn, train_ds, val_ds, settings, run_dir):
        streams.append((train_ds, settings.seed))
        raise _Stop

    monkeypatch.setattr(training_section, "fit", fit_stop)
    with pytest.raises(_Stop):
        training_section.train_runs(data, cfg, folder)
    (train_kw, val_kw), ((train_ds, seed),) = calls, streams
    assert train_kw["shuffle"] and repr(train_kw["augment"]) == repr(Augmentations(RECIPE_AUGMENT))
    assert not val_kw.get("shuffle") and val_kw.get("augment") is None and seed == cfg.seed
    # the augmentation changes the windows, never the labels: the same stream without it, same seed
    plain, _ = training_section.training_datasets(data, cfg, seed, None)
    xa, ya = (np.concatenate(v) for v in zip(*[(x.numpy(), y.numpy()) for x, y in train_ds]))
    xp, yp = (np.concatenate(v) for v in zip(*[(x.numpy(), y.numpy()) for x, y in plain]))
    assert np.array_equal(ya, yp) and len(ya) == len(data.splits["train"])
    changed = ~np.all(np.isclose(xa, xp, atol=1e-6), axis=(1, 2))
    assert 0.2 < changed.mean() < 1.0  # gain in half the windows, dropout / glitches in some


# --- issue 12.3: spike robustness, planted -------------------------------------------------------------------
def _component_e_detector():
    """Calls a window an earthquake when its normalised E component reaches 0.6 (only a spike on E does)."""
    x = tf.keras.Input((500, 3))
    logit = tf.keras.layers.Lambda(lambda v: 50.0 * (tf.reduce_max(tf.abs(v[:, :, :1]), axis=1) - 0.6),
                                   name="logits")(x)
    return tf.keras.Model(x, logit)


def test_spike_robustness_counts_the_spiked_windows_the_model_calls_earthquakes():
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal((40, 500, 3)) * [1.0, 2.0, 3.0] + [500.0, -200.0, 50.0]).astype(np.float32)
    contract = input_contract(_cfg("quick"), built_in=True)
    got = spike_robustness(_component_e_detector(), noise, contract, factor=8.0, copies=3, seed=5, threshold=0.5)
    # independent count: where one_spike put each copy's spike (its seeds are [seed, copy])
    on_e = sum(int((np.abs(one_spike(noise, factor=8.0, seed=[5, k]) - noise).max(axis=1).argmax(axis=1) == 0).sum())
               for k in range(3))
    assert 10 < on_e < 110  # a planted answer that is neither none nor all
    assert got["n_windows"] == 120 and got["n_called"] == on_e and got["called_earthquake"] == pytest.approx(on_e / 120)
    assert got["unspiked_called_earthquake"] == 0.0
    # the spike is factor x the demeaned peak: at 0.1 x the E component never reaches 0.6 of the max
    weak = spike_robustness(_component_e_detector(), noise, contract, factor=0.1, copies=2, seed=5, threshold=0.5)
    assert weak["n_called"] == 0
    assert spike_robustness(_component_e_detector(), noise[:0], contract, factor=8.0, copies=3, seed=5,
                            threshold=0.5)["called_earthquake"] is None


def test_eval_windows_reads_a_store_through_the_contract_and_keeps_the_p_sample(tmp_path):
    src = built_in_store(tmp_path / "eval", n=40, seed=2, earthquake_fraction=0.5, sampling_rate=40.0, window_s=30.0,
                         split_fractions=(0.8, 0.1, 0.1), block_size=16)
    contract = input_contract(_cfg("quick"), built_in=False)  # MaxNormalize only
    x, y, p = eval_windows(src, contract)
    assert x.shape == (40, 500, 3) and np.allclose(np.abs(x).max(axis=(1, 2)), 1.0)
    assert np.array_equal(y, pd.read_csv(src / "metadata.csv")["label"].to_numpy()) and 0 < y.sum() < 40
    assert np.all(np.isnan(p[y == 0]))
    # conformed 40 -> 20 Hz: the P sample is the source's, from the cropped window's start, at the new rate
    src_p = pd.read_csv(src / "metadata.csv")["trace_p_arrival_sample"].to_numpy(float)
    with WaveformStore(src) as store:
        assert store.sampling_rate == 40.0
    w = read_eval_windows(src, contract, pick_offset_s=5.0, work_dir=tmp_path / "conformed")
    start = w.meta["trace_window_start_sample_original"].to_numpy(float)
    assert w.conformed and np.allclose(p[y == 1], ((src_p - start) / 2.0)[y == 1])
    assert np.array_equal(w.x, x) and np.array_equal(w.p_sample, p, equal_nan=True)
    with pytest.raises(FileNotFoundError, match="--eval-data is not a store"):
        eval_windows(tmp_path / "nothing", contract)


# --- issue 12.4: glitches for the false-alarm rate -----------------------------------------------------------
def test_inject_glitches_puts_the_planted_spikes_and_steps_where_it_says():
    import obspy  # the scan works on obspy streams

    rng = np.random.default_rng(0)
    st = obspy.Stream([obspy.Trace(rng.standard_normal(36000).astype(np.float32),
                                   header={"sampling_rate": 20.0, "channel": f"HH{c}", "station": "X"})
                       for c in "ENZ"])
    before = [tr.data.copy() for tr in st]
    out, table = inject_glitches(st, per_hour=6.0, factor=8.0, kinds=["spike", "step"], seed=1, window_s=25.0)
    assert len(table) == round(6.0 * 1800.0 / 3600.0) and set(table["kind"]) == {"spike", "step"}
    assert all(np.array_equal(b, tr.data) for b, tr in zip(before, st))  # the input is not changed
    for tr0, tr1 in zip(st, out):
        rows = table[table["trace_id"] == tr0.id]
        diff = tr1.data.astype(np.float64) - tr0.data
        expected = np.zeros_like(diff)
        for _, r in rows.iterrows():
            i = int(round((obspy.UTCDateTime(r["time"]) - tr0.stats.starttime) * 20.0))
            if r["kind"] == "spike":
                expected[i] += r["height"]
            else:
                expected[i:] += r["height"]
            assert abs(r["height"]) > 8.0 * 2.5  # 8 x the local peak of unit-variance noise (>= ~2.5 sigma)
        np.testing.assert_allclose(diff, expected, rtol=1e-5, atol=1e-3)
