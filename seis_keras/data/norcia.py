"""The Norcia 2016 data as the two Norcia studies use it: labels, balancing, splits, pairs.

Laurenti et al. 2024 (Nat. Commun. 15:10025, SPEC §2) and Magrini & Marrocco (SPEC §3)
classify 25 s three-component traces of events near the Vettore fault as recorded before
(*pre*, foreshocks) or after (*post*, aftershocks) the Mw 6.5 Norcia mainshock of
2016-10-30T06:40:17 UTC. This module turns a store's metadata into what they train on:

* :func:`time_to_failure_classes` — 2 classes (pre/post at the mainshock), N even (N/2
  equal-count chronological chunks of pre and of post: 4, 8), N odd (9: 4 pre + the Visso
  sequence 26–30 Oct 2016 + 4 post). Paper: Visso events are left out of the 2/4/8-class
  models and form the middle class of the 9-class model.
* :func:`balance_classes` — the authors' balancing: shuffle, then truncate every class to the
  smallest one.
* :func:`temporal_middle_split` — the authors' temporal split by ``source_id``: within each
  class in time order, train = first 35 % + last 35 %, validation = next 10 %, test = the
  next 20 % (the middle).
* :func:`random_split` — random split, by event (``group="source_id"``, no event in two
  splits) or by trace (Magrini & Marrocco's published split).
* :func:`pre_post_labels` / :func:`fake_interval` — relabelling with a wrong mainshock date
  (Laurenti Table 2).
* :func:`co_located_pairs` — pre/post event pairs with hypocentres within ±500 m and
  magnitudes within ±0.1 (Laurenti Fig. 6).
* :func:`open_norcia` — a :class:`~seis_keras.data.store.WaveformStore` from built-in data, the
  authors' Zenodo layout (converted once by :mod:`seis_keras.data.readers`) or a store.

Units of counting: the authors train one station at a time, where one trace is one event.
With several stations one event has several traces, so chunks, balancing and splits count
**events** (``source_id``), and every trace of an event follows its event. For one station
this is exactly the authors' per-trace procedure.

Split names follow SeisBench: ``"train"``, ``"dev"`` (validation), ``"test"``; ``""`` marks
traces left out (excluded class or truncated by balancing). Labels ``-1`` mark the same.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

#: The Norcia mainshock, UTC (the authors' code uses 07:40:17, local time written as UTC).
MAINSHOCK_TIME = "2016-10-30T06:40:17Z"
#: "from October 26th to October 30th 2016": the Visso sequence, up to the Norcia mainshock.
VISSO_INTERVAL = ("2016-10-26T00:00:00Z", MAINSHOCK_TIME)
#: Laurenti Table 2: the wrong mainshock dates (2016).
WRONG_DATES = ("2016-10-11", "2016-10-16", "2016-10-21", "2016-11-04", "2016-11-09", "2016-11-14",
               "2016-11-19")
SPLITS = ("train", "dev", "test")
_KM_PER_DEG = 111.19


def _timestamp(value, what: str) -> pd.Timestamp:
    try:
        t = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected an ISO time, got {value!r}") from None
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def trace_times(meta: pd.DataFrame, column: str = "trace_start_time") -> pd.Series:
    """The ``column`` of ``meta`` as UTC timestamps (clear error if missing or unparsable)."""
    if column not in meta.columns:
        raise ValueError(f"metadata: column {column!r} missing (expected ISO UTC times)")
    try:
        times = pd.to_datetime(meta[column], utc=True, format="ISO8601")
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata: column {column!r} holds values that are not ISO times ({err})") from None
    missing = np.flatnonzero(times.isna().to_numpy())
    if len(missing):  # NaT compares False: the trace would silently become a foreshock
        raise ValueError(f"metadata: column {column!r} has {len(missing)} missing times (first at row "
                         f"{missing[0]}; expected ISO UTC times)")
    return times


def _groups(meta: pd.DataFrame, group: str | None) -> np.ndarray:
    if group is None:
        return np.arange(len(meta))
    if group not in meta.columns:
        raise ValueError(f"metadata: column {group!r} missing (needed to group traces by event)")
    return meta[group].astype(str).to_numpy()


def _events(meta: pd.DataFrame, time_column: str, group: str | None):
    """(event keys in time order, their times, inverse index trace -> event)."""
    times = trace_times(meta, time_column)
    keys, inverse = np.unique(_groups(meta, group), return_inverse=True)
    first = pd.Series(times.to_numpy()).groupby(inverse).min()
    order = np.lexsort((np.arange(len(keys)), first.to_numpy()))
    rank = np.empty(len(keys), np.int64)
    rank[order] = np.arange(len(keys))
    return rank[inverse], first.to_numpy()[order]


def class_names(n_classes: int) -> list[str]:
    """Names as in Laurenti Fig. 3: ``pre``/``post``; ``FEQ1..`` and ``AEQ1..`` (+ ``Visso``)."""
    if n_classes == 2:
        return ["pre", "post"]
    half = n_classes // 2
    middle = ["Visso"] if n_classes % 2 else []
    return [f"FEQ{i + 1}" for i in range(half)] + middle + [f"AEQ{i + 1}" for i in range(half)]


def time_to_failure_classes(meta: pd.DataFrame, n_classes: int, *, mainshock_time=MAINSHOCK_TIME,
                            visso_interval: Sequence = VISSO_INTERVAL, exclude_visso: bool | None = None,
                            time_column: str = "trace_start_time", group: str | None = "source_id",
                            post: np.ndarray | None = None) -> np.ndarray:
    """Class labels by time to failure (Laurenti Fig. 2 and S2).

    Args:
        meta: trace metadata with ``time_column`` (and ``group``).
        n_classes: 2 (pre/post), an even N (N/2 equal-count chronological chunks of pre and of
            post: 4, 8), or an odd N (the same around a middle Visso class: 9 = 4 + 1 + 4).
        mainshock_time: the pre/post boundary (UTC).
        visso_interval: ``(start, end)`` of the Visso sequence.
        exclude_visso: leave Visso events out; default: True for even N (paper: "for 2-4-8
            class models we did not include events associated in time with the M5.9 Visso
            earthquake"); must be False (Visso is a class) for odd N.
        time_column: time that orders events (code: trace start time).
        group: the event column (``source_id``): chunks count events; ``None`` counts traces.
        post: pre/post per trace (0/1) from elsewhere (the authors' ``_pre``/``_post`` files,
            :func:`seis_keras.data.norcia_experiments.file_labels`); an event is post when most
            of its traces are. ``None``: event time >= ``mainshock_time``.

    Returns:
        int64 labels, one per trace (0 = earliest class), ``-1`` for excluded traces.
    """
    if int(n_classes) != n_classes or n_classes < 2 or n_classes == 3:
        raise ValueError(f"n_classes={n_classes} (expected 2, an even number, or an odd number >= 5)")
    n_classes = int(n_classes)
    odd = n_classes % 2 == 1
    if exclude_visso is None:
        exclude_visso = not odd
    if odd and exclude_visso:
        raise ValueError(f"n_classes={n_classes}: an odd class count makes Visso the middle class "
                         "(exclude_visso must be False)")
    event, ev_times = _events(meta, time_column, group)
    main = _timestamp(mainshock_time, "mainshock_time")
    v0, v1 = (_timestamp(t, "visso_interval") for t in visso_interval)
    ev_times = pd.DatetimeIndex(ev_times, tz="UTC") if getattr(ev_times, "tz", None) is None else ev_times
    if post is None:
        post = np.asarray(ev_times >= main)
    else:  # per trace -> per event (majority of its traces)
        given = np.asarray(post, np.float64).reshape(-1)
        if len(given) != len(event):
            raise ValueError(f"post: {len(given)} labels for {len(event)} metadata rows")
        counts = np.bincount(event, minlength=len(ev_times))
        post = np.bincount(event, weights=given, minlength=len(ev_times)) >= 0.5 * counts
    visso = np.asarray((ev_times >= v0) & (ev_times < v1)) & ~post
    ev_label = np.full(len(ev_times), -1, np.int64)
    half = n_classes // 2
    pre_ids = np.flatnonzero(~post & ~visso) if (odd or exclude_visso) else np.flatnonzero(~post)
    post_ids = np.flatnonzero(post)
    if len(pre_ids) < half or len(post_ids) < half:
        raise ValueError(f"n_classes={n_classes}: {len(pre_ids)} pre and {len(post_ids)} post events "
                         f"(expected at least {half} of each)")
    # events are already in time order: equal-count chronological chunks
    for k, chunk in enumerate(np.array_split(pre_ids, half)):
        ev_label[chunk] = k
    offset = half + (1 if odd else 0)
    for k, chunk in enumerate(np.array_split(post_ids, half)):
        ev_label[chunk] = offset + k
    if odd:
        if not visso.any():
            raise ValueError(f"n_classes={n_classes}: no event in the Visso interval {visso_interval}")
        ev_label[visso] = half
    return ev_label[event]


def balance_classes(labels: np.ndarray, meta: pd.DataFrame | None = None, *, group: str | None = "source_id",
                    seed: int = 0) -> np.ndarray:
    """The authors' balancing: shuffle each class's events, truncate all to the smallest class.

    Args:
        labels: labels per trace (``-1`` = unused, kept as is).
        meta: trace metadata holding ``group`` (not needed with ``group=None``).
        group: event column; classes are balanced in events (``None``: in traces).
        seed: seeds the shuffle.

    Returns:
        A copy of ``labels`` with the truncated traces set to ``-1``.
    """
    labels = np.asarray(labels, np.int64)
    keys = np.arange(len(labels)) if group is None or meta is None else _groups(meta, group)
    if meta is not None and len(meta) != len(labels):
        raise ValueError(f"labels: {len(labels)} values for {len(meta)} metadata rows")
    rng = np.random.default_rng(seed)
    classes = [c for c in np.unique(labels) if c >= 0]
    events = {c: np.unique(keys[labels == c]) for c in classes}
    if not classes:
        return labels.copy()
    n_min = min(len(e) for e in events.values())
    out = labels.copy()
    for c in classes:
        drop = rng.permutation(events[c])[n_min:]
        out[(labels == c) & np.isin(keys, drop)] = -1
    return out


def temporal_middle_split(meta: pd.DataFrame, labels: np.ndarray, *, train_head: float = 0.35,
                          validation: float = 0.10, test: float = 0.20, time_column: str = "trace_start_time",
                          group: str | None = "source_id") -> np.ndarray:
    """The authors' temporal split: validation and test from the middle of each class.

    Within each class, events in time order: the first ``train_head`` go to training, the next
    ``validation`` to ``dev``, the next ``test`` to ``test``, the rest (35 % by default) to
    training again. Code 70/10/20 (the paper's text says 70/20/10).

    Args:
        meta: trace metadata.
        labels: class per trace (``-1`` = unused).
        train_head, validation, test: fractions; ``train_head + validation + test <= 1``.
        time_column: the time that orders events.
        group: event column (no event in two splits); ``None``: traces.

    Returns:
        object array of ``"train"``/``"dev"``/``"test"`` per trace, ``""`` where label is -1.
    """
    labels = np.asarray(labels, np.int64)
    if len(labels) != len(meta):
        raise ValueError(f"labels: {len(labels)} values for {len(meta)} metadata rows")
    if min(train_head, validation, test) < 0 or train_head + validation + test > 1 + 1e-9:
        raise ValueError(f"temporal_middle_split: fractions ({train_head}, {validation}, {test}) must be >= 0 "
                         "and sum to at most 1")
    event, _ = _events(meta, time_column, group)  # event rank = time order
    split = np.full(len(labels), "", dtype=object)
    for c in np.unique(labels[labels >= 0]):
        ranks = np.unique(event[labels == c])  # sorted: time order
        n = len(ranks)
        b1, b2, b3 = (int(np.floor(n * f + 1e-9)) for f in
                      (train_head, train_head + validation, train_head + validation + test))
        part = np.full(n, "train", dtype=object)
        part[b1:b2], part[b2:b3] = "dev", "test"
        lookup = dict(zip(ranks, part))
        rows = np.flatnonzero(labels == c)
        split[rows] = [lookup[r] for r in event[rows]]
    return split


def random_split(meta: pd.DataFrame, *, fractions: Sequence[float] = (0.70, 0.15, 0.15),
                 group: str | None = "source_id", seed: int = 0, mask: np.ndarray | None = None) -> np.ndarray:
    """Random train/dev/test split, by event (no event in two splits) or by trace.

    Args:
        meta: trace metadata.
        fractions: train, dev, test shares (Magrini & Marrocco: 70/15/15).
        group: ``"source_id"`` (event-grouped) or ``None`` (by trace, as published).
        seed: seeds the permutation.
        mask: only these traces are split (others get ``""``).

    Returns:
        object array of split names per trace.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"random_split: fractions {tuple(fractions)} (expected 3 shares summing to 1)")
    keep = np.ones(len(meta), bool) if mask is None else np.asarray(mask, bool)
    keys = _groups(meta, group)
    units = np.unique(keys[keep])
    units = np.random.default_rng(seed).permutation(units)
    b1 = int(round(len(units) * fractions[0]))
    b2 = b1 + int(round(len(units) * fractions[1]))
    part = np.empty(len(units), dtype=object)
    part[:b1], part[b1:b2], part[b2:] = "train", "dev", "test"
    lookup = dict(zip(units, part))
    split = np.full(len(meta), "", dtype=object)
    split[keep] = [lookup[k] for k in keys[keep]]
    return split


def pre_post_labels(meta: pd.DataFrame, mainshock_time=MAINSHOCK_TIME, *,
                    time_column: str = "trace_start_time") -> np.ndarray:
    """0 before ``mainshock_time`` (a true or a wrong date), 1 at or after it."""
    times = trace_times(meta, time_column)
    return np.asarray(times >= _timestamp(mainshock_time, "mainshock_time"), np.int64)


def fake_interval(meta: pd.DataFrame, fake_time, true_time=MAINSHOCK_TIME, *,
                  time_column: str = "trace_start_time") -> np.ndarray:
    """Traces between a wrong and the true mainshock time: those whose label the fake flips."""
    times = trace_times(meta, time_column)
    a, b = sorted([_timestamp(fake_time, "fake_time"), _timestamp(true_time, "true_time")])
    return np.asarray((times >= a) & (times < b))


def _hypocentres_km(events: pd.DataFrame) -> np.ndarray:
    for col in ("source_latitude_deg", "source_longitude_deg", "source_depth_km"):
        if col not in events.columns:
            raise ValueError(f"metadata: column {col!r} missing (needed for co-located pairs)")
    lat = events.source_latitude_deg.to_numpy(float)
    lon = events.source_longitude_deg.to_numpy(float)
    lat0 = np.nanmean(lat)
    return np.column_stack([(lon - np.nanmean(lon)) * _KM_PER_DEG * np.cos(np.deg2rad(lat0)),
                            (lat - lat0) * _KM_PER_DEG, events.source_depth_km.to_numpy(float)])


def co_located_pairs(meta: pd.DataFrame, *, max_distance_km: float = 0.5, max_magnitude_difference: float = 0.1,
                     mainshock_time=MAINSHOCK_TIME, one_to_one: bool = True,
                     time_column: str = "source_origin_time") -> pd.DataFrame:
    """Pre/post event pairs with similar hypocentres and magnitudes (Laurenti Fig. 6).

    Args:
        meta: metadata (one or more rows per event) with ``source_id``, hypocentre
            (``source_latitude_deg``, ``source_longitude_deg``, ``source_depth_km``),
            ``source_magnitude`` and ``time_column``.
        max_distance_km: hypocentral (3-D) distance tolerance; paper ±500 m.
        max_magnitude_difference: paper ±0.1 M.
        mainshock_time: the pre/post boundary.
        one_to_one: each event in at most one pair, closest pairs first (greedy); False lists
            every pre/post combination within tolerance.
        time_column: event time (falls back to ``trace_start_time`` if absent).

    Returns:
        DataFrame ``pre_id``, ``post_id``, ``distance_km``, ``magnitude_difference``,
        ``pre_magnitude``, ``post_magnitude``, sorted by distance.
    """
    from scipy.spatial import cKDTree

    if "source_magnitude" not in meta.columns:
        raise ValueError("metadata: column 'source_magnitude' missing (needed for co-located pairs)")
    column = time_column if time_column in meta.columns else "trace_start_time"
    events = meta.assign(_id=_groups(meta, "source_id")).drop_duplicates("_id").reset_index(drop=True)
    post = pre_post_labels(events, mainshock_time, time_column=column).astype(bool)
    xyz = _hypocentres_km(events)
    mag = events.source_magnitude.to_numpy(float)
    pre_i, post_i = np.flatnonzero(~post), np.flatnonzero(post)
    columns = ["pre_id", "post_id", "distance_km", "magnitude_difference", "pre_magnitude", "post_magnitude"]
    if not len(pre_i) or not len(post_i):
        return pd.DataFrame(columns=columns)
    tree = cKDTree(xyz[post_i])
    rows = []
    for a, near in zip(pre_i, tree.query_ball_point(xyz[pre_i], r=max_distance_km)):
        for j in near:
            b = post_i[j]
            dm = abs(mag[a] - mag[b])
            if dm <= max_magnitude_difference + 1e-12:
                rows.append((a, b, float(np.linalg.norm(xyz[a] - xyz[b])), dm))
    rows.sort(key=lambda r: (r[2], r[3], r[0], r[1]))
    if one_to_one:
        used, kept = set(), []
        for r in rows:
            if r[0] not in used and r[1] not in used:
                kept.append(r)
                used.update((r[0], r[1]))
        rows = kept
    ids = events._id.to_numpy()
    return pd.DataFrame([(ids[a], ids[b], d, dm, mag[a], mag[b]) for a, b, d, dm in rows], columns=columns)


def open_norcia(data, workdir, *, stations: Sequence[str] | None = None, component_order: str = "ENZ",
                n_events: int = 500, seed: int = 0, synthetic_settings=None):
    """A waveform store of Norcia traces, from wherever they come.

    Args:
        data: ``None`` (built-in data, ``seis_keras.data.synthetic.norcia_data`` written to
            ``workdir/norcia_builtin``), a store folder (``metadata.csv`` + ``waveforms.hdf5``),
            or the authors' Zenodo layout (``{STA}/{STA}_waveforms_{pre|post}.hdf5``),
            converted once to ``workdir/norcia_zenodo`` through ``seis_keras.data.readers``.
        workdir: folder for the written stores.
        stations: station codes to generate/convert (``None``: all nine / all found).
        component_order: row order of the Zenodo HDF5 datasets (``"ENZ"`` or ``"NEZ"``).
        n_events: built-in data: number of events.
        seed: built-in data: generator seed.
        synthetic_settings: built-in data: a ``NorciaSettings`` (default one).

    Returns:
        ``(WaveformStore, description, skipped)`` with ``skipped`` the Zenodo traces left out.
    """
    from seis_keras.data.store import WaveformStore

    workdir = Path(workdir)
    if data is None:
        from seis_keras.data.synthetic import NORCIA_STATIONS, NorciaSettings, norcia_data

        path = workdir / "norcia_builtin"
        norcia_data(int(n_events), seed=seed, stations=tuple(stations or NORCIA_STATIONS),
                    settings=synthetic_settings or NorciaSettings(), path=path)
        return WaveformStore(path), f"built-in synthetic Norcia data ({n_events} events, seed {seed})", []
    root = Path(data)
    if (root / "metadata.csv").is_file():
        return WaveformStore(root), f"store {root}", []
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: data folder missing (expected a store or the Zenodo Norcia layout)")
    from seis_keras.data.readers import convert_norcia_zenodo

    out, skipped = convert_norcia_zenodo(root, workdir / "norcia_zenodo", stations=stations,
                                         component_order=component_order)
    return WaveformStore(out), f"Zenodo layout {root} (rows {component_order})", skipped


def select_stations(meta: pd.DataFrame, stations: Sequence[str] | None) -> np.ndarray:
    """Boolean mask of the traces recorded at ``stations`` (``None``: every trace)."""
    if stations is None:
        return np.ones(len(meta), bool)
    if "station_code" not in meta.columns:
        raise ValueError("metadata: column 'station_code' missing (needed to select stations)")
    codes = meta.station_code.astype(str).to_numpy()
    missing = sorted(set(stations) - set(codes))
    if missing:
        raise ValueError(f"stations {missing} not in the data (have {sorted(set(codes))})")
    return np.isin(codes, list(stations))
