"""The detector study's config schema: what each key of ``recipes/detector.toml`` is.

Values live in the TOML (every paper number with its citation); this module says their types,
ranges and choices, and the checks across keys, so that a typo, a wrong type, an unknown choice
or a value that would silently do nothing is refused when the config is loaded — before any
data is read or any model trained (:func:`seis_keras.recipes.config.load_config`).
"""
from __future__ import annotations

import dataclasses
from typing import Literal

from seis_keras.explain.methods import parse_method
from seis_keras.recipes.config import TrustChecks, setting

#: The shortest window the detector takes: seven stride-2 blocks (``models/detector.py``) need >= 2**7 / 2 samples.
MIN_WINDOW_SAMPLES = 64
#: Runs and chosen samples are named by letters (A = the reference model / the first sample).
MAX_LETTERS = 26


def _whole(value: float) -> bool:
    return abs(value - round(value)) < 1e-9


def _distinct(values) -> str | None:
    return None if len(set(values)) == len(values) else "expected distinct values"


def _components(value: str) -> str | None:
    if not value or len(set(value)) != len(value):
        return "expected distinct component codes like 'ENZ'"
    return None


@dataclasses.dataclass(frozen=True)
class Data:
    """[data]: the windows (§2.1) and where they come from."""

    sampling_rate: float = setting(gt=0)
    window_s: float = setting(gt=0)
    component_order: str = setting(check=_components)
    demean: bool | Literal["auto"]
    split: tuple[float, float, float] = setting(gt=0)
    synthetic_n: int = setting(min=3)
    earthquake_fraction: float = setting(gt=0, lt=1)
    cache_dir: str
    block_size: int = setting(min=1)
    picks: str
    pick_offset_s: float = setting(min=0)
    noise_pick_margin_s: float = setting(min=0)

    @property
    def window_samples(self) -> int:
        return int(round(self.window_s * self.sampling_rate))

    def demean_for(self, built_in: bool) -> bool:
        """``demean`` resolved: ``"auto"`` is on for the built-in windows, off for ``--data`` (the paper)."""
        return built_in if self.demean == "auto" else bool(self.demean)

    def __post_init__(self):
        n = self.window_s * self.sampling_rate
        if not _whole(n):
            raise ValueError(f"window_s * sampling_rate = {n:g} samples (expected a whole number of samples)")
        if round(n) < MIN_WINDOW_SAMPLES:
            raise ValueError(f"window_s * sampling_rate = {n:g} samples (expected >= {MIN_WINDOW_SAMPLES}: the "
                             "detector's seven stride-2 conv blocks)")


@dataclasses.dataclass(frozen=True)
class Model:
    """[model]: the open widths of the detector (``seis_keras.models.detector``)."""

    hidden_units: int = setting(min=1)
    dropout: float = setting(min=0, lt=1)


@dataclasses.dataclass(frozen=True)
class Train:
    """[train]: ``TrainSettings`` fields (§2.3) plus the recipe's own (batch, runs, shuffle buffer)."""

    optimizer: Literal["sgd", "adam", "adamw"]
    learning_rate: float = setting(gt=0)
    momentum: float = setting(min=0, lt=1)
    batch_size: int = setting(min=1)
    epochs: int = setting(min=1)
    early_stopping_patience: int = setting(min=1)
    monitor: Literal["val_loss", "val_accuracy", "loss", "accuracy"]
    keep_best: bool
    runs: int = setting(min=1, max=MAX_LETTERS)
    shuffle_buffer: int = setting(min=1)
    workers: int = setting(min=0)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """[evaluation]: how the evaluation split is scored (§2.4, Table S1)."""

    threshold: float = setting(gt=0, lt=1)
    distance_bins_km: list[float] = setting(gt=0)

    def __post_init__(self):
        if any(b <= a for a, b in zip(self.distance_bins_km, self.distance_bins_km[1:])):
            raise ValueError(f"distance_bins_km = {self.distance_bins_km}: expected increasing edges")


