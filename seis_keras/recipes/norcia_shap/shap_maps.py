"""§ SHAP maps (Partition with an inpainting masker, the code; GradientExplainer beside it) and class means.

SHAP explains the top predicted class's logit; class means average over correctly classified
samples of ``shap.explain_split`` (the slides: "from Validation"). On built-in data the share
of |SHAP| mass in the planted band says whether the maps find the planted 30–40 Hz change.
"""
from __future__ import annotations

import time

import numpy as np

from seis_keras.atomic import atomic_path
from seis_keras.data.transforms import Compose
from seis_keras.explain.shap_values import class_mean_maps, gradient_shap, partition_shap
from seis_keras.plots.norcia import spectrogram_maps
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.study import NorciaData, predict, spectrogram_axes


def band_of(meta, cfg: NorciaShapConfig) -> tuple[tuple[float, float], str]:
    if {"planted_band_low_hz", "planted_band_high_hz"} <= set(meta.columns):
        return (float(meta.planted_band_low_hz.iloc[0]), float(meta.planted_band_high_hz.iloc[0])), "planted"
    return tuple(cfg.shap.band_hz), "paper"


def band_mass_fraction(maps: np.ndarray, freqs: np.ndarray, band) -> np.ndarray:
    """Share of each map's |SHAP| mass in the frequency rows inside ``band``: (N, F, T, C) -> (N,)."""
    a = np.abs(np.asarray(maps, np.float64)).sum(axis=(2, 3))
    inside = (freqs >= band[0]) & (freqs <= band[1])
    total = a.sum(axis=1)
    return np.divide(a[:, inside].sum(axis=1), total, out=np.zeros(len(a)), where=total > 0)


def shap_maps(data: NorciaData, trained, cfg: NorciaShapConfig, folder, seed: int) -> dict:
    """Per-sample and class-mean SHAP maps over correctly classified samples of the explain split."""
    store, model, labels, split, transforms = data.store, trained.model, data.labels, data.split, trained.transforms
    log = folder.log
    sh = cfg.shap
    rows = np.flatnonzero(split == sh.explain_split)
    pred = predict(model, store, rows, transforms).argmax(axis=1)
    rng = np.random.default_rng(seed)
    chosen = [np.sort(rng.permutation(rows[(labels[rows] == c) & (pred == c)])[:sh.samples_per_class])
              for c in (0, 1)]
    rows = np.concatenate(chosen)
    y = labels[rows]
    freqs, times = spectrogram_axes(cfg)
    band, kind = band_of(store.metadata, cfg)
    out = {"explain_split": sh.explain_split, "n_per_class": [len(c) for c in chosen], "band": list(band),
           "band_kind": kind, "uniform_share": float(np.mean((freqs >= band[0]) & (freqs <= band[1]))), "methods": {}}
    if len(rows) == 0:
        log("shap: no correctly classified sample to explain")
        return out
    compose = Compose(transforms)
    X = compose(store.get_waveforms(rows))
    names = {0: "foreshocks", 1: "aftershocks"}
    for method in sh.methods:
        t0 = time.time()
        if method == "partition":
            maps = partition_shap(model, X, class_index="predicted", max_evals=sh.max_evals,
                                  batch_size=sh.batch_size, masker=sh.masker, float_inpaint=sh.float_inpaint)
        else:
            train_rows = np.flatnonzero(split == "train")
            bg = np.sort(rng.permutation(train_rows)[:sh.gradient_background])
            maps = gradient_shap(model, X, compose(store.get_waveforms(bg)), class_index="predicted",
                                 nsamples=sh.gradient_nsamples, seed=seed)
        means = class_mean_maps(maps, y, y)  # all chosen samples are correct
        share = band_mass_fraction(maps, freqs, band)
        mean_maps = {f"{names[c]} (n={means[c]['n']})": means[c]["map"] for c in means}
        mean_share = {names[c]: float(band_mass_fraction(means[c]["map"][None, :, :, None], freqs, band)[0])
                      for c in means}
        out["methods"][method] = {
            "band_share": {names[c]: float(share[y == c].mean()) for c in (0, 1) if (y == c).any()},
            "band_share_all": float(share.mean()), "class_mean_map_band_share": mean_share,
            "enrichment_vs_uniform": float(share.mean() / out["uniform_share"]), "wall_time_s": round(time.time() - t0, 1)}
        log(f"shap {method}: |SHAP| share in {band[0]:g}-{band[1]:g} Hz {share.mean():.3f} "
            f"(uniform {out['uniform_share']:.3f}), {time.time() - t0:.0f} s")
        folder.save_figure(spectrogram_maps(mean_maps, freqs, times, band=band,
                                            title=f"class-mean {method} SHAP (normalised by the batch max |value|, "
                                                  "channel mean)"), f"shap_{method}_class_mean")
        for c in (0, 1):
            for i in np.flatnonzero(y == c)[:sh.example_maps]:
                folder.save_figure(spectrogram_maps(
                    {"log spectrogram (standardised, channel mean)": X[i].mean(axis=-1),
                     f"{method} SHAP (channel mean)": maps[i].mean(axis=-1)}, freqs, times, band=band,
                    title=f"{names[c][:-1]} {store.metadata.trace_name_original.iloc[rows[i]] if 'trace_name_original' in store.metadata else rows[i]}"),
                    f"shap_{method}_{names[c]}_{i}")
        with atomic_path(folder.file(f"shap_{method}_class_means.npy")) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.stack([means[c]["map"] for c in (0, 1) if c in means]))  # a handle: no ".npy" appended
    return out
