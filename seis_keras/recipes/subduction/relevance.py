"""§ Relevance of the MLP per magnitude class: LRP-ε (the code), beside saliency, gradient SHAP and ours.

The code's recipe (SPEC §5): LRP-ε (ε = 1e-9) toward the predicted class, on true positives
only; each sample's relevance vector robust-scaled, (r − median) / IQR over its own features
(sklearn ``RobustScaler`` applied per sample); the per-class median over samples is the
heatmap over the 49 features. The models are the first seed's cross-validation models at
``explain.exclusion_km``, on their own test rows. ``explain.recommended`` (a method of
:mod:`seis_keras.explain.methods`, key ``"recommended"``) is computed the same way beside the
paper's LRP-ε, and :func:`rank_agreement` says whether the feature ranking depends on the method.
"""
from __future__ import annotations

import contextlib
import dataclasses

import numpy as np
from scipy import stats
from sklearn.preprocessing import RobustScaler

from seis_keras.data.subduction import FEATURE_COLUMNS
from seis_keras.explain.lrp import LRPSession
from seis_keras.explain.lrp_reference import lrp_reference
from seis_keras.explain.methods import explain, parse_method
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


def method_label(method: str, cfg: SubductionConfig) -> str:
    """The report's name of a method key: ``"lrp"`` → ``"LRP-ε (paper)"``, ``"recommended"`` → its method label."""
    if method == "recommended":
        return f"{cfg.explain.recommended} (ours)"
    return {"lrp": f"LRP-ε {cfg.explain.lrp_epsilon:g} (paper)", "saliency": "saliency |∇|",
            "shap": "gradient SHAP"}[method]


def lrp_text(method: str, cfg: SubductionConfig) -> str | None:
    """The LRP method text of a method key (None: not an LRP method): ``"lrp"`` is LRP-ε with the paper's ε."""
    if method == "lrp":
        return f"lrp.epsilon(epsilon={cfg.explain.lrp_epsilon!r})"
    if method == "recommended" and parse_method(cfg.explain.recommended).backend == "lrp":
        return cfg.explain.recommended
    return None


def relevance(model, X: np.ndarray, method: str, cfg: SubductionConfig, X_background: np.ndarray,
              seed: int = 0, class_index="predicted", session=None) -> np.ndarray:
    """Relevance of each row of ``X`` toward ``class_index`` (default its predicted class), shaped like ``X``.

    ``"lrp"``: LRP-ε (innvestigate worker or the numpy reference, ``explain.lrp_backend``),
    ``"saliency"``: |gradient| of the logit, ``"shap"``: gradient SHAP of the logit against
    ``X_background``, ``"recommended"``: ``explain.recommended`` through
    :func:`seis_keras.explain.methods.explain` (an LRP method with the ``"reference"``
    backend: through the numpy reference). LRP methods run in ``session`` (an open
    :class:`~seis_keras.explain.lrp.LRPSession` on ``model``) if given, else in a worker of their own.
    """
    e = cfg.explain
    text = lrp_text(method, cfg)
    if text is not None:
        if e.lrp_backend == "reference":
            return lrp_reference(model, X, text, neuron=class_index)
        return np.asarray(explain(model, X, text, class_index=class_index, session=session), dtype=np.float64)
    if method == "saliency":
        return saliency(model, X, class_index=class_index, absolute=True).astype(np.float64)
    if method == "recommended":
        return np.asarray(explain(model, X, e.recommended, class_index=class_index, seed=seed), dtype=np.float64)
    rng = np.random.default_rng(seed)
    bg = X_background[rng.choice(len(X_background), min(len(X_background), e.shap_background), replace=False)]
    return np.asarray(gradient_shap(model, X, bg, class_index=class_index, nsamples=e.shap_samples, seed=seed),
                      dtype=np.float64)


def method_keys(cfg: SubductionConfig) -> list[str]:
    """The methods the recipe shows: ``explain.methods`` and ``"recommended"``."""
    return [*cfg.explain.methods, "recommended"]


def explain_folds(folds: list, n_classes: int, cfg: SubductionConfig) -> dict:
    """Per-class median robust-scaled relevance over the explained rows of every fold model.

    With the innvestigate backend one worker per fold model serves every LRP method.

    Returns:
        ``{method: {"medians": (n_classes, F), "counts": [rows per class], "maps": [raw relevance of
        each fold's explained rows, or None for a fold with none]}}`` (the maps feed the trust checks).
    """
    methods = method_keys(cfg)
    worker = cfg.explain.lrp_backend == "innvestigate" and any(lrp_text(m, cfg) for m in methods)
    maps: dict = {m: [] for m in methods}
    for f in folds:
        keep = explained_rows(f, cfg)
        if not keep.any():
            for m in methods:
                maps[m].append(None)
            continue
        with (LRPSession(f["model"]) if worker else contextlib.nullcontext()) as session:
            for m in methods:
                maps[m].append(relevance(f["model"], f["X_test"][keep], m, cfg, f["X_train"], session=session))
    out = {}
    for m in methods:
        scaled = [robust_scale_per_sample(R) for R in maps[m] if R is not None]
        classes = [f["pred"][explained_rows(f, cfg)] for f, R in zip(folds, maps[m]) if R is not None]
        R_all = np.concatenate(scaled) if scaled else np.zeros((0, len(FEATURE_COLUMNS)))
        cls = np.concatenate(classes) if classes else np.zeros(0, int)
        out[m] = {"medians": class_medians(R_all, cls, n_classes),
                  "counts": np.bincount(cls, minlength=n_classes).tolist(), "maps": maps[m]}
    return out


