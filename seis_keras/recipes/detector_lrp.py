"""Sections 5–7 of the detector study: LRP (§2.5.3, §3.3), explanation quality, scan.

LRP runs in spawned innvestigate workers (:class:`seis_keras.explain.lrp.LRPAnalyzer`): each
analyzer (one rule, one model) is built once and every batch is streamed through it. Rules:
LRP-αβ with α = 1 + β for the configured β (ignore-bias variant, as the authors' Pytorch-LRP
leaves biases out) and LRP-ε; relevance starts at model A's single logit.

σ_LRP (§3.3) is the standard deviation in time of the positive relevance
(:func:`seis_keras.explain.spectral.sigma_lrp`). For noise windows the logit is negative and so
is most relevance (§3.3: "the relevance is negative and fully spread"); we take the relevance
*for the decision*, ``R · sign(logit)``, so that σ_LRP measures the spread of the evidence the
model used for either class (``lrp.sigma_noise = "decision"``; ``"positive"`` keeps ``R``).

Explanation quality (ours; the built-in data know where P and S are): pointing game and
relevance mass inside the P–S window, the deletion curve against a random order, and the
cascading model-randomisation test with the in-process numpy LRP
(:func:`seis_keras.explain.lrp_reference.lrp_reference`, same rule conventions as innvestigate).
"""
from __future__ import annotations

import numpy as np

from seis_keras.recipes.detector_explain import Study


def _rules(l: dict) -> list[tuple[str, dict]]:
    rules = [(f"beta_{b:g}", {"rule": "alpha_beta", "beta": float(b)}) for b in l["betas"]]
    if l["epsilon_rule"]:
        rules.append(("epsilon", {"rule": "epsilon"}))
    return rules


def _logits(model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))[:, 0]
                           for i in range(0, len(x), batch_size)]).astype(np.float64)


