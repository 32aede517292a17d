"""Which output an explanation explains: the target logit of every sample.

Every seis_keras model ends in a Dense layer named ``logits`` (NOTES.md): one unit for a
binary (sigmoid) model, k units for a k-class (softmax) model. An explainer explains one
scalar per sample, the *target score*:

- k-unit model, target class ``t``: the logit ``z[t]``.
- 1-unit model, target class 1: the logit ``z``; target class 0: ``-z`` (the log-odds of
  class 0, as tf-keras-vis ``BinaryScore`` does). So "explain class 0" flips the sign.

``class_index`` is given to every explainer as one of:

- ``"predicted"``: each sample's predicted class (argmax, or ``z > 0`` for one unit);
- an ``int``: the same class for every sample;
- a sequence of ints, one per sample.

Every explainer accepts a saved model in place of the model object: :func:`resolve_model`.
"""
from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import tensorflow as tf

ClassIndex = Union[str, int, Sequence[int], np.ndarray]


def resolve_model(model_or_path):
    """The model to explain: a model object as given, or loaded from a saved-model path.

    Args:
        model_or_path: a Keras model (returned unchanged), or a ``.keras``/``.h5`` file or
            Keras SavedModel directory, loaded eagerly with ``compile=False`` (seis_keras's
            custom layers registered).

    Returns:
        The Keras model.

    Raises:
        ValueError: the path does not exist or holds no Keras model.
    """
    if not isinstance(model_or_path, (str, os.PathLike)):
        return model_or_path
    path = Path(model_or_path)
    if not path.exists():
        raise ValueError(f"{path}: no such model (expected a .keras/.h5 file or a Keras SavedModel directory)")
    from tensorflow import keras

    import seis_keras.models  # noqa: F401  (registers the custom layers)

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001  (one clear line for any loader failure)
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(f"{path}: not loadable as a Keras model ({type(exc).__name__}: {first})") from None


def predict_logits(model, X: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """Run ``model`` in inference mode over ``X`` in batches.

    Args:
        model: a Keras model that outputs logits, shape (N, k).
        X: the batch, shaped like the model input (N, ...).
        batch_size: rows per model call.

    Returns:
        float32 logits, shape (N, k).
    """
    X = np.asarray(X, dtype=np.float32)
    if len(X) == 0:
        raise ValueError("X: empty batch (expected at least one sample)")
    call = _inference_call(model)
    out = [np.asarray(call(X[i:i + batch_size])) for i in range(0, len(X), batch_size)]
    return np.concatenate(out, axis=0).astype(np.float32)


#: model -> {what: [calls so far, its compiled function or None]}; weak keys, so a model's
#: functions go with it (a function holds its model only through a weak reference).
_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def per_model_call(model, what: str, fn):
    """``fn(model, *args)`` bound to ``model``: eager on the model's first use for ``what``, a ``tf.function`` after.

    A Keras model called eagerly spends most of a small batch in Python (the detector: 41 ms
    for 256 windows eagerly, 7 ms compiled); a trace costs ~0.1-0.2 s, about four eager calls,
    so a model used once (a randomised copy) stays eager. The compiled function reads the
    model's variables, so weights set later are seen; its outputs equal the eager ones on our
    models (tests/explain/test_targets.py). ``fn`` must be traceable (TensorFlow ops only).
    """
    try:
        entry = _COMPILED.setdefault(model, {}).setdefault(what, [0, None])
    except TypeError:  # not weak-referenceable (a plain function standing in for a model)
        return lambda *args: fn(model, *args)
    entry[0] += 1
    if entry[0] == 1:
        return lambda *args: fn(model, *args)
    if entry[1] is None:
        ref = weakref.ref(model)
        entry[1] = tf.function(lambda *args: fn(ref(), *args), reduce_retracing=True, autograph=False)
    return entry[1]


def _inference_call(model):
    """``x -> model(x, training=False)`` (:func:`per_model_call`)."""
    return per_model_call(model, "inference", _infer)


def _infer(model, x):
    return model(x, training=False)


def resolve_targets(class_index: ClassIndex, logits: np.ndarray) -> np.ndarray:
    """Turn ``class_index`` into one target class per sample.

    Args:
        class_index: ``"predicted"``, an int, or one int per sample (see module docstring).
        logits: the model's logits for the batch, shape (N, k).

    Returns:
        int64 array (N,) of target classes (0/1 for a 1-unit model).

    Raises:
        ValueError: on an unknown string, a wrong length, or a class out of range.
    """
    logits = np.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(f"logits: expected shape (N, k), got {logits.shape}")
    n, k = logits.shape
    n_classes = 2 if k == 1 else k
    if isinstance(class_index, str):
        if class_index != "predicted":
            raise ValueError(f"class_index: expected 'predicted', an int or one int per sample, got {class_index!r}")
        targets = (logits[:, 0] > 0).astype(np.int64) if k == 1 else np.argmax(logits, axis=1)
    elif np.ndim(class_index) == 0:
        targets = np.full(n, int(class_index), dtype=np.int64)
    else:
        targets = np.asarray(class_index, dtype=np.int64).reshape(-1)
        if len(targets) != n:
            raise ValueError(f"class_index: expected {n} targets (one per sample), got {len(targets)}")
    if targets.min() < 0 or targets.max() >= n_classes:
        raise ValueError(f"class_index: classes must lie in 0..{n_classes - 1} for a {k}-unit model, got {sorted(set(targets.tolist()))}")
    return targets.astype(np.int64)


def select_scores(logits, targets: np.ndarray):
    """The target score of every sample (tensor in, tensor out; numpy in, numpy out).

    Args:
        logits: shape (N, k), a tf.Tensor or numpy array.
        targets: int array (N,) from :func:`resolve_targets`; a tensor inside a traced function
            (:func:`per_model_call`).

    Returns:
        shape (N,): ``z[t]`` for k > 1, ``(2t - 1) * z`` for k = 1.
    """
    if isinstance(logits, np.ndarray):
        targets = np.asarray(targets, dtype=np.int64)
        if logits.shape[1] == 1:
            return (2.0 * targets - 1.0).astype(logits.dtype) * logits[:, 0]
        return logits[np.arange(len(logits)), targets]
    if not isinstance(targets, tf.Tensor):
        targets = tf.constant(np.asarray(targets, dtype=np.int64))
    if logits.shape[-1] == 1:
        return (2.0 * tf.cast(targets, logits.dtype) - 1.0) * logits[:, 0]
    return tf.gather(logits, targets, axis=1, batch_dims=1)


def target_probabilities(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Probability of the target class: sigmoid of the target score (1 unit) or softmax.

    Args:
        logits: numpy (N, k).
        targets: int array (N,).

    Returns:
        float array (N,) in [0, 1].
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-select_scores(logits, targets)))
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    return p[np.arange(len(p)), np.asarray(targets)]


def predicted_classes(logits: np.ndarray) -> np.ndarray:
    """Predicted class per sample: ``z > 0`` for one unit, argmax otherwise."""
    logits = np.asarray(logits)
    return (logits[:, 0] > 0).astype(np.int64) if logits.shape[1] == 1 else np.argmax(logits, axis=1)


def classification_loss(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-sample training loss from logits: BCE (1 unit) or sparse cross-entropy (k units).

    Args:
        logits: numpy (N, k).
        labels: int array (N,) of true classes.

    Returns:
        float64 array (N,) of losses (natural log).
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if logits.shape[1] == 1:
        z = logits[:, 0]
        return np.maximum(z, 0) - z * labels + np.log1p(np.exp(-np.abs(z)))
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(z)), labels]
