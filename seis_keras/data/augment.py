"""Seeded waveform augmentation for training, in the style of SeisBench's augmentation generators.

Each augmentation is a small class that changes a batch of **raw** windows ``(N, T, C)`` (before
demeaning and normalisation: the pipeline applies augmentations first, then the transforms)
and never the labels. It acts on each window with its ``probability``; class-conditional ones
act only on windows whose label is in ``classes``. Lengths are in samples (at 20 Hz, 100 samples
= 5 s). Like SeisBench's ``seisbench.generate.augmentation`` classes (``RandomArrayRotation``,
``GaussianNoise``, ``ChannelDropout``, ``AddGap``, ``RandomTimeShift`` …) they are plain callables
composed in a fixed order; unlike them they work on whole numpy batches and draw from a
``numpy.random.Generator`` that the caller seeds (same seed → same bytes).

:class:`Augmentations` builds the composition from a plain dict of settings (the ``[augment]``
section of a recipe config)::

    Augmentations({"glitches": {"probability": 0.3}, "gain": True, "channel_dropout": False})

Keys are the names in :data:`ORDER`; a value is a dict of settings (missing ones take the
class defaults), ``True`` (all defaults) or ``False`` (off); ``"enabled": False`` turns the whole
composition off. :data:`DEFAULTS` lists every setting and its default.

:data:`DETECTOR_BUILT_IN` is the composition chosen for the detector on the built-in windows.
:func:`one_spike` makes the spike-robustness test windows (one spike of one sample on one
component, ``factor`` × the window's largest demeaned value).
"""
from __future__ import annotations

import dataclasses

import numpy as np


def window_peak(x: np.ndarray) -> np.ndarray:
    """``(n,)`` largest absolute value of each window ``(n, T, C)`` after removing each channel's mean."""
    return np.abs(x - x.mean(axis=1, keepdims=True)).max(axis=(1, 2))


def _applies(rng: np.random.Generator, n: int, probability: float, labels, classes) -> np.ndarray:
    """Which of ``n`` windows an augmentation acts on (one uniform per window, always drawn)."""
    on = rng.random(n) < probability
    if classes is not None:
        if labels is None:
            raise ValueError("augment: a class-conditional augmentation (classes=...) needs labels "
                             "(make_dataset(label=...) must not be None)")
        on &= np.isin(np.asarray(labels).reshape(len(labels), -1)[:, 0], np.asarray(classes))
    return on


@dataclasses.dataclass(frozen=True)
class TimeShift:
    """Shift windows in time by up to ``max_shift`` samples either way.

    ``mode="reflect"`` fills the samples shifted in by mirroring the window's own edge (a
    shift right repeats the pre-event noise backwards, a shift left the end of the coda), so
    no seam or wrapped-around coda appears; ``"roll"`` is circular (SeisBench's
    ``RandomTimeShift`` on a window without margins).

    Attributes:
        probability: chance per window (0.5).
        max_shift: largest shift in samples (100 = 5 s at 20 Hz).
        mode: ``"reflect"`` or ``"roll"``.
    """

    probability: float = 0.5
    max_shift: int = 100
    mode: str = "reflect"

    def __post_init__(self):
        if self.mode not in ("reflect", "roll"):
            raise ValueError(f"time_shift.mode={self.mode!r} (expected 'reflect' or 'roll')")

    def __call__(self, x, labels, rng):
        n, t_len, _ = x.shape
        on = _applies(rng, n, self.probability, labels, None)
        shift = rng.integers(-self.max_shift, self.max_shift + 1, n)
        rows = np.flatnonzero(on & (shift != 0))
        k = np.clip(shift[rows], -(t_len - 1), t_len - 1)[:, None]
        t = np.arange(t_len)[None, :]
        src = t - k  # the sample each output sample comes from
        if self.mode == "roll":
            src %= t_len
        else:  # mirror the edge: before the start (k > 0) and after the end (k < 0)
            src = np.where(src < 0, -src - 1, np.where(src >= t_len, 2 * t_len - 1 - src, src))
        x[rows] = np.take_along_axis(x[rows], src[:, :, None], axis=1)
        return x


