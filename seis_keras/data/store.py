"""Waveform stores in SeisBench's on-disk layout: ``metadata.csv`` + ``waveforms.hdf5``.

A store is a folder with one row per trace in ``metadata.csv`` (SeisBench column names,
``trace_name`` required) and the samples in ``waveforms.hdf5``:

* **SeisBench layout** — traces under ``data/``, many traces per HDF5 dataset ("blocks",
  SeisBench's buckets). ``trace_name`` ``"bucket0$3,:3,:2500"`` means dataset
  ``data/bucket0``, row 3, channels ``:3``, samples ``:2500`` (the slices follow the on-disk
  ``dimension_order``; a slice reaching past the dataset is an error, not clipped). A
  ``trace_name`` without ``$`` is a dataset of its own, ``data/<trace_name>``.
  ``data_format/`` holds ``sampling_rate``, ``component_order`` (a string or a list) and
  ``dimension_order``; without ``dimension_order`` the blocks are read as ``"CW"``
  (``(N, C, T)``), as SeisBench does, with a warning. **Chunked** datasets (a ``chunks``
  file, or ``metadata{c}.csv`` + ``waveforms{c}.hdf5`` pairs) are read as one store with a
  ``trace_chunk`` column. Per trace, ``trace_component_order`` and ``trace_sampling_rate_hz``
  (or ``trace_dt_s``) override ``data_format``.
* **STEAD / EQTransformer layout** — one ``(T, C)`` dataset per trace, under ``data/`` or
  under category groups (``earthquake/local/…``), no ``data_format``; picks in columns
  ``p_arrival_sample`` / ``s_arrival_sample``. Documented defaults: 100 Hz, ``"ENZ"``,
  dimension order ``"WC"``; STEAD column names are mapped to SeisBench's
  (:data:`STEAD_COLUMNS`). (SeisBench reads STEAD only after converting it.)

``sampling_rate=`` and ``component_order=`` mean what they mean in SeisBench's
``WaveformDataset``: the rate and channel order of the arrays *returned* — traces are
resampled on read (SeisBench's method, :func:`seis_keras.data.store_layout.resample`), sample
columns (``*_sample``) of :attr:`WaveformStore.metadata` are rescaled, and channels reordered,
a missing one handled by ``missing_components`` (``"pad"`` zeros, ``"copy"`` the first,
``"ignore"`` left out). What is *on disk*, when the file does not say, is declared with
``source_sampling_rate=`` / ``source_component_order=`` / ``source_dimension_order=``.

In memory everything is channels-last float32: one trace ``(T, C)``, a batch ``(N, T, C)``.
Variable-length traces are supported pad-free: every block holds traces of one shape
(:class:`StoreWriter` starts a new block when the shape changes), and a per-trace dataset may
have any length. Reading several traces of different lengths at once is an error.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import h5py
import numpy as np
import pandas as pd

from seis_keras.data import store_layout as lay
from seis_keras.data.store_layout import channels_last as _channels_last  # noqa: F401  (re-exported)
from seis_keras.data.store_index import TraceIndex
from seis_keras.data.store_layout import empty_aligned, open_read_only
from seis_keras.data.store_writer import METADATA_FILE, WAVEFORMS_FILE, StoreWriter, is_store, write_store

__all__ = ["WaveformStore", "StoreWriter", "write_store", "is_store", "Block", "STEAD_COLUMNS", "STEAD_DEFAULTS",
           "empty_aligned", "open_read_only"]

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
    """Traces stored contiguously: ``dataset[start:stop]`` of waveform file ``file`` holds rows ``positions``.

    ``start``/``stop`` are ``None`` for a dataset holding a single trace (no row axis).
    """

    dataset: str
    start: int | None
    stop: int | None
    positions: np.ndarray
    file: int = 0


class WaveformStore(TraceIndex):
    """Read-only access to a store folder (SeisBench or STEAD layout, chunked or not).

    Args:
        path: folder holding ``metadata.csv`` and ``waveforms.hdf5`` (or chunks of them).
        layout: ``"auto"`` (STEAD when the HDF5 has no ``data_format`` group, the metadata
            has STEAD columns and every trace is a dataset of its own; else SeisBench),
            ``"seisbench"`` or ``"stead"``.
        sampling_rate: rate of the arrays returned (Hz), SeisBench's meaning: traces at another
            rate are resampled on read and the metadata's ``*_sample`` columns rescaled.
            Default: no resampling (then all traces must share one rate).
        component_order: channel order of the arrays returned (``"ZNE"``, ``["Z", "N", "E"]``),
            SeisBench's meaning. Default: the on-disk order (``data_format``, else the most
            common ``trace_component_order``, else ``"ZNE"`` / STEAD ``"ENZ"``).
        missing_components: a component of ``component_order`` that a trace lacks:
            ``"pad"`` (zeros, SeisBench's default), ``"copy"`` (its first component) or
            ``"ignore"`` (left out; such traces then have fewer channels). A warning names them.
        dimension_order: output order; only ``"NWC"`` (channels-last, what we return) is
            accepted, for SeisBench-style calls. The on-disk order is ``source_dimension_order``.
        chunks: chunk names to read (default all).
        source_sampling_rate, source_component_order, source_dimension_order: what is on disk,
            overriding ``data_format`` and the metadata (``"CW"`` or ``"WC"``).
        check_finite: raise on NaN/inf samples when reading (one ``np.isfinite`` per read).
        zero_phase_resample: SeisBench's ``resample_zerophase`` (decimation filter).

    Attributes:
        metadata: the metadata table (SeisBench column names; ``trace_sampling_rate_hz`` is
            the output rate, ``trace_source_sampling_rate_hz`` the rate on disk when resampling).
        sampling_rate: float, Hz, of every array this store returns.
        component_order: str (or a tuple of names), channel order of every array returned.
    """

    def __init__(self, path, *, layout: str = "auto", sampling_rate: float | None = None,
                 component_order=None, missing_components: str = "pad", dimension_order: str | None = None,
                 chunks: Sequence[str] | None = None, source_sampling_rate: float | None = None,
                 source_component_order=None, source_dimension_order: str | None = None,
                 check_finite: bool = True, zero_phase_resample: bool = False):
        self.path = Path(path)
        self.check_finite, self.zero_phase = check_finite, zero_phase_resample
        if layout not in ("auto", "seisbench", "stead"):
            raise ValueError(f"layout: expected 'auto', 'seisbench' or 'stead', got {layout!r}")
        if missing_components not in lay.MISSING_COMPONENTS:
            raise ValueError(f"missing_components: expected one of {lay.MISSING_COMPONENTS}, got {missing_components!r}")
        if dimension_order not in (None, "NWC", "WC"):
            raise ValueError(f"dimension_order={dimension_order!r}: arrays are always channels-last ('NWC'); "
                             "declare the on-disk order with source_dimension_order='CW' or 'WC'")
        self.missing_components = missing_components
        found = lay.available_chunks(self.path)
        if chunks is not None:
            unknown = sorted(set(chunks) - set(found))
            if unknown:
                raise ValueError(f"{self.path}: chunks {unknown} not in the dataset (it has {found})")
            found = sorted(set(chunks))
        self.chunks = found
        self.h5_paths = [self.path / f"waveforms{c}.hdf5" for c in found]
        self.h5_path = self.h5_paths[0]
        metas = []
        for c, h5p in zip(found, self.h5_paths):
            csv = self.path / f"metadata{c}.csv"
            for p in (csv, h5p):
                if not p.is_file():
                    raise FileNotFoundError(f"{p}: file missing (a store holds {METADATA_FILE} + {WAVEFORMS_FILE})")
            m = lay.read_metadata(csv)
            if "trace_name" not in m.columns:
                raise ValueError(f"{csv}: column 'trace_name' missing (required: where each trace lives in {h5p.name})")
            if found != [""]:
                m["trace_chunk"] = c
            metas.append(m)
        meta = pd.concat(metas, ignore_index=True) if len(metas) > 1 else metas[0]
        fmts = []
        for h5p in self.h5_paths:
            with open_read_only(h5p) as h5:
                fmts.append(lay.read_data_format(h5))
        if any(f != fmts[0] for f in fmts):
            raise ValueError(f"{self.path}: data_format differs between chunks {found} (expected one format)")
        fmt = fmts[0]
        names = meta["trace_name"].astype(str).to_numpy()
        if layout == "auto":
            stead = (not fmt and found == [""] and any(c in meta.columns for c in _STEAD_MARKERS)
                     and not any("$" in n for n in names))
            layout = "stead" if stead else "seisbench"
        self.layout = layout
        if layout == "stead":
            meta = meta.rename(columns={k: v for k, v in STEAD_COLUMNS.items() if v not in meta.columns})
        self._resolve_dimensions(source_dimension_order, fmt)
        self._resolve_orders(meta, fmt, source_component_order, component_order)
        self._resolve_rates(meta, fmt, source_sampling_rate, sampling_rate)
        self.metadata = meta
        self._h5: list[h5py.File] | None = None
        self._index(names, meta)

    # ------------------------------------------------------------------ setup
    def _resolve_dimensions(self, declared, fmt) -> None:
        dims = declared or fmt.get("dimension_order")
        self._dims_assumed = dims is None
        if dims is None:
            dims = STEAD_DEFAULTS["dimension_order"] if self.layout == "stead" else "CW"
            if self.layout == "seisbench":
                warnings.warn(f"{self.h5_path}: data_format/dimension_order missing: reading traces as 'CW' "
                              "(channels first), as SeisBench does; pass source_dimension_order= if not", stacklevel=3)
        dims = str(dims).upper().replace("N", "")
        if dims not in ("CW", "WC"):
            raise ValueError(f"{self.h5_path}: data_format/dimension_order: expected 'CW' or 'WC', got {dims!r}")
        self.dimension_order = dims

    def _resolve_orders(self, meta, fmt, declared, target) -> None:
        where = f"{self.path / METADATA_FILE}"
        default = STEAD_DEFAULTS["component_order"] if self.layout == "stead" else "ZNE"
        if declared is not None:
            per_row = pd.Series([lay.as_order(declared, "source_component_order")] * len(meta), dtype=object)
        else:
            disk = lay.as_order(fmt["component_order"], f"{self.h5_path}: data_format") if "component_order" in fmt \
                else None
            per_row = pd.Series([disk or default] * len(meta), dtype=object)
            if "trace_component_order" in meta.columns:
                given = meta["trace_component_order"]
                per_row = given.where(given.notna() & (given.astype(str) != ""), per_row).astype(object)
        codes, uniques = pd.factorize(per_row.map(lambda o: o if isinstance(o, str) else "\x00".join(o)))
        converted = [lay.as_order(u if "\x00" not in u else tuple(u.split("\x00")), f"{where}: trace_component_order")
                     for u in uniques]
        self._orders = list(dict.fromkeys(converted)) or [default]
        self._order = np.array([self._orders.index(c) for c in converted], np.int64)[codes] if len(codes) else \
            np.zeros(0, np.int64)
        if target is None:
            disk = fmt.get("component_order") if declared is None else declared
            target = disk if disk is not None else self._orders[int(np.bincount(self._order).argmax())] if len(meta) \
                else default
        self.component_order = lay.as_order(target, "component_order")
        self._mappings = [lay.component_mapping(o, self.component_order, self.missing_components) for o in self._orders]
        lacking = [o for o in self._orders if set(self.component_order) - set(o)]
        if lacking:
            warnings.warn(f"{self.path}: traces with components {lacking[:3]} lack some of {self.component_order!r}: "
                          f"missing_components={self.missing_components!r}", stacklevel=3)

    def _resolve_rates(self, meta, fmt, declared, target) -> None:
        default = STEAD_DEFAULTS["sampling_rate"] if self.layout == "stead" else None
        src = lay.source_rates(meta, fmt, declared, default, str(self.h5_path))
        self._src_rate = src
        if target is not None:
            target = float(target)
            if not (np.isfinite(target) and target > 0):
                raise ValueError(f"sampling_rate: expected a positive number of Hz, got {target!r}")
            self.sampling_rate = target
            factor = target / src
            if not np.all([lay.same_rate(s, target) for s in np.unique(src)]):
                for col in [c for c in meta.columns if c.endswith("_sample")]:
                    if meta[col].dtype.kind in "iuf":
                        meta[col] = meta[col] * factor
                meta["trace_source_sampling_rate_hz"] = src
        else:
            if len(src) and not np.all(np.abs(src / src[0] - 1) < lay.RATE_EPS):
                raise ValueError(f"{self.path}: traces at several sampling rates {sorted(set(src.tolist()))[:5]} Hz "
                                 "(expected one; pass sampling_rate= to resample them on read)")
            self.sampling_rate = float(src[0]) if len(src) else float(fmt.get("sampling_rate", default or np.nan))
        meta["trace_sampling_rate_hz"] = self.sampling_rate if target is not None else src
        if "trace_dt_s" in meta.columns:
            meta["trace_dt_s"] = 1.0 / meta["trace_sampling_rate_hz"]
        self._rate_codes, self._rates = pd.factorize(src)
        self._rates = np.asarray(self._rates, np.float64)

    def _trace_shape(self, pos: int, h5: h5py.File | None = None) -> tuple[int, int]:
        """(T, C) of the trace at metadata row ``pos`` as returned."""
        t, _ = self._disk_shape(pos, h5)
        return (lay.resampled_length(t, self._src_rate[pos], self.sampling_rate),
                len(self._mappings[self._order[pos]]))

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
        """Close the HDF5 handles opened by :meth:`get_waveforms` (reopened on demand)."""
        for h5 in self._h5 or ():
            h5.close()
        self._h5 = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_h5"] = None
        return state

    def trace_shape(self, index: int) -> tuple[int, int]:
        """Shape ``(T, C)`` of trace ``index`` as :meth:`get_waveforms` returns it."""
        return self._trace_shape(int(np.arange(len(self))[index]))

    def trace_places(self) -> np.ndarray:
        """Where each row's samples live (``file:dataset:row:slice``): equal strings are the same stored trace."""
        sel = [repr(s) for s in self._selections]
        return np.array([f"{self._dset_file[d]}:{self._datasets[d]}:{r}:{sel[s] if r >= 0 else ''}"
                         for d, r, s in zip(self._dset, self._row, self._sel)], dtype=object)

    def blocks(self) -> list[Block]:
        """Groups of metadata rows stored contiguously, each readable with one h5py slice.

        Returns:
            Blocks ordered by file, dataset and row; every metadata row is in exactly one block.
        """
        out: list[Block] = []
        for chunk in self.runs(np.arange(len(self))):
            p0 = chunk[0]
            row = self._row[p0]
            start, stop = (None, None) if row < 0 else (int(row), int(row) + len(chunk))
            d = self._dset[p0]
            out.append(Block(self._datasets[d], start, stop, chunk, int(self._dset_file[d])))
        return out

    def read_run(self, h5, positions: np.ndarray, *, window: tuple[int, int] | None = None,
                 components: str | None = None) -> np.ndarray:
        """Read metadata rows ``positions`` that lie in consecutive rows of one dataset.

        Args:
            h5: the open ``waveforms.hdf5`` (read-only handle owned by the caller), or any
                mapping from dataset path to h5py dataset; for a chunked store a sequence of
                them, one per :attr:`h5_paths` entry.
            positions: metadata rows of one run (see :meth:`runs`), or one row of a per-trace dataset.
            window: ``(start, length)`` crop in output samples (read from disk without the rest
                unless the trace is resampled).
            components: output channel order (a permutation of :attr:`component_order`).

        Returns:
            float32 array ``(n, T, C)``.
        """
        p0 = int(positions[0])
        d = self._dset[p0]
        if isinstance(h5, (list, tuple)):
            h5 = h5[self._dset_file[d]]
        row0 = self._row[p0]
        sel = list(self._selections[self._sel[p0]]) if row0 >= 0 else []
        sel += [slice(None)] * (2 - len(sel))
        t_axis = 1 if self.dimension_order == "CW" else 0
        src = self._src_rate[p0]
        resample = not lay.same_rate(src, self.sampling_rate)
        if window is not None:
            start, length = int(window[0]), int(window[1])
            n_t = self._trace_shape(p0)[0]
            if start < 0 or length <= 0 or start + length > n_t:
                raise ValueError(f"window: ({start}, {length}) does not fit trace "
                                 f"{self.metadata['trace_name'].iat[p0]!r} of {n_t} samples")
            if not resample:
                base = sel[t_axis].indices(self._shapes[d][-2 + t_axis])[0]
                sel[t_axis] = slice(base + start, base + start + length)
        ds = h5[self._datasets[d]]
        source = (slice(int(row0), int(row0) + len(positions)), *sel) if row0 >= 0 else tuple(sel)
        shape = [len(range(*s.indices(n))) for s, n in zip(source, ds.shape)]
        data = empty_aligned(shape)  # read_direct: HDF5 converts the type, no temporary
        if data.size:
            ds.read_direct(data, source)
        if row0 < 0:
            data = data[None]
        if data.shape[1 + (self.dimension_order == "WC")] != len(self._orders[self._order[p0]]):
            self._check_channels(p0, data.shape[1 + (self.dimension_order == "WC")])
        if self.dimension_order == "CW":
            data = _channels_last(data)
        if resample:  # SeisBench's resampling, on the stored dtype (float32), along the samples
            data = lay.resample(data, src, self.sampling_rate, axis=1, zero_phase=self.zero_phase).astype(np.float32)
            if window is not None:
                data = data[:, start:start + length]
        mapping = self._mappings[self._order[p0]]
        if mapping != list(range(data.shape[2])):
            if len(data) and data.shape[2] in mapping:  # "pad": a zero channel at index C
                data = np.concatenate([data, np.zeros((*data.shape[:2], 1), np.float32)], axis=2)
            data = data[..., mapping]
        if self.check_finite and not np.isfinite(data).all():
            bad = int(positions[np.flatnonzero(~np.isfinite(data).reshape(len(data), -1).all(1))[0]])
            raise ValueError(f"{self.h5_paths[self._dset_file[d]]}: trace_name {self.metadata['trace_name'].iat[bad]!r} "
                             "holds NaN/inf samples")
        if components is not None and components != self.component_order:
            if sorted(components) != sorted(self.component_order):
                raise ValueError(f"components: {components!r} is not a reordering of {self.component_order!r}")
            data = data[..., [self.component_order.index(c) for c in components]]
        return np.ascontiguousarray(data)

    def runs(self, positions: Iterable[int], max_len: int | None = None, *, sort: bool = True) -> list[np.ndarray]:
        """Split metadata rows into runs readable with :meth:`read_run` (each in row order).

        A run is consecutive rows of one dataset with one slice, one component order and one
        sampling rate on disk.

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
        o, q = self._order[pos], self._rate_codes[pos]
        cut = np.flatnonzero((np.diff(d) != 0) | (np.diff(s) != 0) | (np.diff(r) != 1) | (r[1:] < 0)
                             | (np.diff(o) != 0) | (np.diff(q) != 0)) + 1
        runs = np.split(pos, cut)
        if max_len:
            runs = [c for run in runs for c in np.array_split(run, -(-len(run) // max_len))]
        return runs

    def open_files(self) -> list[h5py.File]:
        """Read-only handles on every waveform file, opened once and kept until :meth:`close`."""
        if self._h5 is None:
            self._h5 = [open_read_only(p) for p in self.h5_paths]
        return self._h5

    def get_waveforms(self, idx, *, window: tuple[int, int] | None = None,
                      components: str | None = None) -> np.ndarray:
        """Waveforms of metadata rows ``idx`` (int, slice, or array of ints/bools).

        Args:
            idx: an int gives one trace ``(T, C)``; anything else a batch ``(N, T, C)`` in the
                order asked for.
            window: ``(start, length)`` crop in output samples.
            components: output channel order, default :attr:`component_order`.

        Returns:
            float32 channels-last array at :attr:`sampling_rate`.
        """
        single = isinstance(idx, (int, np.integer))
        pos = np.atleast_1d(np.arange(len(self))[idx])
        handles = self.open_files()
        where = {int(p): i for i, p in enumerate(pos)}
        if len(where) != len(pos):
            uniq, inv = np.unique(pos, return_inverse=True)
            return self.get_waveforms(uniq, window=window, components=components)[inv]
        out = None
        for run in self.runs(pos):
            data = self.read_run(handles, run, window=window, components=components)
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
