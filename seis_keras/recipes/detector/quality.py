"""Section 8, explanation quality (ours; the built-in data know where P and S are).

For evaluation earthquakes with P and S picks, the σ_LRP relevance (section 7) is scored
against the window from ``quality.p_margin_s`` before P to ``quality.s_margin_s`` after S:
pointing game and relevance mass inside it, the deletion curve against a random order, and the
cascading model-randomisation test (Adebayo et al. 2018) with the in-process numpy LRP
(:func:`seis_keras.explain.lrp_reference.lrp_reference`, the same rule conventions as
innvestigate). Maps that stay rank-correlated with the trained model's after the upper layers
are re-initialised fail that test; the report says so.
"""
from __future__ import annotations

import numpy as np

from seis_keras.explain.lrp_reference import lrp_reference
from seis_keras.explain.metrics import deletion_curve, model_randomisation_test, pointing_game, relevance_mass_accuracy
from seis_keras.plots import detector as plots
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.study import DetectorData, Relevance, Training, finite_stat
from seis_keras.recipes.runner import RunFolder


def explanation_quality(data: DetectorData, training: Training, relevance: Relevance, cfg: DetectorConfig,
                        folder: RunFolder) -> dict:
    """Pointing game, relevance mass in the P–S window, deletion curve vs random, randomisation test."""
    q, fs, meta = cfg.quality, cfg.data.sampling_rate, data.test.meta
    if not {"trace_p_arrival_sample", "trace_s_arrival_sample"} <= set(meta.columns):
        return {"skipped": "no P and S picks in the metadata"}
    sig_idx = relevance.sigma_rows
    p_s = meta["trace_p_arrival_sample"].to_numpy()[sig_idx]
    s_s = meta["trace_s_arrival_sample"].to_numpy()[sig_idx]
    keep = np.flatnonzero((data.test.y[sig_idx] == 1) & np.isfinite(p_s) & np.isfinite(s_s))[: q.n_samples]
    if len(keep) == 0:
        return {"skipped": "no evaluation earthquakes with P and S picks"}
    x, R = data.test.x[sig_idx[keep]], relevance.sigma_maps[keep]
    t = np.arange(x.shape[1])[None, :]
    lo = np.floor(p_s[keep] - q.p_margin_s * fs)[:, None]
    hi = np.ceil(s_s[keep] + q.s_margin_s * fs)[:, None]
    mask = (t >= lo) & (t <= hi)
    model = training.reference.model
    kw = dict(class_index=1, steps=q.deletion_steps, fill=q.deletion_fill)
    frac, s_rel, auc_rel = deletion_curve(model, x, R, order="relevance", **kw)
    _, s_rand, auc_rand = deletion_curve(model, x, R, order="random", seed=cfg.seed, **kw)
    folder.save_figure(plots.deletion_curves(frac, s_rel.mean(axis=0), s_rand.mean(axis=0)), "deletion_curve")
    out = {"n_samples": int(len(keep)), "window": f"P - {q.p_margin_s} s to S + {q.s_margin_s} s",
           "pointing_game_hit_rate": float(pointing_game(R, mask).mean()),
           "relevance_mass_accuracy_mean": finite_stat(np.mean, relevance_mass_accuracy(R, mask)),
           "window_fraction_of_samples_mean": float(mask.mean()),
           "deletion_auc": {"relevance_order_mean": float(auc_rel.mean()), "random_order_mean": float(auc_rand.mean())}}
    if q.randomisation:
        beta = float(cfg.lrp.betas[0])  # the σ_LRP rule

        def explain(m, xb):
            return lrp_reference(m, xb, "alpha_beta", beta=beta, bias=False, neuron=0)

        names, corr = model_randomisation_test(model, x[: q.randomisation_samples], explain, seed=cfg.seed)
        out["randomisation_spearman_by_layer"] = dict(zip(names, corr.mean(axis=1).tolist()))
        folder.save_figure(plots.randomisation(names, corr), "randomisation_test")
    return out
