"""Figures of the Ong et al. precursor study (Figs 5, 6, 9, 10, 11, Table 2, relevance spectra, Figs 8 + 11 + DFT-LRP, scan).

Each function returns a matplotlib ``Figure`` (pure: no files written). Confusion matrices,
occlusion curves and the frequency-occlusion curve come from :mod:`seis_keras.plots.evaluation`
and :mod:`seis_keras.plots.explanations`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def _band(ax, band):
    if band is not None:
        ax.axvspan(band[0], band[1], color="tab:red", alpha=0.12, label=f"planted {band[0]}–{band[1]} Hz")


def precursor_fraction(hours_before: np.ndarray, mean: np.ndarray, std: np.ndarray, *,
                       rise_hours: float | None = None, paper_rise_hours: float | None = 3.3,
                       onset_hours: float | None = None, title: str = "") -> Figure:
    """Fig. 5: fraction of windows called precursor per interval, mean ± std over retrainings.

    Args:
        hours_before: (K,) start of each interval, hours before the origin.
        mean, std: (K,) over the retrainings.
        rise_hours: where the rise exceeds the spread (marked), or None.
        paper_rise_hours: the paper's value (3.3 h, marked dotted), or None.
        onset_hours: the planted tremor onset (built-in data), or None.
        title: axis title.
    """
    fig, ax = plt.subplots(figsize=(8, 4))
    x = -np.asarray(hours_before, float)
    ax.fill_between(x, mean - std, mean + std, step="post", color="tab:blue", alpha=0.25, label="± std")
    ax.step(x, mean, where="post", color="tab:blue", label="mean fraction called precursor")
    if rise_hours is not None:
        ax.axvline(-rise_hours, color="tab:green", ls="--", label=f"rise above spread: {rise_hours:.2f} h")
    if paper_rise_hours is not None:
        ax.axvline(-paper_rise_hours, color="k", ls=":", label=f"paper: {paper_rise_hours} h")
    if onset_hours is not None:
        ax.axvline(-onset_hours, color="tab:red", ls="-.", label=f"planted onset: {onset_hours:g} h")
    ax.set(xlabel="hours before the earthquake (interval start)", ylabel="fraction of windows", ylim=(-0.02, 1.02),
           title=title or "Precursor fraction through time (Fig. 5)")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def sequential_windows(x: np.ndarray, scores: np.ndarray, fs: float, starts: np.ndarray, *, chosen: int | None = None,
                       channel: int = 0, title: str = "") -> Figure:
    """Fig. 6: overlapping windows of one macro-window with their precursor scores.

    Args:
        x: (K, W, C) the sequential windows.
        scores: (K,) precursor probability of each.
        fs: sampling rate.
        starts: (K,) start sample of each window in the macro-window.
        chosen: index of the window highlighted (greatest increase), or None.
        channel: channel drawn.
        title: figure title.
    """
    k = len(x)
    fig, ax = plt.subplots(figsize=(9, 0.5 * k + 1.5))
    t = np.arange(x.shape[1]) / fs
    for i in range(k):
        tr = x[i, :, channel]
        tr = tr / (np.abs(tr).max() + 1e-12) * 0.45
        ax.plot(starts[i] / fs + t, tr - i, lw=0.5, color="tab:red" if i == chosen else "k")
        ax.text(starts[i] / fs + t[-1] + 2, -i, f"{100 * scores[i]:.1f}%", va="center", fontsize=7)
    ax.set(xlabel="time in the macro-window (s)", yticks=[], title=title or "Sequential windows and precursor scores (Fig. 6)")
    return fig


def spectrogram_figure(freqs: np.ndarray, times: np.ndarray, amplitude: np.ndarray, *, fmax: float = 2.0,
                       band=None, title: str = "") -> Figure:
    """Fig. 9: spectrogram (F, W) of a window, frequencies up to ``fmax``."""
    keep = freqs <= fmax
    fig, ax = plt.subplots(figsize=(8, 4))
    mesh = ax.pcolormesh(times, freqs[keep], np.log10(amplitude[keep] + 1e-12), shading="nearest", cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="log10 amplitude")
    if band is not None:
        for f in band:
            ax.axhline(f, color="w", ls="--", lw=0.8)
    ax.set(xlabel="time in the window (s)", ylabel="frequency (Hz)", title=title or "Spectrogram (Fig. 9)")
    return fig


def cumulative_spectra(freqs: np.ndarray, spectra: Mapping[str, Mapping[str, np.ndarray]], *, fmax: float = 5.0,
                       band=None) -> Figure:
    """Fig. 10: summed amplitude spectra of noise and precursor windows, one panel per dataset."""
    fig, axes = plt.subplots(1, len(spectra), figsize=(5 * len(spectra), 3.6), squeeze=False)
    keep = (freqs > 0) & (freqs <= fmax)
    for ax, (name, curves) in zip(axes[0], spectra.items()):
        for label, values in curves.items():
            ax.loglog(freqs[keep], np.asarray(values)[keep], lw=0.8, label=label)
        _band(ax, band)
        ax.set(xlabel="frequency (Hz)", ylabel="summed amplitude", title=f"{name} (Fig. 10)")
        ax.legend(fontsize=8)
    return fig


def relative_difference(freqs: np.ndarray, curves: Mapping[str, tuple], *, fmax: float = 3.5, band=None,
                        peaks: Mapping[str, float | None] | None = None) -> Figure:
    """Fig. 11: (precursor - noise) / noise in %, raw dots and Savitzky–Golay curve, per dataset.

    Args:
        freqs: (F,).
        curves: {dataset: (raw (F,), smoothed (F,))}, in %.
        fmax: upper frequency shown.
        band: the planted band to shade, or None.
        peaks: {dataset: peak frequency} marked with dashed lines.
    """
    fig, axes = plt.subplots(len(curves), 1, figsize=(8, 3 * len(curves)), squeeze=False)
    keep = (freqs > 0) & (freqs <= fmax)
    for ax, (name, (raw, smooth)) in zip(axes[:, 0], curves.items()):
        ax.plot(freqs[keep], np.asarray(raw)[keep], ".", ms=2, color="0.6", label="relative difference")
        ax.plot(freqs[keep], np.asarray(smooth)[keep], color="tab:blue", label="Savitzky–Golay")
        _band(ax, band)
        p = (peaks or {}).get(name)
        if p is not None:
            ax.axvline(p, color="k", ls="--", label=f"peak {p:.3f} Hz")
        ax.axhline(0, color="k", lw=0.5)
        ax.set(xscale="log", xlabel="frequency (Hz)", ylabel="(precursor - noise) / noise (%)", title=f"{name} (Fig. 11)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def per_event_accuracy(accuracy: Mapping[str, Mapping[str, float]], *, paper: Sequence[float] = ()) -> Figure:
    """Table 2 as bars: test accuracy per event, one bar group per mode/run.

    Args:
        accuracy: {series name: {event id: accuracy}}.
        paper: the paper's Table 2 values, drawn as a sorted reference series when given.
    """
    fig, ax = plt.subplots(figsize=(8, 3.6))
    names = list(accuracy)
    events = list(next(iter(accuracy.values()))) if accuracy else []
    width = 0.8 / max(len(names), 1)
    for j, name in enumerate(names):
        vals = [accuracy[name].get(e, np.nan) for e in events]
        ax.bar(np.arange(len(events)) + j * width, vals, width, label=name)
    if len(paper):
        ax.plot(np.arange(len(paper)), sorted(paper, reverse=True), "k_", ms=12, label="paper Table 2 (sorted)")
    ax.set_xticks(np.arange(len(events)) + 0.4 - width / 2, events, rotation=45, ha="right", fontsize=7)
    ax.set(ylim=(0, 1.05), ylabel="test accuracy", title="Per-event test accuracy (Table 2)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def relevance_spectra(freqs: np.ndarray, spectra: Mapping[str, Mapping[str, np.ndarray]], *, fmax: float = 3.5,
                      band=None) -> Figure:
    """Class-mean amplitude spectra of relevance maps, one panel per explainer (LRP, saliency)."""
    fig, axes = plt.subplots(1, len(spectra), figsize=(5 * len(spectra), 3.6), squeeze=False)
    keep = (freqs > 0) & (freqs <= fmax)
    for ax, (name, curves) in zip(axes[0], spectra.items()):
        for label, values in curves.items():
            ax.semilogx(freqs[keep], np.asarray(values)[keep], lw=0.9, label=label)
        _band(ax, band)
        ax.set(xlabel="frequency (Hz)", ylabel="mean amplitude of relevance", title=name)
        ax.legend(fontsize=8)
    return fig


def scan_probability(hours_before: np.ndarray, probability: np.ndarray, *, threshold: float = 0.5,
                     onset_hours: float | None = None, precursor_hours: float | None = None,
                     title: str = "") -> Figure:
    """Precursor probability through a continuous record (``seis_keras.scan``)."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(-np.asarray(hours_before), probability, ".-", ms=3, lw=0.8, label="P(precursor)")
    ax.axhline(threshold, color="k", lw=0.6, ls=":")
    if precursor_hours is not None:
        ax.axvspan(-precursor_hours, 0, color="tab:orange", alpha=0.2, label="precursor macro-window")
    if onset_hours is not None:
        ax.axvline(-onset_hours, color="tab:red", ls="-.", label=f"planted onset {onset_hours:g} h")
    ax.set(xlabel="hours before the earthquake (window centre)", ylabel="probability", ylim=(-0.02, 1.02),
           title=title or "Scan of a continuous record")
    ax.legend(fontsize=8)
    return fig


