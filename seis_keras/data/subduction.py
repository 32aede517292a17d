"""ml4szeq subduction tables: loading, along-strike position, magnitude classes, spatial CV split.

The ml4szeq / xai-megathrust study (SPEC §5) classifies 50 km segments of eight subduction
zones by the largest GCMT magnitude they hosted (``MR_GCMT``) from 49 geophysical and
kinematic features. This module holds everything about the *table*, nothing about the network:

- :func:`load_subduction_tables` reads the eight regional CSVs (first unnamed column = row
  index, 49 features + ``MR_GCMT``), names each row's ``region`` after its file and gives it an
  ``along_strike_km`` position (see below); :func:`prepare_table` does the same checks on an
  in-memory table (the built-in synthetic one).
- :class:`SubductionTransforms` wraps the authors' scikit-learn pre-processing: a Yeo–Johnson
  ``PowerTransformer(standardize=True)`` on the inputs and a ``QuantileTransformer`` (uniform
  output, ``random_state=0`` as the code) on the target. Fit it on the training rows only (our
  default) or on all rows (what the authors' code does).
- :class:`ClassScheme` bins the target into classes: 2 classes cut at Mw 8.0 on the magnitude
  itself, 3 classes cut at 0.33 / 0.65 on the *quantile-transformed* target (≈ Mw 6.4, 8.3).
- :func:`along_strike_slices` and :func:`spatial_exclusion_split` implement the spatial
  cross-validation with an exclusion distance.

Along-strike position (documented assumption): the public CSVs carry neither the along-strike
coordinate nor a region column. Rows of a file are consecutive 50 km segments in along-strike
order, so row ``i`` of a file (counted before rows with missing values are dropped) sits at
``i * segment_step_km``. A column named ``along_strike_km`` in a file overrides this.

"No event" (code): a target ``<= 1`` means the segment hosted no GCMT event; the authors' code
sets it to 4 (``no_event_magnitude``) before any transform.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

TARGET = "MR_GCMT"
REGION = "region"
ALONG_STRIKE = "along_strike_km"

FEATURE_COLUMNS: tuple[str, ...] = (
    "DXT_200", "FDM_200", "SDM_200", "DXT_400", "FDM_400", "SDM_400", "DXT_600", "FDM_600",
    "SDM_600", "SED_AVE", "SED_STD", "SED_GRD", "V_UP", "V_TN", "AGE", "FRE_DG_AVE", "FRE_DG_STD",
    "EGR_DG_AVE", "EGR_DG_STD", "SRO_DG_AVE", "SRO_DG_STD", "IRO_DG_AVE", "IRO_DG_STD",
    "LRO_DG_AVE", "LRO_DG_STD", "CRD_UP_AVE", "CRD_UP_STD", "CRS_UP_AVE", "CRS_UP_STD",
    "CRM_UP_AVE", "CRM_UP_STD", "FRE_UP_AVE", "FRE_UP_STD", "EGO_UP_AVE", "EGO_UP_STD",
    "EGO_L_UP_AVE", "EGO_L_UP_STD", "EGO_SL_UP_AVE", "EGO_SL_UP_STD", "EGO_UM_UP_AVE",
    "EGO_UM_UP_STD", "EGR_UP_AVE", "EGR_UP_STD", "EGR_BG_UP_AVE", "EGR_BG_UP_STD", "INV_UP_AVE",
    "INV_UP_STD", "DLT_UP_AVE", "DLT_UP_STD",
)
"""The 49 input features in the order of the authors' tables."""

REGIONS: tuple[str, ...] = ("alu", "cam", "izu", "ker", "kur", "ryu", "sam", "sum")
"""The eight subduction zones (file stems of the public tables)."""


