"""Sections 2–3, model, training (§2.2–2.4) and evaluation (§2.4, Table S1).

The detector (``seis_keras.models.detector``, built for the study's input contract) is
trained ``train.runs`` times with SGD (lr 0.01, momentum 0.9, batch 512), early stopping after
50 epochs without a better validation loss; the runs differ only in seed (initial weights and
sample order), run A is the reference. The training windows are augmented as ``[augment]`` says
(on by default for the built-in windows: gain, gaps, channel dropout, glitches in noise; ours).
Each run is then scored on the evaluation split:
accuracy, precision, recall and F1 of the earthquake class, per epicentral-distance class when
the store knows distances (ours), and mean ± sample std over runs (the paper: 0.9758 ± 8e-4).
"""
from __future__ import annotations

import time

from seis_keras.data.augment import Augmentations
from seis_keras.data.detector import distance_classes, earthquake_labels
from seis_keras.data.pipeline import make_dataset
from seis_keras.models import get_model
from seis_keras.plots.detector import training_curves
from seis_keras.plots.evaluation import confusion_matrix
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.study import LETTERS, DetectorData, Evaluation, TrainedRun, Training
from seis_keras.recipes.runner import RunFolder
from seis_keras.train.evaluate import classification_metrics, positive_probability, summarise_runs
from seis_keras.train.export import save_keras_model
from seis_keras.train.fit import TrainSettings, fit

CLASS_NAMES = ("noise", "earthquake")


def train_runs(data: DetectorData, cfg: DetectorConfig, folder: RunFolder) -> Training:
    """Train ``train.runs`` models differing only in seed: run i uses ``seed + i`` for weights and order.

    Each run's folder ``runs/<name>/`` holds its history, TensorBoard logs and ``model.h5``
    (what the LRP workers load).
    """
    t, contract = cfg.train, data.contract
    augment = training_augmentations(cfg, data.built_in)
    folder.log(f"augmentation of the training windows: {augment!r}" if augment else
               "augmentation of the training windows: none")
    runs = []
    for i in range(t.runs):
        name, seed = LETTERS[i], cfg.seed + i
        settings = TrainSettings.from_config(t, seed=seed, verbose=0)
        train_ds, val_ds = training_datasets(data, cfg, seed, augment)
        started = time.time()
        result = fit(lambda: get_model("detector", contract=contract, hidden_units=cfg.model.hidden_units,
                                       dropout=cfg.model.dropout),
                     train_ds, val_ds, settings, folder.path / "runs" / name)
        h5 = save_keras_model(result.model, folder.path / "runs" / name / "model.h5")
        wall = time.time() - started
        folder.log(f"run {name}: {result.epochs_run} epochs ({wall:.0f} s), best {t.monitor} "
                   f"{result.best_value if result.best_value is None else round(result.best_value, 4)}")
        runs.append(TrainedRun(name, result.model, h5, {**result.summary(), "wall_time_s": wall}))
    folder.save_figure(training_curves({r.name: r.fit["history"] for r in runs}), "training_curves")
    return Training(runs)


def training_augmentations(cfg: DetectorConfig, built_in: bool) -> Augmentations | None:
    """The ``[augment]`` composition for a run's data (``None`` when off: ``enabled`` or nothing enabled)."""
    if not cfg.augment.active_for(built_in):
        return None
    augment = Augmentations(cfg.augment.settings())
    return augment if augment else None


def training_datasets(data: DetectorData, cfg: DetectorConfig, seed: int, augment: Augmentations | None):
    """The training stream (shuffled, augmented with ``augment``, seeded by ``seed``) and the validation stream.

    Both read the store through the input contract's transforms; validation windows are never augmented.
    """
    contract = data.contract
    common = dict(label=lambda meta: earthquake_labels(meta, str(data.store.path)),
                  transforms=contract.transform_list(), batch_size=cfg.train.batch_size,
                  components=contract.component_order)
    train_ds = make_dataset(data.store, indices=data.splits["train"], shuffle=True, seed=seed,
                            shuffle_buffer=cfg.train.shuffle_buffer, augment=augment, **common)
    return train_ds, make_dataset(data.store, indices=data.splits["dev"], **common)


def evaluate_runs(training: Training, data: DetectorData, cfg: DetectorConfig, folder: RunFolder) -> Evaluation:
    """Every run on the evaluation split; mean ± std (sample std, ddof 1) over runs (§2.4)."""
    test, e = data.test, cfg.evaluation
    groups = distance_classes(test.meta, test.y, e.distance_bins_km)
    probabilities, per_run = {}, {}
    for r in training.runs:
        p = positive_probability(r.model, test.x)
        probabilities[r.name] = p
        per_run[r.name] = classification_metrics(test.y, (p >= e.threshold).astype(int), n_classes=2,
                                                 class_names=CLASS_NAMES,
                                                 groups=None if groups is None else {"distance": groups})
        folder.log(f"run {r.name}: evaluation accuracy {per_run[r.name]['accuracy']:.4f}, "
                   f"F1 {per_run[r.name]['f1']:.4f}")
    runs = training.runs
    summary = summarise_runs([per_run[r.name] for r in runs], ddof=1 if len(runs) > 1 else 0)
    for key in ("accuracy", "precision", "recall", "f1"):
        summary[key]["per_run"] = {r.name: float(per_run[r.name][key]) for r in runs}
    a = training.reference.name
    folder.save_figure(confusion_matrix(per_run[a]["confusion_matrix"], CLASS_NAMES,
                                        title=f"run {a}, evaluation split"), "confusion_matrix_run_A")
    return Evaluation(probabilities, {"runs": per_run, "summary": summary})

