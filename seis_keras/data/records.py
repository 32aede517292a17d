"""Continuous obspy data as arrays on one sampling grid, and event records cut from it into a store.

Two steps for data that are long records rather than short windows (the ``seis_keras.scan``
input, Ong et al.'s 10 h before each earthquake):

1. :func:`continuous_stations` — per station (``network.station.location``): each trace's
   component is found with :func:`seis_keras.data.ingest.component_of`, every contiguous
   segment is resampled to ``sampling_rate`` with the FFT resampling of
   :mod:`seis_keras.data.ingest` (obspy ``Trace.resample``, Hann taper, no pre-filter),
   the segments of a component are merged on one grid with a gap mask, and the components
   are cut to their common time span. NaN/inf samples are refused (FFT resampling would
   spread them over the whole segment).
2. :func:`records_from_files` — obspy-readable files and a table of events become a
   :class:`~seis_keras.data.store.WaveformStore` of records: for each event the
   ``seconds_before`` before its origin, for each unrelated (noise) row its
   ``start_time`` … ``end_time``; a record not covered by the data without gaps is an error
   naming the table's row.
"""
from __future__ import annotations

import glob
import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import obspy
import pandas as pd

from seis_keras.data.ingest import group_by_station, merge_channel, read_stream
from seis_keras.data.resampling import resample_traces
from seis_keras.data.store import StoreWriter

#: Resampling of every segment (the ``stream_to_windows`` defaults): FFT, Hann taper, no pre-filter.
RESAMPLING = {"method": "resample", "anti_alias": True, "window": "hann", "interpolation": "lanczos",
              "corner": 0.8}

#: Columns of the events table of :func:`records_from_files`.
EVENT_COLUMNS = ("origin_time", "split")


def continuous_stations(stream, *, sampling_rate: float, component_order: str,
                        channel_map: Mapping[str, str] | None = None) -> list[dict]:
    """Each station's components resampled and merged on one grid, cut to their common span.

    Args:
        stream: ``obspy.Stream`` (one or more stations; several segments per channel allowed).
        sampling_rate: target rate in Hz.
        component_order: order of the output channels (``"ENZ"``, ``"12Z"``).
        channel_map: explicit channel code -> component letter (see ``ingest.component_of``).

    Returns:
        One dict per station, stations sorted: ``id`` (``NET.STA.LOC``), ``channel`` (band +
        instrument code), ``start`` (``UTCDateTime`` of sample 0), ``data`` ``(T, C)`` float32
        in ``component_order``, ``gap`` ``(T,)`` bool (True where a component has no data;
        ``data`` is 0 there).

    Raises:
        ValueError: NaN/inf samples (naming the trace), a channel that maps to no component, a
            station missing a component, or components that do not overlap in time.
    """
    fs = float(sampling_rate)
    for tr in stream:
        values = np.ma.getdata(tr.data)
        bad = ~np.isfinite(values) & ~np.ma.getmaskarray(tr.data)
        if bad.any():  # FFT resampling would spread them over the whole segment: NaN probabilities
            raise ValueError(f"{tr.id}: {int(bad.sum())} NaN/inf samples from {tr.stats.starttime} (expected finite "
                             "values; mask or remove them)")
    out = []
    for (net, sta, loc), comps in group_by_station(stream, component_order, channel_map=channel_map,
                                                   source="stream").items():
        order = [(c, t) for c in component_order for t in comps[c]]  # every segment of the station at once
        resampled = resample_traces([t for _, t in order], fs, RESAMPLING["method"], RESAMPLING["anti_alias"],
                                    RESAMPLING["window"], RESAMPLING["interpolation"], RESAMPLING["corner"])
        chans = {c: merge_channel([r for (cc, _), r in zip(order, resampled) if cc == c], fs) for c in component_order}
        t0 = max(ch.start for ch in chans.values())
        t1 = min(ch.start + (len(ch.data) - 1) / fs for ch in chans.values())
        n = int(math.floor((t1 - t0) * fs + 1e-6)) + 1
        if n < 1:
            raise ValueError(f"{net}.{sta}.{loc}: the components do not overlap in time")
        data = np.zeros((n, len(component_order)), np.float32)
        gap = np.zeros(n, bool)
        for j, c in enumerate(component_order):
            ch = chans[c]
            i0 = int(round((t0 - ch.start) * fs))
            data[:, j] = ch.data[i0:i0 + n]
            gap |= ch.gap[i0:i0 + n]
        band = comps[component_order[0]][0].stats.channel[:-1]
        out.append({"id": f"{net}.{sta}.{loc}", "channel": band, "start": t0, "data": data, "gap": gap})
    return out


