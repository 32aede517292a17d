"""How good is an explanation? Four checks, implemented directly.

- :func:`conservation_error`: LRP-style conservation, |Σ R - f(x)| (relative to |f(x)|).
- :func:`relevance_mass_accuracy` (Arras et al. 2022) and :func:`pointing_game` (Zhang et
  al. 2018) against a ground-truth mask (e.g. where the synthetic data planted the P and S
  arrivals, or the tremor band).
- :func:`deletion_curve` (Samek et al. 2017 "region perturbation", MoRF): remove the most
  relevant time samples first (replace by ``fill``), record the target score, report the
  area under the curve; a good explanation drops the score faster than a random order
  (``order="random"``), i.e. has the smaller AUC.
- :func:`model_randomisation_test` (Adebayo et al. 2018, cascading): re-initialise the
  layers from the top (logits) down, one more each step, recompute the explanation and
  report the Spearman rank correlation with the original, per layer. An explanation that
  does not decorrelate does not depend on what the model learned.

Why not Quantus: Quantus (0.4–0.5, LGPL-3) would run on this stack version-wise (Python
>= 3.7, numpy >= 1.19.5, TensorFlow extra >= 2.12), but its core requirements pull in
``opencv-python`` (a second ``cv2`` on top of the pinned ``opencv-python-headless``; the
two overwrite each other's files), ``scikit-image`` and ``tqdm``, none of which is in
``requirements/lock.txt``; its metrics assume image-shaped, channels-first batches with
its own TF model wrapper, and its randomisation test re-initialises with its own rules.
These four checks are each ~20 lines of numpy on our channels-last arrays and our logit
models, so we implement them here and test them on hand-made cases; adopting Quantus
would mean adding those three packages to the lock (headless OpenCV conflict resolved by
installing it with ``--no-deps``) and transposing every batch to channels-first.
"""
from __future__ import annotations

import numpy as np
from scipy import stats
from tensorflow import keras

from seis_keras.explain.targets import (ClassIndex, predict_logits, resolve_targets, select_scores,
                                        target_probabilities)


def conservation_error(relevance: np.ndarray, target_scores: np.ndarray, *,
                       relative: bool = True) -> np.ndarray:
    """|Σ relevance - f(x)| per sample (divided by |f(x)| when ``relative``).

    Args:
        relevance: (N, ...) relevance maps.
        target_scores: (N,) the explained logit of each sample.
        relative: divide by |f(x)| (samples with f(x) = 0 give inf unless the sum is 0).

    Returns:
        float array (N,).
    """
    R = np.asarray(relevance, dtype=np.float64)
    f = np.asarray(target_scores, dtype=np.float64).reshape(-1)
    if len(R) != len(f):
        raise ValueError(f"target_scores: expected {len(R)} values (one per map), got {len(f)}")
    err = np.abs(R.reshape(len(R), -1).sum(axis=1) - f)
    if not relative:
        return err
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(err == 0, 0.0, err / np.abs(f))


def _finite(R: np.ndarray, what: str) -> np.ndarray:
    """``R`` unchanged, or a ValueError when it holds NaN/inf (they would pass silently)."""
    bad = int(np.size(R) - np.count_nonzero(np.isfinite(R)))
    if bad:
        raise ValueError(f"{what}: {bad} non-finite values (NaN/inf); expected finite relevance maps")
    return R


def _check_mask(relevance, mask):
    R = _finite(np.asarray(relevance, dtype=np.float64), "relevance")
    M = np.asarray(mask, dtype=bool)
    if M.shape != R.shape:
        try:
            M = np.broadcast_to(M[..., None] if M.ndim == R.ndim - 1 else M, R.shape)
        except ValueError:
            raise ValueError(f"mask: expected shape {R.shape} (or without the channel axis), got {np.shape(mask)}") from None
    return R.reshape(len(R), -1), M.reshape(len(R), -1)


