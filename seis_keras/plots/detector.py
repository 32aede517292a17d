"""Figures of the detector study (Majstorović et al. 2023); each function returns a Figure.

Built on ``matplotlib.figure.Figure`` (no pyplot state); save with ``RunFolder.save_figure``.
Arrays are channels-last: one window ``(T, C)``, a batch ``(N, T, C)``.

- :func:`training_curves`: loss / accuracy per epoch of every run.
- :func:`layer_feature_maps`: one layer's maps, channels × samples, one y-scale per channel (Fig. 4).
- :func:`cross_run_matching`: share of run A's channels reproduced by each run (Fig. S14).
- :func:`optimal_inputs`, :func:`loss_histories`, :func:`real_init_ratio`, :func:`real_init_changes`, :func:`waveforms`:
  backward optimisation (Figs 5, S15, 6, S16).
- :func:`relevance_samples`, :func:`cross_run_relevance`, :func:`sigma_lrp_figure`: LRP
  (Figs 7, S23, 8).
- :func:`relevance_vs_optimal_spectra`: DFT-LRP relevance spectra beside the Fig. 5B spectra.
- :func:`scan_figure`: a scanned continuous record with its probability trace and detections.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure


def _t(n: int, fs: float) -> np.ndarray:
    return np.arange(n) / fs


def training_curves(histories: Mapping[str, Mapping[str, Sequence[float]]]) -> Figure:
    """Training and validation loss and accuracy per epoch, one colour per run."""
    fig = Figure(figsize=(11, 3.8))
    ax_l, ax_a = fig.subplots(1, 2)
    for i, (name, h) in enumerate(histories.items()):
        c = f"C{i % 10}"
        for key, ax, style in (("loss", ax_l, "-"), ("val_loss", ax_l, "--"), ("accuracy", ax_a, "-"),
                               ("val_accuracy", ax_a, "--")):
            if key in h and len(h[key]):
                ax.plot(np.arange(1, len(h[key]) + 1), h[key], style, color=c, lw=1,
                        label=f"{name} {'validation' if key.startswith('val') else 'training'}")
    ax_l.set(xlabel="epoch", ylabel="binary cross-entropy", title="loss")
    ax_a.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_a.legend(fontsize=7, ncol=2)
    return fig


def layer_feature_maps(fmap: np.ndarray, names: Sequence[str], n_earthquakes: int, *, layer: str = "conv5",
                       max_channels: int = 32) -> Figure:
    """One layer's feature maps ``(N, L, C)``: one column per sample, channels stacked (Fig. 4 / S11).

    Every channel is divided by its maximum |value| over all samples, so a channel keeps one
    vertical scale across samples (as in the paper); earthquakes in black, noise in red.
    """
    fmap = np.asarray(fmap, dtype=np.float64)
    n, length, c = fmap.shape
    c = min(c, max_channels)
    scale = np.abs(fmap[:, :, :c]).max(axis=(0, 1))
    scale[scale == 0] = 1.0
    fig = Figure(figsize=(1.1 * n + 1, 0.3 * c + 1.2))
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    pos = np.arange(length)
    for s, ax in enumerate(axes):
        lines = fmap[s, :, :c] / scale * 0.45 - np.arange(c)[None, :]
        ax.plot(pos, lines, color="k" if s < n_earthquakes else "C3", lw=0.7)
        ax.set_title(names[s], fontsize=8)
        ax.set_xticks([])
    axes[0].set_yticks(-np.arange(c), [str(k + 1) for k in range(c)], fontsize=6)
    axes[0].set_ylabel("channel")
    fig.suptitle(f"Fig. 4: {layer} feature maps (one scale per channel; black earthquakes, red noise)")
    return fig


def cross_run_matching(cross: Mapping[str, Mapping], threshold: float, sample: str) -> Figure:
    """Per run: share of run A's channels whose best match has r > threshold, and the best r's."""
    fig = Figure(figsize=(10, 3.5))
    ax_f, ax_r = fig.subplots(1, 2)
    runs = list(cross)
    ax_f.bar(runs, [cross[r]["fraction_reference_sample"] for r in runs], color="C0")
    ax_f.axhline(0.75, color="k", ls=":", lw=1, label="paper: > 0.75")
    ax_f.set(ylim=(0, 1), ylabel=f"share of channels with r > {threshold:g}", title=f"sample {sample}, vs run A")
    ax_f.legend(fontsize=8)
    for i, r in enumerate(runs):
        ax_r.plot(np.sort(cross[r]["best_r_reference_sample"])[::-1], color=f"C{i % 10}", label=r)
    ax_r.axhline(threshold, color="k", ls=":", lw=1)
    ax_r.set(xlabel="run A channel (sorted)", ylabel="best r in the other run", title="Fig. S14")
    ax_r.legend(fontsize=7, ncol=3)
    return fig


def waveforms(x: np.ndarray, fs: float, components: str = "ENZ", title: str = "") -> Figure:
    """One window ``(T, C)``, one panel per component."""
    x = np.asarray(x)
    fig = Figure(figsize=(9, 1.6 * x.shape[1] + 0.6))
    axes = fig.subplots(x.shape[1], 1, sharex=True, squeeze=False)[:, 0]
    for c, ax in enumerate(axes):
        ax.plot(_t(len(x), fs), x[:, c], color="k", lw=0.7)
        ax.set_ylabel(components[c])
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    return fig


def optimal_inputs(x: np.ndarray, runs: Sequence[str], spectra: Mapping, fs: float, components: str = "ENZ") -> Figure:
    """Fig. 5: optimal inputs of every run (rows offset) per component, and their spectra vs training."""
    x = np.asarray(x)
    n, t_len, c = x.shape
    fig = Figure(figsize=(4 * c, 2 + 0.6 * n + 3))
    gs = fig.add_gridspec(2, c, height_ratios=[max(n, 2), 3])
    scale = 2.0 * float(np.abs(x).max() or 1.0)
    for k in range(c):
        ax = fig.add_subplot(gs[0, k])
        for i in range(n):
            ax.plot(_t(t_len, fs), x[i, :, k] / scale - i, color=f"C{i % 10}", lw=0.6)
        ax.set_yticks(-np.arange(n), list(runs))
        ax.set(title=f"{components[k]} (A: zero init)", xlabel="time (s)")
        axs = fig.add_subplot(gs[1, k])
        f = spectra["freqs"]
        for i in range(n):
            axs.semilogy(f[1:], spectra["optimal"][i, 1:, k], color=f"C{i % 10}", lw=0.6)
        axs.semilogy(f[1:], spectra["training_mean"][1:, k], color="k", lw=2, label="training positives, mean")
        axs.set(xlabel="frequency (Hz)", ylabel="amplitude")
        axs.legend(fontsize=7)
    fig.suptitle(f"Fig. 5: earthquake-class optimal inputs (waveforms scaled by 1/{scale:.2g}) and amplitude spectra")
    return fig


def loss_histories(histories: Mapping[str, np.ndarray]) -> Figure:
    """Fig. S15: backward-optimisation loss per step, one line per run."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    for i, (name, h) in enumerate(histories.items()):
        ax.semilogy(np.maximum(np.asarray(h), 1e-12), color=f"C{i % 10}", lw=1, label=name)
    ax.set(xlabel="iteration", ylabel="loss (toward earthquake)", title="Fig. S15: zero-init optimisation")
    ax.legend(fontsize=7, ncol=3)
    return fig