def waveform_files(pattern: str | os.PathLike | Sequence) -> list[str]:
    """The files of a folder (every file in it), a glob pattern, or a list of paths, sorted.

    Raises:
        ValueError: nothing matches.
    """
    if not isinstance(pattern, (str, os.PathLike)):
        files = sorted(str(p) for p in pattern)
    elif os.path.isdir(pattern):
        files = sorted(glob.glob(os.path.join(str(pattern), "*")))
    else:
        files = sorted(glob.glob(str(pattern)))
    if not files:
        raise ValueError(f"{pattern}: no waveform files found (expected a folder, a glob pattern or files obspy reads)")
    return files


def read_events_table(path: str | os.PathLike) -> pd.DataFrame:
    """The events table of :func:`records_from_files` (all columns as strings, blanks ``""``).

    Columns: ``origin_time`` (UTC) and ``split`` per event; optional ``source_id``; rows with
    ``record_kind`` other than ``event`` (``noise``, ``noise_b``) give ``start_time`` and
    ``end_time`` of a record unrelated to any event instead of an origin time.

    Raises:
        ValueError: unreadable, or a column missing (naming the file).
    """
    try:
        ev = pd.read_csv(path, dtype=str).fillna("")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the events CSV ({exc})") from None
    for col in EVENT_COLUMNS:
        if col not in ev.columns and not (col == "origin_time" and "start_time" in ev.columns):
            raise ValueError(f"{path}: column {col!r} missing (expected origin_time, split)")
    return ev


def records_from_files(files, events_csv: str | os.PathLike, out: str | os.PathLike, *, sampling_rate: float,
                       component_order: str, seconds_before: float) -> Path:
    """Cut obspy-readable continuous data into a store of event (and noise) records.

    Args:
        files: a folder (every file in it), a glob pattern or a list of paths (:func:`waveform_files`).
        events_csv: the events table (:func:`read_events_table`).
        out: folder of the store to write (one record per row, block size 1).
        sampling_rate: rate of the records in Hz (the data are resampled to it).
        component_order: channel order of the records (``"12Z"``).
        seconds_before: length of an event record, ending at its origin time.

    Returns:
        ``out``. Metadata per record: ``source_id`` (the table's, else ``<kind><row>``),
        ``record_kind``, ``split``, ``trace_start_time``, ``source_origin_time`` (events; ""
        for noise), ``station_code``. Only the first station of the data is used.

    Raises:
        ValueError: no files, an unreadable file or table, or a row whose span the data do
            not cover without gaps (naming the table and the row, 1-based).
    """
    ev = read_events_table(events_csv)
    st = read_stream(waveform_files(files))
    fs = float(sampling_rate)
    with StoreWriter(out, sampling_rate=fs, component_order=component_order, block_size=1) as writer:
        for i, row in ev.iterrows():
            kind = row.get("record_kind", "event") or "event"
            if kind == "event":
                t1 = obspy.UTCDateTime(row["origin_time"])
                t0 = t1 - seconds_before
            else:
                t0, t1 = obspy.UTCDateTime(row["start_time"]), obspy.UTCDateTime(row["end_time"])
            stations = continuous_stations(st.slice(t0 - 1.0, t1 + 1.0), sampling_rate=fs,
                                           component_order=component_order)
            if not stations:
                raise ValueError(f"{events_csv}: row {i + 1}: no data between {t0} and {t1}")
            sta = stations[0]
            i0 = int(round((t0 - sta["start"]) * fs))
            n = int(round((t1 - t0) * fs))
            if i0 < 0 or i0 + n > len(sta["data"]) or sta["gap"][max(i0, 0):i0 + n].any():
                raise ValueError(f"{events_csv}: row {i + 1}: the records do not cover {t0} - {t1} without gaps")
            meta = {"source_id": row.get("source_id") or f"{kind}{i:03d}", "record_kind": kind,
                    "split": row.get("split", ""), "trace_start_time": str(t0),
                    "source_origin_time": str(t1) if kind == "event" else "", "station_code": sta["id"].split(".")[1]}
            writer.add_many(sta["data"][i0:i0 + n][None], pd.DataFrame([meta]))
    return Path(out)


__all__: Sequence[str] = ("continuous_stations", "records_from_files", "read_events_table", "waveform_files")