@dataclasses.dataclass(frozen=True)
class Gain:
    """Multiply each component (or the whole window) by a gain drawn uniform in dB.

    Changes the amplitude ratio of the components (a whole-window gain does nothing after max
    normalisation). Attributes: ``probability`` (0.5), ``range_db`` ((-6, 6) dB),
    ``per_channel`` (True).
    """

    probability: float = 0.5
    range_db: tuple[float, float] = (-6.0, 6.0)
    per_channel: bool = True

    def __call__(self, x, labels, rng):
        n, _, c = x.shape
        on = _applies(rng, n, self.probability, labels, None)
        db = rng.uniform(*self.range_db, (n, c if self.per_channel else 1))
        g = np.where(on[:, None], 10.0 ** (db / 20.0), 1.0).astype(np.float32)
        x *= g[:, None, :]
        return x


@dataclasses.dataclass(frozen=True)
class NoiseMix:
    """Add noise from another noise window of the batch at an SNR drawn log-uniform in ``snr_range``.

    SNR here is ``RMS(window) / RMS(added noise)`` over all samples and components, both
    demeaned. The added noise is a noise window (label in ``noise_classes``) of the same batch,
    demeaned and circularly shifted by a random lag; white Gaussian noise when the batch holds
    no other noise window. Attributes: ``probability`` (0.3), ``snr_range`` ((2, 30)),
    ``classes`` (windows that receive noise; None = all), ``noise_classes`` ((0,)).
    """

    probability: float = 0.3
    snr_range: tuple[float, float] = (2.0, 30.0)
    classes: tuple | None = None
    noise_classes: tuple = (0,)

    def __call__(self, x, labels, rng):
        n, t_len, _ = x.shape
        on = _applies(rng, n, self.probability, labels, self.classes)
        snr = np.exp(rng.uniform(np.log(self.snr_range[0]), np.log(self.snr_range[1]), n))
        pick = rng.random(n)
        lag = rng.integers(0, t_len, n)
        pool = np.flatnonzero(np.isin(np.asarray(labels).reshape(n, -1)[:, 0], self.noise_classes)) \
            if labels is not None else np.zeros(0, int)
        rows = np.flatnonzero(on)
        if len(rows) == 0:
            return x
        # another noise window of the batch for each row (``pool`` is sorted; a row never mixes itself)
        in_pool = np.isin(rows, pool)
        others = len(pool) - in_pool
        j = np.floor(pick[rows] * np.maximum(others, 1)).astype(int)
        j = np.where(in_pool & (j >= np.searchsorted(pool, rows)), j + 1, j)
        has = others > 0
        add = np.empty((len(rows), t_len, x.shape[2]), np.float32)
        add[~has] = rng.standard_normal((int((~has).sum()), t_len, x.shape[2]), dtype=np.float32)
        if has.any():
            src = x[pool[j[has]]]  # the noise as read: every row is mixed below, after this gather
            src = src - src.mean(axis=1, keepdims=True)
            idx = (np.arange(t_len)[None, :] - lag[rows][has][:, None]) % t_len
            add[has] = np.take_along_axis(src, idx[:, :, None], axis=1)
        base = x[rows] - x[rows].mean(axis=1, keepdims=True)
        target = np.sqrt((base.astype(np.float64) ** 2).mean(axis=(1, 2)))
        power = np.sqrt((add.astype(np.float64) ** 2).mean(axis=(1, 2)))
        scale = np.where((power > 0) & (target > 0), target / snr[rows] / np.maximum(power, 1e-300), 0.0)
        x[rows] += add * scale.astype(np.float32)[:, None, None]
        return x


