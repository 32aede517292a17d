"""Sections 5–7 of the precursor study: what the network learned, the planted band, a scan.

Ong et al. §6: 5a sequential windows and time occlusion (Figs 6–7: zero mask 400 / stride 400,
all channels and each alone), 5b frequency occlusion (Fig. 8: 8th-order low-pass from 20 Hz to
0.1 Hz in 0.1 Hz steps, accuracy and loss), 5c spectra (Fig. 9 spectrogram, window 1000 / stride
500; Fig. 10 cumulative amplitude spectra of precursor and noise windows, train and test;
Fig. 11 their relative difference, Savitzky–Golay over 0.062 Hz, peaks), 5d (added) LRP and
saliency class means in the frequency domain. Section 6 asks, on the built-in data, whether each
analysis finds the planted band; section 7 slides the model over a continuous test record with
:func:`seis_keras.scan.scan`. All analyses use the first mode-A network.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from seis_keras.data.precursor_windows import load_sub_windows
from seis_keras.recipes.precursor import CLASS_NAMES, PrecursorStudy, dataset, windows_of


def _probabilities(model, x: np.ndarray) -> np.ndarray:
    from seis_keras.explain.targets import predict_logits, target_probabilities

    z = predict_logits(model, x, batch_size=64)
    return target_probabilities(z, np.ones(len(x), np.int64))


def _band(study: PrecursorStudy):
    return tuple(float(v) for v in study.cfg["synthetic"]["tremor_band"]) if study.built_in else None


# --- 5a. Sequential windows and time occlusion (§6.1, Figs 6-7) ------------------------------------
def sequential_and_occlusion(study: PrecursorStudy, model) -> tuple[dict, np.ndarray]:
    """The precursor window with the greatest score increase over its predecessor, occluded."""
    from seis_keras.explain.occlusion import occlude_time
    from seis_keras.plots import explanations as xplots
    from seis_keras.plots import precursor as plots

    w = study.windowing
    test = windows_of(study, "A", "test")
    pre = test[test["label"] == 1].reset_index(drop=True)
    best = None
    for i in range(len(pre)):
        x, _ = load_sub_windows(study.store, pre.iloc[[i]], w, components=study.cfg["data"]["component_order"])
        p = _probabilities(model, x)
        jump = np.diff(p, prepend=p[0])
        k = int(np.argmax(jump))
        if best is None or jump[k] > best[0]:
            best = (float(jump[k]), i, k, x, p)
    jump, i, k, x, p = best
    study.folder.save_figure(plots.sequential_windows(x, p, study.fs, w.sub_window_offsets(), chosen=k),
                             "fig6_sequential_windows")
    o = study.cfg["occlusion"]
    s_all, pos = occlude_time(model, x[k:k + 1], mask=int(o["mask"]), stride=int(o["stride"]), channels="all",
                              class_index=1)
    s_each, _ = occlude_time(model, x[k:k + 1], mask=int(o["mask"]), stride=int(o["stride"]), channels="each",
                             class_index=1)
    comps = study.cfg["data"]["component_order"]
    curves = np.vstack([s_all[0], s_each[0]])
    study.folder.save_figure(xplots.occlusion_curves(pos, curves, mask=int(o["mask"]), x=x[k], fs=study.fs,
                                                     labels=["all channels"] + [f"channel {c}" for c in comps],
                                                     title="Time occlusion of the chosen precursor window (Fig. 7)"),
                             "fig7_time_occlusion")
    drop = {"all": float(p[k] - s_all[0].min())}
    drop.update({f"channel_{c}": float(p[k] - s_each[0, j].min()) for j, c in enumerate(comps)})
    out = {"event": str(pre["source_id"].iat[i]), "window": k, "score": float(p[k]), "score_increase": jump,
           "scores": p.tolist(), "mask": int(o["mask"]), "stride": int(o["stride"]),
           "min_score_all_channels": float(s_all[0].min()),
           "argmin_sample_all_channels": int(pos[int(np.argmin(s_all[0]))]),
           "min_score_each_channel": {c: float(s_each[0, j].min()) for j, c in enumerate(comps)},
           "largest_drop": drop, "paper": "81.1% window; only all 3 channels occluded drop it below 0.5; "
                                          "channel 0 alone 81.1% -> 56.2%"}
    return out, x[k]


# --- 5b. Frequency occlusion (§6.2, Fig. 8) -------------------------------------------------------
def cutoff_list(cfg: dict) -> np.ndarray:
    """The low-pass cutoffs, high to low: the explicit list or ``start_hz`` … ``stop_hz``."""
    f = cfg["frequency_occlusion"]
    if f["cutoffs"]:
        c = np.asarray(f["cutoffs"], np.float64)
    else:
        step = float(f["step_hz"])
        c = np.round(np.arange(float(f["start_hz"]), float(f["stop_hz"]) - step / 2, -step), 6)
    return np.sort(c)[::-1]


def occlusion_knee(table: pd.DataFrame) -> float | None:
    """Lowest cutoff still at or above the midpoint of full-band accuracy and chance (0.5),
    scanning from high to low cutoffs until the first drop below it; None if it never drops."""
    t = table.sort_values("cutoff_hz", ascending=False).reset_index(drop=True)
    mid = (float(t["accuracy"].iat[0]) + 0.5) / 2.0
    below = np.flatnonzero(t["accuracy"].to_numpy() < mid)
    if len(below) == 0:
        return None
    return float(t["cutoff_hz"].iat[below[0] - 1]) if below[0] > 0 else float(t["cutoff_hz"].iat[0])


def frequency_occlusion(study: PrecursorStudy, model) -> dict:
    """Accuracy and loss of the test set low-passed at each cutoff."""
    from seis_keras.explain.occlusion import occlude_frequency
    from seis_keras.plots import explanations as xplots

    test = windows_of(study, "A", "test")
    x, y = load_sub_windows(study.store, test, study.windowing, components=study.cfg["data"]["component_order"])
    f = study.cfg["frequency_occlusion"]
    table = occlude_frequency(model, x, y, fs=study.fs, cutoffs=cutoff_list(study.cfg), order=int(f["order"]),
                              zero_phase=bool(f["zero_phase"]), batch_size=64)
    study.folder.write_text("frequency_occlusion.csv", table.to_csv(index=False))
    knee = occlusion_knee(table)
    study.folder.save_figure(xplots.frequency_occlusion(table, knee=knee, title="Frequency occlusion (Fig. 8)"),
                             "fig8_frequency_occlusion")
    return {"n_windows": int(len(x)), "full_band_accuracy": float(table["accuracy"].iat[0]),
            "knee_hz": knee, "table": table.to_dict(orient="list"),
            "paper": "significant frequencies mostly below 3.5 Hz"}


# --- 5c. Spectra (§6.3, Figs 9-11) ------------------------------------------------------------------
def class_spectra(study: PrecursorStudy, split: str) -> tuple[np.ndarray, dict]:
    """Summed amplitude spectra of noise and precursor sub-windows of a split (streamed)."""
    from seis_keras.explain.spectral import amplitude_spectrum

    sums, freqs = {0: 0.0, 1: 0.0}, None
    for xb, yb in dataset(study, windows_of(study, "A", split)):
        freqs, a = amplitude_spectrum(xb.numpy(), study.fs, axis=1)
        y = yb.numpy()
        for c in (0, 1):
            if (y == c).any():
                sums[c] = sums[c] + a[y == c].sum(axis=(0, 2))
    return freqs, {CLASS_NAMES[c]: np.asarray(v) for c, v in sums.items()}


def spectra(study: PrecursorStudy, model, chosen: np.ndarray) -> dict:
    """Spectrogram of the chosen window; cumulative spectra; relative difference and its peaks."""
    from seis_keras.explain.spectral import find_spectral_peaks, relative_difference, smooth_spectrum, spectrogram
    from seis_keras.plots import precursor as plots

    s, band = study.cfg["spectra"], _band(study)
    win = min(int(s["spectrogram_window"]), len(chosen))
    f, t, amp = spectrogram(chosen, study.fs, window=win, stride=min(int(s["spectrogram_stride"]), win), axis=0)
    ch = int(s["spectrogram_channel"])
    comps = study.cfg["data"]["component_order"]
    if not -1 <= ch < len(comps):
        raise ValueError(f"spectra.spectrogram_channel={ch}: expected 0..{len(comps) - 1} or -1 (all channels)")
    study.folder.save_figure(plots.spectrogram_figure(
        f, t, amp.sum(axis=-1) if ch < 0 else amp[..., ch], band=band,
        title=f"Spectrogram (Fig. 9), {'all channels' if ch < 0 else f'channel {ch} ({comps[ch]})'}"), "fig9_spectrogram")
    cum, rel, peaks, out = {}, {}, {}, {}
    lo, hi = (float(v) for v in s["peak_search_hz"])
    for split in ("train", "test"):
        freqs, cum[split] = class_spectra(study, split)
        keep = freqs > 0
        r = np.zeros_like(freqs)
        r[keep] = relative_difference(cum[split]["precursor"][keep], cum[split]["noise"][keep], percent=True)
        sm = np.zeros_like(freqs)
        sm[keep] = smooth_spectrum(r[keep], freqs[keep], width_hz=float(s["savgol_width_hz"]),
                                   polyorder=int(s["savgol_polyorder"]))
        rel[split] = (r, sm)
        found = find_spectral_peaks(freqs, sm, fmin=lo, fmax=hi, n_peaks=3)
        peaks[split] = float(found[0]) if len(found) else None
        out[split] = {"peaks_hz": found.tolist(), "highest_peak_hz": peaks[split],
                      "highest_peak_percent": None if not len(found) else float(sm[np.argmin(abs(freqs - found[0]))])}
    study.folder.save_figure(plots.cumulative_spectra(freqs, cum, band=band), "fig10_cumulative_spectra")
    study.folder.save_figure(plots.relative_difference(freqs, rel, band=band, peaks=peaks), "fig11_relative_difference")
    out["frequency_resolution_hz"] = float(freqs[1] - freqs[0])
    out["paper_peaks_hz"] = [0.16, 0.21]
    return out


# --- 5d. LRP and saliency in the frequency domain (added) ----------------------------------------------
def relevance_spectra(study: PrecursorStudy, model) -> dict:
    """Class-mean amplitude spectra of LRP and saliency maps of test windows; band power share."""
    from seis_keras.explain.lrp import lrp
    from seis_keras.explain.saliency import saliency
    from seis_keras.explain.spectral import amplitude_spectrum, band_power_fraction
    from seis_keras.plots import precursor as plots

    r = study.cfg["relevance"]
    n = int(r["n_per_class"])
    test = windows_of(study, "A", "test")
    x, y = load_sub_windows(study.store, test, study.windowing, components=study.cfg["data"]["component_order"])
    pick = np.concatenate([np.flatnonzero(y == c)[np.linspace(0, (y == c).sum() - 1, min(n, (y == c).sum())).astype(int)]
                           for c in (0, 1)])
    x, y = x[pick], y[pick]
    maps = {"saliency": saliency(model, x, class_index=y)}
    if r["lrp"]:
        try:
            maps["LRP"] = lrp(model, x, rule=r["lrp_rule"], neuron=y, epsilon=float(r["lrp_epsilon"]))
        except RuntimeError as err:  # the innvestigate worker failed: keep the other results, say why
            maps["LRP_error"] = str(err)
    band = tuple(float(v) for v in study.cfg["synthetic"]["tremor_band"])
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
    study.folder.save_figure(plots.relevance_spectra(freqs, curves, band=_band(study)), "relevance_spectra")
    return out


# --- 6. Does each analysis find the planted band? -------------------------------------------------
def planted_band(study: PrecursorStudy) -> dict:
    """On built-in data: knee, relative-difference peak and relevance enrichment vs 0.16–0.21 Hz."""
    lo, hi = (float(v) for v in study.cfg["synthetic"]["tremor_band"])
    tol = float(study.cfg["frequency_occlusion"]["knee_tolerance_hz"])
    fo, sp, rel = study.results["frequency_occlusion"], study.results["spectra"], study.results["relevance"]
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
    return out


def interpret(study: PrecursorStudy, lap=lambda name: None) -> None:
    """Section 5 (and 6 on built-in data) with the first mode-A network; ``lap(name)`` after each part."""
    model = study.models["A"][0]
    study.results["occlusion"], chosen = sequential_and_occlusion(study, model)
    lap("occlusion")
    study.results["frequency_occlusion"] = frequency_occlusion(study, model)
    lap("frequency_occlusion")
    study.results["spectra"] = spectra(study, model, chosen)
    lap("spectra")
    study.results["relevance"] = relevance_spectra(study, model)
    lap("relevance")
    if study.built_in:
        study.results["planted_band"] = planted_band(study)


# --- 7. Scan a continuous record ------------------------------------------------------------------
def input_contract(study: PrecursorStudy):
    """The :class:`~seis_keras.scan.InputContract` of the trained model (stored when exported)."""
    from seis_keras.scan import InputContract

    return InputContract(sampling_rate=study.fs, window_samples=study.windowing.sub_window_samples,
                         component_order=study.cfg["data"]["component_order"], transforms=("JointNormalize",),
                         class_names=CLASS_NAMES)


def scan_record(study: PrecursorStudy) -> dict:
    """Slide the first mode-A model over the first test event record: P(precursor) through time.

    ``scan`` normalises each window jointly by itself (its contract), not per 1000 s macro-window.
    """
    import obspy

    from seis_keras.plots import precursor as plots
    from seis_keras.scan import scan

    meta = study.store.metadata
    rows = np.flatnonzero((meta["record_kind"].astype(str) == "event") & (meta["split"].astype(str) == "test"))
    row = int(rows[0])
    order = study.cfg["data"]["component_order"]
    x = study.store.get_waveforms(row, components=order)
    t0 = obspy.UTCDateTime(str(meta["trace_start_time"].iat[row]))
    origin = obspy.UTCDateTime(str(meta["source_origin_time"].iat[row]))
    sta = str(meta["station_code"].iat[row]) if "station_code" in meta.columns else "SYN"
    stream = obspy.Stream([obspy.Trace(np.ascontiguousarray(x[:, j]), header={
        "network": "XX", "station": sta, "channel": f"BH{c}", "sampling_rate": study.fs, "starttime": t0})
        for j, c in enumerate(order)])
    s = study.cfg["scan"]
    res = scan(study.models["A"][0], stream, stride_s=float(s["stride_s"]), threshold=float(s["threshold"]),
               contract=input_contract(study), detection_classes=("precursor",))
    tr = [t for t in res.probabilities if t.stats.class_name == "precursor"][0]
    times = np.array([tr.stats.starttime + k * tr.stats.delta for k in range(tr.stats.npts)])
    hours = np.array([(origin - t) / 3600.0 for t in times])
    macro_h = float(study.cfg["windows"]["macro_window_s"]) / 3600.0
    onset = float(meta["tremor_onset_hours"].iat[row]) if study.built_in else None
    study.folder.save_figure(plots.scan_probability(hours, tr.data, threshold=float(s["threshold"]), onset_hours=onset,
                                                    precursor_hours=macro_h,
                                                    title=f"Scan of test record {meta['source_id'].iat[row]}"),
                             "scan_continuous_record")
    study.folder.write_text("scan_detections.csv", res.detections.to_csv(index=False))
    last = hours <= macro_h
    first = hours >= hours.max() - 12 * macro_h
    return {"record": str(meta["source_id"].iat[row]), "n_windows": int(tr.stats.npts),
            "mean_probability_last_1000s": float(np.nanmean(tr.data[last])) if last.any() else None,
            "mean_probability_first_12_intervals": float(np.nanmean(tr.data[first])),
            "n_detections": int(len(res.detections)), "settings": res.settings}
