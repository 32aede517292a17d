"""Score a classifier: accuracy, precision/recall/F1, confusion matrix, per-group accuracy.

``evaluate(model, data)`` runs the model (logits by the package convention) and returns
a JSON-safe dict; ``classification_metrics(y_true, y_pred, ...)`` computes the same dict
from labels alone; ``positive_probability(model, x)`` is a binary (1-unit) model's class-1
probability per sample; ``summarise_runs`` turns the dicts of repeated runs (seeds, folds)
into mean ± standard deviation for the papers' tables.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.special import expit
from sklearn import metrics as skm


def predictions(model, data, *, outputs: str = "logits", batch_size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``model`` over ``data`` and return ``(y_true, y_pred, scores)``.

    Args:
        model: a Keras model with a ``(batch, k)`` output.
        data: a ``tf.data.Dataset`` of batched ``(x, y)`` or ``(x, y, meta)``, or a pair
            of arrays ``(x, y)``.
        outputs: what the model outputs: ``"logits"`` (the package convention; class 1 if
            the single logit is > 0) or ``"probabilities"`` (class 1 if p > 0.5).
        batch_size: batch size for arrays.

    Returns:
        ``y_true`` (N,) int, ``y_pred`` (N,) int, ``scores`` (N, k) model outputs.
    """
    if outputs not in ("logits", "probabilities"):
        raise ValueError(f"evaluate: outputs must be 'logits' or 'probabilities', got {outputs!r}")
    if isinstance(data, (tuple, list)):
        if len(data) != 2:
            raise ValueError(f"evaluate: arrays must be a pair (x, y), got {len(data)} items")
        x, y = np.asarray(data[0]), np.asarray(data[1])
        if len(x) != len(y):
            raise ValueError(f"evaluate: x has {len(x)} samples but y has {len(y)}")
        scores = np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
        y_true = y
    else:
        batches_y, batches_s = [], []
        for batch in data:
            if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                raise ValueError("evaluate: the dataset must yield (x, y) or (x, y, meta) batches")
            batches_s.append(np.asarray(model(batch[0], training=False)))
            batches_y.append(np.asarray(batch[1]))
        if not batches_s:
            raise ValueError("evaluate: the dataset is empty")
        scores, y_true = np.concatenate(batches_s), np.concatenate(batches_y)
    if scores.ndim != 2:
        raise ValueError(f"evaluate: model output shape {scores.shape} (expected (N, k))")
    finite = np.isfinite(scores).all(axis=1)
    if not finite.all():
        raise ValueError(f"evaluate: model output is NaN/inf for {int((~finite).sum())} of {len(scores)} samples "
                         f"(first: sample {int(np.argmin(finite))}); expected finite {outputs} (diverged training?)")
    if scores.shape[1] == 1:
        y_pred = (scores[:, 0] > (0.0 if outputs == "logits" else 0.5)).astype(np.int64)
    else:
        y_pred = np.argmax(scores, axis=1).astype(np.int64)
    return np.rint(np.asarray(y_true).reshape(-1)).astype(np.int64), y_pred, scores


