"""Figures of explanations; each function returns a matplotlib Figure (no pyplot state).

- :func:`waveform_relevance`: one panel per component, the trace over its relevance
  (Majstorović Fig. 7, Ong Fig. 7 style).
- :func:`feature_maps_grid`: one row per layer, channels x positions images (FMV, Fig. 3–4).
- :func:`correlation_matrix`: channel–channel Pearson r of one layer.
- :func:`spectra`: labelled amplitude spectra / relative differences, optional peak lines
  (Ong Figs 10–11, Majstorović Fig. 5B, Laurenti Fig. 6).
- :func:`occlusion_curves`: score vs mask position with the trace below (Ong Fig. 7).
- :func:`frequency_occlusion`: accuracy and loss vs cutoff (Ong Fig. 8).

Figures are built on ``matplotlib.figure.Figure`` directly, so nothing accumulates in
pyplot; save with ``RunFolder.save_figure`` or ``fig.savefig``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def _time_axis(n: int, fs: float | None):
    return (np.arange(n) / fs, "time (s)") if fs else (np.arange(n), "sample")


def waveform_relevance(x: np.ndarray, relevance: np.ndarray, *, fs: float | None = None,
                       components: str | Sequence[str] = "ENZ", title: str = "",
                       cmap: str = "RdBu_r") -> Figure:
    """One trace (T, C) drawn over its relevance (T, C), one panel per component.

    Args:
        x: the waveform (T, C).
        relevance: the explanation (T, C); colour scale symmetric around 0 over all panels.
        fs: sampling rate (time axis in s), or None (samples).
        components: a name per channel.
        title: figure title.
        cmap: diverging colour map of the relevance band.

    Returns:
        Figure with C axes, each holding the trace as its first line and the relevance as
        an image behind it.
    """
    x, r = np.asarray(x), np.asarray(relevance)
    if x.ndim == 1:
        x, r = x[:, None], r.reshape(-1, 1)
    if x.shape != r.shape:
        raise ValueError(f"relevance: expected the waveform's shape {x.shape}, got {r.shape}")
    t, label = _time_axis(len(x), fs)
    vmax = float(np.abs(r).max()) or 1.0
    fig = Figure(figsize=(10, 1.8 * x.shape[1] + 0.6))
    axes = fig.subplots(x.shape[1], 1, sharex=True, squeeze=False)[:, 0]
    for c, ax in enumerate(axes):
        lo, hi = float(x[:, c].min()), float(x[:, c].max())
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot(t, x[:, c], color="k", lw=0.7)
        im = ax.imshow(r[None, :, c], aspect="auto", cmap=cmap, vmin=-vmax, vmax=vmax,
                       extent=(t[0], t[-1], lo - pad, hi + pad), origin="lower", alpha=0.8)
        ax.set_ylabel(components[c] if c < len(components) else f"ch{c}")
    axes[-1].set_xlabel(label)
    fig.colorbar(im, ax=list(axes), label="relevance", shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def feature_maps_grid(maps: Mapping[str, np.ndarray], *, sample: int = 0,
                      max_channels: int | None = None, cmap: str = "viridis") -> Figure:
    """Feature maps of one sample: a channels x positions image per layer.

    Args:
        maps: {layer: (N, T, C)} from ``explain.feature_maps``.
        sample: which sample of the batch.
        max_channels: show at most this many channels per layer.
        cmap: colour map.

    Returns:
        Figure with one axis (image) per layer, in the order of ``maps``.
    """
    if not maps:
        raise ValueError("maps: expected at least one layer")
    fig = Figure(figsize=(10, 1.6 * len(maps) + 0.5))
    axes = fig.subplots(len(maps), 1, squeeze=False)[:, 0]
    for ax, (name, m) in zip(axes, maps.items()):
        img = np.asarray(m)[sample].reshape(-1, np.shape(m)[-1]).T[:max_channels]
        im = ax.imshow(img, aspect="auto", cmap=cmap, interpolation="nearest")
        ax.set_ylabel(f"{name}\nchannel")
        fig.colorbar(im, ax=ax, pad=0.01)
    axes[-1].set_xlabel("position")
    return fig


def correlation_matrix(corr: np.ndarray, *, threshold: float | None = 0.8, title: str = "") -> Figure:
    """Pearson r between the channels of one layer (one sample), with r > threshold marked.

    Args:
        corr: (C, C) matrix.
        threshold: outline cells above it (None: no marks).
        title: axis title.

    Returns:
        Figure with one image axis (and a colour bar).
    """
    corr = np.asarray(corr)
    if corr.ndim != 2 or corr.shape[0] != corr.shape[1]:
        raise ValueError(f"corr: expected a square (C, C) matrix, got {corr.shape}")
    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.subplots()
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    if threshold is not None:
        i, j = np.nonzero((corr > threshold) & ~np.eye(len(corr), dtype=bool))
        ax.scatter(j, i, s=6, c="k", marker=".")
    ax.set_xlabel("channel")
    ax.set_ylabel("channel")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="Pearson r")
    return fig


def spectra(freqs: np.ndarray, curves: Mapping[str, np.ndarray], *, peaks: Sequence[float] = (),
            logx: bool = False, logy: bool = False, ylabel: str = "amplitude",
            title: str = "", zero_line: bool = False) -> Figure:
    """Labelled spectra on one axis, with dashed vertical lines at ``peaks``.

    Args:
        freqs: (F,) in Hz.
        curves: {label: (F,)} (e.g. precursor / noise, or raw / smoothed relative difference).
        peaks: frequencies to mark (Ong: 0.16 and 0.21 Hz).
        logx, logy: logarithmic axes.
        ylabel: y label.
        title: axis title.
        zero_line: draw a horizontal line at 0 (for relative differences).

    Returns:
        Figure with one axis, a line per curve in the order given.
    """
    freqs = np.asarray(freqs)
    fig = Figure(figsize=(8, 4))
    ax = fig.subplots()
    for label, values in curves.items():
        values = np.asarray(values)
        if values.shape != freqs.shape:
            raise ValueError(f"curves[{label!r}]: expected shape {freqs.shape}, got {values.shape}")
        ax.plot(freqs, values, label=label, lw=1.0)
    for f in peaks:
        ax.axvline(f, color="k", ls="--", lw=0.8)
    if zero_line:
        ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return fig


def occlusion_curves(positions: np.ndarray, scores: np.ndarray, *, mask: int,
                     x: np.ndarray | None = None, fs: float | None = None,
                     labels: Sequence[str] | None = None, threshold: float | None = 0.5,
                     title: str = "") -> Figure:
    """Score for each mask position (Ong Fig. 7), optionally with the trace below.

    Args:
        positions: (P,) mask start samples from ``occlude_time``.
        scores: (P,) one curve, or (K, P) several (e.g. each channel).
        mask: mask length in samples (curves are drawn at the mask centres).
        x: the occluded input (T, C) to draw below, or None.
        fs: sampling rate for a time axis in s, or None (samples).
        labels: a label per curve.
        threshold: horizontal line (Ong: 0.5), or None.
        title: figure title.

    Returns:
        Figure with the score axis first and, if ``x`` is given, the trace axis second.
    """
    scores = np.atleast_2d(np.asarray(scores))
    positions = np.asarray(positions)
    if scores.shape[1] != len(positions):
        raise ValueError(f"scores: expected {len(positions)} values per curve (one per position), got {scores.shape[1]}")
    scale = 1.0 / fs if fs else 1.0
    fig = Figure(figsize=(10, 5 if x is not None else 3))
    axes = fig.subplots(2 if x is not None else 1, 1, sharex=True, squeeze=False)[:, 0]
    centres = (positions + mask / 2.0) * scale
    for k, curve in enumerate(scores):
        axes[0].plot(centres, curve, marker=".", label=labels[k] if labels else None)
    if threshold is not None:
        axes[0].axhline(threshold, color="r", lw=0.8)
    axes[0].set_ylabel("score")
    if labels:
        axes[0].legend()
    if x is not None:
        t, _ = _time_axis(len(x), fs)
        axes[1].plot(t, np.asarray(x).reshape(len(x), -1), lw=0.6)
        axes[1].set_ylabel("amplitude")
    axes[-1].set_xlabel("time (s)" if fs else "sample")
    if title:
        fig.suptitle(title)
    return fig


def frequency_occlusion(table, *, x: str = "cutoff_hz", knee: float | None = None,
                        title: str = "") -> Figure:
    """Accuracy and loss against cutoff (Ong Fig. 8) from ``occlude_frequency``'s table.

    Args:
        table: DataFrame with columns ``x``, ``accuracy``, ``loss``.
        x: the column on the x axis (``cutoff_hz``; ``band_low_hz`` for band tables).
        knee: frequency to mark with a red dashed line, or None.
        title: figure title.

    Returns:
        Figure with two axes: accuracy (first) and loss (second).
    """
    missing = {x, "accuracy", "loss"} - set(table.columns)
    if missing:
        raise ValueError(f"table: missing columns {sorted(missing)}")
    fig = Figure(figsize=(8, 5))
    axes = fig.subplots(2, 1, sharex=True)
    axes[0].plot(table[x], table["accuracy"], marker=".")
    axes[0].set_ylabel("accuracy")
    axes[1].plot(table[x], table["loss"], marker=".", color="tab:orange")
    axes[1].set_ylabel("loss")
    axes[1].set_xlabel(x.replace("_hz", " (Hz)").replace("_", " "))
    if knee is not None:
        for ax in axes:
            ax.axvline(knee, color="r", ls="--", lw=0.8)
    if title:
        fig.suptitle(title)
    return fig
