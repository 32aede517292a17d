"""Section 8 of the precursor study: figures of the training results, the exported model, report.md.

Run folder: ``metrics.json`` (every number), ``report.md`` (beside the paper's: test A 90 %
(467/518), test B 96 %, training 97 % / 98 %, rise ~3.3 h before), ``figures/*.png``,
``frequency_occlusion.csv``, ``scan_detections.csv``, ``runs/mode_<A|B>_<i>/`` (fit outputs),
``model/`` (the first mode-A network: Keras SavedModel with ``input_contract.json``, usable by
``seis-keras scan``) and ``serving/`` (a serving SavedModel, probabilities and predicted class).
"""
from __future__ import annotations

import json

import numpy as np

from seis_keras.recipes.precursor import CLASS_NAMES, PrecursorStudy

PAPER = {"train_accuracy_A": 0.97, "test_accuracy_A": 0.90, "test_correct_A": "467/518", "train_accuracy_B": 0.98,
         "test_accuracy_B": 0.96, "rise_hours_before": 3.3, "table2": [1.00, 0.89, 0.50, 0.95, 1.00, 1.00, 0.97]}


def data_summary(study: PrecursorStudy) -> dict:
    """Records, events per split and window counts per mode (computed from the metadata)."""
    from seis_keras.recipes.precursor import windows_of

    meta = study.store.metadata
    kind = meta["record_kind"].astype(str)
    w = study.windowing
    out = {"source": study.source, "built_in": study.built_in, "n_records": int(len(meta)),
           "sampling_rate_hz": study.fs, "events": {s: int(((kind == "event") & (meta["split"] == s)).sum())
                                                    for s in ("train", "test")},
           "noise_records": int(kind.isin(["noise", "noise_b"]).sum()),
           "windowing": {"n_macro_windows": w.n_macro_windows, "macro_window_samples": w.macro_window_samples,
                         "sub_window_samples": w.sub_window_samples, "sub_windows": w.sub_windows,
                         "stride": w.stride, "overlap": w.sub_window_samples - w.stride}, "windows": {}}
    for mode in study.cfg["windows"]["modes"]:
        for split in ("train", "test"):
            t = windows_of(study, mode, split)
            out["windows"][f"{mode}_{split}"] = {c: int((t["label"] == i).sum() * w.sub_windows)
                                                 for i, c in enumerate(CLASS_NAMES)}
    return out


def export_model(study: PrecursorStudy) -> dict:
    """The first mode-A network as ``model/`` (+ input contract) and ``serving/``."""
    from seis_keras.atomic import atomic_path
    from seis_keras.recipes.precursor_analysis import input_contract
    from seis_keras.train.export import export_savedmodel

    model = study.models["A"][0]
    target = study.folder.path / "model"
    contract = input_contract(study).to_json()
    with atomic_path(target, is_dir=True) as tmp:
        model.save(tmp, save_format="tf", include_optimizer=False)
        (tmp / "input_contract.json").write_text(json.dumps(contract, indent=2))
    serving = export_savedmodel(model, study.folder.path / "serving")
    return {"path": str(target), "serving": str(serving), "input_contract": contract}


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _summary(runs: list, key: str) -> tuple[float, float]:
    acc = np.array([r[key]["accuracy"] for r in runs])
    return float(acc.mean()), float(acc.std())


def training_figures(study: PrecursorStudy) -> None:
    """Confusion matrices (Fig. 4), per-event test accuracy (Table 2), training curves."""
    from seis_keras.plots.evaluation import confusion_matrix, training_curves
    from seis_keras.plots.precursor import per_event_accuracy, precursor_fraction

    tr = study.results["training"]
    for mode, runs in tr.items():
        study.folder.save_figure(confusion_matrix(runs[0]["test"]["confusion_matrix"], CLASS_NAMES,
                                                  title=f"Test, noise mode {mode} (Fig. 4b)"), f"fig4_confusion_{mode}")
        study.folder.save_figure(confusion_matrix(runs[0]["train"]["confusion_matrix"], CLASS_NAMES,
                                                  title=f"Training, noise mode {mode} (Fig. 4a)"),
                                 f"fig4_confusion_{mode}_train")
        study.folder.save_figure(training_curves(runs[0]["history"]), f"training_curves_{mode}")
    series = {f"mode {m} #{r['retraining']}": r["per_event_test_accuracy"] for m, runs in tr.items() for r in runs}
    events = list(next(iter(series.values())))
    series = {k: {e: v[e]["accuracy"] for e in events} for k, v in series.items()}
    study.folder.save_figure(per_event_accuracy(series, paper=PAPER["table2"]), "table2_per_event_accuracy")
    tc = study.results["time_course"]
    study.folder.save_figure(precursor_fraction(np.array(tc["interval_start_hours_before"]), np.array(tc["mean"]),
                                                np.array(tc["std"]), rise_hours=tc["rise_hours_before"],
                                                onset_hours=tc.get("planted_onset_hours_before")),
                             "fig5_precursor_fraction")


