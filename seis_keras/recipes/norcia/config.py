"""The typed config of the Laurenti et al. 2024 recipe (values and citations: ``recipes/norcia.toml``)."""
from __future__ import annotations

import dataclasses
from typing import Literal

import pandas as pd

from seis_keras.data.norcia_experiments import bandpass_bands
from seis_keras.data.synthetic.norcia import NORCIA_STATIONS
from seis_keras.data.transforms import Bandpass
from seis_keras.explain.methods import parse_method
from seis_keras.recipes.config import TrustChecks, setting

#: The parts of the study, in the order ``run()`` takes them (``[run] parts``, or the part flags).
PARTS = ("classes", "wrong_dates", "bandpass", "pairs", "explain")


def _stations(value) -> str | None:
    names = [value] if isinstance(value, str) else list(value)
    bad = [s for s in names if s != "all" and s not in NORCIA_STATIONS]
    return f"expected 'all' or station codes from {list(NORCIA_STATIONS)}, got {bad}" if bad or not names else None


def _utc_time(value) -> str | None:
    items = [value] if isinstance(value, str) else list(value)
    for v in items:
        try:
            pd.Timestamp(v)
        except ValueError:
            return f"expected ISO times like 2016-10-30T06:40:17Z, got {v!r}"
    return None


def _class_counts(counts) -> str | None:
    ok = counts and len(set(counts)) == len(counts) and all(n == 2 or n >= 4 for n in counts)
    return None if ok else "expected distinct class counts, each 2 or >= 4 (paper: 2, 4, 8, 9)"


def _fractions(value) -> str | None:
    return None if all(v >= 0 for v in value) and abs(sum(value) - 1) < 1e-6 else "expected 3 shares summing to 1"


def _blocks(blocks) -> str | None:
    ok = blocks and all(min(b) >= 1 for b in blocks)
    return None if ok else "expected a non-empty list of [filters, kernel_size, stride], each >= 1"


def _band(band) -> str | None:
    return None if 0 <= band[0] < band[1] else "expected [low, high] Hz with 0 <= low < high"


def _bands(bands) -> str | None:
    return next((f"band {list(b)}: {_band(b)}" for b in bands if _band(b)), None)


def _method(text) -> str | None:
    try:
        parse_method(text)
    except ValueError as err:
        return f"expected a method of seis_keras.explain.methods ({err})"
    return None


def _lrp_method(text) -> str | None:
    bad = _method(text)
    if bad is None and parse_method(text).backend != "lrp":
        return "expected an LRP method (lrp.*)"
    return bad


def _methods(texts) -> str | None:
    if not texts:
        return "expected at least one method"
    return next((f"{t!r}: {_method(t)}" for t in texts if _method(t)), None)


def _parts(parts) -> str | None:
    return None if parts else f"expected at least one of {list(PARTS)}"


@dataclasses.dataclass(frozen=True)
class Data:
    stations: str | list[str] = setting(check=_stations)
    component_order: Literal["ENZ", "NEZ"]
    mainshock_time: str = setting(check=_utc_time)
    visso_start: str = setting(check=_utc_time)
    time_column: str
    builtin_events: int = setting(min=10)
    builtin_stations: Literal["selected", "all"]
    sampling_rate: float = setting(gt=0)

    @property
    def station_list(self) -> list[str] | None:
        """The chosen stations, ``None`` for all."""
        names = [self.stations] if isinstance(self.stations, str) else list(self.stations)
        return None if "all" in names else names


@dataclasses.dataclass(frozen=True)
class Classes:
    labels: Literal["file", "time"]
    counts: list[int] = setting(check=_class_counts)
    exclude_visso_even: bool
    balance: bool


@dataclasses.dataclass(frozen=True)
class Split:
    kind: Literal["temporal", "random"]
    train_head: float = setting(min=0, max=1)
    validation: float = setting(min=0, max=1)
    test: float = setting(min=0, max=1)
    random_fractions: tuple[float, float, float] = setting(check=_fractions)

    def __post_init__(self):
        if self.train_head + self.validation + self.test > 1 + 1e-9:
            raise ValueError(f"train_head + validation + test = {self.train_head + self.validation + self.test:g} "
                             "(expected at most 1; the rest goes to training)")


@dataclasses.dataclass(frozen=True)
class Model:
    blocks: list[tuple[int, int, int]] = setting(check=_blocks)
    dilation: list[int] = setting(min=1)
    dropout: float = setting(min=0, lt=1)
    init: Literal["pytorch", "keras"]

    def __post_init__(self):
        if self.dilation and len(self.dilation) != len(self.blocks):
            raise ValueError(f"dilation has {len(self.dilation)} values for {len(self.blocks)} blocks "
                             "(expected [] or one per block)")


