"""What the detector study's sections share: its data classes, the paper's numbers, the input contract.

Sections (the modules beside this one) pass these objects to each other as return values:
``data`` -> :class:`DetectorData`, ``training`` -> :class:`Training`, ``evaluation`` ->
:class:`Evaluation`, ``chosen_samples`` -> :class:`ChosenSamples`, ``lrp`` -> :class:`Relevance`.
Each has a ``metrics`` dict, which :meth:`~seis_keras.recipes.runner.RunFolder.section` files
in ``metrics.json`` under the section's key.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from seis_keras.data.transforms import Demean
from seis_keras.models import contract_of
from seis_keras.models.contract import InputContract
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.runner import PaperValue, RunFolder

NAME = "detector"
#: Runs (A = the reference model, §2.4) and chosen samples (§3) are named by letters.
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: The paper's numbers (Majstorović et al. 2023), with where it gives them; the report and
#: ``metrics.json["paper"]`` both read this table.
PAPER = {
    "accuracy": PaperValue("0.9758 ± 0.0008", "§2.4, Table S1", "mean ± std of 10 runs on AQULO (not public)"),
    "correlated_channels_sample_B": PaperValue(0.49, "§3.1, Fig. S12", "conv5, model A, r > 0.8"),
    "cross_run_matched_channels": PaperValue("> 0.75", "§3.1, Fig. S14", "runs B–J vs A, r > 0.8"),
    "optimal_input_within_unit_amplitude": PaperValue("0.83 (25/30)", "§3.2, Fig. 5A"),
    "optimal_input_high_frequencies": PaperValue("optimal inputs richer in high frequencies", "§3.2, Fig. 5B"),
    "real_init_changes": PaperValue("small changes, mostly before P", "§3.2, Fig. 6"),
    "real_init_first_5s": PaperValue("more change in the first 5 s", "§3.2, Fig. 6"),
    "noise_prototype": PaperValue("noise prototype of very low amplitude", "§3.2, Fig. S16"),
    "sigma_lrp_vs_distance": PaperValue("positive (more spread for distant events)", "§3.3, Fig. 8A"),
    "sigma_lrp_noise_vs_earthquakes": PaperValue("noise larger", "§3.3, Fig. 8B"),
    "noise_relevance": PaperValue("negative", "§3.3, Fig. S26"),
    "cross_run_relevance": PaperValue("β = 0, 0.5 consistent; β = 1 less", "§3.3, Figs S23–S25"),
}


def input_contract(cfg: DetectorConfig, built_in: bool = True) -> InputContract:
    """The trained model's input contract: the paper's (``models/detector.py``) at the config's windows.

    The rate, window length and component order come from ``[data]``; the transforms are the
    paper's (``MaxNormalize``) with ``Demean`` first when ``data.demean`` resolves to on
    (``"auto"``: on for the built-in windows, off for ``--data``, see :meth:`Data.demean_for`).
    The training pipeline, the explained windows, ``--eval-data``, the scan and the exported
    ``input_contract.json`` all read this one contract.

    Args:
        cfg: the config.
        built_in: whether the run trains on the built-in windows (``--data`` not given).
    """
    paper = contract_of("detector")
    d = cfg.data
    return paper.replace(sampling_rate=d.sampling_rate, window_samples=d.window_samples,
                         component_order=d.component_order).with_transforms(
        ([Demean()] if d.demean_for(built_in) else []) + paper.transform_list())


def stored_path(folder: RunFolder, path: str | os.PathLike) -> str:
    """A path for ``metrics.json``: relative to the run folder when inside it (the folder is renamed at the end)."""
    try:
        return folder.relative(path)
    except ValueError:
        return str(Path(path).resolve())


@dataclasses.dataclass(frozen=True)
class EvaluationSplit:
    """The evaluation ("test") split, read once.

    Attributes:
        rows: its rows in the store.
        x: model-input windows ``(n, T, C)`` (the contract's transforms applied).
        y: labels ``(n,)``, 1 earthquake.
        meta: metadata rows (index reset).
    """

    rows: np.ndarray
    x: np.ndarray
    y: np.ndarray
    meta: pd.DataFrame


@dataclasses.dataclass(frozen=True)
class DetectorData:
    """The windows of the study (§2.1).

    Attributes:
        store: the :class:`~seis_keras.data.store.WaveformStore` (at the contract's rate and length).
        labels: ``(N,)`` int, 1 earthquake, 0 noise.
        splits: ``{"train" | "dev" | "test": row indices}``.
        source: what the data are (for the report).
        built_in: whether the built-in data (ground truth known) are used.
        contract: the model's input contract (windows are read through its transforms).
        test: the evaluation split.
        metrics: size, balance, splits, store (``metrics.json["data"]``).
    """

    store: object
    labels: np.ndarray
    splits: dict
    source: str
    built_in: bool
    contract: InputContract
    test: EvaluationSplit
    metrics: dict


@dataclasses.dataclass(frozen=True)
class TrainedRun:
    """One of the runs (§2.4): its name (A, B, ...), model, weights file and training summary."""

    name: str
    model: object
    h5_path: Path
    fit: dict


@dataclasses.dataclass(frozen=True)
class Training:
    """The trained runs; ``runs[0]`` is model A, the reference."""

    runs: list

    @property
    def reference(self) -> TrainedRun:
        return self.runs[0]

    @property
    def metrics(self) -> dict:
        return {r.name: {k: v for k, v in r.fit.items() if k not in ("history", "paths")} for r in self.runs}


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Each run scored on the evaluation split.

    Attributes:
        probabilities: ``{run name: (n,) earthquake probability}``.
        metrics: ``{"runs": {name: classification metrics}, "summary": mean ± std over runs}``.
    """

    probabilities: dict
    metrics: dict


@dataclasses.dataclass(frozen=True)
class ChosenSamples:
    """The explained evaluation windows (§3): earthquakes A, B, ... then noise windows.

    Attributes:
        earthquakes: positions in the evaluation split of the chosen earthquakes.
        noise: positions of the chosen noise windows.
        reference: position of earthquake "B" (``fmv.reference_sample``), the paper's reference.
        metrics: the chosen samples with their metadata, by letter.
    """

    earthquakes: np.ndarray
    noise: np.ndarray
    reference: int
    metrics: dict

    @property
    def positions(self) -> np.ndarray:
        return np.concatenate([self.earthquakes, self.noise])

    @property
    def names(self) -> list[str]:
        return [LETTERS[i] for i in range(len(self.positions))]

    @property
    def reference_index(self) -> int:
        """Index of the reference sample among :attr:`positions`."""
        return int(np.flatnonzero(self.positions == self.reference)[0])


@dataclasses.dataclass(frozen=True)
class Relevance:
    """LRP of model A (§3.3), what the explanation-quality section scores.

    Attributes:
        sigma_rule: the rule of σ_LRP (the first β).
        sigma_rows: positions in the evaluation split of the σ_LRP windows.
        sigma_maps: their relevance under ``sigma_rule`` ``(n, T, C)``.
        chosen_maps: ``{rule: relevance of the chosen samples}``.
        metrics: ``metrics.json["lrp"]``.
    """

    sigma_rule: str
    sigma_rows: np.ndarray
    sigma_maps: np.ndarray
    chosen_maps: dict
    metrics: dict


def finite_stat(fn, v) -> float | None:
    """``fn`` of the finite values of ``v``; None when there are none."""
    v = np.asarray(v, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(fn(v)) if len(v) else None
