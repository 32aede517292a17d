"""The three trust checks and their results (the verdicts are in :mod:`seis_keras.explain.trust`).

- :func:`randomisation_check`: cascading model randomisation (Adebayo et al. 2018) of any
  ``explain(model, X)``; :func:`weight_swap_explainer` adapts an explainer that keeps its
  own model copy (the LRP worker) to that signature.
- :func:`randomisation_control`: the same similarity between two *independently*
  re-initialised copies: what any upper layers give, so a trained-vs-random similarity at
  that level says the map's pattern comes from the input and the kept lower layers, not
  from the trained upper layers (the confound Binder et al. 2023 describe).
- :func:`localisation_check`: mass accuracy and pointing game in a ground-truth mask, with
  the uniform share.
- :func:`faithfulness_check`: deletion and insertion curves vs seeded random orders.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import numpy as np

from seis_keras.explain import metrics
from seis_keras.explain.targets import ClassIndex


@dataclasses.dataclass
class RandomisationResult:
    """Cascading randomisation: ``similarity[kind]`` is (L, N), row l after re-initialising layers[0..l].

    ``control``: ``{"layer", kind: mean similarity}`` of two copies re-initialised down to that layer with
    different seeds (:func:`randomisation_control`), or None when not computed.
    """

    layers: list[str]
    similarity: dict[str, np.ndarray]
    control: dict | None = None

    def mean(self, kind: str = "spearman_abs") -> np.ndarray:
        """Mean over samples per cascade step, shape (L,)."""
        return self.similarity[kind].mean(axis=1)


@dataclasses.dataclass
class LocalisationResult:
    """Per-sample mass accuracy (NaN: no positive relevance), pointing-game hits, uniform share."""

    mass_accuracy: np.ndarray
    pointing_hits: np.ndarray
    uniform_share: np.ndarray

    @property
    def numbers(self) -> dict:
        share = float(self.uniform_share.mean())
        mass = float(np.nanmean(self.mass_accuracy)) if np.isfinite(self.mass_accuracy).any() else math.nan
        hits = float(self.pointing_hits.mean())
        return {"mass_accuracy": mass, "uniform_share": share, "mass_ratio": mass / share if share else math.nan,
                "pointing_game": hits, "pointing_ratio": hits / share if share else math.nan,
                "maps_without_positive_relevance": int(np.isnan(self.mass_accuracy).sum()),
                "n_samples": int(len(self.mass_accuracy))}


@dataclasses.dataclass
class FaithfulnessResult:
    """Deletion and insertion scores (N, steps + 1) for the map's order and the random-order mean.

    ``score`` says what the curves hold: "probability" (ratios of plain AUCs, as Petsiuk et
    al.) or "logit" (AUCs above the lowest mean-curve value of the pair compared, so the ratio
    does not depend on where the logit's zero lies).
    """

    fractions: np.ndarray
    deletion: np.ndarray
    deletion_random: np.ndarray
    insertion: np.ndarray
    insertion_random: np.ndarray
    score: str = "probability"

    def _auc(self, scores) -> float:
        mean = scores.mean(axis=0)
        return float(np.sum((mean[1:] + mean[:-1]) / 2 * np.diff(self.fractions)))

    @property
    def numbers(self) -> dict:
        """Mean-curve AUCs (``deletion_auc``, ``deletion_random_auc``, ...) and the ratios
        ours / random (NaN when the random-order curve is flat at the floor)."""
        out = {}
        for mode in ("deletion", "insertion"):
            ours, rand = getattr(self, mode), getattr(self, f"{mode}_random")
            floor = 0.0 if self.score == "probability" else float(min(ours.mean(axis=0).min(), rand.mean(axis=0).min()))
            a, b = self._auc(ours), self._auc(rand)
            out.update({f"{mode}_auc": a, f"{mode}_random_auc": b,
                        f"{mode}_ratio": (a - floor) / (b - floor) if b - floor > 0 else math.nan})
        out["n_samples"] = int(len(self.deletion))
        return out


# --- the checks -----------------------------------------------------------------------------
def _maps(explain, model, X, what: str) -> np.ndarray:
    R = np.asarray(explain(model, X), dtype=np.float64)
    if R.shape != np.shape(X):
        raise ValueError(f"{what}: expected maps shaped like X {np.shape(X)}, got {R.shape}")
    return metrics._finite(R, what)


def randomisation_check(model, X: np.ndarray, explain: Callable, *, layers: Sequence[str] | None = None,
                        samples: int | None = 16, ssim: bool = False, seed: int = 0, control: bool = True,
                        control_layer: str | None = None) -> RandomisationResult:
    """Cascading model randomisation of ``explain`` on the first ``randomisation_samples`` inputs.

    Args:
        model: trained Keras model (not modified).
        X: inputs (N, ...).
        explain: ``explain(model, X) -> maps shaped like X``, with a fixed class (the
            predicted class of a random model is meaningless).
        layers: cascade, top-down (default: every layer with trainable weights, logits first).
        samples: re-explain only the first this many inputs (None: all).
        ssim: also compute SSIM (scikit-image).
        seed: seed of the re-initialisation.
        control: also run :func:`randomisation_control` down to ``control_layer`` (default: the cascade's
            last layer; pass the verdict layer).

    Returns:
        :class:`RandomisationResult` with "spearman_abs", "spearman", "spearman_positive" (and "ssim").
    """
    Xr = np.asarray(X)[:samples]
    kinds = ["spearman_abs", "spearman", "spearman_positive"] + (["ssim"] if ssim else [])
    original = _maps(explain, model, Xr, "explain(model, X)")
    names, rows, steps = [], {k: [] for k in kinds}, {}
    for name, clone in metrics.randomised_cascade(model, None if layers is None else list(layers), seed=seed):
        maps = steps[name] = _maps(explain, clone, Xr, f"explain(model, X) after re-initialising down to '{name}'")
        names.append(name)
        for k in kinds:
            rows[k].append(metrics.map_similarity(original, maps, k))
    ctrl = None
    if control:  # the cascade's copy at that step is the control's first copy: only the second is explained
        down = names[: names.index(control_layer) + 1] if control_layer in names else names
        ctrl = {"layer": down[-1], **_control_similarity(steps[down[-1]], model, Xr, explain, down, seed)}
    return RandomisationResult(names, {k: np.stack(v) for k, v in rows.items()}, ctrl)


def _copy_maps(model, Xr, explain, layers, seed) -> np.ndarray:
    clone = None
    for _, clone in metrics.randomised_cascade(model, list(layers), seed=seed):
        pass
    return _maps(explain, clone, Xr, f"explain(model, X) of a copy re-initialised down to '{layers[-1]}'")


def _control_similarity(first: np.ndarray, model, Xr, explain, layers, seed) -> dict[str, float]:
    second = _copy_maps(model, Xr, explain, layers, seed + 1000)
    return {k: float(metrics.map_similarity(first, second, k).mean()) for k in ("spearman_abs", "spearman",
                                                                                 "spearman_positive")}


def randomisation_control(model, X: np.ndarray, explain: Callable, *, layers: Sequence[str],
                          samples: int | None = 16, seed: int = 0) -> dict[str, float]:
    """Mean similarity of the maps of two copies re-initialised down to ``layers[-1]`` with different seeds.

    Args:
        model: trained Keras model (not modified).
        X: inputs; the first ``samples`` are explained.
        explain: as for :func:`randomisation_check`.
        layers: the cascade down to the verdict layer (top-down).
        samples: inputs explained (None: all).
        seed: the first copy uses ``seed`` (as :func:`randomisation_check`), the second ``seed + 1000``.

    Returns:
        ``{kind: mean similarity}`` for "spearman_abs", "spearman", "spearman_positive".
    """
    Xr = np.asarray(X)[:samples]
    return _control_similarity(_copy_maps(model, Xr, explain, layers, seed), model, Xr, explain, layers, seed)


def localisation_check(relevance: np.ndarray, mask: np.ndarray) -> LocalisationResult:
    """Mass accuracy and pointing game of ``relevance`` in ``mask``, with the uniform share.

    Args:
        relevance: (N, ...) maps: (N, T[, C]), (N, F[, C]) or (N, F, T[, C]).
        mask: boolean ground truth shaped like the maps or a leading part of them
            (broadcast over the channels).

    Returns:
        :class:`LocalisationResult`.
    """
    return LocalisationResult(metrics.relevance_mass_accuracy(relevance, mask),
                              metrics.pointing_game(relevance, mask), metrics.uniform_share(relevance, mask))


def faithfulness_check(model, X: np.ndarray, relevance: np.ndarray, *, class_index: ClassIndex = "predicted",
                       steps: int = 20, fill=0.0, noise: float = 0.0, unit: str = "time",
                       score: str = "probability", random_orders: int = 5, samples: int | None = None,
                       seed: int = 0) -> FaithfulnessResult:
    """Deletion and insertion curves of the map's order vs ``random_orders`` random orders.

    Args:
        model: Keras model outputting logits.
        X: inputs (N, T, C) (or (N, ...) with ``unit="element"``).
        relevance: maps shaped like ``X``.
        class_index: the explained class (fix it to the class the maps explain).
        steps, fill, noise, unit, score: as in :func:`seis_keras.explain.metrics.perturbation_curve`.
        random_orders: number of seeded random orders averaged for the baseline.
        samples: use only the first this many inputs (None: all).
        seed: seed of the random orders (seed + 1 …) and of the noise.

    Returns:
        :class:`FaithfulnessResult`.
    """
    X, R = np.asarray(X)[:samples], np.asarray(relevance)[:samples]
    if not isinstance(class_index, str) and np.ndim(class_index) > 0:
        class_index = np.asarray(class_index)[:samples]
    kw = dict(class_index=class_index, steps=steps, fill=fill, noise=noise, unit=unit, score=score)
    curves = {}
    for mode in ("deletion", "insertion"):
        fractions, curves[mode], _ = metrics.perturbation_curve(model, X, R, mode=mode, seed=seed, **kw)
        curves[f"{mode}_random"] = np.mean([metrics.perturbation_curve(
            model, X, R, mode=mode, order="random", seed=seed + 1 + i, **kw)[1] for i in range(random_orders)],
            axis=0)
    return FaithfulnessResult(fractions, **curves, score=score)


def weight_swap_explainer(set_weights: Callable, analyze: Callable[[np.ndarray], np.ndarray]) -> Callable:
    """``explain(model, X)`` for an explainer that keeps its own copy of the model.

    Each call first hands the (trained or randomised) Keras model to ``set_weights`` and
    then returns ``analyze(X)``, so a live LRP worker re-explains every cascade step
    without a restart.

    Args:
        set_weights: e.g. ``session.set_weights`` (takes a Keras model).
        analyze: ``X -> maps``, e.g. ``lambda x: session.analyze(x, "lrp.epsilon")``.

    Returns:
        The callable for :func:`assess` / :func:`randomisation_check`.
    """
    def explain(model, X):
        set_weights(model)
        return analyze(X)

    return explain
