"""§ Explanations (ours; the paper has none): does the 2-class network look at 30–40 Hz?

On up to ``explain.per_class`` correctly classified pre and post test traces of the first
2-class model of the experiment station, toward the class ``explain.target`` names: the aftershock
(``"post"``) logit of every trace, or each trace's own (predicted = true) class (``"predicted"``):

* **relevance per frequency** (DFT-LRP, the virtual inspection layer of Vielhaben et al. 2024,
  :mod:`seis_keras.explain.frequency`): each method of ``explain.frequency_methods`` (the
  recipe's rule ``explain.lrp_rule`` first, then the recommended ones), per class, beside the
  band-pass sweep (Fig. 5) and the co-located spectral ratios (Fig. 6). Band shares in the band
  (on built-in data the planted one, from the metadata): relevance vs the uniform share and vs
  the input's energy share (:func:`~seis_keras.explain.frequency.band_shares`), counted on
  ``explain.share_resolution_hz`` cells with ``explain.share_channels`` (the per-bin number beside).
* **time-domain maps** (``explain.methods``: LRP with the recipe's rule, gradient saliency): the
  share of relevance *power* in the band (``band_power_fraction``, the spectrum of a relevance
  trace — not the relevance of a frequency, kept for comparison) and, for saliency, gradient ×
  input decomposed over frequency (:func:`spectral_gradient_input_share`).

LRP runs in one innvestigate worker for the model (:class:`~seis_keras.explain.lrp.LRPSession`,
BatchNorm folded), which the trust section reuses.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from seis_keras.data import norcia as nd
from seis_keras.data.norcia_experiments import planted_band

from seis_keras.explain.frequency import band_share, band_shares, frequency_relevance, uniform_band_share
from seis_keras.explain.methods import explain, parse_method
from seis_keras.explain.metrics import randomised_cascade
from seis_keras.explain.spectral import amplitude_spectrum, band_power_fraction
from seis_keras.plots.explanations import waveform_relevance
from seis_keras.plots.frequency import relevance_spectra
from seis_keras.plots.norcia import class_spectra, frequency_evidence
from seis_keras.recipes.norcia.config import NorciaConfig
from seis_keras.recipes.norcia.study import NorciaData, Trained


def correct_examples(trained: Trained, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``per_class`` correctly classified test traces per class, drawn at random.

    Args:
        trained: the model, its test rows and predictions.
        per_class: traces per class at most.
        seed: seeds the draw.

    Returns:
        ``(store rows sorted within each class, their classes)``.
    """
    test, pred, y = trained.test, trained.pred, trained.split.labels[trained.test]
    rng = np.random.default_rng(seed)
    rows, classes = [], []
    for c in range(trained.split.n_classes):
        ok = rng.permutation(test[(y == c) & (pred == c)])[:per_class]
        rows.append(np.sort(ok))
        classes.append(np.full(len(ok), c))
    return np.concatenate(rows), np.concatenate(classes)


