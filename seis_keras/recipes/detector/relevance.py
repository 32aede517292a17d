"""Section 7, layer-wise relevance propagation (§2.5.3, §3.3; Figs 7, 8, S21–S27).

LRP runs in one innvestigate worker (:class:`seis_keras.explain.lrp.LRPSession`, shared with
the trust section): each rule's analyzer is built once, the other runs are explained by swapping
their weights in. Rules (:func:`paper_methods`): LRP-αβ with α = 1 + β for each ``lrp.betas``
(ignore-bias variant, as the authors' Pytorch-LRP leaves biases out; with ``lrp.stabilised`` its
denominators are stabilised by ε·sign(z) and a neuron receiving contributions of one sign only
passes R on, as in Pytorch-LRP, where innvestigate's αβ has no stabiliser and passes α·R) and
LRP-ε (``lrp.epsilon_rule``); relevance starts at model A's single logit.

σ_LRP (§3.3) is the standard deviation in time of the positive relevance
(:func:`seis_keras.explain.spectral.sigma_lrp`), under the first β, over the evaluation
windows (``lrp.sigma_samples``; 0 = all, as Fig. 8). For noise windows the logit is negative
and so is most relevance (§3.3: "the relevance is negative and fully spread"); we take the
relevance *for the decision*, ``R · sign(logit)``, so that σ_LRP measures the spread of the
evidence the model used for either class (``lrp.sigma_noise = "decision"``; ``"positive"``
keeps ``R``).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from seis_keras.explain.feature_maps import feature_maps
from seis_keras.explain.methods import parse_method
from seis_keras.explain.spectral import sigma_lrp
from seis_keras.explain.targets import predict_logits
from seis_keras.plots import detector as plots
from seis_keras.recipes.detector.config import DetectorConfig, Lrp
from seis_keras.recipes.detector.study import ChosenSamples, DetectorData, Relevance, Training, finite_stat
from seis_keras.recipes.runner import RunFolder


def paper_methods(lrp: Lrp) -> dict[str, str]:
    """``{name: method text}`` of the paper's rules: ``beta_<β>`` per β, then ``epsilon`` (§3.3)."""
    flag = {True: "true", False: "false"}
    rules = {f"beta_{b:g}": f"lrp.alpha_beta(beta={float(b)!r}, bias={flag[lrp.bias]}, "
                            f"stabilised={flag[lrp.stabilised]}, epsilon={lrp.epsilon!r})" for b in lrp.betas}
    if lrp.epsilon_rule:
        rules["epsilon"] = f"lrp.epsilon(epsilon={lrp.epsilon!r}, bias={flag[lrp.bias]})"
    return {name: parse_method(text).text for name, text in rules.items()}


