"""Figures of relevance in the frequency and time-frequency domain (virtual inspection layers).

- :func:`relevance_spectra`: mean relevance per frequency for each class, with the classes'
  input energy spectra beside it (Laurenti Fig. 5/6, Ong Figs 10-11, Majstorovic Fig. 5
  companions); the band of interest shaded and its shares in the legend.
- :func:`time_frequency_map`: one sample's relevance per time-frequency cell (STDFT-LRP),
  the waveform above it.
- :func:`class_time_frequency_maps`: the class-mean time-frequency relevance, one panel per
  class, on one colour scale.

Inputs come from :func:`seis_keras.explain.frequency.frequency_relevance` /
``time_frequency_relevance``. Every function returns a ``matplotlib.figure.Figure`` (no
pyplot state); save it with ``RunFolder.save_figure`` or ``fig.savefig``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from seis_keras.explain.frequency.shares import band_share, input_band_share
from seis_keras.explain.frequency.transforms import energy_spectrum

__all__ = ["relevance_spectra", "time_frequency_map", "class_time_frequency_maps"]


def _class_names(labels, class_names):
    classes = np.unique(labels)
    if class_names is None:
        return classes, [f"class {c}" for c in classes]
    if len(class_names) < int(classes.max()) + 1:
        raise ValueError(f"class_names: {len(class_names)} names for classes up to {int(classes.max())}")
    return classes, [str(class_names[int(c)]) for c in classes]


def _labels(labels, n):
    y = np.asarray(labels).reshape(-1)
    if len(y) != n:
        raise ValueError(f"labels: expected {n} labels (one per relevance map), got {len(y)}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels: expected integer class labels, got dtype {y.dtype}")
    return y


def _shade(ax, band, vertical=True):
    if band is not None:
        (ax.axvspan if vertical else ax.axhspan)(band[0], band[1], color="0.85", zorder=0, lw=0)


def relevance_spectra(freqs: np.ndarray, relevance: np.ndarray, labels: np.ndarray, *,
                      X: np.ndarray | None = None, fs: float | None = None,
                      class_names: Sequence[str] | None = None, band: tuple | None = None,
                      normalise: bool = True, logy_input: bool = True, title: str = "",
                      share_settings: dict | None = None) -> Figure:
    """Class-mean relevance per frequency (left) beside the class-mean input spectra (right).

    Args:
        freqs: (F,) bin frequencies in Hz.
        relevance: (N, F, C) relevance per frequency; channels are summed.
        labels: (N,) integer class of each map (true or explained class).
        X: the explained batch (N, T, C) for the input spectra panel, or None (one panel).
        fs: sampling rate of ``X`` in Hz (needed with ``X``).
        class_names: a name per class index.
        band: (f_lo, f_hi) Hz to shade; the legend then gives each class's share in it
            (mean positive relevance share; the input's energy share).
        normalise: divide each class curve by its sum of absolute values (relevance) or
            its total (input energy), so classes with different logit sizes compare.
        logy_input: logarithmic y axis for the input spectra.
        title: figure title.
        share_settings: ``band_share`` keywords of the legend's shares (``resolution_hz``,
            ``sum_channels``; default: each DFT bin of each channel).

    Returns:
        Figure with the relevance axis first and, with ``X``, the input axis second.
    """
    freqs = np.asarray(freqs, dtype=np.float64)
    R = np.asarray(relevance, dtype=np.float64)
    if R.ndim != 3 or R.shape[1] != len(freqs):
        raise ValueError(f"relevance: expected (N, {len(freqs)}, C) (one value per frequency bin), got {R.shape}")
    y = _labels(labels, len(R))
    cells = dict(share_settings or {})
    if X is not None:
        if fs is None:
            raise ValueError("fs: the sampling rate of X is needed for the input spectra")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 3 or len(X) != len(R):
            raise ValueError(f"X: expected the explained batch ({len(R)}, T, C), got shape {X.shape}")
    classes, names = _class_names(y, class_names)
    fig = Figure(figsize=(12 if X is not None else 7, 4))
    axes = fig.subplots(1, 2 if X is not None else 1, squeeze=False)[0]
    for ax in axes:
        _shade(ax, band)
    for c, name in zip(classes, names):
        curve = R[y == c].sum(axis=2).mean(axis=0)
        if normalise:
            curve = curve / (np.abs(curve).sum() or 1.0)
        label = name
        if band is not None:
            label += f" (in band {np.nanmean(band_share(R[y == c], freqs, band, **cells)):.2f})"
        axes[0].plot(freqs, curve, lw=1.0, label=label)
    axes[0].axhline(0.0, color="k", lw=0.6)
    axes[0].set_ylabel("relevance share per bin" if normalise else "mean relevance")
    axes[0].set_title("relevance per frequency (virtual layer)")
    if X is not None:
        f_in, energy = energy_spectrum(X, fs)
        for c, name in zip(classes, names):
            curve = energy[y == c].sum(axis=2).mean(axis=0)
            if normalise:
                curve = curve / (curve.sum() or 1.0)
            label = name
            if band is not None:
                share = input_band_share(X[y == c], fs, band, resolution_hz=cells.get("resolution_hz"))
                label += f" (in band {np.nanmean(share):.2f})"
            axes[1].plot(f_in, curve, lw=1.0, label=label)
        axes[1].set_yscale("log" if logy_input else "linear")
        axes[1].set_ylabel("energy share per bin" if normalise else "mean energy")
        axes[1].set_title("input spectrum")
    for ax in axes:
        ax.set_xlabel("frequency (Hz)")
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def _cells(R, what):
    R = np.asarray(R, dtype=np.float64)
    if R.ndim == 3:
        R = R.sum(axis=2)
    if R.ndim != 2:
        raise ValueError(f"{what}: expected (M, F) or (M, F, C) cells, got shape {R.shape}")
    return R


def _check_axes(times, freqs, R, what):
    if R.shape != (len(times), len(freqs)):
        raise ValueError(f"{what}: expected ({len(times)} windows, {len(freqs)} bins), got {R.shape[:2]}")


def _tf_image(ax, times, freqs, R, vmax, cmap, band):
    im = ax.pcolormesh(times, freqs, R.T, cmap=cmap, vmin=-vmax, vmax=vmax, shading="nearest")
    if band is not None:
        for f in band:
            ax.axhline(f, color="k", ls="--", lw=0.8)
    ax.set_ylabel("frequency (Hz)")
    return im


def time_frequency_map(times: np.ndarray, freqs: np.ndarray, relevance: np.ndarray, *,
                       x: np.ndarray | None = None, fs: float | None = None, band: tuple | None = None,
                       components: str | Sequence[str] = "ENZ", cmap: str = "RdBu_r",
                       title: str = "") -> Figure:
    """One sample's relevance per time-frequency cell, the waveform above it.

    Args:
        times: (M,) window centres in s.
        freqs: (F,) bin frequencies in Hz.
        relevance: (M, F, C) (channels summed) or (M, F), one sample of ``R_tf``.
        x: the sample's waveform (T, C) to draw above, or None.
        fs: sampling rate of ``x`` (its time axis in s).
        band: (f_lo, f_hi) Hz marked by dashed lines.
        components: a name per channel of ``x``.
        cmap: diverging colour map, symmetric around 0.
        title: figure title.

    Returns:
        Figure with the waveform axis first (when ``x`` is given) and the map axis last.
    """
    times, freqs = np.asarray(times, dtype=np.float64), np.asarray(freqs, dtype=np.float64)
    R = _cells(relevance, "relevance")
    _check_axes(times, freqs, R, "relevance")
    fig = Figure(figsize=(10, 6 if x is not None else 4))
    axes = fig.subplots(2 if x is not None else 1, 1, sharex=True, squeeze=False,
                        gridspec_kw={"height_ratios": [1, 2]} if x is not None else None)[:, 0]
    if x is not None:
        if fs is None:
            raise ValueError("fs: the sampling rate of x is needed to draw it on the map's time axis")
        x = np.asarray(x).reshape(len(x), -1)
        t = np.arange(len(x)) / fs
        for c in range(x.shape[1]):
            axes[0].plot(t, x[:, c], lw=0.6, label=components[c] if c < len(components) else f"ch{c}")
        axes[0].set_ylabel("amplitude")
        axes[0].legend(fontsize="small", loc="upper right")
    im = _tf_image(axes[-1], times, freqs, R, float(np.abs(R).max()) or 1.0, cmap, band)
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(im, ax=list(axes), label="relevance", shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def class_time_frequency_maps(times: np.ndarray, freqs: np.ndarray, relevance: np.ndarray,
                              labels: np.ndarray, *, class_names: Sequence[str] | None = None,
                              band: tuple | None = None, cmap: str = "RdBu_r", title: str = "") -> Figure:
    """Class-mean time-frequency relevance, one panel per class, one symmetric colour scale.

    Args:
        times, freqs: the axes of ``relevance``.
        relevance: (N, M, F, C) from ``time_frequency_relevance`` (channels summed).
        labels: (N,) integer class per map.
        class_names: a name per class index.
        band: (f_lo, f_hi) Hz marked by dashed lines.
        cmap: diverging colour map.
        title: figure title.

    Returns:
        Figure with one map axis per class (in class order).
    """
    times, freqs = np.asarray(times, dtype=np.float64), np.asarray(freqs, dtype=np.float64)
    R = np.asarray(relevance, dtype=np.float64)
    if R.ndim != 4:
        raise ValueError(f"relevance: expected (N, M, F, C), got shape {R.shape}")
    y = _labels(labels, len(R))
    classes, names = _class_names(y, class_names)
    means = [R[y == c].sum(axis=3).mean(axis=0) for c in classes]
    _check_axes(times, freqs, means[0], "relevance")
    vmax = max(float(np.abs(m).max()) for m in means) or 1.0
    fig = Figure(figsize=(4.5 * len(classes) + 1, 4))
    axes = fig.subplots(1, len(classes), sharey=True, squeeze=False)[0]
    for ax, m, c, name in zip(axes, means, classes, names):
        im = _tf_image(ax, times, freqs, m, vmax, cmap, band)
        ax.set_title(f"{name} (n={int(np.sum(y == c))})")
        ax.set_xlabel("time (s)")
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.colorbar(im, ax=list(axes), label="mean relevance", shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig
