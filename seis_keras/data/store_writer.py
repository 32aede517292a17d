"""Writing stores in SeisBench's layout (re-exported by :mod:`seis_keras.data.store`).

See :mod:`seis_keras.data.store` for the layout. What we write SeisBench reads: blocks
``data/bucket<k>`` of shape ``(n, C, T)``, ``data_format/`` with ``sampling_rate``,
``component_order`` and ``dimension_order = "CW"``, and ``metadata.csv`` whose ``trace_name``
points into the blocks.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from seis_keras.atomic import atomic_path, check_new_dir

METADATA_FILE = "metadata.csv"
WAVEFORMS_FILE = "waveforms.hdf5"
#: What a store folder written by :class:`StoreWriter` holds (``rejected_windows.csv``: ingest's log).
STORE_ENTRIES = frozenset({METADATA_FILE, WAVEFORMS_FILE, "rejected_windows.csv"})


def is_store(path) -> bool:
    """Whether ``path`` is a store folder as :class:`StoreWriter` writes it, and nothing else.

    Only such a folder may be replaced (``overwrite=True``): a folder holding any other file is
    not ours to delete.
    """
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        return False
    names = {p.name for p in path.iterdir()}
    return {METADATA_FILE, WAVEFORMS_FILE} <= names and names <= STORE_ENTRIES


def check_store_target(path, *, overwrite: bool = False) -> Path:
    """Check before any work that a store may be written at ``path`` (see :class:`StoreWriter`).

    Raises:
        ValueError: ``path`` is the current folder or holds it.
        FileExistsError: ``path`` exists and ``overwrite`` is off, or it is not a store.
    """
    return check_new_dir(path, replace=is_store if overwrite else None, what="store",
                         hint="pass overwrite=True (--overwrite) to replace a store written by seis_keras")


class StoreWriter:
    """Write a store in SeisBench's layout, atomically: the folder appears whole on close.

    Traces go into blocks ``data/bucket<k>`` of shape ``(n, C, T)`` (``dimension_order="CW"``,
    as SeisBench writes them), ``trace_name`` ``"bucket<k>$<row>,:C,:T"``; a ``trace_name`` given
    in the metadata is kept as ``trace_name_original``. A trace whose shape differs from the
    block being filled starts a new block, so variable-length traces are stored pad-free.

    Args:
        path: the store folder to create. An existing ``path`` is an error (checked here,
            before anything is written) unless ``overwrite`` is set and it is a store folder
            written by seis_keras (:func:`is_store`), which is then replaced whole on close.
            ``path = "."`` (or a folder holding the current one) is refused.
        sampling_rate: Hz, written to ``data_format/sampling_rate`` and ``trace_sampling_rate_hz``.
        component_order: channel order of the ``(T, C)`` arrays given to :meth:`add`.
        block_size: traces per HDF5 dataset (default 1024: ~30 MB of (2500, 3) float32 buffered).
        dtype: sample type on disk (default float32).
        compression: h5py compression filter for the blocks (default ``None``: fastest reads).
        data_format: extra ``data_format/`` entries, e.g. ``{"unit": "counts"}``.
        dimension_order: ``"CW"`` (default, SeisBench's: blocks ``(n, C, T)``) or ``"WC"``
            (blocks ``(n, T, C)``, channels-last on disk: no transpose when reading; SeisBench
            reads both).
        overwrite: allow replacing an existing store folder (never anything else).
    """

    def __init__(self, path, *, sampling_rate: float, component_order: str = "ENZ", block_size: int = 1024,
                 dtype: str = "float32", compression: str | None = None, data_format: dict | None = None,
                 dimension_order: str = "CW", overwrite: bool = False):
        if block_size < 1:
            raise ValueError(f"block_size: expected >= 1, got {block_size}")
        if dimension_order not in ("CW", "WC"):
            raise ValueError(f"dimension_order: expected 'CW' or 'WC', got {dimension_order!r}")
        self.dimension_order = dimension_order
        if not (np.isfinite(float(sampling_rate)) and float(sampling_rate) > 0):
            raise ValueError(f"sampling_rate: expected a positive number of Hz, got {sampling_rate!r}")
        self.path = check_store_target(path, overwrite=overwrite)
        self.sampling_rate, self.component_order = float(sampling_rate), component_order
        self.block_size, self.dtype, self.compression = block_size, np.dtype(dtype), compression
        self._atomic = atomic_path(self.path, is_dir=True, replace=is_store if overwrite else None)
        self._tmp = self._atomic.__enter__()
        self._h5 = h5py.File(self._tmp / WAVEFORMS_FILE, "w")
        fmt = self._h5.create_group("data_format")
        entries = {"sampling_rate": self.sampling_rate, "component_order": component_order,
                   "dimension_order": dimension_order, **(data_format or {})}
        for key, value in entries.items():
            fmt.create_dataset(key, data=value)
        self._data = self._h5.create_group("data")
        self._pending: list[np.ndarray] = []
        self._rows: list[dict] = []
        self._n_blocks = 0
        self._open = True

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, waveform, **meta) -> int:
        """Append one trace ``(T, C)`` with its metadata columns; returns its row number."""
        if not self._open:
            raise ValueError(f"{self.path}: writer already closed")
        w = np.asarray(waveform)
        if w.ndim != 2 or w.shape[1] != len(self.component_order):
            raise ValueError(f"waveform: expected shape (T, {len(self.component_order)}) for component_order "
                             f"{self.component_order!r}, got {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError(f"waveform: NaN/inf samples in trace {meta.get('trace_name', len(self._rows))!r}")
        if self._pending and w.shape != self._pending[0].shape:
            self._flush()
        row = dict(meta)
        if "trace_name" in row:
            row["trace_name_original"] = row.pop("trace_name")
        c, t = w.shape[1], w.shape[0]
        dims = f":{c},:{t}" if self.dimension_order == "CW" else f":{t},:{c}"
        row["trace_name"] = f"bucket{self._n_blocks}${len(self._pending)},{dims}"
        row.setdefault("trace_sampling_rate_hz", self.sampling_rate)
        self._pending.append(w)
        self._rows.append(row)
        if len(self._pending) >= self.block_size:
            self._flush()
        return len(self._rows) - 1

    def add_many(self, waveforms, metadata: pd.DataFrame | None = None) -> None:
        """Append a batch ``(N, T, C)`` (or a list of ``(T, C)``) with a metadata table of N rows."""
        if metadata is not None and len(metadata) != len(waveforms):
            raise ValueError(f"metadata: {len(metadata)} rows for {len(waveforms)} waveforms")
        records = metadata.to_dict("records") if metadata is not None else [{}] * len(waveforms)
        for w, rec in zip(waveforms, records):
            self.add(w, **rec)

    def add_file(self, name: str, text: str) -> None:
        """Write a small text file into the store folder (appears with it on close): ``rejected_windows.csv``."""
        if name not in STORE_ENTRIES or name in (METADATA_FILE, WAVEFORMS_FILE):
            raise ValueError(f"{name}: not a file a store may hold beside its data (expected one of "
                             f"{sorted(STORE_ENTRIES - {METADATA_FILE, WAVEFORMS_FILE})})")
        (self._tmp / name).write_text(text)

    def _flush(self) -> None:
        if not self._pending:
            return
        block = np.stack(self._pending).astype(self.dtype)
        if self.dimension_order == "CW":
            block = block.transpose(0, 2, 1)
        self._data.create_dataset(f"bucket{self._n_blocks}", data=block, compression=self.compression)
        self._n_blocks += 1
        self._pending = []

    def close(self) -> Path:
        """Write the last block and ``metadata.csv``, then move the folder into place."""
        if not self._open:
            return self.path
        try:
            if not self._rows:
                raise ValueError(f"{self.path}: no traces to write (a store needs at least one trace); "
                                 "nothing was written")
            self._flush()
            self._h5.close()
            pd.DataFrame.from_records(self._rows).to_csv(self._tmp / METADATA_FILE, index=False)
        except BaseException:
            self.abort()
            raise
        self._open = False
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Discard everything written; ``path`` is left as it was."""
        if not self._open:
            return
        self._open = False
        with contextlib.suppress(Exception):
            self._h5.close()
        err = RuntimeError("store writer aborted")
        with contextlib.suppress(RuntimeError):
            self._atomic.__exit__(RuntimeError, err, None)


def write_store(path, waveforms, metadata: pd.DataFrame | None = None, *, sampling_rate: float,
                component_order: str = "ENZ", block_size: int = 1024, **settings) -> Path:
    """Write ``waveforms`` ``(N, T, C)`` and ``metadata`` (N rows) as a store; see :class:`StoreWriter`."""
    with StoreWriter(path, sampling_rate=sampling_rate, component_order=component_order,
                     block_size=block_size, **settings) as writer:
        writer.add_many(waveforms, metadata)
    return Path(path)
