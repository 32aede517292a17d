"""The training record: what a killed ``fit`` resumes from, and the files it writes for people.

The keep-best / early-stopping record (best value and epoch, patience counter, history, the
best weights) and the random layers' generator states live in variables attached to the
model during ``fit`` (:class:`FitRecord`), so they are part of the ``BackupAndRestore``
checkpoint and survive the same kill as the weights. :func:`replay_data_order` puts a
resumed run's data stream on the epoch it resumes at.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf
from tensorflow import keras

from seis_keras.atomic import atomic_path, write_text

#: The attribute that attaches the record to the model during ``fit`` (its checkpoint key).
STATE_ATTR = "_seis_keras_fit_record"

def layer_generators(model: keras.Model) -> list:
    """The ``tf.random.Generator`` of every random layer of ``model`` (nested models included).

    Layers built while Keras used its legacy stateful random ops (before
    ``keras.backend.experimental.enable_tf_random_generator()``) have none; their draws cannot
    be restored, so a resumed run would differ there.
    """
    found = []
    for layer in model._flatten_layers(include_self=False):
        rng = getattr(layer, "_random_generator", None)
        generator = getattr(rng, "_generator", None)
        if isinstance(generator, tf.random.Generator):
            found.append(generator)
    return found


class FitRecord(tf.__internal__.tracking.AutoTrackable):
    """Keep-best / early-stopping / history state as variables (checkpointed with the model)."""

    def __init__(self, model: keras.Model, epochs: int, keys: Sequence[str], mode: str):
        self.keys = list(keys)
        worst = math.inf if mode == "min" else -math.inf
        self.epochs_done = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.best_value = tf.Variable(worst, dtype=tf.float64, trainable=False)
        self.best_epoch = tf.Variable(-1, dtype=tf.int64, trainable=False)
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.stopped = tf.Variable(False, trainable=False)
        self.history = tf.Variable(np.full((epochs, len(self.keys)), np.nan), trainable=False)
        self.best_weights = [tf.Variable(np.zeros(w.shape, w.dtype.as_numpy_dtype), trainable=False)
                             for w in model.weights]
        # the layers' random-number generators (dropout, random input): weightless layers are not
        # in a Keras checkpoint, so their generator states are tracked here
        self.generators = layer_generators(model)

    def history_dict(self) -> dict[str, list[float]]:
        n = int(self.epochs_done.numpy())
        table = self.history.numpy()[:n]
        return {k: [float(v) for v in table[:, j]] for j, k in enumerate(self.keys)}


class KeepBestAndHistory(keras.callbacks.Callback):
    """Updates the ``FitRecord`` each epoch (before the backup), stops early, restores best."""

    def __init__(self, record: FitRecord, settings, run_dir: Path, is_chief: bool):
        super().__init__()
        self.record, self.settings, self.run_dir, self.is_chief = record, settings, run_dir, is_chief
        self.uses_monitor = settings.keep_best or settings.early_stopping_patience is not None

    def on_train_begin(self, logs=None):
        # BackupAndRestore (earlier in the list) has restored the record: make the
        # human-readable files agree with it (they may be one epoch ahead after a kill).
        if self.is_chief:
            write_history_csv(self.run_dir / "history.csv", self.record.history_dict())
            if self.settings.keep_best and int(self.record.best_epoch.numpy()) >= 0:
                self._write_best_weights()
        if bool(self.record.stopped.numpy()):
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        rec = self.record
        row = [float(logs.get(k, np.nan)) for k in rec.keys]
        table = rec.history.numpy()
        table[epoch] = row
        rec.history.assign(table)
        if self.uses_monitor:
            if self.settings.monitor not in logs:
                raise KeyError(f"TrainSettings.monitor={self.settings.monitor!r} not among the logged "
                               f"values {sorted(logs)}")
            value = float(logs[self.settings.monitor])
            best = float(rec.best_value.numpy())
            better = value < best if self.settings.mode == "min" else value > best
            if better:
                rec.best_value.assign(value)
                rec.best_epoch.assign(epoch)
                rec.wait.assign(0)
                for var, w in zip(rec.best_weights, self.model.weights):
                    var.assign(w.numpy())
                if self.settings.keep_best and self.is_chief:
                    self._write_best_weights()
            else:
                rec.wait.assign_add(1)
            patience = self.settings.early_stopping_patience
            if patience is not None and int(rec.wait.numpy()) >= patience:
                rec.stopped.assign(True)
                self.model.stop_training = True
        rec.epochs_done.assign(epoch + 1)
        if self.is_chief:
            write_history_csv(self.run_dir / "history.csv", rec.history_dict())

    def on_train_end(self, logs=None):
        if self.settings.keep_best and int(self.record.best_epoch.numpy()) >= 0:
            self.model.set_weights([v.numpy() for v in self.record.best_weights])

    def _write_best_weights(self):
        current = [w.numpy() for w in self.model.weights]
        self.model.set_weights([v.numpy() for v in self.record.best_weights])
        save_weights_h5(self.model, self.run_dir / "best_weights.h5")
        self.model.set_weights(current)


def save_weights_h5(model: keras.Model, path: Path) -> Path:
    """``model.save_weights`` in Keras's HDF5 weights format (``*.h5``), atomically.

    The HDF5 format only reads variables. Keras's newer ``*.weights.h5`` format may create
    variables while saving, which under ``MultiWorkerMirroredStrategy`` is a collective
    op, so a chief-only save would deadlock the workers; hence ``.h5`` names.
    """
    if Path(path).name.endswith(".weights.h5") or Path(path).suffix != ".h5":
        raise ValueError(f"{path}: expected a '*.h5' name (not '*.weights.h5')")
    with atomic_path(path) as tmp:
        h5 = tmp.with_name(f"{tmp.name}.h5")
        model.save_weights(str(h5))
        os.replace(h5, tmp)
    return path


def write_history_csv(path: Path, history: dict[str, list[float]]) -> Path:
    """Write ``epoch,<key>...`` rows (0-based epochs) atomically."""
    keys = list(history)
    n = len(history[keys[0]]) if keys else 0
    lines = [",".join(["epoch", *keys])]
    lines += [",".join([str(i), *(repr(history[k][i]) for k in keys)]) for i in range(n)]
    return write_text(path, "\n".join(lines) + "\n")


def epochs_in_backup(backup_dir: Path) -> int:
    """Epochs a killed run finished according to its backup (0 without one)."""
    latest = tf.train.latest_checkpoint(str(backup_dir / "chief"))
    if latest is None:
        return 0
    key = f"model/{STATE_ATTR}/epochs_done/.ATTRIBUTES/VARIABLE_VALUE"
    return int(tf.train.load_variable(latest, key)) if key in dict(tf.train.list_variables(latest)) else 0


def replay_data_order(train_ds, epochs: int) -> None:
    """Advance a dataset's per-epoch randomness by ``epochs`` epochs, reading almost nothing.

    A shuffled ``tf.data`` pipeline (``shuffle(reshuffle_each_iteration=True)``,
    ``Dataset.random(rerandomize_each_iteration=True)``) draws its epoch's order when an
    iterator is created, from a seed generator that lives in the process, not in the backup.
    Keras creates one iterator per epoch, so creating (and dropping) one per finished epoch
    puts a resumed run's next epoch on the order the uninterrupted run had there.
    """
    if isinstance(train_ds, tf.data.Dataset):
        for _ in range(int(epochs)):
            iter(train_ds)  # created (the epoch's order drawn) and dropped at once


def finished_in_backup(model: keras.Model, backup_dir: Path, record: FitRecord,
                        callback: KeepBestAndHistory) -> bool:
    """Restore a backup whose run had already ended (early stop or last epoch) and say so.

    ``model.fit`` would still run a batch after restoring such a backup; this restores it
    by hand instead, replays the record's train-begin/end steps and reports that no
    training is left.
    """
    latest = tf.train.latest_checkpoint(str(backup_dir / "chief"))
    if latest is None:
        return False
    stopped_key = f"model/{STATE_ATTR}/stopped/.ATTRIBUTES/VARIABLE_VALUE"
    done_key = f"model/{STATE_ATTR}/epochs_done/.ATTRIBUTES/VARIABLE_VALUE"
    stored = dict(tf.train.list_variables(latest))
    if stopped_key not in stored:
        return False
    history_shape = stored[f"model/{STATE_ATTR}/history/.ATTRIBUTES/VARIABLE_VALUE"]
    if history_shape[0] != record.history.shape[0]:
        raise ValueError(f"{backup_dir}: the interrupted run was set up for {history_shape[0]} epochs, "
                         f"TrainSettings.epochs is now {record.history.shape[0]} (resume with the same)")
    stopped = bool(tf.train.load_variable(latest, stopped_key))
    done = int(tf.train.load_variable(latest, done_key))
    if not stopped and done < record.history.shape[0]:
        return False
    tf.train.Checkpoint(model=model).restore(latest).expect_partial()
    if int(record.epochs_done.numpy()) != done:
        raise RuntimeError(f"{latest}: could not restore the training record from the backup")
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_train_end()
    return True
