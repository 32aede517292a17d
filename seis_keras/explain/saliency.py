"""Gradient baselines: saliency, SmoothGrad (tf-keras-vis), gradient x input, Integrated Gradients.

Simonyan et al. (2014) saliency: the gradient of the target score with respect to the
input; SmoothGrad (Smilkov et al. 2017): the mean gradient over copies of the input with
Gaussian noise added, noise std = ``noise`` x (max - min) of each sample; gradient x
input; Integrated Gradients (Sundararajan et al. 2017): ``(x - x') * mean gradient`` on the
straight path from a baseline ``x'`` to ``x``, with captum's quadrature names.

They run eagerly in this process (GradientTape), not through innvestigate's gradient
analyzers in the LRP worker: no worker start, BatchNorm works as is (innvestigate's
gradient analyzers fail on it unless folded), the target follows
:mod:`seis_keras.explain.targets` like every other eager explainer, and SmoothGrad's
noise is seeded here.

Works for any input layout the model takes: waveforms (N, T, C), spectrograms
(N, F, T, C), tabular features (N, F). The map always has the input's shape
(tf-keras-vis ``keepdims=True``; its default max over channels is not applied) and is not
normalised (``normalize_map=False``), so values are true gradients.
"""
from __future__ import annotations

import contextlib

import numpy as np
import tensorflow as tf
from tensorflow import keras

from seis_keras.explain.targets import (ClassIndex, per_model_call, predict_logits, resolve_model, resolve_targets,
                                        select_scores)


@contextlib.contextmanager
def _numpy_global_seed(seed):
    """tf-keras-vis draws SmoothGrad noise from ``np.random``: seed it, then restore it."""
    state = np.random.get_state()
    if seed is not None:
        np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def saliency(model, X: np.ndarray, *, class_index: ClassIndex = "predicted",
             smooth_samples: int = 0, smooth_noise: float = 0.2, absolute: bool = False,
             batch_size: int = 128, seed: int | None = 0) -> np.ndarray:
    """Gradient of each sample's target score (a logit) with respect to its input.

    Args:
        model: Keras model outputting logits (N, k), or a saved-model path (``.keras``/``.h5`` file or Keras SavedModel dir).
        X: batch shaped like the model input: (N, T, C), (N, F, T, C) or (N, F).
        class_index: ``"predicted"``, an int or one int per sample (see ``targets``).
        smooth_samples: 0 for the vanilla gradient; > 0 for SmoothGrad with this many noisy
            copies per sample.
        smooth_noise: SmoothGrad noise std as a fraction of each sample's (max - min)
            (tf-keras-vis convention; SmoothGrad paper default 0.1–0.2).
        absolute: return |gradient| (the classic saliency map) instead of the signed one.
            With SmoothGrad the absolute value is taken per noisy copy, then averaged.
        batch_size: samples per gradient call.
        seed: seed of the SmoothGrad noise (None: numpy's current global state).

    Returns:
        float32 array shaped like ``X``.
    """
    from tf_keras_vis.saliency import Saliency

    model = resolve_model(model)
    X = np.asarray(X, dtype=np.float32)
    expected = tuple(model.input_shape[1:])
    if X.shape[1:] != expected:
        raise ValueError(f"X: expected samples shaped {expected} (model input), got {X.shape[1:]}")
    if smooth_samples < 0:
        raise ValueError(f"smooth_samples: expected >= 0, got {smooth_samples}")
    targets = resolve_targets(class_index, predict_logits(model, X, batch_size=batch_size))
    explainer = Saliency(model, clone=False)
    modifier = (lambda g: abs(g)) if absolute else None
    out = np.empty_like(X)
    with _numpy_global_seed(seed):
        for i in range(0, len(X), batch_size):
            tb = targets[i:i + batch_size]
            out[i:i + batch_size] = np.asarray(explainer(
                lambda output, tb=tb: select_scores(output, tb), X[i:i + batch_size],
                smooth_samples=smooth_samples, smooth_noise=smooth_noise, keepdims=True,
                gradient_modifier=modifier, normalize_map=False))
    return out


def smoothgrad(model, X: np.ndarray, *, samples: int = 50, noise: float = 0.2,
               **kwargs) -> np.ndarray:
    """SmoothGrad: :func:`saliency` averaged over ``samples`` noisy copies.

    Args:
        model: Keras model outputting logits.
        X: batch shaped like the model input.
        samples: noisy copies per sample (SmoothGrad paper: 50).
        noise: noise std as a fraction of each sample's (max - min).
        **kwargs: passed to :func:`saliency` (``class_index``, ``absolute``, ``seed`` ...).

    Returns:
        float32 array shaped like ``X``.
    """
    if samples < 1:
        raise ValueError(f"samples: expected >= 1 for SmoothGrad, got {samples}")
    return saliency(model, X, smooth_samples=samples, smooth_noise=noise, **kwargs)


