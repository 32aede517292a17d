"""Train a logits model: one ``fit`` used by every recipe, resumable after a kill.

``fit(model, train_ds, val_ds, settings, run_dir)`` compiles the model for its output
width (1 unit: binary cross-entropy on the logit, accuracy at logit 0; k units: sparse
categorical cross-entropy on the logits), trains it with Keras's progress bar,
TensorBoard and a CSV history, keeps the best validation epoch's weights if asked,
stops early if asked, and can be killed at any moment (SIGKILL included) and resumed.

Resume: ``keras.callbacks.BackupAndRestore`` backs up model, optimizer, epoch counter and
the random layers' generator states after every epoch into ``run_dir/backup`` (a TensorFlow checkpoint: data files are
written first, then the ``checkpoint`` index file is replaced atomically, so a kill
leaves the previous backup in force; in multi-worker runs every worker saves, non-chief
ones to a temporary folder). The keep-best / early-stopping record (best value and
epoch, patience counter, history, the best weights) lives in variables attached to the
model during ``fit``, so it is part of the same checkpoint and survives the same kill.
Files meant for people (``history.csv``, ``best_weights.h5``) are rewritten atomically
from that record.

Run folder: ``history.csv`` (one row per epoch, 0-based ``epoch`` as in Keras),
``tensorboard/``, ``best_weights.h5`` (``keep_best``), ``weights.h5`` (the weights
the model ends with), ``fit.json`` (the summary), ``backup/`` (removed when training ends).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import tensorflow as tf
from tensorflow import keras

from seis_keras.atomic import write_json
from seis_keras.train.optimizers import CoupledWeightDecayAdam, CoupledWeightDecaySGD
from seis_keras.train.record import (STATE_ATTR, FitRecord, KeepBestAndHistory, epochs_in_backup, finished_in_backup,
                                     replay_data_order, save_weights_h5, write_history_csv)


#: ``TrainSettings.precision`` values: Keras dtype policies.
PRECISIONS = ("float32", "mixed_bfloat16")


@dataclasses.dataclass
class TrainSettings:
    """Every training choice, with the paper-neutral defaults.

    Args:
        optimizer: ``"sgd"``, ``"adam"`` or ``"adamw"``.
        learning_rate: step size.
        momentum: SGD momentum (Majstorović: 0.9); ignored by Adam.
        weight_decay: L2 / weight-decay coefficient (0 = none).
        weight_decay_mode: ``"auto"`` (coupled for sgd/adam as in PyTorch, decoupled for
            adamw), ``"coupled"`` (``wd*w`` added to every gradient, kernels and biases, like
            ``torch.optim.Adam(weight_decay=...)``) or ``"decoupled"`` (AdamW / Keras's own
            ``weight_decay``).
        adam_epsilon: Adam's epsilon; default 1e-8 as PyTorch (Keras's default is 1e-7).
        epochs: total epochs, counted across resumes.
        early_stopping_patience: stop after this many epochs without improvement of
            ``monitor``; ``None`` = never stop early.
        monitor: the logged quantity that decides "best" (``"val_loss"``).
        monitor_mode: ``"min"``, ``"max"`` or ``"auto"`` (max if the name contains "acc").
        keep_best: end with the weights of the best ``monitor`` epoch (Laurenti, ml4szeq);
            ``False`` keeps the last epoch's weights (Magrini).
        seed: passed to ``keras.utils.set_random_seed`` before the model is built.
        class_weight: ``{class index: weight}`` for the loss, or ``None``.
        verbose: Keras verbosity (1 = progress bar, 2 = one line per epoch, 0 = silent).
        tensorboard: write TensorBoard logs to ``run_dir/tensorboard``.
        steps_per_execution: training steps run per call into the compiled graph (Keras
            ``compile(steps_per_execution=...)``). 1 (default) updates the progress bar every
            step; small models train several times faster with 16–64, because the
            per-call Python/dispatch overhead (~1 ms) then dominates the step.
        precision: ``"float32"`` (default) or ``"mixed_bfloat16"``: Keras mixed precision,
            bf16 arithmetic with float32 weights, the loss on the logits cast to float32. The
            model must come as a callable (it is built under the policy; the global policy is
            restored afterwards). Faster only on CPUs with AVX-512 BF16 or AMX (and GPUs/TPUs
            with bf16 units; ``bench/precursor.py --profile``); it changes the numbers: on
            the built-in detector data the test accuracy stays within 0.03 of float32
            (tests/train/test_precision.py).
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0
    weight_decay: float = 0.0
    weight_decay_mode: str = "auto"
    adam_epsilon: float = 1e-8
    epochs: int = 10
    early_stopping_patience: int | None = None
    monitor: str = "val_loss"
    monitor_mode: str = "auto"
    keep_best: bool = True
    seed: int = 0
    class_weight: dict[int, float] | None = None
    verbose: int = 1
    tensorboard: bool = True
    steps_per_execution: int = 1
    precision: str = "float32"

    def __post_init__(self):
        if self.optimizer not in ("sgd", "adam", "adamw"):
            raise ValueError(f"TrainSettings.optimizer: expected sgd, adam or adamw, got {self.optimizer!r}")
        if self.weight_decay_mode not in ("auto", "coupled", "decoupled"):
            raise ValueError(f"TrainSettings.weight_decay_mode: expected auto, coupled or decoupled, "
                             f"got {self.weight_decay_mode!r}")
        if self.monitor_mode not in ("auto", "min", "max"):
            raise ValueError(f"TrainSettings.monitor_mode: expected auto, min or max, got {self.monitor_mode!r}")
        if int(self.epochs) < 1:
            raise ValueError(f"TrainSettings.epochs: expected >= 1, got {self.epochs}")
        if self.early_stopping_patience is not None and int(self.early_stopping_patience) < 1:
            raise ValueError(f"TrainSettings.early_stopping_patience: expected >= 1 or None, "
                             f"got {self.early_stopping_patience}")
        if int(self.steps_per_execution) < 1:
            raise ValueError(f"TrainSettings.steps_per_execution: expected >= 1, got {self.steps_per_execution}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"TrainSettings.precision: expected one of {list(PRECISIONS)}, got {self.precision!r}")
        if self.class_weight is not None:  # TOML tables have string keys
            self.class_weight = {int(k): float(v) for k, v in self.class_weight.items()}

    @classmethod
    def from_config(cls, section, **overrides) -> "TrainSettings":
        """Settings from a recipe's ``[train]`` section.

        Args:
            section: a mapping or a dataclass (a recipe's typed ``[train]`` config). Its keys
                that name a field of :class:`TrainSettings` are used; the others belong to
                the recipe (``batch_size``, ``runs`` ...) and are left alone.
            **overrides: field values that win over the section (``seed=seed + i``). An
                override that is not a field is an error.

        Returns:
            The settings, validated as by the constructor.
        """
        values = dataclasses.asdict(section) if dataclasses.is_dataclass(section) else dict(section)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(f"TrainSettings.from_config: {unknown} are not training settings "
                             f"(expected some of {sorted(names)})")
        return cls(**{**{k: v for k, v in values.items() if k in names}, **overrides})

    @property
    def mode(self) -> str:
        """``"min"`` or ``"max"``: which direction of ``monitor`` is better."""
        if self.monitor_mode != "auto":
            return self.monitor_mode
        return "max" if "acc" in self.monitor else "min"


@dataclasses.dataclass
class FitResult:
    """What ``fit`` returns.

    Attributes:
        model: the trained model (weights: best epoch if ``keep_best`` else last).
        history: ``{"loss": [...], "val_loss": [...], ...}``, one value per epoch run.
        best_epoch: 0-based epoch with the best ``monitor`` value (``None`` without it).
        best_value: that value.
        epochs_run: epochs completed in total (across resumes).
        stopped_early: whether early stopping ended the run.
        paths: ``run_dir``, ``history_csv``, ``tensorboard``, ``weights``, ``best_weights``.
    """

    model: keras.Model
    history: dict[str, list[float]]
    best_epoch: int | None
    best_value: float | None
    epochs_run: int
    stopped_early: bool
    paths: dict[str, Path]

    def summary(self) -> dict[str, Any]:
        """JSON-safe summary (everything but the model)."""
        return {"history": self.history, "best_epoch": self.best_epoch, "best_value": self.best_value,
                "epochs_run": self.epochs_run, "stopped_early": self.stopped_early,
                "paths": {k: str(v) for k, v in self.paths.items()}}


def make_optimizer(settings: TrainSettings) -> keras.optimizers.Optimizer:
    """The Keras optimizer ``settings`` describe (coupled decay via ``CoupledWeightDecay*``)."""
    mode = settings.weight_decay_mode
    if mode == "auto":
        mode = "decoupled" if settings.optimizer == "adamw" else "coupled"
    wd = float(settings.weight_decay)
    lr = float(settings.learning_rate)
    if settings.optimizer == "sgd":
        if mode == "coupled":
            return CoupledWeightDecaySGD(coupled_weight_decay=wd, learning_rate=lr, momentum=settings.momentum)
        return keras.optimizers.SGD(learning_rate=lr, momentum=settings.momentum, weight_decay=wd or None)
    if mode == "coupled":
        if settings.optimizer == "adamw":
            raise ValueError("TrainSettings: optimizer 'adamw' is decoupled by definition; "
                             "use optimizer='adam' for coupled weight decay")
        return CoupledWeightDecayAdam(coupled_weight_decay=wd, learning_rate=lr, epsilon=settings.adam_epsilon)
    if settings.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=wd, epsilon=settings.adam_epsilon)
    return keras.optimizers.Adam(learning_rate=lr, weight_decay=wd or None, epsilon=settings.adam_epsilon)


