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
   default ``"hann"``): the spectrum is cut at the new Nyquist frequency, which is the
   anti-alias filter (obspy's optional causal Chebyshev pre-filter is not used: it
   delays the signal). ``"interpolate"`` uses ``Trace.interpolate`` (``interpolation``,
   default ``"lanczos"`` with ``LANCZOS_A`` = 20 lobes); when it downsamples with ``anti_alias=True`` the trace is first
   low-passed with a zero-phase 8-pole Butterworth filter at ``anti_alias_corner`` times
   the new Nyquist frequency (default 0.8).
3. **Merging with a gap policy.** Segments of a channel are merged on the target
   sampling grid; samples not covered by data are gaps. ``gap_policy="reject"`` drops
   every window touching a gap (listed in ``metadata.attrs["rejected_windows"]``);
   ``"fill"`` keeps it, fills the gap (``gap_fill="zeros"`` or ``"interpolate"``:
   linear between the samples bounding the gap) and sets ``trace_gap_filled`` True.
4. **Windows**: ``window_s`` long, either around picks (``picks`` DataFrame with
   ``station`` and ``time`` columns, the window starting ``pick_offset_s`` before the
   pick) or sliding from the station's first common sample with ``stride_s``.

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

log = logging.getLogger(__name__)

GAP_POLICIES = ("reject", "fill")
GAP_FILLS = ("zeros", "interpolate")
RESAMPLE_METHODS = ("resample", "interpolate")
DEFAULT_NUMBERED = {"1": "N", "2": "E"}
LANCZOS_A = 20  # width (samples each side) of the Lanczos kernel used by interpolation="lanczos"


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


def resample_trace(trace, sampling_rate: float, method: str, anti_alias: bool, window, interpolation: str,
                   corner: float):
    """A copy of ``trace`` at ``sampling_rate`` (the resampling of :func:`stream_to_windows`; scan uses it too)."""
    tr = trace.copy()
    tr.data = tr.data.astype(np.float64)
    rate = tr.stats.sampling_rate
    if abs(rate - sampling_rate) < 1e-9 * sampling_rate:
        return tr
    if method == "resample":
        tr.resample(sampling_rate, window=window, no_filter=True)
    else:
        if anti_alias and sampling_rate < rate:
            tr.filter("lowpass", freq=corner * sampling_rate / 2.0, corners=8, zerophase=True)
        extra = {"a": LANCZOS_A} if interpolation == "lanczos" else {}
        tr.interpolate(sampling_rate, method=interpolation, **extra)
    return tr


@dataclass
class _Channel:
    """One component of one station on the target grid: data with a gap mask."""
    start: object  # UTCDateTime of sample 0
    data: np.ndarray  # float64, gaps zero
    gap: np.ndarray  # bool, True where no data


def merge_channel(segments, sampling_rate: float) -> _Channel:
    """Put the resampled pieces of one component on one time grid, with a mask of the gaps."""
    start = min(s.stats.starttime for s in segments)
    end = max(s.stats.starttime + (s.stats.npts - 1) / sampling_rate for s in segments)
    n = int(round((end - start) * sampling_rate)) + 1
    data = np.zeros(n)
    gap = np.ones(n, bool)
    for s in sorted(segments, key=lambda s: s.stats.starttime):
        i0 = int(round((s.stats.starttime - start) * sampling_rate))
        i1 = min(n, i0 + s.stats.npts)
        data[i0:i1] = s.data[: i1 - i0]
        gap[i0:i1] = False
    return _Channel(start, data, gap)


def _fill_linear(x: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Linear interpolation over gap samples from the samples bounding them (edges held)."""
    if gap.all():
        return np.zeros_like(x)
    idx = np.arange(len(x))
    out = x.copy()
    out[gap] = np.interp(idx[gap], idx[~gap], x[~gap])
    return out


def _cut(ch: _Channel, t0, n: int, sampling_rate: float):
    """``n`` samples of a channel from time ``t0`` (nearest sample); outside coverage is gap."""
    i0 = int(round((t0 - ch.start) * sampling_rate))
    data = np.zeros(n)
    gap = np.ones(n, bool)
    lo, hi = max(i0, 0), min(i0 + n, len(ch.data))
    if hi > lo:
        data[lo - i0:hi - i0] = ch.data[lo:hi]
        gap[lo - i0:hi - i0] = ch.gap[lo:hi]
    return data, gap


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
                      anti_alias_corner: float = 0.8, interpolation: str = "lanczos", source: str = "stream"):
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

    Returns:
        ``(waves, metadata)``: waves ``(N, T, C)`` float32, channels in
        ``component_order``; metadata a DataFrame with one row per window (SeisBench
        column names). ``metadata.attrs["rejected_windows"]`` lists the windows dropped
        by ``gap_policy="reject"`` (dicts with station, start time and reason).
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
    if window_s <= 0 or sampling_rate <= 0:
        raise ValueError(f"{source}: window_s and sampling_rate must be positive")
    n_samples = int(round(window_s * sampling_rate))
    pick_table = _picks_table(picks) if picks is not None else None
    around_picks = pick_table is not None and stride_s is None
    stride = window_s if stride_s is None else float(stride_s)
    if stride <= 0:
        raise ValueError(f"{source}: stride_s must be positive, got {stride_s}")

    stations = group_by_station(stream, component_order, channel_map=channel_map,
                                numbered_components=numbered_components, source=source)

    waves, rows, rejected = [], [], []
    for (net, sta, loc), comps in stations.items():
        for letter, trs in comps.items():
            codes = {t.stats.channel for t in trs}
            if len(codes) > 1:
                raise ValueError(f"{source}: {net}.{sta}.{loc}: channels {sorted(codes)} all map to "
                                 f"component {letter!r} (expected one channel per component)")
        channels = {c: merge_channel([resample_trace(t, sampling_rate, resample_method, anti_alias,
                                                  resample_window, interpolation, anti_alias_corner)
                                       for t in comps[c]],
                                      sampling_rate) for c in component_order}
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
        for t0, pick in window_starts:
            data = np.zeros((n_samples, len(component_order)))
            gap = np.zeros(n_samples, bool)
            for j, c in enumerate(component_order):
                x, g = _cut(channels[c], t0, n_samples, sampling_rate)
                data[:, j], gap = x, gap | g
                if g.any() and gap_policy == "fill" and gap_fill == "interpolate":
                    data[:, j] = _fill_linear(x, g)
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
    for r in rejected:
        log.info("%s: rejected window %s at %s (%s)", source, r["station"], r["trace_start_time"], r["reason"])
    arr = (np.stack(waves) if waves else np.zeros((0, n_samples, len(component_order)), np.float32))
    meta = pd.DataFrame(rows)
    meta.attrs["rejected_windows"] = rejected
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
           **window_settings) -> IngestReport:
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
        **window_settings: the other keyword arguments of :func:`stream_to_windows`.

    Returns:
        An :class:`IngestReport`. Rejected windows are also written to
        ``rejected_windows.csv`` beside the store's files when there are any.
    """
    import obspy
    from seis_keras.atomic import write_text
    from seis_keras.data.store import StoreWriter

    report = IngestReport()
    with StoreWriter(out_store, sampling_rate=sampling_rate, component_order=component_order,
                     block_size=block_size) as writer:
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
    if report.rejected_windows:
        write_text(Path(out_store) / "rejected_windows.csv",
                   pd.DataFrame(report.rejected_windows).to_csv(index=False))
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
