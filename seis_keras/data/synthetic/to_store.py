"""Streaming generated chunks into a waveform store (``seis_keras.data.store``)."""
from __future__ import annotations

import os
from typing import Iterable, Iterator

import numpy as np
import pandas as pd


def write_chunks(path: str | os.PathLike, chunks: Iterable[tuple[np.ndarray, pd.DataFrame]], *,
                 sampling_rate: float, component_order: str, block_size: int) -> pd.DataFrame:
    """Write ``(waveforms (N, T, C), metadata)`` chunks into one store, never holding them all.

    Args:
        path: the store folder to create (replaced atomically on success).
        chunks: iterable of channels-last float arrays and their metadata rows.
        sampling_rate: Hz, written into the store's ``data_format``.
        component_order: e.g. ``"ENZ"``.
        block_size: traces per HDF5 dataset.

    Returns:
        The concatenated metadata of everything written (as generated, before the store adds
        its own bookkeeping columns).
    """
    from seis_keras.data.store import StoreWriter

    parts = []
    with StoreWriter(path, sampling_rate=sampling_rate, component_order=component_order,
                     block_size=block_size) as writer:
        for waves, meta in chunks:
            writer.add_many(np.asarray(waves, dtype=np.float32), meta)
            parts.append(meta)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def collect_chunks(chunks: Iterator[tuple[np.ndarray, pd.DataFrame]]) -> tuple[np.ndarray, pd.DataFrame]:
    """Concatenate generated chunks into one ``(N, T, C)`` float32 array and one DataFrame."""
    waves, metas = [], []
    for w, m in chunks:
        waves.append(np.asarray(w, dtype=np.float32))
        metas.append(m)
    return np.concatenate(waves, axis=0), pd.concat(metas, ignore_index=True)
