"""§ Band-passed traces (Fig. 5): one binary model per frequency band, on the 2-class model's split.

The traces of the experiment station are band-passed (zero-phase Butterworth of order
``bandpass.order``; 0–3 Hz a low-pass, 48–50 Hz a high-pass) before the L2 normalisation, in
``bandpass.step_hz`` steps over 0–``max_hz`` Hz (or the listed ``bands``); ``bandpass.runs``
models per band. The paper: accuracy similar to the raw traces above 10 Hz, a significant drop
below 10 Hz.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from seis_keras.data.norcia_experiments import planted_band
from seis_keras.plots.norcia import bandpass_accuracy
from seis_keras.recipes.norcia.config import NorciaConfig
from seis_keras.recipes.norcia.study import NorciaData, make_split, train_and_test


def bandpass(data: NorciaData, cfg: NorciaConfig, folder, raw_accuracy: float | None = None) -> dict:
    """Fig. 5: test accuracy per band.

    Args:
        data: the traces.
        cfg: the recipe config.
        folder: the run folder.
        raw_accuracy: the 2-class models' accuracy (%) on unfiltered traces (the classes part), drawn
            and reported beside the bands; None without it.
    """
    meta = data.store.metadata
    split = make_split(meta, data.station_mask(data.experiment_station), 2, cfg, cfg.seed)
    rows = []
    for lo, hi in cfg.bandpass.band_list():
        accs = []
        for r in range(cfg.bandpass.runs):
            trained = train_and_test(data, split, cfg, cfg.seed + r,
                                     folder.path / "models" / f"bandpass_{lo:g}-{hi:g}_run{r}", band=(lo, hi))
            accs.append(100 * trained.scores["accuracy"])
        rows.append({"band_low_hz": lo, "band_high_hz": hi, "accuracy": float(np.mean(accs)),
                     "accuracy_std": float(np.std(accs)), "runs": accs})
        folder.log(f"band {lo:g}-{hi:g} Hz: accuracy {np.mean(accs):.1f} %")
    table = pd.DataFrame(rows)
    band, kind = planted_band(meta, cfg.explain.band_hz)
    folder.save_figure(bandpass_accuracy(table, raw_accuracy=raw_accuracy, band=band), "bandpass")
    overlap = (table.band_high_hz > band[0]) & (table.band_low_hz < band[1])
    below = table.band_high_hz <= 10
    return {"table": rows, "raw_accuracy": raw_accuracy, "band": list(band), "band_kind": kind,
            "mean_accuracy_in_band": float(table[overlap].accuracy.mean()) if overlap.any() else None,
            "mean_accuracy_below_10hz": float(table[below].accuracy.mean()) if below.any() else None}
