"""report.md of the precursor study: our numbers beside the paper's (``PAPER``), what differs and why.

Run folder: ``config.json``, ``metrics.json`` (every number, per section), ``report.md``,
``figures/*.png``, ``frequency_occlusion.csv``, ``scan_detections.csv``, ``runs/mode_<A|B>_<i>/``
(fit outputs), ``model/`` (the first mode-A network: Keras SavedModel with ``input_contract.json``,
usable by ``seis-keras scan``) and ``serving/`` (a serving SavedModel).
"""
from __future__ import annotations

import numpy as np

from seis_keras.models.precursor import PRECURSOR_DILATIONS, PRECURSOR_KERNELS, PRECURSOR_POOL_STRIDES
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
    kept = [r.get("kept_weights") for runs in tr.values() for r in runs]
    if kept and all(kept):
        lines += ["", f"Weights evaluated: {kept[0]['rule']} epoch of each network (§6.2 \"the best weights obtained in "
                  "the training\"; the paper has no validation set, so best = lowest training loss): epochs "
                  + ", ".join(str(k["epoch"]) for k in kept) + f" of {cfg.train.epochs}."]
    bn = [r.get("batch_norm_statistics") for runs in tr.values() for r in runs]
    if bn and all(bn) and bn[0]["rule"] == "clean":
        ratios = [b["training_vs_clean"]["bn1"]["variance_ratio"] for b in bn if b["training_vs_clean"]]
        lines += ["", "BatchNorm inference statistics: re-estimated on the training windows with the random layer "
                  "off (`train.batch_norm_statistics = \"clean\"`; the moving averages of training describe the "
                  "last epochs' randomised inputs). Training / clean variance at bn1 (median over channels): "
                  + ", ".join(f"{v:.2f}" for v in ratios) + "."]
    elif bn and all(bn):
        lines += ["", "BatchNorm inference statistics: Keras's moving averages over the randomised training inputs "
                  "(`train.batch_norm_statistics = \"training\"`)."]
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
    lines += _relevance_and_trust(metrics)
    if "planted_band" in metrics:
        lines += ["", "## Does each analysis find the planted 0.16–0.21 Hz tremor? (built-in data)", ""]
        for k, v in metrics["planted_band"].items():
            if isinstance(v, dict):
                lines.append(f"- {k}: {'yes' if v.get('found') else 'no' if v.get('found') is False else 'n/a'} "
                             f"({', '.join(f'{a}={b}' for a, b in v.items() if a != 'found')})")
    lines += ["", "## Where this differs from the paper, and what the built-in data can show", ""] + _differences(metrics, cfg)
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


def _differences(metrics: dict, cfg: PrecursorConfig) -> list[str]:
    """The paper's open choices that are ours, and what a planted-band check on built-in data means."""
    m, fo = cfg.model, cfg.frequency_occlusion
    lines = [f"- Layer sizes are ours: the paper (§3, Fig. 2) gives 7 blocks, filters growing to 256, a stride-2 pool "
             f"in block 2, dilation increasing from block 3 and dropout {m.dropout:g}, but not the sizes. We use "
             f"filters {list(m.filters)}, kernels {list(PRECURSOR_KERNELS)}, dilations {list(PRECURSOR_DILATIONS)}, "
             f"max-pools of 3 with strides {list(PRECURSOR_POOL_STRIDES)}, and a head of global average pooling -> "
             f"Dense({m.fc_units}) -> ReLU -> Dropout -> Dense(2) (seis_keras.models.precursor).",
             f"- Random input layer (§3, after Lee et al. 2020): reading `{m.random_layer_mode}` — "
             + ("the input is convolved with a {k}-tap kernel re-drawn each epoch and the result added"
                if m.random_layer_mode == "input" else "white noise is convolved with a {k}-tap kernel re-drawn each "
                "epoch and added").format(k=m.random_kernel_size)
             + f" at {100 * m.noise_rms_fraction:.0f}% of the input's RMS; identity at inference (the paper does not "
             "say; Lee et al. average over random layers at test time). The kernel length is ours. BatchNorm's "
             "inference statistics: " + ("re-estimated on the clean training windows (ours; the paper is silent)"
                                         if cfg.train.batch_norm_statistics == "clean" else
                                         "Keras's moving averages over the randomised training inputs") + ".",
             "- Frequency occlusion (§6.2): the low-pass is applied "
             + ("to each normalised sub-window" if fo.filter == "after" else
                "to each raw 1000 s macro-window before the joint normalisation")
             + f" (`frequency_occlusion.filter = \"{fo.filter}\"`; open in the paper), "
             + (f"zero-phase (sosfiltfilt, -{12 * fo.order} dB/octave)" if fo.zero_phase else
                f"one pass of the order-{fo.order} Butterworth (-{6 * fo.order} dB/octave, as the paper states)") + "."]
    if "planted_band" in metrics:
        lines.append("- Built-in data: a tremor is planted in 0.16–0.21 Hz, so \"found the planted band\" above checks "
                     "that the pipeline (training, occlusion, spectra, relevance) can recover a cue that is there. It "
                     "does not test the paper's claim that real records carry a precursor in that band; only real "
                     "IU MAJO records (`--data`) can.")
    return lines


