"""Section 1, data (§2.1): 25 s windows at 20 Hz, E/N/Z, earthquakes and noise, split 80/10/10.

Where the windows come from (``--data``):

* default: the built-in windows of :func:`seis_keras.data.synthetic.detector_data` (P/S
  physics planted, picks known), written once to a store in the run folder's ``data/``
  (or ``data.cache_dir``);
* ``--data STORE``: a store in our/SeisBench layout with a ``label`` column, or labels from
  ``trace_category`` / ``source_event_category`` (:func:`seis_keras.data.detector.earthquake_labels`);
* ``--data DIR`` of obspy-readable files plus ``--picks CSV`` (or ``data.picks``): ingested
  on the fly (:func:`seis_keras.data.detector.ingest_records`).

A store at another rate or with longer traces (SeisBench, STEAD: 100 Hz, 60 s) is resampled
and cropped to the contract's windows (:func:`seis_keras.data.detector.conform_store`). The
``split`` column (train/dev/test) is used when present, else a seeded split by ``data.split``.
Every split must hold both classes. The evaluation split is read once, through the
contract's transforms.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from seis_keras.data.detector import (built_in_store, conform_store, data_splits, earthquake_labels, ingest_records,
                                      load_windows, needs_conforming, require_both_classes)
from seis_keras.data.store import WaveformStore
from seis_keras.models.contract import InputContract
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.study import DetectorData, EvaluationSplit, stored_path
from seis_keras.recipes.runner import RunFolder


def open_store(cfg: DetectorConfig, folder: RunFolder, data: str | None, picks: str | None) -> tuple[Path, str]:
    """The store to read: built-in, given, or ingested from waveform files; and what it is."""
    d = cfg.data
    if data is None:
        parent = Path(d.cache_dir) if d.cache_dir else folder.path / "data"
        path = built_in_store(parent, n=d.synthetic_n, seed=cfg.seed, earthquake_fraction=d.earthquake_fraction,
                              sampling_rate=d.sampling_rate, window_s=d.window_s, split_fractions=d.split,
                              block_size=d.block_size)
        return path, (f"built-in synthetic windows (seis_keras.data.synthetic.detector_data, n={d.synthetic_n}, "
                      f"seed={cfg.seed})")
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"{path}: --data not found (expected a store folder or a folder of waveform files)")
    if not (path / "metadata.csv").is_file():
        path = ingest_records(path, picks or d.picks, folder.path / "data" / "ingested",
                              sampling_rate=d.sampling_rate, component_order=d.component_order, window_s=d.window_s,
                              pick_offset_s=d.pick_offset_s, noise_pick_margin_s=d.noise_pick_margin_s)
    return path, str(data)


def load_data(cfg: DetectorConfig, contract: InputContract, folder: RunFolder, data: str | None = None,
              picks: str | None = None) -> DetectorData:
    """The store of windows, its labels, its splits and the evaluation windows.

    Args:
        cfg: the config (``[data]``, ``seed``).
        contract: the model's input contract (rate, window, components, transforms).
        folder: the run folder (built-in, ingested and conformed stores go to its ``data/``).
        data: ``--data`` (``None``: the built-in windows).
        picks: ``--picks`` for a folder of waveform files.
    """
    path, source = open_store(cfg, folder, data, picks)
    store = WaveformStore(path)
    where = str(path / "metadata.csv")
    labels = earthquake_labels(store.metadata, where)  # fail early, before any conversion
    splits = data_splits(store.metadata, cfg.data.split, cfg.seed, where)
    require_both_classes(labels, splits, where)
    if needs_conforming(store, contract.sampling_rate, contract.window_samples):
        folder.log(f"{path}: {store.sampling_rate:g} Hz, {store.trace_shape(0)[0]} samples -> resampling to "
                   f"{contract.sampling_rate:g} Hz and cropping {contract.window_s:g} s windows")
        store = WaveformStore(conform_store(store, folder.path / "data" / "conformed",
                                            sampling_rate=contract.sampling_rate, window_s=contract.window_s,
                                            pick_offset_s=cfg.data.pick_offset_s,
                                            component_order=contract.component_order,
                                            block_size=cfg.data.block_size))
    rows = splits["test"]
    test = EvaluationSplit(rows=rows, x=load_windows(store, rows, components=contract.component_order,
                                                     transform=contract.transform()),
                           y=labels[rows], meta=store.metadata.iloc[rows].reset_index(drop=True))
    metrics = {"source": source, "built_in": data is None, "n_windows": int(len(labels)),
               "earthquake_fraction": float(labels.mean()),
               "split_sizes": {k: int(len(v)) for k, v in splits.items()}, "store": stored_path(folder, store.path),
               "transforms": list(contract.transforms), "demean_setting": cfg.data.demean,
               "augment": cfg.augment.settings() if cfg.augment.active_for(data is None) else None}
    folder.log(f"data: {source}: {len(labels)} windows ({100 * labels.mean():.1f} % earthquakes), "
               f"split {[len(v) for v in splits.values()]}")
    return DetectorData(store, labels, splits, source, data is None, contract, test, metrics)


def training_windows(data: DetectorData, rows) -> np.ndarray:
    """Some rows of the store as model-input windows (the contract's components and transforms)."""
    return load_windows(data.store, rows, components=data.contract.component_order,
                        transform=data.contract.transform())