def _json_safe(obj):
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write(study: PrecursorStudy) -> None:
    """Figures of sections 3–4, ``metrics.json`` and ``report.md``."""
    training_figures(study)
    res = study.results
    metrics = {"profile": study.cfg["profile"], "config": study.cfg, "paper": PAPER, **res}
    for runs in metrics["training"].values():
        for r in runs:
            r.pop("history", None)
    study.folder.write_json("metrics.json", _json_safe(metrics))
    study.folder.write_text("report.md", report_text(study))


def report_text(study: PrecursorStudy) -> str:
    """report.md: our numbers beside the paper's, what differs and why."""
    res, cfg = study.results, study.cfg
    d, tr, tc = res["data"], res["training"], res["time_course"]
    w = d["windowing"]
    overlap = f"overlap {w['overlap']}" if w["overlap"] >= 0 else f"gaps of {-w['overlap']}"
    lines = ["# Ong et al. — precursor CNN (temporal earthquake forecasting)", "",
             f"Profile `{cfg['profile']}`; data: {d['source']}; {d['events']['train']} training and "
             f"{d['events']['test']} test events; run time {res['seconds'] / 60:.1f} min.", "",
             f"Windows: {w['n_macro_windows']} macro-windows of {w['macro_window_samples']} samples, each cut into "
             f"{w['sub_windows']} sub-windows of {w['sub_window_samples']} (stride {w['stride']}, "
             f"{overlap}; the paper's stated overlap 15374 / stride 1010 cannot fit 37 windows in 40000 "
             "samples, so the windows are spread evenly).", ""]
    for k, v in d["windows"].items():
        lines.append(f"- mode {k.replace('_', ' / ')}: {v['noise']} noise + {v['precursor']} precursor windows")
    lines += ["", "## Accuracy (§5.1, Fig. 4, Table 2)", "", "| | ours (mean ± std over retrainings) | paper |",
              "|---|---|---|"]
    for mode, runs in tr.items():
        mt, st = _summary(runs, "train")
        me, se = _summary(runs, "test")
        cm = np.asarray(runs[0]["test"]["confusion_matrix"])
        n_runs = f"{len(runs)} run{'s' if len(runs) > 1 else ''}"
        lines.append(f"| training accuracy, mode {mode} | {_pct(mt)} ± {100 * st:.1f} ({n_runs}) | "
                     f"{_pct(PAPER['train_accuracy_' + mode])} |")
        lines.append(f"| test accuracy, mode {mode} | {_pct(me)} ± {100 * se:.1f} (first run: "
                     f"{int(np.trace(cm))}/{int(cm.sum())}) | {_pct(PAPER['test_accuracy_' + mode])}"
                     f"{' (467/518)' if mode == 'A' else ''} |")
    first = tr["A"][0]["per_event_test_accuracy"] if "A" in tr else {}
    lines += ["", "Per-event test accuracy, first mode-A network (paper Table 2: 1.00, 0.89, 0.50, 0.95, 1.00, "
              "1.00, 0.97):", ""] + [f"- {e}: {v['accuracy']:.2f} ({v['n']} windows)" for e, v in first.items()]
    rise = tc["rise_hours_before"]
    rise_text = "never" if rise is None else f"{rise:.2f} h before the event"
    onset = tc.get("planted_onset_hours_before")
    onset_text = "" if onset is None else f"; planted tremor onset {onset:g} h"
    lines += ["", "## Precursor fraction through time (§5.2, Fig. 5)", "",
              f"{len(tc['fractions'])} mode-A retrainings, {tc['n_events']} {tc['split']} events: the mean fraction "
              f"called precursor exceeds the background spread from {rise_text} (paper: ~3.3 h{onset_text}).",
              f"Last interval: {tc['mean'][-1]:.2f} ± {tc['std'][-1]:.2f}; first: {tc['mean'][0]:.2f} ± {tc['std'][0]:.2f}."]
    oc, fo, sp = res["occlusion"], res["frequency_occlusion"], res["spectra"]
    knee_text = "none" if fo["knee_hz"] is None else f"{fo['knee_hz']:g} Hz"
    lines += ["", "## What the network learned (§6)", "",
              f"- Time occlusion (Figs 6–7, mask {oc['mask']} / stride {oc['stride']}): window {oc['window']} of "
              f"{oc['event']} (score {_pct(oc['score'])}, +{_pct(oc['score_increase'])} over its predecessor); lowest "
              f"score with all channels occluded {_pct(oc['min_score_all_channels'])} (mask at sample "
              f"{oc['argmin_sample_all_channels']}); each channel alone: "
              + ", ".join(f"{c} {_pct(v)}" for c, v in oc["min_score_each_channel"].items()) + ".",
              f"- Frequency occlusion (Fig. 8): full-band test accuracy {_pct(fo['full_band_accuracy'])}; knee "
              f"{knee_text} "
              "(paper: significant frequencies mostly below 3.5 Hz).",
              f"- Relative difference of the cumulative spectra (Figs 10–11, Savitzky–Golay "
              f"{cfg['spectra']['savgol_width_hz']} Hz): highest peak train {sp['train']['highest_peak_hz']} Hz, "
              f"test {sp['test']['highest_peak_hz']} Hz (paper: 0.16 and 0.21 Hz)."]
    rel = res["relevance"]
    for name in ("LRP", "saliency"):
        v = rel.get(name)
        if isinstance(v, dict):
            lines.append(f"- {name} (added): share of the precursor windows' relevance power in "
                         f"{rel['band_hz']} Hz = {v['band_power_fraction_precursor']:.4f} "
                         f"({'n/a' if v['enrichment_precursor'] is None else format(v['enrichment_precursor'], '.1f')}"
                         " x its share of frequency bins).")
        elif v is not None:
            lines.append(f"- {name}: failed ({v})")
    if "LRP_error" in rel:
        lines.append(f"- LRP failed: {rel['LRP_error']}")
    if "planted_band" in res:
        lines += ["", "## Does each analysis find the planted 0.16–0.21 Hz tremor? (built-in data)", ""]
        for k, v in res["planted_band"].items():
            if isinstance(v, dict):
                lines.append(f"- {k}: {'yes' if v.get('found') else 'no' if v.get('found') is False else 'n/a'} "
                             f"({', '.join(f'{a}={b}' for a, b in v.items() if a != 'found')})")
    sc = res["scan"]
    lines += ["", "## Scan of a continuous record (seis_keras.scan)", "",
              f"Record {sc['record']}: {sc['n_windows']} windows (stride {sc['settings']['stride_s']} s); mean "
              f"P(precursor) in the last 1000 s {sc['mean_probability_last_1000s']}, over the first 12 intervals "
              f"{sc['mean_probability_first_12_intervals']:.3f}. The scan normalises each window by itself, "
              "not per 1000 s macro-window as in training.",
              "", "## Files", "", "`metrics.json`, `figures/`, `model/` (Keras SavedModel + `input_contract.json`: "
              "`seis-keras scan --model <run>/model`), `serving/`, `frequency_occlusion.csv`, `runs/`."]
    if cfg["profile"] != "full":
        lines += ["", f"Profile `{cfg['profile']}` differs from the paper: windows of {w['sub_window_samples']} "
                  f"samples ({w['sub_windows']} per macro-window), filters {cfg['model']['filters']}, "
                  f"{cfg['train']['epochs']} epochs, {cfg['train']['retrainings']} retrainings, "
                  f"{cfg['data']['n_events']} events — numbers are not comparable to the paper's."]
    return "\n".join(lines) + "\n"
