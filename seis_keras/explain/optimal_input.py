"""Backward optimisation (BO): the optimal input of a class (Majstorović et al. 2023, §2.5.2).

The trained weights are frozen and the *input* is optimised so that the model assigns it
to the target class: "the misfit is calculated using the same loss function" as training.
We minimise the training loss of the target class computed from the logits (BCE for a
1-unit model: for class 1 this pushes the logit up, for class 0 down; sparse CE for k
units), optionally plus regularisers. ``objective="logit"`` maximises the target score
(logit, or -logit for class 0 of a 1-unit model) instead, which does not saturate.

Runs on tf-keras-vis ``ActivationMaximization`` tuned for 1D: its image defaults
(Rotate2D, TotalVariation2D) are replaced by a seeded 1D jitter (off by default: each
tf-keras-vis jitter *rolls the optimised input permanently*, so over 5000 steps the
waveform random-walks in time — bad for windows with a fixed P onset), a 1D total
variation regulariser (:class:`TotalVariation1D`), an optional L2 norm (:class:`L2Norm`), the
``input_range`` enforced after *every* step (an input modifier that clips, i.e.
projected gradient; tf-keras-vis itself clips only the returned value) and Adam.
The per-step loss history comes from a tf-keras-vis callback (``scores`` per step).

**Engines.** ``engine="tf-keras-vis"`` runs the library's loop: one eager Python iteration per
step (modify the input, tape, gradient, optimiser step, callbacks), ~21 ms per step on the
detector however small the batch. ``engine="compiled"`` (default) runs the same step, in the
same order and with the same optimiser, regularisers and seeded jitter shifts, as one
``tf.function`` loop (~4 ms per step: 200 SGD steps of three detector inputs 4.2 s -> 0.9 s,
agreeing to 5e-7 in amplitude 14); tests/explain/test_optimal_input.py checks the two engines
against each other for every option. tf-keras-vis stays the reference.

Comparison helpers (Majstorović Figs 5–6): :func:`spectrum_vs_training`,
:func:`log_amplitude_ratio` (log10(|A_in| / |A_out| · 100); > 2 means the optimised
input is smaller than the raw one).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from tf_keras_vis.activation_maximization import ActivationMaximization
from tf_keras_vis.activation_maximization.callbacks import Callback
from tf_keras_vis.activation_maximization.input_modifiers import InputModifier
from tf_keras_vis.activation_maximization.regularizers import Regularizer

from seis_keras.explain.spectral import amplitude_spectrum
from seis_keras.explain.targets import resolve_model


class TotalVariation1D(Regularizer):
    """Mean absolute difference between neighbouring time steps, times ``weight``.

    Input (N, T, C) (or (N, T)); output (N,).
    """

    def __init__(self, weight: float = 0.1, name: str = "TotalVariation1D"):
        super().__init__(name)
        self.weight = float(weight)

    def __call__(self, input_value):
        d = tf.abs(input_value[:, 1:] - input_value[:, :-1])
        return self.weight * tf.reduce_mean(tf.reshape(d, (tf.shape(d)[0], -1)), axis=1)


class L2Norm(Regularizer):
    """tf-keras-vis ``Norm(weight, p=2)`` with a smooth gradient at 0.

    ``weight · sqrt(Σx² + eps) / sqrt(n)``; the stock ``Norm`` has a NaN gradient at the
    all-zeros input, i.e. at the paper's "zeros" initialisation. Input (N, ...); output (N,).
    """

    def __init__(self, weight: float = 0.01, eps: float = 1e-12, name: str = "L2Norm"):
        super().__init__(name)
        self.weight, self.eps = float(weight), float(eps)

    def __call__(self, input_value):
        flat = tf.reshape(input_value, (tf.shape(input_value)[0], -1))
        n = tf.cast(tf.shape(flat)[1], flat.dtype)
        return self.weight * tf.sqrt(tf.reduce_sum(flat * flat, axis=1) + self.eps) / tf.sqrt(n)


class SeededJitter(InputModifier):
    """Roll every sample by a random shift in [-jitter, jitter] along time (seeded)."""

    def __init__(self, jitter: int, seed: int = 0):
        self.jitter = int(jitter)
        self.rng = np.random.default_rng(seed)

    def __call__(self, seed_input):
        return tf.roll(seed_input, shift=int(self.rng.integers(-self.jitter, self.jitter + 1)), axis=1)


class _ClipToRange(InputModifier):
    def __init__(self, low, high):
        self.low, self.high = low, high

    def __call__(self, seed_input):
        return tf.clip_by_value(seed_input, self.low, self.high)


class _LossHistory(Callback):
    """Records the training loss of the input each step was computed on."""

    def __init__(self, loss_score):
        self.loss_score = loss_score
        self.history = []

    def __call__(self, i, values, grads, scores, model_outputs, **kwargs):
        self.history.append(-np.asarray(self.loss_score(model_outputs[0]), dtype=np.float64))


def _objective(targets: np.ndarray, n_units: int, objective: str):
    """Score (to maximise) per sample: -training loss, or the target score."""
    t = tf.constant(targets)
    sign = tf.constant(2.0 * targets - 1.0, tf.float32)

    def score(z):
        z = tf.cast(z, tf.float32)
        if n_units == 1:
            s = sign * z[:, 0]
            return s if objective == "logit" else -tf.nn.softplus(-s)  # -BCE = log sigmoid(s)
        if objective == "logit":
            return tf.gather(z, t, axis=1, batch_dims=1)
        return -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t, logits=z)

    return score


def optimal_input(model, target_class, *, init: str | np.ndarray = "zeros", n_samples: int = 1,
                  steps: int = 5000, learning_rate: float = 0.01, objective: str = "loss",
                  tv_weight: float = 0.0, l2_weight: float = 0.0, jitter: int = 0,
                  input_range: tuple = (None, None), random_std: float = 0.1, seed: int = 0,
                  optimizer: str = "adam", momentum: float = 0.0, weight_decay: float = 0.0,
                  engine: str = "compiled"):
    """Optimise the input of a frozen model toward ``target_class``.

    Args:
        model: Keras model outputting logits (N, k), or a saved-model path (``.keras``/``.h5`` file or Keras SavedModel dir); its weights are not changed.
        target_class: int class to optimise toward (0/1 for a 1-unit model), or one per sample.
        init: ``"zeros"``, ``"random"`` (Gaussian, std ``random_std``, ``seed``) or an array of
            real samples (N, T, C) / one sample (T, C) to start from (paper: all three).
        n_samples: number of inputs to optimise when ``init`` is a string.
        steps: optimisation steps (paper: 5000).
        learning_rate: step size of ``optimizer`` (paper: open).
        objective: ``"loss"`` (paper: training loss toward the target) or ``"logit"``.
        tv_weight: weight of :class:`TotalVariation1D` (0: off).
        l2_weight: weight of :class:`L2Norm` (tf-keras-vis ``Norm(p=2)``, smooth at 0; 0: off;
            0.01 a mild choice).
        jitter: max random roll per step in samples (0: off; see module docstring).
        input_range: (low, high) enforced after every step; (None, None): unbounded.
        random_std: std of the ``"random"`` initialisation.
        seed: seed of the random initialisation and of the jitter.
        optimizer: ``"adam"`` (default: robust to the scale of the gradient) or ``"sgd"``
            (plain gradient steps, with ``momentum``; what "optimise the input with the
            training loss" means with the detector paper's own SGD optimiser).
        momentum: SGD momentum (ignored by Adam).
        weight_decay: shrink the input by ``learning_rate * weight_decay * x`` every step (Keras'
            optimizer ``weight_decay``; for plain SGD the same step as PyTorch's
            ``SGD(weight_decay=...)``, which pytorch-cnn-visualizations' generators use); 0: off.
        engine: ``"compiled"`` (default: one ``tf.function`` loop) or ``"tf-keras-vis"`` (the
            library's eager loop, the reference); the same steps (module docstring).

    Returns:
        (x_opt float32 shaped like the init batch, loss_history float64 (steps + 1, N)):
        row i is the training loss (cross-entropy toward the target, without regularisers)
        of the input before step i; the last row is that of ``x_opt``.
    """
    model = resolve_model(model)
    shape = tuple(model.input_shape[1:])
    if isinstance(init, str):
        if init == "zeros":
            x0 = np.zeros((n_samples,) + shape, np.float32)
        elif init == "random":
            x0 = (random_std * np.random.default_rng(seed).standard_normal((n_samples,) + shape)).astype(np.float32)
        else:
            raise ValueError(f"init: expected 'zeros', 'random' or an array of samples, got {init!r}")
    else:
        x0 = np.asarray(init, dtype=np.float32)
        if x0.shape == shape:
            x0 = x0[None]
        if x0.shape[1:] != shape:
            raise ValueError(f"init: expected samples shaped {shape} (model input), got {x0.shape}")
    if objective not in ("loss", "logit"):
        raise ValueError(f"objective: expected 'loss' or 'logit', got {objective!r}")
    if steps < 1:
        raise ValueError(f"steps: expected >= 1, got {steps}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay: expected >= 0, got {weight_decay!r}")
    decay = float(weight_decay) or None
    if optimizer == "adam":
        opt = tf.keras.optimizers.Adam(learning_rate, weight_decay=decay)
    elif optimizer == "sgd":
        opt = tf.keras.optimizers.SGD(learning_rate, momentum=momentum, weight_decay=decay)
    else:
        raise ValueError(f"optimizer: expected 'adam' or 'sgd', got {optimizer!r}")
    n_units = int(model.output_shape[-1])
    n = len(x0)
    targets = np.broadcast_to(np.asarray(target_class, dtype=np.int64), (n,)).copy()
    if targets.min() < 0 or targets.max() >= max(n_units, 2):
        raise ValueError(f"target_class: expected classes in 0..{max(n_units, 2) - 1}, got {sorted(set(targets.tolist()))}")

    modifiers = []
    if jitter > 0:
        modifiers.append(SeededJitter(jitter, seed))
    low, high = input_range
    if low is not None or high is not None:
        modifiers.append(_ClipToRange(-np.inf if low is None else low, np.inf if high is None else high))
        x0 = np.clip(x0, -np.inf if low is None else low, np.inf if high is None else high)
    regularizers = []
    if tv_weight > 0:
        regularizers.append(TotalVariation1D(tv_weight))
    if l2_weight > 0:
        regularizers.append(L2Norm(l2_weight))

    score = _objective(targets, n_units, objective)
    loss_score = _objective(targets, n_units, "loss")
    if engine == "compiled":
        x_opt, history = _compiled_loop(model, x0, score, loss_score, modifiers, regularizers, opt, int(steps))
        x_opt = np.clip(x_opt, -np.inf if low is None else low, np.inf if high is None else high)  # as the library returns it
    elif engine == "tf-keras-vis":
        recorder = _LossHistory(loss_score)
        x_opt = ActivationMaximization(model, clone=False)(
            score, seed_input=x0, input_range=input_range, input_modifiers=modifiers,
            regularizers=regularizers, steps=steps,
            optimizer=opt, callbacks=[recorder])
        history = recorder.history
    else:
        raise ValueError(f"engine: expected 'compiled' or 'tf-keras-vis', got {engine!r}")
    x_opt = np.asarray(x_opt, dtype=np.float32)
    if x_opt.ndim == len(shape):
        x_opt = x_opt[None]
    final = -np.asarray(loss_score(model(x_opt, training=False)), dtype=np.float64)
    loss = np.vstack([*history, final])
    return x_opt, loss


def _compiled_loop(model, x0: np.ndarray, score, loss_score, modifiers, regularizers, opt, steps: int):
    """tf-keras-vis ``ActivationMaximization``'s loop as one ``tf.function``: ``(x_opt, losses (steps, N))``.

    Per step, as the library: apply the input modifiers to the current input, differentiate
    ``-sum(score) + sum(regularisers)`` with respect to it, take one optimiser step; the loss
    of the outputs of that step is recorded. A :class:`SeededJitter` draws its shifts from
    its generator up front, in the order the eager loop draws them.
    """
    shifts = [tf.constant([int(m.rng.integers(-m.jitter, m.jitter + 1)) for _ in range(steps)], tf.int32)
              if isinstance(m, SeededJitter) else None for m in modifiers]
    x = tf.Variable(x0)

    @tf.function
    def run():
        losses = tf.TensorArray(tf.float32, size=steps)
        for i in tf.range(steps):
            v = x.value()
            for m, shift in zip(modifiers, shifts):
                v = m(v) if shift is None else tf.roll(v, shift=shift[i], axis=1)
            x.assign(v)
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x)
                value = x.value()
                z = model(value, training=False)
                total = -tf.reduce_sum(score(z))
                for r in regularizers:
                    total += tf.reduce_sum(r(value))
            opt.apply_gradients([(tape.gradient(total, x), x)])
            losses = losses.write(i, -tf.cast(loss_score(z), tf.float32))
        return losses.stack()

    history = run().numpy().astype(np.float64)
    return x.numpy(), list(history)


def spectrum_vs_training(x_opt: np.ndarray, X_positive: np.ndarray, fs: float):
    """Amplitude spectra of optimal inputs vs the mean spectrum of training positives.

    Args:
        x_opt: optimal inputs (N, T, C).
        X_positive: training samples of the target class (M, T, C).
        fs: sampling rate in Hz.

    Returns:
        dict with ``freqs`` (F,), ``optimal`` (N, F, C) and ``training_mean`` (F, C).
    """
    x_opt, X_positive = np.asarray(x_opt), np.asarray(X_positive)
    if x_opt.ndim != 3 or X_positive.ndim != 3 or x_opt.shape[1:] != X_positive.shape[1:]:
        raise ValueError(f"x_opt, X_positive: expected batches (N, T, C) of equal sample shape, got {x_opt.shape} and {X_positive.shape}")
    f, a_opt = amplitude_spectrum(x_opt, fs, axis=1)
    _, a_pos = amplitude_spectrum(X_positive, fs, axis=1)
    return {"freqs": f, "optimal": a_opt, "training_mean": a_pos.mean(axis=0)}


def log_amplitude_ratio(x_in: np.ndarray, x_out: np.ndarray, *, domain: str = "time",
                        fs: float | None = None, axis: int = -2, eps: float = 1e-12):
    """Majstorović Fig. 6: log10(|A_in| / |A_out| · 100) in time or frequency.

    A value of 2 means unchanged; above 2 the optimised input is smaller than the raw one.

    Args:
        x_in: raw waveform(s), time along ``axis``.
        x_out: optimised waveform(s), same shape.
        domain: ``"time"`` (sample amplitudes) or ``"frequency"`` (Fourier amplitudes).
        fs: sampling rate, required for ``"frequency"``.
        axis: time axis.
        eps: added to both amplitudes (avoids log of 0).

    Returns:
        the ratio array (time domain: shaped like x_in); for ``"frequency"``
        (freqs, ratio with time replaced by frequency).
    """
    x_in, x_out = np.asarray(x_in, dtype=np.float64), np.asarray(x_out, dtype=np.float64)
    if x_in.shape != x_out.shape:
        raise ValueError(f"x_in, x_out: expected equal shapes, got {x_in.shape} and {x_out.shape}")
    if domain == "time":
        return np.log10((np.abs(x_in) + eps) / (np.abs(x_out) + eps) * 100.0)
    if domain != "frequency":
        raise ValueError(f"domain: expected 'time' or 'frequency', got {domain!r}")
    if fs is None:
        raise ValueError("fs: the sampling rate is required for domain='frequency'")
    f, a_in = amplitude_spectrum(x_in, fs, axis=axis)
    _, a_out = amplitude_spectrum(x_out, fs, axis=axis)
    return f, np.log10((a_in + eps) / (a_out + eps) * 100.0)
