"""Where each trace of a store lives: ``trace_name`` -> (waveform file, dataset, row, slice).

:class:`TraceIndex` is the part of :class:`seis_keras.data.store.WaveformStore` that resolves
SeisBench ``trace_name`` strings (``"bucket0$3,:3,:2500"``, or a dataset name of its own) in
every chunk's ``waveforms{c}.hdf5`` and checks, once per block, that the row exists, that the
slices lie inside the dataset (numpy would clip ``:5000`` on a 1200-sample block silently) and
that the channel count matches the trace's component order. Per row it keeps integer codes:
``_dset`` (dataset, with ``_dset_file`` its file), ``_row`` (-1 for a per-trace dataset),
``_sel`` (slice), read by the store's readers and by :mod:`seis_keras.data.pipeline`.
"""
from __future__ import annotations

import contextlib
from typing import Sequence

import h5py
import numpy as np
import pandas as pd

from seis_keras.data import store_layout as lay
from seis_keras.data.store_layout import open_read_only
from seis_keras.data.store_writer import METADATA_FILE


class TraceIndex:
    """Trace-name resolution and stored shapes (a base of ``WaveformStore``; needs its setup attributes)."""

    def _index(self, names: np.ndarray, meta: pd.DataFrame) -> None:
        """Resolve every trace_name to (file, dataset, row, selection) and check that it exists."""
        n = len(names)
        chunk_of = meta["trace_chunk"].to_numpy() if "trace_chunk" in meta else np.full(n, "")
        datasets: dict[tuple, int] = {}
        selections: dict[tuple, int] = {}
        self._dset = np.empty(n, np.int64)
        self._row = np.full(n, -1, np.int64)
        self._sel = np.zeros(n, np.int64)
        self._shapes: list[tuple | None] = []
        for f, (chunk, h5p) in enumerate(zip(self.chunks, self.h5_paths)):
            rows = np.flatnonzero(chunk_of == chunk)
            with open_read_only(h5p) as h5:
                data_keys = set(h5["data"].keys()) if isinstance(h5.get("data"), h5py.Group) else set()
                lookup = None
                for i in rows:
                    name = names[i]
                    if "$" in name:
                        bucket, loc = name.split("$", 1)
                        parts = loc.split(",")
                        where = f"{self.path / METADATA_FILE}: trace_name {name!r}"
                        try:
                            row = int(parts[0])
                        except ValueError:
                            raise ValueError(f"{where}: expected 'bucket$row,:C,:T'") from None
                        sl = tuple((s.start, s.stop, s.step) for s in (lay.parse_slice(p, where) for p in parts[1:3]))
                        key, self._row[i] = "data/" + bucket, row
                        self._sel[i] = selections.setdefault(sl, len(selections))
                    elif name in data_keys:
                        key = "data/" + name
                    else:
                        if lookup is None:
                            lookup = self._trace_lookup(h5)
                        if name not in lookup:
                            raise ValueError(f"{h5p}: trace_name {name!r} not found (no dataset data/{name} "
                                             "nor one of that name in any group)")
                        key = lookup[name]
                    if (f, key) not in datasets:
                        datasets[(f, key)] = len(datasets)
                        self._shapes.append(None)
                    self._dset[i] = datasets[(f, key)]
                self._datasets = [k for _, k in datasets]
                self._dset_file = np.array([fi for fi, _ in datasets], np.int64)
                self._selections = [tuple(slice(*s) for s in sl) for sl in selections] or [()]
                self._check_blocks(h5, rows, names)
        self._datasets = [k for _, k in datasets]
        self._dset_file = np.array([fi for fi, _ in datasets], np.int64)
        self._selections = [tuple(slice(*s) for s in sl) for sl in selections] or [()]

    def _check_blocks(self, h5: h5py.File, rows: np.ndarray, names: np.ndarray) -> None:
        """Each block row and slice inside its dataset; the channel count of one trace per block/selection."""
        bucketed = rows[self._row[rows] >= 0]
        for d in np.unique(self._dset[bucketed]):
            node = h5.get(self._datasets[d])
            mask = bucketed[self._dset[bucketed] == d]
            r = self._row[mask]
            if not isinstance(node, h5py.Dataset) or node.ndim != 3 or r.max() >= node.shape[0]:
                bad = names[mask][np.argmax(r)]
                found = f"shape {node.shape}" if isinstance(node, h5py.Dataset) else "missing"
                raise ValueError(f"{self.h5_paths[self._dset_file[d]]}: trace_name {bad!r} not found "
                                 f"({self._datasets[d]} {found})")
            self._shapes[d] = node.shape
            for s in np.unique(self._sel[mask]):
                pos = int(mask[np.argmax(self._sel[mask] == s)])
                where = f"{self.h5_paths[self._dset_file[d]]}: trace_name {names[pos]!r}"
                for sl, size, axis in zip(self._selections[s], node.shape[1:], self.dimension_order):
                    lay.check_slice(sl, size, where, {"C": "channel", "W": "sample"}[axis])
        checked = [int(bucketed[np.argmax(self._dset[bucketed] == d)]) for d in np.unique(self._dset[bucketed])]
        single = rows[self._row[rows] < 0]
        checked += [int(single[0])] if len(single) else []
        for pos in checked:
            self._check_channels(pos, self._disk_shape(pos, h5)[1])

    def _check_channels(self, pos: int, c: int) -> None:
        order = self._orders[self._order[pos]]
        if c != len(order):
            hint = (f" (read as {self.dimension_order!r}, data_format/dimension_order being missing: declare "
                    "source_dimension_order=)") if self._dims_assumed else ""
            raise ValueError(f"{self.h5_path}: trace_name {self.metadata['trace_name'].iat[pos]!r} has {c} channels "
                             f"but component_order is {order!r}{hint}")

    def _trace_lookup(self, h5: h5py.File) -> dict[str, str]:
        found: dict[str, str] = {}

        def visit(name, node):
            if isinstance(node, h5py.Dataset) and not name.startswith("data_format"):
                found.setdefault(name.rsplit("/", 1)[-1], name)
        h5.visititems(visit)
        return found

    def _disk_shape(self, pos: int, h5: h5py.File | None = None) -> tuple[int, int]:
        """(T, C) of the trace at metadata row ``pos`` as stored (before resampling / reordering)."""
        d = self._dset[pos]
        if self._shapes[d] is None:
            with contextlib.ExitStack() as stack:
                f = self._dset_file[d]
                h5 = h5 or (self._h5[f] if self._h5 else None) or \
                    stack.enter_context(open_read_only(self.h5_paths[f]))
                self._shapes[d] = h5[self._datasets[d]].shape
        shape = self._shapes[d]
        sel: Sequence[slice] = ()
        if self._row[pos] >= 0:
            shape, sel = shape[1:], self._selections[self._sel[pos]]
        if len(shape) != 2:
            raise ValueError(f"{self.h5_path}: trace_name {self.metadata['trace_name'].iat[pos]!r} has shape "
                             f"{shape}, expected 2 dimensions ({self.dimension_order})")
        sel = list(sel) + [slice(None)] * (2 - len(sel))
        dims = [len(range(*s.indices(n))) for s, n in zip(sel, shape)]
        return (dims[1], dims[0]) if self.dimension_order == "CW" else (dims[0], dims[1])