@dataclasses.dataclass
class SubductionTable:
    """A prepared table and what preparing it dropped.

    Attributes:
        frame: one row per kept segment: the 49 features, ``MR_GCMT`` (no-event values
            replaced), ``MR_GCMT_raw`` (as read), ``region``, ``along_strike_km``; index 0..n-1.
        n_read: rows read.
        n_dropped: rows dropped because a feature or the target was missing.
        dropped_per_region: ``{region: rows dropped}``.
        n_no_event: kept rows whose target was ``<= no_event_threshold`` (set to the no-event magnitude).
    """

    frame: pd.DataFrame
    n_read: int
    n_dropped: int
    dropped_per_region: dict
    n_no_event: int

    @property
    def features(self) -> np.ndarray:
        """The (n, 49) raw feature matrix, float64."""
        return self.frame[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64)

    @property
    def target(self) -> np.ndarray:
        """The (n,) target magnitudes after the no-event replacement."""
        return self.frame[TARGET].to_numpy(dtype=np.float64)


def prepare_table(frame: pd.DataFrame, *, source: str = "table", segment_step_km: float = 50.0,
                  no_event_threshold: float = 1.0, no_event_magnitude: float = 4.0) -> SubductionTable:
    """Check and clean a subduction table (the built-in one, or the concatenated CSVs).

    Args:
        frame: the 49 feature columns and ``MR_GCMT``; ``region`` (default: ``source``) and
            ``along_strike_km`` (default: row order within the region × ``segment_step_km``).
        source: what to call the table in error messages (a file name).
        segment_step_km: along-strike step between consecutive rows (50 km in the data set).
        no_event_threshold: targets ``<=`` this mean "no event" (code: 1).
        no_event_magnitude: the magnitude they are set to (code: 4).

    Returns:
        A :class:`SubductionTable`; rows with any missing feature or target dropped and counted.

    Raises:
        ValueError: a feature column or the target is missing, or a column is not numeric.
    """
    missing = [c for c in (*FEATURE_COLUMNS, TARGET) if c not in frame.columns]
    if missing:
        raise ValueError(f"{source}: column {missing[0]!r} missing (expected the 49 ml4szeq features and "
                         f"{TARGET}; {len(missing)} missing)")
    out = pd.DataFrame(index=frame.index)
    for col in (*FEATURE_COLUMNS, TARGET):
        values = frame[col]
        if not pd.api.types.is_numeric_dtype(values):
            numeric = pd.to_numeric(values, errors="coerce")
            bad = values[numeric.isna() & values.notna()]
            if len(bad):
                raise ValueError(f"{source}: column {col!r} is not numeric (row {bad.index[0]}: {bad.iloc[0]!r})")
            values = numeric
        out[col] = values.astype(np.float64)
    out[REGION] = frame[REGION].astype(str).to_numpy() if REGION in frame.columns else source
    if ALONG_STRIKE in frame.columns:
        pos = pd.to_numeric(frame[ALONG_STRIKE], errors="coerce")
        if pos.isna().any():
            raise ValueError(f"{source}: column {ALONG_STRIKE!r} is not numeric (expected km along strike)")
        out[ALONG_STRIKE] = pos.to_numpy(dtype=np.float64)
    else:
        out[ALONG_STRIKE] = out.groupby(REGION, sort=False).cumcount().to_numpy() * float(segment_step_km)
    n_read = len(out)
    complete = out[[*FEATURE_COLUMNS, TARGET]].notna().all(axis=1)
    dropped = out.loc[~complete, REGION].value_counts().to_dict()
    out = out.loc[complete].reset_index(drop=True)
    out.insert(len(FEATURE_COLUMNS) + 1, f"{TARGET}_raw", out[TARGET].copy())
    no_event = out[TARGET] <= no_event_threshold
    out.loc[no_event, TARGET] = float(no_event_magnitude)
    return SubductionTable(frame=out, n_read=n_read, n_dropped=int((~complete).sum()),
                           dropped_per_region={str(k): int(v) for k, v in dropped.items()},
                           n_no_event=int(no_event.sum()))