def _learned(metrics: dict, cfg: PrecursorConfig) -> list[str]:
    """The §6 bullets: time and frequency occlusion, spectra."""
    oc, fo, sp = metrics["occlusion"], metrics["frequency_occlusion"], metrics["spectra"]
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
    return lines


def _relevance_and_trust(metrics: dict) -> list[str]:
    """Relevance per frequency (DFT-LRP) of each method, and the trust section (verdict per method)."""
    rel, tr = metrics["relevance"], metrics["trust"]
    lo, hi = rel["band_hz"]
    lines = ["", "## Which frequencies did the network use? Relevance per frequency (added; beside Figs 8 and 11)", "",
             f"Each method's time map of {rel['n_windows']} test windows (explained for their true class), taken "
             "into the frequency domain by the DFT virtual inspection layer (DFT-LRP, Vielhaben et al. 2024: the "
             "relevance of each frequency, not the spectrum of the map). Share of the positive relevance in "
             f"{lo}–{hi} Hz (every DFT bin overlapping it: {rel['band_bins_hz'][0]:.4f}–{rel['band_bins_hz'][1]:.4f} Hz), "
             "precursor windows, beside the input's energy share there and the uniform share "
             f"({rel['uniform_share']:.4f} of the bins). Figure `fig8_fig11_relevance_per_frequency` sets them beside "
             "frequency occlusion and the relative spectral difference.", "",
             "| method | relevance share in band | x uniform | input's share | relevance / input | verdict |",
             "|---|---|---|---|---|---|"]
    verdicts = {k: v["verdict"] for k, v in tr["methods"].items()}
    for label, row in rel["methods"].items():
        r = row["precursor"]
        tag = " (recommended)" if label == rel.get("recommended") else ""
        lines.append(f"| {label}{tag} | {_num(r['relevance'], 4)} | {_num(r['relevance_over_uniform'], 1)} | "
                     f"{_num(r['input'], 4)} | {_num(r['relevance_over_input'], 2)} | {verdicts.get(label, '—')} |")
    inp, uni = next(iter(rel["methods"].values()))["precursor"]["input"], rel["uniform_share"]
    if inp is not None and uni:
        lines += ["", f"The precursor windows' own energy share in the band is {inp:.3f} ({inp / uni:.0f} x uniform): a "
                  "relevance share above uniform is what the input alone would give; only relevance / input above 1 "
                  "shows the explanation concentrating on the band beyond the input's spectrum."]
    head = tr["headline"]
    lines += ["", "## Trust: can each explanation be believed? (added)", "",
              "Randomisation (cascade from the logits down; verdict at the step named in brackets), localisation "
              f"({tr['localisation_ground_truth']}), faithfulness (deletion of time steps vs random orders, logit). "
              f"Headline method: **{head or 'none: no method passed'}**; the paper's method, {tr['paper_method']}, "
              f"is **{tr['paper_method_verdict']}**.", "", tr["table"]]
    if head is None:
        lines += ["", "No explanation passed every check: the relevance numbers above describe the maps, not what "
                  "the network learned."]
    return lines


def _num(v, digits: int) -> str:
    return "—" if v is None else f"{v:.{digits}f}"
