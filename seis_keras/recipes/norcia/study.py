"""What the sections of the Laurenti et al. 2024 recipe share: the data, the labelled splits,
the model's input contract, training one model, and the paper's numbers."""
from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from tensorflow import keras

from seis_keras.data import norcia as nd
from seis_keras.data.norcia_experiments import LabelledSplit, file_labels, label_check, labelled_split
from seis_keras.data.pipeline import make_dataset
from seis_keras.data.store import WaveformStore
from seis_keras.data.transforms import Bandpass
from seis_keras.models import InputContract, contract_of, get_model
from seis_keras.recipes.norcia.config import NorciaConfig
from seis_keras.recipes.runner import PaperValue
from seis_keras.train.evaluate import classification_metrics
from seis_keras.train.fit import TrainSettings, fit

NAME = "norcia"

#: Table 1 (test accuracy %, mean ± std over 3 runs): 2 classes, 2 PRE, 2 POST, 4, 8, 9 classes.
_TABLE1 = {
    "FDMO": ("98.84 ± 0.22", "99.19 ± 0.19", "98.49 ± 0.52", "68.81 ± 1.86", "45.81 ± 3.29", "47.05 ± 0.83"),
    "MC2": ("99.16 ± 0.43", "98.93 ± 0.25", "99.40 ± 0.72", "63.90 ± 2.96", "55.03 ± 5.96", "53.04 ± 2.73"),
    "MMO1": ("84.61 ± 0.69", "79.45 ± 2.47", "89.80 ± 2.68", "54.92 ± 2.46", "39.04 ± 2.99", "39.33 ± 1.55"),
    "NRCA": ("99.19 ± 0.12", "99.16 ± 0.19", "99.22 ± 0.07", "68.21 ± 4.85", "44.69 ± 1.76", "57.94 ± 4.42"),
    "T1212": ("77.52 ± 3.37", "62.37 ± 7.36", "92.71 ± 1.61", "69.67 ± 7.22", "46.41 ± 3.99", "41.02 ± 6.98"),
    "T1213": ("99.69 ± 0.13", "99.84 ± 0.13", "99.53 ± 0.38", "80.57 ± 0.60", "67.68 ± 4.31", "64.57 ± 1.64"),
    "T1214": ("84.47 ± 7.03", "77.62 ± 17.23", "91.31 ± 4.43", "61.48 ± 5.81", "36.76 ± 2.35", "40.96 ± 7.64"),
    "T1216": ("92.65 ± 0.83", "96.45 ± 0.90", "88.85 ± 1.51", "59.53 ± 3.40", "40.93 ± 2.70", "31.83 ± 1.97"),
    "T1244": ("96.83 ± 0.55", "98.85 ± 0.42", "94.81 ± 0.95", "71.25 ± 1.11", "49.92 ± 1.61", "46.66 ± 1.43"),
}
#: Table 1's columns, as the keys of PAPER name them.
TABLE1_COLUMNS = ("2", "2_pre", "2_post", "4", "8", "9")
#: Table 2 (station NRCA): date -> (performance %, NM/NC, FP %); the true date has neither NM/NC nor FP.
_TABLE2 = {"2016-10-11": (95.88, "149/42", 71.8), "2016-10-16": (95.63, "107/38", 64.5),
           "2016-10-21": (95.55, "43/38", 11.6), "2016-10-30": (98.84, None, None),
           "2016-11-04": (95.00, "64/36", 43.7), "2016-11-09": (93.42, "121/45", 62.8),
           "2016-11-14": (90.07, "171/41", 76.0), "2016-11-19": (79.58, "261/61", 76.6)}

#: The paper's numbers: ``table1.<station>.<column>``, ``table2.<date>.<accuracy|nm_nc|fp>``, Figs. 5 and 6.
PAPER = {
    **{f"table1.{station}.{col}": PaperValue(v, "Table 1", "test accuracy %, mean ± std over 3 runs")
       for station, row in _TABLE1.items() for col, v in zip(TABLE1_COLUMNS, row)},
    **{f"table2.{date}.{key}": PaperValue(v, "Table 2", "station NRCA")
       for date, row in _TABLE2.items() for key, v in zip(("accuracy", "nm_nc", "fp"), row) if v is not None},
    "fig5.raw_accuracy": PaperValue(98.8, "Fig. 5", "NRCA, unfiltered traces; band-passed models similar above "
                                    "10 Hz, a significant drop below 10 Hz"),
    "fig6.n_pairs": PaperValue(918, "Fig. 6", "co-located pre/post pairs in the whole catalogue"),
    "fig6.n_pairs_nrca": PaperValue(253, "Fig. 6", "pairs at NRCA: aftershocks richer in 30–40 Hz for all"),
}


