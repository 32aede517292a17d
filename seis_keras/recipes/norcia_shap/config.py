"""The typed config of the norcia_shap recipe (values and citations: ``recipes/norcia_shap.toml``)."""
from __future__ import annotations

import dataclasses
from typing import Literal

import pandas as pd

from seis_keras.data.synthetic.norcia import NORCIA_STATIONS
from seis_keras.recipes.config import TrustChecks, setting


def _stations(value) -> str | None:
    names = [value] if isinstance(value, str) else list(value)
    bad = [s for s in names if s != "all" and s not in NORCIA_STATIONS]
    return f"expected 'all' or station codes from {list(NORCIA_STATIONS)}, got {bad}" if bad or not names else None


def _utc_time(value) -> str | None:
    try:
        pd.Timestamp(value)
    except ValueError:
        return "expected an ISO time like 2016-10-30T06:40:17Z"
    return None


def _fractions(value) -> str | None:
    return None if all(v > 0 for v in value) and abs(sum(value) - 1) < 1e-9 else "expected 3 positive fractions summing to 1"


def _masker(value) -> str | None:
    ok = value in ("inpaint_telea", "inpaint_ns") or (value.startswith("blur(") and value.endswith(")"))
    return None if ok else "expected 'inpaint_telea', 'inpaint_ns' or 'blur(kx,ky)'"


def _maskers(value) -> str | None:
    bad = [m for m in value if _masker(m) is not None]
    return f"expected a list of maskers ('inpaint_telea', 'inpaint_ns', 'blur(kx,ky)'), got {bad}" if bad else None


@dataclasses.dataclass(frozen=True)
class Data:
    stations: str | list[str] = setting(check=_stations)
    component_order: Literal["ENZ", "NEZ"]
    mainshock_time: str = setting(check=_utc_time)
    time_column: str
    builtin_events: int = setting(min=10)
    sampling_rate: float = setting(gt=0)

    @property
    def station_list(self) -> list[str] | None:
        """The chosen stations, ``None`` for all."""
        names = [self.stations] if isinstance(self.stations, str) else list(self.stations)
        return None if "all" in names else names


@dataclasses.dataclass(frozen=True)
class Preprocess:
    nperseg: int = setting(min=4)
    noverlap: int = setting(min=0)
    quantise_uint8: bool

    def __post_init__(self):
        if self.noverlap >= self.nperseg:
            raise ValueError(f"noverlap = {self.noverlap} must be smaller than nperseg = {self.nperseg}")


def _groupings(value) -> str | None:
    if not value or len(set(value)) != len(value):
        return "expected one or more of 'trace', 'event', each once (the first is explained and exported)"
    return None


@dataclasses.dataclass(frozen=True)
class Split:
    groupings: list[Literal["trace", "event"]] = setting(check=_groupings)
    fractions: tuple[float, float, float] = setting(check=_fractions)

    @property
    def primary(self) -> str:
        """The split whose model is explained and exported (the first listed)."""
        return self.groupings[0]


@dataclasses.dataclass(frozen=True)
class Model:
    filters: tuple[int, int, int] = setting(min=1)
    hidden_units: int = setting(min=1)
    init: Literal["pytorch", "keras"]


@dataclasses.dataclass(frozen=True)
class Train:
    optimizer: Literal["sgd", "adam", "adamw"]
    learning_rate: float = setting(gt=0)
    weight_decay: float = setting(min=0)
    batch_size: int = setting(min=1)
    epochs: int = setting(min=1)
    keep_best: bool
    verbose: Literal[0, 1, 2]
    tensorboard: bool


@dataclasses.dataclass(frozen=True)
class Shap:
    methods: list[Literal["partition", "gradient"]]
    explain_split: Literal["train", "dev", "test"]
    batches: int = setting(min=1)
    gradient_batches: int = setting(min=1)
    batch_samples: int = setting(min=1)
    aggregation: Literal["batch_signed_max", "global_abs_max"]
    max_evals: int = setting(min=1)
    batch_size: int = setting(min=1)
    masker: str = setting(check=_masker)
    float_inpaint: bool
    target: Literal["logit", "margin"]
    gradient_background: int = setting(min=1)
    gradient_reference: Literal["train", "other_class"]
    gradient_nsamples: int = setting(min=1)
    contrast_samples: int = setting(min=2)
    ceiling_samples: int = setting(min=0)
    ceiling_maskers: list[str] = setting(check=_maskers)
    share_cells: Literal["row", "cell"]
    example_maps: int = setting(min=0)
    band_hz: tuple[float, float] = setting(min=0)
    randomisation_max_evals: int = setting(min=1)
    randomisation_nsamples: int = setting(min=1)


@dataclasses.dataclass(frozen=True)
class Trust(TrustChecks):
    """The :class:`seis_keras.explain.trust.TrustSettings` this recipe sets (same names)."""

    fill: float | Literal["mean"]
    unit: Literal["element"]


@dataclasses.dataclass(frozen=True)
class NorciaShapConfig:
    seed: int
    data: Data
    preprocess: Preprocess
    split: Split
    model: Model
    train: Train
    shap: Shap
    trust: Trust
    profile: str = setting(loader=True)
