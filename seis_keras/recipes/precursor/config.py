"""The precursor recipe's config schema: what each key of ``recipes/precursor.toml`` is.

Values (with the paper's sections) live only in the TOML; here are their types, ranges and
the checks across keys, so that a wrong value is refused when the config is loaded, before
any data are generated or read.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from seis_keras.data.precursor_windows import WindowingSettings
from seis_keras.explain.methods import parse_method
from seis_keras.recipes.config import TrustChecks, setting


def _distinct_codes(value: str) -> str | None:
    return None if value and len(set(value)) == len(value) else "expected distinct component codes, e.g. '12Z'"


def _band(value) -> str | None:
    return None if value[0] < value[1] else "expected [low, high] with low < high"


def _methods(value) -> str | None:
    for text in value:
        try:
            parse_method(text)
        except ValueError as err:
            return f"{text!r}: {err}"
    return None if len(set(value)) == len(value) else "expected each method once"


def _modes(value) -> str | None:
    if len(set(value)) != len(value):
        return "expected each mode once"
    if "A" not in value:
        return "expected 'A' among the modes (the time course and the analyses use the mode-A networks)"
    return None


@dataclasses.dataclass(frozen=True)
class Data:
    """``[data]``: the records (built-in, a store, or obspy files cut by an events table)."""

    sampling_rate: float = setting(gt=0)
    component_order: str = setting(check=_distinct_codes)
    n_events: int = setting(min=2)
    noise_records_per_event: int = setting(min=0)
    cache_dir: str
    events_csv: str
    extra_origins_csv: str


@dataclasses.dataclass(frozen=True)
class Synthetic:
    """``[synthetic]``: the built-in records (:class:`seis_keras.data.synthetic.PrecursorSettings`)."""

    onset_hours: float = setting(gt=0)
    tremor_snr: float = setting(min=0)
    tremor_band: tuple[float, float] = setting(gt=0, check=_band)


@dataclasses.dataclass(frozen=True)
class Windows:
    """``[windows]``: macro-windows and sub-windows (§4; :mod:`seis_keras.data.precursor_windows`)."""

    n_macro_windows: int = setting(min=2)
    macro_window_s: float = setting(gt=0)
    sub_window_samples: int = setting(min=1)
    sub_windows: int = setting(min=1)
    sub_window_stride: int = setting(min=0)
    normalisation: Literal["std", "max"]
    noise_min_separation_hours: float = setting(min=0)
    modes: list[Literal["A", "B"]] = setting(check=_modes)


@dataclasses.dataclass(frozen=True)
class Model:
    """``[model]``: settings of :func:`seis_keras.models.precursor` (7 conv blocks)."""

    filters: list[int] = setting(min=1, check=lambda v: None if len(v) == 7 else "expected 7 values (one per block)")
    fc_units: int = setting(min=1)
    dropout: float = setting(min=0, lt=1)
    noise_rms_fraction: float = setting(min=0)
    random_layer_mode: Literal["input", "noise"]  # RandomInputLayer(mode=...)
    random_kernel_size: int = setting(min=1)
    bn_momentum: float = setting(min=0, lt=1)


@dataclasses.dataclass(frozen=True)
class Train:
    """``[train]``: :class:`seis_keras.train.fit.TrainSettings` fields and the recipe's own."""

    optimizer: Literal["sgd", "adam", "adamw"]  # TrainSettings.optimizer
    learning_rate: float = setting(gt=0)
    epochs: int = setting(min=1)
    keep_best: bool  # TrainSettings.keep_best
    monitor: Literal["loss", "accuracy"]  # TrainSettings.monitor (no validation set)
    batch_size: int = setting(min=1)
    shuffle_buffer: int = setting(min=1)
    retrainings: int = setting(min=1)
    mode_b_retrainings: int = setting(min=1)
    batch_norm_statistics: Literal["clean", "training"]  # seis_keras.models.layers.clean_batch_norm_statistics


@dataclasses.dataclass(frozen=True)
class TimeCourse:
    """``[time_course]``: §5.2, Fig. 5."""

    split: Literal["train", "test", "all"]
    baseline_intervals: int = setting(min=2)


@dataclasses.dataclass(frozen=True)
class Occlusion:
    """``[occlusion]``: §6.1, Figs 6–7."""

    mask: int = setting(min=1)
    stride: int = setting(min=1)