@dataclasses.dataclass(frozen=True)
class Fmv:
    """[fmv]: feature map visualisation (§2.5.1, §3.1)."""

    n_earthquakes: int = setting(min=1)
    n_noise: int = setting(min=1)
    layer: Literal["conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "conv7"]
    threshold: float = setting(gt=-1, lt=1)
    reference_sample: int = setting(min=0)

    def __post_init__(self):
        if self.n_earthquakes + self.n_noise > MAX_LETTERS:
            raise ValueError(f"n_earthquakes + n_noise = {self.n_earthquakes + self.n_noise} (expected <= "
                             f"{MAX_LETTERS}: samples are named A, B, ...)")
        if self.reference_sample >= self.n_earthquakes:
            raise ValueError(f"reference_sample = {self.reference_sample}: expected an index among the "
                             f"{self.n_earthquakes} chosen earthquakes (0 .. {self.n_earthquakes - 1})")


@dataclasses.dataclass(frozen=True)
class Bo:
    """[bo]: backward optimisation (§2.5.2, §3.2)."""

    steps: int = setting(min=1)
    optimizer: Literal["sgd", "adam"]
    learning_rate: float = setting(gt=0)
    momentum: float = setting(min=0, lt=1)
    weight_decay: float = setting(min=0)
    real_init_learning_rate: float = setting(gt=0)
    objective: Literal["loss", "logit"]
    random_std: float = setting(min=0)
    n_random: int = setting(min=1)
    high_frequency_hz: float = setting(gt=0)
    noise_prototype: bool


@dataclasses.dataclass(frozen=True)
class Lrp:
    """[lrp]: layer-wise relevance propagation (§2.5.3, §3.3): LRP-αβ (α = 1 + β) per β, and LRP-ε."""

    betas: list[float] = setting(min=0, check=_distinct)
    epsilon: float = setting(gt=0)
    epsilon_rule: bool
    bias: bool
    stabilised: bool
    sigma_noise: Literal["decision", "positive"]
    sigma_samples: int = setting(min=0)
    cross_run_betas: list[float] = setting(min=0, check=_distinct)
    batch_size: int = setting(min=1)

    def __post_init__(self):
        if not self.betas:
            raise ValueError("betas = []: expected at least one beta (the first is the σ_LRP rule, §3.3)")
        if self.stabilised and self.bias:
            raise ValueError("stabilised = true with bias = true: the stabilised αβ rule (Pytorch-LRP) has no bias term")
        extra = [b for b in self.cross_run_betas if b not in self.betas]
        if extra:
            raise ValueError(f"cross_run_betas {extra} are not in betas {self.betas} (only computed rules can be "
                             "compared across runs)")


def _methods(values) -> str | None:
    """Each entry must be a method of the one vocabulary (seis_keras.explain.methods: no TensorFlow import)."""
    for text in values:
        try:
            parse_method(text)
        except ValueError as err:
            return f"expected methods of seis_keras.explain.methods ({err})"
    return None


CASCADE_LAYERS = ("logits", "fc1", "conv7", "conv6", "conv5", "conv4", "conv3", "conv2", "conv1")


@dataclasses.dataclass(frozen=True)
class Trust(TrustChecks):
    """[trust]: the trust checks of every shown explanation method (issue 13; ours).

    The TrustSettings keys (``randomisation_*``, ``localisation_min_ratio``, ``steps``, ``fill``,
    ``score``, ``random_orders``, ``deletion_max_ratio``, ``faithfulness_samples``) have the same
    meaning as in :class:`seis_keras.explain.trust.TrustSettings`.
    """

    methods: list[str] = setting(check=_methods)
    n_samples: int = setting(min=1)
    p_margin_s: float = setting(min=0)
    s_margin_s: float = setting(min=0)
    real_before_s: float = setting(min=0)
    real_after_s: float = setting(gt=0)
    fill: float | Literal["mean", "linear"]

    def __post_init__(self):
        bad = [name for name in self.randomisation_layers if name not in CASCADE_LAYERS]
        if bad or not self.randomisation_layers:
            raise ValueError(f"randomisation_layers = {self.randomisation_layers}: expected some of "
                             f"{list(CASCADE_LAYERS)} (top-down)")
        super().__post_init__()
        if self.randomisation_samples > self.n_samples:
            raise ValueError(f"randomisation_samples = {self.randomisation_samples} > n_samples = "
                             f"{self.n_samples} (the test re-explains some of the scored earthquakes)")


@dataclasses.dataclass(frozen=True)
class Scan:
    """[scan]: model A over the built-in continuous record (``seis_keras.scan``; ours)."""

    duration_s: float = setting(gt=0)
    n_events: int = setting(min=0)
    stride_s: float = setting(gt=0)
    threshold: float = setting(gt=0, lt=1)
    min_gap_s: float = setting(min=0)
    glitch_record_s: float = setting(gt=0)
    glitches_per_hour: float = setting(min=0)
    glitch_factor: float = setting(gt=0)
    glitch_kinds: list[Literal["spike", "step"]] = setting(
        check=lambda v: None if v and len(set(v)) == len(v) else "expected distinct kinds, at least one")
    obspy_records: bool


_CLASSES = Literal["noise", "earthquake", "all"]
#: ``classes`` of the [augment] sections -> the label values an augmentation acts on (None: every window).
CLASS_LABELS = {"noise": (0,), "earthquake": (1,), "all": None}


def _pair(value) -> str | None:
    return None if value[0] <= value[1] else "expected [low, high] with low <= high"


@dataclasses.dataclass(frozen=True)
class TimeShift:
    """[augment.time_shift]: ``seis_keras.data.augment.TimeShift``."""

    enabled: bool
    probability: float = setting(min=0, max=1)
    max_shift: int = setting(min=0)
    mode: Literal["reflect", "roll"]


@dataclasses.dataclass(frozen=True)
class NoiseMix:
    """[augment.noise_mix]: ``seis_keras.data.augment.NoiseMix`` (noise from the batch's noise windows, label 0)."""

    enabled: bool
    probability: float = setting(min=0, max=1)
    snr_range: tuple[float, float] = setting(gt=0, check=_pair)
    classes: _CLASSES


@dataclasses.dataclass(frozen=True)
class Gain:
    """[augment.gain]: ``seis_keras.data.augment.Gain``."""

    enabled: bool
    probability: float = setting(min=0, max=1)
    range_db: tuple[float, float] = setting(check=_pair)
    per_channel: bool


@dataclasses.dataclass(frozen=True)
class Gaps:
    """[augment.gaps]: ``seis_keras.data.augment.Gaps``."""

    enabled: bool
    probability: float = setting(min=0, max=1)
    length: tuple[int, int] = setting(min=1, check=_pair)
    all_components_fraction: float = setting(min=0, max=1)
    edge_fraction: float = setting(min=0, max=1)


@dataclasses.dataclass(frozen=True)
class Glitches:
    """[augment.glitches]: ``seis_keras.data.augment.Glitches``."""

    enabled: bool
    probability: float = setting(min=0, max=1)
    classes: _CLASSES
    kinds: list[Literal["spike", "boxcar", "step"]] = setting(check=lambda v: None if v and len(set(v)) == len(v)
                                                             else "expected distinct kinds, at least one")
    amplitude: tuple[float, float] = setting(gt=0, check=_pair)
    max_count: int = setting(min=1)
    all_components_fraction: float = setting(min=0, max=1)
    max_spike_width: int = setting(min=1)
    boxcar_width: tuple[int, int] = setting(min=1, check=_pair)


@dataclasses.dataclass(frozen=True)
class ChannelDropout:
    """[augment.channel_dropout]: ``seis_keras.data.augment.ChannelDropout``."""

    enabled: bool
    probability: float = setting(min=0, max=1)
    max_channels: int = setting(min=1)


@dataclasses.dataclass(frozen=True)
class Augment:
    """[augment]: seeded augmentation of the training windows (``seis_keras.data.augment``; not in the paper).

    ``enabled = "auto"``: on for the built-in windows, off for ``--data`` (the paper trains on its
    records as they are). Each sub-section is one augmentation, applied in
    ``seis_keras.data.augment.ORDER``; validation and evaluation windows are never augmented.
    """

    enabled: bool | Literal["auto"]
    time_shift: TimeShift
    noise_mix: NoiseMix
    gain: Gain
    gaps: Gaps
    glitches: Glitches
    channel_dropout: ChannelDropout

    def active_for(self, built_in: bool) -> bool:
        """``enabled`` resolved for the data of a run."""
        return built_in if self.enabled == "auto" else bool(self.enabled)

    def settings(self) -> dict:
        """The ``seis_keras.data.augment.Augmentations`` settings dict of the enabled augmentations."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "enabled":
                continue
            section = getattr(self, f.name)
            if not section.enabled:
                continue
            values = {k.name: getattr(section, k.name) for k in dataclasses.fields(section) if k.name != "enabled"}
            if "classes" in values:
                values["classes"] = CLASS_LABELS[values["classes"]]
            out[f.name] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return out


@dataclasses.dataclass(frozen=True)
class EvalData:
    """[eval_data]: scoring every run on a labelled store given with ``--eval-data`` (evaluation only; ours)."""

    spike_factor: float = setting(gt=0)
    spike_copies: int = setting(min=1)
    seed_offset: int = setting(min=0)


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """``recipes/detector.toml``: the whole study."""

    seed: int = setting(min=0)
    data: Data
    model: Model
    train: Train
    evaluation: Evaluation
    fmv: Fmv
    bo: Bo
    lrp: Lrp
    trust: Trust
    scan: Scan
    augment: Augment
    eval_data: EvalData
    profile: str = setting(loader=True)

    def __post_init__(self):
        fs = self.data.sampling_rate
        if not _whole(self.scan.stride_s * fs):
            raise ValueError(f"scan.stride_s = {self.scan.stride_s:g} s is not a whole number of samples at "
                             f"data.sampling_rate = {fs:g} Hz")
        if min(self.scan.duration_s, self.scan.glitch_record_s) < self.data.window_s:
            raise ValueError(f"scan.duration_s / glitch_record_s = {self.scan.duration_s:g} / "
                             f"{self.scan.glitch_record_s:g} s: shorter than one window "
                             f"(data.window_s = {self.data.window_s:g} s)")
        if not self.bo.high_frequency_hz < fs / 2:
            raise ValueError(f"bo.high_frequency_hz = {self.bo.high_frequency_hz:g} Hz (expected below the Nyquist "
                             f"frequency, {fs / 2:g} Hz at data.sampling_rate = {fs:g} Hz)")
