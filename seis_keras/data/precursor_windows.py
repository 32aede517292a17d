"""Macro-windows and sub-windows of Ong et al. (section 4), streamed through tf.data.

Ong, Nielsen, Giani & Johnson, "Temporal earthquake forecasting", section 4 ("Data formatting
for training and testing"):

* every event record (10 h before the origin) is cut into ``n_macro_windows`` (36)
  **macro-windows** of ``macro_window_samples`` (40000 = 1000 s at 40 Hz), numbered 1 … 36;
  window 36 ends at the origin time (the record is anchored at the origin, so a record that
  runs past the origin is cut there);
* each macro-window is demeaned per component and normalised **jointly** over its three
  components (:class:`~seis_keras.data.transforms.JointNormalize`), keeping their relative
  amplitudes;
* window 36 is the **precursor** class (label 1); **noise** (label 0) is window 1 of each event
  (mode A) or a 1000 s window of a record unrelated to any earthquake, every sample at least
  ``noise_min_separation_hours`` (48) from every event origin (mode B);
* each macro-window is cut into ``sub_windows`` (37) **sub-windows** of
  ``sub_window_samples`` (16384), so 24 training events give 888 + 888 windows and 7 test
  events 259 + 259.

**The paper's overlap does not fit.** The paper states an overlap of 15374 samples (stride
1010), but 37 windows of 16384 samples at stride 1010 span 36 × 1010 + 16384 = 52744 samples
(1318.6 s), more than the 40000-sample macro-window: at that stride only 24 fit. We keep the
paper's window count and length (they fix the published 888/259 counts) and, by default,
spread the 37 windows evenly over the macro-window: stride ``(40000 - 16384) // 36 = 656``
(overlap 15728), the first window at the macro-window's start, the last ending 16 samples
before its end. ``sub_window_stride`` sets another stride; a stride whose windows do not fit
inside the macro-window is an error (windows never reach across the origin).

Streaming: :func:`sub_window_dataset` reads one macro-window per store row with
:func:`seis_keras.data.pipeline.make_dataset` (``window=(start, length)``: HDF5 reads only those
samples), normalises it and cuts it into sub-windows inside the reader, then unbatches; at
most a few macro-windows are in memory at once, never the 36 × 37 × 16384 × 3 values of an
event.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

from seis_keras.data.transforms import JointNormalize, Transform

NOISE_KINDS = ("noise", "noise_b")
EVENT_KIND = "event"


@dataclasses.dataclass(frozen=True)
class WindowingSettings:
    """How records become labelled windows (defaults: the paper's, section 4).

    Attributes:
        n_macro_windows: macro-windows per event record (36).
        macro_window_samples: samples per macro-window (40000 = 1000 s at 40 Hz).
        sub_window_samples: samples per sub-window, the model input (16384).
        sub_windows: sub-windows per macro-window (37).
        sub_window_stride: samples between sub-window starts; ``None`` (default) spreads the
            sub-windows evenly over the macro-window (656 with the paper's numbers; the paper's
            stated 1010 does not fit, see the module docstring).
        precursor_window: the 1-based macro-window labelled precursor; ``None`` (default) = the
            last one, 36 (the 1000 s immediately preceding the earthquake).
        noise_window: the 1-based macro-window labelled noise in mode A (1).
        noise_min_separation_hours: mode B noise lies at least this far from every event
            origin (48).
        normalisation: ``JointNormalize`` scale, ``"std"`` (default) or ``"max"``; open: the
            paper says "mean removal (standardization) and normalisation of all three components
            jointly" without naming the joint scale.
    """

    n_macro_windows: int = 36
    macro_window_samples: int = 40000
    sub_window_samples: int = 16384
    sub_windows: int = 37
    sub_window_stride: int | None = None
    precursor_window: int | None = None
    noise_window: int = 1
    noise_min_separation_hours: float = 48.0
    normalisation: str = "std"

    def __post_init__(self):
        if self.precursor_window is None:
            object.__setattr__(self, "precursor_window", int(self.n_macro_windows))
        for name in ("n_macro_windows", "macro_window_samples", "sub_window_samples", "sub_windows"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"WindowingSettings.{name}={getattr(self, name)} (expected >= 1)")
        if self.sub_window_samples > self.macro_window_samples:
            raise ValueError(f"WindowingSettings.sub_window_samples={self.sub_window_samples} (expected <= "
                             f"macro_window_samples={self.macro_window_samples})")
        for name in ("precursor_window", "noise_window"):
            if not 1 <= int(getattr(self, name)) <= self.n_macro_windows:
                raise ValueError(f"WindowingSettings.{name}={getattr(self, name)} (expected 1..{self.n_macro_windows})")
        last = (self.sub_windows - 1) * self.stride + self.sub_window_samples
        if self.sub_windows > 1 and self.stride < 1 or last > self.macro_window_samples:
            raise ValueError(f"WindowingSettings.sub_window_stride={self.sub_window_stride}: {self.sub_windows} "
                             f"windows of {self.sub_window_samples} span {last} samples (expected <= "
                             f"macro_window_samples={self.macro_window_samples}; leave it None to fit them)")

    @property
    def stride(self) -> int:
        """Samples between sub-window starts."""
        if self.sub_window_stride is not None:
            return int(self.sub_window_stride)
        if self.sub_windows == 1:
            return self.macro_window_samples
        return (self.macro_window_samples - self.sub_window_samples) // (self.sub_windows - 1)

    @property
    def record_samples(self) -> int:
        """Samples of an event record covered by the macro-windows (1 440 000)."""
        return self.n_macro_windows * self.macro_window_samples

    def sub_window_offsets(self) -> np.ndarray:
        """Start sample of each sub-window inside its macro-window, ``(sub_windows,)``."""
        return np.arange(self.sub_windows, dtype=np.int64) * self.stride


class SubWindows(Transform):
    """Normalise each macro-window jointly, then cut it into sub-windows.

    ``(N, macro_window_samples, C) -> (N, sub_windows, sub_window_samples, C)`` float32.

    Args:
        settings: a :class:`WindowingSettings`.
        normalise: apply :class:`JointNormalize` to the whole macro-window first (default).
    """

    def __init__(self, settings: WindowingSettings, normalise: bool = True):
        self.settings, self.normalise = settings, normalise
        self.norm_ = JointNormalize(scale=settings.normalisation)

    def apply(self, x):
        s = self.settings
        if x.shape[1] != s.macro_window_samples:
            raise ValueError(f"SubWindows: macro-windows of {x.shape[1]} samples (expected {s.macro_window_samples})")
        if self.normalise:
            x = self.norm_.apply(x)
        idx = self.settings.sub_window_offsets()[:, None] + np.arange(s.sub_window_samples)[None]
        return np.asarray(x[:, idx, :], np.float32)

    def output_shape(self, input_shape):
        *batch, _, c = input_shape
        return (*batch, self.settings.sub_windows, self.settings.sub_window_samples, c)


# --- which macro-windows -------------------------------------------------------------------
def _times(values, where: str) -> np.ndarray:
    """ISO strings -> seconds since the epoch (float, NaN for empty)."""
    t = pd.to_datetime(pd.Series(values).replace("", None), utc=True, errors="coerce", format="ISO8601")
    return (t - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()


def _column(meta: pd.DataFrame, name: str, where: str) -> pd.Series:
    if name not in meta.columns:
        raise ValueError(f"{where}: column {name!r} missing (needed for the precursor windows)")
    return meta[name]


def event_macro_window_starts(meta: pd.DataFrame, record_samples: Sequence[int], sampling_rate: float,
                              settings: WindowingSettings = WindowingSettings(), *,
                              where: str = "metadata") -> pd.DataFrame:
    """Start sample (in its record) of every macro-window of every event record.

    Window ``n_macro_windows`` ends at the origin time; earlier windows precede it back to back.

    Args:
        meta: store metadata (``record_kind``, ``trace_start_time``, ``source_origin_time``,
            ``source_id``, ``split``).
        record_samples: samples of each metadata row's trace.
        sampling_rate: Hz.
        settings: the windowing.
        where: names the metadata in errors.

    Returns:
        DataFrame, one row per event record: ``row`` (metadata row), ``source_id``, ``split``,
        ``origin_sample`` and ``start_1`` … ``start_<n>`` (the macro-windows' first samples).
    """
    kind = _column(meta, "record_kind", where).astype(str)
    rows = np.flatnonzero(kind.to_numpy() == EVENT_KIND)
    t0 = _times(_column(meta, "trace_start_time", where).iloc[rows], where)
    origin = _times(_column(meta, "source_origin_time", where).iloc[rows], where)
    n, m = settings.n_macro_windows, settings.macro_window_samples
    out = {"row": rows, "source_id": _column(meta, "source_id", where).astype(str).to_numpy()[rows],
           "split": _column(meta, "split", where).astype(str).to_numpy()[rows]}
    origin_sample = np.rint((origin - t0) * sampling_rate)
    lengths = np.asarray(record_samples, np.int64)[rows]
    for i, r in enumerate(rows):
        name = meta["trace_name"].iat[r] if "trace_name" in meta.columns else r
        if not np.isfinite(origin_sample[i]):
            raise ValueError(f"{where}: trace_name {name!r} has no valid source_origin_time/trace_start_time")
        if origin_sample[i] < n * m or origin_sample[i] > lengths[i]:
            raise ValueError(f"{where}: trace_name {name!r} holds {int(origin_sample[i])} samples before its origin "
                             f"within {lengths[i]} (expected >= {n} x {m} = {n * m})")
    out["origin_sample"] = origin_sample.astype(np.int64)
    for k in range(1, n + 1):
        out[f"start_{k}"] = out["origin_sample"] - (n - k + 1) * m
    return pd.DataFrame(out)


def mode_b_candidates(meta: pd.DataFrame, record_samples: Sequence[int], sampling_rate: float,
                      settings: WindowingSettings = WindowingSettings(), *, extra_origins=(),
                      where: str = "metadata") -> pd.DataFrame:
    """Every macro-window of a noise record that honours the separation rule (mode B).

    A noise record (``record_kind`` ``"noise"`` or ``"noise_b"``) is cut back to back into
    macro-windows from its first sample; a window is kept when every one of its samples lies at
    least ``noise_min_separation_hours`` from every event origin (those of the event records in
    ``meta`` and ``extra_origins``, e.g. a wider catalog).

    Returns:
        DataFrame ``row``, ``start``, ``split``, ``source_id``, ``start_time_s`` (epoch seconds).
    """
    kind = _column(meta, "record_kind", where).astype(str).to_numpy()
    origins = _times(_column(meta, "source_origin_time", where)[kind == EVENT_KIND], where)
    if len(extra_origins):
        origins = np.concatenate([origins, _times(list(extra_origins), "extra_origins")])
    origins = origins[np.isfinite(origins)]
    sep = settings.noise_min_separation_hours * 3600.0
    m = settings.macro_window_samples
    rows = np.flatnonzero(np.isin(kind, NOISE_KINDS))
    t0 = _times(_column(meta, "trace_start_time", where).iloc[rows], where)
    out = []
    lengths = np.asarray(record_samples, np.int64)
    split = meta["split"].astype(str).to_numpy() if "split" in meta.columns else np.full(len(meta), "")
    for r, start_s in zip(rows, t0):
        for j in range(int(lengths[r]) // m):
            a = start_s + j * m / sampling_rate
            b = a + (m - 1) / sampling_rate
            if np.all((origins <= a - sep) | (origins >= b + sep)):  # "at least" 48 h: exactly 48 h passes
                out.append({"row": int(r), "start": j * m, "split": split[r],
                            "source_id": str(meta["source_id"].iat[r]) if "source_id" in meta.columns else "",
                            "start_time_s": a})
    return pd.DataFrame(out, columns=["row", "start", "split", "source_id", "start_time_s"])


def training_windows(meta: pd.DataFrame, record_samples: Sequence[int], sampling_rate: float,
                     settings: WindowingSettings = WindowingSettings(), *, mode: str = "A",
                     split: str = "train", seed: int = 0, extra_origins=(),
                     where: str = "metadata") -> pd.DataFrame:
    """The labelled macro-windows of one split: precursor windows and mode A or B noise.

    Args:
        meta, record_samples, sampling_rate, settings, where: as
            :func:`event_macro_window_starts`.
        mode: ``"A"`` (noise = window ``noise_window`` of each event) or ``"B"`` (noise = as many
            macro-windows of unrelated records as there are events, drawn without replacement
            by ``seed`` from :func:`mode_b_candidates` of the same split; noise records with an
            empty ``split`` — as fetched — are shared out between splits in proportion to
            their events, seeded).
        split: ``"train"`` or ``"test"`` (or ``"dev"``).
        seed: the mode B draw.
        extra_origins: more origin times for the mode B separation rule.

    Returns:
        DataFrame, one row per macro-window: ``row``, ``start``, ``label`` (1 precursor, 0
        noise), ``kind`` (``precursor`` / ``noise_A`` / ``noise_B``), ``source_id`` (the
        event, for per-event accuracy; the noise record in mode B), ``split``,
        ``macro_window`` (1-based; 0 for mode B). Noise rows come first, then precursor rows.
    """
    if mode not in ("A", "B"):
        raise ValueError(f"mode: expected 'A' or 'B', got {mode!r}")
    ev = event_macro_window_starts(meta, record_samples, sampling_rate, settings, where=where)
    ev = ev[ev["split"] == split]
    if len(ev) == 0:
        raise ValueError(f"{where}: no event records in split {split!r}")
    base = {"row": ev["row"].to_numpy(), "source_id": ev["source_id"].to_numpy(), "split": split}
    pre = pd.DataFrame({**base, "start": ev[f"start_{settings.precursor_window}"].to_numpy(), "label": 1,
                        "kind": "precursor", "macro_window": settings.precursor_window})
    if mode == "A":
        noise = pd.DataFrame({**base, "start": ev[f"start_{settings.noise_window}"].to_numpy(), "label": 0,
                              "kind": "noise_A", "macro_window": settings.noise_window})
    else:
        cand = mode_b_candidates(meta, record_samples, sampling_rate, settings, extra_origins=extra_origins,
                                 where=where)
        cand = _share_unsplit(cand, meta, seed)
        pool = cand[cand["split"] == split]
        if len(pool) < len(ev):
            raise ValueError(f"{where}: {len(pool)} mode-B noise macro-windows >= "
                             f"{settings.noise_min_separation_hours} h from every event in split {split!r} "
                             f"(expected at least {len(ev)}, one per event; add noise records)")
        pick = np.sort(np.random.default_rng([seed, 48]).choice(len(pool), len(ev), replace=False))
        pool = pool.iloc[pick]
        noise = pd.DataFrame({"row": pool["row"].to_numpy(), "source_id": pool["source_id"].to_numpy(),
                              "split": split, "start": pool["start"].to_numpy(), "label": 0, "kind": "noise_B",
                              "macro_window": 0})
    cols = ["row", "start", "label", "kind", "source_id", "split", "macro_window"]
    return pd.concat([noise[cols], pre[cols]], ignore_index=True)


def _share_unsplit(cand: pd.DataFrame, meta: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Give noise records without a split one, in proportion to the events of each split."""
    unsplit = cand["split"].isin(["", "nan", "None"])
    if not unsplit.any():
        return cand
    ev_split = meta.loc[meta["record_kind"].astype(str) == EVENT_KIND, "split"].astype(str)
    counts = ev_split.value_counts()
    records = np.unique(cand.loc[unsplit, "row"].to_numpy())
    records = records[np.random.default_rng([seed, 49]).permutation(len(records))]
    bounds = np.rint(np.cumsum(counts.to_numpy()) / counts.sum() * len(records)).astype(int)
    assign, lo = {}, 0
    for name, hi in zip(counts.index, bounds):
        assign.update({int(r): name for r in records[lo:hi]})
        lo = hi
    cand = cand.copy()
    cand.loc[unsplit, "split"] = cand.loc[unsplit, "row"].map(assign).to_numpy()
    return cand


def interval_windows(meta: pd.DataFrame, record_samples: Sequence[int], sampling_rate: float,
                     settings: WindowingSettings = WindowingSettings(), *, split: str | None = "test",
                     where: str = "metadata") -> pd.DataFrame:
    """All macro-windows 1 … n of the event records (Fig. 5), ordered by window then event.

    Args:
        split: the events' split, or ``None`` for all events.

    Returns:
        DataFrame as :func:`training_windows` (``label`` 1 for the precursor window, else 0;
        ``kind`` ``"interval"``).
    """
    ev = event_macro_window_starts(meta, record_samples, sampling_rate, settings, where=where)
    if split is not None:
        ev = ev[ev["split"] == split]
    parts = [pd.DataFrame({"row": ev["row"].to_numpy(), "start": ev[f"start_{k}"].to_numpy(),
                           "label": int(k == settings.precursor_window), "kind": "interval",
                           "source_id": ev["source_id"].to_numpy(), "split": ev["split"].to_numpy(),
                           "macro_window": k}) for k in range(1, settings.n_macro_windows + 1)]
    return pd.concat(parts, ignore_index=True)


def sub_window_table(windows: pd.DataFrame, settings: WindowingSettings = WindowingSettings()) -> pd.DataFrame:
    """One row per sub-window (in the order the datasets yield them): the macro-window's
    columns plus ``sub_window`` (0-based) and ``sample`` (first sample in the record)."""
    n = settings.sub_windows
    out = windows.loc[windows.index.repeat(n)].reset_index(drop=True)
    out["sub_window"] = np.tile(np.arange(n), len(windows))
    out["sample"] = out["start"].to_numpy() + np.tile(settings.sub_window_offsets(), len(windows))
    return out


# --- streaming -----------------------------------------------------------------------------
def _groups(windows: pd.DataFrame) -> list[pd.DataFrame]:
    """Consecutive macro-windows sharing ``(start, label)`` and no store row: one read each."""
    groups, current, seen, key = [], [], set(), None
    for i, (row, start, label) in enumerate(windows[["row", "start", "label"]].itertuples(index=False)):
        k = (int(start), int(label))
        if k != key or int(row) in seen:
            if current:
                groups.append(windows.iloc[current])
            current, seen, key = [], set(), k
        current.append(i)
        seen.add(int(row))
    if current:
        groups.append(windows.iloc[current])
    return groups


def sub_window_dataset(store, windows: pd.DataFrame, settings: WindowingSettings = WindowingSettings(), *,
                       batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                       shuffle_buffer: int = 256, components: str | None = None, lowpass=None):
    """Stream the sub-windows of ``windows`` as ``(x (B, W, C), y (B,))`` batches.

    Each macro-window is read alone from the store (``make_dataset(window=(start, length))``),
    normalised jointly, cut into sub-windows, then unbatched. Without shuffling the
    sub-windows come out in the order of :func:`sub_window_table` ``(windows)``; with shuffling
    the macro-window reads of all groups are mixed at random (``sample_from_datasets``) and the
    sub-windows pass a ``shuffle_buffer``-element shuffle, all seeded by ``seed``.

    Args:
        store: a :class:`~seis_keras.data.store.WaveformStore` or its folder.
        windows: from :func:`training_windows` / :func:`interval_windows`.
        settings: the windowing.
        batch_size: sub-windows per batch.
        shuffle, seed, shuffle_buffer: as above.
        components: channel order (default the store's).
        lowpass: optional transform applied to each normalised macro-window before cutting
            (e.g. :class:`~seis_keras.data.transforms.Lowpass`).

    Returns:
        ``tf.data.Dataset``.
    """
    import tensorflow as tf

    from seis_keras.data.pipeline import make_dataset

    if len(windows) == 0:
        raise ValueError("sub_window_dataset: no macro-windows given")
    n_sub = settings.sub_windows
    transforms = [JointNormalize(scale=settings.normalisation)] + ([lowpass] if lowpass is not None else []) + \
        [SubWindows(settings, normalise=False)]
    datasets, sizes = [], []
    for g in _groups(windows):
        label = int(g["label"].iat[0])
        ds = make_dataset(store, indices=g["row"].to_numpy(), label=lambda md, v=label: np.full(len(md), v, np.int32),
                          transforms=transforms, batch_size=1, shuffle=shuffle, seed=seed,
                          window=(int(g["start"].iat[0]), settings.macro_window_samples), cycle_length=1,
                          prefetch=1, components=components)
        datasets.append(ds.map(lambda x, y: (x[0], tf.repeat(y, n_sub))))
        sizes.append(len(g))
    if shuffle and len(datasets) > 1:
        weights = np.asarray(sizes, np.float64) / np.sum(sizes)
        ds = tf.data.Dataset.sample_from_datasets(datasets, weights=weights.tolist(), seed=seed,
                                                  stop_on_empty_dataset=False)
    else:
        ds = datasets[0]
        for other in datasets[1:]:
            ds = ds.concatenate(other)
    ds = ds.unbatch()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(2)


def load_sub_windows(store, windows: pd.DataFrame, settings: WindowingSettings = WindowingSettings(), *,
                     components: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The sub-windows of a few macro-windows in memory: ``(x (N·n, W, C), y (N·n,))``.

    For the analyses (occlusion, spectra, LRP) on a handful of windows; order as
    :func:`sub_window_table`.
    """
    from seis_keras.data.store import WaveformStore

    store = store if isinstance(store, WaveformStore) else WaveformStore(store)
    cut = SubWindows(settings)
    xs = [cut(store.get_waveforms(int(r), window=(int(s), settings.macro_window_samples), components=components))
          for r, s in zip(windows["row"], windows["start"])]
    x = np.concatenate(xs) if xs else np.zeros((0, settings.sub_window_samples, 3), np.float32)
    return x.astype(np.float32), np.repeat(windows["label"].to_numpy().astype(np.int64), settings.sub_windows)
