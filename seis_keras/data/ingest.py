"""obspy -> windows -> store: cut any obspy ``Stream`` (or files obspy reads) into windows.

The steps, in order, for each station (``network.station.location``) of a stream:

1. **Channel mapping.** Each trace's component letter is the last letter of its channel
   code (``EHZ`` -> ``Z``), looked up in ``component_order`` (``"ENZ"``). Stations with
   numbered horizontals (``BH1``/``BH2``) are mapped through ``numbered_components``
   (default ``{"1": "N", "2": "E"}``: the numbers are taken as north/east *without*
   rotation by the sensor azimuth), unless ``component_order`` itself holds the digits
   (``"12Z"``). An explicit ``channel_map`` (``{"BH1": "N", "BH2": "E", "BHZ": "Z"}``)
   overrides both. A trace that maps to no component, or a station missing a component,
   is an error naming the trace.
2. **Resampling** to ``sampling_rate``, each contiguous segment on its own (so gaps never
   leak into the data). ``resample_method="resample"`` is obspy's FFT resampling
   (``Trace.resample``, a ``resample_window`` taper in the frequency domain, obspy's
   default ``"hann"``; computed by :mod:`seis_keras.data.resampling`, within 1e-13 of obspy's
   output): the spectrum is cut at the new Nyquist
   frequency, which is the anti-alias filter (obspy's optional causal Chebyshev pre-filter
   delays the signal: not used).
   ``"interpolate"`` uses ``Trace.interpolate`` (``interpolation``, default ``"lanczos"`` with
   ``LANCZOS_A`` = 20 lobes), after a zero-phase 8-pole Butterworth low-pass at ``anti_alias_corner``
   (0.8) times the new Nyquist frequency when it downsamples with ``anti_alias=True``.
3. **Merging with an overlap and a gap policy.** Segments that overlap with different
   samples are refused (``overlap_policy="reject"``) or their overlap becomes a gap
   (``"mask"``, obspy's ``Stream.merge(method=0)`` policy); identical overlaps are merged
   (:mod:`seis_keras.data.segments`). Segments of a channel are merged on the target
   sampling grid; samples not covered by data are gaps. ``gap_policy="reject"`` drops
   every window touching a gap (listed in ``metadata.attrs["rejected_windows"]``);
   ``"fill"`` keeps it, fills the gap (``gap_fill="zeros"`` or ``"interpolate"``:
   linear between the samples bounding the gap) and sets ``trace_gap_filled`` True.
4. **Windows**: ``window_s`` long, either around picks (``picks`` DataFrame with
   ``station`` and ``time`` columns, the window starting ``pick_offset_s`` before the
   pick) or sliding from the station's first common sample with ``stride_s``. A window
   holding no data at all (a pick outside the record) is dropped and listed whatever the
   gap policy; :func:`ingest` refuses to write a store without windows and says why
   (window longer than the record, picks outside it or for stations not in the data,
   every window rejected).

Metadata columns use SeisBench names (``trace_start_time`` ISO UTC,
``station_network_code``, ``station_code``, ``trace_p_arrival_sample`` when a P pick falls
inside the window, ...). Channels are aligned to the nearest sample of the window's grid
(at most half a sample apart).
"""
from __future__ import annotations

import glob
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from seis_keras.data.resampling import (LANCZOS_A, _fft_window, resample_trace,  # noqa: F401 (re-exported)
                                        resample_traces)
from seis_keras.data.segments import OVERLAP_POLICIES, cut, fill_linear, merge_channel, overlap_conflicts

log = logging.getLogger(__name__)

GAP_POLICIES = ("reject", "fill")
GAP_FILLS = ("zeros", "interpolate")
RESAMPLE_METHODS = ("resample", "interpolate")
DEFAULT_NUMBERED = {"1": "N", "2": "E"}


def component_of(channel: str, component_order: str, *, channel_map: Mapping[str, str] | None = None,
                 numbered_components: Mapping[str, str] | None = None, trace_id: str = "") -> str:
    """The component letter (one of ``component_order``) that a channel code stands for.

    Args:
        channel: SEED channel code (``"EHZ"``, ``"BH1"``).
        component_order: the target components (``"ENZ"``, ``"ZNE"``, ``"12Z"``).
        channel_map: explicit channel code -> component letter; wins when it names the channel.
        numbered_components: digit -> letter for numbered horizontals (default 1 -> N, 2 -> E);
            only used when ``component_order`` does not hold the digit itself.
        trace_id: named in the error message.

    Returns:
        One letter of ``component_order``.
    """
    numbered = DEFAULT_NUMBERED if numbered_components is None else numbered_components
    if channel_map and channel in channel_map:
        letter = channel_map[channel]
    else:
        letter = channel[-1:] if channel else ""
        if letter not in component_order and letter in numbered:
            letter = numbered[letter]
    if letter not in component_order or not letter:
        raise ValueError(f"{trace_id or channel}: channel {channel!r} maps to no component of "
                         f"{component_order!r} (expected a channel ending in one of "
                         f"{list(component_order)}, or set channel_map / numbered_components)")
    return letter


