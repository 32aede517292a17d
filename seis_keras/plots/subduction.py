"""Figures of the ml4szeq subduction recipe (SPEC §5); each function returns a matplotlib Figure."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def f1_vs_exclusion(results: Mapping[int, Mapping[float, Mapping[str, Mapping]]],
                    class_names: Mapping[int, Sequence[str]], *, title: str = ""):
    """Macro and per-class F1 against exclusion distance, one panel per class count.

    Args:
        results: ``{n_classes: {exclusion_km: {method: summary}}}`` where a summary has
            ``macro_mean``, ``macro_std``, ``per_class_mean``, ``per_class_std`` (the methods
            are ``"mlp"`` and the baselines, e.g. ``"majority"``, ``"logistic"``).
        class_names: ``{n_classes: [name of each class]}``.
        title: figure title.

    Returns:
        A Figure with one column per class count: top row macro F1 (MLP mean ± std, baselines
        dashed), bottom row the MLP's per-class F1 (mean ± std).
    """
    plt = _pyplot()
    counts = sorted(results)
    fig, axes = plt.subplots(2, len(counts), figsize=(5.0 * len(counts), 7.0), squeeze=False)
    styles = {"mlp": dict(color="k", marker="o"), "logistic": dict(color="tab:blue", ls="--", marker="s"),
              "majority": dict(color="tab:gray", ls=":", marker="^")}
    for col, n_cls in enumerate(counts):
        dists = sorted(results[n_cls])
        ax = axes[0, col]
        methods = list(results[n_cls][dists[0]])
        for method in methods:
            mean = np.array([results[n_cls][d][method]["macro_mean"] for d in dists])
            std = np.array([results[n_cls][d][method]["macro_std"] for d in dists])
            ax.errorbar(dists, mean, yerr=std, capsize=3, label=method, **styles.get(method, {}))
        ax.set_title(f"{n_cls} classes: macro F1")
        ax.set_xlabel("exclusion distance (km)")
        ax.set_ylabel("F1")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax = axes[1, col]
        for c, name in enumerate(class_names[n_cls]):
            mean = np.array([results[n_cls][d]["mlp"]["per_class_mean"][c] for d in dists])
            std = np.array([results[n_cls][d]["mlp"]["per_class_std"][c] for d in dists])
            ax.errorbar(dists, mean, yerr=std, capsize=3, marker="o", label=name)
        ax.set_title(f"{n_cls} classes: MLP F1 per class")
        ax.set_xlabel("exclusion distance (km)")
        ax.set_ylabel("F1")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def relevance_heatmaps(maps: Mapping[str, np.ndarray], feature_names: Sequence[str],
                       class_names: Sequence[str], *, counts: Mapping[str, Sequence[int]] | None = None,
                       title: str = "", vlim: float = 3.0):
    """Per-class median of robust-scaled relevance over the features, one heatmap per method.

    Args:
        maps: ``{method: array (n_classes, n_features)}`` (NaN rows for classes without
            explained samples are drawn blank).
        feature_names: the feature names (x axis).
        class_names: the class names (y axis).
        counts: ``{method: samples explained per class}``, added to the row labels.
        title: figure title.
        vlim: colour scale limits ``[-vlim, vlim]`` (robust-scaled units).

    Returns:
        A Figure with one heatmap row per method.
    """
    plt = _pyplot()
    methods = list(maps)
    n_feat = len(feature_names)
    fig, axes = plt.subplots(len(methods), 1, figsize=(max(10.0, 0.26 * n_feat), 1.0 + 1.1 * len(methods)
                                                        * max(2, len(class_names)) / 2 + 1.2), squeeze=False)
    image = None
    for row, method in enumerate(methods):
        ax = axes[row, 0]
        m = np.ma.masked_invalid(np.asarray(maps[method], dtype=float))
        image = ax.imshow(m, aspect="auto", cmap="RdBu_r", vmin=-vlim, vmax=vlim, interpolation="nearest")
        labels = list(class_names)
        if counts is not None and method in counts:
            labels = [f"{name} (n={n})" for name, n in zip(class_names, counts[method])]
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.set_title(method, fontsize=9, loc="left")
        ax.set_xticks(range(n_feat))
        ax.set_xticklabels(feature_names if row == len(methods) - 1 else [""] * n_feat, rotation=90, fontsize=7)
    fig.colorbar(image, ax=axes[:, 0].tolist(), shrink=0.8, label="median robust-scaled relevance")
    if title:
        fig.suptitle(title)
    return fig
