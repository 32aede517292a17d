"""§ Trust: can the SHAP maps be believed? Randomisation, localisation in the planted band, deletion.

For each SHAP method the recipe shows (:mod:`seis_keras.explain.trust`, thresholds in ``[trust]``):

- **randomisation**: the CNN re-initialised from the logits down (``trust.randomisation_layers``),
  SHAP computed again for the same classes on the first ``trust.randomisation_samples``
  spectrograms, at the cheaper ``shap.randomisation_max_evals`` / ``randomisation_nsamples``
  (the trained model's map of the comparison is computed at the same cost);
- **localisation** (built-in data only, where the planted band is the ground truth): the share of
  positive SHAP in the band's frequency rows against the rows' uniform share, counted as the
  band shares are (``shap.share_cells``): ``"row"`` on each map's rows summed over time and
  channels, 0 Hz left out (:func:`localisation_maps`; the mass equals the section's band
  share), ``"cell"`` on every cell (a frequency mask broadcast over time and channels, all 33 rows);
- **faithfulness**: deletion of spectrogram cells (``unit = "element"``) most relevant first,
  filled with ``trust.fill``, against random orders, on the explained score (the class's logit,
  or with ``shap.target = "margin"`` its logit margin).

The verdicts decide the headline figure (the best trusted method); Partition SHAP, the code's
method, is always drawn with its verdict.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.explain.trust import TrustSettings, assess, best_trusted, judge, trust_table
from seis_keras.explain.trust_checks import localisation_check
from seis_keras.plots.trust import perturbation_curves, randomisation_curves
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.shap_maps import METHOD_LABELS, ShapMaps, explain_shap, margin_model


@dataclasses.dataclass
class Trust:
    """The trust results per method (:class:`seis_keras.explain.trust.TrustResult`), the headline and metrics."""

    results: dict
    headline: str | None
    metrics: dict


def localisation_maps(maps: np.ndarray, freqs: np.ndarray, band, cells: str) -> tuple[np.ndarray, np.ndarray]:
    """What localisation reads under ``shap.share_cells``: ``(maps, mask)`` shaped for ``localisation_check``.

    ``"row"``: (N, F') rows summed (signed) over time and channels, 0 Hz left out, and the band's
    rows (the mass is then :func:`~seis_keras.explain.frequency.band_share` with ``sum_axes=(2, 3)``);
    ``"cell"``: the maps themselves and an (N, F) row mask broadcast over time and channels.
    """
    inside = (freqs >= band[0]) & (freqs <= band[1])
    if cells == "cell":
        return maps, np.broadcast_to(inside, (len(maps), len(freqs)))
    keep = freqs > 0
    rows = np.asarray(maps, np.float64)[:, keep].sum(axis=(2, 3))
    return rows, np.broadcast_to(inside[keep], rows.shape)


def trust_section(shap: ShapMaps, trained, cfg: NorciaShapConfig, folder, seed: int) -> Trust:
    """Assess every SHAP method; draw the randomisation and deletion curves."""
    settings = TrustSettings.from_section(cfg.trust, seed=seed)
    sh = cfg.shap
    planted = shap.band_kind == "planted"
    results = {}
    model = margin_model(trained.model) if sh.target == "margin" else trained.model  # scores what the maps explain
    for method, maps in shap.maps.items():
        def explain(model, x, method=method):
            return explain_shap(method, model, x, shap.pred[:len(x)], cfg, shap.background, seed,
                                max_evals=sh.randomisation_max_evals, nsamples=sh.randomisation_nsamples,
                                background_labels=shap.background_labels)

        n = len(maps)
        r = assess(METHOD_LABELS[method], model, shap.X[:n], explain, relevance=maps, class_index=shap.pred[:n],
                   settings=settings)
        loc = localisation_check(*localisation_maps(maps, shap.freqs, shap.band, sh.share_cells)) if planted else None
        results[method] = judge(r.method, randomisation=r.randomisation, localisation=loc,
                                faithfulness=r.faithfulness, settings=settings, extras=r.extras)
        folder.log(f"trust {method}: {results[method].verdict} ({results[method].rule})")
    best = best_trusted(list(results.values()))
    headline = next((m for m, r in results.items() if r is best), None)
    folder.save_figure(randomisation_curves(list(results.values())), "trust_randomisation")
    folder.save_figure(perturbation_curves(list(results.values())), "trust_deletion")
    metrics = {"methods": {m: r.to_dict() for m, r in results.items()}, "headline": headline,
               "localisation_cells": sh.share_cells,
               "localisation_ground_truth": "planted band" if planted else "none (real data: the band is a "
                                                                                       "hypothesis, not a ground truth)",
               "table": trust_table(list(results.values()))}
    return Trust(results, headline, metrics)
