"""Sections 7 and 9 of the precursor study: relevance per frequency (added) and the planted band (built-in data).

Section 7 (not in the paper): maps of ``relevance.n_per_class`` test sub-windows per class for
every method of ``relevance.methods`` (the method vocabulary of :mod:`seis_keras.explain.methods`;
LRP in one innvestigate worker) and for the paper's own time occlusion (§6.1, as a map: the
drop of P(precursor) when a mask covers a sample, averaged over the masks covering it). Each
time map goes through the DFT virtual inspection layer (DFT-LRP, Vielhaben et al. 2024:
:func:`seis_keras.explain.frequency.frequency_relevance`), which gives the relevance *of each
frequency* (not the spectrum of the map); its share in the tremor band is set beside the
input's energy share and the uniform share (:func:`~seis_keras.explain.frequency.band_shares`),
and drawn beside frequency occlusion (Fig. 8) and the relative spectral difference (Fig. 11).
Section 9 asks, on the built-in data, whether each analysis finds the planted 0.16–0.21 Hz
tremor: the frequency-occlusion knee, the highest relative-difference peak (train and test),
and each method's relevance share in the band against ``trust.localisation_min_ratio`` × uniform.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from seis_keras.data.precursor_windows import load_sub_windows
from seis_keras.explain.frequency import band_shares, frequency_relevance
from seis_keras.explain.lrp import LRPSession
from seis_keras.explain.methods import explain, parse_method
from seis_keras.explain.occlusion import occlusion_map
from seis_keras.plots import frequency as fplots
from seis_keras.plots import precursor as plots
from seis_keras.recipes.precursor.config import PrecursorConfig
from seis_keras.recipes.precursor.spectra import planted_band as figure_band
from seis_keras.recipes.precursor.study import CLASS_NAMES, PrecursorStudy, json_safe, windows_of
from seis_keras.recipes.runner import RunFolder

#: Label of the paper's method (§6.1 time occlusion, as a map) in tables and figures.
OCCLUSION = "occlusion (paper §6.1)"


@dataclasses.dataclass
class RelevanceMaps:
    """The explained windows and every method's maps (the trust section re-uses them).

    Attributes:
        X: the explained test sub-windows (N, T, C); y: their classes (the explained class).
        methods: label -> method text (``OCCLUSION`` for the paper's occlusion).
        maps: label -> time-domain relevance (N, T, C).
        freqs: (F,) DFT bins in Hz; per_frequency: label -> DFT-LRP relevance (N, F, C).
        band: the tremor band (Hz); metrics: the section's numbers.
    """

    X: np.ndarray
    y: np.ndarray
    methods: dict
    maps: dict
    freqs: np.ndarray
    per_frequency: dict
    band: tuple
    metrics: dict


def method_labels(cfg: PrecursorConfig) -> dict:
    """Label -> method text: the paper's occlusion first, then ``relevance.methods`` (LRP ones only with ``lrp``)."""
    out = {OCCLUSION: OCCLUSION}
    for text in cfg.relevance.methods:
        spec = parse_method(text)
        if spec.backend == "lrp" and not cfg.relevance.lrp:
            continue
        out[spec.label] = text
    return out


def explain_with(text: str, model, x: np.ndarray, cls: np.ndarray, cfg: PrecursorConfig, session=None) -> np.ndarray:
    """Maps of ``x`` for class ``cls`` by one method (``OCCLUSION`` or a method text; LRP through ``session``)."""
    if text == OCCLUSION:
        # §6.1 as a map: the class probability's drop per masked position, spread over its samples
        return occlusion_map(model, x, mask=cfg.occlusion.mask, stride=cfg.occlusion.stride,
                             class_index=np.asarray(cls))
    return explain(model, x, text, class_index=np.asarray(cls), session=session, batch_size=64)


def bins_band(band: tuple, freqs: np.ndarray) -> tuple[float, float]:
    """The band widened by half a bin on each side: it takes every DFT bin whose width overlaps ``band``
    (a 12.8 s window's bins, 0.078 Hz apart, would otherwise miss 0.16–0.21 Hz altogether)."""
    half = (freqs[1] - freqs[0]) / 2.0
    return float(band[0] - half), float(band[1] + half)


def explained_windows(study: PrecursorStudy) -> tuple[np.ndarray, np.ndarray]:
    """``relevance.n_per_class`` test sub-windows of each class, spread evenly through the test set,
    the classes alternating (noise, precursor, noise ...) so that the first few hold both."""
    n = study.cfg.relevance.n_per_class
    test = windows_of(study, "A", "test")
    x, y = load_sub_windows(study.store, test, study.windowing, components=study.cfg.data.component_order)
    picks = [np.flatnonzero(y == c)[np.linspace(0, (y == c).sum() - 1, min(n, (y == c).sum())).astype(int)]
             for c in (0, 1)]
    pick = [p[i] for i in range(max(map(len, picks))) for p in picks if i < len(p)]
    return x[pick], y[pick]


def relevance_spectra(study: PrecursorStudy, folder: RunFolder, model, frequency_occlusion: dict,
                      spectra: dict) -> RelevanceMaps:
    """Every method's maps, their DFT-LRP relevance per frequency, band shares; the frequency figures."""
    cfg, fs = study.cfg, study.fs
    x, y = explained_windows(study)
    labels = method_labels(cfg)
    maps = {}
    lrp_labels = [k for k, t in labels.items() if t != OCCLUSION and parse_method(t).backend == "lrp"]
    session = LRPSession(model, batch_size=64) if lrp_labels else None
    try:
        for label, text in labels.items():
            maps[label] = explain_with(text, model, x, y, cfg, session=session)
    finally:
        if session is not None:
            session.close()
    freqs = np.fft.rfftfreq(x.shape[1], 1.0 / fs)
    band = bins_band(tuple(cfg.synthetic.tremor_band), freqs)
    out = {"n_windows": int(len(x)), "band_hz": list(cfg.synthetic.tremor_band), "band_bins_hz": list(band),
           "explained_class": "true class", "methods": {}}
    per_frequency = {}
    for label, R in maps.items():
        freqs, per_frequency[label] = frequency_relevance(R, x, method="relevance", fs=fs)
        row = {"method": labels[label]}
        for c in (0, 1):
            s = band_shares(per_frequency[label][y == c], freqs, x[y == c], band, fs=fs)
            row[CLASS_NAMES[c]] = {k: s[k] for k in ("relevance", "input", "uniform", "relevance_over_uniform",
                                                     "relevance_over_input")}
        out["methods"][label] = row
    out["uniform_share"] = out["methods"][OCCLUSION]["precursor"]["uniform"]
    out["recommended"] = next((k for k, t in labels.items() if t == cfg.relevance.recommended), None)
    shade = figure_band(study)
    for label, R_f in per_frequency.items():
        slug = "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")[:40]
        if label in (OCCLUSION, out["recommended"]):
            folder.save_figure(fplots.relevance_spectra(freqs, R_f, y, X=x, fs=fs, class_names=CLASS_NAMES,
                                                        band=shade, title=f"DFT-LRP relevance per frequency: {label}"),
                               f"relevance_per_frequency_{slug}")
    curves = {k: v[y == 1].sum(axis=2).mean(axis=0) for k, v in per_frequency.items()}
    folder.save_figure(plots.frequency_evidence(frequency_occlusion["table"], spectra["relative_difference_smoothed"],
                                                freqs, curves, fmax=cfg.spectra.peak_search_hz[1], band=shade),
                       "fig8_fig11_relevance_per_frequency")
    return RelevanceMaps(x, y, labels, maps, freqs, per_frequency, band, json_safe(out))


