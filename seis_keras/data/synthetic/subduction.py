"""A synthetic subduction-segment table with a planted maximum-magnitude rule (ml4szeq, SPEC §5).

The table has exactly the 49 feature columns of the real regional tables (same order), then
``MR_GCMT``, ``region`` and ``along_strike_km`` (segments every 50 km). Each feature is a
monotone transform of a latent standard-Gaussian field along strike: a per-region offset
(standard deviation ``region_sigma``) plus an AR(1) series with correlation
``exp(-50 km / correlation_length_km)`` between neighbouring segments. Columns that are never
negative in the real tables are log-normal with the real column's mean and standard deviation;
the others are Gaussian with the real mean and standard deviation (``FEATURE_SCALES``).

**Planted rule** (``PLANTED_FEATURES``, ``PLANTED_COEFFICIENTS``; the physics of Ruff &
Kanamori 1980 and Scholl et al. 2015: thick trench sediment, fast trench-normal convergence and
young slabs host great earthquakes)::

    z_SED = (ln SED_AVE - mu_ln) / sigma_ln          (the log-normal's own parameters)
    z_VTN = (V_TN - 0.4107) / 30.72
    z_AGE = (ln AGE - mu_ln) / sigma_ln
    Mw*   = 7.6 + 0.7 z_SED + 0.5 z_VTN - 0.4 z_AGE + noise (sd ``noise_sd`` = 0.25)
    MR_GCMT = round(min(Mw*, 9.6), 1) if Mw* >= no_event_below (6.4) else 1.0  ("no event")

``subduction_rule(table)`` returns the noise-free ``Mw*`` from a table's features. No other
column carries information about ``MR_GCMT``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: (mean, standard deviation, never negative) of each feature over the 8 real tables, in order.
FEATURE_SCALES = {
    "DXT_200": (437.4, 201.4, False),
    "FDM_200": (0.08961, 0.1312, True),
    "SDM_200": (0.001572, 0.001991, True),
    "DXT_400": (439.2, 198.4, True),
    "FDM_400": (0.06863, 0.0822, True),
    "SDM_400": (0.0005871, 0.0006209, True),
    "DXT_600": (444.5, 192.1, True),
    "FDM_600": (0.04931, 0.05465, True),
    "SDM_600": (0.0002869, 0.0002792, True),
    "SED_AVE": (783.9, 1703, True),
    "SED_STD": (98.75, 249.7, True),
    "SED_GRD": (0.0006764, 0.00159, True),
    "V_UP": (-5.348, 33.02, False),
    "V_TN": (0.4107, 30.72, False),
    "AGE": (70.25, 39.8, True),
    "FRE_DG_AVE": (-1.904, 24.59, False),
    "FRE_DG_STD": (42.59, 20.32, True),
    "EGR_DG_AVE": (1.536, 16.58, False),
    "EGR_DG_STD": (42.05, 19.56, True),
    "SRO_DG_AVE": (134.5, 67.6, True),
    "SRO_DG_STD": (40.15, 27.05, True),
    "IRO_DG_AVE": (589.4, 512.4, True),
    "IRO_DG_STD": (254.8, 282.4, True),
    "LRO_DG_AVE": (428.2, 402.2, True),
    "LRO_DG_STD": (188.7, 201.5, True),
    "CRD_UP_AVE": (2.254e-06, 1.353e-06, False),
    "CRD_UP_STD": (1.44e-06, 6.444e-07, True),
    "CRS_UP_AVE": (-4.844e-10, 2.749e-07, False),
    "CRS_UP_STD": (2.959e-07, 2.023e-07, True),
    "CRM_UP_AVE": (1.064e-06, 7.824e-07, False),
    "CRM_UP_STD": (1.659e-06, 2.258e-06, True),
    "FRE_UP_AVE": (1.947, 29.73, False),
    "FRE_UP_STD": (82.42, 36.7, True),
    "EGO_UP_AVE": (11.78, 25.1, False),
    "EGO_UP_STD": (5.544, 2.867, True),
    "EGO_L_UP_AVE": (-0.7042, 1.646, False),
    "EGO_L_UP_STD": (3.835, 2.102, True),
    "EGO_SL_UP_AVE": (-1.207, 2.338, False),
    "EGO_SL_UP_STD": (4.49, 2.423, True),
    "EGO_UM_UP_AVE": (0.6427, 4.923, False),
    "EGO_UM_UP_STD": (4.949, 2.701, True),
    "EGR_UP_AVE": (1.427, 29.04, False),
    "EGR_UP_STD": (79.36, 36.07, True),
    "EGR_BG_UP_AVE": (104.9, 102.3, False),
    "EGR_BG_UP_STD": (72.48, 34.77, True),
    "INV_UP_AVE": (229, 132, True),
    "INV_UP_STD": (157.2, 151.5, True),
    "DLT_UP_AVE": (-181.6, 108, False),
    "DLT_UP_STD": (159.6, 175.4, True),
}
FEATURE_COLUMNS = tuple(FEATURE_SCALES)
REGIONS = {"alu": 85, "cam": 49, "izu": 61, "ker": 65, "kur": 56, "ryu": 35, "sam": 124, "sum": 116}
SEGMENT_KM = 50.0
PLANTED_FEATURES = ("SED_AVE", "V_TN", "AGE")
PLANTED_COEFFICIENTS = {"SED_AVE": 0.7, "V_TN": 0.5, "AGE": -0.4}
PLANTED_INTERCEPT = 7.6
MAX_MAGNITUDE = 9.6


def _lognormal_parameters(mean: float, sd: float) -> tuple[float, float]:
    sigma2 = np.log1p((sd / mean) ** 2)
    return float(np.log(mean) - sigma2 / 2), float(np.sqrt(sigma2))


def _from_latent(column: str, z: np.ndarray) -> np.ndarray:
    mean, sd, positive = FEATURE_SCALES[column]
    if positive and mean > 0:
        mu, sigma = _lognormal_parameters(mean, sd)
        return np.exp(mu + sigma * z)
    return mean + sd * z


def _to_latent(column: str, x: np.ndarray) -> np.ndarray:
    mean, sd, positive = FEATURE_SCALES[column]
    x = np.asarray(x, dtype=float)
    if positive and mean > 0:
        mu, sigma = _lognormal_parameters(mean, sd)
        return (np.log(np.maximum(x, 1e-300)) - mu) / sigma
    return (x - mean) / sd


def subduction_rule(table: pd.DataFrame) -> np.ndarray:
    """The planted, noise-free maximum magnitude ``Mw*`` of each row of ``table``.

    Args:
        table: a DataFrame with at least the ``PLANTED_FEATURES`` columns.

    Returns:
        ``(len(table),)`` float array.
    """
    missing = [c for c in PLANTED_FEATURES if c not in table.columns]
    if missing:
        raise ValueError(f"subduction_rule: columns {missing} missing (expected {list(PLANTED_FEATURES)})")
    mw = np.full(len(table), PLANTED_INTERCEPT)
    for col, coef in PLANTED_COEFFICIENTS.items():
        mw = mw + coef * _to_latent(col, table[col].to_numpy())
    return mw


def subduction_table(n_segments_per_region: int | dict[str, int] | None = None,
                     regions: tuple[str, ...] = tuple(REGIONS), seed: int = 0, *,
                     correlation_length_km: float = 1000.0, region_sigma: float = 0.5,
                     noise_sd: float = 0.25, no_event_below: float = 6.4) -> pd.DataFrame:
    """Segments of several subduction zones with along-strike features and a planted Mw rule.

    Args:
        n_segments_per_region: segments per region (an int for all, or a dict per region);
            default: the real tables' counts (``REGIONS``).
        regions: region names (any strings; the default is the eight real ones).
        seed: same seed → identical table.
        correlation_length_km: AR(1) correlation length of every feature along strike
            (1000 km: lag-1 correlation 0.95; the real features have 0.7–0.99).
        region_sigma: standard deviation of the per-region offset of each latent feature (0.5).
        noise_sd: scatter of ``Mw*`` around the rule (0.25 magnitude units).
        no_event_below: ``Mw*`` below this is written as ``MR_GCMT = 1.0`` (no GCMT event).

    Returns:
        DataFrame: the 49 feature columns, ``MR_GCMT``, ``region``, ``along_strike_km``;
        ``attrs["planted_features"]`` and ``attrs["planted_coefficients"]`` name the rule.
    """
    if not regions:
        raise ValueError("subduction_table: regions is empty (expected at least one region name)")
    if n_segments_per_region is None:
        counts = {r: REGIONS.get(r, 60) for r in regions}
    elif isinstance(n_segments_per_region, dict):
        missing = [r for r in regions if r not in n_segments_per_region]
        if missing:
            raise ValueError(f"subduction_table: n_segments_per_region lacks regions {missing}")
        counts = {r: int(n_segments_per_region[r]) for r in regions}
    else:
        counts = {r: int(n_segments_per_region) for r in regions}
    if any(v < 1 for v in counts.values()):
        raise ValueError(f"subduction_table: n_segments_per_region={counts} (expected >= 1 per region)")
    if not 0.0 <= region_sigma < 1.0:
        raise ValueError(f"subduction_table: region_sigma={region_sigma} (expected 0 <= sigma < 1)")
    phi = float(np.exp(-SEGMENT_KM / correlation_length_km))
    innovation = np.sqrt((1.0 - region_sigma**2) * (1.0 - phi**2))
    parts = []
    for k, region in enumerate(regions):
        rng = np.random.default_rng([seed, 50, k])
        n = counts[region]
        n_f = len(FEATURE_COLUMNS)
        eps = rng.standard_normal((n, n_f))
        z = np.empty((n, n_f))
        z[0] = eps[0] * np.sqrt(1.0 - region_sigma**2)
        for i in range(1, n):
            z[i] = phi * z[i - 1] + innovation * eps[i]
        z += region_sigma * rng.standard_normal(n_f)[None, :]
        df = pd.DataFrame({c: _from_latent(c, z[:, j]) for j, c in enumerate(FEATURE_COLUMNS)})
        mw = subduction_rule(df) + noise_sd * rng.standard_normal(n)
        df["MR_GCMT"] = np.where(mw >= no_event_below, np.round(np.minimum(mw, MAX_MAGNITUDE), 1), 1.0)
        df["region"] = region
        df["along_strike_km"] = SEGMENT_KM * np.arange(n)
        parts.append(df)
    table = pd.concat(parts, ignore_index=True)
    table.attrs["planted_features"] = list(PLANTED_FEATURES)
    table.attrs["planted_coefficients"] = dict(PLANTED_COEFFICIENTS)
    return table
