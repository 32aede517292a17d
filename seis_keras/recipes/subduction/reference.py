"""§ The authors' released models on our folds (``--reference-checkpoints DIR``), beside ours.

Each checkpoint ``ncls{n}-dex{d}/scenario{k}_epoch{e}.pt`` (github.com/jcgraciosa/xai-megathrust,
``models/``; see :mod:`seis_keras.models.checkpoints`) is the code's model for test slice ``k``
at exclusion ``d`` km. We score it on our test slice ``k`` with the code's transforms (fitted
on all rows, as its preprocessor does), so its F1 and ours are measured on the same rows. The
slices are ours (row order along strike, SPEC §5), not necessarily the authors' exactly: a
large gap between their models and ours on the same slice says as much about the split as
about training. Each checkpoint is also scored on our training rows of its fold
(``train_rows``): if our slices are the authors', those rows are what it was fitted on and
its F1 there is far above its test-slice F1 (measured on the real tables: 0.99 vs 0.77 for
2 classes at 50 km); a checkpoint whose own test slice scores like the other rows was trained
on it, i.e. our slice k is not theirs.
"""
from __future__ import annotations

import numpy as np

from seis_keras.models.checkpoints import find_checkpoints, load_model
from seis_keras.recipes.subduction.config import SubductionConfig
from seis_keras.recipes.subduction.cross_validation import folds, per_fold_f1
from seis_keras.recipes.subduction.study import f1_summary


def reference_checkpoints(cfg: SubductionConfig, data, schemes: dict, checkpoints: str, log) -> dict:
    """F1 (pooled and per slice) of the released checkpoints for every class count and distance they cover.

    Returns:
        ``{n_classes: {distance: {"pooled": f1_summary, "per_fold": [...], "checkpoints": [file names],
        "hidden_units_per_fold": [...], "train_rows_per_fold": [f1_summary on our training rows of the fold]}}}``; combinations without a checkpoint for every slice are skipped
        (listed under ``"incomplete"``).
    """
    found = find_checkpoints(checkpoints)
    out: dict = {"source": str(checkpoints), "incomplete": []}
    for n_cls, d in sorted({(n, d) for n, d, _ in found}):
        if n_cls not in schemes:
            continue
        if any((n_cls, d, k) not in found for k in range(cfg.cv.n_slices)):
            out["incomplete"].append(f"{n_cls} classes, {d:g} km")
            continue
        n = len(data.table.frame)
        labels, preds, fold_of = np.full(n, -1), np.full(n, -1), np.full(n, -1)
        names, hidden, on_train = [], [], []
        for fold, _, test, _, X_tr, X_te, y_tr, y_te in folds(data.table, schemes[n_cls], d, cfg, "all",
                                                             data.transforms_cache):
            ckpt = found[(n_cls, d, fold)]
            model = load_model(ckpt.path, dropout=cfg.model.dropout)
            if model.input_shape[-1] != X_te.shape[1]:
                raise ValueError(f"{ckpt.path}: the checkpoint takes {model.input_shape[-1]} features, the table has "
                                 f"{X_te.shape[1]}")
            labels[test], preds[test], fold_of[test] = y_te, np.argmax(model(X_te, training=False).numpy(), 1), fold
            on_train.append(f1_summary(y_tr, np.argmax(model(X_tr, training=False).numpy(), 1), n_cls))
            names.append(ckpt.path.name)
            hidden.append([int(model.get_layer(name).units) for name in ("fc1", "fc2")])
        entry = {"pooled": f1_summary(labels, preds, n_cls),
                 "per_fold": per_fold_f1(labels[None], preds[None], fold_of, n_cls),
                 "checkpoints": names, "hidden_units_per_fold": hidden, "train_rows_per_fold": on_train}
        out.setdefault(str(n_cls), {})[f"{d:g}"] = entry
        log(f"released checkpoints, {n_cls} classes, {d:g} km: macro F1 {entry['pooled']['macro_mean']:.3f}, "
            f"per class {np.round(entry['pooled']['per_class_mean'], 3).tolist()}; per slice "
            f"{[round(f['macro_mean'], 3) for f in entry['per_fold']]} vs on the fold's training rows "
            f"{[round(f['macro_mean'], 3) for f in on_train]}")
    return out
