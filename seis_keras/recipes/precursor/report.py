"""report.md of the precursor study: our numbers beside the paper's (``PAPER``), what differs and why.

Run folder: ``config.json``, ``metrics.json`` (every number, per section), ``report.md``,
``figures/*.png``, ``frequency_occlusion.csv``, ``scan_detections.csv``, ``runs/mode_<A|B>_<i>/``
(fit outputs), ``model/`` (the first mode-A network: Keras SavedModel with ``input_contract.json``,
usable by ``seis-keras scan``) and ``serving/`` (a serving SavedModel).
"""
from __future__ import annotations

import numpy as np

from seis_keras.recipes.precursor.config import PrecursorConfig
from seis_keras.recipes.precursor.study import PAPER, TABLE2
from seis_keras.recipes.precursor.training import accuracy_summary
from seis_keras.recipes.runner import paper_rows


#: Row names of the paper table in report.md.
LABELS = {"train_accuracy_A": "training accuracy, mode A", "test_accuracy_A": "test accuracy, mode A",
          "test_correct_A": "test windows correct, mode A", "train_accuracy_B": "training accuracy, mode B",
          "test_accuracy_B": "test accuracy, mode B",
          "per_event_test_accuracy": "per-event test accuracy (ours: first mode-A network)",
          "rise_hours_before": "precursor fraction rises, hours before the event",
          "occlusion_window_score": "score of the window chosen for time occlusion",
          "significant_below_hz": "frequency occlusion: knee in Hz (paper: significant band below)",
          "spectral_peaks_hz": "peaks of the relative spectral difference, Hz"}


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def ours(metrics: dict) -> dict:
    """Our value for each key of :data:`PAPER` (what a run measured; missing keys: not measured)."""
    tr, out = metrics["training"], {}
    for mode, runs in tr.items():
        out[f"train_accuracy_{mode}"] = accuracy_summary(runs, "train")[0]
        out[f"test_accuracy_{mode}"] = accuracy_summary(runs, "test")[0]
    if "A" in tr:
        cm = np.asarray(tr["A"][0]["test"]["confusion_matrix"])
        out["test_correct_A"] = f"{int(np.trace(cm))}/{int(cm.sum())} (first network)"
        out["per_event_test_accuracy"] = ", ".join(f"{v['accuracy']:.2f}"
                                                   for v in tr["A"][0]["per_event_test_accuracy"].values())
    out["rise_hours_before"] = metrics["time_course"]["rise_hours_before"]
    out["occlusion_window_score"] = metrics["occlusion"]["score"]
    out["significant_below_hz"] = metrics["frequency_occlusion"]["knee_hz"]
    sp = metrics["spectra"]
    out["spectral_peaks_hz"] = ", ".join("–" if sp[s]["highest_peak_hz"] is None else f"{sp[s]['highest_peak_hz']:.3f}"
                                         for s in ("train", "test")) + " (train, test)"
    return out


