"""The Norcia recipe's experiments (Laurenti et al. 2024) and our explanations of the network.

Each experiment is one function writing one figure and returning a JSON-safe dict:

* :func:`wrong_dates` — Table 2 / Fig. 4: models retrained with pre/post labels from a wrong
  mainshock date, scored on the true labels, overall and inside the fake interval (NM
  mislabelled test events, NC of them classified with the true label, FP = share following
  the fake label).
* :func:`bandpass` — Fig. 5: binary models trained and tested on traces band-passed in 3 Hz
  steps over 0–50 Hz.
* :func:`pairs` — Fig. 6: co-located pre/post pairs (±500 m, ±0.1 M), multitaper amplitude
  spectra and post/pre spectral ratios.
* :func:`explain` — ours: LRP (innvestigate in a worker, BatchNorm folded) and gradient
  saliency on correctly classified pre and post test traces; class-mean amplitude spectra of
  the relevance and the share of relevance power in the 30–40 Hz band (on built-in data the
  planted band, read from the metadata), beside the share in the input traces themselves;
  for saliency also gradient x input decomposed over frequency
  (:func:`spectral_gradient_input_share`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from seis_keras.data import norcia as nd
from seis_keras.recipes.norcia import Setting, make_setting, train_and_test, transforms_for


def _true_two_class_accuracy(metrics: dict, station: str):
    try:
        return 100 * metrics["classes"][station]["2"]["summary"]["accuracy"]["mean"]
    except (KeyError, TypeError):
        return None


def wrong_dates(store, mask, cfg, folder, seed, log, *, metrics=None) -> dict:
    """Table 2: retrain with each wrong mainshock date (and the true one), score on true labels."""
    from seis_keras.plots.norcia import wrong_dates as plot

    w, d = cfg["wrong_dates"], cfg["data"]
    meta = store.metadata
    true = nd.pre_post_labels(meta, d["mainshock_time"], time_column=d["time_column"])
    if w["split"] not in ("same_events", "refit"):
        raise ValueError(f"wrong_dates.split: expected 'same_events' or 'refit', got {w['split']!r}")
    base = make_setting(meta, mask, 2, cfg, seed, exclude_visso=bool(w["exclude_visso"]))
    rows = []
    for date in [*w["dates"], d["mainshock_time"]]:
        is_true = date == d["mainshock_time"]
        if w["split"] == "same_events":  # the true-date events and split, labels from the wrong date
            fake = nd.pre_post_labels(meta, date, time_column=d["time_column"])
            setting = Setting(np.where(base.labels >= 0, fake, -1), base.split, 2, nd.class_names(2))
        else:  # classes, balancing and temporal split redone on the wrong-date labels
            setting = make_setting(meta, mask, 2, cfg, seed, mainshock_time=date,
                                   exclude_visso=bool(w["exclude_visso"]))
        for r in range(int(w["runs"])):
            tag = "true" if is_true else str(date)[:10]
            _, scores, test, pred = train_and_test(store, setting, cfg, seed + r,
                                                   folder.path / "models" / f"wrong_date_{tag}_run{r}", true_labels=true)
            inside = nd.fake_interval(meta.iloc[test], date, d["mainshock_time"], time_column=d["time_column"])
            nm = int(inside.sum())
            nc = int((pred[inside] == true[test][inside]).sum())
            rows.append({"date": str(date)[:10], "true_date": is_true, "run": r, "accuracy": 100 * scores["accuracy"],
                         "n_test": int(len(test)), "NM": nm, "NC": nc,
                         "FP": 100 * (nm - nc) / nm if nm else None,
                         "interval_accuracy": 100 * nc / nm if nm else None})
            log(f"wrong date {tag}: accuracy {scores['accuracy']:.3f}, NM/NC {nm}/{nc}")
    table = pd.DataFrame(rows)
    fake = table[~table.true_date].groupby("date", as_index=False)[["accuracy", "interval_accuracy"]].mean()
    true_acc = float(table[table.true_date].accuracy.mean())
    folder.save_figure(plot(fake, true_accuracy=true_acc), "wrong_dates")
    records = table.astype(object).where(table.notna(), None).to_dict("records")  # JSON: null, not NaN
    return {"table": records, "true_date_accuracy": true_acc,
            "exclude_visso": bool(w["exclude_visso"]), "split": w["split"]}


def bands_of(cfg) -> list[tuple[float, float]]:
    """The band-pass bands: ``bandpass.bands`` or ``step_hz`` steps from 0 to ``max_hz``."""
    b = cfg["bandpass"]
    if b["bands"]:
        return [(float(lo), float(hi)) for lo, hi in b["bands"]]
    step, top = float(b["step_hz"]), float(b["max_hz"])
    return [(lo, min(lo + step, top)) for lo in np.arange(0.0, top - 1e-9, step)]


def _band(meta, cfg) -> tuple[tuple[float, float], str]:
    """The planted band of built-in data (from the metadata), else the configured band."""
    if {"planted_band_low_hz", "planted_band_high_hz"} <= set(meta.columns):
        return (float(meta.planted_band_low_hz.iloc[0]), float(meta.planted_band_high_hz.iloc[0])), "planted"
    return tuple(float(v) for v in cfg["explain"]["band_hz"]), "paper"


def bandpass(store, mask, cfg, folder, seed, log, *, metrics=None) -> dict:
    """Fig. 5: one binary model per band (same split as the 2-class model)."""
    from seis_keras.plots.norcia import bandpass_accuracy

    meta = store.metadata
    setting = make_setting(meta, mask, 2, cfg, seed)
    rows = []
    for lo, hi in bands_of(cfg):
        accs = []
        for r in range(int(cfg["bandpass"]["runs"])):
            _, scores, _, _ = train_and_test(store, setting, cfg, seed + r,
                                             folder.path / "models" / f"bandpass_{lo:g}-{hi:g}_run{r}", band=(lo, hi))
            accs.append(100 * scores["accuracy"])
        rows.append({"band_low_hz": lo, "band_high_hz": hi, "accuracy": float(np.mean(accs)),
                     "accuracy_std": float(np.std(accs)), "runs": accs})
        log(f"band {lo:g}-{hi:g} Hz: accuracy {np.mean(accs):.1f} %")
    table = pd.DataFrame(rows)
    band, kind = _band(meta, cfg)
    station = metrics.get("experiment_station") if metrics else None
    raw = _true_two_class_accuracy(metrics or {}, station)
    folder.save_figure(bandpass_accuracy(table, raw_accuracy=raw, band=band), "bandpass")
    overlap = (table.band_high_hz > band[0]) & (table.band_low_hz < band[1])
    return {"table": rows, "raw_accuracy": raw, "band": list(band), "band_kind": kind,
            "mean_accuracy_in_band": float(table[overlap].accuracy.mean()) if overlap.any() else None,
            "mean_accuracy_below_10hz": float(table[table.band_high_hz <= 10].accuracy.mean())
            if (table.band_high_hz <= 10).any() else None}


def pairs(store, mask, cfg, folder, seed, log, *, metrics=None) -> dict:
    """Fig. 6: co-located pre/post pairs at the experiment station, multitaper spectra and ratios."""
    from seis_keras.explain.spectral import multitaper_spectrum, spectral_ratio
    from seis_keras.plots.norcia import pair_spectra

    p, d = cfg["pairs"], cfg["data"]
    fs = float(d["sampling_rate_hz"])
    meta = store.metadata
    rows = np.flatnonzero(mask)
    sub = meta.iloc[rows]
    found = nd.co_located_pairs(sub, max_distance_km=float(p["max_distance_km"]),
                                max_magnitude_difference=float(p["max_magnitude_difference"]),
                                mainshock_time=d["mainshock_time"], one_to_one=bool(p["one_to_one"]))
    band, kind = _band(meta, cfg)
    out = {"n_pairs": int(len(found)), "band": list(band), "band_kind": kind,
           "n_events": int(sub.source_id.nunique())}
    log(f"co-located pairs: {len(found)}")
    if found.empty:
        return out
    first_row = dict(zip(sub.source_id.astype(str), rows))  # one trace per event at one station
    pre_rows = np.array([first_row[str(i)] for i in found.pre_id])
    post_rows = np.array([first_row[str(i)] for i in found.post_id])
    pre_x, post_x = store.get_waveforms(pre_rows), store.get_waveforms(post_rows)
    nw = float(p["multitaper_nw"])
    f, ratio = spectral_ratio(post_x, pre_x, fs, nw=nw, axis=1)  # (P, F, C) amplitude ratios
    _, pre_psd = multitaper_spectrum(pre_x[:1], fs, nw=nw, axis=1)
    _, post_psd = multitaper_spectrum(post_x[:1], fs, nw=nw, axis=1)
    log_ratio = np.log(ratio)
    in_band = (f >= band[0]) & (f <= band[1])
    ref = (f >= p["reference_band_hz"][0]) & (f <= p["reference_band_hz"][1])
    out.update({
        "mean_ratio_in_band": float(np.exp(log_ratio[:, in_band].mean())),
        "mean_ratio_reference_band": float(np.exp(log_ratio[:, ref].mean())),
        "reference_band_hz": list(p["reference_band_hz"]),
        "fraction_of_pairs_richer_in_band": float(np.mean(log_ratio[:, in_band].mean(axis=(1, 2))
                                                         > log_ratio[:, ref].mean(axis=(1, 2)))),
        "pairs": found.head(50).to_dict("records")})
    if "planted_band_gain" in meta.columns:
        g = meta.planted_band_gain.to_numpy(float)
        out["planted_gain_ratio"] = float(np.exp(np.mean(np.log(g[post_rows] / g[pre_rows]))))
    ex = found.iloc[0]
    title = (f"pair {ex.pre_id} (pre) / {ex.post_id} (post): {ex.distance_km * 1000:.0f} m, "
             f"ΔM {ex.magnitude_difference:.2f}")
    fig = pair_spectra(f, np.sqrt(pre_psd[0]), np.sqrt(post_psd[0]), ratio, pre_trace=pre_x[0], post_trace=post_x[0],
                       fs=fs, band=band, title=title)
    folder.save_figure(fig, "pairs_spectral_ratio")
    return out


def _correct_examples(store, model, setting, cfg, seed) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``explain.per_class`` correctly classified test traces per class: (rows, classes)."""
    from seis_keras.data.pipeline import make_dataset

    test = setting.rows("test")
    ds = make_dataset(store, indices=test, label=None, transforms=transforms_for(cfg), batch_size=256)
    pred = np.asarray(model.predict(ds, verbose=0)).argmax(axis=1)
    y = setting.labels[test]
    rng = np.random.default_rng(seed)
    rows, classes = [], []
    for c in range(setting.n_classes):
        ok = rng.permutation(test[(y == c) & (pred == c)])[:int(cfg["explain"]["per_class"])]
        rows.append(np.sort(ok))
        classes.append(np.full(len(ok), c))
    return np.concatenate(rows), np.concatenate(classes)


