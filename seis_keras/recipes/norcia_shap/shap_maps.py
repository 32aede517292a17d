"""§ SHAP maps (Partition with an inpainting masker, the code; GradientExplainer beside it), class means, band shares.

As the code: shuffled batches of ``shap.batch_samples`` spectrograms of ``shap.explain_split``
(the slides: "from Validation"), every sample explained for its top predicted class's logit
(``shap.target = "logit"``; ``"margin"``: the logit margin, :func:`margin_model`);
the class means average the correctly classified ones (``shap.aggregation``). With
``preprocess.quantise_uint8`` the Partition explainer sees each batch as the code's 8-bit
image (batch min-max, uint8, shap's own uint8 inpainting) through a model that scales it back.

Band shares use the frequency-relevance metric (:func:`seis_keras.explain.frequency.band_share`
on the map's frequency axis, positive part, 0 Hz left out) beside the explained traces' own
energy share in the band, the uniform share (:func:`uniform_band_share`) and the model input's
own class contrast in the band (:func:`input_contrast_share`, ``shap.contrast_samples`` training
spectrograms). ``shap.share_cells`` says what the positive part is taken of: ``"row"`` (default)
each frequency row's SHAP summed over time and channels (``sum_axes=(2, 3)``: the relevance of a
row on the whole spectrogram, as the Norcia recipe's DFT band shares), ``"cell"`` each
(frequency, time, channel) cell; every share is computed both ways (``by_cells``) and the report
shows the other beside the chosen one.

On the built-in data the input's class difference is itself spread over frequency. Per
spectrogram row (class means of 600 training traces of the quick store, mean over time and
channels, post − pre) the planted change is a stable +0.30 to +0.33 log10 power of the band over
the rows below 28 Hz and above 42 Hz (three draws), but on top of it every row carries a common
level offset of the drawn events (−0.12 to −0.30 log10 out of the band, depending on the draw);
after log1p and min-max per channel (a post trace's channel maximum sits in 30–34 Hz 18–20 % of
the time, a pre trace's 1 %) the band is +0.06 over those rows. The offset is in every row,
so the band's share of the class difference (``input_contrast_share``) is only 1.0–1.4× uniform,
depending on the draw (``bench/norcia_shap_band_share.py``): a map that follows where the classes
differ in the input puts only that share in the band.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf
from tensorflow import keras

from seis_keras.data.transforms import Compose
from seis_keras.explain.frequency import band_share, input_band_share, uniform_band_share
from seis_keras.explain.shap_values import batch_class_mean_maps, class_mean_maps, gradient_shap, partition_shap
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.study import NorciaData, spectrogram_axes

CLASS_KEYS = {0: "foreshocks", 1: "aftershocks"}
#: ``shap.share_cells``: the map axes summed (signed) before the positive part (``band_share(sum_axes=)``).
SHARE_AXES = {"row": (2, 3), "cell": ()}
METHOD_LABELS = {"partition": "Partition SHAP (the code)", "gradient": "GradientExplainer SHAP (ours)"}


def band_of(meta, cfg: NorciaShapConfig) -> tuple[tuple[float, float], str]:
    """The planted band of built-in data (from the metadata), else ``shap.band_hz`` (Laurenti Fig. 6)."""
    if {"planted_band_low_hz", "planted_band_high_hz"} <= set(meta.columns):
        return (float(meta.planted_band_low_hz.iloc[0]), float(meta.planted_band_high_hz.iloc[0])), "planted"
    return tuple(cfg.shap.band_hz), "paper"


def uint8_batch(X: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The code's ``preprocess_for_shap``: one min-max over the whole batch, truncated to uint8 levels.

    Returns:
        (levels as float32 integers 0..255 shaped like ``X``, batch min, batch max).
    """
    lo, hi = float(X.min()), float(X.max())
    scale = hi - lo if hi > lo else 1.0
    return np.floor((X - lo) / scale * 255.0).clip(0, 255).astype(np.float32), lo, hi


def dequantising_model(model: keras.Model, lo: float, hi: float) -> keras.Model:
    """``model`` behind the code's ``inverse_preprocess_for_shap``: levels / 255 · (max - min) + min."""
    inputs = keras.Input(model.input_shape[1:], name="uint8_levels")
    x = keras.layers.Rescaling((hi - lo if hi > lo else 1.0) / 255.0, offset=lo, name="dequantise")(inputs)
    return keras.Model(inputs, model(x), name=f"{model.name}_uint8")