def markdown(metrics: dict, cfg: PrecursorConfig) -> str:
    """report.md from the run's metrics (and the config it ran with)."""
    d, tr, tc = metrics["data"], metrics["training"], metrics["time_course"]
    w = d["windowing"]
    overlap = f"overlap {w['overlap']}" if w["overlap"] >= 0 else f"gaps of {-w['overlap']}"
    lines = ["# Ong et al. — precursor CNN (temporal earthquake forecasting)", "",
             f"Profile `{cfg.profile}`; data: {d['source']}; {d['events']['train']} training and "
             f"{d['events']['test']} test events; run time {metrics['timings_s']['total'] / 60:.1f} min.", "",
             f"Windows: {w['n_macro_windows']} macro-windows of {w['macro_window_samples']} samples, each cut into "
             f"{w['sub_windows']} sub-windows of {w['sub_window_samples']} (stride {w['stride']}, "
             f"{overlap}; the paper's stated overlap 15374 / stride 1010 cannot fit 37 windows in 40000 "
             "samples, so the windows are spread evenly).", ""]
    for k, v in d["windows"].items():
        lines.append(f"- mode {k.replace('_', ' / ')}: {v['noise']} noise + {v['precursor']} precursor windows")
    lines += ["", "## The paper's numbers beside ours", "",
              paper_rows(PAPER, ours(metrics), labels=LABELS, digits=3)]
    lines += ["", "## Accuracy (§5.1, Fig. 4, Table 2)", "", "| | ours (mean ± std over retrainings) | paper |",
              "|---|---|---|"]
    for mode, runs in tr.items():
        mt, st = accuracy_summary(runs, "train")
        me, se = accuracy_summary(runs, "test")
        cm = np.asarray(runs[0]["test"]["confusion_matrix"])
        n_runs = f"{len(runs)} run{'s' if len(runs) > 1 else ''}"
        lines.append(f"| training accuracy, mode {mode} | {_pct(mt)} ± {100 * st:.1f} ({n_runs}) | "
                     f"{_pct(PAPER['train_accuracy_' + mode].value)} |")
        lines.append(f"| test accuracy, mode {mode} | {_pct(me)} ± {100 * se:.1f} (first run: "
                     f"{int(np.trace(cm))}/{int(cm.sum())}) | {_pct(PAPER['test_accuracy_' + mode].value)}"
                     f"{' (' + PAPER['test_correct_A'].value + ')' if mode == 'A' else ''} |")
    first = tr["A"][0]["per_event_test_accuracy"] if "A" in tr else {}
    lines += ["", "Per-event test accuracy, first mode-A network (paper Table 2: "
              + ", ".join(f"{v:.2f}" for v in TABLE2) + "):", ""]
    lines += [f"- {e}: {v['accuracy']:.2f} ({v['n']} windows)" for e, v in first.items()]
    rise = tc["rise_hours_before"]
    rise_text = "never" if rise is None else f"{rise:.2f} h before the event"
    onset = tc.get("planted_onset_hours_before")
    onset_text = "" if onset is None else f"; planted tremor onset {onset:g} h"
    lines += ["", "## Precursor fraction through time (§5.2, Fig. 5)", "",
              f"{len(tc['fractions'])} mode-A retrainings, {tc['n_events']} {tc['split']} events: the mean fraction "
              f"called precursor exceeds the background spread from {rise_text} (paper: "
              f"~{PAPER['rise_hours_before'].value:g} h{onset_text}).",
              f"Last interval: {tc['mean'][-1]:.2f} ± {tc['std'][-1]:.2f}; first: {tc['mean'][0]:.2f} ± {tc['std'][0]:.2f}."]
    lines += ["", "## What the network learned (§6)", ""] + _learned(metrics, cfg)
    if "planted_band" in metrics:
        lines += ["", "## Does each analysis find the planted 0.16–0.21 Hz tremor? (built-in data)", ""]
        for k, v in metrics["planted_band"].items():
            if isinstance(v, dict):
                lines.append(f"- {k}: {'yes' if v.get('found') else 'no' if v.get('found') is False else 'n/a'} "
                             f"({', '.join(f'{a}={b}' for a, b in v.items() if a != 'found')})")
    sc = metrics["scan"]
    lines += ["", "## Scan of a continuous record (seis_keras.scan)", "",
              f"Record {sc['record']}: {sc['n_windows']} windows (stride {sc['settings']['stride_s']} s); mean "
              f"P(precursor) in the last 1000 s {sc['mean_probability_last_1000s']}, over the first 12 intervals "
              f"{sc['mean_probability_first_12_intervals']:.3f}. The scan normalises each window by itself, "
              "not per 1000 s macro-window as in training.",
              "", "## Files", "", "`config.json`, `metrics.json`, `figures/`, `model/` (Keras SavedModel + "
              "`input_contract.json`: `seis-keras scan --model <run>/model`), `serving/`, `frequency_occlusion.csv`, "
              "`runs/`."]
    if cfg.profile != "full":
        lines += ["", f"Profile `{cfg.profile}` differs from the paper: windows of {w['sub_window_samples']} "
                  f"samples ({w['sub_windows']} per macro-window), filters {cfg.model.filters}, "
                  f"{cfg.train.epochs} epochs, {cfg.train.retrainings} retrainings, "
                  f"{cfg.data.n_events} events — numbers are not comparable to the paper's."]
    return "\n".join(lines) + "\n"


def _learned(metrics: dict, cfg: PrecursorConfig) -> list[str]:
    """The §6 bullets: time and frequency occlusion, spectra, relevance."""
    oc, fo, sp, rel = metrics["occlusion"], metrics["frequency_occlusion"], metrics["spectra"], metrics["relevance"]
    knee_text = "none" if fo["knee_hz"] is None else f"{fo['knee_hz']:g} Hz"
    lines = [f"- Time occlusion (Figs 6–7, mask {oc['mask']} / stride {oc['stride']}): window {oc['window']} of "
             f"{oc['event']} (score {_pct(oc['score'])}, +{_pct(oc['score_increase'])} over its predecessor); lowest "
             f"score with all channels occluded {_pct(oc['min_score_all_channels'])} (mask at sample "
             f"{oc['argmin_sample_all_channels']}); each channel alone: "
             + ", ".join(f"{c} {_pct(v)}" for c, v in oc["min_score_each_channel"].items())
             + f" (paper: {_pct(PAPER['occlusion_window_score'].value)} window; "
             f"{PAPER['occlusion_window_score'].note}).",
             f"- Frequency occlusion (Fig. 8): full-band test accuracy {_pct(fo['full_band_accuracy'])}; knee "
             f"{knee_text} (paper: {PAPER['significant_below_hz'].note}).",
             f"- Relative difference of the cumulative spectra (Figs 10–11, Savitzky–Golay "
             f"{cfg.spectra.savgol_width_hz} Hz): highest peak train {sp['train']['highest_peak_hz']} Hz, "
             f"test {sp['test']['highest_peak_hz']} Hz (paper: {PAPER['spectral_peaks_hz'].value.replace(', ', ' and ')} "
             "Hz)."]
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
    return lines
