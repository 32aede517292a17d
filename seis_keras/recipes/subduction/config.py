"""The typed config of the ml4szeq subduction recipe (values and citations: ``recipes/subduction.toml``)."""
from __future__ import annotations

import dataclasses
from typing import Literal

from seis_keras.explain.methods import parse_method
from seis_keras.recipes.config import TrustChecks, setting


def _class_counts(counts) -> str | None:
    if not counts or len(set(counts)) != len(counts) or not set(counts) <= {2, 3}:
        return "expected a non-empty list of distinct class counts from [2, 3]"
    return None


def _method(text) -> str | None:
    """None if ``text`` is a method of :mod:`seis_keras.explain.methods`, else what is wrong (parsing imports no TF)."""
    try:
        parse_method(text)
    except ValueError as e:
        return str(e)
    return None


def _increasing(cuts) -> str | None:
    return None if cuts and list(cuts) == sorted(set(cuts)) else "expected strictly increasing class boundaries"


@dataclasses.dataclass(frozen=True)
class Data:
    segment_step_km: float = setting(gt=0)
    no_event_threshold: float
    no_event_magnitude: float
    synthetic_segments_per_region: int = setting(min=5)


@dataclasses.dataclass(frozen=True)
class Classes:
    counts: list[int] = setting(check=_class_counts)
    two_cuts: list[float] = setting(check=_increasing)
    two_space: Literal["mw", "quantile"]
    three_cuts: list[float] = setting(check=_increasing)
    three_space: Literal["mw", "quantile"]

    def __post_init__(self):
        if len(self.two_cuts) != 1 or len(self.three_cuts) != 2:
            raise ValueError(f"two_cuts needs 1 boundary and three_cuts 2, got {self.two_cuts} and {self.three_cuts}")


@dataclasses.dataclass(frozen=True)
class CV:
    n_slices: int = setting(min=2)
    slice_by: Literal["length", "rows"]
    exclusion_km: list[float] = setting(min=0)
    sweep_km: list[float] = setting(min=0)
    validation_fraction: float = setting(gt=0, lt=1)
    fit_transforms_on: Literal["train", "all"]
    compare_seeds: int = setting(min=0)

    @property
    def distances(self) -> list[float]:
        """Every exclusion distance of the study, sorted."""
        return sorted({float(d) for d in [*self.exclusion_km, *self.sweep_km]})


@dataclasses.dataclass(frozen=True)
class Model:
    h1: int = setting(min=1)
    h2: int = setting(min=1)
    dropout: float = setting(min=0, lt=1)
    architectures_from: str


@dataclasses.dataclass(frozen=True)
class Reference:
    checkpoints: str


@dataclasses.dataclass(frozen=True)
class Train:
    loss: Literal["bce_onehot", "softmax_ce"]
    learning_rate: float = setting(gt=0)
    lr_schedule: Literal["one_cycle", "constant"]
    adam_epsilon: float = setting(gt=0)
    batch_size: int = setting(min=1)
    epochs: int = setting(min=1)
    balance: Literal["sampling", "class_weight", "none"]
    seeds: int = setting(min=1)
    jit_compile: bool
    lr_schedule_step: Literal["epoch", "batch"]
    validation_sampling: Literal["balanced", "none"]
    init: Literal["pytorch", "keras"]


@dataclasses.dataclass(frozen=True)
class Baselines:
    logistic_c: float = setting(gt=0)


@dataclasses.dataclass(frozen=True)
class Explain:
    exclusion_km: float = setting(min=0)
    lrp_epsilon: float = setting(gt=0)
    lrp_backend: Literal["innvestigate", "reference"]
    true_positives_only: bool
    methods: list[Literal["lrp", "saliency", "shap"]]
    shap_background: int = setting(min=1)
    shap_samples: int = setting(min=1)
    top_k: int = setting(min=1)
    recommended: str = setting(check=_method)


@dataclasses.dataclass(frozen=True)
class Trust(TrustChecks):
    """The :class:`seis_keras.explain.trust.TrustSettings` this recipe sets (same names)."""

    fill: float
    unit: Literal["element"]


@dataclasses.dataclass(frozen=True)
class SubductionConfig:
    seed: int
    data: Data
    classes: Classes
    cv: CV
    model: Model
    train: Train
    baselines: Baselines
    explain: Explain
    trust: Trust
    reference: Reference
    profile: str = setting(loader=True)

    def __post_init__(self):
        if float(self.explain.exclusion_km) not in self.cv.distances:
            raise ValueError(f"explain.exclusion_km = {self.explain.exclusion_km:g} is not among the exclusion "
                             f"distances {self.cv.distances} (cv.exclusion_km + cv.sweep_km)")