def build_with_policy(model_fn: Callable[[], keras.Model], precision: str) -> keras.Model:
    """``model_fn()`` under the Keras dtype policy ``precision``; the global policy is restored after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        return model_fn()
    finally:
        keras.mixed_precision.set_global_policy(previous)


class Float32Loss(keras.losses.Loss):
    """A loss computed on the logits cast to float32 (bf16 logits lose the loss's small differences)."""

    def __init__(self, loss: keras.losses.Loss):
        super().__init__(reduction=loss.reduction, name=loss.name)
        self.loss = loss

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.loss(y_true, tf.cast(y_pred, tf.float32), sample_weight=sample_weight)

    def call(self, y_true, y_pred):  # not used: __call__ delegates to the wrapped loss
        return self.loss.call(y_true, tf.cast(y_pred, tf.float32))


def loss_and_metrics(model: keras.Model) -> tuple[keras.losses.Loss, list]:
    """Loss and accuracy for a logits model, chosen from its output width.

    Returns:
        ``(BinaryCrossentropy(from_logits=True), [BinaryAccuracy(threshold=0)])`` for 1 unit,
        ``(SparseCategoricalCrossentropy(from_logits=True), [SparseCategoricalAccuracy])``
        for k > 1 units. Both metrics are named ``accuracy``.
    """
    width = model.outputs[0].shape[-1]
    if width is None or width < 1:
        raise ValueError(f"model {model.name!r}: output width {width} (expected 1 or k logits)")
    if width == 1:
        return (keras.losses.BinaryCrossentropy(from_logits=True),
                [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)])
    return (keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            [keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def fit(model: keras.Model | Callable[[], keras.Model], train_ds: tf.data.Dataset,
        val_ds: tf.data.Dataset | None, settings: TrainSettings, run_dir: str | os.PathLike, *,
        resume: bool = False, strategy: tf.distribute.Strategy | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = ()) -> FitResult:
    """Train a logits model; the one training loop every recipe uses.

    Args:
        model: a Keras model whose output is logits, or a callable returning one (called
            inside ``strategy.scope()`` after seeding — required for a distributed strategy
            unless the model was already built in that scope).
        train_ds: ``tf.data.Dataset`` of batched ``(x, y)``.
        val_ds: validation dataset of the same form, or ``None`` (then neither ``keep_best``
            nor early stopping may use a ``val_*`` monitor).
        settings: a ``TrainSettings``.
        run_dir: output folder (created).
        resume: continue from ``run_dir/backup`` if a killed run left one (a fresh run if
            none), with the same settings. With ``resume=False`` an existing backup is an
            error, never overwritten. A resumed run continues with the restored weights,
            optimizer state, keep-best record and layer random-number generators, and
            ``train_ds``'s per-epoch order is advanced to the epoch it resumes at, so it
            ends bit-identical to an uninterrupted run (tested with repeated SIGKILLs).
            This holds for models built by a callable here (their random layers use
            ``tf.random.Generator``, switched on by ``fit``) and datasets whose per-epoch
            randomness is drawn when an iterator is created (``make_dataset``).
        strategy: a ``tf.distribute`` strategy (``distribute.get_strategy``); ``None`` = the
            current/default one. Under ``MultiWorkerMirroredStrategy`` the datasets are
            sharded by data (``AutoShardPolicy.DATA``).
        callbacks: extra Keras callbacks, run after ours.

    Returns:
        A ``FitResult``; ``run_dir/fit.json`` holds its summary.
    """
    from seis_keras.train.distribute import is_multi_worker, with_data_sharding

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    backup_dir = run_dir / "backup"
    if backup_dir.exists() and not resume:
        raise FileExistsError(f"{run_dir}: holds the backup of an unfinished run; pass resume=True "
                              "to continue it, or use a new run folder")
    distributed = strategy is not None and strategy is not tf.distribute.get_strategy()
    strategy = strategy or tf.distribute.get_strategy()
    uses_monitor = settings.keep_best or settings.early_stopping_patience is not None
    if uses_monitor and val_ds is None and settings.monitor.startswith("val_"):
        raise ValueError(f"TrainSettings.monitor={settings.monitor!r} needs val_ds (keep_best or early "
                         "stopping is on)")
    # Layer randomness (dropout, the precursor's random input) from tf.random.Generator variables:
    # part of the model, so of the backup, so a resumed run draws what the uninterrupted one drew.
    # Global for the process, and only for layers built from here on (model_fn below).
    keras.backend.experimental.enable_tf_random_generator()
    keras.utils.set_random_seed(int(settings.seed))
    if is_multi_worker(strategy):
        train_ds = with_data_sharding(train_ds)
        val_ds = with_data_sharding(val_ds) if val_ds is not None else None

    if isinstance(model, keras.Model) and settings.precision != "float32":
        raise ValueError(f"fit: TrainSettings.precision={settings.precision!r} needs the model as a callable "
                         "(model_fn), to build it under that dtype policy")
    if isinstance(model, keras.Model) and distributed and model.distribute_strategy is not strategy:
        raise ValueError("fit: the model was built outside strategy.scope(); pass a callable that "
                         "builds it (model_fn) instead")
    with strategy.scope():
        if not isinstance(model, keras.Model):
            model = build_with_policy(model, settings.precision)
        loss, metrics = loss_and_metrics(model)
        if settings.precision != "float32":
            loss = Float32Loss(loss)
        model.compile(optimizer=make_optimizer(settings), loss=loss, metrics=metrics,
                      steps_per_execution=settings.steps_per_execution)
        keys = ["loss", "accuracy"] + (["val_loss", "val_accuracy"] if val_ds is not None else [])
        if settings.monitor not in keys and uses_monitor:
            keys.append(settings.monitor)
        record = FitRecord(model, int(settings.epochs), keys, settings.mode)
    setattr(model, STATE_ATTR, record)  # tracked: part of the BackupAndRestore checkpoint

    is_chief = strategy.extended.should_checkpoint
    ours = [KeepBestAndHistory(record, settings, run_dir, is_chief),
            keras.callbacks.BackupAndRestore(str(backup_dir), save_freq="epoch", delete_checkpoint=True)]
    if settings.tensorboard:
        ours.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard")))
    try:
        if not finished_in_backup(model, backup_dir, record, ours[0]):
            replay_data_order(train_ds, epochs_in_backup(backup_dir))
            model.fit(train_ds, validation_data=val_ds, epochs=int(settings.epochs),
                      class_weight=settings.class_weight, verbose=settings.verbose,
                      callbacks=[*ours, *callbacks])
        history = record.history_dict()
        best_epoch = int(record.best_epoch.numpy())
        result = FitResult(
            model=model, history=history,
            best_epoch=best_epoch if best_epoch >= 0 else None,
            best_value=float(record.best_value.numpy()) if best_epoch >= 0 else None,
            epochs_run=int(record.epochs_done.numpy()), stopped_early=bool(record.stopped.numpy()),
            paths={"run_dir": run_dir, "history_csv": run_dir / "history.csv",
                   "tensorboard": run_dir / "tensorboard", "weights": run_dir / "weights.h5"})
        if settings.keep_best and best_epoch >= 0:
            result.paths["best_weights"] = run_dir / "best_weights.h5"
    finally:
        delattr(model, STATE_ATTR)
    if is_chief:
        write_history_csv(run_dir / "history.csv", history)
        save_weights_h5(model, run_dir / "weights.h5")
        write_json(run_dir / "fit.json", {**result.summary(), "settings": dataclasses.asdict(settings)})
        if backup_dir.exists():
            tf.io.gfile.rmtree(str(backup_dir))
    return result
