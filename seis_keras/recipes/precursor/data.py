"""Section 1 of the precursor study: the 10 h records before each event, and their windows (§2, §4).

Three sources: the built-in records of :func:`seis_keras.data.synthetic.precursor_data`
(written to a store, reused from ``data.cache_dir`` when one with the same settings exists),
a store (``--data STORE``, e.g. from ``seis-keras data fetch data_manifests/ong_majo.toml``),
or obspy-readable files cut by ``data.events_csv``
(:func:`seis_keras.data.records.records_from_files`).
"""
from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from seis_keras.data.records import records_from_files
from seis_keras.data.store import WaveformStore
from seis_keras.data.synthetic import PrecursorSettings, precursor_data
from seis_keras.recipes.precursor.config import PrecursorConfig, windowing
from seis_keras.recipes.precursor.study import CLASS_NAMES, PrecursorStudy, json_safe, model_contract, windows_of
from seis_keras.recipes.runner import RunFolder

#: Columns a store of records must have.
RECORD_COLUMNS = ("record_kind", "trace_start_time", "source_origin_time", "split", "source_id")


def built_in_store(cfg: PrecursorConfig, folder: RunFolder) -> Path:
    """Write the built-in records (``precursor_data``) to a store; reuse a matching cached one.

    The store's name holds the number of events, the hours, the seed and a hash of the
    generator settings, so a cached store is reused only for the same records.
    """
    d, sy, w = cfg.data, cfg.synthetic, cfg.windows
    hours = float(w.n_macro_windows) * w.macro_window_s / 3600.0
    settings = PrecursorSettings(hours=hours, sampling_rate=d.sampling_rate, onset_hours=min(sy.onset_hours, hours),
                                 tremor_snr=sy.tremor_snr, tremor_band=tuple(sy.tremor_band),
                                 noise_records_per_event=d.noise_records_per_event)
    digest = hashlib.sha1(repr(settings).encode()).hexdigest()[:10]
    tag = f"precursor_n{d.n_events}_h{hours:g}_s{cfg.seed}_{digest}"
    root = Path(d.cache_dir) if d.cache_dir else folder.path / "data"
    path = root / tag
    if not (path / "metadata.csv").is_file():
        precursor_data(d.n_events, seed=cfg.seed, settings=settings, path=path)
    return path


def extra_origins(path: str) -> tuple:
    """Origin times (column ``origin_time``) of a wider catalogue, for the 48 h rule of mode B."""
    if not path:
        return ()
    origins = pd.read_csv(path, dtype=str)
    if "origin_time" not in origins.columns:
        raise ValueError(f"{path}: column 'origin_time' missing (data.extra_origins_csv: more origin times for "
                         "the 48 h rule)")
    return tuple(origins["origin_time"].dropna())


def load_data(cfg: PrecursorConfig, data: str | None, folder: RunFolder) -> PrecursorStudy:
    """Open (or build) the store of records; check its columns, rate and components; summarise it.

    Args:
        cfg: the config.
        data: ``None`` (built-in records), a store folder, or obspy files (a folder or glob).
        folder: the run folder (the built-in store and cut records are written under ``data/``).

    Returns:
        The :class:`PrecursorStudy`; its ``metrics`` are :func:`data_summary`'s.
    """
    d, sy = cfg.data, cfg.synthetic
    built_in = data is None
    if built_in:
        path = built_in_store(cfg, folder)
        source = (f"built-in records (seis_keras.data.synthetic.precursor_data: {d.n_events} events, "
                  f"tremor {list(sy.tremor_band)} Hz over the last {sy.onset_hours} h)")
    elif (Path(data) / "metadata.csv").is_file():
        path, source = Path(data), f"store {data}"
    else:
        if not d.events_csv:
            raise ValueError(f"--data {data}: waveform files need data.events_csv (origin_time, split)")
        path = records_from_files(data, d.events_csv, folder.path / "data" / "records", sampling_rate=d.sampling_rate,
                                  component_order=d.component_order,
                                  seconds_before=cfg.windows.n_macro_windows * cfg.windows.macro_window_s)
        source = f"obspy records {data} cut by {d.events_csv}"
    store = WaveformStore(path)
    meta = store.metadata
    for col in RECORD_COLUMNS:
        if col not in meta.columns:
            raise ValueError(f"{path / 'metadata.csv'}: column {col!r} missing (expected {', '.join(RECORD_COLUMNS)})")
    if store.component_order != d.component_order and sorted(store.component_order) != sorted(d.component_order):
        raise ValueError(f"{path}: component_order {store.component_order!r} (expected {d.component_order!r})")
    fs = float(store.sampling_rate)
    if abs(fs - d.sampling_rate) > 1e-9 * d.sampling_rate:
        raise ValueError(f"{path}: sampling rate {fs:g} Hz, but data.sampling_rate = {d.sampling_rate:g} Hz (the "
                         f"model's input contract; set --set data.sampling_rate={fs:g})")
    w = windowing(cfg, fs)
    study = PrecursorStudy(cfg, store, np.array([store.trace_shape(i)[0] for i in range(len(store))]), fs, w,
                           model_contract(cfg, fs, w), source, built_in, extra_origins(d.extra_origins_csv))
    return dataclasses.replace(study, metrics=data_summary(study))


def data_summary(study: PrecursorStudy) -> dict:
    """Records, events per split and sub-window counts per mode and split (from the metadata)."""
    meta = study.store.metadata
    kind = meta["record_kind"].astype(str)
    w = study.windowing
    out = {"source": study.source, "built_in": study.built_in, "n_records": int(len(meta)),
           "sampling_rate": study.fs, "events": {s: int(((kind == "event") & (meta["split"] == s)).sum())
                                                 for s in ("train", "test")},
           "noise_records": int(kind.isin(["noise", "noise_b"]).sum()),
           "windowing": {"n_macro_windows": w.n_macro_windows, "macro_window_samples": w.macro_window_samples,
                         "sub_window_samples": w.sub_window_samples, "sub_windows": w.sub_windows,
                         "stride": w.stride, "overlap": w.sub_window_samples - w.stride},
           "input_contract": study.contract.to_json(), "windows": {}}
    for mode in study.cfg.windows.modes:
        for split in ("train", "test"):
            t = windows_of(study, mode, split)
            out["windows"][f"{mode}_{split}"] = {c: int((t["label"] == i).sum() * w.sub_windows)
                                                 for i, c in enumerate(CLASS_NAMES)}
    return json_safe(out)
