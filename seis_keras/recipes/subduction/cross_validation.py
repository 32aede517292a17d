"""§ Spatial cross-validation: F1 against the exclusion distance, beside two baselines (SPEC §5, code).

Per region the along-strike coordinate is cut into ``cv.n_slices`` slices; slice k is the test
set, the training rows are those farther than the exclusion distance from it. Each fold fits
its own transforms (on its training rows, ``cv.fit_transforms_on = "train"``, or on all rows as
the code does) and ``train.seeds`` MLPs; F1 is pooled over the test slices (every row tested once
per seed). A majority-class and a class-balanced logistic regression show what the features
give without the network.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.linear_model import LogisticRegression

from seis_keras.data.subduction import ClassScheme, spatial_exclusion_split, validation_rows
from seis_keras.recipes.subduction.config import SubductionConfig
from seis_keras.recipes.subduction.study import f1_summary, fitted_transforms, make_trainer
from seis_keras.train.mlp import MLPTrainer


@dataclasses.dataclass
class CrossValidation:
    """The section's result: F1 per class count and distance, and the fold models explained later.

    Attributes:
        f1: ``{n_classes: {distance: {"mlp", "majority", "logistic": f1_summary, "mw_cuts_per_fold",
            "best_epochs"}}}`` (string keys, as in metrics.json).
        comparison: the MLP macro F1 with the transforms fitted on the other rows (same seeds).
        explained: ``{n_classes: [fold dicts]}``: the first seed's models at ``explain.exclusion_km``.
        trainers: ``{n_classes: MLPTrainer}`` (reused by the final models).
    """

    f1: dict
    comparison: dict
    fit_transforms_on: str
    explained: dict
    trainers: dict

    @property
    def metrics(self) -> dict:
        return {"f1": self.f1, "fit_transforms_on": self.fit_transforms_on,
                "fit_transforms_comparison": self.comparison}


def _baselines(X_train, y_train, X_test, n_classes: int, cfg: SubductionConfig) -> dict[str, np.ndarray]:
    """Majority class of the training rows, and class-balanced logistic regression."""
    out = {"majority": np.full(len(X_test), np.bincount(y_train, minlength=n_classes).argmax())}
    if len(np.unique(y_train)) > 1:
        lr = LogisticRegression(C=cfg.baselines.logistic_c, class_weight="balanced", max_iter=2000)
        out["logistic"] = lr.fit(X_train, y_train).predict(X_test)
    else:
        out["logistic"] = out["majority"].copy()
    return out


def cross_validate(table, scheme: ClassScheme, exclusion_km: float, seeds, cfg: SubductionConfig, trainer: MLPTrainer, *,
                   fit_transforms_on: str = "train", baselines: bool = True, keep_models: bool = False,
                   transforms_cache: dict | None = None) -> dict:
    """All folds for each seed at one exclusion distance: pooled test labels and predictions.

    Transforms are fitted per fold on its training rows (``fit_transforms_on="train"``) or on
    all rows (``"all"``, the code); 3-class labels follow that fold's quantile transform.

    Returns:
        ``{"labels": (n_seeds, n), "mlp": (n_seeds, n), "majority"/"logistic": (n,),
        "mw_cuts": [per fold], "best_epochs": [...], "explained": [fold dicts of the first seed]}``;
        every row is tested exactly once per seed.
    """
    cv = cfg.cv
    frame, X_raw, y_mw = table.frame, table.features, table.target
    n, k = len(frame), scheme.n_classes
    out = {"labels": np.full((len(seeds), n), -1), "mlp": np.full((len(seeds), n), -1), "mw_cuts": [],
           "best_epochs": [], "explained": []}
    base = {name: np.full(n, -1) for name in ("majority", "logistic")}
    for fold in range(cv.n_slices):
        train, test = spatial_exclusion_split(frame, fold, exclusion_km, n_slices=cv.n_slices,
                                              by=cv.slice_by)
        tr = fitted_transforms(X_raw, y_mw, train if fit_transforms_on == "train" else np.arange(n), transforms_cache)
        X_tr, X_te = tr.transform(X_raw[train]), tr.transform(X_raw[test])
        y_tr, y_te = scheme.labels(y_mw[train], tr), scheme.labels(y_mw[test], tr)
        out["mw_cuts"].append(scheme.mw_cuts(tr))
        if baselines:
            for name, p in _baselines(X_tr, y_tr, X_te, k, cfg).items():
                base[name][test] = p
        for s_i, seed in enumerate(seeds):
            fit_i, val_i = validation_rows(np.arange(len(train)), cv.validation_fraction,
                                           seed=seed * 1009 + fold)
            model, info = trainer.fit(X_tr[fit_i], y_tr[fit_i], X_tr[val_i], y_tr[val_i], seed=seed * 1009 + fold)
            pred = np.argmax(model(X_te, training=False).numpy(), axis=1)
            out["labels"][s_i, test], out["mlp"][s_i, test] = y_te, pred
            out["best_epochs"].append(info["best_epoch"])
            if keep_models and s_i == 0:
                out["explained"].append(dict(model=trainer.copy_model(), X_train=X_tr, X_test=X_te, y_test=y_te,
                                             pred=pred))
    if baselines:
        out.update(base)
    return out


def spatial_cross_validation(cfg: SubductionConfig, data, schemes: dict[int, ClassScheme], log) -> CrossValidation:
    """Every class count at every exclusion distance; the transform-fit comparison; fold models kept for relevance."""
    table, cache = data.table, data.transforms_cache
    seeds = [cfg.seed + i for i in range(cfg.train.seeds)]
    fit_on = cfg.cv.fit_transforms_on
    other = "all" if fit_on == "train" else "train"
    n_compare = min(cfg.cv.compare_seeds, len(seeds))
    f1, comparison, explained, trainers = {}, {}, {}, {}
    for n_cls, scheme in schemes.items():
        trainer = trainers[n_cls] = make_trainer(cfg, n_cls, max_rows=len(table.frame))
        f1[str(n_cls)], comparison[str(n_cls)] = {}, {}
        for dist in cfg.cv.distances:
            keep = dist == float(cfg.explain.exclusion_km)
            res = cross_validate(table, scheme, dist, seeds, cfg, trainer, fit_transforms_on=fit_on,
                                 keep_models=keep, transforms_cache=cache)
            entry = {"mlp": f1_summary(res["labels"], res["mlp"], n_cls)}
            for name in ("majority", "logistic"):
                entry[name] = f1_summary(res["labels"][0], res[name], n_cls)
            entry["mw_cuts_per_fold"] = res["mw_cuts"]
            entry["best_epochs"] = res["best_epochs"]
            f1[str(n_cls)][f"{dist:g}"] = entry
            if n_compare:
                alt = cross_validate(table, scheme, dist, seeds[:n_compare], cfg, trainer, fit_transforms_on=other,
                                     baselines=False, transforms_cache=cache)
                same = f1_summary(res["labels"][:n_compare], res["mlp"][:n_compare], n_cls)["macro_mean"]
                diff = f1_summary(alt["labels"], alt["mlp"], n_cls)["macro_mean"]
                comparison[str(n_cls)][f"{dist:g}"] = {fit_on: same, other: diff, f"{other}_minus_{fit_on}": diff - same,
                                                       "seeds": n_compare}
            if keep:
                explained[n_cls] = res["explained"]
            log(f"{n_cls} classes, exclusion {dist:g} km: MLP macro F1 {entry['mlp']['macro_mean']:.3f} ± "
                f"{entry['mlp']['macro_std']:.3f} (logistic {entry['logistic']['macro_mean']:.3f}, majority "
                f"{entry['majority']['macro_mean']:.3f})")
    return CrossValidation(f1, comparison, fit_on, explained, trainers)
