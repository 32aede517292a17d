"""§ Trust: can the explanations be believed? Randomisation, localisation in the planted band, deletion.

For each method of ``explain.frequency_methods`` (the recipe's rule and the recommended ones;
:mod:`seis_keras.explain.trust`, thresholds in ``[trust]``):

- **randomisation**: the CNN re-initialised from the logits down (``trust.randomisation_layers``,
  each layer with its own initializer), the first ``trust.randomisation_samples`` traces
  explained again for the same classes; LRP through the model's worker with a weight swap;
- **localisation** (built-in data only, where the planted band is the ground truth): the share
  of positive DFT-LRP relevance in the band's cells against the cells' uniform share, on the
  cells of the band shares (``explain.share_resolution_hz``, ``share_channels``; 0 Hz left out).
  It checks the pipeline (a planted change is found), not the paper's claim about real
  aftershocks;
- **faithfulness**: deletion of time samples, most relevant first (filled with ``trust.fill``),
  against random orders, on the explained class's logit.

The verdicts pick the headline method (the best trusted); the recipe's rule is always shown
with its verdict.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.explain.frequency import pool_frequencies
from seis_keras.explain.methods import explain, parse_method
from seis_keras.explain.trust import (TrustSettings, best_trusted, faithfulness_check, judge, localisation_check,
                                      randomisation_check, trust_table, weight_swap_explainer)
from seis_keras.plots.trust import perturbation_curves, randomisation_curves
from seis_keras.recipes.norcia.config import NorciaConfig
from seis_keras.recipes.norcia.explanations import Explained, method_label


@dataclasses.dataclass
class Trust:
    """The trust results per method text (:class:`seis_keras.explain.trust.TrustResult`), the headline, metrics."""

    results: dict
    headline: str | None
    metrics: dict


def band_cells(relevance_f: np.ndarray, freqs: np.ndarray, band, cells: dict) -> tuple[np.ndarray, np.ndarray]:
    """The DFT-LRP relevance on the band share's cells and the (N, cells) ground truth: the cells inside ``band``.

    Args:
        relevance_f: (N, F, C) relevance per DFT bin.
        freqs: (F,) bin frequencies (Hz).
        band: the planted band (Hz).
        cells: ``explain.share_settings`` (``resolution_hz``, ``sum_channels``); 0 Hz left out, as in the shares.

    Returns:
        ``(maps (N, cells) or (N, cells, C), mask (N, cells))``.
    """
    pooled, low, high = pool_frequencies(relevance_f, freqs, cells["resolution_hz"],
                                         sum_channels=cells["sum_channels"])
    inside = (low >= band[0]) & (high <= band[1])
    maps = pooled if pooled.ndim == 2 else np.moveaxis(pooled, -1, 1)
    return maps, np.broadcast_to(inside, (len(maps), len(inside)))


def _explainer(method: str, session, classes: np.ndarray):
    if parse_method(method).backend == "lrp":
        return weight_swap_explainer(session.set_weights,
                                     lambda x: session.analyze(x, method, neuron=classes[:len(x)]))
    return lambda model, x: explain(model, x, method, class_index=classes[:len(x)])


def trust_section(ex: Explained, trained, cfg: NorciaConfig, folder, seed: int) -> Trust:
    """Assess every method of ``explain.frequency_methods``; draw the randomisation and deletion curves.

    Args:
        ex: the explanations (maps, DFT-LRP relevance, the open LRP session).
        trained: the explained 2-class model.
        cfg: the recipe config (``[trust]``).
        folder: the run folder (``figures/trust_randomisation.png``, ``figures/trust_deletion.png``).
        seed: seed of the re-initialisation and the random orders.

    Returns:
        :class:`Trust` (metrics: per-method verdicts, the table, the headline, the recipe rule's verdict).
    """
    s = TrustSettings.from_section(cfg.trust, seed=seed)
    if not len(ex.X):
        return Trust({}, None, {"methods": {}, "headline": None, "note": "no correctly classified trace to explain"})
    planted = ex.band_kind == "planted"
    results = {}
    for method, R in ex.maps.items():
        rand = randomisation_check(trained.model, ex.X, _explainer(method, ex.session, ex.targets),
                                   layers=s.randomisation_layers, samples=s.randomisation_samples, seed=s.seed,
                                   control=s.randomisation_control, control_layer=s.randomisation_layer)
        loc = (localisation_check(*band_cells(ex.relevance_f[method], ex.freqs, ex.band, cfg.explain.share_settings))
               if planted else None)
        faith = faithfulness_check(trained.model, ex.X, R, class_index=ex.targets, steps=s.steps, fill=s.fill,
                                   unit=s.unit, score=s.score, random_orders=s.random_orders,
                                   samples=s.faithfulness_samples, seed=s.seed)
        results[method] = judge(method_label(method), randomisation=rand, localisation=loc, faithfulness=faith,
                                settings=s)
        folder.log(f"trust {method}: {results[method].verdict} ({results[method].rule})")
    ex.session.set_weights(trained.model)  # the worker holds the trained weights again
    best = best_trusted(list(results.values()))
    headline = next((m for m, r in results.items() if r is best), None)
    folder.save_figure(randomisation_curves(list(results.values())), "trust_randomisation")
    folder.save_figure(perturbation_curves(list(results.values())), "trust_deletion")
    rule = cfg.explain.lrp_rule
    metrics = {"methods": {m: r.to_dict() for m, r in results.items()}, "headline": headline,
               "recipe_rule": rule, "recipe_rule_verdict": results[rule].verdict,
               "localisation_ground_truth": ("planted band (checks the pipeline, not the paper's claim)" if planted
                                             else "none (real data: the band is the paper's hypothesis, not a "
                                                  "ground truth)"),
               "table": trust_table(list(results.values()))}
    return Trust(results, headline, metrics)
