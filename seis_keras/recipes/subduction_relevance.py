"""Relevance of the ml4szeq MLP per magnitude class: LRP-ε, saliency, SHAP, robust scaling.

The code's recipe (SPEC §5): LRP-ε (ε = 1e-9) toward the predicted class, on true positives
only; each sample's relevance vector robust-scaled, (r − median) / IQR over its own features
(sklearn ``RobustScaler`` applied per sample); the per-class median over samples is the
heatmap over the 49 features. Gradient saliency and gradient SHAP are computed the same way
for comparison. Explainers come from :mod:`seis_keras.explain`.
"""
from __future__ import annotations

import numpy as np

from seis_keras.data.subduction import FEATURE_COLUMNS


def robust_scale_per_sample(R: np.ndarray) -> np.ndarray:
    """Each sample's relevance vector scaled as sklearn ``RobustScaler`` does: (r − median) / IQR.

    The statistics are taken over the sample's own features (the code's per-sample scaling);
    an IQR of 0 leaves the scale at 1 (sklearn's convention).
    """
    from sklearn.preprocessing import RobustScaler

    R = np.asarray(R, dtype=np.float64)
    return RobustScaler().fit_transform(R.T).T if len(R) else R


def class_medians(R_scaled: np.ndarray, classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class median over samples, ``(n_classes, F)``; NaN rows for classes with no samples."""
    out = np.full((n_classes, R_scaled.shape[1]), np.nan)
    for c in range(n_classes):
        if np.any(classes == c):
            out[c] = np.median(R_scaled[classes == c], axis=0)
    return out


def relevance(model, X: np.ndarray, method: str, cfg: dict, X_background: np.ndarray, seed: int = 0) -> np.ndarray:
    """Relevance of each row of ``X`` toward its predicted class, shaped like ``X``.

    ``"lrp"``: LRP-ε (``explain.lrp_epsilon``; innvestigate worker or the numpy reference),
    ``"saliency"``: |gradient| of the predicted logit, ``"shap"``: gradient SHAP of the
    predicted logit against ``X_background``.
    """
    e = cfg["explain"]
    if method == "lrp":
        if e["lrp_backend"] == "innvestigate":
            from seis_keras.explain.lrp import LRPAnalyzer

            with LRPAnalyzer(model, rule="epsilon", epsilon=float(e["lrp_epsilon"]), neuron="predicted") as lrp:
                return np.asarray(lrp.analyze(X), dtype=np.float64)
        if e["lrp_backend"] == "reference":
            from seis_keras.explain.lrp_reference import lrp_reference

            return lrp_reference(model, X, "epsilon", epsilon=float(e["lrp_epsilon"]), neuron="predicted")
        raise ValueError(f"explain.lrp_backend: expected 'innvestigate' or 'reference', got {e['lrp_backend']!r}")
    if method == "saliency":
        from seis_keras.explain.saliency import saliency

        return saliency(model, X, class_index="predicted", absolute=True).astype(np.float64)
    if method == "shap":
        from seis_keras.explain.shap_values import gradient_shap

        rng = np.random.default_rng(seed)
        bg = X_background[rng.choice(len(X_background), min(len(X_background), int(e["shap_background"])),
                                     replace=False)]
        return np.asarray(gradient_shap(model, X, bg, class_index="predicted", nsamples=int(e["shap_samples"]),
                                        seed=seed), dtype=np.float64)
    raise ValueError(f"explain.methods: unknown method {method!r} (expected lrp, saliency, shap)")


def explain_folds(folds: list, n_classes: int, cfg: dict) -> dict:
    """Per-class median robust-scaled relevance over the explained rows of every fold model.

    Returns:
        ``{method: {"medians": (n_classes, F), "counts": [rows per class]}}``.
    """
    out = {}
    for method in cfg["explain"]["methods"]:
        scaled, classes = [], []
        for f in folds:
            keep = (f["pred"] == f["y_test"]) if cfg["explain"]["true_positives_only"] else np.ones(len(f["pred"]), bool)
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
