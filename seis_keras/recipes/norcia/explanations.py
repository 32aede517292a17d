"""§ Explanations (ours; the paper has none): does the 2-class network look at 30–40 Hz?

LRP (innvestigate in a worker, BatchNorm folded; rule ``explain.lrp_rule``) and gradient
saliency toward the predicted class, on up to ``explain.per_class`` correctly classified pre and
post test traces of the first 2-class model of the experiment station. Per method: the share of
relevance power in the band (``band_power_fraction``; on built-in data the planted band, read
from the metadata; 0 Hz left out) beside the same share in the input traces, the class-mean
amplitude spectra of the relevance, and for saliency gradient × input decomposed over frequency
(:func:`spectral_gradient_input_share`).
"""
from __future__ import annotations

import numpy as np

from seis_keras.data import norcia as nd
from seis_keras.data.norcia_experiments import planted_band
from seis_keras.explain.lrp import lrp
from seis_keras.explain.saliency import saliency
from seis_keras.explain.spectral import amplitude_spectrum, band_power_fraction
from seis_keras.plots.explanations import waveform_relevance
from seis_keras.plots.norcia import class_spectra
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


def _relevance(method: str, model, X: np.ndarray, cfg: NorciaConfig) -> np.ndarray:
    if method == "lrp":
        return lrp(model, X, rule=cfg.explain.lrp_rule, neuron="predicted", epsilon=cfg.explain.lrp_epsilon)
    return saliency(model, X, class_index="predicted")


def explanations(data: NorciaData, trained: Trained, cfg: NorciaConfig, folder) -> dict:
    """LRP and saliency on correct pre/post test traces; relevance spectra and band shares.

    Args:
        data: the traces.
        trained: the 2-class model explained (its test rows and predictions pick the traces).
        cfg: the recipe config (``explain``, ``data.sampling_rate``).
        folder: the run folder (``figures/explain_*.png``).

    Returns:
        ``band``, ``band_kind``, ``n_per_class``, ``uniform_share``, ``input_share`` and per method
        ``band_share`` (per class), ``band_share_all``, ``enrichment_vs_input``, ``enrichment_vs_uniform``.
    """
    fs = cfg.data.sampling_rate
    names = nd.class_names(2)
    rows, classes = correct_examples(trained, cfg.explain.per_class, cfg.seed)
    band, kind = planted_band(data.store.metadata, cfg.explain.band_hz)
    out = {"band": list(band), "band_kind": kind, "n_per_class": [int((classes == c).sum()) for c in (0, 1)],
           "uniform_share": (band[1] - band[0]) / (fs / 2), "methods": {}}
    if len(rows) == 0:
        folder.log("explain: no correctly classified test trace")
        return out
    X = trained.contract.transform()(data.store.get_waveforms(rows))
    share_x = band_power_fraction(X, band, fs)
    out["input_share"] = {names[c]: float(share_x[classes == c].mean()) for c in (0, 1) if (classes == c).any()}
    f, spec_x = normalised_spectrum(X, fs)
    curves = {"input traces": spec_x}
    for method in cfg.explain.methods:
        R = _relevance(method, trained.model, X, cfg)
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
    return out
