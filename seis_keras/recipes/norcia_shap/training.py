"""§ Training as the code (Adam 1e-3, batch 32, 10 epochs, last weights kept) and the test metrics, per split."""
from __future__ import annotations

import dataclasses

import numpy as np
from tensorflow import keras

from seis_keras.data.pipeline import make_dataset
from seis_keras.models import InputContract, get_model
from seis_keras.plots.norcia import confusion_matrices
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.study import CLASS_NAMES, SPLIT_LABELS, NorciaData, predict
from seis_keras.train.evaluate import classification_metrics
from seis_keras.train.fit import TrainSettings, fit


@dataclasses.dataclass
class Trained:
    """The trained CNN, its transforms, and its test metrics."""

    model: keras.Model
    transforms: list
    metrics: dict


def train_and_test(data: NorciaData, contract: InputContract, cfg: NorciaShapConfig, seed: int, run_dir,
                   folder) -> Trained:
    """CNN2D trained on the training part of ``data.split`` (validation: dev), scored on its test part.

    Returns:
        :class:`Trained`; its metrics are the test scores with ``split`` (the split's counts
        and how many events have traces in several parts) and ``label``.
    """
    t, m = cfg.train, cfg.model
    transforms = contract.transform_list()
    labels = data.labels
    train_ds = make_dataset(data.store, indices=data.rows("train"), label=lambda _m: labels, transforms=transforms,
                            batch_size=t.batch_size, shuffle=True, seed=seed)
    val_ds = make_dataset(data.store, indices=data.rows("dev"), label=lambda _m: labels, transforms=transforms,
                          batch_size=t.batch_size)
    settings = TrainSettings.from_config(t, weight_decay_mode="coupled", seed=seed)
    result = fit(lambda: get_model("spectrogram", contract=contract, n_classes=2, filters=tuple(m.filters),
                                   hidden_units=m.hidden_units, init=m.init), train_ds, val_ds, settings, run_dir)
    test = data.rows("test")
    pred = predict(result.model, data.store, test, transforms).argmax(axis=1)
    meta = data.store.metadata
    scores = classification_metrics(labels[test], pred, n_classes=2, class_names=list(CLASS_NAMES),
                                    groups=meta.station_code.astype(str).to_numpy()[test]
                                    if "station_code" in meta else None)
    folder.save_figure(confusion_matrices({"test set": (scores["confusion_matrix"], scores["class_names"])},
                                          title=f"log-spectrogram CNN, {SPLIT_LABELS[data.grouping]}"),
                       f"confusion_{data.grouping}")
    scores["split"] = data.metrics
    scores["label"] = SPLIT_LABELS[data.grouping]
    folder.log(f"test ({data.grouping} split): accuracy {scores['accuracy']:.4f}, precision {scores['precision']:.4f}, recall "
               f"{scores['recall']:.4f}, F1 {scores['f1']:.4f}")
    return Trained(result.model, transforms, scores)
