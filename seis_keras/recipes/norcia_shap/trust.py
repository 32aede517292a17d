"""§ Trust: can the SHAP maps be believed? Randomisation, localisation in the planted band, deletion.

For each SHAP method the recipe shows (:mod:`seis_keras.explain.trust`, thresholds in ``[trust]``):

- **randomisation**: the CNN re-initialised from the logits down (``trust.randomisation_layers``),
  SHAP computed again for the same classes on the first ``trust.randomisation_samples``
  spectrograms, at the cheaper ``shap.randomisation_max_evals`` / ``randomisation_nsamples``
  (the trained model's map of the comparison is computed at the same cost);
- **localisation** (built-in data only, where the planted band is the ground truth): the share of
  positive SHAP in the band's frequency rows against the rows' uniform share (a frequency mask
  over the map's frequency axis, every time and channel);
- **faithfulness**: deletion of spectrogram cells (``unit = "element"``) most relevant first,
  filled with ``trust.fill``, against random orders, on the explained score (the class's logit,
  or with ``shap.target = "margin"`` its logit margin).

The verdicts decide the headline figure (the best trusted method); Partition SHAP, the code's
method, is always drawn with its verdict.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.explain.trust import TrustSettings, assess, best_trusted, trust_table
from seis_keras.plots.trust import perturbation_curves, randomisation_curves
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.shap_maps import METHOD_LABELS, ShapMaps, explain_shap, margin_model


@dataclasses.dataclass
class Trust:
    """The trust results per method (:class:`seis_keras.explain.trust.TrustResult`), the headline and metrics."""

    results: dict
    headline: str | None
    metrics: dict


def band_mask(shap: ShapMaps) -> np.ndarray:
    """(N, F) ground truth: the frequency rows inside the band, for every explained map."""
    inside = (shap.freqs >= shap.band[0]) & (shap.freqs <= shap.band[1])
    return np.broadcast_to(inside, (len(shap.X), len(shap.freqs)))


def trust_section(shap: ShapMaps, trained, cfg: NorciaShapConfig, folder, seed: int) -> Trust:
    """Assess every SHAP method; draw the randomisation and deletion curves."""
    settings = TrustSettings.from_section(cfg.trust, seed=seed)
    sh = cfg.shap
    mask = band_mask(shap) if shap.band_kind == "planted" else None
    results = {}
    model = margin_model(trained.model) if sh.target == "margin" else trained.model  # scores what the maps explain
    for method, maps in shap.maps.items():
        def explain(model, x, method=method):
            return explain_shap(method, model, x, shap.pred[:len(x)], cfg, shap.background, seed,
                                max_evals=sh.randomisation_max_evals, nsamples=sh.randomisation_nsamples,
                                background_labels=shap.background_labels)

        results[method] = assess(METHOD_LABELS[method], model, shap.X, explain, relevance=maps, mask=mask,
                                 class_index=shap.pred, settings=settings)
        folder.log(f"trust {method}: {results[method].verdict} ({results[method].rule})")
    best = best_trusted(list(results.values()))
    headline = next((m for m, r in results.items() if r is best), None)
    folder.save_figure(randomisation_curves(list(results.values())), "trust_randomisation")
    folder.save_figure(perturbation_curves(list(results.values())), "trust_deletion")
    metrics = {"methods": {m: r.to_dict() for m, r in results.items()}, "headline": headline,
               "localisation_ground_truth": "planted band" if mask is not None else "none (real data: the band is a "
                                                                                       "hypothesis, not a ground truth)",
               "table": trust_table(list(results.values()))}
    return Trust(results, headline, metrics)
