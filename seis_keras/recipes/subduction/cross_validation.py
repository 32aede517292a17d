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
from typing import Callable

import numpy as np
from sklearn.linear_model import LogisticRegression

from seis_keras.data.subduction import ClassScheme, spatial_exclusion_split, validation_rows
from seis_keras.recipes.subduction.config import SubductionConfig
from seis_keras.models.checkpoints import find_checkpoints, hidden_units, read_state_dict
from seis_keras.recipes.subduction.study import f1_summary, fitted_transforms, make_trainer
from seis_keras.train.mlp import MLPTrainer


class Trainers:
    """One :class:`MLPTrainer` per (class count, layer sizes), shared by every fit of that architecture.

    Args:
        cfg: the config (``model.h1``/``h2`` are the sizes unless a fold has its own).
        max_rows: most rows any fit gets.
        architectures: ``{(n_classes, exclusion_km, fold): (h1, h2)}``, the per-fold sizes of the
            authors' released checkpoints (``model.architectures_from``); other folds use the config's.
    """

    def __init__(self, cfg: SubductionConfig, max_rows: int, architectures: dict | None = None):
        self.cfg, self.max_rows, self.architectures = cfg, max_rows, dict(architectures or {})
        self._trainers: dict[tuple, MLPTrainer] = {}

    def get(self, n_classes: int, hidden: tuple[int, int] | None = None) -> MLPTrainer:
        hidden = tuple(hidden or (self.cfg.model.h1, self.cfg.model.h2))
        key = (n_classes, hidden)
        if key not in self._trainers:
            self._trainers[key] = make_trainer(self.cfg, n_classes, self.max_rows, hidden_units=hidden)
        return self._trainers[key]

    def for_folds(self, n_classes: int, exclusion_km: float) -> Callable[[int], MLPTrainer]:
        return lambda fold: self.get(n_classes, self.architectures.get((n_classes, float(exclusion_km), fold)))


def checkpoint_architectures(folder: str) -> dict:
    """``{(n_classes, exclusion_km, fold): (h1, h2)}`` read from the authors' checkpoints (SPEC §5: a W&B sweep)."""
    return {key: hidden_units(read_state_dict(c.path)) for key, c in find_checkpoints(folder).items()}


@dataclasses.dataclass
class CrossValidation:
    """The section's result: F1 per class count and distance, and the fold models explained later.

    Attributes:
        f1: ``{n_classes: {distance: {"mlp", "majority", "logistic": f1_summary pooled over the test
            slices, "mlp_per_fold": [f1_summary of each slice], "mw_cuts_per_fold", "best_epochs",
            "hidden_units_per_fold"}}}`` (string keys, as in metrics.json).
        comparison: the MLP macro F1 with the transforms fitted on the other rows (same seeds).
        explained: ``{n_classes: [fold dicts]}``: the first seed's models at ``explain.exclusion_km``.
        trainers: the :class:`Trainers` (reused by the final models).
    """

    f1: dict
    comparison: dict
    fit_transforms_on: str
    explained: dict
    trainers: Trainers

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


def folds(table, scheme: ClassScheme, exclusion_km: float, cfg: SubductionConfig, fit_transforms_on: str,
          transforms_cache: dict | None = None):
    """Each fold of the spatial CV: ``(fold, train rows, test rows, transforms, X_tr, X_te, y_tr, y_te)``.

    Transforms are fitted per fold on its training rows (``fit_transforms_on="train"``) or on
    all rows (``"all"``, the code); 3-class labels follow that fold's quantile transform.
    """
    cv, frame, X_raw, y_mw = cfg.cv, table.frame, table.features, table.target
    for fold in range(cv.n_slices):
        train, test = spatial_exclusion_split(frame, fold, exclusion_km, n_slices=cv.n_slices, by=cv.slice_by)
        tr = fitted_transforms(X_raw, y_mw, train if fit_transforms_on == "train" else np.arange(len(frame)),
                               transforms_cache)
        yield (fold, train, test, tr, tr.transform(X_raw[train]), tr.transform(X_raw[test]),
               scheme.labels(y_mw[train], tr), scheme.labels(y_mw[test], tr))


def per_fold_f1(labels: np.ndarray, preds: np.ndarray, fold_of_row: np.ndarray, n_classes: int) -> list[dict]:
    """F1 of each test slice (the README's panels a–e), mean ± std over seeds; ``labels``/``preds`` (n_seeds, n)."""
    return [f1_summary(labels[:, fold_of_row == k], preds[:, fold_of_row == k], n_classes)
            for k in range(int(fold_of_row.max()) + 1)]


def cross_validate(table, scheme: ClassScheme, exclusion_km: float, seeds, cfg: SubductionConfig,
                   trainer_for: Callable[[int], MLPTrainer] | MLPTrainer, *, fit_transforms_on: str = "train",
                   baselines: bool = True, keep_models: bool = False, transforms_cache: dict | None = None) -> dict:
    """All folds for each seed at one exclusion distance: pooled test labels and predictions.

    Args:
        trainer_for: the trainer of each fold (``fold -> MLPTrainer``: the fold's architecture),
            or one trainer for every fold.

    Returns:
        ``{"labels": (n_seeds, n), "mlp": (n_seeds, n), "fold": (n,) test slice of each row,
        "majority"/"logistic": (n,), "mw_cuts": [per fold], "best_epochs": [...],
        "hidden_units": [per fold], "explained": [fold dicts of the first seed]}``; every row is
        tested exactly once per seed.
    """
    cv = cfg.cv
    n, k = len(table.frame), scheme.n_classes
    out = {"labels": np.full((len(seeds), n), -1), "mlp": np.full((len(seeds), n), -1), "fold": np.full(n, -1),
           "mw_cuts": [], "best_epochs": [], "hidden_units": [], "explained": []}
    base = {name: np.full(n, -1) for name in ("majority", "logistic")}
    for fold, train, test, tr, X_tr, X_te, y_tr, y_te in folds(table, scheme, exclusion_km, cfg, fit_transforms_on,
                                                              transforms_cache):
        trainer = trainer_for(fold) if callable(trainer_for) else trainer_for
        out["fold"][test] = fold
        out["mw_cuts"].append(scheme.mw_cuts(tr))
        out["hidden_units"].append([int(trainer.model.get_layer(name).units) for name in ("fc1", "fc2")])
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
    architectures = checkpoint_architectures(cfg.model.architectures_from) if cfg.model.architectures_from else {}
    trainers = Trainers(cfg, len(table.frame), architectures)
    f1, comparison, explained = {}, {}, {}
    for n_cls, scheme in schemes.items():
        f1[str(n_cls)], comparison[str(n_cls)] = {}, {}
        for dist in cfg.cv.distances:
            trainer = trainers.for_folds(n_cls, dist)
            keep = dist == float(cfg.explain.exclusion_km)
            res = cross_validate(table, scheme, dist, seeds, cfg, trainer, fit_transforms_on=fit_on,
                                 keep_models=keep, transforms_cache=cache)
            entry = {"mlp": f1_summary(res["labels"], res["mlp"], n_cls)}
            for name in ("majority", "logistic"):
                entry[name] = f1_summary(res["labels"][0], res[name], n_cls)
            entry["mlp_per_fold"] = per_fold_f1(res["labels"], res["mlp"], res["fold"], n_cls)
            entry["mw_cuts_per_fold"] = res["mw_cuts"]
            entry["best_epochs"] = res["best_epochs"]
            entry["hidden_units_per_fold"] = res["hidden_units"]
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