def real_init_ratio(x_in: np.ndarray, x_out: np.ndarray, ratio_t: np.ndarray, freqs: np.ndarray,
                    ratio_f: np.ndarray, fs: float, components: str = "ENZ", component: str = "Z",
                    zoom_s: tuple[float, float] = (2.5, 7.5)) -> Figure:
    """Fig. 6: raw vs optimised component, a zoom, and log10(|A_in|/|A_out|·100) in time and frequency."""
    k = components.index(component) if component in components else len(components) - 1
    t = _t(len(x_in), fs)
    fig = Figure(figsize=(10, 9))
    ax = fig.subplots(4, 1)
    for a in ax[:2]:
        a.plot(t, x_in[:, k], color="k", lw=0.8, label="raw")
        a.plot(t, x_out[:, k], color="C3", lw=0.6, label="optimal input")
    ax[0].set(title=f"Fig. 6: real initialisation, component {components[k]}", xlabel="time (s)")
    ax[0].legend(fontsize=8)
    z = (t >= zoom_s[0]) & (t <= zoom_s[1])
    if z.any():  # y range of the zoomed samples, so that the small changes show
        lo = float(min(x_in[z, k].min(), x_out[z, k].min()))
        hi = float(max(x_in[z, k].max(), x_out[z, k].max()))
        pad = 0.1 * (hi - lo) or 1e-3
        ax[1].set_ylim(lo - pad, hi + pad)
    ax[1].set(xlim=zoom_s, xlabel="time (s)", title="zoom")
    ax[2].plot(t, ratio_t[:, k], color="C0", lw=0.6)
    ax[2].axhline(2, color="k", ls=":", lw=1)
    ax[2].set(xlabel="time (s)", ylabel="log ratio")
    f = np.asarray(freqs) > 0  # the 0 Hz bin of demeaned windows is ~0 in both: its ratio is meaningless
    ax[3].plot(np.asarray(freqs)[f], np.asarray(ratio_f)[f, k], color="C0", lw=0.8)
    ax[3].axhline(2, color="k", ls=":", lw=1)
    ax[3].set(xlabel="frequency (Hz)", ylabel="log ratio")
    fig.tight_layout()
    return fig


