"""§ Relevance of the MLP per magnitude class: LRP-ε (the code), beside gradient saliency and gradient SHAP.

The code's recipe (SPEC §5): LRP-ε (ε = 1e-9) toward the predicted class, on true positives
only; each sample's relevance vector robust-scaled, (r − median) / IQR over its own features
(sklearn ``RobustScaler`` applied per sample); the per-class median over samples is the
heatmap over the 49 features. The models are the first seed's cross-validation models at
``explain.exclusion_km``, on their own test rows.
"""
from __future__ import annotations

import numpy as np
from sklearn.preprocessing import RobustScaler

from seis_keras.data.subduction import FEATURE_COLUMNS
from seis_keras.explain.lrp import LRPAnalyzer
from seis_keras.explain.lrp_reference import lrp_reference
from seis_keras.explain.saliency import saliency
from seis_keras.explain.shap_values import gradient_shap
from seis_keras.plots.subduction import relevance_heatmaps
from seis_keras.recipes.subduction.config import SubductionConfig


def robust_scale_per_sample(R: np.ndarray) -> np.ndarray:
    """Each sample's relevance vector scaled as sklearn ``RobustScaler`` does: (r − median) / IQR.

    The statistics are taken over the sample's own features (the code's per-sample scaling);
    an IQR of 0 leaves the scale at 1 (sklearn's convention).
    """
    R = np.asarray(R, dtype=np.float64)
    return RobustScaler().fit_transform(R.T).T if len(R) else R


def class_medians(R_scaled: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class median over samples, ``(n_classes, F)``; NaN rows for classes with no samples."""
    out = np.full((n_classes, R_scaled.shape[1]), np.nan)
    for c in range(n_classes):
        if np.any(classes == c):
            out[c] = np.median(R_scaled[classes == c], axis=0)
    return out


def relevance(model, X: np.ndarray, method: str, cfg: SubductionConfig, X_background: np.ndarray,
              seed: int = 0) -> np.ndarray:
    """Relevance of each row of ``X`` toward its predicted class, shaped like ``X``.

    ``"lrp"``: LRP-ε (innvestigate worker or the numpy reference, ``explain.lrp_backend``),
    ``"saliency"``: |gradient| of the predicted logit, ``"shap"``: gradient SHAP of the
    predicted logit against ``X_background``.
    """
    e = cfg.explain
    if method == "lrp":
        if e.lrp_backend == "innvestigate":
            with LRPAnalyzer(model, rule="epsilon", epsilon=e.lrp_epsilon, neuron="predicted") as lrp:
                return np.asarray(lrp.analyze(X), dtype=np.float64)
        return lrp_reference(model, X, "epsilon", epsilon=e.lrp_epsilon, neuron="predicted")
    if method == "saliency":
        return saliency(model, X, class_index="predicted", absolute=True).astype(np.float64)
    rng = np.random.default_rng(seed)
    bg = X_background[rng.choice(len(X_background), min(len(X_background), e.shap_background), replace=False)]
    return np.asarray(gradient_shap(model, X, bg, class_index="predicted", nsamples=e.shap_samples, seed=seed),
                      dtype=np.float64)


def explain_folds(folds: list, n_classes: int, cfg: SubductionConfig) -> dict:
    """Per-class median robust-scaled relevance over the explained rows of every fold model.

    Returns:
        ``{method: {"medians": (n_classes, F), "counts": [rows per class]}}``.
    """
    out = {}
    for method in cfg.explain.methods:
        scaled, classes = [], []
        for f in folds:
            keep = (f["pred"] == f["y_test"]) if cfg.explain.true_positives_only else np.ones(len(f["pred"]), bool)
            if not keep.any():
                continue
            R = relevance(f["model"], f["X_test"][keep], method, cfg, f["X_train"])
            scaled.append(robust_scale_per_sample(R))
            classes.append(f["pred"][keep])
        R_all = np.concatenate(scaled) if scaled else np.zeros((0, len(FEATURE_COLUMNS)))
        cls = np.concatenate(classes) if classes else np.zeros(0, int)
        out[method] = {"medians": class_medians(R_all, cls, n_classes),
                       "counts": np.bincount(cls, minlength=n_classes).tolist()}
    return out


def top_features(medians: np.ndarray, k: int) -> list[list[str]]:
    """The ``k`` features with the largest median relevance, per class (empty for NaN rows)."""
    return [[] if np.isnan(row).all() else [FEATURE_COLUMNS[i] for i in np.argsort(-row)[:k]] for row in medians]


def relevance_summary(rel: dict, class_names, planted, top_k: int) -> dict:
    """Top features per class for every method, and where the planted features rank.

    The planted-feature rank orders features by their median relevance averaged over classes
    (largest first, 1-based); ``planted_in_top_k`` says whether every planted feature is within
    the ``top_k`` best.
    """
    out = {}
    for method, r in rel.items():
        med = r["medians"]
        entry = {"counts": r["counts"], "medians": np.where(np.isnan(med), None, med).tolist(),
                 "top_features": dict(zip(class_names, top_features(med, top_k)))}
        if planted:
            mean = np.nanmean(med, axis=0) if not np.isnan(med).all() else np.zeros(med.shape[1])
            order = [FEATURE_COLUMNS[i] for i in np.argsort(-mean)]
            ranks = {f: order.index(f) + 1 for f in planted if f in order}
            entry["planted_ranks"] = ranks
            entry["planted_in_top_k"] = bool(ranks) and max(ranks.values()) <= top_k
        out[method] = entry
    return out


def heatmap_figure(rel: dict, class_names, n_classes: int, exclusion_km: float):
    """The per-class median relevance heatmaps of every method (one figure)."""
    return relevance_heatmaps({m: r["medians"] for m, r in rel.items()}, FEATURE_COLUMNS, class_names,
                              counts={m: r["counts"] for m, r in rel.items()},
                              title=f"{n_classes} classes: median robust-scaled relevance "
                                    f"(CV models, exclusion {exclusion_km:g} km, true positives)")


def class_relevance(cfg: SubductionConfig, cv, classes, planted, folder) -> dict:
    """The section: per class count, the relevance summary of every method and its heatmap figure."""
    out = {}
    for n_cls, folds in cv.explained.items():
        rel = explain_folds(folds, n_cls, cfg)
        names = classes.names[n_cls]
        out[str(n_cls)] = relevance_summary(rel, names, planted, cfg.explain.top_k)
        folder.save_figure(heatmap_figure(rel, names, n_cls, cfg.explain.exclusion_km), f"relevance_{n_cls}class")
    return out