def positive_probability(model, x: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Class-1 probability of each sample under a 1-unit logits model: the sigmoid of its logit.

    Args:
        model: a Keras model with a ``(batch, 1)`` logits output (run with ``training=False``).
        x: the batch ``(N, ...)``; ``N`` may be 0.
        batch_size: rows per model call.

    Returns:
        ``(N,)`` float64 probabilities (the float32 logits cast to float64, then
        ``scipy.special.expit``).

    Raises:
        ValueError: the model has more than one output unit.
    """
    if len(x) == 0:
        return np.zeros(0)
    z = np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                        for i in range(0, len(x), batch_size)])
    if z.ndim != 2 or z.shape[1] != 1:
        raise ValueError(f"positive_probability: model output shape {z.shape} (expected (N, 1) logits)")
    return expit(z[:, 0].astype(np.float64))


def classification_metrics(y_true, y_pred, *, n_classes: int | None = None,
                           class_names: Sequence[str] | None = None,
                           groups=None) -> dict[str, Any]:
    """Metrics from true and predicted class indices.

    Args:
        y_true: (N,) true class indices (0/1 for binary).
        y_pred: (N,) predicted class indices.
        n_classes: number of classes (default: from ``class_names``, else the largest
            index seen + 1, at least 2).
        class_names: one name per class (default ``"0"``, ``"1"``, ...).
        groups: ``None``; an array (N,) of group labels (event id, station ...); or a
            mapping ``{name: array}`` for several groupings.

    Returns:
        ``n``, ``accuracy``, ``class_names``, ``per_class_accuracy`` (the fraction of each
        true class predicted right; ``None`` for a class with no sample), ``precision``,
        ``recall``, ``f1`` (binary: of class 1, scalars; multi-class: per-class lists, with
        ``macro_precision``, ``macro_recall``, ``macro_f1``), ``confusion_matrix`` (rows:
        true class, columns: predicted) and, with ``groups``, ``per_group``:
        ``{group: {"accuracy", "n"}}`` for an array, ``{name: {group: {...}}}`` for a mapping.
    """
    y_true = np.asarray(y_true).reshape(-1).astype(np.int64)
    y_pred = np.asarray(y_pred).reshape(-1).astype(np.int64)
    if len(y_true) != len(y_pred):
        raise ValueError(f"evaluate: {len(y_true)} labels but {len(y_pred)} predictions")
    if len(y_true) == 0:
        raise ValueError("evaluate: no samples")
    if n_classes is None:
        n_classes = len(class_names) if class_names is not None else max(2, int(max(y_true.max(), y_pred.max())) + 1)
    if class_names is not None and len(class_names) != n_classes:
        raise ValueError(f"evaluate: {len(class_names)} class_names for {n_classes} classes")
    if y_true.min() < 0 or y_true.max() >= n_classes or y_pred.min() < 0 or y_pred.max() >= n_classes:
        raise ValueError(f"evaluate: class indices outside 0..{n_classes - 1}")
    labels = list(range(n_classes))
    cm = skm.confusion_matrix(y_true, y_pred, labels=labels)
    support = cm.sum(axis=1)
    out: dict[str, Any] = {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "class_names": [str(c) for c in (class_names if class_names is not None else labels)],
        "per_class_accuracy": [float(cm[i, i] / support[i]) if support[i] else None for i in labels],
        "confusion_matrix": cm.tolist(),
    }
    if n_classes == 2:
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, pos_label=1,
                                                         average="binary", zero_division=0)
        out.update(precision=float(p), recall=float(r), f1=float(f))
    else:
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, average=None,
                                                         zero_division=0)
        out.update(precision=[float(v) for v in p], recall=[float(v) for v in r], f1=[float(v) for v in f],
                   macro_precision=float(np.mean(p)), macro_recall=float(np.mean(r)),
                   macro_f1=float(np.mean(f)))
    if groups is not None:
        if isinstance(groups, Mapping):
            out["per_group"] = {str(name): _group_accuracy(y_true, y_pred, g, str(name))
                                for name, g in groups.items()}
        else:
            out["per_group"] = _group_accuracy(y_true, y_pred, groups, "groups")
    return out


def _group_accuracy(y_true, y_pred, groups, name: str) -> dict[str, dict[str, float | int]]:
    groups = np.asarray(groups).reshape(-1)
    if len(groups) != len(y_true):
        raise ValueError(f"evaluate: {name} has {len(groups)} entries for {len(y_true)} samples")
    correct = y_true == y_pred
    out = {}
    for g in sorted(set(groups.tolist()), key=str):
        mask = groups == g
        out[str(g)] = {"accuracy": float(correct[mask].mean()), "n": int(mask.sum())}
    return out


def evaluate(model, dataset_or_arrays, class_names: Sequence[str] | None = None, groups=None, *,
             outputs: str = "logits", batch_size: int = 256) -> dict[str, Any]:
    """Score ``model`` on a dataset or ``(x, y)`` arrays.

    Args:
        model: a Keras model outputting ``(batch, k)`` logits (or probabilities, see
            ``outputs``); k = 1 is binary.
        dataset_or_arrays: a ``tf.data.Dataset`` of ``(x, y)`` / ``(x, y, meta)`` batches
            (iterated once, in order) or a pair of arrays ``(x, y)``.
        class_names: one name per class.
        groups: group labels aligned with the samples (array, or ``{name: array}``), for
            per-event / per-station accuracy.
        outputs: ``"logits"`` or ``"probabilities"``.
        batch_size: batch size for arrays.

    Returns:
        The dict of ``classification_metrics``; JSON-safe.
    """
    y_true, y_pred, scores = predictions(model, dataset_or_arrays, outputs=outputs, batch_size=batch_size)
    n_classes = max(2, scores.shape[1])
    return classification_metrics(y_true, y_pred, n_classes=n_classes, class_names=class_names, groups=groups)


def summarise_runs(runs: Sequence[Mapping[str, Any]], *, ddof: int = 0) -> dict[str, Any]:
    """Mean and standard deviation over repeated runs, key by key.

    Numbers and equal-length (nested) lists of numbers become ``{"mean", "std", "n_runs"}``
    (element-wise for lists: per-class metrics, confusion matrices); nested dicts are
    summarised recursively over the keys all runs share; other values (``class_names``)
    are kept when every run agrees. ``None`` entries (a class absent from a run) are
    ignored in that element's mean.

    Args:
        runs: metric dicts, e.g. from ``evaluate``.
        ddof: delta degrees of freedom of the std (0: population std, as numpy; 1: sample).

    Returns:
        The summary dict.
    """
    if not runs:
        raise ValueError("summarise_runs: no runs given")
    out: dict[str, Any] = {}
    for key in runs[0]:
        if not all(key in r for r in runs):
            continue
        values = [r[key] for r in runs]
        first = values[0]
        if isinstance(first, Mapping):
            out[key] = summarise_runs(values, ddof=ddof)
        elif _numeric(first):
            try:
                arr = np.array([_nan_for_none(v) for v in values], dtype=float)
            except ValueError:  # ragged lists
                continue
            with warnings.catch_warnings():  # an all-None element: nan, no "empty slice" warning
                warnings.simplefilter("ignore", RuntimeWarning)
                count = np.sum(~np.isnan(arr), axis=0)
                mean = np.nanmean(arr, axis=0) if arr.size else arr
                std = np.nanstd(arr, axis=0, ddof=ddof)
            out[key] = {"mean": _builtin(mean), "std": _builtin(std), "n_runs": len(runs)}
            if np.any(count < len(runs)):
                out[key]["n_valid"] = _builtin(count)
        elif all(v == first for v in values):
            out[key] = first
    return out


def _numeric(v) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float, np.number)):
        return True
    if isinstance(v, (list, tuple)) and v:
        return all(_numeric(x) or x is None for x in v) and any(x is not None for x in v)
    return False


def _nan_for_none(v):
    if v is None:
        return np.nan
    if isinstance(v, (list, tuple)):
        return [_nan_for_none(x) for x in v]
    return v


def _builtin(a):
    a = np.asarray(a)
    if a.ndim == 0:
        return None if np.isnan(a) else float(a)
    return [_builtin(x) for x in a]
