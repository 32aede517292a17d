"""Section 2 of the precursor study: train the CNN per noise mode, evaluate it (§3, §5.1, Fig. 4, Table 2).

Mode A is trained ``train.retrainings`` times (seed ``seed + i``; §5.2 uses five independent
retrainings), mode B ``train.mode_b_retrainings`` times. Each network is trained on the
training sub-windows with the random input layer redrawn every epoch, without a validation
set; it keeps "the best weights obtained in the training" (§6.2): those of the epoch with the
lowest training loss (``train.keep_best``, ``train.monitor``). With
``train.batch_norm_statistics = "clean"`` (default) its BatchNorm inference statistics are then
re-estimated on the training windows with the random layer off
(:func:`seis_keras.models.layers.clean_batch_norm_statistics`): the moving averages of training
describe the randomised inputs of the last epoch's kernel, which scales a slow signal by 0.75 or
1.25 (the paper is silent on it; measured in ``bench/precursor_random_layer.py``). It is evaluated
on the training and test windows (accuracy, confusion matrix, accuracy per test event).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
from tensorflow import keras

from seis_keras.data.precursor_windows import sub_window_table
from seis_keras.models.layers import RedrawRandomKernel, clean_batch_norm_statistics
from seis_keras.plots.evaluation import confusion_matrix, training_curves
from seis_keras.plots.precursor import per_event_accuracy
from seis_keras.recipes.precursor.study import (CLASS_NAMES, TABLE2, PrecursorStudy, build_model, dataset,
                                                json_safe, windows_of)
from seis_keras.recipes.runner import RunFolder
from seis_keras.train.evaluate import evaluate
from seis_keras.train.fit import TrainSettings, fit


@dataclasses.dataclass(frozen=True)
class Training:
    """The trained networks and their scores.

    Attributes:
        models: noise mode -> trained networks (retraining 0 first).
        histories: noise mode -> their training histories.
        metrics: noise mode -> one dict per network (seed, window counts, ``train`` and
            ``test`` evaluations, ``per_event_test_accuracy``).
    """

    models: dict
    histories: dict
    metrics: dict


def train_once(study: PrecursorStudy, folder: RunFolder, mode: str, index: int):
    """Train one network on the training windows of ``mode``; evaluate it on train and test.

    Returns:
        ``(model, metrics, history)``.
    """
    seed = study.cfg.seed + index
    train_w, test_w = windows_of(study, mode, "train"), windows_of(study, mode, "test")
    settings = TrainSettings.from_config(study.cfg.train, seed=seed, verbose=0, tensorboard=False)
    t0 = time.perf_counter()
    # Every random draw of a retraining follows its seed, whatever ran before it in this process: the
    # training stream's tf.data shuffle takes TensorFlow's global seed when it is made, and the model is
    # built inside fit, after fit seeds Python, numpy and TensorFlow (built before, its unseeded Dense
    # initialisers drew from the unseeded Python ``random``: the first network differed run to run).
    keras.utils.set_random_seed(seed)
    train_ds = dataset(study, train_w, shuffle=True, seed=seed)
    res = fit(lambda: build_model(study, seed), train_ds, None, settings, folder.path / "runs" / f"mode_{mode}_{index}",
              callbacks=[RedrawRandomKernel()])
    model = res.model
    bn_shift = None
    if study.cfg.train.batch_norm_statistics == "clean":
        bn_shift = clean_batch_norm_statistics(model, dataset(study, train_w))
    seconds = time.perf_counter() - t0
    test_table = sub_window_table(test_w, study.windowing)
    train_eval = evaluate(model, dataset(study, train_w), class_names=CLASS_NAMES)
    test_eval = evaluate(model, dataset(study, test_w), class_names=CLASS_NAMES,
                         groups=test_table["source_id"].to_numpy())
    per_event = {str(ev): test_eval["per_group"][str(ev)] for ev in test_table["source_id"].unique()}
    metrics = {"mode": mode, "retraining": index, "seed": seed, "train_seconds": seconds,
               "n_train_windows": int(len(train_w) * study.windowing.sub_windows),
               "n_test_windows": int(len(test_table)), "train": train_eval, "test": test_eval,
               "kept_weights": {"epoch": res.best_epoch if settings.keep_best else res.epochs_run - 1,
                                "rule": f"best {settings.monitor}" if settings.keep_best else "last epoch",
                                "monitor_value": res.best_value},
               "batch_norm_statistics": {"rule": study.cfg.train.batch_norm_statistics,
                                         "training_vs_clean": bn_shift},
               "per_event_test_accuracy": per_event}
    return model, json_safe(metrics), res.history


def train_all(study: PrecursorStudy, folder: RunFolder) -> Training:
    """Train and evaluate every network; draw Fig. 4 (confusion matrices), Table 2 and the training curves."""
    t = study.cfg.train
    models, histories, metrics = {}, {}, {}
    for mode in study.cfg.windows.modes:
        n = t.retrainings if mode == "A" else t.mode_b_retrainings
        for i in range(n):
            model, m, history = train_once(study, folder, mode, i)
            models.setdefault(mode, []).append(model)
            metrics.setdefault(mode, []).append(m)
            histories.setdefault(mode, []).append(history)
    training = Training(models, histories, metrics)
    training_figures(training, folder)
    return training


def training_figures(training: Training, folder: RunFolder) -> None:
    """Confusion matrices of the first network per mode (Fig. 4a/b), its curves, per-event accuracy (Table 2)."""
    for mode, runs in training.metrics.items():
        folder.save_figure(confusion_matrix(runs[0]["test"]["confusion_matrix"], CLASS_NAMES,
                                            title=f"Test, noise mode {mode} (Fig. 4b)"), f"fig4_confusion_{mode}")
        folder.save_figure(confusion_matrix(runs[0]["train"]["confusion_matrix"], CLASS_NAMES,
                                            title=f"Training, noise mode {mode} (Fig. 4a)"),
                           f"fig4_confusion_{mode}_train")
        folder.save_figure(training_curves(training.histories[mode][0]), f"training_curves_{mode}")
    series = {f"mode {m} #{r['retraining']}": r["per_event_test_accuracy"]
              for m, runs in training.metrics.items() for r in runs}
    events = list(next(iter(series.values())))
    series = {k: {e: v[e]["accuracy"] for e in events} for k, v in series.items()}
    folder.save_figure(per_event_accuracy(series, paper=list(TABLE2)), "table2_per_event_accuracy")


def accuracy_summary(runs: list, split: str) -> tuple[float, float]:
    """Mean and standard deviation of the ``split`` accuracy over retrainings."""
    acc = np.array([r[split]["accuracy"] for r in runs])
    return float(acc.mean()), float(acc.std())