def real_init_changes(x_in: np.ndarray, x_out: np.ndarray, names: Sequence[str], fs: float,
                      components: str = "ENZ", component: str = "Z", title: str = "") -> Figure:
    """Figs 6 / S19: per row (a sample, or a run), the raw component, the optimised one and their difference.

    Args:
        x_in, x_out: (n, T, C) raw and optimised windows.
        names: row labels (sample letters or run names).
    """
    k = components.index(component) if component in components else len(components) - 1
    x_in, x_out = np.asarray(x_in), np.asarray(x_out)
    n, t_len, _ = x_in.shape
    t = _t(t_len, fs)
    fig = Figure(figsize=(10, 1.2 + 1.1 * n))
    axes = np.atleast_1d(fig.subplots(n, 2, sharex=True, squeeze=False))
    for i in range(n):
        axes[i, 0].plot(t, x_in[i, :, k], color="k", lw=0.6)
        axes[i, 0].plot(t, x_out[i, :, k], color="C3", lw=0.5)
        axes[i, 0].set_ylabel(str(names[i]), rotation=0, ha="right")
        axes[i, 1].plot(t, x_out[i, :, k] - x_in[i, :, k], color="C0", lw=0.5)
    axes[0, 0].set_title(f"raw (black) and optimal input (red), {components[k]}")
    axes[0, 1].set_title("change (optimal − raw)")
    for a in axes[-1]:
        a.set_xlabel("time (s)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def relevance_samples(x: np.ndarray, relevance: np.ndarray, names: Sequence[str], fs: float,
                      components: str = "ENZ", title: str = "", cmap: str = "RdBu_r") -> Figure:
    """Fig. 7: rows = samples, columns = components; the trace over its relevance (symmetric scale per row)."""
    x, r = np.asarray(x), np.asarray(relevance)
    n, t_len, c = x.shape
    t = _t(t_len, fs)
    fig = Figure(figsize=(4 * c, 1.1 * n + 1))
    axes = fig.subplots(n, c, sharex=True, squeeze=False)
    for i in range(n):
        vmax = float(np.abs(r[i]).max()) or 1.0
        for k in range(c):
            ax = axes[i, k]
            ax.imshow(r[i, None, :, k], aspect="auto", cmap=cmap, vmin=-vmax, vmax=vmax,
                      extent=(t[0], t[-1], -1.05, 1.05), origin="lower")
            ax.plot(t, x[i, :, k] / (np.abs(x[i]).max() or 1.0), color="k", lw=0.5)
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(names[i], rotation=0, labelpad=10)
            if i == 0:
                ax.set_title(components[k])
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    return fig


