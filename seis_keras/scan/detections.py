"""Detections from probability traces, scoring against known events, probability tables."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

def find_detections(prob: np.ndarray, *, threshold: float, window_s: float, stride_s: float, min_gap_s: float,
                    start, trace_id: str = "", class_name: str = "") -> pd.DataFrame:
    """Runs of ``prob >= threshold`` merged across gaps shorter than ``min_gap_s``.

    Args:
        prob: ``(N,)`` probability of window ``k`` starting at ``start + k * stride_s`` (NaN = no value).
        threshold: detection threshold.
        window_s: window length in seconds.
        stride_s: window step in seconds.
        min_gap_s: runs separated by less than this (last window's end to next first window's start)
            are one detection.
        start: ``UTCDateTime`` of the first window's start.
        trace_id, class_name: copied into the rows.

    Returns:
        DataFrame with ``trace_id``, ``class``, ``start_time``, ``end_time``, ``peak_time`` (ISO UTC),
        ``peak_probability``, ``n_windows``.
    """
    cols = ["trace_id", "class", "start_time", "end_time", "peak_time", "peak_probability", "n_windows"]
    above = np.nan_to_num(np.asarray(prob, np.float64), nan=-1.0) >= threshold
    if not above.any():
        return pd.DataFrame(columns=cols)
    edges = np.diff(np.concatenate([[0], above.astype(np.int8), [0]]))
    lo, hi = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1  # inclusive window indices
    merged = [[lo[0], hi[0]]]
    for a, b in zip(lo[1:], hi[1:]):
        if a * stride_s - (merged[-1][1] * stride_s + window_s) < min_gap_s:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    rows = []
    p = np.nan_to_num(np.asarray(prob, np.float64), nan=-1.0)
    for a, b in merged:
        k = a + int(np.argmax(p[a:b + 1]))
        rows.append({"trace_id": trace_id, "class": class_name, "start_time": str(start + a * stride_s),
                     "end_time": str(start + b * stride_s + window_s),
                     "peak_time": str(start + k * stride_s + window_s / 2), "peak_probability": float(p[k]),
                     "n_windows": int(above[a:b + 1].sum())})
    return pd.DataFrame(rows, columns=cols)


def match_detections(detections: pd.DataFrame, event_times: Sequence, *, event_ends: Sequence | None = None,
                     tolerance_s: float = 0.0) -> dict:
    """Score detections against known events (e.g. the P onsets of a catalogue).

    Each event is the interval ``[event_times[i], event_ends[i]]`` (a single instant without
    ``event_ends``; e.g. P onset to coda end). An event is found when some detection's
    ``[start_time - tol, end_time + tol]`` overlaps it; a detection overlapping no event is a
    false alarm.

    Args:
        detections: :func:`scan` / :func:`find_detections` table.
        event_times: event start times (anything ``UTCDateTime`` reads).
        event_ends: optional event end times, same length.
        tolerance_s: widen every detection by this on both sides.

    Returns:
        dict with ``n_events``, ``n_detections``, ``recall``, ``n_false_alarms``,
        ``event_found`` (list of bool), ``detection_matched`` (list of bool).
    """
    from obspy import UTCDateTime

    ev0 = np.array([float(UTCDateTime(str(t)).timestamp) for t in event_times])
    ev1 = ev0 if event_ends is None else np.array([float(UTCDateTime(str(t)).timestamp) for t in event_ends])
    if len(ev1) != len(ev0):
        raise ValueError(f"event_ends: {len(ev1)} values for {len(ev0)} events")
    if len(detections):
        s = np.array([UTCDateTime(t).timestamp for t in detections["start_time"]]) - tolerance_s
        e = np.array([UTCDateTime(t).timestamp for t in detections["end_time"]]) + tolerance_s
    else:
        s = e = np.zeros(0)
    inside = (ev0[:, None] <= e[None, :]) & (ev1[:, None] >= s[None, :])
    found, matched = inside.any(axis=1), inside.any(axis=0)
    return {"n_events": int(len(ev0)), "n_detections": int(len(s)),
            "recall": float(found.mean()) if len(ev0) else float("nan"),
            "n_false_alarms": int((~matched).sum()), "event_found": found.tolist(),
            "detection_matched": matched.tolist()}


def probability_table(probabilities) -> pd.DataFrame:
    """Probability traces as a table: ``trace_id``, ``time`` (ISO UTC) and one column per class."""
    frames = {}
    for tr in probabilities:
        key = f"{tr.stats.network}.{tr.stats.station}.{tr.stats.location}"
        cls = tr.stats.get("class_name", tr.stats.channel)
        times = [str(tr.stats.starttime + k * tr.stats.delta) for k in range(tr.stats.npts)]
        df = frames.setdefault(key, pd.DataFrame({"trace_id": key, "time": times}))
        df[cls] = tr.data
    return pd.concat(frames.values(), ignore_index=True) if frames else pd.DataFrame(columns=["trace_id", "time"])
