"""Bringing another store to the detector's windows: 20 Hz, 25 s, the model's component order.

SeisBench / STEAD stores hold longer traces at higher rates (STEAD: 60 s at 100 Hz). The
detector recipe conforms such a store once, into a new store in the run folder:

1. **Resampling** of every trace to ``data.sampling_rate`` with FFT resampling
   (``scipy.signal.resample`` along time on a whole read block, Hann taper in the frequency
   domain: what obspy's ``Trace.resample`` does in :mod:`seis_keras.data.ingest`; the spectrum
   is cut at the new Nyquist frequency).
2. **Cropping** to ``data.window_s``: a window starting ``data.pick_offset_s`` before the P
   arrival when the row has one (the earthquake then sits where the built-in and ingested
   windows put it), else the first ``window_s`` of the trace (noise). The start is clamped so
   the window stays inside the trace; traces shorter than the window are an error.
3. Pick columns (``trace_p_arrival_sample``, ``trace_s_arrival_sample``) are rescaled and
   shifted to the new window; ``trace_sampling_rate_hz`` is updated; every other column is kept.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

PICK_COLUMNS = ("trace_p_arrival_sample", "trace_s_arrival_sample")


def conform_store(store, out: Path, cfg: dict, *, chunk: int = 1024) -> Path:
    """Write ``store`` resampled and cropped to the detector's windows into ``out``.

    Args:
        store: a :class:`~seis_keras.data.store.WaveformStore`.
        out: the new store folder (written atomically by ``StoreWriter``).
        cfg: the recipe config (``data.sampling_rate``, ``window_s``, ``pick_offset_s``,
            ``component_order``, ``block_size``).
        chunk: traces read and converted at a time.

    Returns:
        ``out``.
    """
    from scipy import signal

    from seis_keras.data.store import StoreWriter

    d = cfg["data"]
    fs_new, fs_old = float(d["sampling_rate"]), float(store.sampling_rate)
    n_win = int(round(d["window_s"] * fs_new))
    meta = store.metadata
    picks = {c: (pd.to_numeric(meta[c], errors="coerce").to_numpy() if c in meta.columns else np.full(len(meta), np.nan))
             for c in PICK_COLUMNS}
    with StoreWriter(out, sampling_rate=fs_new, component_order=d["component_order"],
                     block_size=int(d["block_size"])) as writer:
        for lo in range(0, len(meta), chunk):
            rows = np.arange(lo, min(lo + chunk, len(meta)))
            lengths = {store.trace_shape(int(r))[0] for r in rows}
            parts = [rows] if len(lengths) == 1 else [rows[[store.trace_shape(int(r))[0] == n for r in rows]]
                                                      for n in sorted(lengths)]
            for part in parts:
                x = store.get_waveforms(part, components=d["component_order"]).astype(np.float64)
                t_new = int(round(x.shape[1] * fs_new / fs_old))
                if t_new < n_win:
                    raise ValueError(f"{store.path}: traces of {x.shape[1] / fs_old:g} s are shorter than the "
                                     f"{d['window_s']:g} s window (rows {part[0]}..{part[-1]})")
                if t_new != x.shape[1]:
                    x = signal.resample(x, t_new, axis=1, window="hann")
                p_new = picks["trace_p_arrival_sample"][part] * fs_new / fs_old
                start = np.where(np.isfinite(p_new), np.round(p_new - d["pick_offset_s"] * fs_new), 0)
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
    return out
