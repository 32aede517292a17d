"""What the sections of the ml4szeq recipe share: the data, the class schemes, the trainer, the paper's claims."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from seis_keras.data import synthetic
from seis_keras.data.subduction import (FEATURE_COLUMNS, ClassScheme, SubductionTable, SubductionTransforms,
                                        load_subduction_tables, prepare_table)
from seis_keras.models import get_model
from seis_keras.recipes.runner import PaperValue
from seis_keras.recipes.subduction.config import SubductionConfig
from seis_keras.train.mlp import MLPSettings, MLPTrainer

NAME = "subduction"

#: The README gives no numbers (SPEC §5); its claims, as the report states them.
PAPER = {
    "f1_vs_exclusion": PaperValue(
        "F1 against exclusion distance, 2 classes (Mw < 8.0 / ≥ 8.0, panel A) and 3 classes (Mw < 6.4, "
        "6.4 ≤ Mw < 8.3, ≥ 8.3, panel B): 'trends in model accuracy with increasing exclusion distances, "
        "highlighting the model's robustness and sensitivity to data partitioning'", "README",
        "no numbers in the public text"),
    "relevance": PaperValue(
        "LRP heatmaps (ε toward the predicted class, true positives, robust-scaled per sample, per-class median) "
        "identify the features critical for large-earthquake segments", "README / code"),
}


def load_data(data: str | None, cfg: SubductionConfig, seed: int) -> tuple[SubductionTable, str, list | None]:
    """The prepared table: the CSVs of ``data``, or the built-in synthetic table.

    Returns:
        ``(SubductionTable, source description, planted feature names or None)``.
    """
    d = cfg.data
    kw = dict(segment_step_km=d.segment_step_km, no_event_threshold=d.no_event_threshold,
              no_event_magnitude=d.no_event_magnitude)
    if data is not None:
        return load_subduction_tables(data, **kw), str(data), None
    frame = synthetic.subduction_table(n_segments_per_region=d.synthetic_segments_per_region, seed=seed)
    planted = list(frame.attrs["planted_features"])
    return prepare_table(frame, source="built-in synthetic subduction table", **kw), "built-in synthetic", planted


def class_schemes(cfg: SubductionConfig) -> dict[int, ClassScheme]:
    """``{2: Mw cut 8.0, 3: quantile cuts 0.33/0.65}`` from the ``[classes]`` settings."""
    c = cfg.classes
    known = {2: ClassScheme(tuple(c.two_cuts), c.two_space), 3: ClassScheme(tuple(c.three_cuts), c.three_space)}
    return {int(n): known[int(n)] for n in c.counts}


def make_trainer(cfg: SubductionConfig, n_classes: int, max_rows: int,
                 hidden_units: tuple[int, int] | None = None) -> MLPTrainer:
    """The ml4szeq MLP (``seis_keras.models``) and its training loop (``seis_keras.train.mlp``).

    ``hidden_units`` default to ``(model.h1, model.h2)``.
    """
    hidden = tuple(hidden_units or (cfg.model.h1, cfg.model.h2))

    def build():
        return get_model("subduction", n_features=len(FEATURE_COLUMNS), n_classes=n_classes,
                         hidden_units=hidden, dropout=cfg.model.dropout)
    return MLPTrainer(build, len(FEATURE_COLUMNS), n_classes, MLPSettings.from_config(cfg.train), max_rows=max_rows)


def fitted_transforms(X_raw, y_mw, rows: np.ndarray, cache: dict | None = None) -> SubductionTransforms:
    """:class:`SubductionTransforms` fitted on ``rows``, reused from ``cache`` for the same rows.

    The Yeo–Johnson fit (a scalar optimisation per feature) costs far more than a tiny MLP
    epoch, and it depends only on the rows, not on the seed or the class count.
    """
    key = np.asarray(rows, dtype=np.int64).tobytes()
    if cache is not None and key in cache:
        return cache[key]
    tr = SubductionTransforms().fit(X_raw[rows], y_mw[rows])
    if cache is not None:
        cache[key] = tr
    return tr


def f1_summary(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> dict:
    """Macro and per-class F1 (mean ± std over seeds; one row per seed)."""
    labels, preds = np.atleast_2d(labels), np.atleast_2d(preds)
    macro = [f1_score(l, p, average="macro", labels=range(n_classes), zero_division=0) for l, p in zip(labels, preds)]
    per = np.array([f1_score(l, p, average=None, labels=range(n_classes), zero_division=0)
                    for l, p in zip(labels, preds)])
    ddof = 1 if len(macro) > 1 else 0
    return {"macro_mean": float(np.mean(macro)), "macro_std": float(np.std(macro, ddof=ddof)),
            "per_class_mean": per.mean(axis=0).tolist(), "per_class_std": per.std(axis=0, ddof=ddof).tolist(),
            "per_seed_macro": [float(m) for m in macro]}
