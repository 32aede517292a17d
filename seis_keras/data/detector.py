"""Earthquake / noise windows as the Majstorović et al. (2023) detector uses them.

The detector (SPEC §1) classifies 25 s three-component windows at 20 Hz into earthquake (1)
and noise (0). This module turns a store, or a folder of waveform files with picks, into
those windows, their labels and their splits:

* :func:`earthquake_labels` — 1 earthquake / 0 noise from a ``label`` column, else from
  ``trace_category`` / ``source_event_category`` (SeisBench, STEAD: values containing
  "earthquake", or ``eq``/``ke``/``le``/``re``, are earthquakes, values containing "noise" are
  noise, anything else is an error).
* :func:`data_splits` — train/dev/test rows from the ``split`` column (``val``,
  ``validation``, ``valid`` read as ``dev``), else a seeded random split by fractions
  (paper §2.3: 80/10/10); :func:`require_both_classes` refuses a split without both classes.
* :func:`built_in_store` — the built-in windows of
  :func:`seis_keras.data.synthetic.detector_data` written once to a cached store.
* :func:`ingest_records` — waveform files + a picks CSV -> a store: windows starting
  ``pick_offset_s`` before each P pick are earthquakes; back-to-back windows that start at
  least ``noise_pick_margin_s`` after any pick and hold none are noise.
* :func:`conform_store` — a store at another rate or with longer traces (STEAD: 60 s at
  100 Hz) resampled and cropped to the detector's windows (see its docstring);
  :func:`needs_conforming` says whether a store needs it.
* :func:`load_windows` — rows of a store as a model-input batch: read in a component order
  and passed through the model's window transforms.
* :func:`distance_classes` — epicentral-distance class of each earthquake window (``noise``
  for noise), for per-distance accuracy.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from obspy import UTCDateTime
from scipy import signal

from seis_keras.data.ingest import read_picks, read_stream, stream_to_windows
from seis_keras.data.store import StoreWriter, WaveformStore, write_store
from seis_keras.data.synthetic import detector_data

SPLITS = ("train", "dev", "test")
#: ``split`` values read as SeisBench's ``dev``.
DEV_ALIASES = {"val": "dev", "validation": "dev", "valid": "dev"}
#: Short event-type codes read as earthquakes (STEAD/ISC: earthquake, known/local/regional event).
EARTHQUAKE_CODES = ("eq", "ke", "le", "re")
#: Pick columns :func:`conform_store` moves with the window.
PICK_COLUMNS = ("trace_p_arrival_sample", "trace_s_arrival_sample")


def earthquake_labels(meta: pd.DataFrame, where: str) -> np.ndarray:
    """1 earthquake / 0 noise for every row.

    Args:
        meta: a store's metadata.
        where: named in errors (the metadata file).

    Returns:
        ``(N,)`` int64 labels, from ``label`` (0/1) if present, else ``trace_category``, else
        ``source_event_category``.

    Raises:
        ValueError: no label column, or a value that is neither earthquake nor noise.
    """
    if "label" in meta.columns:
        y = pd.to_numeric(meta["label"], errors="coerce").to_numpy()
        if np.isnan(y).any() or not np.isin(y, (0, 1)).all():
            raise ValueError(f"{where}: column 'label' must hold 0 (noise) or 1 (earthquake) in every row")
        return y.astype(np.int64)
    for col in ("trace_category", "source_event_category"):
        if col in meta.columns:
            v = meta[col].astype(str).str.lower()
            eq = v.str.contains("earthquake") | v.isin(EARTHQUAKE_CODES)
            noise = v.str.contains("noise")
            bad = sorted(set(v[~(eq | noise)]))
            if bad:
                raise ValueError(f"{where}: column {col!r} has values {bad[:5]} that are neither earthquake "
                                 "nor noise (expected e.g. 'earthquake_local' / 'noise')")
            return eq.to_numpy().astype(np.int64)
    raise ValueError(f"{where}: no column 'label', 'trace_category' or 'source_event_category' "
                     "(expected earthquake/noise labels)")


def data_splits(meta: pd.DataFrame, fractions: Sequence[float], seed: int, where: str) -> dict[str, np.ndarray]:
    """Row indices of train/dev/test.

    Args:
        meta: a store's metadata.
        fractions: train/dev/test proportions for a store without a ``split`` column.
        seed: seed of that random split (a permutation of the rows, cut at the cumulative
            fractions).
        where: named in errors.

    Returns:
        ``{"train" | "dev" | "test": sorted row indices}``.

    Raises:
        ValueError: an unknown ``split`` value, or an empty split.
    """
    if "split" in meta.columns:
        s = meta["split"].astype(str).str.lower().replace(DEV_ALIASES)
        bad = sorted(set(s) - set(SPLITS))
        if bad:
            raise ValueError(f"{where}: column 'split' has values {bad} (expected train/dev/test)")
        splits = {k: np.flatnonzero(s.to_numpy() == k) for k in SPLITS}
    else:
        n = len(meta)
        order = np.random.default_rng(seed).permutation(n)
        f = np.asarray(fractions, float) / np.sum(fractions)
        cut = np.round(np.cumsum(f)[:2] * n).astype(int)
        splits = {k: np.sort(p) for k, p in zip(SPLITS, np.split(order, cut))}
    empty = [k for k, v in splits.items() if len(v) == 0]
    if empty:
        raise ValueError(f"{where}: no windows in split(s) {empty} (expected train, dev and test windows)")
    return splits


def require_both_classes(labels: np.ndarray, splits: dict[str, np.ndarray], where: str) -> None:
    """Refuse a split that holds only earthquakes or only noise (it cannot train or score a detector).

    Raises:
        ValueError: naming ``where`` and the split.
    """
    for name, rows in splits.items():
        if len(np.unique(labels[rows])) < 2:
            kind = "earthquake" if labels[rows].all() else "noise"
            raise ValueError(f"{where}: split {name!r} holds only {kind} windows "
                             "(expected both earthquakes and noise in train, dev and test)")


def distance_classes(meta: pd.DataFrame, labels: np.ndarray, bins_km: Sequence[float]) -> np.ndarray | None:
    """Epicentral-distance class of each window: ``"0-25 km"`` ... for earthquakes, ``"noise"`` else.

    Args:
        meta: the windows' metadata (``source_distance_km``).
        labels: their labels (1 earthquake).
        bins_km: inner class edges (``(25, 50, 75)`` gives 0-25, 25-50, 50-75, 75-inf km).

    Returns:
        ``(N,)`` class names, or ``None`` when the metadata has no ``source_distance_km``.
        An earthquake without a distance counts as ``"noise"`` (no class to put it in).
    """
    if "source_distance_km" not in meta.columns:
        return None
    d = meta["source_distance_km"].to_numpy(dtype=float)
    edges = (0.0, *bins_km, np.inf)
    names = np.array([f"{edges[i]:g}-{edges[i + 1]:g} km" for i in range(len(edges) - 1)])
    k = np.clip(np.digitize(np.nan_to_num(d, nan=0.0), edges[1:-1]), 0, len(names) - 1)
    return np.where(np.isfinite(d) & (np.asarray(labels) == 1), names[k], "noise")


def built_in_store(parent: str | Path, *, n: int, seed: int, earthquake_fraction: float, sampling_rate: float,
                   window_s: float, split_fractions: Sequence[float], block_size: int) -> Path:
    """The built-in windows (:func:`~seis_keras.data.synthetic.detector_data`) as a store, generated once.

    Args:
        parent: folder of the cached store ``detector_n{n}_seed{seed}``; an existing store
            there is reused (same ``n`` and ``seed`` give the same windows).
        n, seed, earthquake_fraction, sampling_rate, window_s, split_fractions, block_size:
            passed to ``detector_data`` (the store has a ``split`` column).

    Returns:
        The store's folder.
    """
    path = Path(parent) / f"detector_n{n}_seed{seed}"
    if not (path / "waveforms.hdf5").is_file():
        detector_data(n, seed=seed, earthquake_fraction=earthquake_fraction, sampling_rate=sampling_rate,
                      window_s=window_s, split_fractions=tuple(split_fractions), path=path, block_size=block_size)
    return path


def ingest_records(directory: str | Path, picks_csv: str | Path, out: str | Path, *, sampling_rate: float,
                   component_order: str, window_s: float, pick_offset_s: float,
                   noise_pick_margin_s: float) -> Path:
    """Waveform files + picks -> a store of earthquake (around P picks) and noise windows.

    Args:
        directory: folder of obspy-readable files (searched recursively).
        picks_csv: picks (``station``, ``time``, optional ``phase``: only P picks start
            earthquake windows; every pick keeps noise windows away).
        out: the store to write.
        sampling_rate, component_order, window_s: the windows (:func:`stream_to_windows`).
        pick_offset_s: earthquake windows start this long before the P pick.
        noise_pick_margin_s: noise windows start at least this long after any pick (and hold none).

    Returns:
        ``out`` (columns ``label`` and ``trace_category`` added).

    Raises:
        ValueError: no picks CSV, or no earthquake or no noise window.
    """
    directory = Path(directory)
    if not picks_csv:
        raise ValueError(f"{directory}: a directory of waveform files needs a picks CSV (--picks or data.picks)")
    picks = read_picks(picks_csv)
    stream = read_stream(sorted(p for p in directory.rglob("*") if p.is_file()))
    kw = dict(sampling_rate=sampling_rate, component_order=component_order, window_s=window_s)
    p_picks = picks[picks.get("phase", pd.Series("P", index=picks.index)).astype(str).str.upper() == "P"]
    eq_x, eq_m = stream_to_windows(stream, picks=p_picks, pick_offset_s=pick_offset_s, **kw)
    no_x, no_m = stream_to_windows(stream, stride_s=window_s, picks=picks, **kw)
    pick_t = np.array(sorted(UTCDateTime(str(t)).timestamp for t in picks["time"]))
    start = np.array([UTCDateTime(t).timestamp for t in no_m["trace_start_time"]]) if len(no_m) else np.zeros(0)
    prev = np.searchsorted(pick_t, start + window_s, side="right") - 1  # last pick before the window's end
    clear = (prev < 0) | (start - pick_t[np.maximum(prev, 0)] >= noise_pick_margin_s)
    eq_m = eq_m.assign(label=1, trace_category="earthquake")
    no_m = no_m[clear].assign(label=0, trace_category="noise")
    if len(eq_m) == 0 or len(no_m) == 0:
        raise ValueError(f"{directory}: got {len(eq_m)} earthquake and {len(no_m)} noise windows "
                         "(expected both; check the picks' station names and times)")
    write_store(out, np.concatenate([eq_x, no_x[clear]]), pd.concat([eq_m, no_m], ignore_index=True),
                sampling_rate=sampling_rate, component_order=component_order)
    return Path(out)


def needs_conforming(store: WaveformStore, sampling_rate: float, window_samples: int) -> bool:
    """Whether a store's rate or trace length differs from the detector's windows."""
    return abs(store.sampling_rate - sampling_rate) > 1e-6 or any(
        store.trace_shape(i)[0] != window_samples for i in range(len(store)))


def conform_store(store: WaveformStore, out: str | Path, *, sampling_rate: float, window_s: float,
                  pick_offset_s: float, component_order: str, block_size: int, chunk: int = 1024) -> Path:
    """Write ``store`` resampled and cropped to the detector's windows into ``out``.

    1. **Resampling** of every trace to ``sampling_rate`` with FFT resampling
       (``scipy.signal.resample`` along time on a whole read block, Hann taper in the
       frequency domain: what obspy's ``Trace.resample`` does in :mod:`seis_keras.data.ingest`,
       vectorised over traces; the spectrum is cut at the new Nyquist frequency).
    2. **Cropping** to ``window_s``: a window starting ``pick_offset_s`` before the P arrival
       when the row has one (the earthquake then sits where the built-in and ingested windows
       put it), else the first ``window_s`` of the trace (noise). The start is clamped so the
       window stays inside the trace; traces shorter than the window are an error.
    3. Pick columns (``trace_p_arrival_sample``, ``trace_s_arrival_sample``) are rescaled and
       shifted to the new window (NaN when outside it); ``trace_sampling_rate_hz`` is updated,
       ``trace_window_start_sample_original`` records the window's start in the source trace;
       every other column is kept.

    Args:
        store: the source store.
        out: the new store folder (written atomically by ``StoreWriter``).
        sampling_rate, window_s, pick_offset_s, component_order: the detector's windows.
        block_size: traces per HDF5 block of the new store.
        chunk: traces read and converted at a time.

    Returns:
        ``out``.
    """
    fs_new, fs_old = float(sampling_rate), float(store.sampling_rate)
    n_win = int(round(window_s * fs_new))
    meta = store.metadata
    picks = {c: (pd.to_numeric(meta[c], errors="coerce").to_numpy() if c in meta.columns
                 else np.full(len(meta), np.nan)) for c in PICK_COLUMNS}
    with StoreWriter(out, sampling_rate=fs_new, component_order=component_order, block_size=block_size) as writer:
        for lo in range(0, len(meta), chunk):
            rows = np.arange(lo, min(lo + chunk, len(meta)))
            lengths = {store.trace_shape(int(r))[0] for r in rows}
            parts = [rows] if len(lengths) == 1 else [rows[[store.trace_shape(int(r))[0] == n for r in rows]]
                                                      for n in sorted(lengths)]
            for part in parts:
                x = store.get_waveforms(part, components=component_order).astype(np.float64)
                t_new = int(round(x.shape[1] * fs_new / fs_old))
                if t_new < n_win:
                    raise ValueError(f"{store.path}: traces of {x.shape[1] / fs_old:g} s are shorter than the "
                                     f"{window_s:g} s window (rows {part[0]}..{part[-1]})")
                if t_new != x.shape[1]:
                    x = signal.resample(x, t_new, axis=1, window="hann")
                p_new = picks["trace_p_arrival_sample"][part] * fs_new / fs_old
                start = np.where(np.isfinite(p_new), np.round(p_new - pick_offset_s * fs_new), 0)
                start = np.clip(start, 0, t_new - n_win).astype(int)
                idx = start[:, None] + np.arange(n_win)[None, :]
                windows = np.take_along_axis(x, idx[:, :, None], axis=1).astype(np.float32)
                rows_meta = meta.iloc[part].copy()
                for c in PICK_COLUMNS:
                    k = picks[c][part] * fs_new / fs_old - start
                    rows_meta[c] = np.where((k >= 0) & (k < n_win), k, np.nan)
                rows_meta["trace_sampling_rate_hz"] = fs_new
                rows_meta["trace_window_start_sample_original"] = np.round(start * fs_old / fs_new).astype(int)
                writer.add_many(windows, rows_meta.reset_index(drop=True))
    return Path(out)


def load_windows(store: WaveformStore, rows, *, components: str,
                 transform: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Rows of a store as a model-input batch.

    Args:
        store: the store.
        rows: row indices.
        components: channel order of the batch (the model's, e.g. ``"ENZ"``).
        transform: the per-window transforms (``InputContract.transform()``); ``None``: raw.

    Returns:
        ``(n, T, C)`` float32 windows.
    """
    x = store.get_waveforms(np.asarray(rows), components=components)
    return x if transform is None else transform(x)


__all__ = ["SPLITS", "earthquake_labels", "data_splits", "require_both_classes", "distance_classes",
           "built_in_store", "ingest_records", "needs_conforming", "conform_store", "load_windows"]
