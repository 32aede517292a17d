"""Many tiny fits of a tabular classifier: the ml4szeq training loop, compiled once.

The subduction study is hundreds of fits (seeds × 5 folds × distances × class counts on ≤ 556
rows) with the authors' choices — sigmoid + BCE on one-hot labels, a one-cycle learning rate,
inverse-frequency resampling every epoch, the lowest-validation-loss epoch kept.
:func:`seis_keras.train.fit.fit` (one long run: checkpoint files, TensorBoard, resume; loss
fixed by the output width) fits none of that, so :class:`MLPTrainer` is a lean loop: one
XLA-compiled call per epoch, reused by every fit, the best-validation weights kept in memory.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Literal

import numpy as np
import tensorflow as tf
from tensorflow import keras

from seis_keras.data.subduction import balanced_sample
from seis_keras.models.init import INITS, torch_default_bound
from seis_keras.train.schedules import OneCycle


@dataclasses.dataclass(frozen=True)
class MLPSettings:
    """The training choices of :class:`MLPTrainer` (defaults: the ml4szeq code's ``default.yml``).

    Attributes:
        loss: ``"bce_onehot"`` (sigmoid BCE on one-hot labels, the code) or ``"softmax_ce"``.
        learning_rate: Adam's rate (the one-cycle schedule's peak).
        lr_schedule: ``"one_cycle"`` (PyTorch ``OneCycleLR``, the code) or ``"constant"``.
        adam_epsilon: Adam's epsilon (PyTorch's 1e-8).
        batch_size: rows per step (16).
        epochs: epochs per fit (120).
        balance: ``"sampling"`` (inverse-frequency resampling each epoch, like the code's
            ``WeightedRandomSampler``), ``"class_weight"`` (loss weights n/(k·n_c)) or ``"none"``.
        jit_compile: XLA-compile the epoch (same arithmetic; ~12 % less CPU per fit,
            ``bench/subduction_trainer.py``).
        lr_schedule_step: when the one-cycle schedule advances. ``"epoch"`` (the code: the
            schedule is sized in batches, ``steps_per_epoch=len(loader)``, but ``scheduler.step()``
            runs once per epoch, so over 120 epochs the rate only climbs from max/25 ≈ 4e-4 to
            ~7–9e-4) or ``"batch"`` (the schedule as PyTorch intends it, up to ``learning_rate``).
        validation_sampling: ``"balanced"`` (the code: each epoch the validation rows are drawn
            with replacement, p ∝ 1 / class count, like its ``WeightedRandomSampler``, and the
            best epoch is chosen on that loss) or ``"none"`` (every validation row once).
        init: initial weights of each fit. ``"pytorch"`` (the code's ``reset_parameters``:
            ``nn.Linear``'s Kaiming-uniform with a = √5, i.e. kernel and bias both
            U(−1/√fan_in, 1/√fan_in)) or ``"keras"`` (Glorot-uniform kernels, zero biases).
    """

    loss: Literal["bce_onehot", "softmax_ce"] = "bce_onehot"
    learning_rate: float = 1e-2
    lr_schedule: Literal["one_cycle", "constant"] = "one_cycle"
    adam_epsilon: float = 1e-8
    batch_size: int = 16
    epochs: int = 120
    balance: Literal["sampling", "class_weight", "none"] = "sampling"
    jit_compile: bool = True
    lr_schedule_step: Literal["epoch", "batch"] = "epoch"
    validation_sampling: Literal["balanced", "none"] = "balanced"
    init: Literal["pytorch", "keras"] = "pytorch"

    def __post_init__(self):
        for name, allowed in (("loss", ("bce_onehot", "softmax_ce")), ("lr_schedule", ("one_cycle", "constant")),
                              ("balance", ("sampling", "class_weight", "none")), ("lr_schedule_step", ("epoch", "batch")),
                              ("validation_sampling", ("balanced", "none")), ("init", INITS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"MLPSettings.{name}: expected one of {allowed}, got {getattr(self, name)!r}")
        if not self.learning_rate > 0 or self.batch_size < 1 or self.epochs < 1:
            raise ValueError(f"MLPSettings: learning_rate > 0, batch_size >= 1 and epochs >= 1 expected, got "
                             f"{self.learning_rate}, {self.batch_size}, {self.epochs}")

    @classmethod
    def from_config(cls, section, **overrides) -> "MLPSettings":
        """From a recipe's ``[train]`` section (its keys that are fields; overrides win)."""
        values = dataclasses.asdict(section) if dataclasses.is_dataclass(section) else dict(section)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in values.items() if k in names}, **overrides})