def group_by_station(stream, component_order: str, *, channel_map: Mapping[str, str] | None = None,
                     numbered_components: str | None = None, source: str = "stream") -> dict:
    """Traces by ``(network, station, location)``, then by component letter, stations sorted.

    Raises:
        ValueError: a channel that maps to no component, or a station lacking one of
            ``component_order`` (naming ``source``, the station and the channels it has).
    """
    stations: dict[tuple, dict[str, list]] = {}
    for tr in stream:
        s = tr.stats
        letter = component_of(s.channel, component_order, channel_map=channel_map,
                              numbered_components=numbered_components, trace_id=f"{source}: {tr.id}")
        stations.setdefault((s.network, s.station, s.location), {}).setdefault(letter, []).append(tr)
    for (net, sta, loc), comps in stations.items():
        missing = [c for c in component_order if c not in comps]
        if missing:
            have = sorted({t.stats.channel for trs in comps.values() for t in trs})
            raise ValueError(f"{source}: {net}.{sta}.{loc}: component {missing[0]!r} missing "
                             f"(have channels {have}, expected all of {component_order!r})")
    return dict(sorted(stations.items()))


def _picks_table(picks: pd.DataFrame) -> pd.DataFrame:
    from obspy import UTCDateTime

    for col in ("station", "time"):
        if col not in picks.columns:
            raise ValueError(f"picks: column {col!r} missing (expected station and time columns, "
                             f"optional phase / source_id)")
    out = picks.copy()
    out["pick_time_utc"] = [UTCDateTime(str(t)) for t in out["time"]]
    if "phase" not in out.columns:
        out["phase"] = "P"
    return out


def _station_picks(picks: pd.DataFrame | None, net: str, sta: str) -> pd.DataFrame | None:
    if picks is None:
        return None
    names = picks["station"].astype(str)
    return picks[(names == sta) | (names == f"{net}.{sta}")]


