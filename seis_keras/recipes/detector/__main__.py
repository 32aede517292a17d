"""``python -m seis_keras.recipes.detector``: the study, section by section as the paper's Methods."""
from __future__ import annotations

import argparse

from seis_keras.recipes import detector as package  # the docstring is the --help text
from seis_keras.explain.lrp import LRPSession
from seis_keras.recipes.detector import report
from seis_keras.recipes.detector.backward_optimisation import backward_optimisation
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.data import load_data
from seis_keras.recipes.detector.feature_maps import feature_map_visualisation
from seis_keras.recipes.detector.real_data import check_eval_store, evaluation_split_robustness, score_eval_data
from seis_keras.recipes.detector.relevance import relevance_propagation
from seis_keras.recipes.detector.recommended import recommended_relevance
from seis_keras.recipes.detector.samples import chosen_samples
from seis_keras.recipes.detector.scan import export_reference, scan_record
from seis_keras.recipes.detector.study import NAME, PAPER, input_contract
from seis_keras.recipes.detector.trust import trust_section
from seis_keras.recipes.detector.training import evaluate_runs, train_runs, training_pool
from seis_keras.recipes.runner import Opening, RunFolder, recipe_main


def run(cfg: DetectorConfig, args: argparse.Namespace) -> RunFolder:
    """Run the whole study into a new run folder under ``args.out``; returns it.

    Args:
        cfg: the validated config.
        args: ``data`` (``None``: built-in windows), ``picks``, ``out``, ``keep_failed``, ``eval_data``
            (``None``: no store of other labelled windows).
    """
    contract = input_contract(cfg, built_in=args.data is None)  # §2.1: models/detector.CONTRACT and [data]
    eval_data = getattr(args, "eval_data", None)
    if eval_data is not None:
        check_eval_store(eval_data)  # before any work
    with RunFolder(NAME, args.out, keep_failed=args.keep_failed) as folder:
        with training_pool(cfg) as pool:  # train.workers' processes import TensorFlow while the data are read
            data = folder.section("data", load_data, cfg, contract, folder, args.data, args.picks)   # §2.1
            training = folder.section("training", train_runs, data, cfg, folder, pool)              # §2.3, §2.4
        evaluation = folder.section("evaluation", evaluate_runs, training, data, cfg, folder)    # §2.4, Table S1
        folder.section("robustness", evaluation_split_robustness, training, data, cfg)          # ours (issue 12)
        scored = None
        if eval_data is not None:  # ours: other labelled records, evaluation only
            scored = folder.section("eval_data", score_eval_data, training, eval_data, contract, cfg, folder)
        chosen = folder.section("chosen_samples", chosen_samples, data, training, evaluation, cfg)  # §3
        # one LRP worker for sections 7-8, started now: it loads while FMV and BO run
        with Opening(LRPSession, training.reference.h5_path, batch_size=cfg.lrp.batch_size) as opening:
            folder.section("fmv", feature_map_visualisation, data, training, chosen, cfg, folder)   # §2.5.1, §3.1
            bo = folder.section("backward_optimisation", backward_optimisation, data, training, chosen, cfg,
                                folder)  # §3.2
            session = opening.get()
            relevance = folder.section("lrp", relevance_propagation, data, training, chosen, cfg, folder, session)  # §3.3
            trust = folder.section("trust", trust_section, data, training, cfg, folder, session,
                                   None if scored is None else scored.windows.picked_earthquakes())  # ours (issue 13)
            folder.section("lrp_compared", recommended_relevance, data, training, chosen, relevance, trust, bo, cfg,
                           folder, session)  # §3.3 / Fig. 5 with the recommended method (issues 13.4, 14)
        folder.section("scan", scan_record, training, contract, cfg, folder)                     # ours
        folder.section("exported_model", export_reference, training.reference, contract, folder)
        folder.finish(lambda metrics: report.markdown(metrics, cfg), config=cfg, paper=PAPER)
    return folder


class _RunsOverride(argparse.Action):
    """``--runs N`` is ``--set train.runs=N`` (checked with the rest of the config)."""

    def __call__(self, parser, namespace, values, option_string=None):
        namespace.overrides = [*(getattr(namespace, "overrides", None) or []), f"train.runs={values}"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The detector's own flags."""
    parser.add_argument("--runs", type=int, action=_RunsOverride, metavar="N",
                        help="number of training runs (= --set train.runs=N; default: the config's)")
    parser.add_argument("--eval-data", default=None, metavar="STORE",
                        help="labelled store (label 1/0 or trace_category) to score every run on, beside the "
                             "evaluation split (evaluation only: nothing is trained or tuned on it)")
    parser.add_argument("--picks", default=None, help="picks CSV for --data DIR of waveform files "
                                                      "(default: data.picks)")


def main(argv=None) -> int:
    """The command line; returns the exit status (2 on a user error, with a one-line message)."""
    return recipe_main(NAME, package.__doc__, DetectorConfig, run, argv, add_arguments)


if __name__ == "__main__":
    raise SystemExit(main())