@dataclasses.dataclass
class NorciaData:
    """The Norcia traces and the stations modelled.

    Attributes:
        store: the waveform store.
        source: what the data are.
        skipped: Zenodo traces left out on reading.
        stations: station codes modelled one at a time (``["all"]``: a store without stations).
        experiment_station: the station of Table 2, Figs. 5 and 6 and the explanations
            (NRCA if modelled, else the first).
        labels: ``classes.labels``: pre/post from the ``"file"`` (``period``) or the ``"time"`` rule.
        label_check: :func:`~seis_keras.data.norcia_experiments.label_check` of the file labels
            against the time rule (None: the data carry no ``period`` column).
    """

    store: WaveformStore
    source: str
    skipped: list
    stations: list[str]
    experiment_station: str
    labels: str = "file"
    label_check: dict | None = None

    def true_labels(self, mainshock_time, time_column: str) -> np.ndarray:
        """The true pre/post label of every trace, from the configured source."""
        meta = self.store.metadata
        if self.labels == "file":
            return file_labels(meta)
        return nd.pre_post_labels(meta, mainshock_time, time_column=time_column)

    def station_mask(self, station: str) -> np.ndarray:
        """The traces of one station (``"all"``: every trace)."""
        return nd.select_stations(self.store.metadata, None if station == "all" else [station])

    @property
    def window_samples(self) -> int:
        """Samples per trace (2500 for the Norcia traces: 25 s at 100 Hz)."""
        return int(self.store.trace_shape(0)[0])

    @property
    def metrics(self) -> dict:
        return {"source": self.source, "n_traces": len(self.store), "stations": self.stations,
                "n_skipped": len(self.skipped), "skipped_examples": [list(s) for s in self.skipped[:20]],
                "experiment_station": self.experiment_station, "labels": self.labels,
                "label_check": self.label_check}


def load_data(data, cfg: NorciaConfig, workdir, seed: int) -> NorciaData:
    """§ Data: the Norcia store (built-in, the authors' Zenodo layout, or a store) and the stations modelled.

    Args:
        data: ``--data``: None (built-in), the Zenodo folder or a store.
        cfg: the recipe config (``[data]``).
        workdir: where built-in or converted stores are written.
        seed: the built-in generator's seed.

    Returns:
        :class:`NorciaData`.

    Raises:
        ValueError: a station not in the data, a store whose rate is not ``data.sampling_rate``, or
            ``classes.labels = "file"`` without a ``period`` column.
    """
    d = cfg.data
    stations = d.station_list
    generate = stations if d.builtin_stations == "selected" else None
    store, desc, skipped = nd.open_norcia(data, workdir, stations=generate, component_order=d.component_order,
                                          n_events=d.builtin_events, seed=seed)
    if abs(store.sampling_rate - d.sampling_rate) > 1e-9:
        raise ValueError(f"{store.path}: sampling rate {store.sampling_rate:g} Hz, but data.sampling_rate = "
                         f"{d.sampling_rate:g} (the CNN is built for the store's traces: set data.sampling_rate "
                         "to the store's rate; the recipe does not resample)")
    meta = store.metadata
    nd.select_stations(meta, stations)  # clear error for a station not in the data
    present = sorted(set(meta.station_code.astype(str))) if "station_code" in meta.columns else ["all"]
    stations = stations or present
    check = None
    if cfg.classes.labels == "file" or "period" in meta.columns:  # "file" without the column: error here
        check = label_check(meta, d.mainshock_time, time_column=d.time_column)
    return NorciaData(store, desc, skipped, stations, "NRCA" if "NRCA" in stations else stations[0],
                      cfg.classes.labels, check)


def make_split(meta, mask: np.ndarray, n_classes: int, cfg: NorciaConfig, seed: int, *, mainshock_time=None,
               exclude_visso: bool | None = None, kind: str | None = None) -> LabelledSplit:
    """The configured labelled split (:func:`seis_keras.data.norcia_experiments.labelled_split`).

    Args:
        meta: the store's metadata.
        mask: the traces taking part (one station).
        n_classes: 2, 4, 8 or 9.
        cfg: the recipe config.
        seed: balancing (and random split) seed.
        mainshock_time: the pre/post boundary (a wrong date for Table 2); default ``data.mainshock_time``.
        exclude_visso: override of ``classes.exclude_visso_even`` (even class counts; odd ones keep Visso).
        kind: override of ``split.kind`` (``"temporal"`` / ``"random"``; Table 2: ``wrong_dates.test_events``).

    Returns:
        The :class:`~seis_keras.data.norcia_experiments.LabelledSplit` over every trace of the store.
    """
    d, c, s = cfg.data, cfg.classes, cfg.split
    if exclude_visso is None and n_classes % 2 == 0:
        exclude_visso = c.exclude_visso_even
    wrong_date = mainshock_time is not None and mainshock_time != d.mainshock_time  # a fake date: the time rule
    return labelled_split(meta, mask, n_classes, mainshock_time=mainshock_time or d.mainshock_time,
                          visso_interval=(d.visso_start, d.mainshock_time), exclude_visso=exclude_visso,
                          balance=c.balance, split=kind or s.kind, train_head=s.train_head, validation=s.validation,
                          test=s.test, random_fractions=s.random_fractions, time_column=d.time_column, seed=seed,
                          labels="time" if wrong_date else c.labels)


