"""Figures of the two Norcia recipes (Laurenti et al. 2024; Magrini & Marrocco).

One function per figure kind; each takes numbers (no models, no files) and returns a
matplotlib ``Figure``. Frequency bands to highlight (the paper's 30–40 Hz, or the planted band
of the built-in data) are drawn as a shaded span.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def _shade(ax, band, label=None, vertical=True):
    if band is not None:
        (ax.axvspan if vertical else ax.axhspan)(band[0], band[1], color="tab:orange", alpha=0.15, label=label)


def confusion_matrices(matrices: Mapping[str, tuple[np.ndarray, Sequence[str]]], *, title: str = "") -> Figure:
    """Row-normalised confusion matrices side by side (Laurenti Fig. 3).

    Args:
        matrices: ``{panel title: (counts (k, k) true x predicted, class names)}``.
        title: figure title.

    Returns:
        Figure with one image axis per matrix; cells show the percentage of the true class.
    """
    n = len(matrices)
    fig = Figure(figsize=(4.2 * n, 4.0), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (name, (cm, labels)) in zip(axes, matrices.items()):
        cm = np.asarray(cm, float)
        pct = 100 * cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
        k = len(labels)
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{pct[i, j]:.0f}", ha="center", va="center", fontsize=8 if k > 4 else 10,
                        color="white" if pct[i, j] > 60 else "black")
        ax.set_xticks(range(k), labels, rotation=45 if k > 2 else 0, fontsize=8)
        ax.set_yticks(range(k), labels, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    return fig


def wrong_dates(table: pd.DataFrame, *, true_accuracy: float | None = None, title: str = "") -> Figure:
    """Test performance of models trained with wrong mainshock dates (Laurenti Fig. 4b).

    Args:
        table: one row per date with ``date`` (ISO), ``accuracy`` (whole test set, true labels,
            %) and ``interval_accuracy`` (test events between the fake and the true date, %).
        true_accuracy: accuracy of the model with the true date (%), drawn dashed red.
        title: axis title.

    Returns:
        Figure with one axis.
    """
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    dates = pd.to_datetime(table["date"])
    ax.plot(dates, table["accuracy"], "o", color="gray", label="whole test set")
    ax.plot(dates, table["interval_accuracy"], "s", color="tab:blue", label="events in the fake interval")
    if true_accuracy is not None:
        ax.axhline(true_accuracy, color="red", ls="--", label="true mainshock date")
    ax.set_ylabel("test accuracy on true labels (%)")
    ax.set_ylim(0, 102)
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=8)
    ax.set_title(title or "models trained with wrong mainshock dates")
    return fig


def bandpass_accuracy(table: pd.DataFrame, *, raw_accuracy: float | None = None,
                      band: tuple[float, float] | None = None, title: str = "") -> Figure:
    """Test accuracy of models trained on band-passed traces, against the band (Laurenti Fig. 5c).

    Args:
        table: one row per band: ``band_low_hz``, ``band_high_hz``, ``accuracy`` (%), and
            optionally ``accuracy_std``.
        raw_accuracy: accuracy on unfiltered traces (%), dashed red.
        band: a frequency band to shade (e.g. the planted 30–40 Hz).
        title: axis title.

    Returns:
        Figure with one axis (accuracy against band centre, the band width as error bar in x).
    """
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    lo, hi = table["band_low_hz"].to_numpy(float), table["band_high_hz"].to_numpy(float)
    yerr = table["accuracy_std"].to_numpy(float) if "accuracy_std" in table else None
    ax.errorbar((lo + hi) / 2, table["accuracy"], xerr=(hi - lo) / 2, yerr=yerr, fmt="o", color="k",
                capsize=2, label="band-passed")
    if raw_accuracy is not None:
        ax.axhline(raw_accuracy, color="red", ls="--", label="raw traces")
    _shade(ax, band, label="band of interest")
    ax.axhline(50, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("frequency band (Hz)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_xlim(0, 50)
    ax.set_ylim(0, 102)
    ax.legend(fontsize=8)
    ax.set_title(title or "binary models on band-pass filtered traces")
    return fig


def pair_spectra(freqs: np.ndarray, pre: np.ndarray, post: np.ndarray, ratios: np.ndarray, *,
                 pre_trace: np.ndarray | None = None, post_trace: np.ndarray | None = None, fs: float = 100.0,
                 components: str = "ENZ", band: tuple[float, float] | None = None, title: str = "") -> Figure:
    """A co-located pre/post pair and the spectral ratios of all pairs (Laurenti Fig. 6).

    Args:
        freqs: (F,) Hz.
        pre, post: multitaper amplitude spectra of the example pair, (F, C).
        ratios: post/pre amplitude ratios of every pair (P, F, C) (the example included).
        pre_trace, post_trace: the example's waveforms (T, C), drawn on top if given.
        fs: sampling rate of the traces.
        components: channel names.
        band: frequency band to shade.
        title: figure title.

    Returns:
        Figure: (traces per component,) spectra per component, ratio per component (each
        pair grey, geometric mean black).
    """
    c = pre.shape[-1]
    rows = 3 if pre_trace is not None else 2
    fig = Figure(figsize=(4.0 * c, 2.6 * rows), layout="constrained")
    axes = fig.subplots(rows, c, squeeze=False)
    r0 = 0
    if pre_trace is not None:
        t = np.arange(len(pre_trace)) / fs
        for j in range(c):
            axes[0, j].plot(t, post_trace[:, j], color="tab:blue", lw=0.5, label="post")
            axes[0, j].plot(t, pre_trace[:, j], color="tab:orange", lw=0.5, label="pre")
            axes[0, j].set_title(components[j])
            axes[0, j].set_xlabel("time (s)")
        axes[0, 0].legend(fontsize=7)
        r0 = 1
    ratios = np.asarray(ratios, float)
    for j in range(c):
        ax = axes[r0, j]
        ax.loglog(freqs[1:], pre[1:, j], color="tab:orange", label="pre")
        ax.loglog(freqs[1:], post[1:, j], color="tab:blue", label="post")
        _shade(ax, band)
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("amplitude")
        ax = axes[r0 + 1, j]
        for r in ratios[:, 1:, j]:
            ax.semilogy(freqs[1:], r, color="gray", lw=0.4, alpha=0.4)
        ax.semilogy(freqs[1:], np.exp(np.log(ratios[:, 1:, j]).mean(axis=0)), color="k", lw=1.5,
                    label=f"geometric mean of {len(ratios)} pairs")
        ax.axhline(1.0, color="red", ls="--", lw=0.8)
        _shade(ax, band)
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("post / pre")
    axes[r0, 0].legend(fontsize=7)
    axes[r0 + 1, 0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def class_spectra(freqs: np.ndarray, curves: Mapping[str, np.ndarray], *, band: tuple[float, float] | None = None,
                  ylabel: str = "mean amplitude (normalised)", title: str = "", logy: bool = True) -> Figure:
    """Class-mean spectra (e.g. of LRP / saliency relevance) with a band shaded.

    Args:
        freqs: (F,) Hz.
        curves: ``{label: (F,)}``.
        band: band to shade.
        ylabel, title: labels.
        logy: logarithmic y axis.

    Returns:
        Figure with one axis.
    """
    fig = Figure(figsize=(6.5, 3.8), layout="constrained")
    ax = fig.subplots()
    for label, values in curves.items():
        ax.plot(freqs, values, label=label, lw=1.2)
    if logy:
        ax.set_yscale("log")
    _shade(ax, band, label="band of interest")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel(ylabel)
    ax.set_xlim(0, freqs[-1])
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig


def spectrogram_maps(maps: Mapping[str, np.ndarray], freqs: np.ndarray, times: np.ndarray, *,
                     band: tuple[float, float] | None = None, symmetric: bool = True, cmap: str = "RdBu_r",
                     title: str = "") -> Figure:
    """Maps over (frequency, time), e.g. class-mean SHAP (Magrini & Marrocco), axes in Hz and s.

    Args:
        maps: ``{panel title: (F, T)}`` arrays, frequency along the first axis.
        freqs: (F,) Hz (bin centres).
        times: (T,) s (segment centres).
        band: frequency band outlined by two dashed lines.
        symmetric: colour scale symmetric around 0 (signed attributions).
        cmap: colour map.
        title: figure title.

    Returns:
        Figure with one image axis and colour bar per map.
    """
    n = len(maps)
    fig = Figure(figsize=(5.2 * n, 3.6), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    df = freqs[1] - freqs[0] if len(freqs) > 1 else 1.0
    dt = times[1] - times[0] if len(times) > 1 else 1.0
    extent = (times[0] - dt / 2, times[-1] + dt / 2, freqs[0] - df / 2, freqs[-1] + df / 2)
    for ax, (name, m) in zip(axes, maps.items()):
        m = np.asarray(m, float)
        if symmetric:
            v = np.nanmax(np.abs(m)) or 1.0
            im = ax.imshow(m, origin="lower", aspect="auto", extent=extent, cmap=cmap, vmin=-v, vmax=v)
        else:
            im = ax.imshow(m, origin="lower", aspect="auto", extent=extent, cmap=cmap)
        if band is not None:
            for f in band:
                ax.axhline(f, color="k", ls="--", lw=0.8)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("frequency (Hz)")
        ax.set_title(name, fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.85)
    if title:
        fig.suptitle(title)
    return fig


def frequency_evidence(relevance: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
                       bandpass: pd.DataFrame | None = None, raw_accuracy: float | None = None,
                       ratio: tuple[np.ndarray, np.ndarray] | None = None, band: tuple[float, float] | None = None,
                       title: str = "") -> Figure:
    """The three frequency answers on one frequency axis: Fig. 5, the relevance per frequency, Fig. 6.

    Args:
        relevance: ``{label: (freqs, curve)}``: class-mean relevance per frequency (e.g. DFT-LRP, each
            curve normalised to unit absolute sum), drawn in the middle panel.
        bandpass: Fig. 5's table (``band_low_hz``, ``band_high_hz``, ``accuracy`` %), top panel; None: left out.
        raw_accuracy: unfiltered traces' accuracy (%), dashed.
        ratio: ``(freqs, geometric-mean post/pre amplitude ratio)`` of the co-located pairs, bottom
            panel (log scale); None: left out.
        band: band to shade in every panel.
        title: figure title.

    Returns:
        Figure with one to three axes sharing the frequency axis.
    """
    panels = ["bandpass"] * (bandpass is not None) + ["relevance"] + ["ratio"] * (ratio is not None)
    fig = Figure(figsize=(7.5, 2.4 * len(panels) + 0.6), layout="constrained")
    axes = dict(zip(panels, np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))))
    for ax in axes.values():
        _shade(ax, band)
    if bandpass is not None:
        ax = axes["bandpass"]
        lo, hi = bandpass["band_low_hz"].to_numpy(float), bandpass["band_high_hz"].to_numpy(float)
        ax.errorbar((lo + hi) / 2, bandpass["accuracy"], xerr=(hi - lo) / 2, fmt="o", color="k", capsize=2)
        if raw_accuracy is not None:
            ax.axhline(raw_accuracy, color="red", ls="--", label="raw traces")
            ax.legend(fontsize=8)
        ax.set_ylabel("accuracy (%)\nband-passed (Fig. 5)")
    ax = axes["relevance"]
    for label, (freqs, curve) in relevance.items():
        ax.plot(freqs, curve, lw=1.0, label=label)
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_ylabel("relevance share per bin\n(DFT-LRP)")
    ax.legend(fontsize=8)
    if ratio is not None:
        ax = axes["ratio"]
        ax.plot(ratio[0], ratio[1], color="tab:green", lw=1.0)
        ax.axhline(1.0, color="k", lw=0.6)
        ax.set_yscale("log")
        ax.set_ylabel("post/pre amplitude\n(pairs, Fig. 6)")
    axes[panels[-1]].set_xlabel("frequency (Hz)")
    axes[panels[-1]].set_xlim(0, 50)
    if title:
        fig.suptitle(title)
    return fig