def normalised_spectrum(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectra (N, T, C) -> (F,): channels summed, 0 Hz dropped, unit sum per trace, then averaged."""
    f, a = amplitude_spectrum(x, fs, axis=1)
    a = a.sum(axis=2)
    a[:, 0] = 0.0  # the mean of a relevance trace says nothing about frequency
    return f, (a / np.maximum(a.sum(axis=1, keepdims=True), 1e-30)).mean(axis=0)


def spectral_gradient_input_share(X: np.ndarray, G: np.ndarray, band, fs: float) -> np.ndarray:
    """Share of gradient x input, decomposed over frequency, that lies in ``band`` (ours).

    By Parseval, ``sum_t x(t) g(t) = (1/T) sum_f w_f Re(X(f) G*(f))`` (``w_f`` = 1 at 0 Hz and
    Nyquist, 2 elsewhere): each frequency's term is its part of the first-order (Taylor)
    contribution of the input to the explained logit. Returns, per trace, the share of
    ``sum_f |term|`` (channels summed, 0 Hz left out) inside ``band``: (N, T, C) -> (N,).
    """
    X, G = np.asarray(X, np.float64), np.asarray(G, np.float64)
    f = np.fft.rfftfreq(X.shape[1], 1.0 / fs)
    terms = np.abs(np.real(np.fft.rfft(X, axis=1) * np.conj(np.fft.rfft(G, axis=1))).sum(axis=2))
    terms[:, 0] = 0.0
    inside = (f >= band[0]) & (f <= band[1])
    total = terms.sum(axis=1)
    return np.divide(terms[:, inside].sum(axis=1), total, out=np.zeros(len(terms)), where=total > 0)


def method_label(method: str) -> str:
    """A method's report label: its full text, every parameter written (``parse_method(method).text``)."""
    return parse_method(method).text


@dataclasses.dataclass
class Explained:
    """What the explanations computed, for the trust section and the report.

    Attributes:
        X: the explained traces (model input, transforms applied), (N, T, 3).
        classes: their class (predicted = true).
        targets: the class explained for each (``explain.target``: all 1 for ``"post"``, else ``classes``).
        maps: time-domain relevance per method text (``explain.frequency_methods``), (N, T, 3).
        freqs: DFT bins (Hz); ``relevance_f``: DFT-LRP per method, (N, F, 3).
        band, band_kind: the band scored (``"planted"`` on built-in data, else ``"paper"``).
        session: the open LRP worker of the model (closed by the caller), or None.
        metrics: the section's numbers.
    """

    X: np.ndarray
    classes: np.ndarray
    targets: np.ndarray
    maps: dict
    freqs: np.ndarray
    relevance_f: dict
    band: tuple
    band_kind: str
    session: object
    metrics: dict


def _time_domain(out, X, classes, targets, session, trained, cfg, folder, band):
    fs, names = cfg.data.sampling_rate, nd.class_names(2)
    share_x = band_power_fraction(X, band, fs)
    out["input_share"] = {names[c]: float(share_x[classes == c].mean()) for c in (0, 1) if (classes == c).any()}
    f, spec_x = normalised_spectrum(X, fs)
    curves = {"input traces": spec_x}
    for method in cfg.explain.methods:
        text = cfg.explain.lrp_rule if method == "lrp" else "saliency"
        R = explain(trained.model, X, text, class_index=targets, session=session)
        share = band_power_fraction(R, band, fs)
        per_class = {}
        for c in (0, 1):
            if (classes == c).any():
                per_class[names[c]] = float(share[classes == c].mean())
                curves[f"{method} {names[c]}"] = normalised_spectrum(R[classes == c], fs)[1]
        out["methods"][method] = {"band_share": per_class, "band_share_all": float(share.mean()),
                                  "enrichment_vs_input": float(share.mean() / max(share_x.mean(), 1e-12)),
                                  "enrichment_vs_uniform": float(share.mean() / out["uniform_share"])}
        if method == "saliency":
            f_share = spectral_gradient_input_share(X, R, band, fs)
            out["methods"][method]["spectral_gradient_x_input_share"] = float(f_share.mean())
        folder.log(f"explain {method}: share of relevance power in {band[0]:g}-{band[1]:g} Hz {share.mean():.3f} "
                   f"(input {share_x.mean():.3f}, uniform {out['uniform_share']:.3f})")
        for c in (0, 1):
            if (classes == c).any():
                i = int(np.flatnonzero(classes == c)[0])
                folder.save_figure(waveform_relevance(X[i], R[i], fs=fs, title=f"{method}: {names[c]} trace"),
                                   f"explain_{method}_{names[c]}_example")
    folder.save_figure(class_spectra(f, curves, band=band, title="class-mean spectra of relevance (unit sum)"),
                       "explain_relevance_spectra")


def resolution_sweep(R_f: np.ndarray, freqs: np.ndarray, band, sum_channels: bool,
                     widths=(0.0, 0.5, 1.0, 2.0)) -> dict:
    """Positive band share / uniform share at each cell width (0 = each DFT bin): how the number depends on it."""
    out = {}
    for w in widths:
        r = band_share(R_f, freqs, band, resolution_hz=w or None, sum_channels=sum_channels)
        u = uniform_band_share(freqs, band, resolution_hz=w or None)
        out[f"{w:g}"] = float(np.nanmean(r) / u)
    return out


def untrained_control(model, X: np.ndarray, method: str, targets: np.ndarray, session, band, fs: float, cells: dict,
                      seed: int) -> dict:
    """The band shares of ``method`` on the same traces for the network with every layer re-drawn from its initializer.

    A control for the share itself: what an untrained network of this architecture gets on these inputs (the
    cells must not make a band share out of the input spectrum alone). LRP runs in ``session`` with the weights
    swapped, then swapped back.
    """
    clone = None
    for _, clone in randomised_cascade(model, seed=seed):  # the last step: every layer with weights re-drawn
        pass
    if parse_method(method).backend == "lrp":
        session.set_weights(clone)
        try:
            R = explain(clone, X, method, class_index=targets, session=session)
        finally:
            session.set_weights(model)
    else:
        R = explain(clone, X, method, class_index=targets)
    freqs, R_f = frequency_relevance(R, X, fs=fs)
    shares = band_shares(R_f, freqs, X, band, fs=fs, **cells)
    per_bin = band_shares(R_f, freqs, X, band, fs=fs)
    return {"method": method, **{k: shares[k] for k in ("relevance", "uniform", "relevance_over_uniform",
                                                      "relevance_over_input")},
            "per_bin_over_uniform": per_bin["relevance_over_uniform"], "seed": seed}


def _frequency(X, classes, targets, session, trained, cfg, folder, band) -> tuple[np.ndarray, dict, dict, dict]:
    """DFT-LRP of every ``explain.frequency_methods`` method: per-class band shares and figures.

    Shares are counted on the cells ``explain.share_resolution_hz`` / ``share_channels`` name; ``per_bin`` keeps
    the library default (each DFT bin of each component) beside them, ``resolution_sweep`` the ratio at 0-2 Hz cells.
    """
    fs, names = cfg.data.sampling_rate, nd.class_names(2)
    cells = cfg.explain.share_settings
    maps, rel_f, out = {}, {}, {}
    freqs = np.fft.rfftfreq(X.shape[1], 1.0 / fs)
    for k, method in enumerate(cfg.explain.frequency_methods):
        R = explain(trained.model, X, method, class_index=targets, session=session)
        freqs, R_f = frequency_relevance(R, X, fs=fs)  # the closed-form virtual layer (relevance conserved)
        maps[method], rel_f[method] = R, R_f
        shares = band_shares(R_f, freqs, X, band, fs=fs, **cells)
        per_class = {names[c]: band_shares(R_f[classes == c], freqs, X[classes == c], band, fs=fs, **cells)
                     for c in (0, 1) if (classes == c).any()}
        per_bin = band_shares(R_f, freqs, X, band, fs=fs)
        conserved = float(np.abs(R_f.sum(axis=(1, 2)) - R.sum(axis=(1, 2))).max()
                          / max(np.abs(R.sum(axis=(1, 2))).max(), 1e-12))
        out[method] = {"label": method_label(method), "role": "recipe rule" if k == 0 else "recommended",
                       **shares, "per_class": per_class, "conservation_error": conserved,
                       "signed_share": float(np.nanmean(band_share(R_f, freqs, band, kind="signed", **cells))),
                       "per_bin": {key: per_bin[key] for key in ("relevance", "uniform", "relevance_over_uniform",
                                                                 "relevance_over_input")},
                       "resolution_sweep": resolution_sweep(R_f, freqs, band, cells["sum_channels"])}
        folder.log(f"explain DFT-LRP {method}: positive relevance in {band[0]:g}-{band[1]:g} Hz "
                   f"{shares['relevance']:.3f} = {shares['relevance_over_uniform']:.2f}x uniform, "
                   f"{shares['relevance_over_input']:.2f}x the input's share ({_cells_text(cfg)}; each DFT bin and "
                   f"component: {per_bin['relevance_over_uniform']:.2f}x uniform)")
        folder.save_figure(relevance_spectra(freqs, R_f, classes, X=X, fs=fs, class_names=names, band=band,
                                             title=f"DFT-LRP, {method_label(method)}", share_settings=cells),
                           f"explain_frequency_{k}")
    rule = cfg.explain.lrp_rule
    control = untrained_control(trained.model, X, rule, targets, session, band, fs, cells, cfg.seed)
    out[rule]["untrained_control"] = control
    folder.log(f"explain DFT-LRP {rule}, untrained network (every layer re-drawn): {control['relevance']:.3f} = "
               f"{control['relevance_over_uniform']:.2f}x uniform (each DFT bin: {control['per_bin_over_uniform']:.2f}x)")
    return freqs, maps, rel_f, out


def _cells_text(cfg: NorciaConfig) -> str:
    w = cfg.explain.share_resolution_hz
    what = f"{w:g} Hz cells" if w else "each DFT bin"
    return what + (", components summed" if cfg.explain.share_channels == "summed" else ", each component")


def explanations(data: NorciaData, trained: Trained, cfg: NorciaConfig, folder, session) -> Explained:
    """Relevance per frequency per class (DFT-LRP) and the time-domain maps with their spectra.

    Args:
        data: the traces.
        trained: the 2-class model explained (its test rows and predictions pick the traces).
        cfg: the recipe config (``explain``, ``data.sampling_rate``).
        folder: the run folder (``figures/explain_*.png``).
        session: an open :class:`~seis_keras.explain.lrp.LRPSession` on ``trained.model``.

    Returns:
        :class:`Explained`; its metrics: ``band``, ``band_kind``, ``n_per_class``, ``uniform_share``,
        ``input_share``, ``frequency`` (per method text: band shares overall and per class,
        ``figure``), ``methods`` (time-domain: ``band_share``, ``enrichment_vs_input`` ...).
    """
    fs = cfg.data.sampling_rate
    rows, classes = correct_examples(trained, cfg.explain.per_class, cfg.seed)
    band, kind = planted_band(data.store.metadata, cfg.explain.band_hz)
    targets = np.ones_like(classes) if cfg.explain.target == "post" else classes
    out = {"band": list(band), "band_kind": kind, "n_per_class": [int((classes == c).sum()) for c in (0, 1)],
           "target": cfg.explain.target, "share_cells": _cells_text(cfg), **cfg.explain.share_settings,
           "uniform_share": (band[1] - band[0]) / (fs / 2), "methods": {}, "frequency": {}}
    if len(rows) == 0:
        folder.log("explain: no correctly classified test trace")
        return Explained(np.zeros((0, 1, 1)), classes, targets, {}, np.zeros(0), {}, band, kind, session, out)
    X = trained.contract.transform()(data.store.get_waveforms(rows))
    freqs, maps, rel_f, out["frequency"] = _frequency(X, classes, targets, session, trained, cfg, folder, band)
    for k, method in enumerate(cfg.explain.frequency_methods):
        out["frequency"][method]["figure"] = f"figures/explain_frequency_{k}.png"
    _time_domain(out, X, classes, targets, session, trained, cfg, folder, band)
    return Explained(X, classes, targets, maps, freqs, rel_f, band, kind, session, out)


def evidence_figure(ex: Explained, headline: str | None, bandpass: dict | None, pair_result, cfg: NorciaConfig,
                    folder) -> dict:
    """One figure, one frequency axis: Fig. 5's accuracies, DFT-LRP per class, Fig. 6's mean pair ratio.

    Args:
        ex: the explanations.
        headline: the trust section's headline method (None: the recipe's rule is drawn, so labelled).
        bandpass: the bandpass section's metrics, or None (not run).
        pair_result: the pairs section's :class:`~seis_keras.recipes.norcia.pairs.PairsResult`, or None.
        cfg: the recipe config.
        folder: the run folder (``figures/frequency_evidence.png``).

    Returns:
        ``{"figure", "method", "method_trusted", "panels"}``.
    """
    method = headline or cfg.explain.lrp_rule
    if method not in ex.relevance_f:
        return {"figure": None, "note": "no explained trace"}
    names = nd.class_names(2)
    R = ex.relevance_f[method].sum(axis=2)
    curves = {}
    for c in (0, 1):
        if (ex.classes == c).any():
            curve = R[ex.classes == c].mean(axis=0)
            curves[f"{names[c]} traces"] = (ex.freqs, curve / (np.abs(curve).sum() or 1.0))
    table = pd.DataFrame(bandpass["table"]) if bandpass and bandpass.get("table") else None
    ratio = None
    if pair_result is not None and pair_result.mean_ratio is not None:
        ratio = (pair_result.freqs, pair_result.mean_ratio)
    label = method_label(method) + ("" if headline else " (the recipe's rule; no method passed the trust checks)")
    fig = frequency_evidence(curves, bandpass=table, raw_accuracy=bandpass.get("raw_accuracy") if bandpass else None,
                             ratio=ratio, band=ex.band, title=f"relevance per frequency: {label}")
    folder.save_figure(fig, "frequency_evidence")
    panels = ["bandpass"] * (table is not None) + ["relevance"] + ["pairs"] * (ratio is not None)
    return {"figure": "figures/frequency_evidence.png", "method": method, "method_trusted": headline is not None,
            "panels": panels}
