"""Tests for seis_keras.train.fit and seis_keras.train.optimizers."""
import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow import keras

from seis_keras.train.fit import TrainSettings, fit, make_optimizer
from seis_keras.train.optimizers import CoupledWeightDecayAdam

WORKER = Path(__file__).parent / "workers" / "train_worker.py"
REPO = Path(__file__).resolve().parents[2]


def _binary_data(n=256, flip_val=False, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    cut = n * 3 // 4
    y_val = 1 - y[cut:] if flip_val else y[cut:]
    train = tf.data.Dataset.from_tensor_slices((x[:cut], y[:cut])).batch(32)
    val = tf.data.Dataset.from_tensor_slices((x[cut:], y_val)).batch(32)
    return train, val


def _dense_model(units=1, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(units, name="logits")])


def _read_history(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_fit_lowers_loss_binary_and_writes_run_folder(tmp_path):
    train, val = _binary_data()
    settings = TrainSettings(optimizer="adam", learning_rate=1e-2, epochs=6, verbose=0)
    result = fit(_dense_model, train, val, settings, tmp_path)
    loss = result.history["loss"]
    assert len(loss) == 6 and result.epochs_run == 6
    assert loss[-1] < 0.6 * loss[0]
    assert result.history["val_accuracy"][-1] > 0.8 > result.history["val_accuracy"][0]
    rows = _read_history(tmp_path / "history.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(6))
    assert np.allclose([float(r["loss"]) for r in rows], loss)
    assert (tmp_path / "tensorboard").is_dir() and not (tmp_path / "backup").exists()
    summary = json.loads((tmp_path / "fit.json").read_text())
    assert summary["epochs_run"] == 6 and summary["settings"]["learning_rate"] == 1e-2


def test_steps_per_execution_groups_steps_without_changing_training(tmp_path):
    train, val = _binary_data()
    results = []
    for spe in (1, 4):
        settings = TrainSettings(optimizer="sgd", learning_rate=1e-2, epochs=2, verbose=0, tensorboard=False,
                                 steps_per_execution=spe)
        result = fit(_dense_model, train, val, settings, tmp_path / f"spe{spe}")
        assert result.model._steps_per_execution.numpy() == spe
        results.append(result.model.get_weights())
    for a, b in zip(*results):  # same steps in the same order: same weights
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="steps_per_execution"):
        TrainSettings(steps_per_execution=0)


def test_fit_multiclass_uses_sparse_crossentropy(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    y = np.argmax(x[:, :3], axis=1).astype(np.int64)  # 3 classes
    train = tf.data.Dataset.from_tensor_slices((x[:240], y[:240])).batch(30)
    val = tf.data.Dataset.from_tensor_slices((x[240:], y[240:])).batch(30)
    result = fit(lambda: _dense_model(3), train, val,
                 TrainSettings(learning_rate=1e-2, epochs=8, verbose=0, tensorboard=False), tmp_path)
    model = result.model
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    assert result.history["loss"][-1] < 0.5 * result.history["loss"][0]
    logits = model.predict(x[240:], verbose=0)
    acc = float(np.mean(np.argmax(logits, 1) == y[240:]))
    assert acc == pytest.approx(result.history["val_accuracy"][-1], abs=1e-6)


def test_keep_best_restores_best_epoch_weights(tmp_path):
    # validation labels are the opposite of the training rule: val loss worsens as training goes on
    train, val = _binary_data(flip_val=True)
    settings = TrainSettings(learning_rate=1e-2, epochs=5, verbose=0, tensorboard=False, keep_best=True)
    result = fit(_dense_model, train, val, settings, tmp_path / "best")
    val_loss = result.history["val_loss"]
    assert val_loss[-1] > val_loss[0]
    assert result.best_epoch == int(np.argmin(val_loss)) and result.best_epoch < 4
    assert result.model.evaluate(val, verbose=0)[0] == pytest.approx(min(val_loss), abs=1e-5)
    check = _dense_model()
    check.load_weights(str(tmp_path / "best" / "best_weights.h5"))
    for a, b in zip(check.get_weights(), result.model.get_weights()):
        np.testing.assert_array_equal(a, b)

    last = fit(_dense_model, train, val, TrainSettings(learning_rate=1e-2, epochs=5, verbose=0,
                                                       tensorboard=False, keep_best=False), tmp_path / "last")
    assert last.model.evaluate(val, verbose=0)[0] == pytest.approx(last.history["val_loss"][-1], abs=1e-5)
    assert not (tmp_path / "last" / "best_weights.h5").exists()


def test_early_stopping_counts_patience(tmp_path):
    train, val = _binary_data(flip_val=True)
    settings = TrainSettings(learning_rate=1e-2, epochs=20, verbose=0, tensorboard=False,
                             early_stopping_patience=2)
    result = fit(_dense_model, train, val, settings, tmp_path)
    assert result.stopped_early
    assert result.epochs_run == result.best_epoch + 3 < 20


def test_decoupled_modes_and_bad_settings():
    assert isinstance(make_optimizer(TrainSettings(optimizer="adamw", weight_decay=1e-2)),
                      keras.optimizers.AdamW)
    dec = make_optimizer(TrainSettings(optimizer="adam", weight_decay=1e-2, weight_decay_mode="decoupled"))
    assert not isinstance(dec, CoupledWeightDecayAdam) and dec.weight_decay == pytest.approx(1e-2)
    with pytest.raises(ValueError, match="adamw"):
        make_optimizer(TrainSettings(optimizer="adamw", weight_decay_mode="coupled"))
    with pytest.raises(ValueError, match="optimizer"):
        TrainSettings(optimizer="rmsprop")
    with pytest.raises(ValueError, match="early_stopping_patience"):
        TrainSettings(early_stopping_patience=0)
    assert TrainSettings(class_weight={"0": 1, "1": 2.5}).class_weight == {0: 1.0, 1: 2.5}
    assert TrainSettings(monitor="val_accuracy").mode == "max"


class _Crash(keras.callbacks.Callback):
    """Raises after epoch ``at`` has been backed up (user callbacks run after fit's own)."""

    def __init__(self, at=1):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("simulated crash")


class _Count(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


def test_resume_after_crash_equals_uninterrupted_run(tmp_path):
    train, val = _binary_data()
    settings = TrainSettings(optimizer="adam", learning_rate=1e-2, weight_decay=1e-3, epochs=4,
                             verbose=0, tensorboard=False, keep_best=True)
    full = fit(_dense_model, train, val, settings, tmp_path / "full")

    run = tmp_path / "crashed"
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(_dense_model, train, val, settings, run, callbacks=[_Crash()])
    assert (run / "backup").is_dir() and len(_read_history(run / "history.csv")) == 2
    with pytest.raises(FileExistsError, match="resume=True"):
        fit(_dense_model, train, val, settings, run)
    with pytest.raises(ValueError, match="set up for 4 epochs"):
        fit(_dense_model, train, val, dataclasses.replace(settings, epochs=6), run, resume=True)
    resumed = fit(_dense_model, train, val, settings, run, resume=True)
    assert resumed.epochs_run == 4
    # optimizer moments, epoch counter and keep-best record all came back: same numbers
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(resumed.history[key], full.history[key], rtol=1e-5)
    assert resumed.best_epoch == full.best_epoch
    for a, b in zip(resumed.model.get_weights(), full.model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert [int(r["epoch"]) for r in _read_history(run / "history.csv")] == [0, 1, 2, 3]

    # killed after the last epoch's backup but before training ended: nothing is retrained,
    # the kept (best) weights come back from the backup
    late = tmp_path / "crashed_late"
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(_dense_model, train, val, settings, late, callbacks=[_Crash(at=3)])
    count = _Count()
    again = fit(_dense_model, train, val, settings, late, resume=True, callbacks=[count])
    assert count.epochs == [] and again.epochs_run == 4 and again.best_epoch == full.best_epoch
    for a, b in zip(again.model.get_weights(), full.model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert (late / "best_weights.h5").is_file() and not (late / "backup").exists()


def test_fit_rejects_missing_validation_for_keep_best(tmp_path):
    train, _ = _binary_data()
    with pytest.raises(ValueError, match="val_ds"):
        fit(_dense_model, train, None, TrainSettings(epochs=1, verbose=0), tmp_path)


def _rows(path):
    try:
        return len(path.read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0


@pytest.mark.timeout(240)
def test_sigkill_then_resume_finishes_with_each_epoch_once(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, str(WORKER), str(run), "--epochs", "5", "--sleep", "0.3"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    try:
        while _rows(run / "history.csv") < 2:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            assert time.time() < deadline, "worker did not reach epoch 2"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    killed_at = _rows(run / "history.csv")
    assert 2 <= killed_at < 5 and (run / "backup").is_dir()

    # the restart runs here, in the test process, with the worker's problem and settings
    sys.path.insert(0, str(WORKER.parent))
    try:
        import train_worker
    finally:
        sys.path.remove(str(WORKER.parent))
    train, val, model_fn = train_worker.problem()
    seen = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    result = fit(model_fn, train, val, train_worker.settings(5), run, resume=True, callbacks=[Count()])
    assert result.epochs_run == 5
    assert seen and seen == list(range(seen[0], 5)) and seen[0] >= killed_at - 1  # continued, not restarted
    assert [int(r["epoch"]) for r in _read_history(run / "history.csv")] == [0, 1, 2, 3, 4]
    assert not (run / "backup").exists()
    assert result.history["loss"][-1] < result.history["loss"][0]


def test_train_settings_from_config_takes_its_fields_and_overrides():
    @dataclasses.dataclass
    class Section:  # a recipe's [train]: some TrainSettings fields, some recipe keys
        optimizer: str = "sgd"
        learning_rate: float = 0.01
        momentum: float = 0.9
        batch_size: int = 512
        runs: int = 10

    s = TrainSettings.from_config(Section(), seed=7, epochs=3)
    assert (s.optimizer, s.learning_rate, s.momentum, s.seed, s.epochs) == ("sgd", 0.01, 0.9, 7, 3)
    assert TrainSettings.from_config({"optimizer": "adam", "runs": 2}).optimizer == "adam"
    with pytest.raises(ValueError, match="batch_size"):
        TrainSettings.from_config(Section(), batch_size=3)  # not a training setting: an error, not ignored
    with pytest.raises(ValueError, match="optimizer"):
        TrainSettings.from_config({"optimizer": "rmsprop"})


@pytest.mark.timeout(600)
def test_killed_at_random_points_and_resumed_equals_the_uninterrupted_run_exactly(tmp_path):
    """Issue 16 item 6: SIGKILL three times at random moments, resume each time; the final weights
    are bit-identical to an uninterrupted run (shuffled store stream, dropout)."""
    from seis_keras.data.synthetic import detector_data

    store = tmp_path / "store"
    detector_data(600, seed=1, path=store)
    worker = Path(__file__).parent / "workers" / "resume_worker.py"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    epochs = ["--epochs", "6"]

    def run(run_dir, *extra, wait=True):
        cmd = [sys.executable, str(worker), str(store), str(run_dir), *epochs, *extra]
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if wait:
            out = proc.communicate(timeout=300)[0].decode()
            assert proc.returncode == 0, out[-3000:]
        return proc

    run(tmp_path / "full", "--out", str(tmp_path / "full.npz"))
    rng = np.random.default_rng(11)
    killed = tmp_path / "killed"
    done_before = 0
    for kill in range(3):
        proc = run(killed, *(["--resume"] if kill else []), wait=False)
        target = min(done_before + int(rng.integers(1, 3)), 5)   # kill after 1-2 more epochs ...
        deadline = time.time() + 240
        try:
            while _rows(killed / "history.csv") < target:
                assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
                assert time.time() < deadline, "worker too slow"
                time.sleep(0.02)
            time.sleep(float(rng.uniform(0.0, 0.3)))                # ... and somewhere inside the next one
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        done_before = _rows(killed / "history.csv")
        if done_before >= 6:
            break
    run(killed, "--resume", "--out", str(tmp_path / "killed.npz"))
    with np.load(tmp_path / "full.npz") as a, np.load(tmp_path / "killed.npz") as b:
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])
    full = _read_history(tmp_path / "full" / "history.csv")
    again = _read_history(killed / "history.csv")
    assert [r["loss"] for r in again] == [r["loss"] for r in full]