def load_subduction_tables(folder: str | os.PathLike, *, regions: Sequence[str] | None = None,
                           segment_step_km: float = 50.0, no_event_threshold: float = 1.0,
                           no_event_magnitude: float = 4.0) -> SubductionTable:
    """Read the regional ml4szeq CSVs of a folder into one prepared table.

    Args:
        folder: folder holding ``<region>.csv`` files (first unnamed column = row index).
        regions: region file stems to read (default: every ``*.csv`` in the folder, sorted).
        segment_step_km: along-strike step between consecutive rows of a file.
        no_event_threshold: targets ``<=`` this mean "no event".
        no_event_magnitude: the magnitude a no-event row gets.

    Returns:
        A :class:`SubductionTable` (on the public data: 591 rows read, 35 dropped, 556 kept).

    Raises:
        FileNotFoundError: the folder or a requested region file is missing.
        ValueError: a file lacks a column or holds a non-numeric value (message names both).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: subduction data folder not found (expected <region>.csv files)")
    files = ([folder / f"{r}.csv" for r in regions] if regions is not None else sorted(folder.glob("*.csv")))
    if not files:
        raise FileNotFoundError(f"{folder}: no *.csv files (expected the ml4szeq regional tables)")
    frames = []
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: region table not found")
        with open(path, "r") as fh:
            try:
                df = pd.read_csv(fh, index_col=0)
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
                raise ValueError(f"{path}: not a readable CSV table ({err})") from None
        df = df.reset_index(drop=True)
        df[REGION] = path.stem
        # Checked per file so an error names the file it comes from.
        prepare_table(df, source=str(path), segment_step_km=segment_step_km)
        if ALONG_STRIKE not in df.columns:
            df[ALONG_STRIKE] = np.arange(len(df), dtype=np.float64) * float(segment_step_km)
        frames.append(df[[*FEATURE_COLUMNS, TARGET, REGION, ALONG_STRIKE]])
    return prepare_table(pd.concat(frames, ignore_index=True), source=str(folder),
                         segment_step_km=segment_step_km, no_event_threshold=no_event_threshold,
                         no_event_magnitude=no_event_magnitude)


class SubductionTransforms:
    """The authors' scikit-learn pre-processing, fitted on the rows you give it.

    Inputs: Yeo–Johnson ``PowerTransformer(standardize=True)``; target: ``QuantileTransformer``
    (uniform output, ``n_quantiles=min(1000, n)``, ``random_state=0`` as in the code).

    Args:
        standardize: standardise the power-transformed inputs (code: True).
        n_quantiles: quantiles of the target transform (sklearn default 1000, capped at n rows).
        random_state: the quantile transformer's seed (code: 0; it only matters for > 1e5 rows).

    Attributes:
        power_: the fitted ``PowerTransformer``.
        quantile_: the fitted ``QuantileTransformer``.
        target_fit_: the sorted target values the quantile transform was fitted on.
    """

    def __init__(self, standardize: bool = True, n_quantiles: int = 1000, random_state: int = 0):
        self.standardize = standardize
        self.n_quantiles = n_quantiles
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> "SubductionTransforms":
        """Fit both transforms on the rows ``X`` (n, 49) and targets ``y`` (n,); returns self."""
        from sklearn.preprocessing import PowerTransformer, QuantileTransformer

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        if len(X) != len(y) or len(X) < 2:
            raise ValueError(f"SubductionTransforms.fit: need matching X and y with >= 2 rows, got {len(X)} and {len(y)}")
        self.power_ = PowerTransformer(method="yeo-johnson", standardize=self.standardize).fit(X)
        self.quantile_ = QuantileTransformer(n_quantiles=min(self.n_quantiles, len(y)),
                                             output_distribution="uniform",
                                             random_state=self.random_state).fit(y)
        self.target_fit_ = np.sort(y.ravel())
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Power-transform inputs ``(n, 49) -> (n, 49)`` float32."""
        return self.power_.transform(np.asarray(X, dtype=np.float64)).astype(np.float32)

    def target_quantile(self, y: np.ndarray) -> np.ndarray:
        """The target's quantile (uniform) transform ``(n,) -> (n,)`` in [0, 1]."""
        return self.quantile_.transform(np.asarray(y, dtype=np.float64).reshape(-1, 1)).ravel()


