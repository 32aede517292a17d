"""The classification problems and frequency bands of Laurenti et al. 2024's experiments.

Built on :mod:`seis_keras.data.norcia` (classes, balancing, splits): one *labelled split* is
what one model of the paper trains and is tested on — a class label and a split name per
trace of a store, ``-1`` / ``""`` for traces that take no part (another station, the Visso
sequence left out, truncated by balancing).

* :func:`labelled_split` — time-to-failure classes (or pre/post at a wrong mainshock date),
  balanced as the authors' code, split temporally from the middle of each class (or at
  random by event): Table 1, Table 2, Fig. 5.
* :meth:`LabelledSplit.relabelled` — the same traces and split with other labels (Table 2:
  "we retrain the entire model on the same events, but we modify the labels").
* :func:`file_labels` / :func:`label_check` — pre/post as the authors' code reads it (the file
  a trace came from, ``{STA}_waveforms_{pre|post}.hdf5``: the ``period`` column) and where
  that disagrees with the time rule (trace time vs the mainshock), with the traces a one-hour
  UTC/local shift would move.
* :func:`bandpass_bands` — Fig. 5's 3 Hz steps over 0–50 Hz.
* :func:`planted_band` — the band to look at: on built-in data the planted one (from the
  metadata), else the paper's 30–40 Hz.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

from seis_keras.data.norcia import (MAINSHOCK_TIME, SPLITS, VISSO_INTERVAL, _timestamp, balance_classes,
                                    class_names, pre_post_labels, random_split, temporal_middle_split,
                                    time_to_failure_classes, trace_times)

#: Where labels come from: ``"file"`` (the ``period`` column, the authors' code) or ``"time"``.
LABEL_SOURCES = ("file", "time")


def file_labels(meta: pd.DataFrame, column: str = "period") -> np.ndarray:
    """0/1 per trace from the file it was read from (``"pre"`` / ``"post"`` in ``column``), as the authors' code.

    Raises:
        ValueError: ``column`` missing or holding other values (one line, naming them).
    """
    if column not in meta.columns:
        raise ValueError(f"metadata: column {column!r} missing (expected 'pre'/'post' from the {{STA}}_waveforms_"
                         "{pre|post}.hdf5 file of each trace; set classes.labels = \"time\" to label by trace time)")
    values = meta[column].astype(str).str.lower().to_numpy()
    bad = sorted(set(values) - {"pre", "post"})
    if bad:
        raise ValueError(f"metadata: column {column!r} holds {bad[:5]} (expected 'pre' or 'post')")
    return (values == "post").astype(np.int64)


def label_check(meta: pd.DataFrame, mainshock_time=MAINSHOCK_TIME, *, time_column: str = "trace_start_time",
                shift_hours: float = 1.0, column: str = "period", examples: int = 5) -> dict:
    """Do the file labels agree with the time rule? Disagreements, and what an hour's shift would move.

    The authors' code writes the mainshock as 07:40:17 (Italian local time, UTC+1) where the
    paper says 06:40:17 UTC: a file split made at the local time puts the first hour of
    aftershocks into the ``_pre`` files. Counted here: disagreements of each kind, the traces
    within ``shift_hours`` after (before) the mainshock, and how many disagreements lie there.

    Returns:
        ``n_traces``, ``n_disagree``, ``file_pre_time_post``, ``file_post_time_pre``,
        ``n_within_shift_after``, ``n_within_shift_before``, ``disagree_within_shift``,
        ``shift_hours``, ``examples`` (first trace names, or row numbers).
    """
    by_file = file_labels(meta, column)
    by_time = pre_post_labels(meta, mainshock_time, time_column=time_column)
    dt = (trace_times(meta, time_column) - _timestamp(mainshock_time, "mainshock_time")).dt.total_seconds()
    dt = dt.to_numpy() / 3600.0
    after, before = (dt >= 0) & (dt < shift_hours), (dt < 0) & (dt >= -shift_hours)
    wrong = by_file != by_time
    names = meta["trace_name"].astype(str).to_numpy() if "trace_name" in meta.columns else np.arange(len(meta))
    return {"n_traces": int(len(meta)), "n_disagree": int(wrong.sum()),
            "file_pre_time_post": int((wrong & (by_time == 1)).sum()),
            "file_post_time_pre": int((wrong & (by_time == 0)).sum()),
            "n_within_shift_after": int(after.sum()), "n_within_shift_before": int(before.sum()),
            "disagree_within_shift": int((wrong & (after | before)).sum()), "shift_hours": float(shift_hours),
            "examples": [str(v) for v in names[wrong][:examples]]}


@dataclasses.dataclass
class LabelledSplit:
    """One classification problem on one store: a label and a split name per trace.

    Attributes:
        labels: ``(N,)`` int64 class per trace of the store, ``-1`` = not used.
        split: ``(N,)`` object ``"train"`` / ``"dev"`` / ``"test"``, ``""`` = not used.
        n_classes: number of classes (2, 4, 8, 9).
        class_names: one name per class (:func:`seis_keras.data.norcia.class_names`).
    """

    labels: np.ndarray
    split: np.ndarray
    n_classes: int
    class_names: list[str]

    def rows(self, part: str) -> np.ndarray:
        """Store rows of split ``part`` that carry a label."""
        return np.flatnonzero((self.split == part) & (self.labels >= 0))

    def counts(self) -> dict:
        """Traces per split: ``{"train": n, "dev": n, "test": n}``."""
        return {p: int(len(self.rows(p))) for p in SPLITS}

    def relabelled(self, labels: np.ndarray) -> "LabelledSplit":
        """The same traces and split with 2-class ``labels`` (one per store trace), e.g. from a wrong date."""
        labels = np.asarray(labels, np.int64)
        if labels.shape != self.labels.shape:
            raise ValueError(f"relabelled: {labels.shape[0]} labels for {self.labels.shape[0]} traces")
        return LabelledSplit(np.where(self.labels >= 0, labels, -1), self.split, 2, class_names(2))


def labelled_split(meta: pd.DataFrame, mask: np.ndarray, n_classes: int, *, mainshock_time=MAINSHOCK_TIME,
                   visso_interval: Sequence = VISSO_INTERVAL, exclude_visso: bool | None = None,
                   balance: bool = True, split: str = "temporal", train_head: float = 0.35,
                   validation: float = 0.10, test: float = 0.20,
                   random_fractions: Sequence[float] = (0.7, 0.1, 0.2), time_column: str = "trace_start_time",
                   seed: int = 0, labels: str = "time") -> LabelledSplit:
    """Labels, balancing and split of the traces in ``mask`` (Laurenti's code, event-grouped).

    Args:
        meta: the store's metadata (all traces).
        mask: boolean, the traces taking part (one station, as the authors train).
        n_classes: 2, or an even or odd (>= 5) time-to-failure class count.
        mainshock_time: the pre/post boundary (a wrong date for Table 2).
        visso_interval: ``(start, end)`` of the Visso sequence (end: the true mainshock).
        exclude_visso: leave Visso out; ``None``: the class rule's default (True for even counts).
        balance: shuffle each class's events and truncate all to the smallest (the code).
        split: ``"temporal"`` (validation and test from the middle of each class, the code) or
            ``"random"`` (by event).
        train_head, validation, test: the temporal split's fractions (code 35/10/20, rest train).
        random_fractions: train/dev/test shares of the random split.
        time_column: the time that orders events.
        seed: balancing (and random split) seed.
        labels: pre/post from ``"time"`` (event time vs ``mainshock_time``) or ``"file"``
            (:func:`file_labels`, the authors' code); time-to-failure chunks are in time order either way.

    Returns:
        A :class:`LabelledSplit` over every row of ``meta`` (rows outside ``mask``: -1 / "").
    """
    mask = np.asarray(mask, bool)
    if len(mask) != len(meta):
        raise ValueError(f"labelled_split: mask of {len(mask)} values for {len(meta)} metadata rows")
    if labels not in LABEL_SOURCES:
        raise ValueError(f"labelled_split: labels {labels!r} unknown (expected one of {LABEL_SOURCES})")
    sub = meta.iloc[np.flatnonzero(mask)].reset_index(drop=True)
    y = time_to_failure_classes(sub, n_classes, mainshock_time=mainshock_time, visso_interval=visso_interval,
                                exclude_visso=exclude_visso, time_column=time_column,
                                post=file_labels(sub) if labels == "file" else None)
    if balance:
        y = balance_classes(y, sub, seed=seed)
    if split == "temporal":
        part = temporal_middle_split(sub, y, train_head=train_head, validation=validation, test=test,
                                     time_column=time_column)
    elif split == "random":
        part = random_split(sub, fractions=random_fractions, seed=seed, mask=y >= 0)
    else:
        raise ValueError(f"labelled_split: split {split!r} unknown (expected 'temporal' or 'random')")
    labels = np.full(len(meta), -1, np.int64)
    full_split = np.full(len(meta), "", dtype=object)
    labels[mask], full_split[mask] = y, part
    return LabelledSplit(labels, full_split, int(n_classes), class_names(int(n_classes)))


def bandpass_bands(step_hz: float = 3.0, max_hz: float = 50.0,
                   bands: Sequence[Sequence[float]] = ()) -> list[tuple[float, float]]:
    """Fig. 5's bands: ``bands`` if given, else ``step_hz`` steps from 0 to ``max_hz`` (last one shorter).

    The paper: 0–3 Hz (a low-pass), 3–6 … 45–48 Hz, 48–50 Hz (a high-pass at 100 Hz).
    """
    if len(bands):
        return [(float(lo), float(hi)) for lo, hi in bands]
    if not step_hz > 0 or not max_hz > 0:
        raise ValueError(f"bandpass_bands: step_hz = {step_hz} and max_hz = {max_hz} must be > 0")
    step, top = float(step_hz), float(max_hz)
    return [(float(lo), min(lo + step, top)) for lo in np.arange(0.0, top - 1e-9, step)]


def planted_band(meta: pd.DataFrame, default: Sequence[float] = (30.0, 40.0)) -> tuple[tuple[float, float], str]:
    """``((low, high), "planted")`` from built-in data's metadata, else ``(default, "paper")``."""
    if {"planted_band_low_hz", "planted_band_high_hz"} <= set(meta.columns):
        return (float(meta.planted_band_low_hz.iloc[0]), float(meta.planted_band_high_hz.iloc[0])), "planted"
    return (float(default[0]), float(default[1])), "paper"
