"""How good is an explanation? The measurements behind :mod:`seis_keras.explain.trust`.

- :func:`conservation_error`: LRP-style conservation, |Σ R - f(x)| (relative to |f(x)|).
- Localisation against a ground-truth mask (where the synthetic data planted the P and S
  arrivals, a P/S pick window, the tremor band, a time–frequency box):
  :func:`relevance_mass_accuracy` (Arras et al. 2022), :func:`pointing_game` (Zhang et al.
  2018) and their uniform baseline :func:`uniform_share` (the share of the map the mask
  covers: what a map spread evenly, or a random maximum, would score).
- Faithfulness: :func:`perturbation_curve` (Samek et al. 2017 "region perturbation", MoRF;
  Petsiuk et al. 2018 deletion/insertion): remove the most relevant parts first
  (``mode="deletion"``, a good map drops the score fast: small AUC) or restore them first
  into an emptied input (``mode="insertion"``: large AUC); compare with a seeded random
  order. ``fill="linear"`` is ROAD's noisy linear imputation (Rong et al. 2022) for 1-D
  signals. :func:`deletion_curve` is the deletion shorthand.
- Randomisation: :func:`randomised_cascade` (Adebayo et al. 2018, cascading: re-initialise
  the layers from the logits down, one more each step, each with its own initializer,
  seeded), :func:`map_similarity` (Spearman of |R| or R, SSIM) and
  :func:`model_randomisation_test` that combines them; :func:`random_logit_test` (Sixt et
  al. 2020: the map of the target class vs the map of a random other class).
- :func:`sparseness`: Gini index of |R| (Chalasani et al. 2020), for reports.

Quantus 0.6 (the metric library of the field) has each of these; we cross-check every
overlapping one against it in ``tests/explain/test_metrics.py`` (RelevanceMassAccuracy,
PointingGame, PixelFlipping, RandomLogit, Sparseness, MPRT's similarity). We compute
them here rather than through Quantus because, on this stack:

- Quantus's TensorFlow MPRT is wrong for our question: ``TensorFlowModel.get_random_layer_generator``
  calls ``keras.models.clone_model`` without copying the weights (Keras re-initialises every layer of a
  clone), so its first "top layer only" step is already a fully random network; and it *permutes* weights
  instead of re-initialising them (Adebayo et al.). A test pins this, so an upgrade that fixes it shows.
- Its localisation metrics need a one-channel attribution and mask, (N, 1, T); ours take
  channels-last maps (N, T, C) with a mask over time, frequency or time–frequency that
  broadcasts over the channels. Its RelevanceMassAccuracy divides by the *signed* sum (ratios outside
  [0, 1] on LRP maps with negative relevance); ours is the share of the positive relevance (Arras et
  al.'s definition for signed maps), equal to Quantus on ``max(R, 0)``.
- Its ``explain_func`` path checks the maps against channels-last inputs in one place and channel-first
  ones in another, so it fails on a multi-channel Keras model (RandomLogit is cross-checked on one channel).
- ROAD fails on Conv1D inputs (IndexError, image-shaped indexing, ../shared/STACK.md); IROF needs image
  superpixels (skimage SLIC). Noisy linear imputation in 1-D (interpolation between kept samples + noise) is here.
- ``import quantus`` imports torch (and zennit, torchvision) into the TensorFlow process: seconds per import,
  OpenMP oversubscription on 2 cores, a broken torchvision fails it. Quantus is a test dependency only.
"""
from __future__ import annotations

from typing import Callable, Iterator

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
    """Maps and masks as float (N, D) and bool (N, D); the mask broadcasts over trailing axes."""
    R = _finite(np.asarray(relevance, dtype=np.float64), "relevance")
    M = np.asarray(mask, dtype=bool)
    if M.shape != R.shape:
        ok = 1 <= M.ndim <= R.ndim and M.shape[0] == R.shape[0]
        if ok:
            M = M.reshape(M.shape + (1,) * (R.ndim - M.ndim))
            try:
                M = np.broadcast_to(M, R.shape)
            except ValueError:
                ok = False
        if not ok:
            raise ValueError(f"mask: expected shape {R.shape} or a leading part of it (e.g. without the "
                             f"channel axis), got {np.shape(mask)}")
    return R.reshape(len(R), -1), M.reshape(len(R), -1)