@dataclasses.dataclass(frozen=True)
class Glitches:
    """Inject spikes, boxcars and steps (instrument faults) into windows of ``classes``.

    1 to ``max_count`` faults per chosen window, each of a kind from ``kinds``, height
    log-uniform in ``amplitude`` times the window's largest demeaned value (random sign), on one
    component or, with ``all_components_fraction``, on all. A spike is 1 sample wide (up to
    ``max_spike_width``), a boxcar ``boxcar_width`` samples. Attributes: ``probability`` (0.3),
    ``classes`` ((0,): noise windows; None = all), ``kinds`` (("spike", "boxcar", "step")),
    ``amplitude`` ((1, 20)), ``max_count`` (2), ``all_components_fraction`` (0.3),
    ``max_spike_width`` (3), ``boxcar_width`` ((2, 100)).
    """

    probability: float = 0.3
    classes: tuple | None = (0,)
    kinds: tuple = ("spike", "boxcar", "step")
    amplitude: tuple[float, float] = (1.0, 20.0)
    max_count: int = 2
    all_components_fraction: float = 0.3
    max_spike_width: int = 3
    boxcar_width: tuple[int, int] = (2, 100)

    def __post_init__(self):
        bad = set(self.kinds) - {"spike", "boxcar", "step"}
        if bad or not self.kinds:
            raise ValueError(f"glitches.kinds={self.kinds!r} (expected some of 'spike', 'boxcar', 'step')")

    def __call__(self, x, labels, rng):
        n, t_len, n_c = x.shape
        on = _applies(rng, n, self.probability, labels, self.classes)
        m = self.max_count
        count = rng.integers(1, m + 1, n)
        kind = rng.integers(0, len(self.kinds), (n, m))
        start = rng.integers(0, t_len, (n, m))
        height = np.exp(rng.uniform(*np.log(self.amplitude), (n, m))) * rng.choice([-1.0, 1.0], (n, m))
        every = rng.random((n, m)) < self.all_components_fraction
        comp = rng.integers(0, n_c, (n, m))
        width = rng.integers(1, self.max_spike_width + 1, (n, m))
        box = rng.integers(self.boxcar_width[0], self.boxcar_width[1] + 1, (n, m))
        rows = np.flatnonzero(on)
        peak = np.zeros(n)
        peak[rows] = window_peak(x[rows])
        for i in rows:
            for j in range(count[i]):
                a, name = int(start[i, j]), self.kinds[kind[i, j]]
                b = {"spike": a + width[i, j], "boxcar": a + box[i, j], "step": t_len}[name]
                cols = slice(None) if every[i, j] else int(comp[i, j])
                x[i, a:b, cols] += np.float32(height[i, j] * peak[i])
        return x


@dataclasses.dataclass(frozen=True)
class Gaps:
    """Replace a stretch by zeros (a data gap filled with zeros; SeisBench's ``AddGap``).

    Attributes: ``probability`` (0.1), ``length`` ((10, 200) samples), ``all_components_fraction``
    (0.8; else one component), ``edge_fraction`` (0.5: the gap touches the window's start or end).
    """

    probability: float = 0.1
    length: tuple[int, int] = (10, 200)
    all_components_fraction: float = 0.8
    edge_fraction: float = 0.5

    def __call__(self, x, labels, rng):
        n, t_len, n_c = x.shape
        on = _applies(rng, n, self.probability, labels, None)
        length = np.minimum(rng.integers(self.length[0], self.length[1] + 1, n), t_len - 1)
        where = rng.random(n)
        start = rng.integers(0, t_len, n)
        every = rng.random(n) < self.all_components_fraction
        comp = rng.integers(0, n_c, n)
        for i in np.flatnonzero(on):
            k = int(length[i])
            if where[i] < self.edge_fraction / 2:
                a = 0
            elif where[i] < self.edge_fraction:
                a = t_len - k
            else:
                a = int(start[i] % (t_len - k))
            x[i, a:a + k, slice(None) if every[i] else int(comp[i])] = 0.0
        return x


@dataclasses.dataclass(frozen=True)
class ChannelDropout:
    """Zero 1 to ``max_channels`` whole components (a dead or missing channel; SeisBench's ``ChannelDropout``).

    Attributes: ``probability`` (0.1), ``max_channels`` (2).
    """

    probability: float = 0.1
    max_channels: int = 2

    def __call__(self, x, labels, rng):
        n, _, n_c = x.shape
        on = _applies(rng, n, self.probability, labels, None)
        count = rng.integers(1, min(self.max_channels, n_c - 1) + 1, n)
        order = np.argsort(rng.random((n, n_c)), axis=1)
        for i in np.flatnonzero(on):
            x[i][:, order[i, :count[i]]] = 0.0
        return x


#: The augmentations in the order they are applied, by config name.
ORDER = {"time_shift": TimeShift, "noise_mix": NoiseMix, "gain": Gain, "gaps": Gaps, "glitches": Glitches,
         "channel_dropout": ChannelDropout}