def cross_run_relevance(x: np.ndarray, maps: Mapping[str, np.ndarray], fs: float, title: str = "") -> Figure:
    """Fig. S23: relevance of one sample (summed over components) for each run, over its Z trace."""
    n = len(maps)
    t = _t(len(x), fs)
    fig = Figure(figsize=(9, 1.0 * n + 1))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    z = x[:, -1] / (np.abs(x[:, -1]).max() or 1.0)
    for ax, (name, r) in zip(axes, maps.items()):
        rs = np.asarray(r).sum(axis=-1)
        ax.plot(t, z * (np.abs(rs).max() or 1.0), color="0.7", lw=0.5)
        ax.plot(t, rs, color="C3", lw=0.7)
        ax.set_ylabel(name, rotation=0, labelpad=10)
    axes[-1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    return fig


def sigma_lrp_figure(distance_km: np.ndarray, sigma_eq: np.ndarray, sigma_noise: np.ndarray,
                     spearman: float, title: str = "") -> Figure:
    """Fig. 8: σ_LRP against epicentral distance (earthquakes), and its distribution for both classes."""
    fig = Figure(figsize=(11, 4))
    ax_d, ax_h = fig.subplots(1, 2)
    ok = np.isfinite(distance_km)
    if ok.any():
        ax_d.scatter(distance_km[ok], sigma_eq[ok], s=6, alpha=0.6)
        ax_d.set(title=f"Fig. 8A: earthquakes (Spearman {spearman:.2f})")
    else:
        ax_d.text(0.5, 0.5, "no distances in the metadata", ha="center", transform=ax_d.transAxes)
    ax_d.set(xlabel="epicentral distance (km)", ylabel="σ_LRP (s)")
    vals = [v[np.isfinite(v)] for v in (sigma_eq, sigma_noise)]
    bins = np.linspace(0, max([float(v.max()) for v in vals if len(v)] + [1.0]), 30)
    for v, label, c in zip(vals, ("earthquake", "noise"), ("C0", "C3")):
        if len(v):
            ax_h.hist(v, bins=bins, alpha=0.6, color=c, label=f"{label} (median {np.median(v):.2f} s)", density=True)
    ax_h.set(xlabel="σ_LRP (s)", ylabel="density", title="Fig. 8B: earthquakes vs noise")
    ax_h.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
        fig.tight_layout()
    return fig


def relevance_vs_optimal_spectra(freqs: np.ndarray, relevance: Mapping[str, np.ndarray], f_amp: np.ndarray,
                                 optimal: np.ndarray, training: np.ndarray, split_hz: float) -> Figure:
    """Relevance per frequency (DFT-LRP, earthquakes) of each method beside the Fig. 5B spectra.

    Args:
        freqs: (F,) bins of the relevance spectra.
        relevance: ``{label: (F,) mean positive relevance per bin}`` (normalised here to sum 1).
        f_amp: (F',) bins of the amplitude spectra.
        optimal: (F',) mean amplitude spectrum of the optimal inputs (zero init, all runs, components summed).
        training: (F',) mean amplitude spectrum of the training earthquakes.
        split_hz: the "high frequency" split, drawn on both panels.
    """
    fig = Figure(figsize=(12, 4))
    ax_r, ax_a = fig.subplots(1, 2)
    for i, (label, curve) in enumerate(relevance.items()):
        c = np.asarray(curve, dtype=np.float64)
        ax_r.plot(freqs, c / (c.sum() or 1.0), color=f"C{i}", lw=1.0, label=label)
    ax_r.set(xlabel="frequency (Hz)", ylabel="positive relevance share per bin",
             title="relevance per frequency (DFT-LRP virtual layer), earthquakes")
    for curve, label, c in ((optimal, "optimal inputs (zero init, all runs)", "C3"),
                            (training, "training earthquakes", "k")):
        a = np.asarray(curve, dtype=np.float64)
        ax_a.semilogy(f_amp[1:], a[1:] / (a[1:].sum() or 1.0), color=c, lw=1.2, label=label)
    ax_a.set(xlabel="frequency (Hz)", ylabel="amplitude share per bin", title="Fig. 5B: amplitude spectra")
    for ax in (ax_r, ax_a):
        ax.axvline(split_hz, color="0.5", ls=":", lw=1)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def scan_figure(stream, probability, events, detections, threshold: float) -> Figure:
    """A scanned record: Z trace with the catalogue's P times, probability trace with detections."""
    z = [tr for tr in stream if tr.stats.channel.endswith("Z")] or list(stream)
    tr = z[0]
    t0 = tr.stats.starttime
    fig = Figure(figsize=(12, 5))
    ax_w, ax_p = fig.subplots(2, 1, sharex=True)
    ax_w.plot(tr.times(), tr.data, color="k", lw=0.3)
    ax_w.set(ylabel=tr.id)
    pt = probability.times() + (probability.stats.starttime - t0)
    ax_p.plot(pt, probability.data, color="C0", lw=0.8)
    ax_p.axhline(threshold, color="k", ls=":", lw=1)
    from obspy import UTCDateTime

    for ax in (ax_w, ax_p):
        for p in events["p_time"]:
            ax.axvline(UTCDateTime(p) - t0, color="C3", lw=0.8, alpha=0.7)
    for s, e in zip(detections.get("start_time", []), detections.get("end_time", [])):
        ax_p.axvspan(UTCDateTime(s) - t0, UTCDateTime(e) - t0, color="C2", alpha=0.25)
    ax_p.set(xlabel=f"time since {t0} (s)", ylabel="P(earthquake)", ylim=(-0.02, 1.02))
    ax_w.set_title("scan: catalogue P times (red), detections (green)")
    return fig