def relevance_mass_accuracy(relevance: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of the positive relevance that falls inside the ground-truth mask.

    Args:
        relevance: (N, ...) maps.
        mask: boolean ground truth, shaped like ``relevance`` or without its channel axis.

    Returns:
        float array (N,) in [0, 1]; NaN where a map has no positive relevance.
    """
    R, M = _check_mask(relevance, mask)
    pos = np.clip(R, 0, None)
    total = pos.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (pos * M).sum(axis=1) / total, np.nan)


def pointing_game(relevance: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Whether each map's maximum lies inside the ground-truth mask.

    Args:
        relevance: (N, ...) maps.
        mask: boolean ground truth, shaped like ``relevance`` or without its channel axis.

    Returns:
        bool array (N,) (hits).
    """
    R, M = _check_mask(relevance, mask)
    return M[np.arange(len(R)), np.argmax(R, axis=1)]


def deletion_curve(model, X: np.ndarray, relevance: np.ndarray, *, class_index: ClassIndex = "predicted",
                   steps: int = 20, fill: float = 0.0, order: str = "relevance", unit: str = "time",
                   score: str = "probability", seed: int = 0, batch_size: int = 256):
    """Score while the most relevant parts of each input are removed first.

    Args:
        model: Keras model outputting logits.
        X: batch (N, T, C) (or any (N, ...) with ``unit="element"``).
        relevance: maps shaped like ``X``.
        class_index: target class (default: predicted on the intact input).
        steps: number of removal steps; step s removes round(s/steps · G) of the G units.
        fill: value that replaces removed samples.
        order: ``"relevance"`` (most relevant first) or ``"random"`` (baseline, ``seed``).
        unit: ``"time"``: whole time steps (relevance summed over channels, all channels
            removed together); ``"element"``: single array entries.
        score: ``"probability"`` of the target class or its ``"logit"``.
        seed: seed of the random order.
        batch_size: rows per model call.

    Returns:
        (fractions (steps + 1,) removed, scores (N, steps + 1), auc (N,) trapezoid area of
        the score over the removed fraction).
    """
    X = np.asarray(X, dtype=np.float32)
    R = np.asarray(relevance, dtype=np.float64)
    if R.shape != X.shape:
        raise ValueError(f"relevance: expected the shape of X {X.shape}, got {R.shape}")
    _finite(R, "relevance")
    if unit == "time":
        if X.ndim < 3:
            raise ValueError(f"unit='time': expected X shaped (N, T, C), got {X.shape}; use unit='element'")
        unit_relevance = R.reshape(len(R), R.shape[1], -1).sum(axis=2)
    elif unit == "element":
        unit_relevance = R.reshape(len(R), -1)
    else:
        raise ValueError(f"unit: expected 'time' or 'element', got {unit!r}")
    n, g = unit_relevance.shape
    if order == "relevance":
        ranking = np.argsort(-unit_relevance, axis=1, kind="stable")
    elif order == "random":
        rng = np.random.default_rng(seed)
        ranking = np.stack([rng.permutation(g) for _ in range(n)])
    else:
        raise ValueError(f"order: expected 'relevance' or 'random', got {order!r}")
    targets = resolve_targets(class_index, predict_logits(model, X, batch_size=batch_size))
    counts = np.round(np.linspace(0, 1, steps + 1) * g).astype(int)
    flat = X.reshape(n, g, -1) if unit == "time" else X.reshape(n, g, 1)
    scores = np.empty((n, steps + 1))
    for s, k in enumerate(counts):
        Xs = flat.copy()
        rows = np.repeat(np.arange(n), k)
        Xs[rows, ranking[:, :k].reshape(-1)] = fill
        z = predict_logits(model, Xs.reshape(X.shape), batch_size=batch_size)
        if score == "probability":
            scores[:, s] = target_probabilities(z, targets)
        elif score == "logit":
            scores[:, s] = select_scores(z.astype(np.float64), targets)
        else:
            raise ValueError(f"score: expected 'probability' or 'logit', got {score!r}")
    fractions = counts / g
    auc = np.sum((scores[:, 1:] + scores[:, :-1]) / 2 * np.diff(fractions), axis=1)
    return fractions, scores, auc


def _randomise_layer(layer, seed: int) -> None:
    """Re-draw a layer's weights from its own initialisers (seeded)."""
    new = []
    for j, w in enumerate(layer.weights):
        name = w.name.split("/")[-1].split(":")[0]
        init = getattr(layer, f"{name}_initializer", None)
        if init is None or not w.trainable:
            new.append(w.numpy())
            continue
        cfg = init.get_config()
        if "seed" in cfg:
            cfg["seed"] = seed * 1000 + j
        new.append(np.asarray(init.__class__.from_config(cfg)(w.shape, dtype=w.dtype)))
    layer.set_weights(new)


def model_randomisation_test(model, X: np.ndarray, explain, *, layers: list[str] | None = None,
                             absolute: bool = True, seed: int = 0):
    """Cascading model-parameter randomisation (Adebayo et al. 2018).

    Args:
        model: trained Keras model (not modified: a clone is randomised).
        X: batch to explain.
        explain: callable ``explain(model, X) -> maps shaped like X`` (e.g.
            ``lambda m, x: saliency(m, x, class_index=1)``). Fix the class: the predicted
            class of a randomised model is meaningless.
        layers: names of the layers to randomise, top-down (default: every layer with
            trainable weights, from the output to the input).
        absolute: correlate |maps| (Adebayo et al. report both; |.| is the common choice).
        seed: seed of the re-initialisation.

    Returns:
        (layer names in randomisation order, correlations (L, N)): row l is the Spearman
        rank correlation, per sample, between the original maps and the maps after
        randomising layers[0..l]. A map that is constant (no ranking, e.g. all zeros)
        counts as r = 0.

    Raises:
        ValueError: ``explain`` returned NaN/inf (a NaN rank correlation would otherwise
            read as "decorrelated").
    """
    names = [l.name for l in model.layers if l.trainable_weights][::-1] if layers is None else list(layers)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    original = _finite(np.asarray(explain(clone, X), dtype=np.float64), "explain(model, X)")
    if absolute:
        original = np.abs(original)
    out = np.empty((len(names), len(original)))
    for i, name in enumerate(names):
        _randomise_layer(clone.get_layer(name), seed + i)
        maps = _finite(np.asarray(explain(clone, X), dtype=np.float64),
                       f"explain(model, X) after randomising '{name}'")
        if absolute:
            maps = np.abs(maps)
        for n in range(len(original)):
            r = stats.spearmanr(original[n].ravel(), maps[n].ravel()).statistic
            out[i, n] = 0.0 if np.isnan(r) else r
    return names, out
