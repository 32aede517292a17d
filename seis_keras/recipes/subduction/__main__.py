"""ml4szeq subduction segments, run as ``python -m seis_keras.recipes.subduction`` (see the package docstring)."""
from __future__ import annotations

import dataclasses
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from seis_keras.data.subduction import REGION, SubductionTable, SubductionTransforms
from seis_keras.plots.subduction import f1_vs_exclusion
from seis_keras.recipes import subduction as package
from seis_keras.recipes.runner import RunFolder, recipe_main
from seis_keras.recipes.subduction import report
from seis_keras.recipes.subduction.config import SubductionConfig
from seis_keras.recipes.subduction.cross_validation import spatial_cross_validation
from seis_keras.recipes.subduction.final_models import final_models
from seis_keras.recipes.subduction.reference import reference_checkpoints
from seis_keras.recipes.subduction.relevance import class_relevance
from seis_keras.recipes.subduction.trust import trust_section
from seis_keras.recipes.subduction.study import NAME, PAPER, class_schemes, fitted_transforms, load_data


@dataclasses.dataclass
class SubductionData:
    """The table, where it came from, the planted features (built-in data) and the all-rows transforms."""

    table: SubductionTable
    source: str
    planted: list | None
    all_rows_transforms: SubductionTransforms
    transforms_cache: dict

    @property
    def metrics(self) -> dict:
        t = self.table
        per_region = t.frame[REGION].value_counts().sort_index()
        return {"source": self.source, "n_read": t.n_read, "n_dropped_missing": t.n_dropped, "n_rows": len(t.frame),
                "dropped_per_region": t.dropped_per_region,
                "rows_per_region": {str(k): int(v) for k, v in per_region.items()},
                "n_no_event_set_to_mw4": t.n_no_event, "planted_features": self.planted}


@dataclasses.dataclass
class Classes:
    """Class names per class count (in Mw, from the all-rows transforms) and the summary of each scheme."""

    names: dict
    metrics: dict


def data_section(cfg: SubductionConfig, data: str | None) -> SubductionData:
    """§ Data: the eight regional tables (or the built-in one), rows with missing values dropped."""
    table, source, planted = load_data(data, cfg, cfg.seed)
    cache: dict = {}
    all_tr = fitted_transforms(table.features, table.target, np.arange(len(table.frame)), cache)
    return SubductionData(table, source, planted, all_tr, cache)


def classes_section(data: SubductionData, schemes: dict) -> Classes:
    """§ Classes: Mw < 8 / ≥ 8, and the quantile cuts ≈ Mw 6.4 / 8.3 (with the transforms fitted on all rows)."""
    tr, table = data.all_rows_transforms, data.table
    names, out = {}, {}
    for n_cls, scheme in schemes.items():
        labels = scheme.labels(table.target, tr)
        names[n_cls] = scheme.class_names(tr)
        out[str(n_cls)] = {"cuts": list(scheme.cuts), "space": scheme.space, "mw_cuts_all_rows": scheme.mw_cuts(tr),
                           "names": names[n_cls],
                           "counts_all_rows": np.bincount(labels, minlength=scheme.n_classes).tolist()}
    return Classes(names, out)


def run(cfg: SubductionConfig, args) -> RunFolder:
    """The study, section by section, into a run folder."""
    schemes = class_schemes(cfg)
    with RunFolder(NAME, out=args.out, keep_failed=args.keep_failed) as folder:
        data = folder.section("data", data_section, cfg, args.data)
        classes = folder.section("classes", classes_section, data, schemes)
        cv = folder.section("cross_validation", spatial_cross_validation, cfg, data, schemes, folder.log)
        plot = {int(k): {float(d): {m: e[m] for m in ("mlp", "logistic", "majority")} for d, e in by.items()}
                for k, by in cv.f1.items()}
        folder.save_figure(f1_vs_exclusion(plot, classes.names, title=f"ml4szeq spatial CV ({data.source})"),
                           "f1_vs_exclusion")
        if cfg.reference.checkpoints:
            folder.section("reference_checkpoints", reference_checkpoints, cfg, data, schemes,
                           cfg.reference.checkpoints, folder.log)
        rel = folder.section("relevance", class_relevance, cfg, cv, classes, data.planted, folder)
        folder.section("trust", trust_section, cfg, cv, rel, data.planted, folder)
        folder.section("final_models", final_models, cfg, data, schemes, cv.trainers, folder)
        folder.finish(lambda metrics: report.markdown(metrics, cfg), config=cfg, paper=PAPER)
    return folder


def add_arguments(p) -> None:
    p.add_argument("--reference-checkpoints", default=None, metavar="DIR",
                   help="the authors' released checkpoints (models/ of github.com/jcgraciosa/xai-megathrust), "
                        "scored on our folds beside ours (= --set reference.checkpoints=DIR)")


def flag_overrides(args) -> list[str]:
    return [f"reference.checkpoints={json.dumps(args.reference_checkpoints)}"] if args.reference_checkpoints else []


def main(argv=None) -> int:
    return recipe_main(NAME, package.__doc__, SubductionConfig, run, argv, add_arguments, flag_overrides)


if __name__ == "__main__":
    raise SystemExit(main())
