"""Waveform stores in SeisBench's on-disk layout: ``metadata.csv`` + ``waveforms.hdf5``.

A store is a folder with one row per trace in ``metadata.csv`` (SeisBench column names,
``trace_name`` required) and the samples in ``waveforms.hdf5``:

* **SeisBench layout** — traces under ``data/``, many traces per HDF5 dataset ("blocks",
  SeisBench's buckets). ``trace_name`` ``"bucket0$3,:3,:2500"`` means dataset
  ``data/bucket0``, row 3, channels ``:3``, samples ``:2500`` (the slices follow the on-disk
  ``dimension_order``). A ``trace_name`` without ``$`` is a dataset of its own,
  ``data/<trace_name>``. ``data_format/`` holds ``sampling_rate``, ``component_order`` and
  ``dimension_order`` (``"CW"``: blocks ``(N, C, T)``).
* **STEAD / EQTransformer layout** — one ``(T, C)`` dataset per trace, under ``data/`` or
  under category groups (``earthquake/local/…``), no ``data_format``; picks in columns
  ``p_arrival_sample`` / ``s_arrival_sample``. Documented defaults: 100 Hz, ``"ENZ"``,
  dimension order ``"WC"``; STEAD column names are mapped to SeisBench's
  (:data:`STEAD_COLUMNS`).

In memory everything is channels-last float32: one trace ``(T, C)``, a batch ``(N, T, C)``.
Variable-length traces are supported pad-free: every block holds traces of one shape
(:class:`StoreWriter` starts a new block when the shape changes), and a per-trace dataset may
have any length. Reading several traces of different lengths at once is an error.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np
import pandas as pd

from seis_keras.data.store_writer import METADATA_FILE, WAVEFORMS_FILE, StoreWriter, write_store

__all__ = ["WaveformStore", "StoreWriter", "write_store", "Block", "STEAD_COLUMNS", "STEAD_DEFAULTS"]

#: STEAD column -> SeisBench column.
STEAD_COLUMNS = {
    "p_arrival_sample": "trace_p_arrival_sample",
    "s_arrival_sample": "trace_s_arrival_sample",
    "source_latitude": "source_latitude_deg",
    "source_longitude": "source_longitude_deg",
    "network_code": "station_network_code",
    "receiver_code": "station_code",
    "receiver_type": "station_type",
    "receiver_latitude": "station_latitude_deg",
    "receiver_longitude": "station_longitude_deg",
    "receiver_elevation_m": "station_elevation_m",
}
#: Defaults for the STEAD layout, which carries no ``data_format``.
STEAD_DEFAULTS = {"sampling_rate": 100.0, "component_order": "ENZ", "dimension_order": "WC"}
_STEAD_MARKERS = ("p_arrival_sample", "trace_category", "receiver_code")


@dataclass(frozen=True)
class Block:
    """Traces stored contiguously: ``dataset[start:stop]`` holds metadata rows ``positions``.

    ``start``/``stop`` are ``None`` for a dataset holding a single trace (no row axis).
    """

    dataset: str
    start: int | None
    stop: int | None
    positions: np.ndarray


def _parse_slice(text: str, where: str) -> slice:
    parts = text.strip().split(":")
    if len(parts) not in (1, 2, 3) or (len(parts) == 1 and parts[0]):
        raise ValueError(f"{where}: expected a slice like ':3' or '0:2500', got {text!r}")
    try:
        return slice(*(int(p) if p.strip() else None for p in parts))
    except ValueError:
        raise ValueError(f"{where}: expected a slice like ':3' or '0:2500', got {text!r}") from None


def _read_str(node) -> str:
    value = node[()]
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    return value.decode() if isinstance(value, bytes) else str(value)


def empty_aligned(shape, dtype=np.float32, align: int = 64) -> np.ndarray:
    """``np.empty`` whose data start on an ``align``-byte boundary.

    TensorFlow takes 64-byte aligned numpy arrays without copying them (``tf.numpy_function``
    results included); numpy's large allocations are only 16-byte aligned.
    """
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + align, np.uint8)
    offset = (-raw.ctypes.data) % align
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


def _channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, T) -> contiguous, aligned (N, T, C); OpenCV's channel merge is ~4x faster than numpy."""
    n, c, t = x.shape
    out = empty_aligned((n, t, c), x.dtype)
    if 1 < c <= 4 and n * t < 2**31:
        try:
            import cv2
        except ImportError:  # opencv is a dependency, but the numpy path gives the same bytes
            cv2 = None
        if cv2 is not None:
            merged = cv2.merge([x[:, i] for i in range(c)], out.reshape(n, t, c))
            if merged.ctypes.data == out.ctypes.data:
                return out
    out[...] = x.transpose(0, 2, 1)
    return out