def margin_model(model: keras.Model) -> keras.Model:
    """``model``'s logit margin as one unit, ``z[1] - z[0]``: explaining class 0 of it is ``z[0] - z[1]``.

    The softmax decision depends on the margin only; the predicted logit alone also carries the
    part both logits share (``shap.target = "margin"``). A 1-unit model is returned unchanged.
    """
    if model.output_shape[-1] == 1:
        return model
    if model.output_shape[-1] != 2:
        raise ValueError(f"shap.target = 'margin': expected a 2-logit model, got {model.output_shape[-1]} outputs")
    z = model.outputs[0]
    return keras.Model(model.inputs, keras.layers.Lambda(lambda t: t[:, 1:] - t[:, :1], name="margin")(z),
                       name=f"{model.name}_margin")


def reference_for(targets: np.ndarray, labels: np.ndarray, mode: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``shap.gradient_reference``: (samples, background rows) per group of explained samples.

    ``"train"``: every background spectrogram for every sample (one group); ``"other_class"``:
    for the samples explained for class ``c``, the background spectrograms of the other classes
    (SHAP then answers "why ``c`` rather than the other class", as ``f(x) - E f(other class)``).
    """
    targets, labels = np.asarray(targets), np.asarray(labels)
    everything = np.arange(len(labels))
    if mode == "train":
        return [(np.arange(len(targets)), everything)]
    groups = []
    for c in np.unique(targets):
        other = np.flatnonzero(labels != c)
        if len(other) == 0:
            raise ValueError(f"shap.gradient_reference = 'other_class': no background spectrogram of a class other "
                             f"than {int(c)} (raise shap.gradient_background)")
        groups.append((np.flatnonzero(targets == c), other))
    return groups


def explain_shap(method: str, model, X: np.ndarray, targets: np.ndarray, cfg: NorciaShapConfig,
                 background: np.ndarray, seed: int, *, max_evals: int, nsamples: int,
                 background_labels: np.ndarray | None = None) -> np.ndarray:
    """SHAP maps of ``X`` for the classes ``targets`` (one per sample), shaped like ``X``.

    ``shap.target``: the predicted class's logit (the code) or the logit margin (:func:`margin_model`).
    Partition (the code): the inpainting masker, float32 per channel (``shap.float_inpaint``),
    or with ``preprocess.quantise_uint8`` the code's uint8 batch image with shap's own masker.
    Gradient (ours): ``shap.GradientExplainer`` on ``background`` training spectrograms, all of
    them or those of the other class (``shap.gradient_reference``, needs ``background_labels``).
    """
    sh = cfg.shap
    if sh.target == "margin":
        model = margin_model(model)
    if method == "gradient":
        if background_labels is None:
            if sh.gradient_reference != "train":
                raise ValueError(f"shap.gradient_reference = {sh.gradient_reference!r}: needs background_labels")
            background_labels = np.zeros(len(background), int)
        out = np.empty_like(np.asarray(X, np.float32))
        for samples, rows in reference_for(targets, background_labels, sh.gradient_reference):
            out[samples] = gradient_shap(model, X[samples], background[rows], class_index=np.asarray(targets)[samples],
                                         nsamples=nsamples, seed=seed)
        return out
    if cfg.preprocess.quantise_uint8:
        levels, lo, hi = uint8_batch(X)
        return partition_shap(dequantising_model(model, lo, hi), levels, class_index=targets, max_evals=max_evals,
                              batch_size=sh.batch_size, masker=sh.masker, float_inpaint=False)
    return partition_shap(model, X, class_index=targets, max_evals=max_evals, batch_size=sh.batch_size,
                          masker=sh.masker, float_inpaint=sh.float_inpaint)


def band_reader(input_shape: tuple, rows: np.ndarray) -> keras.Model:
    """A 2-logit model that reads only the frequency ``rows``: ``z[1] = mean of x over them``, ``z[0] = -z[1]``.

    Explained with the recipe's settings it gives the explainer's ceiling: the band share that a
    network using nothing but the band would get (``shap.ceiling_samples``).
    """
    idx = tf.constant(np.flatnonzero(rows), tf.int32)
    inputs = keras.Input(tuple(input_shape), name="spectrogram")
    z = keras.layers.Lambda(lambda x: tf.reduce_mean(tf.gather(x, idx, axis=1), axis=(1, 2, 3))[:, None],
                            name="band_mean")(inputs)
    return keras.Model(inputs, keras.layers.Concatenate(name="logits")([-z, z]), name="band_reader")


def map_share(maps: np.ndarray, freqs: np.ndarray, band, cells: str, kind: str = "positive") -> np.ndarray:
    """Band share of (N, F, T, C) maps per ``shap.share_cells``: of whole-map rows (``"row"``) or of cells."""
    return band_share(maps, freqs, band, kind=kind, freq_axis=1, sum_axes=SHARE_AXES[cells])


def input_contrast_share(X: np.ndarray, labels: np.ndarray, freqs: np.ndarray, band, cells: str = "row") -> float:
    """The model input's own class contrast in ``band``: share of ``|E[x | 1] - E[x | 0]|`` in its rows.

    ``X`` (N, F, T, C) model inputs (standardised log spectrograms) with 0/1 ``labels``; the
    class-mean difference summed (signed) over time and channels per frequency row before the
    absolute value (``cells="row"``), or the absolute difference of every cell summed per row
    (``"cell"``: it also counts the class means' estimation noise in every cell); 0 Hz left out
    (as :func:`band_share`). It is what a map proportional to where the classes differ in the
    input would put in the band: the map domain's "input share".
    """
    X, labels = np.asarray(X, np.float64), np.asarray(labels)
    if not ((labels == 0).any() and (labels == 1).any()):
        raise ValueError("input_contrast_share: expected spectrograms of both classes")
    diff = X[labels == 1].mean(axis=0) - X[labels == 0].mean(axis=0)
    return float(map_share(diff[None], freqs, band, cells, kind="absolute")[0])


@dataclasses.dataclass
class ShapMaps:
    """The explained spectrograms and their maps.

    Attributes:
        maps: method -> (n, F, T, C) SHAP values of the predicted class's logit, for the first n
            rows of ``X`` (:func:`explained_batches`).
        class_means: method -> {class: {"map": (F, T), "n": ...}} (``shap.aggregation``).
        X: (N, F, T, C) model inputs; waveforms: (N, T, C) the traces they came from.
        rows: store rows; y: true classes; pred: predicted classes; batch: batch index.
        freqs, times: the spectrogram axes (Hz, s); band: (f_lo, f_hi); band_kind: "planted"/"paper".
        background: the GradientExplainer's background spectrograms; background_labels: their classes.
        metrics: the section's numbers.
    """

    maps: dict
    class_means: dict
    X: np.ndarray
    waveforms: np.ndarray
    rows: np.ndarray
    y: np.ndarray
    pred: np.ndarray
    batch: np.ndarray
    freqs: np.ndarray
    times: np.ndarray
    band: tuple
    band_kind: str
    background: np.ndarray
    background_labels: np.ndarray
    metrics: dict


def class_means(maps, y, pred, batch, aggregation: str) -> dict:
    """Class-mean maps by ``shap.aggregation``: the code's per-batch signed max, or one max |value|."""
    if aggregation == "batch_signed_max":
        return batch_class_mean_maps(maps, y, pred, batch)
    return class_mean_maps(maps, y, pred)


def band_numbers(maps, freqs, band, waveforms, fs, y, pred, means, contrast: dict | None = None,
                 cells: str = "row") -> dict:
    """Band shares of one method's maps beside the input's (traces' energy; spectrograms' class contrast) and uniform.

    ``cells`` (``shap.share_cells``) is the metric of the main numbers; ``by_cells`` holds the
    all-sample share under both. ``contrast``: the input contrast share per metric.
    """
    uniform = uniform_band_share(freqs, band)
    by = {c: map_share(maps, freqs, band, c) for c in SHARE_AXES}
    share = by[cells]
    inputs = float(np.nanmean(input_band_share(waveforms, fs, band)))
    correct = y == pred
    per_class = {CLASS_KEYS[c]: float(np.nanmean(share[correct & (y == c)])) for c in (0, 1)
                 if (correct & (y == c)).any()}
    mean_share = {CLASS_KEYS[c]: float(map_share(m["map"][None, :, :, None], freqs, band, cells)[0])
                  for c, m in means.items() if np.isfinite(m["map"]).all()}
    every = float(np.nanmean(share))
    con = float("nan") if contrast is None else contrast[cells]
    return {"share_cells": cells, "n": int(len(maps)), "band_share": per_class, "band_share_all": every,
            "input_share": inputs, "uniform_share": uniform, "over_uniform": every / uniform,
            "over_input": every / inputs if inputs > 0 else float("nan"),
            "input_contrast_share": con, "over_input_contrast": every / con if con > 0 else float("nan"),
            "abs_band_share_all": float(np.nanmean(map_share(maps, freqs, band, cells, kind="absolute"))),
            "class_mean_map_band_share": mean_share,
            "by_cells": {c: {"band_share_all": float(np.nanmean(v)), "over_uniform": float(np.nanmean(v)) / uniform}
                         for c, v in by.items()}}


def frequency_blocks(maps: np.ndarray, freqs: np.ndarray) -> dict:
    """Frequency resolution of the maps: rows grouped where no map changes between adjacent rows.

    The Partition explainer gives one value per block of its partition tree, so at a small
    ``max_evals`` a map is constant over groups of frequency rows (a band edge inside a block
    cannot be resolved); gradient maps have one value per row.

    Returns:
        ``{"n": number of blocks, "first_rows_hz": the frequency of each block's first row}``.
    """
    starts = np.concatenate([[0], 1 + np.flatnonzero(np.any(np.diff(maps, axis=1) != 0, axis=(0, 2, 3)))])
    return {"n": int(len(starts)), "first_rows_hz": [round(float(freqs[i]), 2) for i in starts]}


def ceiling(method: str, X: np.ndarray, freqs, band, cfg: NorciaShapConfig, background, bg_labels, seed: int,
            model_maps: np.ndarray, masker: str | None = None) -> dict:
    """The band share of :func:`band_reader` explained with the recipe's settings on ``X`` (its predicted classes).

    ``model_maps``: the trained model's maps of the same ``X``, for ``model_share`` and its
    ratio to the ceiling (``over_ceiling``); ``masker``: another Partition masker than ``shap.masker``.
    """
    inside = (freqs >= band[0]) & (freqs <= band[1])
    model = band_reader(X.shape[1:], inside)
    targets = np.asarray(model.predict(X, verbose=0)).argmax(axis=1)
    if masker is not None:
        cfg = dataclasses.replace(cfg, shap=dataclasses.replace(cfg.shap, masker=masker))
    maps = explain_shap(method, model, X, targets, cfg, background, seed, max_evals=cfg.shap.max_evals,
                        nsamples=cfg.shap.gradient_nsamples, background_labels=bg_labels)
    cells, uniform = cfg.shap.share_cells, uniform_band_share(freqs, band)
    by = {c: float(np.nanmean(map_share(maps, freqs, band, c))) for c in SHARE_AXES}
    own = float(np.nanmean(map_share(model_maps, freqs, band, cells)))
    return {"n": int(len(X)), "masker": cfg.shap.masker if method == "partition" else None,
            "band_share": by[cells], "over_uniform": by[cells] / uniform,
            "abs_band_share": float(np.nanmean(map_share(maps, freqs, band, cells, kind="absolute"))),
            "model_share": own, "model_over_uniform": own / uniform,
            "over_ceiling": own / by[cells] if by[cells] > 0 else float("nan"),
            "by_cells": {c: {"band_share": v, "over_uniform": v / uniform} for c, v in by.items()}}


def masker_checks(model, X: np.ndarray, targets: np.ndarray, freqs, band, cfg: NorciaShapConfig, background,
                  bg_labels, seed: int) -> dict:
    """``shap.ceiling_maskers``: Partition with each masker on the trained model and on :func:`band_reader`.

    Both on the same first ``shap.ceiling_samples`` explained spectrograms, so ``over_ceiling``
    reads what the masker lets any model reach (the code's inpainting fills a masked band from
    its neighbour rows, which then share its credit).
    """
    out = {}
    for masker in cfg.shap.ceiling_maskers:
        other = dataclasses.replace(cfg, shap=dataclasses.replace(cfg.shap, masker=masker))
        maps = explain_shap("partition", model, X, targets, other, background, seed, max_evals=cfg.shap.max_evals,
                            nsamples=cfg.shap.gradient_nsamples, background_labels=bg_labels)
        out[masker] = ceiling("partition", X, freqs, band, other, background, bg_labels, seed, maps)
    return out


def explained_batches(method: str, cfg: NorciaShapConfig) -> int:
    """Batches a method explains: ``shap.gradient_batches`` for GradientExplainer, ``shap.batches`` for Partition."""
    return cfg.shap.gradient_batches if method == "gradient" else cfg.shap.batches


def shap_maps(data: NorciaData, trained, cfg: NorciaShapConfig, folder, seed: int) -> ShapMaps:
    """SHAP maps of shuffled batches of the explain split, class means, band shares.

    Partition explains the first ``shap.batches`` batches, GradientExplainer the first
    ``shap.gradient_batches`` (``maps[method]`` covers the first ``len(maps[method])`` rows of ``X``).
    """
    store, model, labels, split = data.store, trained.model, data.labels, data.split
    sh = cfg.shap
    rng = np.random.default_rng(seed)
    n_rows = max(explained_batches(m, cfg) for m in sh.methods) * sh.batch_samples
    rows = rng.permutation(np.flatnonzero(split == sh.explain_split))[:n_rows]
    compose = Compose(trained.transforms)
    freqs, times = spectrogram_axes(cfg)
    band, kind = band_of(store.metadata, cfg)
    train_rows = np.flatnonzero(split == "train")
    bg_rows = np.sort(rng.permutation(train_rows)[:sh.gradient_background])
    background, bg_labels = compose(store.get_waveforms(bg_rows)), labels[bg_rows]
    contrast_rows = np.sort(rng.permutation(train_rows)[:sh.contrast_samples])
    Xc = compose(store.get_waveforms(contrast_rows))
    contrast = {c: input_contrast_share(Xc, labels[contrast_rows], freqs, band, c) for c in SHARE_AXES}
    out = {"explain_split": sh.explain_split, "n_explained": int(len(rows)), "band": list(band), "band_kind": kind,
           "aggregation": sh.aggregation, "target": sh.target, "gradient_reference": sh.gradient_reference,
           "share_cells": sh.share_cells, "uniform_share": uniform_band_share(freqs, band),
           "input_contrast_share": contrast[sh.share_cells], "input_contrast_by_cells": contrast,
           "contrast_samples": int(len(contrast_rows)), "methods": {}}
    if len(rows) == 0:
        raise ValueError(f"shap.explain_split = {sh.explain_split!r}: no spectrogram in that split to explain")
    waveforms = store.get_waveforms(rows)  # in the shuffled order
    X = compose(waveforms)
    y = labels[rows]
    pred = np.asarray(model.predict(X, batch_size=256, verbose=0)).argmax(axis=1)
    batch = np.arange(len(rows)) // sh.batch_samples
    out["n_correct"] = {CLASS_KEYS[c]: int(((y == c) & (pred == c)).sum()) for c in (0, 1)}
    out["input_share"] = float(np.nanmean(input_band_share(waveforms, cfg.data.sampling_rate, band)))
    maps, means = {}, {}
    for method in sh.methods:
        t0 = time.time()
        n = int((batch < explained_batches(method, cfg)).sum())
        maps[method] = np.concatenate([
            explain_shap(method, model, X[batch == b], pred[batch == b], cfg, background, seed + int(b),
                         max_evals=sh.max_evals, nsamples=sh.gradient_nsamples, background_labels=bg_labels)
            for b in np.unique(batch[:n])])
        means[method] = class_means(maps[method], y[:n], pred[:n], batch[:n], sh.aggregation)
        numbers = band_numbers(maps[method], freqs, band, waveforms[:n], cfg.data.sampling_rate, y[:n], pred[:n],
                               means[method], contrast, sh.share_cells)
        numbers["n_correct"] = {CLASS_KEYS[c]: int(((y[:n] == c) & (pred[:n] == c)).sum()) for c in (0, 1)}
        out["methods"][method] = {**numbers, "frequency_blocks": frequency_blocks(maps[method], freqs),
                                  "wall_time_s": round(time.time() - t0, 1)}
        k = min(sh.ceiling_samples, n)
        if k:
            out["methods"][method]["ceiling"] = ceiling(method, X[:k], freqs, band, cfg, background, bg_labels, seed,
                                                        maps[method][:k])
            if method == "partition" and sh.ceiling_maskers:
                out["methods"][method]["maskers"] = masker_checks(model, X[:k], pred[:k], freqs, band, cfg,
                                                                  background, bg_labels, seed)
        folder.log(f"shap {method}: positive SHAP share in {band[0]:g}-{band[1]:g} Hz per {sh.share_cells} "
                   f"{numbers['band_share_all']:.3f} (input {numbers['input_share']:.3f}, input class contrast "
                   f"{contrast[sh.share_cells]:.3f}, uniform {numbers['uniform_share']:.3f}), n {n}, "
                   f"{time.time() - t0:.0f} s")
    return ShapMaps(maps, means, X, waveforms, rows, y, pred, batch, freqs, times, band, kind, background, bg_labels,
                    out)