def input_contract(data: NorciaData, cfg: NorciaConfig, n_classes: int, band=None) -> InputContract:
    """The model's input contract: ``contract_of("norcia")`` at the data's rate and length, the band-pass in front.

    Args:
        data: the traces (their length and component order).
        cfg: the recipe config (``data.sampling_rate``, ``bandpass.order``).
        n_classes: output classes (the contract's class names).
        band: ``(low, high)`` Hz: a zero-phase Butterworth band-pass before the L2 normalisation (Fig. 5).

    Returns:
        The :class:`~seis_keras.models.InputContract` (transforms ``[Bandpass(...),] L2Normalize``).
    """
    fs = cfg.data.sampling_rate
    base = contract_of("norcia").replace(sampling_rate=fs, window_samples=data.window_samples,
                                         component_order=data.store.component_order,
                                         class_names=tuple(nd.class_names(n_classes)))
    front = [Bandpass(float(band[0]), float(band[1]), fs, order=cfg.bandpass.order)] if band else []
    return base.with_transforms(front + base.transform_list())


def build_model(cfg: NorciaConfig, contract: InputContract, n_classes: int) -> keras.Model:
    """The 7-block CNN (``seis_keras.models.norcia``) for the contract's input shape.

    Args:
        cfg: the recipe config (``[model]``).
        contract: the input contract (window length, components).
        n_classes: output logits.

    Returns:
        An uncompiled logits model ``(batch, window_samples, 3) -> (batch, n_classes)``.
    """
    m = cfg.model
    return get_model("norcia", contract=contract, n_classes=n_classes, blocks=[tuple(b) for b in m.blocks],
                     dilation=list(m.dilation) or None, dropout=m.dropout, init=m.init)


@dataclasses.dataclass
class Trained:
    """One trained model, its inputs and its test scores.

    Attributes:
        model: the trained logits model.
        contract: its input contract (the transforms its pipeline used).
        split: the labelled split it was trained on.
        scores: ``seis_keras.train.evaluate.classification_metrics`` of the test traces (+ ``best_epoch``).
        test: the test rows of the store.
        pred: predicted class per test row.
    """

    model: keras.Model
    contract: InputContract
    split: LabelledSplit
    scores: dict
    test: np.ndarray
    pred: np.ndarray

    @property
    def metrics(self) -> dict:
        return self.scores


def predict(model, store, rows: np.ndarray, transforms) -> np.ndarray:
    """Logits of ``rows``."""
    ds = make_dataset(store, indices=rows, label=None, transforms=transforms, batch_size=256)
    return np.asarray(model.predict(ds, verbose=0))


def train_and_test(data: NorciaData, split: LabelledSplit, cfg: NorciaConfig, seed: int, run_dir, *, band=None,
                   true_labels=None) -> Trained:
    """Train one model on ``split`` as the code (lowest validation loss kept) and score its test traces.

    Args:
        data: the traces.
        split: labels and split.
        cfg: recipe config.
        seed: model initialisation and shuffling seed.
        run_dir: ``fit``'s folder for this model.
        band: band-pass ``(lo, hi)`` Hz before the L2 normalisation, or None.
        true_labels: score against these labels (per trace) instead of the training labels
            (wrong-date models are scored on the true pre/post labels).

    Returns:
        :class:`Trained` (model, contract, split, test scores, test rows, predictions).
    """
    contract = input_contract(data, cfg, split.n_classes, band)
    transforms = contract.transform_list()
    labels, store, batch = split.labels, data.store, cfg.train.batch_size
    train_ds = make_dataset(store, indices=split.rows("train"), label=lambda _m: labels, transforms=transforms,
                            batch_size=batch, shuffle=True, seed=seed, drop_remainder=True)
    val_ds = make_dataset(store, indices=split.rows("dev"), label=lambda _m: labels, transforms=transforms,
                          batch_size=batch)
    settings = TrainSettings.from_config(cfg.train, seed=seed)
    result = fit(lambda: build_model(cfg, contract, split.n_classes), train_ds, val_ds, settings, run_dir)
    test = split.rows("test")
    pred = predict(result.model, store, test, transforms).argmax(axis=1)
    scored = true_labels is not None
    truth = np.asarray(true_labels)[test] if scored else labels[test]
    scores = classification_metrics(truth, pred, n_classes=2 if scored else split.n_classes,
                                    class_names=nd.class_names(2) if scored else split.class_names)
    # the authors' "performance ratio": mean per-class recall (= accuracy on balanced classes)
    scores["performance_ratio"] = float(balanced_accuracy_score(truth, pred))
    scores["best_epoch"] = result.best_epoch
    return Trained(result.model, contract, split, scores, test, pred)
