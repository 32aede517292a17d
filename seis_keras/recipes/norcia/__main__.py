"""Laurenti et al. 2024 (Norcia), run as ``python -m seis_keras.recipes.norcia`` (see the package docstring)."""
from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

from seis_keras.explain.lrp import LRPSession
from seis_keras.recipes import norcia as package
from seis_keras.recipes.norcia import report
from seis_keras.recipes.norcia.bandpass import bandpass
from seis_keras.recipes.norcia.classes import class_models, explain_model
from seis_keras.recipes.norcia.config import PARTS, NorciaConfig
from seis_keras.recipes.norcia.explanations import evidence_figure, explanations
from seis_keras.recipes.norcia.pairs import pairs
from seis_keras.recipes.norcia.trust import trust_section
from seis_keras.recipes.norcia.study import NAME, PAPER, load_data
from seis_keras.recipes.norcia.wrong_dates import wrong_dates
from seis_keras.recipes.runner import RunFolder, recipe_main


def run(cfg: NorciaConfig, args) -> RunFolder:
    """The study, section by section, into a run folder."""
    tf.get_logger().setLevel("ERROR")  # one tf.function per model: retracing warnings say nothing here
    parts = cfg.parts
    with RunFolder(NAME, out=args.out, keep_failed=args.keep_failed) as folder:
        folder.metrics.update({"parts": parts, "seed": cfg.seed, "profile": cfg.profile})
        data = folder.section("data", load_data, args.data, cfg, folder.path / "data", cfg.seed)
        station = data.experiment_station
        classes = folder.section("classes", class_models, data, cfg, folder) if "classes" in parts else None
        two_class = classes.two_class.get(station) if classes else None  # explained and exported
        if two_class is None and "explain" in parts:
            two_class = folder.section("explain_model_scores", explain_model, data, cfg, folder)
        if "wrong_dates" in parts:
            folder.section("wrong_dates", wrong_dates, data, cfg, folder)
        band_passed = pair_result = None
        if "bandpass" in parts:
            band_passed = folder.section("bandpass", bandpass, data, cfg, folder,
                                         classes.two_class_accuracy(station) if classes else None)
        if "pairs" in parts:
            pair_result = folder.section("pairs", pairs, data, cfg, folder)
        if "explain" in parts:
            with LRPSession(two_class.model) as session:  # one innvestigate worker for every LRP method and check
                explained = folder.section("explain", explanations, data, two_class, cfg, folder, session)
                trust = folder.section("trust", trust_section, explained, two_class, cfg, folder, cfg.seed)
            folder.section("frequency_evidence", evidence_figure, explained, trust.headline, band_passed,
                           pair_result, cfg, folder)
        if two_class is not None:
            folder.metrics["exported"] = report.export(two_class, folder, station)
        folder.finish(lambda metrics: report.markdown(metrics, cfg), config=cfg, paper=PAPER)
    return folder


def add_arguments(p) -> None:
    p.add_argument("--station", default=None,
                   help="one of the nine stations, or 'all' (= --set data.stations=...; default: the config's)")
    for part in PARTS:
        p.add_argument(f"--{part.replace('_', '-')}", dest=part, action="store_true",
                       help=f"run the {part.replace('_', ' ')} part (any part flag: only the flagged parts; "
                            "= --set run.parts=[...])")


def flag_overrides(args) -> list[str]:
    """``--station X`` is ``data.stations="X"``; part flags are ``run.parts=[the flagged parts]``."""
    out = [f"data.stations={json.dumps(args.station)}"] if args.station is not None else []
    chosen = [p for p in PARTS if getattr(args, p)]
    return out + ([f"run.parts={json.dumps(chosen)}"] if chosen else [])


def main(argv=None) -> int:
    return recipe_main(NAME, package.__doc__, NorciaConfig, run, argv, add_arguments, flag_overrides)


if __name__ == "__main__":
    raise SystemExit(main())
