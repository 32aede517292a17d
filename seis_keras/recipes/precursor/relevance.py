"""Sections 7–8 of the precursor study: relevance spectra (added) and the planted band (built-in data).

Section 7 (not in the paper): saliency and LRP maps of ``relevance.n_per_class`` test
sub-windows per class, their class-mean amplitude spectra, and the share of their power in
the tremor band over that band's share of the frequency bins (its *enrichment*). Section 8
asks, on the built-in data, whether each analysis finds the planted 0.16–0.21 Hz tremor: the
frequency-occlusion knee, the highest relative-difference peak (train and test), and the
relevance enrichment.
"""
from __future__ import annotations

import numpy as np

from seis_keras.data.precursor_windows import load_sub_windows
from seis_keras.explain.lrp import lrp
from seis_keras.explain.saliency import saliency
from seis_keras.explain.spectral import amplitude_spectrum, band_power_fraction
from seis_keras.plots import precursor as plots
from seis_keras.recipes.precursor.spectra import planted_band as figure_band
from seis_keras.recipes.precursor.study import CLASS_NAMES, PrecursorStudy, json_safe, windows_of
from seis_keras.recipes.runner import RunFolder


def relevance_spectra(study: PrecursorStudy, folder: RunFolder, model) -> dict:
    """Class-mean amplitude spectra of LRP and saliency maps of test sub-windows; band power share."""
    r = study.cfg.relevance
    n = r.n_per_class
    test = windows_of(study, "A", "test")
    x, y = load_sub_windows(study.store, test, study.windowing, components=study.cfg.data.component_order)
    pick = np.concatenate([np.flatnonzero(y == c)[np.linspace(0, (y == c).sum() - 1, min(n, (y == c).sum())).astype(int)]
                           for c in (0, 1)])
    x, y = x[pick], y[pick]
    maps = {"saliency": saliency(model, x, class_index=y)}
    if r.lrp:
        try:
            maps["LRP"] = lrp(model, x, rule=r.lrp_rule, neuron=y, epsilon=r.lrp_epsilon)
        except RuntimeError as err:  # the innvestigate worker failed: keep the other results, say why
            maps["LRP_error"] = str(err)
    band = tuple(study.cfg.synthetic.tremor_band)
    curves, out, freqs = {}, {"n_windows": int(len(x)), "band_hz": list(band)}, None
    for name, R in maps.items():
        if isinstance(R, str):
            out[name] = R
            continue
        freqs, A = amplitude_spectrum(R, study.fs, axis=1)
        curves[name] = {CLASS_NAMES[c]: A[y == c].mean(axis=(0, 2)) for c in (0, 1)}
        frac = band_power_fraction(R, band, study.fs)
        out[name] = {f"band_power_fraction_{CLASS_NAMES[c]}": float(frac[y == c].mean()) for c in (0, 1)}
    keep = freqs > 0
    chance = float(np.mean((freqs[keep] >= band[0]) & (freqs[keep] <= band[1])))
    out["band_fraction_of_bins"] = chance
    for name in curves:
        out[name]["enrichment_precursor"] = out[name]["band_power_fraction_precursor"] / chance if chance else None
    folder.save_figure(plots.relevance_spectra(freqs, curves, band=figure_band(study)), "relevance_spectra")
    return json_safe(out)


def planted_band(study: PrecursorStudy, frequency_occlusion: dict, spectra: dict, relevance: dict) -> dict:
    """On built-in data: knee, relative-difference peaks and relevance enrichment vs the planted band.

    Args:
        study: the study (its ``synthetic.tremor_band`` is the planted band).
        frequency_occlusion, spectra, relevance: the metrics of those sections.
    """
    lo, hi = study.cfg.synthetic.tremor_band
    tol = study.cfg.frequency_occlusion.knee_tolerance_hz
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
    for name in ("LRP", "saliency"):
        if isinstance(rel.get(name), dict):
            e = rel[name]["enrichment_precursor"]
            out[f"{name}_band_enrichment"] = {"enrichment": e, "found": e is not None and e > 2.0,
                                              "rule": "precursor relevance power share in band > 2 x its share of bins"}
    return json_safe(out)