@dataclasses.dataclass(frozen=True)
class ClassScheme:
    """Magnitude classes: ``cuts`` on the magnitude (``space="mw"``) or on its quantile transform.

    Each class includes its lower cut and excludes its upper one; the last class includes the
    top (the authors' ``quake_categoriser``). Quantile cuts are applied to
    ``SubductionTransforms.target_quantile(y)``, so they move with the rows the transform was
    fitted on. The Mw value reported for a quantile cut q (:meth:`mw_cuts`) is the smallest
    fitted target whose quantile is >= q, i.e. the lowest magnitude of the upper class among the
    fitting rows.

    Attributes:
        cuts: increasing class boundaries.
        space: ``"mw"`` or ``"quantile"``.
    """

    cuts: tuple[float, ...]
    space: str = "mw"

    def __post_init__(self):
        if self.space not in ("mw", "quantile"):
            raise ValueError(f"ClassScheme.space: expected 'mw' or 'quantile', got {self.space!r}")
        if list(self.cuts) != sorted(self.cuts) or len(set(self.cuts)) != len(self.cuts) or not self.cuts:
            raise ValueError(f"ClassScheme.cuts: expected strictly increasing boundaries, got {self.cuts}")

    @property
    def n_classes(self) -> int:
        return len(self.cuts) + 1

    def labels(self, y: np.ndarray, transforms: SubductionTransforms | None = None) -> np.ndarray:
        """Class index ``(n,)`` int64 of each magnitude ``y``."""
        values = np.asarray(y, dtype=np.float64).ravel()
        if self.space == "quantile":
            if transforms is None:
                raise ValueError("ClassScheme.labels: quantile cuts need fitted SubductionTransforms")
            values = transforms.target_quantile(values)
        return np.searchsorted(np.asarray(self.cuts), values, side="right").astype(np.int64)

    def mw_cuts(self, transforms: SubductionTransforms | None = None) -> list[float]:
        """The magnitude at each cut (quantile cuts: see the class docstring)."""
        if self.space == "mw":
            return [float(c) for c in self.cuts]
        if transforms is None:
            raise ValueError("ClassScheme.mw_cuts: quantile cuts need fitted SubductionTransforms")
        ys = np.unique(transforms.target_fit_)
        q = transforms.target_quantile(ys)
        return [float(ys[np.argmax(q >= c)]) if (q >= c).any() else float("nan") for c in self.cuts]

    def class_names(self, transforms: SubductionTransforms | None = None) -> list[str]:
        """Names like ``["Mw < 8.0", "Mw ≥ 8.0"]``; quantile cuts in Mw when transforms are given."""
        if self.space == "mw" or transforms is not None:
            edges = [f"{c:.1f}" if round(c, 1) == c else f"{c:.2f}" for c in self.mw_cuts(transforms)]
            var = "Mw"
        else:
            edges = [f"{c:g}" for c in self.cuts]
            var = "q(Mw)"
        names = [f"{var} < {edges[0]}"]
        names += [f"{a} ≤ {var} < {b}" for a, b in zip(edges[:-1], edges[1:])]
        names.append(f"{var} ≥ {edges[-1]}")
        return names