#: Every setting of every augmentation with its default (the ``[augment]`` section's keys).
DEFAULTS = {name: {f.name: f.default for f in dataclasses.fields(cls)} for name, cls in ORDER.items()}
#: The augmentations chosen for the detector trained on the built-in windows (decided on the real
#: dev-proxy of ``bench/detector_realism.py``, never on an evaluation set): per-component gain, gaps,
#: channel dropout and glitches in 10 % of the noise windows. With them the four fault tests (noise +
#: spike / step / gap / boxcar) stayed at 0 % on the proxy, against up to 15 % (gaps) without;
#: time shift and noise mixing added nothing measurable (P already lies anywhere and the realistic
#: windows already span SNR 1-1000) and cost most of the augmentation time.
DETECTOR_BUILT_IN = {"gain": True, "gaps": True, "channel_dropout": True, "glitches": {"probability": 0.1}}


class Augmentations:
    """The augmentations a settings dict asks for, applied in :data:`ORDER` to raw windows.

    Args:
        settings: ``{name: dict | True | False}`` over the names of :data:`ORDER`, plus
            ``"enabled"`` (default True); ``None`` or ``{}`` gives no augmentation. Lists in
            the dict (TOML arrays) are taken as tuples.

    Raises:
        ValueError: an unknown augmentation or setting name, or a bad value.
    """

    def __init__(self, settings: dict | None = None):
        settings = dict(settings or {})
        self.enabled = bool(settings.pop("enabled", True))
        self.steps = []
        for name, value in settings.items():
            if name not in ORDER:
                raise ValueError(f"augment: unknown augmentation {name!r} "
                                 f"(expected one of {sorted(ORDER)} or 'enabled')")
            if value is False or value is None:
                continue
            params = {} if value is True else dict(value)
            unknown = set(params) - set(DEFAULTS[name])
            if unknown:
                raise ValueError(f"augment.{name}: unknown setting(s) {sorted(unknown)} "
                                 f"(expected {sorted(DEFAULTS[name])})")
            params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
            p = params.get("probability", DEFAULTS[name]["probability"])
            if not 0.0 <= float(p) <= 1.0:
                raise ValueError(f"augment.{name}.probability={p!r} (expected 0..1)")
            self.steps.append((name, ORDER[name](**params)))
        self.steps.sort(key=lambda s: list(ORDER).index(s[0]))

    def __bool__(self) -> bool:
        return self.enabled and bool(self.steps)

    def __repr__(self) -> str:
        return f"Augmentations({[s for _, s in self.steps]!r}, enabled={self.enabled})"

    def __call__(self, x: np.ndarray, labels: np.ndarray | None, rng) -> np.ndarray:
        """Augmented copy of raw windows.

        Args:
            x: ``(N, T, C)`` windows (not changed).
            labels: ``(N, ...)`` labels (read by class-conditional augmentations, never changed), or None.
            rng: a ``numpy.random.Generator``, or a seed / seed sequence for ``numpy.random.default_rng``.

        Returns:
            float32 ``(N, T, C)``.
        """
        out = np.array(x, dtype=np.float32, copy=True)
        if not self:
            return out
        rng = np.random.default_rng(rng)
        for _, step in self.steps:
            out = step(out, labels, rng)
        return out


def one_spike(x: np.ndarray, *, factor: float = 8.0, seed: int | np.random.Generator = 0) -> np.ndarray:
    """Copies of windows ``(N, T, C)`` with one spike each: one sample, one component, ``factor`` × max.

    The spike (positive) sits at a random sample of a random component and is ``factor`` times
    the window's largest absolute value after removing each component's mean; the spike-robustness
    figure of a detector is the share of noise windows so spiked that it calls earthquakes.

    Args:
        x: raw windows.
        factor: spike height over the window's largest demeaned value (8).
        seed: seed or generator for the positions.

    Returns:
        float32 copy of ``x`` with the spikes added.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = np.array(x, dtype=np.float32, copy=True)
    n, t_len, n_c = out.shape
    at, comp = rng.integers(0, t_len, n), rng.integers(0, n_c, n)
    out[np.arange(n), at, comp] += (factor * window_peak(out)).astype(np.float32)
    return out
