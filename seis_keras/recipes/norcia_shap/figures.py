"""§ SHAP figures, drawn once the trust verdicts are known (each title carries its method's verdict).

- ``shap_<method>_class_mean.png``: the class-mean maps (``shap.aggregation``), frequency in Hz, time in s;
- ``shap_<method>_spectra.png``: SHAP per frequency per class as the band share counts it
  (``shap.share_cells``: "row" the signed sum over time and channels, "cell" the positive part of
  each cell summed), beside the explained traces' energy spectra, the band shaded;
- ``shap_<method>_<class>_<i>.png``: one spectrogram and its map;
- ``shap_headline.png``: the class means of the best trusted method (none when no method passed).
"""
from __future__ import annotations

import numpy as np

from seis_keras.atomic import atomic_path
from seis_keras.plots.frequency import relevance_spectra
from seis_keras.plots.norcia import spectrogram_maps
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.shap_maps import CLASS_KEYS, METHOD_LABELS, ShapMaps
from seis_keras.recipes.norcia_shap.study import CLASS_NAMES

_AGGREGATION = {"batch_signed_max": "each map / its batch's signed max, mean of per-batch class means",
                "global_abs_max": "maps / one max |value|, mean over correct samples"}


def _mean_maps(shap: ShapMaps, method: str) -> dict:
    return {f"{CLASS_KEYS[c]} (n={m['n']})": m["map"] for c, m in shap.class_means[method].items()}


def shap_figures(shap: ShapMaps, trust, cfg: NorciaShapConfig, folder, store) -> dict:
    """Every SHAP figure, titled with the method's trust verdict; returns {name: path in the run folder}."""
    out = {}
    verdicts = {m: r.verdict for m, r in trust.results.items()} if trust is not None else {}
    for method, maps in shap.maps.items():
        label = f"{METHOD_LABELS[method]} [{verdicts.get(method, 'trust not checked')}]"
        out[f"{method}_class_mean"] = folder.save_figure(spectrogram_maps(
            _mean_maps(shap, method), shap.freqs, shap.times, band=shap.band,
            title=f"class-mean {label}\n({_AGGREGATION[cfg.shap.aggregation]}; channel mean)"),
            f"shap_{method}_class_mean")
        n = len(maps)
        if cfg.shap.share_cells == "row":  # (N, F, C) summed over time; the legend's share sums the channels too
            per_row, settings, what = maps.sum(axis=2), {"sum_channels": True}, "SHAP per frequency row (summed)"
        else:
            per_row, settings, what = np.clip(maps, 0, None).sum(axis=2), None, "positive SHAP per frequency (cells)"
        fig = relevance_spectra(shap.freqs, per_row, shap.pred[:n], X=shap.waveforms[:n], fs=cfg.data.sampling_rate,
                                class_names=CLASS_NAMES, band=shap.band, title=label, share_settings=settings)
        fig.axes[0].set_title(what)
        out[f"{method}_spectra"] = folder.save_figure(fig, f"shap_{method}_spectra")
        meta = store.metadata
        for c in (0, 1):
            for i in np.flatnonzero((shap.y[:n] == c) & (shap.pred[:n] == c))[:cfg.shap.example_maps]:
                name = meta.trace_name_original.iloc[shap.rows[i]] if "trace_name_original" in meta else shap.rows[i]
                folder.save_figure(spectrogram_maps(
                    {"log spectrogram (standardised, channel mean)": shap.X[i].mean(axis=-1),
                     f"{method} SHAP (channel mean)": maps[i].mean(axis=-1)}, shap.freqs, shap.times, band=shap.band,
                    title=f"{CLASS_NAMES[c]} {name} — {label}"), f"shap_{method}_{CLASS_KEYS[c]}_{i}")
        with atomic_path(folder.file(f"shap_{method}_class_means.npy")) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.stack([m["map"] for m in shap.class_means[method].values()]))  # a handle: no ".npy" added
    if trust is not None and trust.headline is not None:
        m = trust.headline
        out["headline"] = folder.save_figure(spectrogram_maps(
            _mean_maps(shap, m), shap.freqs, shap.times, band=shap.band,
            title=f"headline: class-mean {METHOD_LABELS[m]}, the best method that passed its checks "
                  f"[{verdicts[m]}]"), "shap_headline")
    return {k: folder.relative(v) for k, v in out.items()}