def uniform_share(relevance: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The share of each map that the mask covers: the uniform (chance) baseline.

    A map with equal relevance everywhere puts this share of its mass inside the mask, and a
    maximum at a random position hits the mask with this probability.

    Args:
        relevance: (N, ...) maps (only the shape is used).
        mask: boolean ground truth, shaped like ``relevance`` or a leading part of it.

    Returns:
        float array (N,) in [0, 1].
    """
    _, M = _check_mask(np.zeros(np.shape(relevance)), mask)
    return M.mean(axis=1)


def relevance_mass_accuracy(relevance: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of the positive relevance that falls inside the ground-truth mask.

    Equals Quantus's ``RelevanceMassAccuracy`` on ``max(R, 0)`` (tests cross-check).

    Args:
        relevance: (N, ...) maps, e.g. (N, T, C) waveforms, (N, F, T, C) spectrograms.
        mask: boolean ground truth shaped like ``relevance`` or a leading part of it: a time
            mask (N, T) or frequency mask (N, F) broadcasts over the channels (and over time
            for (N, F) on (N, F, T, C) maps).

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
        mask: boolean ground truth, shaped like ``relevance`` or a leading part of it.

    Returns:
        bool array (N,) (hits). Ties: the first maximum in C order counts (Quantus counts a
        hit when any tied maximum is inside).
    """
    R, M = _check_mask(relevance, mask)
    return M[np.arange(len(R)), np.argmax(R, axis=1)]


def sparseness(relevance: np.ndarray) -> np.ndarray:
    """Gini index of |R| per map (Chalasani et al. 2020): 0 = uniform, → 1 = one element.

    Args:
        relevance: (N, ...) maps.

    Returns:
        float array (N,); NaN for an all-zero map.
    """
    a = np.sort(np.abs(_finite(np.asarray(relevance, dtype=np.float64), "relevance")).reshape(len(relevance), -1),
                axis=1)
    d = a.shape[1]
    k = 2 * np.arange(1, d + 1) - d - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * k).sum(axis=1) / (d * a.sum(axis=1))


# --- faithfulness ---------------------------------------------------------------------------
def _fill(X: np.ndarray, keep: np.ndarray, fill, noise: float, rng) -> np.ndarray:
    """``X`` with the samples where ``keep`` is False replaced (X and keep (n, T, r))."""
    if isinstance(fill, str) and fill == "linear":
        out = X.copy()
        t = np.arange(X.shape[1])
        for i in range(X.shape[0]):
            for c in range(X.shape[2]):
                k = keep[i, :, c]
                if k.all():
                    continue
                out[i, ~k, c] = np.interp(t[~k], t[k], X[i, k, c]) if k.any() else 0.0
    elif isinstance(fill, str) and fill == "mean":
        out = np.where(keep, X, X.mean(axis=1, keepdims=True))
    elif isinstance(fill, (int, float, np.number)) and not isinstance(fill, bool):
        out = np.where(keep, X, np.float32(fill))
    else:
        raise ValueError(f"fill: expected a number, 'mean' or 'linear', got {fill!r}")
    if noise:
        scale = noise * X.std(axis=1, keepdims=True)
        out = np.where(keep, out, out + scale * rng.standard_normal(X.shape))
    return out.astype(np.float32)