def _normalised_spectrum(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Amplitude spectra (N, T, C) -> (F,) per trace normalised to unit sum, then averaged."""
    from seis_keras.explain.spectral import amplitude_spectrum

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


def explain(store, model, setting, cfg, folder, seed, log) -> dict:
    """LRP and saliency on correct pre/post test traces; relevance spectra and band shares."""
    from seis_keras.data.transforms import Compose
    from seis_keras.explain.spectral import band_power_fraction
    from seis_keras.plots.explanations import waveform_relevance
    from seis_keras.plots.norcia import class_spectra

    e = cfg["explain"]
    fs = float(cfg["data"]["sampling_rate_hz"])
    rows, classes = _correct_examples(store, model, setting, cfg, seed)
    band, kind = _band(store.metadata, cfg)
    out = {"band": list(band), "band_kind": kind, "n_per_class": [int((classes == c).sum()) for c in (0, 1)],
           "uniform_share": (band[1] - band[0]) / (fs / 2), "methods": {}}
    if len(rows) == 0:
        log("explain: no correctly classified test trace")
        return out
    X = Compose(transforms_for(cfg))(store.get_waveforms(rows))
    share_x = band_power_fraction(X, band, fs)
    out["input_share"] = {nd.class_names(2)[c]: float(share_x[classes == c].mean()) for c in (0, 1)
                          if (classes == c).any()}
    f, spec_x = _normalised_spectrum(X, fs)
    curves = {"input traces": spec_x}
    for method in e["methods"]:
        if method == "lrp":
            from seis_keras.explain.lrp import lrp

            R = lrp(model, X, rule=e["lrp_rule"], neuron="predicted", epsilon=float(e["lrp_epsilon"]))
        elif method == "saliency":
            from seis_keras.explain.saliency import saliency

            R = saliency(model, X, class_index="predicted")
        else:
            raise ValueError(f"explain.methods: {method!r} unknown (expected 'lrp' or 'saliency')")
        share = band_power_fraction(R, band, fs)
        per_class = {}
        for c in (0, 1):
            name = nd.class_names(2)[c]
            if (classes == c).any():
                per_class[name] = float(share[classes == c].mean())
                curves[f"{method} {name}"] = _normalised_spectrum(R[classes == c], fs)[1]
        out["methods"][method] = {"band_share": per_class, "band_share_all": float(share.mean()),
                                  "enrichment_vs_input": float(share.mean() / max(share_x.mean(), 1e-12)),
                                  "enrichment_vs_uniform": float(share.mean() / out["uniform_share"])}
        if method == "saliency":
            f_share = spectral_gradient_input_share(X, R, band, fs)
            out["methods"][method]["spectral_gradient_x_input_share"] = float(f_share.mean())
        log(f"explain {method}: share of relevance power in {band[0]:g}-{band[1]:g} Hz {share.mean():.3f} "
            f"(input {share_x.mean():.3f}, uniform {out['uniform_share']:.3f})")
        for c in (0, 1):
            if (classes == c).any():
                i = int(np.flatnonzero(classes == c)[0])
                folder.save_figure(waveform_relevance(X[i], R[i], fs=fs, title=f"{method}: {nd.class_names(2)[c]} trace"),
                                   f"explain_{method}_{nd.class_names(2)[c]}_example")
    folder.save_figure(class_spectra(f, curves, band=band, title="class-mean spectra of relevance (unit sum)"),
                       "explain_relevance_spectra")
    return out
