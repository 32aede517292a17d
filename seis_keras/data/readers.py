"""Readers for published data layouts: the Norcia traces of Laurenti et al. 2024 on Zenodo.

Zenodo 10.5281/zenodo.12806081 (SPEC §2) holds, per station ``STA`` and period
``pre``/``post`` (before/after the 2016-10-30 Norcia mainshock)::

    {root}/{STA}/{STA}_waveforms_{pre|post}.hdf5    one dataset per trace at the file root,
                                                    named like NRCA.IV.100019941_EV,
                                                    shape (3, 2500) float64, 100 Hz
    {root}/{STA}/{STA}_attributes_{pre|post}.csv    trace_name, trace_start_time, network_code,
                                                    receiver_*, source_*, p_travel_sec

Traces start 5 s before the theoretical P arrival and last 25 s. Some datasets hold fewer than
3 rows (or fewer samples): those traces are skipped and reported, never padded. The order of
the 3 rows is not documented (E,N,Z or N,E,Z): it is the ``component_order`` setting, and the
output is always reordered to ``"ENZ"``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import h5py
import numpy as np
import pandas as pd

from seis_keras.data.store import STEAD_COLUMNS, StoreWriter

#: Zenodo attribute column -> SeisBench column: the release uses STEAD's column names.
NORCIA_COLUMNS = STEAD_COLUMNS
OUTPUT_ORDER = "ENZ"


def norcia_files(root, station: str, period: str) -> tuple[Path, Path]:
    """Paths of the waveform HDF5 and attribute CSV of one station and period."""
    folder = Path(root) / station
    return folder / f"{station}_waveforms_{period}.hdf5", folder / f"{station}_attributes_{period}.csv"


def _stations(root: Path, stations: Sequence[str] | None) -> list[str]:
    if stations is not None:
        return list(stations)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: Norcia data folder missing")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob(f"{p.name}_waveforms_*.hdf5")))
    if not found:
        raise FileNotFoundError(f"{root}: no {{STA}}/{{STA}}_waveforms_{{pre|post}}.hdf5 files found")
    return found


def iter_norcia_traces(root, stations: Sequence[str] | None = None, periods: Sequence[str] = ("pre", "post"),
                       component_order: str = "ENZ", n_samples: int = 2500, sampling_rate: float = 100.0,
                       p_arrival_sample: int | None = 500) -> Iterator[tuple[np.ndarray | None, dict, tuple | None]]:
    """Yield the Norcia traces one at a time, reordered to ENZ, with their metadata.

    Args:
        root: the unpacked Zenodo folder.
        stations: station codes (default: every ``{STA}`` folder holding waveform files).
        periods: any of ``"pre"``, ``"post"``.
        component_order: order of the 3 rows on disk (``"ENZ"`` default, or ``"NEZ"`` ...).
        n_samples: expected samples per trace (2500 = 25 s at 100 Hz).
        sampling_rate: Hz, stored as ``trace_sampling_rate_hz``.
        p_arrival_sample: sample of the theoretical P arrival (5 s at 100 Hz = 500), stored as
            ``trace_p_arrival_sample``; ``None`` leaves the column out.

    Yields:
        ``(waveform (n_samples, 3) float32, metadata dict, None)`` for a good trace, or
        ``(None, {}, (file, trace_name, reason))`` for a skipped one.
    """
    if sorted(component_order) != sorted(OUTPUT_ORDER):
        raise ValueError(f"component_order: expected a reordering of {OUTPUT_ORDER!r}, got {component_order!r}")
    order = [component_order.index(c) for c in OUTPUT_ORDER]
    root = Path(root)
    for station in _stations(root, stations):
        for period in periods:
            if period not in ("pre", "post"):
                raise ValueError(f"periods: expected 'pre' or 'post', got {period!r}")
            h5_path, csv_path = norcia_files(root, station, period)
            for p in (h5_path, csv_path):
                if not p.is_file():
                    raise FileNotFoundError(f"{p}: file missing (station {station}, period {period})")
            try:
                table = pd.read_csv(csv_path)
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
                raise ValueError(f"{csv_path}: cannot parse as CSV: {err}") from None
            if "trace_name" not in table.columns:
                raise ValueError(f"{csv_path}: column 'trace_name' missing")
            table = table.rename(columns={k: v for k, v in NORCIA_COLUMNS.items() if v not in table.columns})
            try:
                h5 = h5py.File(h5_path, "r")
            except OSError as err:
                raise ValueError(f"{h5_path}: cannot open as HDF5 (truncated or corrupt?): {err}") from None
            with h5:
                for row in table.to_dict("records"):
                    name = str(row["trace_name"])
                    node = h5.get(name)
                    if not isinstance(node, h5py.Dataset):
                        yield None, {}, (str(h5_path), name, "not in the HDF5 file")
                        continue
                    if node.shape != (3, n_samples):
                        yield None, {}, (str(h5_path), name, f"shape {node.shape}, expected (3, {n_samples})")
                        continue
                    wave = np.asarray(node[()], np.float32)[order].T
                    if not np.isfinite(wave).all():
                        yield None, {}, (str(h5_path), name, "NaN/inf samples")
                        continue
                    row.setdefault("station_code", station)
                    row["period"] = period
                    row["trace_sampling_rate_hz"] = sampling_rate
                    if p_arrival_sample is not None:
                        row["trace_p_arrival_sample"] = p_arrival_sample
                    yield np.ascontiguousarray(wave), row, None


def read_norcia_zenodo(root, stations: Sequence[str] | None = None, periods: Sequence[str] = ("pre", "post"),
                       component_order: str = "ENZ", **settings):
    """Read the Norcia traces into memory (for small selections; see :func:`convert_norcia_zenodo`).

    Args:
        root, stations, periods, component_order, settings: as :func:`iter_norcia_traces`.

    Returns:
        ``(waveforms (N, 2500, 3) float32 in ENZ order, metadata DataFrame (SeisBench column
        names, plus ``period``), skipped list of (file, trace_name, reason))``.
    """
    waves, rows, skipped = [], [], []
    for wave, row, skip in iter_norcia_traces(root, stations, periods, component_order, **settings):
        if skip is not None:
            skipped.append(skip)
        else:
            waves.append(wave)
            rows.append(row)
    n_samples = settings.get("n_samples", 2500)
    x = np.stack(waves) if waves else np.empty((0, n_samples, 3), np.float32)
    return x, pd.DataFrame.from_records(rows), skipped


def convert_norcia_zenodo(root, out_path, stations: Sequence[str] | None = None,
                          periods: Sequence[str] = ("pre", "post"), component_order: str = "ENZ",
                          block_size: int = 1024, overwrite: bool = False, **settings):
    """Stream the Norcia traces into a store (one block in memory at a time).

    Args:
        root, stations, periods, component_order, settings: as :func:`iter_norcia_traces`.
        out_path: the store folder to write (appears atomically when complete).
        block_size: traces per HDF5 block of the store.
        overwrite: replace an existing store folder written by seis_keras (nothing else).

    Returns:
        ``(out_path, skipped)`` with ``skipped`` as in :func:`read_norcia_zenodo`.

    Raises:
        ValueError: every trace was skipped (the message gives the reasons); nothing is written.
    """
    skipped = []
    rate = settings.get("sampling_rate", 100.0)
    with StoreWriter(out_path, sampling_rate=rate, component_order=OUTPUT_ORDER, block_size=block_size,
                     overwrite=overwrite) as writer:
        for wave, row, skip in iter_norcia_traces(root, stations, periods, component_order, **settings):
            if skip is not None:
                skipped.append(skip)
            else:
                writer.add(wave, **row)
        if len(writer) == 0:
            reasons = sorted({reason for _, _, reason in skipped})
            raise ValueError(f"{root}: no trace to convert ({len(skipped)} skipped: {'; '.join(reasons[:4]) or 'none listed'}"
                             f"{'; first ' + skipped[0][0] + ' ' + skipped[0][1] if skipped else ''}); nothing was written")
    return Path(out_path), skipped