def perturbation_curve(model, X: np.ndarray, relevance: np.ndarray, *, mode: str = "deletion",
                       class_index: ClassIndex = "predicted", steps: int = 20, fill=0.0, noise: float = 0.0,
                       order: str = "relevance", unit: str = "time", score: str = "probability", seed: int = 0,
                       batch_size: int = 256):
    """Score while the most relevant parts of each input are removed (or restored) first.

    Args:
        model: Keras model outputting logits.
        X: batch (N, T, C) (or any (N, ...) with ``unit="element"`` and a numeric or "mean" fill).
        relevance: maps shaped like ``X``.
        mode: ``"deletion"``: start from the input, remove units most relevant first (MoRF;
            a faithful map has the smaller AUC); ``"insertion"``: start from the emptied
            input, restore units most relevant first (a faithful map has the larger AUC).
        class_index: target class (default: predicted on the intact input).
        steps: number of steps; step s removes (restores) round(s/steps · G) of the G units.
        fill: what replaces removed samples: a number; ``"mean"`` (each sample's mean over
            axis 1, i.e. per channel over time for (N, T, C)); ``"linear"`` (ROAD's noisy linear imputation in 1-D: interpolate each
            channel between the kept time samples; 0 where nothing is kept; needs (N, T, C)).
        noise: Gaussian noise added to the filled samples, std = ``noise`` × each channel's
            std over time (ROAD uses a small noise with ``"linear"``); seeded by ``seed``.
        order: ``"relevance"`` (most relevant first) or ``"random"`` (baseline, ``seed``).
        unit: ``"time"``: whole time steps (relevance summed over channels, all channels
            removed together); ``"element"``: single array entries.
        score: ``"probability"`` of the target class or its ``"logit"``.
        seed: seed of the random order and the noise.
        batch_size: rows per model call.

    Returns:
        (fractions (steps + 1,) removed or restored, scores (N, steps + 1), auc (N,)
        trapezoid area of the score over the fraction).
    """
    X = np.asarray(X, dtype=np.float32)
    R = np.asarray(relevance, dtype=np.float64)
    if R.shape != X.shape:
        raise ValueError(f"relevance: expected the shape of X {X.shape}, got {R.shape}")
    _finite(R, "relevance")
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode: expected 'deletion' or 'insertion', got {mode!r}")
    if score not in ("probability", "logit"):
        raise ValueError(f"score: expected 'probability' or 'logit', got {score!r}")
    if unit == "time":
        if X.ndim < 3:
            raise ValueError(f"unit='time': expected X shaped (N, T, C), got {X.shape}; use unit='element'")
        unit_relevance = R.reshape(len(R), R.shape[1], -1).sum(axis=2)
    elif unit == "element":
        unit_relevance = R.reshape(len(R), -1)
    else:
        raise ValueError(f"unit: expected 'time' or 'element', got {unit!r}")
    if isinstance(fill, str) and fill == "linear" and X.ndim != 3:
        raise ValueError(f"fill='linear': expected X shaped (N, T, C), got {X.shape}")
    n, g = unit_relevance.shape
    if order == "relevance":
        ranking = np.argsort(-unit_relevance, axis=1, kind="stable")
    elif order == "random":
        rng = np.random.default_rng(seed)
        ranking = np.stack([rng.permutation(g) for _ in range(n)])
    else:
        raise ValueError(f"order: expected 'relevance' or 'random', got {order!r}")
    position = np.empty_like(ranking)
    np.put_along_axis(position, ranking, np.arange(g)[None, :].repeat(n, axis=0), axis=1)
    noise_rng = np.random.default_rng([seed, 1])
    targets = resolve_targets(class_index, predict_logits(model, X, batch_size=batch_size))
    counts = np.round(np.linspace(0, 1, steps + 1) * g).astype(int)
    X3 = X.reshape(n, X.shape[1], -1)
    scores = np.empty((n, steps + 1))
    pending: list = []  # the perturbed batches of several steps go to the model together (fewer, fuller calls)
    for s, k in enumerate(counts):
        keep = position >= k if mode == "deletion" else position < k
        keep = np.broadcast_to(keep[:, :, None], X3.shape) if unit == "time" else keep.reshape(X3.shape)
        pending.append(_fill(X3, keep, fill, noise, noise_rng).reshape(X.shape))
        if s == steps or (len(pending) + 1) * n > batch_size:
            z = predict_logits(model, np.concatenate(pending), batch_size=batch_size).reshape(len(pending), n, -1)
            for step, zs in zip(range(s + 1 - len(pending), s + 1), z):
                scores[:, step] = (target_probabilities(zs, targets) if score == "probability"
                                   else select_scores(zs.astype(np.float64), targets))
            pending = []
    fractions = counts / g
    auc = np.sum((scores[:, 1:] + scores[:, :-1]) / 2 * np.diff(fractions), axis=1)
    return fractions, scores, auc


def deletion_curve(model, X: np.ndarray, relevance: np.ndarray, **settings):
    """:func:`perturbation_curve` with ``mode="deletion"`` (same settings and returns)."""
    return perturbation_curve(model, X, relevance, mode="deletion", **settings)


# --- randomisation --------------------------------------------------------------------------
def _randomise_layer(layer, seed: int) -> None:
    """Re-draw a layer's trainable weights from its own initialisers (seeded)."""
    new, redrawn = [], 0
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
        redrawn += 1
    if not redrawn:
        raise ValueError(f"layer '{layer.name}': no trainable weight with an initializer to re-draw "
                         f"(expected attributes like kernel_initializer)")
    layer.set_weights(new)


def cascade_layers(model, layers: list[str] | None = None) -> list[str]:
    """Layer names in cascade order: the given ones (checked), or every layer with trainable
    weights from the output to the input."""
    weighted = [l.name for l in model.layers if l.trainable_weights][::-1]
    if layers is None:
        return weighted
    unknown = [name for name in layers if name not in weighted]
    if unknown:
        raise ValueError(f"layers: {unknown} are not layers with trainable weights of the model "
                         f"(expected some of {weighted})")
    return list(layers)


def randomised_cascade(model, layers: list[str] | None = None, *,
                       seed: int = 0) -> Iterator[tuple[str, keras.Model]]:
    """Cascading randomisation (Adebayo et al. 2018): the model, re-initialised top down.

    Yields, for each layer in ``layers``, that layer's name and one clone of ``model`` in
    which this layer and every layer before it in ``layers`` have been re-drawn from their
    own initializers (seed ``seed + step``). The same clone object is updated in place, so
    use (explain) it before asking for the next step. ``model`` itself is never modified.

    Args:
        model: trained Keras model.
        layers: names top-down (default: :func:`cascade_layers`).
        seed: seed of the re-initialisation.
    """
    names = cascade_layers(model, layers)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    for i, name in enumerate(names):
        _randomise_layer(clone.get_layer(name), seed + i)
        yield name, clone