def explained_rows(fold: dict, cfg: SubductionConfig) -> np.ndarray:
    """Boolean mask of a fold's test rows that are explained (true positives, or all)."""
    return (fold["pred"] == fold["y_test"]) if cfg.explain.true_positives_only else np.ones(len(fold["pred"]), bool)


def top_features(medians: np.ndarray, k: int) -> list[list[str]]:
    """The ``k`` features with the largest median relevance, per class (empty for NaN rows)."""
    return [[] if np.isnan(row).all() else [FEATURE_COLUMNS[i] for i in np.argsort(-row)[:k]] for row in medians]


def feature_order(medians: np.ndarray) -> np.ndarray:
    """Feature indices by median relevance averaged over classes, largest first (the planted-rank order)."""
    mean = np.nanmean(medians, axis=0) if not np.isnan(medians).all() else np.zeros(medians.shape[1])
    return np.argsort(-mean, kind="stable")


def rank_agreement(paper: np.ndarray, other: np.ndarray, top_k: int) -> dict:
    """Do two methods rank the features alike? (issue 13.4: does a conclusion depend on the method?)

    Args:
        paper, other: ``(n_classes, F)`` per-class medians of the two methods.
        top_k: size of the top lists compared.

    Returns:
        ``{"spearman": Spearman ρ of the class-averaged medians over the F features,
        "top_k_shared": features both put in their top ``top_k`` (class-averaged order),
        "top_k_shared_per_class": the same per class (None for a class without rows),
        "depends_on_method": fewer than half of the top ``top_k`` shared}``.
    """
    a, b = (np.nanmean(m, axis=0) if not np.isnan(m).all() else np.zeros(m.shape[1]) for m in (paper, other))
    rho = float(stats.spearmanr(a, b).statistic) if np.ptp(a) > 0 and np.ptp(b) > 0 else float("nan")
    top = lambda v: set(np.argsort(-v, kind="stable")[:top_k].tolist())  # noqa: E731
    per_class = [None if np.isnan(p).all() or np.isnan(o).all() else len(top(p) & top(o))
                 for p, o in zip(paper, other)]
    shared = len(top(a) & top(b))
    return {"spearman": rho, "top_k_shared": shared, "top_k": top_k, "top_k_shared_per_class": per_class,
            "depends_on_method": shared < top_k / 2}


def relevance_summary(rel: dict, class_names, planted, top_k: int) -> dict:
    """Top features per class for every method, where the planted features rank, agreement with LRP.

    The planted-feature rank orders features by their median relevance averaged over classes
    (largest first, 1-based); ``planted_in_top_k`` says whether every planted feature is within
    the ``top_k`` best. Every method but ``"lrp"`` gets ``agreement_with_lrp``
    (:func:`rank_agreement`) when LRP ran.
    """
    out = {}
    for method, r in rel.items():
        med = r["medians"]
        entry = {"counts": r["counts"], "medians": np.where(np.isnan(med), None, med).tolist(),
                 "top_features": dict(zip(class_names, top_features(med, top_k)))}
        if planted:
            order = [FEATURE_COLUMNS[i] for i in feature_order(med)]
            ranks = {f: order.index(f) + 1 for f in planted if f in order}
            entry["planted_ranks"] = ranks
            entry["planted_in_top_k"] = bool(ranks) and max(ranks.values()) <= top_k
        if method != "lrp" and "lrp" in rel:
            entry["agreement_with_lrp"] = rank_agreement(rel["lrp"]["medians"], med, top_k)
        out[method] = entry
    return out


def heatmap_figure(rel: dict, class_names, n_classes: int, exclusion_km: float, labels: dict | None = None):
    """The per-class median relevance heatmaps of every method (one figure; ``labels``: method key -> title)."""
    labels = labels or {}
    return relevance_heatmaps({labels.get(m, m): r["medians"] for m, r in rel.items()}, FEATURE_COLUMNS,
                              class_names, counts={labels.get(m, m): r["counts"] for m, r in rel.items()},
                              title=f"{n_classes} classes: median robust-scaled relevance "
                                    f"(CV models, exclusion {exclusion_km:g} km, true positives)")


@dataclasses.dataclass
class ClassRelevance:
    """The section's result: ``metrics`` (``{n_classes: relevance_summary}``) and the raw per-fold maps.

    Attributes:
        metrics: what metrics.json holds.
        maps: ``{n_classes: {method: [per-fold relevance of the explained rows, or None]}}``.
    """

    metrics: dict
    maps: dict


def class_relevance(cfg: SubductionConfig, cv, classes, planted, folder) -> ClassRelevance:
    """The section: per class count, the relevance summary of every method and its heatmap figure."""
    out, maps = {}, {}
    labels = {m: method_label(m, cfg) for m in method_keys(cfg)}
    for n_cls, folds in cv.explained.items():
        rel = explain_folds(folds, n_cls, cfg)
        names = classes.names[n_cls]
        out[str(n_cls)] = relevance_summary(rel, names, planted, cfg.explain.top_k)
        maps[n_cls] = {m: r["maps"] for m, r in rel.items()}
        folder.save_figure(heatmap_figure(rel, names, n_cls, cfg.explain.exclusion_km, labels),
                           f"relevance_{n_cls}class")
    return ClassRelevance(out, maps)
