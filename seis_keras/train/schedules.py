"""Learning-rate schedules the papers' PyTorch code uses, as Keras schedules."""
from __future__ import annotations

import math

import tensorflow as tf
from tensorflow import keras


class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """PyTorch ``OneCycleLR`` (two phases, cosine annealing) as a Keras schedule.

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then falls to ``max_lr / div_factor / final_div_factor``. PyTorch also
    cycles Adam's β1 (0.95 → 0.85 → 0.95); Keras cannot, so β1 stays 0.9 here.
    ``total_steps`` is a variable, so one compiled training step serves fits of any length.

    Args:
        max_lr: the peak rate.
        total_steps: steps of the whole cycle (PyTorch's ``total_steps``).
        pct_start: share of the cycle spent rising (PyTorch default 0.3).
        div_factor: ``initial = max_lr / div_factor`` (25).
        final_div_factor: ``final = initial / final_div_factor`` (1e4).
    """

    def __init__(self, max_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4):
        self.max_lr, self.pct_start = float(max_lr), float(pct_start)
        self.div_factor, self.final_div_factor = float(div_factor), float(final_div_factor)
        self.total_steps = tf.Variable(float(total_steps), trainable=False, dtype=tf.float32)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        up_end = tf.maximum(self.pct_start * self.total_steps - 1.0, 1e-6)
        down_len = tf.maximum(self.total_steps - 1.0 - up_end, 1e-6)

        def anneal(start, end, pct):
            return end + (start - end) / 2.0 * (1.0 + tf.cos(math.pi * tf.clip_by_value(pct, 0.0, 1.0)))

        return tf.where(step <= up_end, anneal(initial, self.max_lr, step / up_end),
                        anneal(self.max_lr, final, (step - up_end) / down_len))

    def get_config(self):
        return dict(max_lr=self.max_lr, total_steps=float(self.total_steps.numpy()), pct_start=self.pct_start,
                    div_factor=self.div_factor, final_div_factor=self.final_div_factor)