SIMILARITIES = ("spearman_abs", "spearman", "spearman_positive", "ssim")


def _rowwise_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ra, rb = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    den = np.sqrt((ra ** 2).sum(axis=1) * (rb ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(axis=1) / np.where(den > 0, den, 1.0), 0.0)


def map_similarity(original: np.ndarray, other: np.ndarray, kind: str = "spearman_abs") -> np.ndarray:
    """Similarity of two batches of maps, per sample.

    Args:
        original: (N, ...) maps.
        other: maps of the same shape.
        kind: ``"spearman_abs"`` (Spearman rank correlation of |R|, Adebayo et al.'s main measure),
            ``"spearman"`` (of R), ``"spearman_positive"`` (of max(R, 0), what localisation reads) or
            ``"ssim"`` (structural similarity of |R| scaled to [0, 1] by each map's maximum; scikit-image,
            window 7 (or the shortest axis); (N, T, C) and (N, F, T, C) maps are channels-last).

    Returns:
        float array (N,). A constant map (no ranking, e.g. all zeros) gives 0 for Spearman.
    """
    a = _finite(np.asarray(original, dtype=np.float64), "original maps")
    b = _finite(np.asarray(other, dtype=np.float64), "other maps")
    if a.shape != b.shape:
        raise ValueError(f"maps: expected two batches of one shape, got {a.shape} and {b.shape}")
    if kind == "spearman_abs":
        return _rowwise_spearman(np.abs(a).reshape(len(a), -1), np.abs(b).reshape(len(b), -1))
    if kind == "spearman":
        return _rowwise_spearman(a.reshape(len(a), -1), b.reshape(len(b), -1))
    if kind == "spearman_positive":
        return _rowwise_spearman(np.maximum(a, 0).reshape(len(a), -1), np.maximum(b, 0).reshape(len(b), -1))
    if kind == "ssim":
        # optional dependency (installed with Quantus): only SSIM needs scikit-image
        from skimage.metrics import structural_similarity

        def scaled(m):
            top = np.abs(m).max()
            return np.abs(m) / top if top > 0 else np.abs(m)

        ch = -1 if a.ndim >= 3 else None
        spatial = a.shape[1:-1] if ch else a.shape[1:]
        win = min(7, (min(spatial) - 1) // 2 * 2 + 1)
        return np.array([structural_similarity(scaled(x), scaled(y), data_range=1.0, channel_axis=ch, win_size=win)
                         for x, y in zip(a, b)])
    raise ValueError(f"kind: expected one of {SIMILARITIES}, got {kind!r}")


def model_randomisation_test(model, X: np.ndarray, explain: Callable, *, layers: list[str] | None = None,
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
    original = _finite(np.asarray(explain(model, X), dtype=np.float64), "explain(model, X)")
    names, rows = [], []
    for name, clone in randomised_cascade(model, layers, seed=seed):
        maps = _finite(np.asarray(explain(clone, X), dtype=np.float64),
                       f"explain(model, X) after randomising '{name}'")
        names.append(name)
        rows.append(map_similarity(original, maps, "spearman_abs" if absolute else "spearman"))
    return names, np.stack(rows)


def random_logit_test(model, X: np.ndarray, explain_class: Callable, *, class_index: ClassIndex = "predicted",
                      kind: str = "spearman_abs", seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """Random-logit test (Sixt et al. 2020): does the map depend on which class is explained?

    Args:
        model: Keras model outputting logits (k units; a 1-unit model has classes 0/1).
        X: batch to explain.
        explain_class: callable ``explain_class(model, X, classes) -> maps shaped like X``
            with one class per sample.
        class_index: the explained class (default: predicted).
        kind: similarity (:func:`map_similarity`).
        seed: seed of the random other class (uniform over the other classes).
        batch_size: rows per model call.

    Returns:
        float array (N,): similarity of each sample's target-class map and a random other
        class's map (an explanation that ignores the class gives ≈ 1).
    """
    logits = predict_logits(model, X, batch_size=batch_size)
    targets = resolve_targets(class_index, logits)
    k = max(2, logits.shape[1])
    rng = np.random.default_rng(seed)
    off = (targets + rng.integers(1, k, size=len(targets))) % k
    return map_similarity(explain_class(model, X, targets), explain_class(model, X, off), kind)
