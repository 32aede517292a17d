"""Section 8 of the precursor study (added): can each explanation be trusted?

For every method of the relevance section — the paper's time occlusion (§6.1) and
``relevance.methods`` — on the same test windows, the checks of :mod:`seis_keras.explain.trust`
(thresholds in ``[trust]``):

- **randomisation**: the first mode-A network re-initialised from the logits down
  (``trust.randomisation_layers``), the first ``trust.randomisation_samples`` windows
  re-explained for the same classes (LRP through one worker whose weights are swapped,
  :func:`~seis_keras.explain.trust.weight_swap_explainer`); ``trust.randomisation_similarity``
  (max(R, 0): recipes/precursor.toml says why) with the trained map read after re-initialising down to ``trust.randomisation_layer``;
- **localisation** (built-in data only, where the planted 0.16–0.21 Hz tremor is the ground
  truth): the positive share of each precursor window's DFT-LRP relevance per frequency in the
  band's bins, against the bins' uniform share; passes at ``trust.localisation_min_ratio`` ×;
- **faithfulness**: deletion of whole time steps, most relevant first, against random orders,
  on the explained class's logit.

The verdicts decide the headline (the best trusted method); the paper's occlusion is always
shown with its verdict.
"""
from __future__ import annotations

import numpy as np

from seis_keras.explain.lrp import LRPSession
from seis_keras.explain.methods import parse_method
from seis_keras.explain.trust import TrustSettings, best_trusted, judge, trust_table
from seis_keras.explain.trust_checks import (faithfulness_check, localisation_check, randomisation_check,
                                             weight_swap_explainer)
from seis_keras.plots.trust import perturbation_curves, randomisation_curves
from seis_keras.recipes.precursor.relevance import OCCLUSION, RelevanceMaps, explain_with
from seis_keras.recipes.precursor.study import PrecursorStudy, json_safe
from seis_keras.recipes.runner import RunFolder


def band_mask(rel: RelevanceMaps) -> np.ndarray:
    """(N, F) ground truth: the DFT bins inside the planted band, for every explained window."""
    inside = (rel.freqs >= rel.band[0]) & (rel.freqs <= rel.band[1])
    return np.broadcast_to(inside, (len(rel.X), len(rel.freqs)))


def trust_section(study: PrecursorStudy, folder: RunFolder, model, rel: RelevanceMaps) -> dict:
    """Assess every method of the relevance section; draw the randomisation and deletion curves."""
    s, cfg = TrustSettings.from_section(study.cfg.trust, seed=study.cfg.seed), study.cfg
    precursor = rel.y == 1
    mask = band_mask(rel) if study.built_in else None
    lrp = [k for k, t in rel.methods.items() if t != OCCLUSION and parse_method(t).backend == "lrp"]
    session = LRPSession(model, batch_size=64) if lrp else None
    results = {}
    try:
        for label, text in rel.methods.items():
            def analyse(x, text=text, m=model):
                return explain_with(text, m, x, rel.y[:len(x)], cfg, session=session)

            if label in lrp:
                explain = weight_swap_explainer(session.set_weights, analyse)
            else:
                def explain(m, x, text=text):
                    return explain_with(text, m, x, rel.y[:len(x)], cfg)
            rand = randomisation_check(model, rel.X, explain, layers=s.randomisation_layers,
                                       samples=s.randomisation_samples, seed=s.seed,
                                       control=s.randomisation_control, control_layer=s.randomisation_layer)
            loc = None if mask is None else localisation_check(rel.per_frequency[label][precursor], mask[precursor])
            faith = faithfulness_check(model, rel.X, rel.maps[label], class_index=rel.y, steps=s.steps, fill=s.fill,
                                       unit=s.unit, score=s.score, random_orders=s.random_orders,
                                       samples=s.faithfulness_samples, seed=s.seed)
            results[label] = judge(label, randomisation=rand, localisation=loc, faithfulness=faith, settings=s)
            folder.log(f"trust {label}: {results[label].verdict} ({results[label].rule})")
    finally:
        if session is not None:
            session.close()
    best = best_trusted(list(results.values()))
    headline = next((k for k, r in results.items() if r is best), None)
    folder.save_figure(randomisation_curves(list(results.values())), "trust_randomisation")
    folder.save_figure(perturbation_curves(list(results.values())), "trust_deletion")
    return json_safe({"methods": {k: r.to_dict() for k, r in results.items()}, "headline": headline,
                      "paper_method": OCCLUSION, "paper_method_verdict": results[OCCLUSION].verdict,
                      "localisation_ground_truth": ("planted band, DFT-LRP relevance per frequency of the precursor "
                                                    "windows" if mask is not None else
                                                    "none (real data: the band is the paper's hypothesis, not a "
                                                    "ground truth)"),
                      "table": trust_table(list(results.values()))})
