"""Section 9, the paper's LRP conclusions with the recommended method beside the paper's rule (issues 13.4, 14).

Does a conclusion depend on the rule? With the method the trust section recommends (the best
trusted one), the σ_LRP statistics of Fig. 8 (against distance, earthquakes vs noise), the
relevance summaries (total relevance of noise windows, of the chosen earthquakes) and the Fig. 7
maps are computed again on the same windows, beside the paper's σ_LRP rule, each labelled with its
verdict. When no method passed, the other method that failed least (fewest failed checks, then
the lowest randomisation similarity) is shown instead, labelled *flagged*, only to see whether the
numbers depend on the rule — it is not presented as what the network learned.

Frequencies (issue 14; Fig. 5): the time-domain maps of the evaluation earthquakes are carried
into the frequency domain by the DFT-LRP virtual inspection layer (Vielhaben et al. 2024,
:func:`seis_keras.explain.frequency.frequency_relevance`, conservative), and their positive
relevance per frequency is drawn beside the amplitude spectra of the optimal inputs and of the
training earthquakes (Fig. 5B). Band numbers: the share above ``bo.high_frequency_hz`` of the
relevance, of the explained windows' energy and of a flat spectrum; the optimal inputs' and the
training earthquakes' energy share there.
"""
from __future__ import annotations

import numpy as np

from seis_keras.explain.frequency import band_shares, frequency_relevance, input_band_share
from seis_keras.explain.spectral import amplitude_spectrum
from seis_keras.explain.targets import predict_logits
from seis_keras.plots import detector as plots
from seis_keras.recipes.detector.backward_optimisation import BackwardOptimisation
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.relevance import sigma_summary
from seis_keras.recipes.detector.study import ChosenSamples, DetectorData, Relevance, Training
from seis_keras.recipes.detector.trust import Trust, explainer
from seis_keras.recipes.runner import RunFolder


def comparison_method(trust: Trust) -> tuple[str, str]:
    """``(name, role)``: the recommended method, or (none passed) the least-failing other method."""
    if trust.headline is not None:
        return trust.headline, "recommended (trusted)"
    others = [n for n in trust.methods if n != trust.paper_rule] or [trust.paper_rule]

    def key(name):
        r = trust.results[name]
        failed = sum(c.verdict == "fail" for c in r.checks.values())
        return failed, r.checks["randomisation"].numbers.get("similarity", np.inf)

    return min(others, key=key), "flagged (no method passed; the least-failing one, for comparison only)"


def _summaries(R: np.ndarray, logit: np.ndarray, y: np.ndarray, dist: np.ndarray, cfg: DetectorConfig) -> dict:
    sig, rho, metrics = sigma_summary(R, logit, y, dist, cfg.data.sampling_rate, cfg.lrp.sigma_noise)
    sums = R.reshape(len(R), -1).sum(axis=1)
    return {"sigma": sig, "rho": rho, "sigma_lrp_s": metrics,
            "noise_relevance_sum_mean": float(sums[y == 0].mean()) if (y == 0).any() else None,
            "earthquake_relevance_sum_mean": float(sums[y == 1].mean()) if (y == 1).any() else None}


def frequency_summary(maps: dict, x: np.ndarray, fs: float, split_hz: float) -> tuple[np.ndarray, dict, dict]:
    """DFT-LRP of each method's maps of ``x``: mean positive relevance per bin and the shares above ``split_hz``."""
    band = (split_hz, fs / 2)
    curves, shares = {}, {}
    for name, R in maps.items():
        freqs, R_f = frequency_relevance(R, x, method="relevance", fs=fs)
        curves[name] = np.clip(R_f, 0, None).sum(axis=2).mean(axis=0)
        shares[name] = band_shares(R_f, freqs, x, band, fs=fs)
    return freqs, curves, shares


def recommended_relevance(data: DetectorData, training: Training, chosen: ChosenSamples, relevance: Relevance,
                          trust: Trust, bo: BackwardOptimisation, cfg: DetectorConfig, folder: RunFolder,
                          session) -> dict:
    """σ_LRP, relevance summaries, Fig. 7 maps and relevance spectra: the paper's rule and the compared method."""
    fs, comps, test = cfg.data.sampling_rate, cfg.data.component_order, data.test
    model = training.reference.model
    name, role = comparison_method(trust)
    paper = trust.paper_rule
    verdict = {n: trust.results[n].verdict for n in (paper, name)}
    explain = explainer(trust.methods[name], session, cfg.seed)
    rows = relevance.sigma_rows
    x, y = test.x[rows], test.y[rows]
    logit = predict_logits(model, x, batch_size=1024)[:, 0].astype(np.float64)
    dist = (test.meta["source_distance_km"].to_numpy()[rows]
            if "source_distance_km" in test.meta.columns else np.full(len(rows), np.nan))
    maps = {paper: relevance.sigma_maps, name: relevance.sigma_maps if name == paper else explain(model, x)}
    summary = {n: _summaries(R, logit, y, dist, cfg) for n, R in maps.items()}
    s = summary[name]
    eq = (y == 1) & np.isfinite(s["sigma"])
    folder.save_figure(plots.sigma_lrp_figure(dist[eq], s["sigma"][eq], s["sigma"][(y == 0) & np.isfinite(s["sigma"])],
                                              s["rho"], title=f"Fig. 8 with {name}: {verdict[name]}"),
                       "fig8_sigma_lrp_compared_method")
    x_chosen = test.x[chosen.positions]
    chosen_maps = {paper: relevance.chosen_maps[paper],
                   name: relevance.chosen_maps[paper] if name == paper else explain(model, x_chosen)}
    for n, tag in ((paper, "paper_rule"), (name, "compared_method")):
        folder.save_figure(plots.relevance_samples(x_chosen, chosen_maps[n], chosen.names, fs, comps,
                                                   title=f"Fig. 7: {n} (model A) — {verdict[n]}"), f"fig7_lrp_{tag}")
    # issue 14: relevance per frequency of the earthquakes beside the optimal inputs' spectra (Fig. 5)
    k = y == 1
    split = cfg.bo.high_frequency_hz
    freqs, curves, shares = frequency_summary({n: R[k] for n, R in maps.items()}, x[k], fs, split)
    f_amp, a_opt = amplitude_spectrum(bo.optimal_zero_init, fs, axis=1)
    _, a_pos = amplitude_spectrum(bo.training_positives, fs, axis=1)
    folder.save_figure(plots.relevance_vs_optimal_spectra(
        freqs, {f"{n} ({verdict[n]})": c for n, c in curves.items()}, f_amp, a_opt.sum(axis=2).mean(axis=0),
        a_pos.sum(axis=2).mean(axis=0), split), "fig5_relevance_spectra")
    band = (split, fs / 2)
    out = {"compared_method": name, "role": role, "text": trust.methods[name], "verdicts": verdict,
           "n_windows": int(len(rows)),
           "methods": {n: {k2: v for k2, v in summary[n].items() if k2 not in ("sigma", "rho")} for n in maps},
           "mass_in_p_s_window": {n: trust.results[n].checks["localisation"].numbers.get("mass_accuracy")
                                  for n in maps},
           "frequency": {"band_hz": list(band), "relevance_share_above_split": shares,
                         "optimal_inputs_energy_share": float(np.nanmean(input_band_share(bo.optimal_zero_init, fs,
                                                                                          band))),
                         "training_earthquakes_energy_share": float(np.nanmean(input_band_share(
                             bo.training_positives, fs, band)))}}
    return out
