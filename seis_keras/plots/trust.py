"""Figures of the trust checks (:mod:`seis_keras.explain.trust`), one line per method.

- :func:`randomisation_curves`: similarity with the trained model's map vs cascade depth
  (logits first), mean ± std over samples, with the pass threshold and the verdict layer.
- :func:`perturbation_curves`: deletion and insertion curves of each method (solid) beside
  its random-order baseline (dashed, same colour; drawn once when methods share it).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

_LABELS = {"spearman_abs": "Spearman r of |R| with the trained map", "spearman": "Spearman r of R with the trained map",
           "spearman_positive": "Spearman r of max(R, 0) with the trained map",
           "ssim": "SSIM of |R| with the trained map"}


def _verdict_label(r) -> str:
    return f"{r.method} ({r.verdict})"


def randomisation_curves(results: Sequence, kind: str | None = None) -> Figure:
    """Cascading randomisation: similarity vs number of layers re-initialised, per method.

    Args:
        results: :class:`~seis_keras.explain.trust.TrustResult` objects; those without a
            randomisation result are skipped.
        kind: similarity to draw (default: the one the verdict used).

    Returns:
        The figure (x axis: "re-initialised down to" layer names, top layer first).

    Raises:
        ValueError: no result has a randomisation result, or cascades differ.
    """
    ran = [r for r in results if r.randomisation is not None]
    if not ran:
        raise ValueError("results: no method has a randomisation result to draw")
    layers = ran[0].randomisation.layers
    if any(r.randomisation.layers != layers for r in ran):
        raise ValueError(f"results: cascades differ ({[r.randomisation.layers for r in ran]}); draw them separately")
    kind = kind or ran[0].settings.randomisation_similarity
    fig = Figure(figsize=(7, 4 + 0.16 * (len(ran) + 1)), layout="constrained")  # room for the legend below
    ax = fig.subplots()
    x = np.arange(len(layers))
    for i, r in enumerate(ran):
        if kind not in r.randomisation.similarity:
            raise ValueError(f"kind: '{kind}' was not computed for {r.method} "
                             f"(have {sorted(r.randomisation.similarity)})")
        sim = r.randomisation.similarity[kind]
        mean, std = sim.mean(axis=1), sim.std(axis=1)
        ax.plot(x, mean, "o-", color=f"C{i}", label=_verdict_label(r))
        ax.fill_between(x, mean - std, mean + std, color=f"C{i}", alpha=0.15)
    s = ran[0].settings
    verdict_kind = kind == s.randomisation_similarity
    if verdict_kind:  # another measure is drawn for reference only: no pass line beside the verdicts
        ax.axhline(s.randomisation_max, color="k", ls=":", lw=1, label=f"pass below {s.randomisation_max:g}")
    verdict_layer = s.randomisation_layer or layers[-1]
    if verdict_layer in layers:
        ax.axvline(layers.index(verdict_layer), color="0.5", ls="--", lw=0.8)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xticks(x, list(layers), rotation=45)
    ax.set(ylim=(-1.05, 1.05), xlabel="re-initialised from the logits down to", ylabel=_LABELS.get(kind, kind),
           title="cascading model randomisation" + ("" if verdict_kind else
                                                     f" (reported; the verdicts read {s.randomisation_similarity})"))
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", fontsize=7, frameon=False)
    return fig


def perturbation_curves(results: Sequence, score_label: str | None = None) -> Figure:
    """Deletion (left) and insertion (right) curves vs the random-order baseline, per method.

    Args:
        results: :class:`~seis_keras.explain.trust.TrustResult` objects; those without a
            faithfulness result are skipped.
        score_label: y-axis label (default: target logit or probability, as the curves hold).

    Returns:
        The figure; lines are means over samples.
    """
    ran = [r for r in results if r.faithfulness is not None]
    if not ran:
        raise ValueError("results: no method has a faithfulness result to draw")
    fig = Figure(figsize=(11, 4 + 0.16 * 2 * len(ran) / 2), layout="constrained")  # legend below, two columns
    axes = fig.subplots(1, 2, sharey=True)
    label = score_label or ("target logit" if ran[0].faithfulness.score == "logit" else "target probability")
    for ax, mode, xlabel in ((axes[0], "deletion", "fraction removed (most relevant first)"),
                             (axes[1], "insertion", "fraction restored (most relevant first)")):
        drawn = []
        for i, r in enumerate(ran):
            f = r.faithfulness
            ax.plot(f.fractions, getattr(f, mode).mean(axis=0), "-", color=f"C{i}", label=_verdict_label(r))
            rand = getattr(f, f"{mode}_random").mean(axis=0)
            if any(len(d) == len(rand) and np.allclose(d, rand) for d in drawn):
                continue                  # the same random orders on the same inputs: drawn once
            drawn.append(rand)
            ax.plot(f.fractions, rand, "--", color=f"C{i}", lw=0.9, label=f"{r.method}: random order")
        ax.set(xlabel=xlabel, title=f"{mode} curve")
    axes[0].set_ylabel(label)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize=7, frameon=False)
    return fig
