"""§ Classes (Table 1, Fig. 3): one model per station, class count and run; the 2-class models kept.

For each station and each class count (2 pre/post; 4, 8, 9 time-to-failure classes), ``train.runs``
models (run i: seed + i), each on its own balanced temporal-middle split; test accuracy, per-class
accuracy and confusion matrix, mean ± std over the runs. The first run's 2-class model of each
station is returned for what follows (the explanations and the exported model).
"""
from __future__ import annotations

import dataclasses
import time

from seis_keras.plots.norcia import confusion_matrices
from seis_keras.recipes.norcia.config import NorciaConfig
from seis_keras.recipes.norcia.study import NorciaData, Trained, make_split, train_and_test
from seis_keras.train.evaluate import summarise_runs

_SUMMARISED = ("accuracy", "performance_ratio", "per_class_accuracy", "confusion_matrix")


@dataclasses.dataclass
class ClassModels:
    """Table 1's scores and the first 2-class model of each station.

    Attributes:
        metrics: ``{station: {"<n>": {"runs": [scores...], "summary": {...}}}}``.
        two_class: ``{station: Trained}``, run 0 of the 2-class model (absent without 2 in ``classes.counts``).
    """

    metrics: dict
    two_class: dict[str, Trained]

    def two_class_accuracy(self, station: str) -> float | None:
        """Mean test accuracy (%) of the station's 2-class models, or None."""
        try:
            return 100 * self.metrics[station]["2"]["summary"]["accuracy"]["mean"]
        except (KeyError, TypeError):
            return None


def class_models(data: NorciaData, cfg: NorciaConfig, folder) -> ClassModels:
    """Every station × class count × run; confusion matrices of run 0 as ``figures/confusion_<station>.png``.

    Args:
        data: the traces and stations.
        cfg: the recipe config (``classes``, ``split``, ``train``, ``model``).
        folder: the run folder (models under ``models/<station>_<n>class_run<i>``, figures, log).

    Returns:
        :class:`ClassModels`: Table 1's scores (the section's metrics) and the 2-class models.
    """
    meta = data.store.metadata
    out, first = {}, {}
    for station in data.stations:
        mask = data.station_mask(station)
        out[station] = {}
        for n in cfg.classes.counts:
            runs = []
            for r in range(cfg.train.runs):
                split = make_split(meta, mask, n, cfg, cfg.seed + r)
                t0 = time.time()
                trained = train_and_test(data, split, cfg, cfg.seed + r,
                                         folder.path / "models" / f"{station}_{n}class_run{r}")
                scores = dict(trained.scores, counts=split.counts(), wall_time_s=round(time.time() - t0, 1))
                runs.append(scores)
                folder.log(f"{station} {n} classes run {r}: test accuracy {scores['accuracy']:.3f} "
                           f"({scores['counts']}, {scores['wall_time_s']} s)")
                if n == 2 and r == 0:
                    first[station] = trained
            out[station][str(n)] = {"runs": runs, "summary": summarise_runs(
                [{k: v for k, v in s.items() if k in _SUMMARISED} for s in runs])}
        mats = {f"{n} classes": (e["runs"][0]["confusion_matrix"], e["runs"][0]["class_names"])
                for n, e in out[station].items()}
        folder.save_figure(confusion_matrices(mats, title=f"station {station}, test set (run 0)"),
                           f"confusion_{station}")
    return ClassModels(out, first)


def explain_model(data: NorciaData, cfg: NorciaConfig, folder) -> Trained:
    """The model the explanations need when the classes part did not make it: 2 classes, run 0, experiment station.

    Args:
        data: the traces.
        cfg: the recipe config.
        folder: the run folder.

    Returns:
        The :class:`~seis_keras.recipes.norcia.study.Trained` model (its test scores are the section's metrics).
    """
    station = data.experiment_station
    split = make_split(data.store.metadata, data.station_mask(station), 2, cfg, cfg.seed)
    return train_and_test(data, split, cfg, cfg.seed, folder.path / "models" / f"{station}_2class_run0")
