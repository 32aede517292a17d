"""Figures of a classifier's evaluation; each function returns a matplotlib Figure.

- :func:`confusion_matrix`: counts and/or row-normalised fractions (true class per row),
  each cell annotated (Laurenti Fig. 2 / Magrini confusion tables).
- :func:`training_curves`: one panel per quantity (loss, accuracy), training and
  validation per epoch, the kept epoch marked.

Built on ``matplotlib.figure.Figure`` directly (no pyplot state); save with
``RunFolder.save_figure`` or ``fig.savefig``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

PANELS = ("counts", "normalised")


def normalise_rows(matrix) -> np.ndarray:
    """Each row divided by its sum (the fraction of a true class given each prediction);
    an empty row stays 0."""
    m = np.asarray(matrix, dtype=float)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)


def confusion_matrix(matrix, class_names: Sequence[str] | None = None, *,
                     panels: Sequence[str] = PANELS, title: str = "", cmap: str = "Blues") -> Figure:
    """Confusion matrix figure, rows = true class, columns = predicted class.

    Args:
        matrix: (k, k) counts, e.g. ``evaluate(...)["confusion_matrix"]``.
        class_names: k tick labels (default 0..k-1).
        panels: which panels, in order: ``"counts"`` and/or ``"normalised"`` (row fractions).
        title: figure title.
        cmap: colour map.

    Returns:
        The Figure, one axes per panel, each cell annotated with its value.
    """
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"confusion_matrix: expected a square (k, k) matrix, got shape {m.shape}")
    k = m.shape[0]
    names = [str(c) for c in (class_names if class_names is not None else range(k))]
    if len(names) != k:
        raise ValueError(f"confusion_matrix: {len(names)} class_names for {k} classes")
    bad = [p for p in panels if p not in PANELS]
    if bad or not panels:
        raise ValueError(f"confusion_matrix: panels must be among {PANELS}, got {list(panels)}")
    size = 1.2 + 0.45 * k
    fig = Figure(figsize=(size * len(panels) + 1.0, size + 0.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        values = m.astype(float) if panel == "counts" else normalise_rows(m)
        vmax = values.max() if panel == "counts" else 1.0
        image = ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax or 1.0)
        for i in range(k):
            for j in range(k):
                text = f"{int(m[i, j])}" if panel == "counts" else f"{values[i, j]:.2f}"
                dark = values[i, j] > 0.5 * (vmax or 1.0)
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
        ax.set_xticks(range(k), names, rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
        ax.set_yticks(range(k), names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title("counts" if panel == "counts" else "fraction of true class")
        fig.colorbar(image, ax=ax, shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def training_curves(history: Mapping[str, Sequence[float]], *, quantities: Sequence[str] | None = None,
                    best_epoch: int | None = None, title: str = "") -> Figure:
    """Per-epoch training (and validation) curves.

    Args:
        history: ``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}`` (a Keras
            history or ``FitResult.history``); epochs are 0-based.
        quantities: base names to draw, one panel each (default: every key without the
            ``val_`` prefix, in order).
        best_epoch: the kept epoch (``FitResult.best_epoch``), marked by a dashed line.
        title: figure title.

    Returns:
        The Figure: one panel per quantity, training solid, validation dashed.
    """
    if quantities is None:
        quantities = [k for k in history if not k.startswith("val_")] or \
            [k[4:] for k in history if k.startswith("val_")]
    missing = [q for q in quantities if q not in history and f"val_{q}" not in history]
    if missing or not quantities:
        raise ValueError(f"training_curves: history has no {missing or 'quantities'} "
                         f"(keys: {sorted(history)})")
    fig = Figure(figsize=(4.2 * len(quantities), 3.2), layout="constrained")
    axes = fig.subplots(1, len(quantities), squeeze=False)[0]
    for ax, q in zip(axes, quantities):
        for key, style, label in ((q, "-", "training"), (f"val_{q}", "--", "validation")):
            if key in history:
                values = np.asarray(history[key], dtype=float)
                ax.plot(np.arange(len(values)), values, style, marker=".", label=label)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="grey", lw=0.8, ls=":", label=f"kept epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(q)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