def planted_band(study: PrecursorStudy, frequency_occlusion: dict, spectra: dict, relevance: dict) -> dict:
    """On built-in data: knee, relative-difference peaks and relevance shares vs the planted band.

    Args:
        study: the study (its ``synthetic.tremor_band`` is the planted band).
        frequency_occlusion, spectra, relevance: the metrics of those sections.
    """
    lo, hi = study.cfg.synthetic.tremor_band
    tol = study.cfg.frequency_occlusion.knee_tolerance_hz
    ratio = study.cfg.trust.localisation_min_ratio
    fo, sp, rel = frequency_occlusion, spectra, relevance
    df = sp["frequency_resolution_hz"]
    out = {"band_hz": [lo, hi]}
    if fo["full_band_accuracy"] < 0.6:
        out["frequency_occlusion_knee"] = {"found": None, "why": "full-band accuracy below 0.6: nothing to lose"}
    else:
        k = fo["knee_hz"]
        out["frequency_occlusion_knee"] = {"knee_hz": k, "found": k is not None and lo - tol <= k <= hi + tol,
                                           "rule": f"knee within [{lo - tol:g}, {hi + tol:g}] Hz"}
    for split in ("train", "test"):
        p = sp[split]["highest_peak_hz"]
        out[f"relative_difference_peak_{split}"] = {"peak_hz": p, "found": p is not None and lo - df <= p <= hi + df,
                                                    "rule": f"highest smoothed peak within [{lo}, {hi}] Hz ± {df:.4f}"}
    for label, row in rel["methods"].items():
        r = row["precursor"]["relevance_over_uniform"]
        out[f"relevance_share: {label}"] = {
            "share": row["precursor"]["relevance"], "over_uniform": r, "found": r is not None and r >= ratio,
            "rule": f"DFT-LRP positive relevance share of the precursor windows in band >= {ratio:g} x uniform"}
    return json_safe(out)