def frequency_evidence(occlusion: Mapping[str, Sequence[float]], difference: Mapping[str, Sequence[float]],
                       freqs: np.ndarray, relevance: Mapping[str, np.ndarray], *, fmax: float = 3.5,
                       band=None) -> Figure:
    """Three answers to "which frequencies?" on one frequency axis: Fig. 8, Fig. 11 and DFT-LRP.

    Args:
        occlusion: frequency occlusion (Fig. 8): ``{"cutoff_hz": [...], "accuracy": [...]}``.
        difference: smoothed relative spectral difference (Fig. 11): ``{"freqs_hz": [...],
            "test": [...]}`` (and ``"train"``), in %.
        freqs: (F,) bins of the relevance.
        relevance: {method label: (F,) class-mean relevance per frequency of the precursor
            windows (channels summed, signed: windows of opposite sign cancel)}; each curve is divided by
            its sum of absolute values.
        fmax: upper frequency shown.
        band: the planted band to shade, or None.
    """
    fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True)
    cut = np.asarray(occlusion["cutoff_hz"], np.float64)
    axes[0].plot(cut, occlusion["accuracy"], marker=".")
    axes[0].set(ylabel="test accuracy", title="Frequency occlusion: low-pass cutoff (Fig. 8)")
    f = np.asarray(difference["freqs_hz"], np.float64)
    for split in ("train", "test"):
        if split in difference:
            axes[1].plot(f, difference[split], label=split)
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set(ylabel="(precursor - noise) / noise (%)", title="Relative spectral difference, smoothed (Fig. 11)")
    keep = (freqs > 0) & (freqs <= fmax)
    for label, curve in relevance.items():
        c = np.asarray(curve, np.float64)
        total = np.abs(c[freqs > 0]).sum()
        axes[2].plot(freqs[keep], c[keep] / (total if total > 0 else 1.0), lw=0.9, label=label)
    axes[2].axhline(0, color="k", lw=0.5)
    axes[2].set(xscale="log", xlabel="frequency (Hz)", ylabel="class-mean signed relevance / sum |R|",
                title="DFT-LRP relevance per frequency, precursor windows (virtual inspection layer)")
    for ax in axes:
        _band(ax, band)
        ax.set_xlim(max(min(freqs[keep].min(), cut.min()) * 0.9, 1e-3), fmax)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
