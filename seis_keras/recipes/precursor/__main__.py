"""Run the precursor study: ``python -m seis_keras.recipes.precursor [--profile quick] [--data ...]``.

:func:`run` follows the paper's Methods and Results, one section at a time (each section's
metrics are filed under its key in ``metrics.json``).
"""
from __future__ import annotations

import functools
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from seis_keras.recipes import precursor as package  # noqa: E402  (the package docstring is --help)
from seis_keras.recipes.precursor import report  # noqa: E402
from seis_keras.recipes.precursor.config import PrecursorConfig  # noqa: E402
from seis_keras.recipes.precursor.data import load_data  # noqa: E402
from seis_keras.recipes.precursor.occlusion import frequency_occlusion, sequential_and_occlusion  # noqa: E402
from seis_keras.recipes.precursor.relevance import planted_band, relevance_spectra  # noqa: E402
from seis_keras.recipes.precursor.scan_record import export_model, scan_record  # noqa: E402
from seis_keras.recipes.precursor.spectra import spectra  # noqa: E402
from seis_keras.recipes.precursor.study import NAME, PAPER  # noqa: E402
from seis_keras.recipes.precursor.time_course import time_course  # noqa: E402
from seis_keras.recipes.precursor.training import train_all  # noqa: E402
from seis_keras.recipes.precursor.trust import trust_section  # noqa: E402
from seis_keras.recipes.runner import RunFolder, recipe_main  # noqa: E402


def run(cfg: PrecursorConfig, args) -> RunFolder:
    """The whole study; returns the (finished) run folder.

    Args:
        cfg: the validated config.
        args: the command line (``data``: ``None`` for the built-in records, a store or obspy
            files; ``out``: parent folder of the run folder; ``keep_failed``).
    """
    with RunFolder(NAME, args.out, keep_failed=args.keep_failed) as folder:
        # §2, §4: the 10 h records before each event; macro-windows and sub-windows per noise mode
        study = folder.section("data", load_data, cfg, args.data, folder)
        # §3, §5.1: train per noise mode (mode A five times), accuracy, Fig. 4, Table 2
        training = folder.section("training", train_all, study, folder)
        # §5.2, Fig. 5: the fraction called precursor through the ten hours, every mode-A network
        folder.section("time_course", time_course, study, folder, training.models["A"])
        # §6 with the first mode-A network: occlusion in time (§6.1) and frequency (§6.2), spectra (§6.3)
        network = training.models["A"][0]
        occlusion = folder.section("occlusion", sequential_and_occlusion, study, folder, network)
        frequency = folder.section("frequency_occlusion", frequency_occlusion, study, folder, network)
        spectral = folder.section("spectra", spectra, study, folder, occlusion.chosen)
        # added: relevance per frequency (DFT-LRP) of every method beside Figs 8 and 11; can each be trusted?
        relevance = folder.section("relevance", relevance_spectra, study, folder, network, frequency, spectral)
        folder.section("trust", trust_section, study, folder, network, relevance)
        # on the built-in data: does each analysis find the planted band?
        if study.built_in:
            folder.section("planted_band", planted_band, study, frequency, spectral, relevance.metrics)
        # the network on a continuous record, and exported for seis-keras scan / serving
        folder.section("scan", scan_record, study, folder, network)
        folder.section("export", export_model, study, folder, network)
        folder.finish(functools.partial(report.markdown, cfg=cfg), config=cfg, paper=PAPER)
    return folder


def main(argv=None) -> int:
    """The command line: validate the config (before any data are read), run, exit 0 (2 on a user error)."""
    return recipe_main(NAME, package.__doc__, PrecursorConfig, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
