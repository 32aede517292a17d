"""§ Wrong mainshock dates (Table 2, Fig. 4b): retrain with pre/post labels from a wrong date, score on the true ones.

For each date of ``wrong_dates.dates`` and the true one, binary models at the experiment station:
by default on the true-date events and split with only the labels changed (``split =
"same_events"``, the paper: "we retrain the entire model on the same events, but we modify the
labels"), or with classes, balancing and split redone on the wrong-date labels (``"refit"``).
Scored on the true labels, overall and inside the fake interval: NM test events between the
fake and the true date (mislabelled in training), NC of them classified with the true label,
FP = (NM − NC) / NM the share that followed the fake label.

The split of this experiment is ``wrong_dates.test_events``: ``"random"`` by event (default)
spreads the test events through the sequence, as Table 2's NM (43–261) need; the temporal-middle
split of Table 1 (``"temporal"``) takes each class's 45–65 % stretch in time, which holds almost
no event between a fake and the true date. The NM the other split would have had is counted
(without training) and reported beside.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from seis_keras.data import norcia as nd
from seis_keras.plots.norcia import wrong_dates as wrong_dates_figure
from seis_keras.recipes.norcia.config import NorciaConfig
from seis_keras.recipes.norcia.study import NorciaData, make_split, train_and_test


def fake_interval_scores(meta_test: pd.DataFrame, true: np.ndarray, pred: np.ndarray, date, mainshock_time,
                         time_column: str = "trace_start_time") -> dict:
    """Table 2's NM, NC, FP and the accuracy inside the fake interval for one model's test traces.

    Args:
        meta_test: metadata of the test traces.
        true: their true pre/post labels.
        pred: the predicted classes.
        date: the wrong mainshock date the model was trained with.
        mainshock_time: the true one.
        time_column: the trace time.

    Returns:
        ``{"NM", "NC", "FP" (% or None when NM = 0), "interval_accuracy" (% or None)}``.
    """
    inside = nd.fake_interval(meta_test, date, mainshock_time, time_column=time_column)
    nm = int(inside.sum())
    nc = int((np.asarray(pred)[inside] == np.asarray(true)[inside]).sum())
    return {"NM": nm, "NC": nc, "FP": 100 * (nm - nc) / nm if nm else None,
            "interval_accuracy": 100 * nc / nm if nm else None}


def wrong_dates(data: NorciaData, cfg: NorciaConfig, folder) -> dict:
    """Table 2: one model per wrong date and run (and the true date), scored on the true labels.

    Args:
        data: the traces (the experiment station's are used).
        cfg: the recipe config (``wrong_dates``, ``data.mainshock_time``).
        folder: the run folder (``figures/wrong_dates.png``).

    Returns:
        ``{"table": one row per date and run, "true_date_accuracy", "exclude_visso", "split"}``.
    """
    w, d = cfg.wrong_dates, cfg.data
    meta = data.store.metadata
    mask = data.station_mask(data.experiment_station)
    true = data.true_labels(d.mainshock_time, d.time_column)
    base = make_split(meta, mask, 2, cfg, cfg.seed, exclude_visso=w.exclude_visso, kind=w.test_events)
    other = "temporal" if w.test_events == "random" else "random"
    other_test = make_split(meta, mask, 2, cfg, cfg.seed, exclude_visso=w.exclude_visso, kind=other).rows("test")
    rows = []
    for date in [*w.dates, d.mainshock_time]:
        is_true = date == d.mainshock_time
        if w.split == "same_events":  # the true-date events and split, labels from the wrong date
            split = base.relabelled(true if is_true else nd.pre_post_labels(meta, date, time_column=d.time_column))
        else:  # classes, balancing and split redone on the wrong-date labels
            split = make_split(meta, mask, 2, cfg, cfg.seed, mainshock_time=date, exclude_visso=w.exclude_visso,
                               kind=w.test_events)
        nm_other = int(nd.fake_interval(meta.iloc[other_test], date, d.mainshock_time, time_column=d.time_column).sum())
        for r in range(w.runs):
            tag = "true" if is_true else str(date)[:10]
            trained = train_and_test(data, split, cfg, cfg.seed + r,
                                     folder.path / "models" / f"wrong_date_{tag}_run{r}", true_labels=true)
            test = trained.test
            scores = fake_interval_scores(meta.iloc[test], true[test], trained.pred, date, d.mainshock_time,
                                          d.time_column)
            rows.append({"date": str(date)[:10], "true_date": is_true, "run": r,
                         "accuracy": 100 * trained.scores["accuracy"],
                         "performance_ratio": 100 * trained.scores["performance_ratio"], "n_test": int(len(test)),
                         **scores, f"NM_{other}_split": nm_other})
            folder.log(f"wrong date {tag}: accuracy {trained.scores['accuracy']:.3f}, "
                       f"NM/NC {scores['NM']}/{scores['NC']}")
    table = pd.DataFrame(rows)
    fake = table[~table.true_date].groupby("date", as_index=False)[["accuracy", "interval_accuracy"]].mean()
    true_acc = float(table[table.true_date].accuracy.mean())
    folder.save_figure(wrong_dates_figure(fake, true_accuracy=true_acc), "wrong_dates")
    records = table.astype(object).where(table.notna(), None).to_dict("records")  # JSON: null, not NaN
    return {"table": records, "true_date_accuracy": true_acc, "exclude_visso": w.exclude_visso, "split": w.split,
            "test_events": w.test_events, "other_split": other}