def _finite_stat(fn, v) -> float | None:
    """``fn`` of the finite values of ``v``; None when there are none."""
    v = np.asarray(v, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(fn(v)) if len(v) else None


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a) - np.mean(a), np.ravel(b) - np.mean(b)
    d = np.sqrt((a ** 2).sum() * (b ** 2).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


# --- 5. Layer-wise relevance propagation (§2.5.3, §3.3) ---------------------------------------
def relevance_propagation(study: Study):
    """Figs 7, 8, S21–S27: relevance of the chosen samples, σ_LRP, cross-run consistency."""
    from scipy import stats

    from seis_keras.explain.lrp import LRPAnalyzer
    from seis_keras.explain.spectral import sigma_lrp
    from seis_keras.plots import detector as plots

    l, fs, comps = study.cfg["lrp"], study.fs, study.cfg["data"]["component_order"]
    settings = dict(epsilon=float(l["epsilon"]), bias=bool(l["bias"]), batch_size=int(l["batch_size"]))
    rng = np.random.default_rng(int(study.cfg["seed"]))
    n_sigma = int(l["sigma_samples"]) or len(study.x_test)  # 0: the whole evaluation split (Fig. 8)
    sig_idx = np.sort(rng.permutation(len(study.x_test))[:n_sigma])
    x_chosen, ref_pos = study.x_test[study.chosen], int(np.flatnonzero(study.chosen == study.reference)[0])
    rules = _rules(l)
    sigma_rule = rules[0][0]  # the first beta (paper: beta = 0)
    relevance, r_sigma = {}, None
    for name, kw in rules:
        with LRPAnalyzer(study.runs[0].h5_path, kw["rule"], beta=kw.get("beta", 0.0), **settings) as analyzer:
            relevance[name] = analyzer.analyze(x_chosen)
            if name == sigma_rule:
                r_sigma = analyzer.analyze(study.x_test[sig_idx])
        study.folder.save_figure(plots.relevance_samples(x_chosen, relevance[name], study.chosen_names, fs, comps,
                                                         title=f"Fig. 7: LRP {name.replace('_', ' ')} (model A)"),
                                 f"fig7_lrp_{name}")
    cross = {name: {} for name, _ in rules if name in {f"beta_{b:g}" for b in l["cross_run_betas"]}}
    cross_maps = {}
    for r in study.runs[1:]:
        for name, kw in rules:
            if name not in cross:
                continue
            with LRPAnalyzer(r.h5_path, kw["rule"], beta=kw.get("beta", 0.0), **settings) as analyzer:
                rj = analyzer.analyze(study.x_test[[study.reference]])[0]
            cross[name][r.name] = _pearson(rj, relevance[name][ref_pos])
            if name == sigma_rule:
                cross_maps[r.name] = rj
    if cross_maps:
        maps = {study.runs[0].name: relevance[sigma_rule][ref_pos], **cross_maps}
        study.folder.save_figure(plots.cross_run_relevance(study.x_test[study.reference], maps, fs,
                                                           title=f"Fig. S23: LRP {sigma_rule} of sample B, all runs"),
                                 "figS23_cross_run_lrp")
    logit = _logits(study.runs[0].model, study.x_test[sig_idx])
    y = study.y_test[sig_idx]
    decision = r_sigma * np.sign(logit)[:, None, None] if l["sigma_noise"] == "decision" else r_sigma
    sig = sigma_lrp(np.where((y == 1)[:, None, None], r_sigma, decision), fs=fs)
    study.cache.update(r_sigma=r_sigma, sig_idx=sig_idx, relevance_chosen=relevance)
    dist = (study.meta_test["source_distance_km"].to_numpy()[sig_idx]
            if "source_distance_km" in study.meta_test.columns else np.full(len(sig_idx), np.nan))
    eq = (y == 1) & np.isfinite(sig)
    with_d = eq & np.isfinite(dist)
    rho = stats.spearmanr(dist[with_d], sig[with_d]).statistic if with_d.sum() > 2 else float("nan")
    study.folder.save_figure(plots.sigma_lrp_figure(dist[eq], sig[eq], sig[(y == 0) & np.isfinite(sig)], rho),
                             "fig8_sigma_lrp")
    sums = {name: float(np.mean(R.reshape(len(R), -1).sum(axis=1)[: len(study.earthquakes)]))
            for name, R in relevance.items()}
    return "lrp", {
        "rules": [n for n, _ in rules], "epsilon": float(l["epsilon"]), "bias": bool(l["bias"]),
        "sigma_rule": sigma_rule, "n_sigma_samples": int(len(sig_idx)),
        "sigma_lrp_s": {"earthquake_mean": _finite_stat(np.mean, sig[y == 1]),
                        "earthquake_median": _finite_stat(np.median, sig[y == 1]),
                        "noise_mean": _finite_stat(np.mean, sig[y == 0]),
                        "noise_median": _finite_stat(np.median, sig[y == 0]),
                        "n_undefined": int((~np.isfinite(sig)).sum()),
                        "spearman_vs_distance": None if not np.isfinite(rho) else float(rho),
                        "paper": "sigma grows with epicentral distance; noise larger than earthquakes"},
        "noise_relevance_sum_mean": float(np.mean(r_sigma[y == 0].reshape((y == 0).sum(), -1).sum(axis=1)))
        if (y == 0).any() else None,
        "chosen_earthquakes_relevance_sum_mean": sums,
        "logit_diagnostics": logit_diagnostics(study.runs[0].model, study.x_test[sig_idx], y, logit),
        "cross_run_pearson_reference_sample": cross,
    }


def logit_diagnostics(model, x: np.ndarray, y: np.ndarray, logit: np.ndarray) -> dict:
    """How input-dependent model A's score is: logit spread per class and active ``fc1`` units.

    A narrow earthquake logit with few active hidden units means the earthquake score is mostly
    the biases of the dense layers; LRP rules that ignore biases then spread a bias-made logit over
    the input, which shows as input-independent relevance (σ_LRP nearly constant).
    """
    from seis_keras.explain.feature_maps import feature_maps

    out = {}
    names = [l.name for l in model.layers]
    hidden = feature_maps(model, x, layers=["fc1_relu"])["fc1_relu"] if "fc1_relu" in names else None
    for label, cls in ((1, "earthquake"), (0, "noise")):
        k = y == label
        if k.any():
            out[cls] = {"logit_mean": float(logit[k].mean()), "logit_std": float(logit[k].std()),
                        "active_fc1_units_mean": None if hidden is None else float((hidden[k] > 0).sum(axis=1).mean())}
    return out


# --- 6. Explanation quality (ours) -------------------------------------------------------------
def explanation_quality(study: Study):
    """Pointing game, relevance mass in the P–S window, deletion curve vs random, randomisation test."""
    from seis_keras.explain.lrp_reference import lrp_reference
    from seis_keras.explain.metrics import (deletion_curve, model_randomisation_test, pointing_game,
                                            relevance_mass_accuracy)
    from seis_keras.plots import detector as plots

    q, fs = study.cfg["quality"], study.fs
    meta = study.meta_test
    if not {"trace_p_arrival_sample", "trace_s_arrival_sample"} <= set(meta.columns):
        return "quality", {"skipped": "no P and S picks in the metadata"}
    r_sigma, sig_idx = study.cache["r_sigma"], study.cache["sig_idx"]
    p_s = meta["trace_p_arrival_sample"].to_numpy()[sig_idx]
    s_s = meta["trace_s_arrival_sample"].to_numpy()[sig_idx]
    keep = np.flatnonzero((study.y_test[sig_idx] == 1) & np.isfinite(p_s) & np.isfinite(s_s))[: int(q["n_samples"])]
    if len(keep) == 0:
        return "quality", {"skipped": "no evaluation earthquakes with P and S picks"}
    x, R = study.x_test[sig_idx[keep]], r_sigma[keep]
    t = np.arange(x.shape[1])[None, :]
    lo = np.floor(p_s[keep] - q["p_margin_s"] * fs)[:, None]
    hi = np.ceil(s_s[keep] + q["s_margin_s"] * fs)[:, None]
    mask = (t >= lo) & (t <= hi)
    model = study.runs[0].model
    kw = dict(class_index=1, steps=int(q["deletion_steps"]), fill=float(q["deletion_fill"]))
    frac, s_rel, auc_rel = deletion_curve(model, x, R, order="relevance", **kw)
    _, s_rand, auc_rand = deletion_curve(model, x, R, order="random", seed=int(study.cfg["seed"]), **kw)
    study.folder.save_figure(plots.deletion_curves(frac, s_rel.mean(axis=0), s_rand.mean(axis=0)), "deletion_curve")
    out = {"n_samples": int(len(keep)), "window": f"P - {q['p_margin_s']} s to S + {q['s_margin_s']} s",
           "pointing_game_hit_rate": float(pointing_game(R, mask).mean()),
           "relevance_mass_accuracy_mean": _finite_stat(np.mean, relevance_mass_accuracy(R, mask)),
           "window_fraction_of_samples_mean": float(mask.mean()),
           "deletion_auc": {"relevance_order_mean": float(auc_rel.mean()), "random_order_mean": float(auc_rand.mean())}}
    if q["randomisation"]:
        beta = float(study.cfg["lrp"]["betas"][0])
        names, corr = model_randomisation_test(
            model, x[: int(q["randomisation_samples"])], lambda m, xb: lrp_reference(m, xb, "alpha_beta", beta=beta, bias=False, neuron=0),
            seed=int(study.cfg["seed"]))
        out["randomisation_spearman_by_layer"] = dict(zip(names, corr.mean(axis=1).tolist()))
        study.folder.save_figure(plots.randomisation(names, corr), "randomisation_test")
    return "quality", out


# --- 7. Scan a continuous record (seis_keras.scan) ---------------------------------------------
def scan_record(study: Study):
    """Model A slides over the built-in continuous record; recall and false alarms vs its catalogue."""
    from seis_keras.data.synthetic import detector_continuous
    from seis_keras.plots import detector as plots
    from seis_keras.recipes.detector import input_contract
    from seis_keras.scan import match_detections, scan

    s = study.cfg["scan"]
    stream, events = detector_continuous(float(s["duration_s"]), int(s["n_events"]), seed=int(study.cfg["seed"]) + 7)
    res = scan(study.runs[0].model, stream, stride_s=float(s["stride_s"]), threshold=float(s["threshold"]),
               min_gap_s=float(s["min_gap_s"]), contract=input_contract(study.cfg))
    score = match_detections(res.detections, events["p_time"], event_ends=events["coda_end_time"])
    study.folder.write_text("scan_detections.csv", res.detections.to_csv(index=False))
    study.folder.save_figure(plots.scan_figure(stream, res.probabilities[0], events, res.detections,
                                               float(s["threshold"])), "scan_continuous_record")
    return "scan", {"record_s": float(s["duration_s"]), "n_events": score["n_events"],
                    "n_detections": score["n_detections"], "recall": score["recall"],
                    "false_alarms": score["n_false_alarms"], "settings": res.settings}