def along_strike_slices(frame: pd.DataFrame, n_slices: int = 5, by: str = "length") -> np.ndarray:
    """Slice index (0..n_slices-1) of every row: each region's along-strike extent cut in equal parts.

    Args:
        frame: rows with ``region`` and ``along_strike_km``.
        n_slices: number of slices per region (code: 5 slices of 20 %).
        by: ``"length"`` cuts the region's [min, max] along-strike range into equal lengths;
            ``"rows"`` cuts its rows (sorted along strike) into equal counts.

    Returns:
        ``(n,)`` int64 slice index.
    """
    if by not in ("length", "rows"):
        raise ValueError(f"along_strike_slices: by must be 'length' or 'rows', got {by!r}")
    out = np.empty(len(frame), dtype=np.int64)
    pos_all = frame[ALONG_STRIKE].to_numpy(dtype=np.float64)
    for _, idx in frame.groupby(REGION, sort=False).indices.items():
        pos = pos_all[idx]
        if by == "length":
            lo, hi = pos.min(), pos.max()
            frac = (pos - lo) / (hi - lo) if hi > lo else np.zeros_like(pos)
            out[idx] = np.minimum((frac * n_slices).astype(np.int64), n_slices - 1)
        else:
            rank = np.argsort(np.argsort(pos, kind="stable"), kind="stable")
            out[idx] = (rank * n_slices) // len(idx)
    return out


def spatial_exclusion_split(frame: pd.DataFrame, test_slice: int, exclusion_km: float, *,
                            n_slices: int = 5, by: str = "length") -> tuple[np.ndarray, np.ndarray]:
    """Training and test rows of one spatial cross-validation fold.

    Test = slice ``test_slice`` of every region. Training = every other row farther than
    ``exclusion_km`` (strictly) along strike from every test row of its own region; a region's
    rows are never excluded because of another region's test rows. With 50 km segments,
    ``exclusion_km=50`` drops one neighbouring segment on each side of the test slice.

    Args:
        frame: rows with ``region`` and ``along_strike_km``.
        test_slice: which slice is tested (0..n_slices-1).
        exclusion_km: exclusion distance (code: 0, 50, 100 km).
        n_slices: slices per region.
        by: how slices are cut (see :func:`along_strike_slices`).

    Returns:
        ``(train_rows, test_rows)``: sorted int64 positional row indices.
    """
    if not 0 <= test_slice < n_slices:
        raise ValueError(f"spatial_exclusion_split: test_slice must be in 0..{n_slices - 1}, got {test_slice}")
    if exclusion_km < 0:
        raise ValueError(f"spatial_exclusion_split: exclusion_km must be >= 0, got {exclusion_km}")
    slices = along_strike_slices(frame, n_slices, by)
    is_test = slices == test_slice
    keep = ~is_test
    pos_all = frame[ALONG_STRIKE].to_numpy(dtype=np.float64)
    for _, idx in frame.groupby(REGION, sort=False).indices.items():
        test_pos = pos_all[idx][is_test[idx]]
        if len(test_pos) == 0:
            continue
        dist = np.abs(pos_all[idx][:, None] - test_pos[None, :]).min(axis=1)
        keep[idx] &= dist > exclusion_km
    return np.flatnonzero(keep), np.flatnonzero(is_test)


def validation_rows(train_rows: np.ndarray, fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random hold-out of ``fraction`` of the training rows (code: 20 %, uniform at random).

    Returns:
        ``(fit_rows, val_rows)``: sorted subsets of ``train_rows``.
    """
    rng = np.random.default_rng(seed)
    n_val = int(len(train_rows) * fraction)
    val = rng.choice(np.asarray(train_rows), size=n_val, replace=False)
    fit = np.setdiff1d(train_rows, val)
    return fit, np.sort(val)


def balanced_sample(labels: np.ndarray, n: int | None = None, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Positions drawn with replacement, each with probability ∝ 1 / (count of its class).

    This is PyTorch's ``WeightedRandomSampler(weights=1/class_count[y], num_samples=n,
    replacement=True)``, the code's inverse-frequency sampling: every class is drawn equally
    often in expectation, and one epoch is ``n`` draws (default: ``len(labels)``).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    labels = np.asarray(labels)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    p = 1.0 / counts[inverse]
    return rng.choice(len(labels), size=len(labels) if n is None else n, replace=True, p=p / p.sum())
