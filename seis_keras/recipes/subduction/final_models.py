"""§ The models a user keeps: one per class count, trained on all rows, exported with their transforms."""
from __future__ import annotations

import numpy as np

from seis_keras.data.subduction import FEATURE_COLUMNS, validation_rows
from seis_keras.recipes.subduction.config import SubductionConfig
from seis_keras.train.export import export_model


def final_models(cfg: SubductionConfig, data, schemes: dict, trainers, folder) -> dict:
    """Train one model per class count on all rows (``cv.validation_fraction`` held out) and save it.

    The transforms are those fitted on all rows; the layer sizes the config's (``model.h1``/``h2``).
    ``trainers`` is the cross-validation's :class:`~seis_keras.recipes.subduction.cross_validation.Trainers`. Writes, through
    :func:`seis_keras.train.export.export_model`, ``model_<k>class.h5`` (Keras HDF5: for training
    and the innvestigate worker), ``model_<k>class.keras`` and the serving SavedModel
    ``model_<k>class_serving/`` (probabilities = softmax of the logits; the code's sigmoid per
    class picks the same class), and ``transforms_<k>class.json`` (Yeo–Johnson λ, standardisation
    mean/scale, target quantiles, class cuts) so the model can classify new segments.

    Returns:
        ``{n_classes: {"model", "keras", "serving", "transforms": file names, "best_epoch": int}}``.
    """
    tr, table = data.all_rows_transforms, data.table
    out = {}
    for n_cls, scheme in schemes.items():
        X, y = tr.transform(table.features), scheme.labels(table.target, tr)
        fit_i, val_i = validation_rows(np.arange(len(y)), cfg.cv.validation_fraction, seed=cfg.seed)
        model, info = trainers.get(n_cls).fit(X[fit_i], y[fit_i], X[val_i], y[val_i], seed=cfg.seed)
        paths = export_model(model, folder.path, name=f"model_{n_cls}class", outputs="logits")
        power = tr.power_
        params = {"features": list(FEATURE_COLUMNS), "yeo_johnson_lambdas": power.lambdas_,
                  "standardize_mean": power._scaler.mean_ if power.standardize else None,
                  "standardize_scale": power._scaler.scale_ if power.standardize else None,
                  "target_quantiles": tr.quantile_.quantiles_.ravel(), "target_references": tr.quantile_.references_,
                  "class_cuts": list(scheme.cuts), "class_cut_space": scheme.space,
                  "class_names": scheme.class_names(tr), "output": "logits"}
        transforms_path = folder.write_json(f"transforms_{n_cls}class.json", params)
        out[str(n_cls)] = {"model": paths["h5"].name, "keras": paths["keras"].name,
                           "serving": paths["savedmodel"].name, "transforms": transforms_path.name,
                           "best_epoch": info["best_epoch"]}
    return out