def stream_to_windows(stream, *, sampling_rate: float, component_order: str = "ENZ", window_s: float,
                      stride_s: float | None = None, picks: pd.DataFrame | None = None,
                      starts: Sequence | None = None,
                      pick_offset_s: float = 5.0, gap_policy: str = "reject", gap_fill: str = "zeros",
                      channel_map: Mapping[str, str] | None = None,
                      numbered_components: Mapping[str, str] | None = None,
                      resample_method: str = "resample", resample_window="hann", anti_alias: bool = True,
                      anti_alias_corner: float = 0.8, interpolation: str = "lanczos", source: str = "stream",
                      overlap_policy: str = "reject"):
    """Cut an obspy stream into fixed-length multi-component windows.

    Args:
        stream: an ``obspy.Stream`` (one or more stations; several segments per channel
            allowed, gaps between them handled by ``gap_policy``).
        sampling_rate: target rate in Hz.
        component_order: order of the output channels (``"ENZ"``, ``"ZNE"``, ``"12Z"``).
        window_s: window length in seconds; ``T = round(window_s * sampling_rate)``.
        stride_s: sliding-window step in seconds. Default: windows around ``picks`` when
            picks are given, else ``window_s`` (back-to-back windows).
        picks: DataFrame with ``station`` (``"STA"`` or ``"NET.STA"``) and ``time`` (UTC),
            optional ``phase`` (``P``/``S``, default P) and ``source_id``.
        starts: explicit window start times (UTC, any form ``obspy.UTCDateTime`` takes),
            the same for every station; overrides ``stride_s`` and pick windows.
        pick_offset_s: with pick windows, how long before the pick the window starts.
        gap_policy: ``"reject"`` (drop windows touching a gap) or ``"fill"``.
        gap_fill: with ``"fill"``: ``"zeros"`` or ``"interpolate"`` (linear).
        channel_map, numbered_components: see :func:`component_of`.
        resample_method: ``"resample"`` (FFT) or ``"interpolate"``.
        resample_window: frequency-domain taper of ``Trace.resample`` (obspy default
            ``"hann"``; ``None`` for plain spectral truncation).
        anti_alias: with ``"interpolate"``, low-pass (zero-phase Butterworth) before
            downsampling (``"resample"`` cuts the spectrum at the new Nyquist anyway).
        anti_alias_corner: that filter's corner as a fraction of the new Nyquist frequency.
        interpolation: ``Trace.interpolate`` method with ``resample_method="interpolate"``.
        source: named in error messages (a file name).
        overlap_policy: segments of a channel overlapping with different samples:
            ``"reject"`` (an error naming the trace and the time span) or ``"mask"`` (the
            overlap becomes a gap, as obspy's ``Stream.merge(method=0)``).

    Returns:
        ``(waves, metadata)``: waves ``(N, T, C)`` float32, channels in
        ``component_order``; metadata a DataFrame with one row per window (SeisBench
        column names). ``metadata.attrs["rejected_windows"]`` lists the windows dropped
        by ``gap_policy="reject"`` or holding no data (dicts with station, start time and
        reason); ``metadata.attrs["empty_reasons"]`` says, per station without any window, why.
    """
    from obspy import UTCDateTime

    if gap_policy not in GAP_POLICIES:
        raise ValueError(f"{source}: gap_policy={gap_policy!r} (expected one of {GAP_POLICIES})")
    if gap_fill not in GAP_FILLS:
        raise ValueError(f"{source}: gap_fill={gap_fill!r} (expected one of {GAP_FILLS})")
    if resample_method not in RESAMPLE_METHODS:
        raise ValueError(f"{source}: resample_method={resample_method!r} (expected one of {RESAMPLE_METHODS})")
    if len(set(component_order)) != len(component_order) or not component_order:
        raise ValueError(f"{source}: component_order={component_order!r} (expected distinct letters, e.g. 'ENZ')")
    if overlap_policy not in OVERLAP_POLICIES:
        raise ValueError(f"{source}: overlap_policy={overlap_policy!r} (expected one of {OVERLAP_POLICIES})")
    if not (np.isfinite(window_s) and np.isfinite(sampling_rate) and window_s > 0 and sampling_rate > 0):
        raise ValueError(f"{source}: window_s and sampling_rate must be positive finite numbers "
                         f"(got {window_s}, {sampling_rate})")
    n_samples = int(round(window_s * sampling_rate))
    pick_table = _picks_table(picks) if picks is not None else None
    around_picks = pick_table is not None and stride_s is None
    stride = window_s if stride_s is None else float(stride_s)
    if not stride > 0 or not np.isfinite(stride):
        raise ValueError(f"{source}: stride_s must be positive, got {stride_s}")

    stations = group_by_station(stream, component_order, channel_map=channel_map,
                                numbered_components=numbered_components, source=source)

    if pick_table is not None:
        have = {n for net, sta, _ in stations for n in (sta, f"{net}.{sta}")}
        unknown = sorted(set(pick_table["station"].astype(str)) - have)
    waves, rows, rejected, empty = [], [], [], []
    if pick_table is not None and unknown:
        empty.append(f"picks for stations not in the data: {unknown[:5]}")
        log.info("%s: picks for stations not in the data: %s", source, unknown[:10])
    for (net, sta, loc), comps in stations.items():
        masked = {}
        for letter, trs in comps.items():
            codes = {t.stats.channel for t in trs}
            if len(codes) > 1:
                raise ValueError(f"{source}: {net}.{sta}.{loc}: channels {sorted(codes)} all map to "
                                 f"component {letter!r} (expected one channel per component)")
            conflicts = overlap_conflicts(trs)
            if conflicts and overlap_policy == "reject":
                tid, t0, t1 = conflicts[0]
                raise ValueError(f"{source}: {tid}: {len(conflicts)} overlapping segment(s) with different samples, "
                                 f"first {t0} to {t1} (expected one version of the data; overlap_policy='mask' "
                                 "makes such overlaps gaps, as obspy's Stream.merge(method=0))")
            masked[letter] = [(t0, t1) for _, t0, t1 in conflicts]
        order = [(c, t) for c in component_order for t in comps[c]]  # every segment of the station at once
        resampled = resample_traces([t for _, t in order], sampling_rate, resample_method, anti_alias,
                                    resample_window, interpolation, anti_alias_corner)
        channels = {c: merge_channel([r for (cc, _), r in zip(order, resampled) if cc == c], sampling_rate, masked[c])
                    for c in component_order}
        band = next(iter(comps[component_order[0]])).stats.channel[:-1]
        t_first = max(ch.start for ch in channels.values())
        t_last = min(ch.start + (len(ch.data) - 1) / sampling_rate for ch in channels.values())
        st_picks = _station_picks(pick_table, net, sta)
        if starts is not None:
            window_starts = [(t if isinstance(t, UTCDateTime) else UTCDateTime(str(t)), None) for t in starts]
        elif around_picks:
            window_starts = [(p.pick_time_utc - pick_offset_s, p) for p in st_picks.itertuples()]
        else:
            count = int(np.floor(((t_last - t_first) * sampling_rate - n_samples + 1)
                                 / (stride * sampling_rate) + 1e-9)) + 1
            window_starts = [(t_first + k * stride, None) for k in range(max(count, 0))]
            if count <= 0:
                empty.append(f"{net}.{sta}.{loc}: record of {max(t_last - t_first, 0) + 1 / sampling_rate:.2f} s "
                             f"(common to all components) is shorter than window_s={window_s:g} s")
        if around_picks and not window_starts:
            empty.append(f"{net}.{sta}.{loc}: no pick for this station")
        n_before = len(rows)
        for t0, pick in window_starts:
            data = np.zeros((n_samples, len(component_order)))
            gap = np.zeros(n_samples, bool)
            for j, c in enumerate(component_order):
                x, g = cut(channels[c], t0, n_samples, sampling_rate)
                data[:, j], gap = x, gap | g
                if g.any() and gap_policy == "fill" and gap_fill == "interpolate":
                    data[:, j] = fill_linear(x, g)
            if gap.all():
                rejected.append({"station": f"{net}.{sta}.{loc}", "trace_start_time": str(t0),
                                 "reason": f"no data in the window (the record spans {t_first} to {t_last})"})
                continue
            if gap.any() and gap_policy == "reject":
                rejected.append({"station": f"{net}.{sta}.{loc}", "trace_start_time": str(t0),
                                 "reason": f"gap of {int(gap.sum())} samples"})
                continue
            finite = np.isfinite(data.astype(np.float32)).all(axis=0)
            if not finite.all():
                raise ValueError(f"{source}: {net}.{sta}.{loc} component {component_order[int(np.argmin(finite))]!r}: "
                                 f"NaN/inf samples in the window starting {t0} (expected finite float32 data)")
            row = {"trace_name": f"{net}.{sta}.{loc}.{band}_{t0.strftime('%Y%m%dT%H%M%S.%f')}",
                   "trace_start_time": str(t0), "trace_sampling_rate_hz": float(sampling_rate),
                   "trace_npts": n_samples, "trace_channel": band,
                   "trace_component_order": component_order,
                   "station_network_code": net, "station_code": sta, "station_location_code": loc,
                   "trace_gap_filled": bool(gap.any()), "trace_gap_samples": int(gap.sum()),
                   "trace_p_arrival_sample": np.nan, "trace_s_arrival_sample": np.nan}
            if pick is not None and "source_id" in st_picks.columns:
                row["source_id"] = pick.source_id
            if st_picks is not None:
                inside = [(p, (p.pick_time_utc - t0) * sampling_rate) for p in st_picks.itertuples()]
                inside = [(p, k) for p, k in inside if -0.5 <= k < n_samples - 0.5]
                # the window's own pick first, then the others in time order
                inside.sort(key=lambda q: (pick is None or q[0].Index != pick.Index, q[1]))
                for p, k in inside:
                    col = f"trace_{str(p.phase).lower()}_arrival_sample"
                    if col in row and np.isnan(row[col]):
                        row[col] = float(round(k))
            waves.append(data.astype(np.float32))
            rows.append(row)
        if window_starts and len(rows) == n_before:
            why = sorted({r["reason"].split(" (")[0] for r in rejected if r["station"] == f"{net}.{sta}.{loc}"})
            empty.append(f"{net}.{sta}.{loc}: all {len(window_starts)} windows rejected ({'; '.join(why)})")
    for r in rejected:
        log.info("%s: rejected window %s at %s (%s)", source, r["station"], r["trace_start_time"], r["reason"])
    arr = (np.stack(waves) if waves else np.zeros((0, n_samples, len(component_order)), np.float32))
    meta = pd.DataFrame(rows)
    meta.attrs["rejected_windows"] = rejected
    meta.attrs["empty_reasons"] = empty
    return arr, meta


