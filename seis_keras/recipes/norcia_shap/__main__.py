"""Magrini & Marrocco's spectrogram CNN + SHAP, run as ``python -m seis_keras.recipes.norcia_shap``."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

from seis_keras.recipes import norcia_shap as package
from seis_keras.recipes.norcia_shap import report
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.figures import shap_figures
from seis_keras.recipes.norcia_shap.shap_maps import shap_maps
from seis_keras.recipes.norcia_shap.study import NAME, PAPER, input_contract, load_data, with_split
from seis_keras.recipes.norcia_shap.training import train_and_test
from seis_keras.recipes.norcia_shap.trust import trust_section
from seis_keras.recipes.runner import RunFolder, recipe_main


def _preprocessing_metrics(contract) -> dict:
    std = contract.transform_list()[-1]
    return {"mean": std.mean_.tolist(), "std": std.std_.tolist(), "transforms": list(contract.transforms)}


def run(cfg: NorciaShapConfig, args) -> RunFolder:
    """The study, section by section, into a run folder."""
    tf.get_logger().setLevel("ERROR")  # one tf.function per model: retracing warnings say nothing here
    seed = cfg.seed
    with RunFolder(NAME, out=args.out, keep_failed=args.keep_failed) as folder:
        folder.metrics["seed"] = seed
        data = folder.section("data", load_data, args.data, cfg, folder.path / "data", seed)
        trained, splits = {}, {}
        for grouping in cfg.split.groupings:  # the first (primary) is explained and exported
            split = data if grouping == data.grouping else with_split(data, grouping, cfg, seed)
            contract = folder.section(f"preprocessing_{grouping}", input_contract, split, cfg)
            folder.metrics[f"preprocessing_{grouping}"] = _preprocessing_metrics(contract)
            trained[grouping] = folder.section(f"training_{grouping}", train_and_test, split, contract, cfg, seed,
                                               folder.path / f"training_{grouping}", folder)
            splits[grouping] = (split, contract)
        primary = cfg.split.primary
        folder.metrics["primary_split"] = primary
        if not args.no_shap:
            maps = folder.section("shap", shap_maps, splits[primary][0], trained[primary], cfg, folder, seed)
            trust = folder.section("trust", trust_section, maps, trained[primary], cfg, folder, seed)
            folder.metrics["figures"] = shap_figures(maps, trust, cfg, folder, data.store)
        folder.metrics["exported"] = report.export(trained[primary].model, splits[primary][1], folder)
        folder.finish(lambda metrics: report.markdown(metrics, cfg), config=cfg, paper=PAPER)
    return folder


def add_arguments(p) -> None:
    p.add_argument("--published-split", action="store_true",
                   help="only the random split of traces, as published (default: that one, then the event-grouped "
                        "split beside it)")
    p.add_argument("--no-shap", action="store_true", help="train and score only")


def flag_overrides(args) -> list[str]:
    """``--published-split`` is ``split.groupings=["trace"]``."""
    return ['split.groupings=["trace"]'] if args.published_split else []


def main(argv=None) -> int:
    return recipe_main(NAME, package.__doc__, NorciaShapConfig, run, argv, add_arguments, flag_overrides)


if __name__ == "__main__":
    raise SystemExit(main())