class MLPTrainer:
    """Trains one tabular model again and again; keeps the lowest-validation-loss epoch (ml4szeq code).

    One model, optimizer and compiled epoch function are reused by every :meth:`fit` (fresh
    seeded weights — ``settings.init``, drawn with numpy — and a zeroed optimizer each time),
    so hundreds of tiny fits do not each pay for
    building and tracing. Each epoch is one call: the rows are packed into ``max_rows``-sized,
    zero-padded batches (padding masked out of the loss, so every batch loss is the mean over
    its real rows, the last one partial as in PyTorch), which gives the function fixed shapes,
    compiled once (with XLA when ``jit_compile``). Dropout masks are drawn statelessly from
    (seed, epoch, batch, layer), so a fit depends on its seed only.

    Args:
        build: builds the model (a chain of layers ending in ``n_classes`` logits, e.g.
            ``lambda: get_model("subduction", ...)``); called once here and by :meth:`copy_model`.
        n_features: input width.
        n_classes: output width.
        settings: :class:`MLPSettings`.
        max_rows: most training (and validation) rows any fit will get.
    """

    def __init__(self, build: Callable[[], keras.Model], n_features: int, n_classes: int, settings: MLPSettings,
                 max_rows: int):
        self.settings, self.build = settings, build
        self.loss, self.balance = settings.loss, settings.balance
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.batch, self.epochs = int(settings.batch_size), int(settings.epochs)
        self.max_rows = int(max_rows)
        self.max_batches = max(1, math.ceil(self.max_rows / self.batch))
        lr = float(settings.learning_rate)
        self.schedule = OneCycle(lr, 1) if settings.lr_schedule == "one_cycle" else None
        per_batch = self.schedule is not None and settings.lr_schedule_step == "batch"
        self.model = build()
        if self.model.input_shape[-1] != self.n_features or self.model.output_shape[-1] != self.n_classes:
            raise ValueError(f"MLPTrainer: the model maps {self.model.input_shape} -> {self.model.output_shape} "
                             f"(expected {self.n_features} features -> {self.n_classes} logits)")
        # per-epoch stepping: a plain rate, assigned from the schedule before each epoch
        self.optimizer = keras.optimizers.Adam(self.schedule if per_batch else lr, epsilon=float(settings.adam_epsilon))
        self._per_epoch_schedule = self.schedule is not None and not per_batch
        self.optimizer.build(self.model.trainable_variables)
        none = keras.losses.Reduction.NONE
        self.loss_fn = (keras.losses.BinaryCrossentropy(from_logits=True, reduction=none) if self.loss == "bce_onehot"
                        else keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=none))
        self._epoch = tf.function(self._one_epoch, jit_compile=bool(settings.jit_compile))

    def _target(self, y):
        if self.loss == "bce_onehot":
            return np.eye(self.n_classes, dtype=np.float32)[y]
        return np.asarray(y, dtype=np.int32)

    def _pad(self, a, rows: int):
        out = np.zeros((rows, *a.shape[1:]), dtype=a.dtype)
        out[:len(a)] = a
        return out

    def _train_forward(self, x, seed):
        """The model's chain of layers with stateless dropout: masks follow ``seed`` (shape [2])."""
        for index, layer in enumerate(self.model.layers[1:]):
            if isinstance(layer, keras.layers.Dropout):
                if layer.rate > 0:
                    x = tf.nn.experimental.stateless_dropout(x, layer.rate, seed=seed + tf.constant([0, 1], tf.int64) * index)
            else:
                x = layer(x, training=True)
        return x

    def _one_epoch(self, xb, yb, wb, mb, n_batches, xv, yv, mv, seed):
        model, opt = self.model, self.optimizer

        def step(i):
            step_seed = tf.stack([seed[0], seed[1] * 4096 + tf.cast(i, tf.int64) * 64])
            with tf.GradientTape() as tape:
                per_row = self.loss_fn(yb[i], self._train_forward(xb[i], step_seed))
                loss = tf.reduce_sum(per_row * wb[i]) / tf.maximum(tf.reduce_sum(mb[i]), 1.0)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return (i + 1,)

        tf.while_loop(lambda i: i < n_batches, step, (tf.constant(0),))
        per_row = self.loss_fn(yv, model(xv, training=False))
        return tf.reduce_sum(per_row * mv) / tf.maximum(tf.reduce_sum(mv), 1.0)

    def fit(self, X_fit, y_fit, X_val, y_val, seed: int):
        """Train from fresh weights (seeded) on ``X_fit`` ``(n, F)``, ``y_fit`` ``(n,)`` class indices.

        Args:
            X_fit, y_fit: training rows.
            X_val, y_val: validation rows; empty → the last epoch is kept.
            seed: weights, dropout and sampling seed.

        Returns:
            ``(model, info)``: the trainer's model holding the best epoch's weights (valid until
            the next fit; :meth:`copy_model` keeps it) and
            ``{"best_epoch", "best_val_loss", "val_loss": per epoch}``.
        """
        n, n_val = len(X_fit), len(X_val)
        if n > self.max_rows or n_val > self.max_rows or n == 0:
            raise ValueError(f"MLPTrainer.fit: got {n} training / {n_val} validation rows "
                             f"(expected 1..{self.max_rows}, the trainer's max_rows)")
        keras.utils.set_random_seed(int(seed))
        rng = np.random.default_rng(seed)
        self.model.set_weights(self._initial(self.model.get_weights(), rng, self.settings.init))
        for v in self.optimizer.variables():
            v.assign(tf.zeros_like(v))
        if self.schedule is not None:
            self.schedule.total_steps.assign(float(math.ceil(n / self.batch) * self.epochs))
        counts = np.bincount(y_fit, minlength=self.n_classes)
        class_w = (n / (self.n_classes * np.maximum(counts, 1))).astype(np.float32)
        rows, shape = self.max_batches * self.batch, (self.max_batches, self.batch)
        mask = self._pad(np.ones(n, np.float32), rows).reshape(shape)
        n_batches = tf.constant(math.ceil(n / self.batch), tf.int32)
        xv = self._pad(np.asarray(X_val, np.float32).reshape(-1, self.n_features), self.max_rows)
        yv = self._pad(self._target(np.asarray(y_val, dtype=np.int64)), self.max_rows)
        mv = self._pad(np.ones(n_val, np.float32), self.max_rows)
        X_val, y_val = np.asarray(X_val, np.float32).reshape(-1, self.n_features), np.asarray(y_val, dtype=np.int64)
        best, best_w, best_epoch, history, rates = np.inf, None, self.epochs - 1, [], []
        for epoch in range(self.epochs):
            if self._per_epoch_schedule:
                self.optimizer.learning_rate.assign(float(self.schedule(epoch)))
            rates.append(self._current_rate())
            order = balanced_sample(y_fit, seed=rng) if self.balance == "sampling" else rng.permutation(n)
            w = class_w[y_fit[order]] if self.balance == "class_weight" else np.ones(n, np.float32)
            xb = self._pad(X_fit[order], rows).reshape(*shape, self.n_features)
            yb = self._pad(self._target(y_fit[order]), rows).reshape(*shape, *self._target(y_fit[:1]).shape[1:])
            if n_val and self.settings.validation_sampling == "balanced":  # the code's weighted validation sampler
                pick = balanced_sample(y_val, seed=rng)
                xv = self._pad(X_val[pick], self.max_rows)
                yv = self._pad(self._target(y_val[pick]), self.max_rows)
            v = float(self._epoch(xb, yb, self._pad(w, rows).reshape(shape), mask, n_batches, xv, yv, mv,
                                  tf.constant([seed, epoch], tf.int64)))
            if n_val:
                history.append(v)
                if v < best:
                    best, best_w, best_epoch = v, self.model.get_weights(), epoch
        if best_w is not None:
            self.model.set_weights(best_w)
        return self.model, {"best_epoch": best_epoch, "best_val_loss": float(best), "val_loss": history,
                            "learning_rate": rates}

    def _current_rate(self) -> float:
        """The learning rate the next step uses."""
        if self.schedule is not None and not self._per_epoch_schedule:
            return float(self.schedule(self.optimizer.iterations))
        return float(self.optimizer.learning_rate.numpy())

    @staticmethod
    def _initial(weights: list, rng: np.random.Generator, init: str) -> list:
        """Fresh Dense weights drawn from ``rng`` (``weights``: kernel, bias, kernel, bias ...).

        ``"pytorch"``: ``nn.Linear.reset_parameters`` — kernel and bias U(−1/√fan_in, 1/√fan_in)
        (:func:`seis_keras.models.init.torch_default_bound`, the bound the Keras layers use too);
        ``"keras"``: Glorot-uniform kernels, zero biases.
        """
        out, fan_in = [], 1
        for w in weights:
            if w.ndim == 2:
                fan_in = w.shape[0]
                limit = torch_default_bound(fan_in) if init == "pytorch" else math.sqrt(6.0 / (w.shape[0] + w.shape[1]))
                out.append(rng.uniform(-limit, limit, size=w.shape).astype(np.float32))
            elif init == "pytorch":
                bound = torch_default_bound(fan_in)
                out.append(rng.uniform(-bound, bound, size=w.shape).astype(np.float32))
            else:
                out.append(np.zeros(w.shape, np.float32))
        return out

    def copy_model(self) -> keras.Model:
        """A separate model holding the current weights (the trainer's model is reused by the next fit)."""
        model = self.build()
        model.set_weights(self.model.get_weights())
        return model
