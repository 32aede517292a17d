"""Section 3 of the precursor study: the precursor fraction through the ten hours (§5.2, Fig. 5).

Every sub-window of all 36 intervals of the chosen events is classified by each mode-A
network; the fraction called precursor per interval gives a mean ± std over the retrainings,
and the interval from which the mean minus its std stays above the background level is the
rise (paper: ~3.3 h before the earthquake).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from seis_keras.data.precursor_windows import interval_windows, sub_window_table
from seis_keras.plots.precursor import precursor_fraction
from seis_keras.recipes.precursor.study import PrecursorStudy, dataset, json_safe
from seis_keras.recipes.runner import RunFolder
from seis_keras.train.evaluate import predictions


def precursor_fractions(study: PrecursorStudy, model, windows: pd.DataFrame) -> np.ndarray:
    """Fraction of the sub-windows of each of the 36 intervals that ``model`` calls precursor."""
    _, y_pred, _ = predictions(model, dataset(study, windows))
    table = sub_window_table(windows, study.windowing)
    frac = pd.Series(y_pred == 1).groupby(table["macro_window"].to_numpy()).mean()
    return frac.reindex(range(1, study.windowing.n_macro_windows + 1)).to_numpy(np.float64)


def rise_interval(mean: np.ndarray, std: np.ndarray, baseline_intervals: int) -> int | None:
    """First interval (1-based) from which ``mean - std`` stays above the background level.

    Background: the mean of ``mean`` over intervals ``2 … baseline_intervals`` (interval 1 is
    the training noise of mode A) plus the larger of their spread across intervals and their
    mean retraining std. ``None`` if the last interval does not rise above it.
    """
    base = mean[1:baseline_intervals]
    level = float(base.mean()) + max(float(base.std()), float(std[1:baseline_intervals].mean()))
    above = (mean - std) > level
    if not above[-1]:
        return None
    k = len(above)
    while k > 0 and above[k - 1]:
        k -= 1
    return k + 1


def time_course(study: PrecursorStudy, folder: RunFolder, models: list) -> dict:
    """Classify all intervals with every mode-A network; mean ± std, the rise; Fig. 5."""
    tc = study.cfg.time_course
    split = None if tc.split == "all" else tc.split
    windows = interval_windows(study.store.metadata, study.lengths, study.fs, study.windowing, split=split)
    fr = np.stack([precursor_fractions(study, m, windows) for m in models])
    mean, std = fr.mean(axis=0), fr.std(axis=0)
    k = rise_interval(mean, std, tc.baseline_intervals)
    n, w_s = study.windowing.n_macro_windows, study.cfg.windows.macro_window_s
    hours_before = (n - np.arange(n)) * w_s / 3600.0  # start of interval k, hours before the origin
    out = {"split": tc.split, "n_events": int(windows["source_id"].nunique()), "fractions": fr.tolist(),
           "mean": mean.tolist(), "std": std.tolist(), "interval_start_hours_before": hours_before.tolist(),
           "rise_interval": k, "rise_hours_before": None if k is None else float(hours_before[k - 1])}
    if study.built_in:
        out["planted_onset_hours_before"] = float(min(study.cfg.synthetic.onset_hours, n * w_s / 3600.0))
    folder.save_figure(precursor_fraction(hours_before, mean, std, rise_hours=out["rise_hours_before"],
                                          onset_hours=out.get("planted_onset_hours_before")),
                       "fig5_precursor_fraction")
    return json_safe(out)
