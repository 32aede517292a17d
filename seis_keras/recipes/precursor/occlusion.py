"""Sections 4 and 5 of the precursor study: occlusion in time and in frequency (§6.1–6.2, Figs 6–8).

Time (§6.1): among the test precursor macro-windows, the sub-window whose precursor score
rises most over its predecessor (the paper's 81.1 % window, Fig. 6) is occluded by a zero
mask (400 samples, stride 400) on all channels together and on each alone (Fig. 7).
Frequency (§6.2): the test set is low-passed (8th order, one pass: -48 dB/octave) at cutoffs
from 20 Hz down to 0.1 Hz; accuracy and loss per cutoff (Fig. 8) and the knee where the
accuracy falls. Where the filter sits is open in the paper (``frequency_occlusion.filter``):
``"after"`` (default) filters each normalised sub-window, so the removed power is missing
from what the network sees; ``"before"`` filters each raw 1000 s macro-window and then
normalises it, so what is left is scaled back to the training amplitude. Both use the first
mode-A network.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import signal

from seis_keras.data.precursor_windows import SubWindows, load_sub_windows
from seis_keras.explain.occlusion import occlude_frequency, occlude_time
from seis_keras.explain.targets import classification_loss, predict_logits, predicted_classes, target_probabilities
from seis_keras.plots import explanations as xplots
from seis_keras.plots import precursor as plots
from seis_keras.recipes.precursor.config import FrequencyOcclusion
from seis_keras.recipes.precursor.study import PrecursorStudy, json_safe, windows_of
from seis_keras.recipes.runner import RunFolder


@dataclasses.dataclass(frozen=True)
class TimeOcclusion:
    """The chosen precursor sub-window and what occluding it did.

    Attributes:
        chosen: the chosen sub-window ``(sub_window_samples, C)`` (the spectrogram of Fig. 9 uses it).
        metrics: event, window index, scores, lowest occluded scores.
    """

    chosen: np.ndarray
    metrics: dict


def precursor_probabilities(model, x: np.ndarray) -> np.ndarray:
    """P(precursor) of each window of ``x``."""
    z = predict_logits(model, x, batch_size=64)
    return target_probabilities(z, np.ones(len(x), np.int64))


def sequential_and_occlusion(study: PrecursorStudy, folder: RunFolder, model) -> TimeOcclusion:
    """The precursor sub-window with the greatest score increase over its predecessor, occluded (Figs 6–7)."""
    w, comps = study.windowing, study.cfg.data.component_order
    test = windows_of(study, "A", "test")
    pre = test[test["label"] == 1].reset_index(drop=True)
    best = None
    for i in range(len(pre)):
        x, _ = load_sub_windows(study.store, pre.iloc[[i]], w, components=comps)
        p = precursor_probabilities(model, x)
        jump = np.diff(p, prepend=p[0])
        k = int(np.argmax(jump))
        if best is None or jump[k] > best[0]:
            best = (float(jump[k]), i, k, x, p)
    jump, i, k, x, p = best
    folder.save_figure(plots.sequential_windows(x, p, study.fs, w.sub_window_offsets(), chosen=k),
                       "fig6_sequential_windows")
    o = study.cfg.occlusion
    s_all, pos = occlude_time(model, x[k:k + 1], mask=o.mask, stride=o.stride, channels="all", class_index=1)
    s_each, _ = occlude_time(model, x[k:k + 1], mask=o.mask, stride=o.stride, channels="each", class_index=1)
    curves = np.vstack([s_all[0], s_each[0]])
    folder.save_figure(xplots.occlusion_curves(pos, curves, mask=o.mask, x=x[k], fs=study.fs,
                                               labels=["all channels"] + [f"channel {c}" for c in comps],
                                               title="Time occlusion of the chosen precursor window (Fig. 7)"),
                       "fig7_time_occlusion")
    drop = {"all": float(p[k] - s_all[0].min())}
    drop.update({f"channel_{c}": float(p[k] - s_each[0, j].min()) for j, c in enumerate(comps)})
    out = {"event": str(pre["source_id"].iat[i]), "window": k, "score": float(p[k]), "score_increase": jump,
           "scores": p.tolist(), "mask": o.mask, "stride": o.stride,
           "min_score_all_channels": float(s_all[0].min()),
           "argmin_sample_all_channels": int(pos[int(np.argmin(s_all[0]))]),
           "min_score_each_channel": {c: float(s_each[0, j].min()) for j, c in enumerate(comps)},
           "largest_drop": drop}
    return TimeOcclusion(x[k], json_safe(out))


def cutoff_list(f: FrequencyOcclusion) -> np.ndarray:
    """The low-pass cutoffs, high to low: the explicit list or ``start_hz`` … ``stop_hz`` in ``step_hz`` steps."""
    if f.cutoffs:
        c = np.asarray(f.cutoffs, np.float64)
    else:
        c = np.round(np.arange(f.start_hz, f.stop_hz - f.step_hz / 2, -f.step_hz), 6)
    return np.sort(c)[::-1]


def occlusion_knee(table: pd.DataFrame) -> float | None:
    """Lowest cutoff still at or above the midpoint of full-band accuracy and chance (0.5),
    scanning from high to low cutoffs until the first drop below it; None if it never drops."""
    t = table.sort_values("cutoff_hz", ascending=False).reset_index(drop=True)
    mid = (float(t["accuracy"].iat[0]) + 0.5) / 2.0
    below = np.flatnonzero(t["accuracy"].to_numpy() < mid)
    if len(below) == 0:
        return None
    return float(t["cutoff_hz"].iat[below[0] - 1]) if below[0] > 0 else float(t["cutoff_hz"].iat[0])


def lowpassed_before_normalisation(study: PrecursorStudy, windows: pd.DataFrame, cutoff_hz: float,
                                   f: FrequencyOcclusion) -> tuple[np.ndarray, np.ndarray]:
    """The sub-windows of ``windows`` with each raw macro-window low-passed at ``cutoff_hz``, then normalised and cut.

    At or above the Nyquist frequency nothing is filtered (= :func:`load_sub_windows`).
    """
    w, comps = study.windowing, study.cfg.data.component_order
    raw = np.stack([study.store.get_waveforms(int(r), window=(int(s), w.macro_window_samples), components=comps)
                    for r, s in zip(windows["row"], windows["start"])]).astype(np.float64)
    if cutoff_hz < study.fs / 2.0:
        sos = signal.butter(f.order, cutoff_hz, btype="lowpass", fs=study.fs, output="sos")
        raw = (signal.sosfiltfilt if f.zero_phase else signal.sosfilt)(sos, raw, axis=1)
    x = SubWindows(w)(raw.astype(np.float32))
    x = x.reshape(-1, *x.shape[2:])
    return x, np.repeat(windows["label"].to_numpy().astype(np.int64), w.sub_windows)


def occlude_before_normalisation(study: PrecursorStudy, model, windows: pd.DataFrame,
                                 f: FrequencyOcclusion) -> pd.DataFrame:
    """Accuracy and loss per cutoff with the filter before the joint normalisation (``filter = "before"``)."""
    rows = []
    for fc in cutoff_list(f):
        x, y = lowpassed_before_normalisation(study, windows, float(fc), f)
        z = predict_logits(model, x, batch_size=64)
        rows.append({"cutoff_hz": float(fc), "accuracy": float(np.mean(predicted_classes(z) == y)),
                     "loss": float(np.mean(classification_loss(z, y)))})
    return pd.DataFrame(rows, columns=["cutoff_hz", "accuracy", "loss"])


def frequency_occlusion(study: PrecursorStudy, folder: RunFolder, model) -> dict:
    """Accuracy and loss of the test set low-passed at each cutoff; the knee (Fig. 8)."""
    test = windows_of(study, "A", "test")
    f = study.cfg.frequency_occlusion
    if f.filter == "before":
        table = occlude_before_normalisation(study, model, test, f)
        n_windows = len(test) * study.windowing.sub_windows
    else:
        x, y = load_sub_windows(study.store, test, study.windowing, components=study.cfg.data.component_order)
        table = occlude_frequency(model, x, y, fs=study.fs, cutoffs=cutoff_list(f), order=f.order,
                                  zero_phase=f.zero_phase, batch_size=64)
        n_windows = len(x)
    folder.write_text("frequency_occlusion.csv", table.to_csv(index=False))
    knee = occlusion_knee(table)
    folder.save_figure(xplots.frequency_occlusion(table, knee=knee, title="Frequency occlusion (Fig. 8)"),
                       "fig8_frequency_occlusion")
    return json_safe({"n_windows": int(n_windows), "filter": f.filter,
                      "full_band_accuracy": float(table["accuracy"].iat[0]),
                      "knee_hz": knee, "table": table.to_dict(orient="list")})
