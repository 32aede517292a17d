"""The segments of one channel on one sampling grid: merging, gaps and overlaps.

A channel read by obspy may come in several segments (a miniSEED file with gaps, or records
sent twice). :func:`merge_channel` puts the resampled segments on one time grid with a mask of
the samples no segment covers (gaps). Overlaps are checked first, on the samples as served
(:func:`overlap_conflicts`): segments that overlap with *identical* samples are merged (as
obspy's ``Stream.merge(method=0)`` does); segments that overlap with *different* samples are
refused (``overlap_policy="reject"``, the default: there is no right answer to pick silently) or,
with ``overlap_policy="mask"``, their overlap becomes a gap — obspy's ``Stream.merge(method=0)``
policy, which masks conflicting overlaps — handled by the gap policy like any other gap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OVERLAP_POLICIES = ("reject", "mask")


@dataclass
class Channel:
    """One component of one station on the target grid: data with a gap mask."""
    start: object  # UTCDateTime of sample 0
    data: np.ndarray  # float64, gaps zero
    gap: np.ndarray  # bool, True where no data


def overlap_conflicts(traces) -> list[tuple]:
    """Time spans where segments of one channel overlap with different samples.

    Args:
        traces: obspy traces of one channel (as read, before resampling).

    Returns:
        ``(trace_id, start, end)`` per conflicting overlap (``UTCDateTime``), in time order;
        empty when segments only touch, leave gaps, or overlap with identical samples.
    """
    segs = sorted(traces, key=lambda t: t.stats.starttime)
    out = []
    for j, b in enumerate(segs):
        for a in segs[:j]:
            fs = a.stats.sampling_rate
            a_end = a.stats.starttime + (a.stats.npts - 1) / fs
            if a_end < b.stats.starttime:
                continue
            k = int(round((b.stats.starttime - a.stats.starttime) * fs))
            stop = min(a.stats.npts, k + b.stats.npts)
            if stop <= k:
                continue
            same = (abs(b.stats.sampling_rate - fs) < 1e-9 * fs
                    and abs((b.stats.starttime - a.stats.starttime) * fs - k) < 1e-3
                    and np.array_equal(np.ma.getdata(a.data[k:stop]), np.ma.getdata(b.data[:stop - k])))
            if not same:
                out.append((b.id, b.stats.starttime, a.stats.starttime + (stop - 1) / fs))
    return out


def merge_channel(segments, sampling_rate: float, masked=()) -> Channel:
    """Put the resampled pieces of one component on one time grid, with a mask of the gaps.

    Args:
        segments: resampled obspy traces of one component.
        sampling_rate: their common rate (Hz).
        masked: ``(start, end)`` time spans to mark as gaps whatever the segments hold
            (conflicting overlaps under ``overlap_policy="mask"``).
    """
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
    for t0, t1 in masked:
        i0 = max(0, int(np.floor((t0 - start) * sampling_rate)))
        i1 = min(n, int(np.ceil((t1 - start) * sampling_rate)) + 1)
        data[i0:i1], gap[i0:i1] = 0.0, True
    return Channel(start, data, gap)


def fill_linear(x: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """Linear interpolation over gap samples from the samples bounding them (edges held)."""
    if gap.all():
        return np.zeros_like(x)
    idx = np.arange(len(x))
    out = x.copy()
    out[gap] = np.interp(idx[gap], idx[~gap], x[~gap])
    return out


def cut(ch: Channel, t0, n: int, sampling_rate: float):
    """``n`` samples of a channel from time ``t0`` (nearest sample); outside coverage is gap."""
    i0 = int(round((t0 - ch.start) * sampling_rate))
    data = np.zeros(n)
    gap = np.ones(n, bool)
    lo, hi = max(i0, 0), min(i0 + n, len(ch.data))
    if hi > lo:
        data[lo - i0:hi - i0] = ch.data[lo:hi]
        gap[lo - i0:hi - i0] = ch.gap[lo:hi]
    return data, gap


__all__ = ["Channel", "overlap_conflicts", "merge_channel", "fill_linear", "cut", "OVERLAP_POLICIES"]