@dataclass
class IngestReport:
    """What :func:`ingest` did: windows written, windows rejected, files read."""
    n_windows: int = 0
    files: list[str] = field(default_factory=list)
    rejected_windows: list[dict] = field(default_factory=list)


def _expand(paths_or_stream) -> Iterable:
    from obspy import Stream

    if isinstance(paths_or_stream, Stream):
        yield "stream", paths_or_stream
        return
    if isinstance(paths_or_stream, (str, os.PathLike)):
        paths_or_stream = [paths_or_stream]
    for p in paths_or_stream:
        p = str(p)
        if not (glob.glob(p) if any(ch in p for ch in "*?[") else Path(p).exists()):
            raise FileNotFoundError(f"{p}: no file matches")
        yield p, None


def read_stream(paths, *, file_format: str | None = None):
    """Read files (or glob patterns) obspy can read into one ``obspy.Stream``.

    Args:
        paths: a path or a sequence of them; each is one ``obspy.read`` call.
        file_format: obspy format name (``"MSEED"``); ``None`` lets obspy detect it.

    Raises:
        ValueError: one line naming the file obspy could not read.
    """
    import obspy

    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    stream = obspy.Stream()
    for p in paths:
        try:
            stream += obspy.read(str(p), format=file_format)
        except Exception as exc:  # obspy raises many types for unreadable files
            raise ValueError(f"{p}: obspy cannot read it ({type(exc).__name__}: {exc})") from None
    return stream


