"""Transients that are not earthquakes: instrument and telemetry faults in raw records.

After max normalisation any isolated transient makes the rest of a window look quiet, so a
detector trained without them learns "a transient = an earthquake". Real records carry, at
rates of a few per cent of windows (station quality-control metrics such as IRIS MUSTANG's
``spikes``, ``glitches``, ``num_gaps``, ``dead_channel_lin``; Ringler et al. 2015, SRL 86):

* **spikes** (``spike_probability``): 1–3 samples of one sign (digitiser or telemetry bit
  errors). A fraction ``spike_filtered_fraction`` happened before the decimation to 20 Hz and
  passed its low-pass (a ringing pulse a few samples long).
* **boxcars** (``boxcar_probability``): an offset lasting ``boxcar_s`` (0.1–5 s; relay or
  calibration pulses, telemetry bursts).
* **steps** (``step_probability``): a permanent offset from a random sample on (mass
  re-centring, gain or DC jumps).
* **gaps** (``gap_probability``): a stretch of exact zeros ``gap_s`` long (0.5–10 s) — how
  gaps are filled when traces are merged into fixed windows (``Stream.merge(fill_value=0)``);
  with the record's DC offset they become a boxcar once the window is demeaned. Half start at
  the window edge (a trace that begins or ends inside it).
* **dead components** (``dead_component_probability``): one or two components that are flat
  zero for the whole window (a dead or missing channel).

Spikes, boxcars and steps have heights ``amplitude`` (log-uniform, 0.5–30) times the window's
largest demeaned absolute value, random sign, on one component or, with
``all_components_fraction``, on every component (a digitiser-wide fault). Faults know nothing
of earthquakes: they are added at the same rates to earthquake and noise windows, so none of
them tells the two classes apart. One exception: in earthquake windows their heights are drawn
from ``earthquake_amplitude`` (0.5–2), so the earthquake stays visible after max normalisation —
a window whose earthquake hides 30 times below a glitch teaches "a glitch is an earthquake", the
shortcut this module is there to break. (Gaps keep the record's DC offset in both classes.)
Each kind's first sample is recorded in the metadata.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.data.augment import window_peak  # noqa: F401  (shared with the augmentations)

KINDS = ("spike", "boxcar", "step", "gap", "dead")


@dataclasses.dataclass(frozen=True)
class TransientSettings:
    """Rates and shapes of the non-earthquake transients (per window; see the module docstring).

    Attributes:
        spike_probability: chance of a spike (0.05).
        spike_filtered_fraction: share of spikes that passed the decimation low-pass (0.3).
        boxcar_probability: chance of a boxcar (0.02).
        boxcar_s: range of boxcar durations ((0.1, 5.0) s).
        step_probability: chance of a step (0.02).
        gap_probability: chance of a gap (0.02).
        gap_s: range of gap lengths ((0.5, 10.0) s).
        dead_component_probability: chance of one or two dead components (0.02).
        amplitude: range of heights / window max (demeaned), log-uniform ((0.5, 30.0)).
        earthquake_amplitude: the same in earthquake windows ((0.5, 2.0)).
        all_components_fraction: share of spikes/boxcars/steps on every component (0.3).
        gap_all_components_fraction: share of gaps on every component (0.8, telemetry).
    """

    spike_probability: float = 0.05
    spike_filtered_fraction: float = 0.3
    boxcar_probability: float = 0.02
    boxcar_s: tuple[float, float] = (0.1, 5.0)
    step_probability: float = 0.02
    gap_probability: float = 0.02
    gap_s: tuple[float, float] = (0.5, 10.0)
    dead_component_probability: float = 0.02
    amplitude: tuple[float, float] = (0.5, 30.0)
    earthquake_amplitude: tuple[float, float] = (0.5, 2.0)
    all_components_fraction: float = 0.3
    gap_all_components_fraction: float = 0.8


def filtered_pulse(n_samples: int, at: int, lowpass: np.ndarray) -> np.ndarray:
    """A unit impulse at sample ``at`` passed through a zero-phase amplitude response ``lowpass`` ``(F,)``.

    Normalised to a peak of 1 (the main lobe keeps its sign; the low-pass adds small ringing).
    """
    spec = np.exp(-2j * np.pi * np.fft.rfftfreq(n_samples) * at) * lowpass
    pulse = np.fft.irfft(spec, n=n_samples)
    return pulse / np.abs(pulse).max()


def add_offset(x: np.ndarray, i: int, start: int, stop: int, comps: np.ndarray, height: float) -> None:
    """Add ``height`` to window ``i``, samples ``[start, stop)``, components ``comps`` (in place)."""
    x[i, start:stop, comps] += np.float32(height)


def add_transients(rng: np.random.Generator, x: np.ndarray, sampling_rate: float, settings: TransientSettings,
                   lowpass: np.ndarray | None = None, labels: np.ndarray | None = None) -> dict:
    """Add spikes, boxcars, steps, gaps and dead components to raw windows ``(n, T, C)`` (in place).

    Args:
        rng: random generator (a fixed number of draws per window, whatever is added).
        x: float32 raw windows (DC offsets included), modified in place.
        sampling_rate: Hz.
        settings: rates and shapes.
        lowpass: ``(n, F)`` zero-phase decimation response for filtered spikes (default: none,
            every spike is sharp).
        labels: ``(n,)`` 1 for earthquake windows (heights from ``earthquake_amplitude``);
            default all noise.

    Returns:
        dict of ``(n,)`` arrays: ``spike_sample``, ``boxcar_sample``, ``step_sample``,
        ``gap_sample`` (first sample, NaN if none), ``gap_samples`` (length, 0 if none),
        ``spike_components`` / ``boxcar_components`` / ``step_components`` / ``gap_components``
        / ``dead_components`` (letters of the channel indices as ``"0"``, ``"012"``; ``""`` if
        none), ``transient_kinds`` (``"spike;gap"`` …, ``""`` if none).
    """
    s = settings
    n, t_len, n_c = x.shape
    peak = window_peak(x)
    u = rng.random((n, 5))  # which kinds occur
    has = {"spike": u[:, 0] < s.spike_probability, "boxcar": u[:, 1] < s.boxcar_probability,
           "step": u[:, 2] < s.step_probability, "gap": u[:, 3] < s.gap_probability,
           "dead": u[:, 4] < s.dead_component_probability}
    start = rng.integers(0, t_len, (n, 4))
    u_h = rng.random((n, 3))
    eq = np.zeros(n, bool) if labels is None else (np.asarray(labels) == 1)
    lo = np.log(np.where(eq, s.earthquake_amplitude[0], s.amplitude[0]))[:, None]
    hi = np.log(np.where(eq, s.earthquake_amplitude[1], s.amplitude[1]))[:, None]
    heights = np.exp(lo + u_h * (hi - lo)) * rng.choice([-1.0, 1.0], (n, 3))
    everywhere = rng.random((n, 3)) < s.all_components_fraction
    one_comp = rng.integers(0, n_c, (n, 4))
    spike_width = np.where(rng.random(n) < 0.7, 1, rng.integers(2, 4, n))
    filtered = rng.random(n) < s.spike_filtered_fraction
    box_len = np.maximum(1, np.round(rng.uniform(*s.boxcar_s, n) * sampling_rate)).astype(int)
    gap_len = np.maximum(1, np.round(rng.uniform(*s.gap_s, n) * sampling_rate)).astype(int)
    gap_edge = rng.random(n)  # < 0.25 from the start, 0.25-0.5 to the end, else inside
    gap_all = rng.random(n) < s.gap_all_components_fraction
    dead_count = np.where(rng.random(n) < 0.7, 1, 2)
    dead_perm = np.argsort(rng.random((n, n_c)), axis=1)

    nan = np.full(n, np.nan)
    out = {f"{k}_sample": nan.copy() for k in ("spike", "boxcar", "step", "gap")}
    out["gap_samples"] = np.zeros(n, np.int64)
    comps_out = {k: np.full(n, "", dtype=object) for k in ("spike", "boxcar", "step", "gap", "dead")}
    all_c = np.arange(n_c)

    def comps(i, j, k):
        return all_c if everywhere[i, k] else np.array([one_comp[i, j]])

    for i in np.flatnonzero(has["spike"]):
        c, a, h = comps(i, 0, 0), int(start[i, 0]), heights[i, 0] * peak[i]
        if filtered[i] and lowpass is not None:
            x[i][:, c] += (h * filtered_pulse(t_len, a, lowpass[i])).astype(np.float32)[:, None]
        else:
            add_offset(x, i, a, a + spike_width[i], c, h)
        out["spike_sample"][i], comps_out["spike"][i] = a, "".join(map(str, c))
    for i in np.flatnonzero(has["boxcar"]):
        c, a = comps(i, 1, 1), int(start[i, 1])
        add_offset(x, i, a, a + box_len[i], c, heights[i, 1] * peak[i])
        out["boxcar_sample"][i], comps_out["boxcar"][i] = a, "".join(map(str, c))
    for i in np.flatnonzero(has["step"]):
        c, a = comps(i, 2, 2), int(max(start[i, 2], 1))
        add_offset(x, i, a, t_len, c, heights[i, 2] * peak[i])
        out["step_sample"][i], comps_out["step"][i] = a, "".join(map(str, c))
    for i in np.flatnonzero(has["gap"]):
        length = int(min(gap_len[i], t_len - 1))
        a = 0 if gap_edge[i] < 0.25 else (t_len - length if gap_edge[i] < 0.5 else int(start[i, 3] % (t_len - length)))
        c = all_c if gap_all[i] else np.array([one_comp[i, 3]])
        x[i, a:a + length, c] = 0.0
        out["gap_sample"][i], out["gap_samples"][i], comps_out["gap"][i] = a, length, "".join(map(str, c))
    for i in np.flatnonzero(has["dead"]):
        c = np.sort(dead_perm[i, :dead_count[i]])
        x[i][:, c] = 0.0
        comps_out["dead"][i] = "".join(map(str, c))
    for k in ("spike", "boxcar", "step", "gap", "dead"):
        out[f"{k}_components"] = comps_out[k]
    kinds = np.stack([has[k] for k in KINDS], axis=1)
    out["transient_kinds"] = np.array([";".join(k for k, on in zip(KINDS, row) if on) for row in kinds], dtype=object)
    return out