def input_gradient(model: keras.Model, X: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Plain GradientTape gradient of the target scores (no tf-keras-vis), for reuse.

    Args:
        model: Keras model outputting logits.
        X: batch shaped like the model input.
        targets: int array (N,) of target classes.

    Returns:
        float32 gradient shaped like ``X``.
    """
    call = per_model_call(model, "target_gradient", _target_gradient)  # compiled from a model's second use on
    return np.asarray(call(np.asarray(X, dtype=np.float32), np.asarray(targets, dtype=np.int64)))


def _target_gradient(model, x, targets):
    """d score / d x of every sample (TensorFlow ops only: traced by :func:`per_model_call`)."""
    x, targets = tf.convert_to_tensor(x), tf.convert_to_tensor(targets)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = select_scores(model(x, training=False), targets)
    return tape.gradient(score, x)


def _targets_and_model(model, X, class_index, batch_size):
    model = resolve_model(model)
    X = np.asarray(X, dtype=np.float32)
    expected = tuple(model.input_shape[1:])
    if X.shape[1:] != expected:
        raise ValueError(f"X: expected samples shaped {expected} (model input), got {X.shape[1:]}")
    return model, X, resolve_targets(class_index, predict_logits(model, X, batch_size=batch_size))


def gradient_x_input(model, X: np.ndarray, *, class_index: ClassIndex = "predicted",
                     batch_size: int = 128) -> np.ndarray:
    """Gradient of each sample's target score times the input (equals LRP-0 in bias-free ReLU nets).

    Args:
        model: Keras model outputting logits, or a saved-model path.
        X: batch shaped like the model input.
        class_index: ``"predicted"``, an int or one int per sample (see ``targets``).
        batch_size: samples per gradient call.

    Returns:
        float32 array shaped like ``X``.
    """
    model, X, targets = _targets_and_model(model, X, class_index, batch_size)
    out = np.empty_like(X)
    for i in range(0, len(X), batch_size):
        out[i:i + batch_size] = X[i:i + batch_size] * input_gradient(model, X[i:i + batch_size],
                                                                      targets[i:i + batch_size])
    return out


#: Integrated Gradients quadratures (captum's names): nodes and weights on [0, 1]
IG_RULES = ("riemann_trapezoid", "riemann_right", "riemann_left", "riemann_middle", "gausslegendre")


def path_points(steps: int, rule: str = "riemann_trapezoid") -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``alpha`` in [0, 1] and weights (summing to 1) of an IG quadrature.

    Args:
        steps: number of nodes (>= 1; >= 2 for the trapezoid rule).
        rule: one of :data:`IG_RULES`.

    Returns:
        (alphas, weights), float64 arrays of length ``steps``.
    """
    if rule not in IG_RULES:
        raise ValueError(f"rule: expected one of {', '.join(IG_RULES)}, got {rule!r}")
    if steps < (2 if rule == "riemann_trapezoid" else 1):
        raise ValueError(f"steps: expected >= {2 if rule == 'riemann_trapezoid' else 1} for {rule}, got {steps}")
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1.0) / 2.0, weights / 2.0
    if rule == "riemann_trapezoid":
        alphas = np.linspace(0.0, 1.0, steps)
        weights = np.full(steps, 1.0 / (steps - 1))
        weights[[0, -1]] /= 2.0
        return alphas, weights
    offset = {"riemann_right": 1.0, "riemann_left": 0.0, "riemann_middle": 0.5}[rule]
    return (np.arange(steps) + offset) / steps, np.full(steps, 1.0 / steps)


def integrated_gradients(model, X: np.ndarray, *, steps: int = 64, baseline=0.0,
                         rule: str = "riemann_trapezoid", class_index: ClassIndex = "predicted",
                         batch_size: int = 128) -> np.ndarray:
    """Integrated Gradients of each sample's target score (Sundararajan et al. 2017).

    ``IG = (x - x') * sum_k w_k grad f(x' + a_k (x - x'))``; the attributions add up to
    ``f(x) - f(x')`` up to the quadrature error (completeness). The target class is
    chosen at ``x`` and kept along the path.

    Args:
        model: Keras model outputting logits, or a saved-model path.
        X: batch shaped like the model input.
        steps: points on the path (64 by default; captum's default is 50).
        baseline: ``x'``: a number (every value, default 0: a silent trace), or an
            array broadcastable to ``X``.
        rule: quadrature, one of :data:`IG_RULES` (default the trapezoid rule, exact
            for a path on which the gradient is linear).
        class_index: ``"predicted"``, an int or one int per sample.
        batch_size: samples per gradient call.

    Returns:
        float32 array shaped like ``X``.
    """
    model, X, targets = _targets_and_model(model, X, class_index, batch_size)
    alphas, weights = path_points(int(steps), rule)
    try:
        base = np.broadcast_to(np.asarray(baseline, dtype=np.float32), X.shape)
    except ValueError:
        raise ValueError(f"baseline: shape {np.shape(baseline)} does not broadcast to X {X.shape}") from None
    total = np.zeros(X.shape, dtype=np.float64)
    for i in range(0, len(X), batch_size):
        x, b, t = X[i:i + batch_size], base[i:i + batch_size], targets[i:i + batch_size]
        for a, w in zip(alphas, weights):
            total[i:i + batch_size] += w * input_gradient(model, b + np.float32(a) * (x - b), t)
    return ((X - base) * total).astype(np.float32)