def open_read_only(path) -> h5py.File:
    """Open an HDF5 file read-only; a truncated or corrupt file is a one-line ValueError."""
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: cannot open as HDF5 (truncated or corrupt?): {err}") from None


class WaveformStore:
    """Read-only access to a store folder (SeisBench or STEAD layout).

    Args:
        path: folder holding ``metadata.csv`` and ``waveforms.hdf5``.
        layout: ``"auto"`` (STEAD when the HDF5 has no ``data_format`` group and the
            metadata has STEAD columns, else SeisBench), ``"seisbench"`` or ``"stead"``.
        sampling_rate: Hz; overrides ``data_format/sampling_rate``. Needed for a SeisBench
            layout without one (unless ``trace_sampling_rate_hz`` is one value throughout).
        component_order: on-disk channel order, e.g. ``"ZNE"``; overrides ``data_format``.
            Defaults: SeisBench ``"ZNE"``, STEAD ``"ENZ"``.
        dimension_order: on-disk order of one trace, ``"CW"`` or ``"WC"``; overrides
            ``data_format``. Defaults: SeisBench ``"CW"``, STEAD ``"WC"``.
        check_finite: raise on NaN/inf samples when reading (one ``np.isfinite`` per read).

    Attributes:
        metadata: the metadata table (SeisBench column names; ``trace_sampling_rate_hz``
            added when absent).
        sampling_rate: float, Hz.
        component_order: str, channel order of every array this store returns.
    """

    def __init__(self, path, *, layout: str = "auto", sampling_rate: float | None = None,
                 component_order: str | None = None, dimension_order: str | None = None,
                 check_finite: bool = True):
        self.path = Path(path)
        self.check_finite = check_finite
        csv, self.h5_path = self.path / METADATA_FILE, self.path / WAVEFORMS_FILE
        for p in (csv, self.h5_path):
            if not p.is_file():
                raise FileNotFoundError(f"{p}: file missing (a store holds {METADATA_FILE} + {WAVEFORMS_FILE})")
        try:
            meta = pd.read_csv(csv, low_memory=False, dtype={"trace_name": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise ValueError(f"{csv}: cannot parse as CSV: {err}") from None
        if "trace_name" not in meta.columns:
            raise ValueError(f"{csv}: column 'trace_name' missing (required: where each trace lives in {WAVEFORMS_FILE})")
        if layout not in ("auto", "seisbench", "stead"):
            raise ValueError(f"layout: expected 'auto', 'seisbench' or 'stead', got {layout!r}")
        with open_read_only(self.h5_path) as h5:
            fmt = {k: h5["data_format"][k] for k in h5["data_format"]} if "data_format" in h5 else {}
            if layout == "auto":
                stead = not fmt and any(c in meta.columns for c in _STEAD_MARKERS)
                layout = "stead" if stead else "seisbench"
            self.layout = layout
            if layout == "stead":
                meta = meta.rename(columns={k: v for k, v in STEAD_COLUMNS.items() if v not in meta.columns})
            self.sampling_rate = self._resolve_rate(sampling_rate, fmt, meta, csv)
            order = component_order or (_read_str(fmt["component_order"]) if "component_order" in fmt else None)
            self.component_order = order or ("ENZ" if layout == "stead" else "ZNE")
            dims = dimension_order or (_read_str(fmt["dimension_order"]) if "dimension_order" in fmt else None)
            dims = (dims or ("WC" if layout == "stead" else "CW")).upper().replace("N", "")
            if dims not in ("CW", "WC"):
                raise ValueError(f"{self.h5_path}: data_format/dimension_order: expected 'CW' or 'WC', got {dims!r}")
            self.dimension_order = dims
            if "trace_sampling_rate_hz" not in meta.columns:
                meta["trace_sampling_rate_hz"] = self.sampling_rate
            self.metadata = meta
            self._index(h5, meta["trace_name"].astype(str).to_numpy())
        self._h5: h5py.File | None = None

    # ------------------------------------------------------------------ setup
    def _resolve_rate(self, rate, fmt, meta, csv) -> float:
        if rate is not None:
            return float(rate)
        if "sampling_rate" in fmt:
            return float(fmt["sampling_rate"][()])
        if "trace_sampling_rate_hz" in meta.columns and meta["trace_sampling_rate_hz"].nunique() == 1:
            return float(meta["trace_sampling_rate_hz"].iloc[0])
        if self.layout == "stead":
            return STEAD_DEFAULTS["sampling_rate"]
        raise ValueError(f"{self.h5_path}: data_format/sampling_rate missing and no sampling_rate= given "
                         f"(nor one trace_sampling_rate_hz in {csv.name})")

    def _index(self, h5: h5py.File, names: np.ndarray) -> None:
        """Resolve every trace_name to (dataset, row, selection) and check it exists."""
        n = len(names)
        datasets: dict[str, int] = {}
        selections: dict[tuple, int] = {}
        self._dset = np.empty(n, np.int64)
        self._row = np.full(n, -1, np.int64)
        self._sel = np.zeros(n, np.int64)
        data_keys = set(h5["data"].keys()) if isinstance(h5.get("data"), h5py.Group) else set()
        lookup = None
        for i, name in enumerate(names):
            if "$" in name:
                bucket, loc = name.split("$", 1)
                parts = loc.split(",")
                where = f"{self.path / METADATA_FILE}: trace_name {name!r}"
                try:
                    row = int(parts[0])
                except ValueError:
                    raise ValueError(f"{where}: expected 'bucket$row,:C,:T'") from None
                sl = tuple((s.start, s.stop, s.step) for s in (_parse_slice(p, where) for p in parts[1:3]))
                key, self._row[i] = "data/" + bucket, row
                self._sel[i] = selections.setdefault(sl, len(selections))
            elif name in data_keys:
                key = "data/" + name
            else:
                if lookup is None:
                    lookup = self._trace_lookup(h5)
                if name not in lookup:
                    raise ValueError(f"{self.h5_path}: trace_name {name!r} not found (no dataset data/{name} "
                                     "nor one of that name in any group)")
                key = lookup[name]
            self._dset[i] = datasets.setdefault(key, len(datasets))
        self._datasets = list(datasets)
        self._selections = [tuple(slice(*s) for s in sl) for sl in selections] or [()]
        self._shapes: list[tuple | None] = [None] * len(self._datasets)
        bucketed = self._row >= 0
        for d in np.unique(self._dset[bucketed]):
            node = h5.get(self._datasets[d])
            mask = bucketed & (self._dset == d)
            rows = self._row[mask]
            if not isinstance(node, h5py.Dataset) or node.ndim != 3 or rows.max() >= node.shape[0]:
                bad = names[mask][np.argmax(rows)]
                found = f"shape {node.shape}" if isinstance(node, h5py.Dataset) else "missing"
                raise ValueError(f"{self.h5_path}: trace_name {bad!r} not found ({self._datasets[d]} {found})")
            self._shapes[d] = node.shape
        checked = np.unique(self._dset[bucketed]).tolist() or ([int(self._dset[0])] if n else [])
        for d in checked:
            pos = int(np.argmax(self._dset == d))
            self._check_channels(pos, self._trace_shape(pos, h5)[1])

    def _check_channels(self, pos: int, c: int) -> None:
        if c != len(self.component_order):
            raise ValueError(f"{self.h5_path}: trace_name {self.metadata['trace_name'].iat[pos]!r} has {c} channels "
                             f"but component_order is {self.component_order!r}")

    def _trace_lookup(self, h5: h5py.File) -> dict[str, str]:
        found: dict[str, str] = {}

        def visit(name, node):
            if isinstance(node, h5py.Dataset) and not name.startswith("data_format"):
                found.setdefault(name.rsplit("/", 1)[-1], name)
        h5.visititems(visit)
        return found

    def _trace_shape(self, pos: int, h5: h5py.File | None = None) -> tuple[int, int]:
        """(T, C) of the trace at metadata row ``pos``."""
        d = self._dset[pos]
        if self._shapes[d] is None:
            with contextlib.ExitStack() as stack:
                h5 = h5 or self._h5 or stack.enter_context(open_read_only(self.h5_path))
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

    # ------------------------------------------------------------------ public
    def __len__(self) -> int:
        return len(self.metadata)

    def __repr__(self) -> str:
        return (f"WaveformStore({str(self.path)!r}, {len(self)} traces, {self.sampling_rate:g} Hz, "
                f"{self.component_order}, layout={self.layout})")

    def __enter__(self) -> "WaveformStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the HDF5 handle opened by :meth:`get_waveforms` (reopened on demand)."""
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_h5"] = None
        return state

    def trace_shape(self, index: int) -> tuple[int, int]:
        """Shape ``(T, C)`` of trace ``index`` as :meth:`get_waveforms` returns it."""
        return self._trace_shape(int(np.arange(len(self))[index]))

    def blocks(self) -> list[Block]:
        """Groups of metadata rows stored contiguously, each readable with one h5py slice.

        Returns:
            Blocks ordered by dataset and row; every metadata row is in exactly one block.
        """
        out: list[Block] = []
        for chunk in self.runs(np.arange(len(self))):
            p0 = chunk[0]
            row = self._row[p0]
            start, stop = (None, None) if row < 0 else (int(row), int(row) + len(chunk))
            out.append(Block(self._datasets[self._dset[p0]], start, stop, chunk))
        return out

    def read_run(self, h5: h5py.File, positions: np.ndarray, *, window: tuple[int, int] | None = None,
                 components: str | None = None) -> np.ndarray:
        """Read metadata rows ``positions`` that lie in consecutive rows of one dataset.

        Args:
            h5: the open ``waveforms.hdf5`` (read-only handle owned by the caller), or any
                mapping from dataset path to h5py dataset.
            positions: metadata rows of one block run, in increasing row order, or one row of
                a per-trace dataset.
            window: ``(start, length)`` crop in samples, read from disk without the rest.
            components: output channel order (a permutation of :attr:`component_order`).

        Returns:
            float32 array ``(n, T, C)``.
        """
        p0 = int(positions[0])
        key = self._datasets[self._dset[p0]]
        row0 = self._row[p0]
        sel = list(self._selections[self._sel[p0]]) if row0 >= 0 else []
        sel += [slice(None)] * (2 - len(sel))
        t_axis = 1 if self.dimension_order == "CW" else 0
        if window is not None:
            start, length = int(window[0]), int(window[1])
            n_t = self._trace_shape(p0)[0]
            if start < 0 or length <= 0 or start + length > n_t:
                raise ValueError(f"window: ({start}, {length}) does not fit trace "
                                 f"{self.metadata['trace_name'].iat[p0]!r} of {n_t} samples")
            base = sel[t_axis].indices(self._shapes[self._dset[p0]][-2 + t_axis])[0]
            sel[t_axis] = slice(base + start, base + start + length)
        ds = h5[key]
        source = (slice(int(row0), int(row0) + len(positions)), *sel) if row0 >= 0 else tuple(sel)
        shape = [len(range(*s.indices(n))) for s, n in zip(source, ds.shape)]
        data = empty_aligned(shape)  # read_direct: HDF5 converts the type, no temporary
        if data.size:
            ds.read_direct(data, source)
        if row0 < 0:
            data = data[None]
        if data.shape[1 + (self.dimension_order == "WC")] != len(self.component_order):
            self._check_channels(p0, data.shape[1 + (self.dimension_order == "WC")])
        if self.dimension_order == "CW":
            data = _channels_last(data)
        if self.check_finite and not np.isfinite(data).all():
            bad = int(positions[np.flatnonzero(~np.isfinite(data).reshape(len(data), -1).all(1))[0]])
            raise ValueError(f"{self.h5_path}: trace_name {self.metadata['trace_name'].iat[bad]!r} "
                             "holds NaN/inf samples")
        if components is not None and components != self.component_order:
            if sorted(components) != sorted(self.component_order):
                raise ValueError(f"components: {components!r} is not a reordering of {self.component_order!r}")
            data = data[..., [self.component_order.index(c) for c in components]]
        return np.ascontiguousarray(data)

    def runs(self, positions: Iterable[int], max_len: int | None = None, *, sort: bool = True) -> list[np.ndarray]:
        """Split metadata rows into runs readable with :meth:`read_run` (each in row order).

        Args:
            positions: metadata rows, no duplicates.
            max_len: cap on the number of traces per run (``None``: no cap).
            sort: sort by storage place first (fewest, longest runs); ``False`` keeps the given
                order (a run then only joins neighbours that are consecutive rows on disk).

        Returns:
            A list of int64 arrays of metadata rows.
        """
        pos = np.asarray(positions if isinstance(positions, np.ndarray) else list(positions), np.int64)
        if len(pos) == 0:
            return []
        if sort:
            pos = pos[np.lexsort((self._row[pos], self._sel[pos], self._dset[pos]))]
        d, r, s = self._dset[pos], self._row[pos], self._sel[pos]
        cut = np.flatnonzero((np.diff(d) != 0) | (np.diff(s) != 0) | (np.diff(r) != 1) | (r[1:] < 0)) + 1
        runs = np.split(pos, cut)
        if max_len:
            runs = [c for run in runs for c in np.array_split(run, -(-len(run) // max_len))]
        return runs

    def get_waveforms(self, idx, *, window: tuple[int, int] | None = None,
                      components: str | None = None) -> np.ndarray:
        """Waveforms of metadata rows ``idx`` (int, slice, or array of ints/bools).

        Args:
            idx: an int gives one trace ``(T, C)``; anything else a batch ``(N, T, C)`` in the
                order asked for.
            window: ``(start, length)`` crop in samples.
            components: output channel order, default :attr:`component_order`.

        Returns:
            float32 channels-last array.
        """
        single = isinstance(idx, (int, np.integer))
        pos = np.arange(len(self))[idx]
        pos = np.atleast_1d(pos)
        if self._h5 is None:
            self._h5 = open_read_only(self.h5_path)
        out = None
        where = {int(p): i for i, p in enumerate(pos)}
        if len(where) != len(pos):
            uniq, inv = np.unique(pos, return_inverse=True)
            return self.get_waveforms(uniq, window=window, components=components)[inv]
        for run in self.runs(pos):
            data = self.read_run(self._h5, run, window=window, components=components)
            if out is None:
                out = np.empty((len(pos),) + data.shape[1:], np.float32)
            elif data.shape[1:] != out.shape[1:]:
                raise ValueError(f"{self.h5_path}: traces of different shapes {out.shape[1:]} and {data.shape[1:]} "
                                 f"(trace_name {self.metadata['trace_name'].iat[int(run[0])]!r}); "
                                 "read them one at a time or crop with window=")
            out[[where[int(p)] for p in run]] = data
        if out is None:
            return np.empty((0, 0, len(components or self.component_order)), np.float32)
        return out[0] if single else out

