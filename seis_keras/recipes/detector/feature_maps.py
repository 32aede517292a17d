"""Section 5, feature map visualisation (§2.5.1, §3.1; Figs 3–4, S12–S14).

The feature maps f_k (pre-activation outputs of the seven conv layers) of model A for the
chosen samples; within ``fmv.layer`` (conv5), the share of channels with at least one other
channel correlated above ``fmv.threshold`` (Pearson r; paper: 49 % for sample B), and across
runs, the share of model A's channels matched by a channel of another run above the threshold
(paper: > 75 %).
"""
from __future__ import annotations

import numpy as np

from seis_keras.explain.feature_maps import (channel_correlations, cross_run_matching, feature_maps,
                                             fraction_correlated_channels)
from seis_keras.plots import detector as plots
from seis_keras.plots.explanations import correlation_matrix, feature_maps_grid
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.study import PAPER, ChosenSamples, DetectorData, Training
from seis_keras.recipes.runner import RunFolder


def feature_map_visualisation(data: DetectorData, training: Training, chosen: ChosenSamples, cfg: DetectorConfig,
                              folder: RunFolder) -> dict:
    """Feature maps of model A, within-layer and cross-run channel correlations."""
    layer, thr = cfg.fmv.layer, cfg.fmv.threshold
    names, n_eq, ref = chosen.names, len(chosen.earthquakes), chosen.reference_index
    x = data.test.x[chosen.positions]
    maps = feature_maps(training.reference.model, x)
    for i, kind in ((0, "earthquake"), (n_eq, "noise")):
        fig = feature_maps_grid(maps, sample=i)
        fig.suptitle(f"Fig. 3: feature maps f_k of model A, {kind} sample {names[i]}")
        folder.save_figure(fig, f"fig3_feature_maps_{kind}")
    folder.save_figure(plots.layer_feature_maps(maps[layer], names, n_eq, layer=layer), "fig4_layer5_feature_maps")
    corr = channel_correlations(maps[layer])
    frac = fraction_correlated_channels(corr, thr)
    folder.save_figure(correlation_matrix(corr[ref], threshold=thr,
                                          title=f"Fig. S12: {layer} channel correlation, sample {names[ref]}, "
                                                "model A"), "figS12_channel_correlation")
    cross = {}
    for r in training.runs[1:]:
        other = feature_maps(r.model, x, layers=[layer])[layer]
        best, _, fraction = cross_run_matching(maps[layer], other, thr)
        cross[r.name] = {"fraction_reference_sample": float(fraction[ref]),
                         "fraction_mean_earthquakes": float(fraction[:n_eq].mean()),
                         "best_r_reference_sample": best[ref].tolist()}
    if cross:
        folder.save_figure(plots.cross_run_matching(cross, thr, names[ref]), "figS14_cross_run_matching")
    mean_cross = float(np.mean([c["fraction_reference_sample"] for c in cross.values()])) if cross else None
    return {
        "layer": layer, "threshold": thr, "samples": names,
        "sample_rows": data.test.rows[chosen.positions].tolist(),
        "fraction_correlated_channels": {"reference_sample": float(frac[ref]),
                                         "mean_earthquakes": float(frac[:n_eq].mean()),
                                         "mean_noise": float(frac[n_eq:].mean()),
                                         "paper_reference_sample": PAPER["correlated_channels_sample_B"].value},
        "cross_run": {"per_run": cross, "mean_fraction_reference_sample": mean_cross,
                      "paper": "> 0.75 of channels with r > 0.8"},
        "max_abs_by_layer": {k: {"earthquake_mean": float(np.abs(v[:n_eq]).max(axis=(1, 2)).mean()),
                                 "noise_mean": float(np.abs(v[n_eq:]).max(axis=(1, 2)).mean())}
                             for k, v in maps.items()},
    }