def sigma_summary(R: np.ndarray, logit: np.ndarray, y: np.ndarray, dist: np.ndarray, fs: float,
                  sigma_noise: str) -> tuple[np.ndarray, float, dict]:
    """σ_LRP of each window (earthquakes on R, noise on R·sign(logit) for ``"decision"``), its Spearman with distance.

    Returns:
        ``(sigma (n,), rho, metrics)``.
    """
    decision = R * np.sign(logit)[:, None, None] if sigma_noise == "decision" else R
    sig = sigma_lrp(np.where((y == 1)[:, None, None], R, decision), fs=fs)
    with_d = (y == 1) & np.isfinite(sig) & np.isfinite(dist)
    rho = stats.spearmanr(dist[with_d], sig[with_d]).statistic if with_d.sum() > 2 else float("nan")
    return sig, rho, {"earthquake_mean": finite_stat(np.mean, sig[y == 1]),
                      "earthquake_median": finite_stat(np.median, sig[y == 1]),
                      "noise_mean": finite_stat(np.mean, sig[y == 0]),
                      "noise_median": finite_stat(np.median, sig[y == 0]),
                      "n_undefined": int((~np.isfinite(sig)).sum()),
                      "spearman_vs_distance": None if not np.isfinite(rho) else float(rho),
                      "paper": "sigma grows with epicentral distance; noise larger than earthquakes"}


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two maps (0 when one is constant)."""
    a, b = np.ravel(a) - np.mean(a), np.ravel(b) - np.mean(b)
    d = np.sqrt((a ** 2).sum() * (b ** 2).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


def logit_diagnostics(model, x: np.ndarray, y: np.ndarray, logit: np.ndarray) -> dict:
    """How input-dependent model A's score is: logit spread per class and active ``fc1`` units.

    A narrow earthquake logit with few active hidden units means the earthquake score is mostly
    the biases of the dense layers; LRP rules that ignore biases then spread a bias-made logit over
    the input, which shows as input-independent relevance (σ_LRP nearly constant).
    """
    out = {}
    names = [layer.name for layer in model.layers]
    hidden = feature_maps(model, x, layers=["fc1_relu"])["fc1_relu"] if "fc1_relu" in names else None
    for label, cls in ((1, "earthquake"), (0, "noise")):
        k = y == label
        if k.any():
            out[cls] = {"logit_mean": float(logit[k].mean()), "logit_std": float(logit[k].std()),
                        "active_fc1_units_mean": None if hidden is None else float((hidden[k] > 0).sum(axis=1).mean())}
    return out


def relevance_propagation(data: DetectorData, training: Training, chosen: ChosenSamples, cfg: DetectorConfig,
                          folder: RunFolder, session) -> Relevance:
    """Relevance of the chosen samples per rule, σ_LRP over the evaluation split, cross-run consistency.

    ``session``: an :class:`~seis_keras.explain.lrp.LRPSession` on model A (its weights are model A's on return).
    """
    lrp, fs, comps = cfg.lrp, cfg.data.sampling_rate, cfg.data.component_order
    test, model_a = data.test, training.reference
    rng = np.random.default_rng(cfg.seed)
    n_sigma = lrp.sigma_samples or len(test.x)  # 0: the whole evaluation split (Fig. 8)
    sig_idx = np.sort(rng.permutation(len(test.x))[:n_sigma])
    x_chosen, ref = test.x[chosen.positions], chosen.reference_index
    rules = paper_methods(lrp)
    sigma_rule = next(iter(rules))  # the first beta (paper: beta = 0)
    relevance = {name: session.analyze(x_chosen, text, neuron=0) for name, text in rules.items()}
    r_sigma = session.analyze(test.x[sig_idx], rules[sigma_rule], neuron=0)
    for name in rules:
        folder.save_figure(plots.relevance_samples(x_chosen, relevance[name], chosen.names, fs, comps,
                                                   title=f"Fig. 7: LRP {name.replace('_', ' ')} (model A)"),
                           f"fig7_lrp_{name}")
    compared = {f"beta_{b:g}" for b in lrp.cross_run_betas}
    cross = {name: {} for name in rules if name in compared}
    cross_maps = {}
    try:
        for r in training.runs[1:]:
            session.set_weights(r.model)
            for name in cross:
                rj = session.analyze(test.x[[chosen.reference]], rules[name], neuron=0)[0]
                cross[name][r.name] = pearson(rj, relevance[name][ref])
                if name == sigma_rule:
                    cross_maps[r.name] = rj
    finally:
        session.set_weights(model_a.model)
    if cross_maps:
        maps = {model_a.name: relevance[sigma_rule][ref], **cross_maps}
        folder.save_figure(plots.cross_run_relevance(test.x[chosen.reference], maps, fs,
                                                     title=f"Fig. S23: LRP {sigma_rule} of sample B, all runs"),
                           "figS23_cross_run_lrp")
    logit = predict_logits(model_a.model, test.x[sig_idx], batch_size=1024)[:, 0].astype(np.float64)
    y = test.y[sig_idx]
    dist = (test.meta["source_distance_km"].to_numpy()[sig_idx]
            if "source_distance_km" in test.meta.columns else np.full(len(sig_idx), np.nan))
    sig, rho, sigma_metrics = sigma_summary(r_sigma, logit, y, dist, fs, lrp.sigma_noise)
    eq = (y == 1) & np.isfinite(sig)
    folder.save_figure(plots.sigma_lrp_figure(dist[eq], sig[eq], sig[(y == 0) & np.isfinite(sig)], rho),
                       "fig8_sigma_lrp")
    sums = {name: float(np.mean(R.reshape(len(R), -1).sum(axis=1)[: len(chosen.earthquakes)]))
            for name, R in relevance.items()}
    metrics = {
        "rules": list(rules), "methods": rules, "epsilon": lrp.epsilon, "bias": lrp.bias,
        "stabilised": lrp.stabilised, "sigma_rule": sigma_rule, "n_sigma_samples": int(len(sig_idx)),
        "sigma_lrp_s": sigma_metrics,
        "noise_relevance_sum_mean": float(np.mean(r_sigma[y == 0].reshape((y == 0).sum(), -1).sum(axis=1)))
        if (y == 0).any() else None,
        "chosen_earthquakes_relevance_sum_mean": sums,
        "logit_diagnostics": logit_diagnostics(model_a.model, test.x[sig_idx], y, logit),
        "cross_run_pearson_reference_sample": cross,
    }
    return Relevance(sigma_rule, sig_idx, r_sigma, relevance, metrics)
