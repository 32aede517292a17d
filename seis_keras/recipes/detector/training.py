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

import dataclasses
import time
from pathlib import Path

from tensorflow import keras


from seis_keras.data.augment import Augmentations
from seis_keras.data.detector import distance_classes, earthquake_labels
from seis_keras.data.pipeline import make_dataset
from seis_keras.data.store import WaveformStore
from seis_keras.models import get_model
from seis_keras.models.contract import InputContract
from seis_keras.plots.detector import training_curves
from seis_keras.plots.evaluation import confusion_matrix
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.study import LETTERS, DetectorData, Evaluation, TrainedRun, Training
from seis_keras.recipes.runner import RunFolder
from seis_keras.train.evaluate import classification_metrics, positive_probability, summarise_runs
from seis_keras.train.export import save_keras_model
from seis_keras.train.fit import TrainSettings, fit
from seis_keras.train.parallel import WorkerPool, resolve_workers, run_jobs

CLASS_NAMES = ("noise", "earthquake")


def training_pool(cfg: DetectorConfig) -> WorkerPool:
    """The spawned processes of ``train.workers`` (one fewer than the workers: this process trains too), warming up."""
    return WorkerPool(resolve_workers(cfg.train.workers, cfg.train.runs) - 1, warm=warm_up)


def warm_up() -> None:
    """Run once in each spawned training process: unpickling it imports this module (TensorFlow, the models)."""


def train_runs(data: DetectorData, cfg: DetectorConfig, folder: RunFolder, pool: WorkerPool | None = None) -> Training:
    """Train ``train.runs`` models differing only in seed: run i uses ``seed + i`` for weights and order.

    Each run's folder ``runs/<name>/`` holds its history, TensorBoard logs and ``model.h5``
    (what the LRP workers load, and what every later section uses). ``train.workers`` runs train
    side by side in spawned processes (:mod:`seis_keras.train.parallel`: bit-identical weights
    wherever a run trains); ``pool``: those processes started earlier (:func:`training_pool`).
    """
    t = cfg.train
    augment = training_augmentations(cfg, data.built_in)
    folder.log(f"augmentation of the training windows: {augment!r}" if augment else
               "augmentation of the training windows: none")
    jobs = [(RunJob(str(data.store.path), data.splits, data.built_in, data.contract, cfg, cfg.seed + i,
                    str(folder.path / "runs" / LETTERS[i])),) for i in range(t.runs)]
    workers = resolve_workers(t.workers, t.runs) if pool is None else min(pool.processes + 1, t.runs)
    if workers > 1:
        folder.log(f"training {t.runs} runs, {workers} at a time (train.workers = {t.workers})")

    def finished(i, done):
        f = done["fit"]
        folder.log(f"run {LETTERS[i]}: {f['epochs_run']} epochs ({f['wall_time_s']:.0f} s), best {t.monitor} "
                   f"{f['best_value'] if f['best_value'] is None else round(f['best_value'], 4)}")

    runs = []
    for i, done in enumerate(run_jobs(train_run, jobs, workers=workers, on_result=finished, pool=pool)):
        h5 = Path(done["h5"])
        runs.append(TrainedRun(LETTERS[i], keras.models.load_model(h5, compile=False), h5, done["fit"]))
    folder.save_figure(training_curves({r.name: r.fit["history"] for r in runs}), "training_curves")
    return Training(runs)


@dataclasses.dataclass(frozen=True)
class RunJob:
    """What one training run needs, picklable for a spawned worker (the store is reopened there, read-only)."""

    store_path: str
    splits: dict
    built_in: bool
    contract: InputContract
    cfg: DetectorConfig
    seed: int
    run_dir: str


def train_run(job: RunJob) -> dict:
    """One run (in this process or a worker): fit, save ``model.h5``; returns its path and its fit summary + wall time."""
    cfg, contract = job.cfg, job.contract
    data = _RunData(WaveformStore(job.store_path), job.splits, contract)
    settings = TrainSettings.from_config(cfg.train, seed=job.seed, verbose=0)
    train_ds, val_ds = training_datasets(data, cfg, job.seed, training_augmentations(cfg, job.built_in))
    started = time.time()
    result = fit(lambda: get_model("detector", contract=contract, hidden_units=cfg.model.hidden_units,
                                   dropout=cfg.model.dropout),
                 train_ds, val_ds, settings, Path(job.run_dir))
    h5 = save_keras_model(result.model, Path(job.run_dir) / "model.h5")
    return {"h5": str(h5), "fit": {**result.summary(), "wall_time_s": time.time() - started}}


@dataclasses.dataclass(frozen=True)
class _RunData:
    """The part of :class:`DetectorData` that :func:`training_datasets` reads."""

    store: object
    splits: dict
    contract: InputContract


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