@dataclasses.dataclass(frozen=True)
class Train:
    optimizer: Literal["sgd", "adam", "adamw"]
    learning_rate: float = setting(gt=0)
    weight_decay: float = setting(min=0)
    weight_decay_mode: Literal["coupled", "decoupled", "auto"]
    adam_epsilon: float = setting(gt=0)
    batch_size: int = setting(min=1)
    epochs: int = setting(min=1)
    keep_best: bool
    runs: int = setting(min=1)
    verbose: Literal[0, 1, 2]
    tensorboard: bool


@dataclasses.dataclass(frozen=True)
class WrongDates:
    dates: list[str] = setting(check=_utc_time)
    exclude_visso: bool
    runs: int = setting(min=1)
    split: Literal["same_events", "refit"]
    test_events: Literal["random", "temporal"]


@dataclasses.dataclass(frozen=True)
class BandpassSection:
    step_hz: float = setting(gt=0)
    max_hz: float = setting(gt=0)
    bands: list[tuple[float, float]] = setting(check=_bands)
    order: int = setting(min=1)
    runs: int = setting(min=1)

    def band_list(self) -> list[tuple[float, float]]:
        """The bands of Fig. 5: ``bands``, or ``step_hz`` steps from 0 to ``max_hz``."""
        return bandpass_bands(self.step_hz, self.max_hz, self.bands)


@dataclasses.dataclass(frozen=True)
class Pairs:
    max_distance_km: float = setting(gt=0)
    max_magnitude_difference: float = setting(min=0)
    one_to_one: bool
    multitaper_nw: float = setting(gt=0)
    reference_band_hz: tuple[float, float] = setting(check=_band)


@dataclasses.dataclass(frozen=True)
class Explain:
    methods: list[Literal["lrp", "saliency"]]
    lrp_rule: str = setting(check=_lrp_method)
    recommended: list[str] = setting(check=_methods)
    target: Literal["post", "predicted"]
    per_class: int = setting(min=1)
    band_hz: tuple[float, float] = setting(check=_band)
    share_resolution_hz: float = setting(min=0)
    share_channels: Literal["summed", "separate"]

    @property
    def share_settings(self) -> dict:
        """``band_share`` keywords of the band shares (``resolution_hz`` None = each DFT bin, for 0)."""
        return {"resolution_hz": self.share_resolution_hz or None, "sum_channels": self.share_channels == "summed"}

    @property
    def frequency_methods(self) -> list[str]:
        """The recipe's rule, then the recommended methods (no repeats): DFT-LRP and trust run on each."""
        return list(dict.fromkeys([self.lrp_rule, *self.recommended]))


@dataclasses.dataclass(frozen=True)
class Trust(TrustChecks):
    """The :class:`seis_keras.explain.trust.TrustSettings` this recipe sets (same names)."""

    fill: float | Literal["mean", "linear"]


@dataclasses.dataclass(frozen=True)
class Run:
    parts: list[Literal["classes", "wrong_dates", "bandpass", "pairs", "explain"]] = setting(check=_parts)


@dataclasses.dataclass(frozen=True)
class NorciaConfig:
    seed: int
    data: Data
    classes: Classes
    split: Split
    model: Model
    train: Train
    wrong_dates: WrongDates
    bandpass: BandpassSection
    pairs: Pairs
    explain: Explain
    trust: Trust
    run: Run
    profile: str = setting(loader=True)

    def __post_init__(self):
        names = {"logits", *(f"conv{i}" for i in range(1, len(self.model.blocks) + 1))}
        bad = [n for n in self.trust.randomisation_layers if n not in names]
        if bad:
            raise ValueError(f"[trust] randomisation_layers: {bad} are not layers with weights of the model "
                             f"(expected some of logits, conv{len(self.model.blocks)} … conv1)")
        for lo, hi in self.bandpass.band_list():  # a band the filter cannot make fails now, not after training
            try:
                Bandpass(lo, hi, self.data.sampling_rate, order=self.bandpass.order)
            except ValueError as err:
                raise ValueError(f"[bandpass] band {lo:g}-{hi:g} Hz at data.sampling_rate = "
                                 f"{self.data.sampling_rate:g} Hz: {err}") from None

    @property
    def parts(self) -> list[str]:
        """``run.parts`` in the order the study takes them."""
        return [p for p in PARTS if p in self.run.parts]