def ingest(paths_or_stream, out_store: str | os.PathLike, *, sampling_rate: float,
           component_order: str = "ENZ", window_s: float, file_format: str | None = None,
           block_size: int = 1024, extra_metadata: Mapping[str, object] | None = None,
           overwrite: bool = False, **window_settings) -> IngestReport:
    """Read files (or a stream) one at a time, cut windows, write them to a store.

    Args:
        paths_or_stream: an ``obspy.Stream``, a path, a glob pattern, or a list of them.
            Each entry is read by one ``obspy.read`` call and windowed on its own (a glob
            pattern reads all its matches together, e.g. the component files of one
            station-day); memory holds one entry at a time, windows never span entries.
        out_store: folder of the store to write (SeisBench layout, written atomically by
            ``StoreWriter``).
        sampling_rate, component_order, window_s: see :func:`stream_to_windows`.
        file_format: obspy format name (``"MSEED"``); ``None`` lets obspy detect it.
        block_size: traces per HDF5 block of the store.
        extra_metadata: columns added to every row (``{"split": "train"}``).
        overwrite: replace an existing store folder written by seis_keras (never any other
            folder or file; without it an existing ``out_store`` is an error).
        **window_settings: the other keyword arguments of :func:`stream_to_windows`.

    Returns:
        An :class:`IngestReport`. Rejected windows are also written to
        ``rejected_windows.csv`` beside the store's files when there are any.

    Raises:
        ValueError: no window at all (the message gives the reasons, per station); nothing is
            written then.
    """
    from seis_keras.data.store import StoreWriter

    report = IngestReport()
    reasons: list[str] = []
    with StoreWriter(out_store, sampling_rate=sampling_rate, component_order=component_order,
                     block_size=block_size, overwrite=overwrite) as writer:
        for name, stream in _expand(paths_or_stream):
            if stream is None:
                stream = read_stream(name, file_format=file_format)
            waves, meta = stream_to_windows(stream, sampling_rate=sampling_rate, component_order=component_order,
                                            window_s=window_s, source=name, **window_settings)
            for key, value in (extra_metadata or {}).items():
                meta[key] = value
            if len(meta):
                meta["trace_source_file"] = name
                writer.add_many(waves, meta)
            report.n_windows += len(meta)
            report.files.append(name)
            report.rejected_windows += [dict(r, file=name) for r in meta.attrs["rejected_windows"]]
            reasons += [f"{name}: {why}" for why in meta.attrs["empty_reasons"]]
        if report.n_windows == 0:
            picks = window_settings.get("picks")
            if picks is not None and len(picks) == 0:
                reasons.insert(0, "the picks table is empty")
            raise ValueError(f"{out_store}: no windows to write from {len(report.files)} input(s): "
                             + ("; ".join(reasons[:4]) or "no station in the data")
                             + (f" (+{len(reasons) - 4} more)" if len(reasons) > 4 else "") + "; nothing was written")
        if report.rejected_windows:
            writer.add_file("rejected_windows.csv", pd.DataFrame(report.rejected_windows).to_csv(index=False))
    return report


def read_picks(path: str | os.PathLike) -> pd.DataFrame:
    """Read a picks CSV (columns ``station``, ``time``, optional ``phase``, ``source_id``)."""
    path = Path(path)
    try:
        picks = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read picks CSV ({exc})") from exc
    for col in ("station", "time"):
        if col not in picks.columns:
            raise ValueError(f"{path}: column {col!r} missing (expected station and time columns)")
    return picks


__all__: Sequence[str] = ("component_of", "stream_to_windows", "ingest", "IngestReport", "read_picks")