@dataclasses.dataclass(frozen=True)
class FrequencyOcclusion:
    """``[frequency_occlusion]``: §6.2, Fig. 8."""

    order: int = setting(min=1)
    zero_phase: bool
    filter: Literal["after", "before"]  # low-pass after or before the joint normalisation
    start_hz: float = setting(gt=0)
    stop_hz: float = setting(gt=0)
    step_hz: float = setting(gt=0)
    cutoffs: list[float] = setting(gt=0)
    knee_tolerance_hz: float = setting(min=0)

    def __post_init__(self):
        if not self.cutoffs and not self.start_hz > self.stop_hz:
            raise ValueError(f"start_hz = {self.start_hz:g} must exceed stop_hz = {self.stop_hz:g} (the cutoffs run "
                             "from high to low) when no explicit cutoffs are given")


@dataclasses.dataclass(frozen=True)
class Spectra:
    """``[spectra]``: §6.3, Figs 9–11."""

    spectrogram_window: int = setting(min=1)
    spectrogram_stride: int = setting(min=1)
    spectrogram_channel: int = setting(min=-1)
    savgol_width_hz: float = setting(gt=0)
    savgol_polyorder: int = setting(min=0)
    peak_search_hz: tuple[float, float] = setting(min=0, check=_band)


@dataclasses.dataclass(frozen=True)
class Relevance:
    """``[relevance]``: LRP and saliency spectra (added; not in the paper)."""

    n_per_class: int = setting(min=1)
    lrp: bool
    methods: list[str] = setting(check=_methods)
    recommended: str

    def __post_init__(self):
        if self.recommended not in self.methods:
            raise ValueError(f"recommended = {self.recommended!r}: expected one of methods {self.methods}")


@dataclasses.dataclass(frozen=True)
class Trust(TrustChecks):
    """``[trust]``: :class:`seis_keras.explain.trust.TrustSettings` fields (same names; added, not in the paper)."""

    fill: float
    unit: Literal["time", "element"]


@dataclasses.dataclass(frozen=True)
class Scan:
    """``[scan]``: :func:`seis_keras.scan.scan` over one continuous test record."""

    stride_s: float = setting(gt=0)
    threshold: float = setting(min=0, max=1)


@dataclasses.dataclass(frozen=True)
class PrecursorConfig:
    """The whole recipe config (``recipes/precursor.toml``)."""

    seed: int
    data: Data
    synthetic: Synthetic
    windows: Windows
    model: Model
    train: Train
    time_course: TimeCourse
    occlusion: Occlusion
    frequency_occlusion: FrequencyOcclusion
    spectra: Spectra
    relevance: Relevance
    trust: Trust
    scan: Scan
    profile: str = setting(loader=True)

    def __post_init__(self):
        try:  # the sub-windows fit in a macro-window at the configured rate
            windowing(self, self.data.sampling_rate)
        except ValueError as err:
            raise ValueError(f"windows at data.sampling_rate = {self.data.sampling_rate:g} Hz: {err}") from None
        nyquist = self.data.sampling_rate / 2.0
        if not self.synthetic.tremor_band[1] < nyquist:
            raise ValueError(f"synthetic.tremor_band {list(self.synthetic.tremor_band)} Hz: expected below the "
                             f"Nyquist frequency {nyquist:g} Hz of data.sampling_rate")
        if not self.time_course.baseline_intervals < self.windows.n_macro_windows:
            raise ValueError(f"time_course.baseline_intervals = {self.time_course.baseline_intervals}: expected fewer "
                             f"than windows.n_macro_windows = {self.windows.n_macro_windows}")
        if self.occlusion.mask > self.windows.sub_window_samples:
            raise ValueError(f"occlusion.mask = {self.occlusion.mask}: expected at most windows.sub_window_samples "
                             f"= {self.windows.sub_window_samples}")
        if not self.spectra.spectrogram_channel < len(self.data.component_order):
            raise ValueError(f"spectra.spectrogram_channel = {self.spectra.spectrogram_channel}: expected "
                             f"0..{len(self.data.component_order) - 1} or -1 (all channels)")


def windowing(cfg: PrecursorConfig, sampling_rate: float) -> WindowingSettings:
    """The :class:`WindowingSettings` of the config for records at ``sampling_rate`` Hz.

    Raises:
        ValueError: the sub-windows do not fit in a macro-window at that rate.
    """
    w = cfg.windows
    return WindowingSettings(n_macro_windows=w.n_macro_windows,
                             macro_window_samples=int(round(w.macro_window_s * sampling_rate)),
                             sub_window_samples=w.sub_window_samples, sub_windows=w.sub_windows,
                             sub_window_stride=w.sub_window_stride or None,
                             noise_min_separation_hours=w.noise_min_separation_hours, normalisation=w.normalisation)
