"""The detector study's ``report.md``: the paper's numbers (``study.PAPER``) beside ours, section by section.

Each findings table is *quantity | paper | ours | source* (rows as
:func:`seis_keras.recipes.runner.paper_rows` writes them); rows without a paper value say
"ours". The trust section gives every explanation method's verdict; the paper's rule is
labelled with its verdict, and a method is recommended only when it passed.
"""
from __future__ import annotations

import json

import numpy as np

from seis_keras.models.detector import CITATION
from seis_keras.recipes.config import to_dict
from seis_keras.recipes.detector.config import DetectorConfig
from seis_keras.recipes.detector.study import PAPER
from seis_keras.recipes.runner import paper_rows

def _f(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def _table(rows: list[tuple[str | None, str, str]]) -> list[str]:
    """A findings table from ``(PAPER key or None, label, ours)`` rows, in the format of ``paper_rows``."""
    lines = paper_rows({}, {}).splitlines()  # the header
    for key, label, ours in rows:
        if key is None:
            lines.append(f"| {label} | – | {ours} | ours |")
        else:
            lines.append(paper_rows({key: PAPER[key]}, {key: ours}, {key: label}, digits=2).splitlines()[-1])
    return lines + [""]


def _header(metrics: dict, cfg: DetectorConfig) -> list[str]:
    d = metrics["data"]
    lines = ["# Interpreting a CNN earthquake detector (FMV, backward optimisation, LRP)", "", CITATION, "",
             f"Profile `{cfg.profile}`; data: {d['source']} — {d['n_windows']} windows, "
             f"{100 * d['earthquake_fraction']:.1f} % earthquakes, split {d['split_sizes']}. "
             "The paper used AQULO (station AQU, ~123k windows, 48 % earthquakes), which is not public; "
             "numbers on other data are not expected to match, the qualitative findings are.", ""]
    if cfg.profile != "full":
        t = cfg.train
        lines += [f"Profile `{cfg.profile}` is smaller than the paper's study (the full profile): "
                  f"{t.runs} runs (paper: 10), at most {t.epochs} epochs with early-stopping patience "
                  f"{t.early_stopping_patience} (paper: 50), batch {t.batch_size} (paper: 512), "
                  f"backward optimisation {cfg.bo.steps} iterations (paper: 5000), σ_LRP over "
                  f"{cfg.lrp.sigma_samples or 'all'} evaluation windows (paper: all, ~6000 earthquakes + ~6000 "
                  f"noise), cross-run LRP rules {cfg.lrp.cross_run_betas} (paper: β = 0, 0.5, 1); numbers are not "
                  "comparable to the paper's.", ""]
    return lines


def _detection(metrics: dict) -> list[str]:
    ev = metrics["evaluation"]
    s = ev["summary"]
    lines = ["## Detection (evaluation split)", "", "| | accuracy | precision | recall | F1 |", "|---|---|---|---|---|"]
    for name, m in ev["runs"].items():
        lines.append(f"| run {name} | {_f(m['accuracy'])} | {_f(m['precision'])} | {_f(m['recall'])} | {_f(m['f1'])} |")
    lines.append("| **mean ± std (ours)** | " + " | ".join(f"{_f(s[k]['mean'])} ± {_f(s[k]['std'], 5)}"
                                                     for k in ("accuracy", "precision", "recall", "f1")) + " |")
    pv = PAPER["accuracy"]
    return lines + [f"| paper (10 runs, AQULO; {pv.source}) | {pv.value} | | | |", ""]


def _differences(metrics: dict, cfg: DetectorConfig) -> list[str]:
    """The "where this run differs from the paper" lines of the input and training pipeline."""
    d = metrics["data"]
    lines = ["## Where this run differs from the paper (input and training)", ""]
    if "Demean" in d.get("transforms", []):
        lines.append(f"- Input: each window is demeaned per component before the division by its maximum "
                     f"(`data.demean = {json.dumps(d['demean_setting'])}`); the paper divides by the maximum only "
                     "(§2.1, \"not filtered\"). " + ("The built-in windows carry the DC offsets and drifts of raw "
                                                    "counts, which would otherwise set the maximum."
                                                    if d["built_in"] else "Forced on by the config."))
    else:
        lines.append("- Input: divided by the maximum only, as the paper (§2.1; `data.demean` off"
                     + (" by `auto` for --data" if d.get("demean_setting") == "auto" else "") + ").")
    aug = d.get("augment")
    if aug:
        lines.append(f"- Training windows augmented (`[augment]`, ours; not in the paper): {', '.join(aug)} — so an "
                     "isolated transient in noise is not learnt as an earthquake (issue 12). Validation, evaluation "
                     "and --eval-data windows are not augmented.")
    else:
        lines.append("- Training windows not augmented, as the paper (`[augment]` off"
                     + (" by `auto` for --data" if cfg.augment.enabled == "auto" else "") + ").")
    return lines + [""]


def _real_data(metrics: dict) -> list[str]:
    """Spike robustness on the evaluation split and, with --eval-data, every run on those windows."""
    rob = metrics.get("robustness", {}).get("spike_called_earthquake")
    ev = metrics.get("eval_data")
    if rob is None and ev is None:
        return []
    lines = ["## Other records and robustness (ours, issue 12)", ""]
    if rob is not None:
        first = next(iter(rob["runs"].values()))
        lines += [f"Noise windows of the evaluation split with one spike ({first['factor']:g} × the window's largest "
                  f"demeaned value, one sample of one component, {first['copies']} seeded copies each) called "
                  "earthquake: " + ", ".join(f"run {k} {_f(v['called_earthquake'], 3)}" for k, v in rob["runs"].items())
                  + f" (mean {_f(rob['mean'], 3)}).", ""]
    if ev is not None:
        lines += [f"`--eval-data {ev['store']}`: {ev['n_windows']} windows ({ev['n_earthquakes']} earthquakes, "
                  f"{ev['n_noise']} noise){', conformed to the contract' if ev['conformed'] else ''}, read through "
                  f"the model's input contract ({' → '.join(ev['transforms'])}), threshold {ev['threshold']:g}. "
                  "Evaluation only: nothing was trained, tuned or selected on these windows.", "",
                  "| | accuracy | precision | recall | F1 | noise acc. | earthquake acc. | noise + spike → earthquake "
                  "| confusion [[TN, FP], [FN, TP]] |", "|---|---|---|---|---|---|---|---|---|"]
        for name, m in ev["runs"].items():
            pc = m["per_class_accuracy"]
            lines.append(f"| run {name} | {_f(m['accuracy'])} | {_f(m['precision'])} | {_f(m['recall'])} | "
                         f"{_f(m['f1'])} | {_f(pc[0], 3)} | {_f(pc[1], 3)} | {_f(m['spike']['called_earthquake'], 3)} "
                         f"| {m['confusion_matrix']} |")
        s = ev["summary"]
        keys = ("accuracy", "precision", "recall", "f1", "noise_accuracy", "earthquake_accuracy",
                "spike_called_earthquake")
        lines.append("| **mean ± std** | " + " | ".join(f"{_f(s[k]['mean'], 3)} ± {_f(s[k]['std'], 3)}" for k in keys)
                     + " | |")
        built = metrics["evaluation"]["summary"]["accuracy"]["mean"]
        lines += ["", f"Beside it, the evaluation split (built-in or --data test windows): accuracy {_f(built)} "
                      "(mean over runs, table above).", ""]
    return lines


def _feature_maps(fmv: dict) -> list[str]:
    fc, cr = fmv["fraction_correlated_channels"], fmv["cross_run"]
    return ["## Feature maps (§3.1)", ""] + _table([
        ("correlated_channels_sample_B", f"{fmv['layer']} channels with a partner r > {fmv['threshold']:g}, "
         "sample B, model A", _f(fc["reference_sample"], 2)),
        ("cross_run_matched_channels", f"run A channels matched (r > {fmv['threshold']:g}) in another run, mean "
         "over runs", _f(cr["mean_fraction_reference_sample"], 2)),
        (None, "same as the first row, mean over the chosen earthquakes / noise windows",
         f"{_f(fc['mean_earthquakes'], 2)} / {_f(fc['mean_noise'], 2)}")])


def _backward_optimisation(bo: dict) -> list[str]:
    hf, ri = bo["high_frequency_share"], bo["real_init"]
    rows = [("optimal_input_within_unit_amplitude", "optimal-input components within ±1 (zero init, all runs)",
             _f(bo["fraction_components_within_unit_amplitude"], 2)),
            ("optimal_input_high_frequencies", f"spectrum share above {hf['split_hz']:g} Hz: optimal inputs / "
             "training positives", f"{_f(hf['optimal_zero_init_mean'], 3)} / {_f(hf['training_positives'], 3)}"),
            ("real_init_changes", f"real init (sample {ri['sample']}): loss before → after",
             f"{_f(ri['initial_loss'])} → {_f(ri['final_loss'])}"),
            ("real_init_first_5s", "real init: mean abs change 0–5 s / 5–10 s",
             f"{_f(ri['mean_abs_change_first_5s'])} / {_f(ri['mean_abs_change_5_to_10s'])}")]
    samples = bo.get("real_init_samples", {})
    if samples:
        rows.append(("real_init_first_5s", f"real init, the {len(samples)} Fig. 4 earthquakes (model A): share with more "
                     "change in 0–5 s than in 5–10 s", _f(bo["real_init_samples_more_change_first_5s"], 2)))
        rows.append((None, "real init, the Fig. 4 earthquakes: loss before → after (mean)",
                     f"{_f(float(np.mean([v['initial_loss'] for v in samples.values()])))} → "
                     f"{_f(float(np.mean([v['final_loss'] for v in samples.values()])))}"))
    others = [v["pearson_change_with_run_A"] for k, v in bo.get("real_init_sample_B_runs", {}).items()
              if k != "A" and v["pearson_change_with_run_A"] is not None]
    if others:
        rows.append((None, f"Fig. S19: sample {ri['sample']} optimised by every run, Pearson r of the change with "
                     "run A's (mean over runs)", _f(float(np.mean(others)), 2)))
    if "noise_prototype" in bo:
        npt = bo["noise_prototype"]
        rows.append(("noise_prototype", "max amplitude: noise prototype / earthquake prototypes",
                     f"{_f(npt['max_abs'], 3)} / {_f(npt['earthquake_prototype_max_abs_mean'], 3)}"))
    how = (f"{bo['optimizer'].upper()} on the input, lr {bo['learning_rate']:g}"
           + (f", momentum {bo['momentum']:g}" if bo["momentum"] else "")
           + (f", weight decay {bo['weight_decay']:g}" if bo.get("weight_decay") else "")) if "optimizer" in bo else "n/a"
    return ["## Backward optimisation (§3.2)", "",
            f"Optimiser: {how} ({'as' if bo.get('optimizer') == 'sgd' else 'unlike'} the authors' "
            "pytorch-cnn-visualizations class-sample generator: plain SGD, lr 6), the training loss toward the class, "
            f"{bo['steps']} iterations.", ""] + _table(rows)


def _relevance(lrp: dict) -> list[str]:
    s = lrp["sigma_lrp_s"]
    rows = [("sigma_lrp_vs_distance", f"σ_LRP ({lrp['sigma_rule']}) vs epicentral distance, Spearman",
             _f(s["spearman_vs_distance"], 2)),
            ("sigma_lrp_noise_vs_earthquakes", "σ_LRP median, earthquakes / noise (s)",
             f"{_f(s['earthquake_median'], 2)} / {_f(s['noise_median'], 2)}"),
            ("noise_relevance", "total relevance of noise windows (mean)", _f(lrp["noise_relevance_sum_mean"], 3))]
    for rule, per_run in lrp["cross_run_pearson_reference_sample"].items():
        if per_run:
            rows.append(("cross_run_relevance", f"{rule}: relevance of sample B, Pearson r with run A (mean over runs)",
                         _f(float(np.mean(list(per_run.values()))), 2)))
    diag = lrp.get("logit_diagnostics", {})
    if "earthquake" in diag and "noise" in diag:
        e, n = diag["earthquake"], diag["noise"]
        rows.append((None, "model A logit mean ± std, earthquakes / noise (active fc1 units)",
                     f"{_f(e['logit_mean'], 2)} ± {_f(e['logit_std'], 2)} ({_f(e['active_fc1_units_mean'], 1)}) / "
                     f"{_f(n['logit_mean'], 2)} ± {_f(n['logit_std'], 2)} ({_f(n['active_fc1_units_mean'], 1)})"))
    rule = ("the authors' Pytorch-LRP αβ rule (`lrp.stabilised`): denominators z ± ε (ε = "
            f"{lrp['epsilon']:g}), a neuron receiving contributions of one sign only passes its relevance R on"
            if lrp.get("stabilised") else
            "innvestigate's αβ rule: no stabiliser in the denominators (ε is not used), and a neuron receiving "
            "contributions of one sign only passes α·R (Pytorch-LRP, the authors' library, passes R)")
    return ["## LRP (§3.3)", "", f"αβ rules (α = 1 + β, biases left out as in the authors' code): {rule}. "
            "Their verdicts are in the trust section; the paper's figures are drawn as the paper did.", ""] + _table(rows)


_MEASURES = {"spearman_abs": "Spearman of |R|", "spearman": "Spearman of R",
             "spearman_positive": "Spearman of the positive evidence max(R, 0)"}


def _measure_rows(methods: dict) -> list[tuple[str, str, dict, dict]]:
    """``(method, layer, trained-vs-random, two-copies)`` per method with a control: every measure at its layer."""
    rows = []
    for name, r in methods.items():
        control, curves = r.get("randomisation_control"), r.get("randomisation_curves")
        if control and curves:
            step = curves["layers"].index(control["layer"])
            rows.append((name, control["layer"], {k: curves[k][step] for k in _MEASURES}, control))
    return rows


def _trust(t: dict) -> list[str]:
    lines = ["## Can the explanations be trusted? (ours; issue 13)", "",
             f"Every method is checked on {t['n_samples']} evaluation earthquakes of model A "
             "(`seis_keras.explain.trust`, thresholds in `[trust]`): cascading randomisation from the logits down "
             f"(Adebayo et al. 2018; {_MEASURES[t.get('similarity', 'spearman_abs')]} with the trained map), "
             "localisation (share of the positive "
             f"relevance in the ground truth: {t['ground_truth']}, beside its uniform share; pointing game), "
             "faithfulness (deletion of whole time steps, most relevant first, vs random orders, on the logit). "
             "A method is *trusted* only when every check that ran passed.", "", t["table"]]
    paper, head = t["paper_rule"], t["headline"]
    lines.append(f"The paper's σ_LRP rule ({paper}) is **{t['paper_rule_verdict']}**; it is drawn as the paper "
                 "did (Figs 7, 8) and, with this verdict in the title, in `fig7_lrp_paper_rule`.")
    if head is None:
        lines.append("**No method passed every check: none is recommended**, and no map in this report should be "
                     "read as what the network learned.")
    else:
        lines.append(f"Recommended method (best trusted): **{head}** (`{t['methods'][head]['text']}`).")
    rows = _measure_rows(t["methods"])
    if rows:
        lines += ["", f"Randomisation by measure, after re-initialising down to {rows[0][1]}: trained vs "
                  "re-initialised (two independently re-initialised copies in brackets: the level any upper layers "
                  "give). A similarity at the bracketed level says the pattern comes from the input and the kept "
                  "lower layers, not from what the upper layers learned:", "",
                  "| method | " + " | ".join(_MEASURES[k].replace("|", "\\|") for k in _MEASURES) + " |",
                  "|---|" + "---|" * len(_MEASURES)]
        lines += [f"| {name} | " + " | ".join(f"{_f(trained[k], 2)} ({_f(control[k], 2)})" for k in _MEASURES) + " |"
                  for name, _, trained, control in rows]
    real = t.get("real_windows")
    if real:
        lines += ["", f"Real earthquake windows ({real['n_samples']}; ground truth {real['window']}):", "",
                  "| method | mass in window (uniform) | pointing game |", "|---|---|---|"]
        lines += [f"| {name} | {_f(q['mass_accuracy'], 2)} ({_f(q['uniform_share'], 2)}) | "
                  f"{_f(q['pointing_game'], 2)} |" for name, q in real["methods"].items()]
    extra = ", `figures/trust_randomisation_abs.png` (|R|)" if t.get("similarity", "spearman_abs") != "spearman_abs" else ""
    return lines + ["", f"Curves: `figures/trust_randomisation.png`{extra}, `figures/trust_deletion.png`.", ""]


def _compared(c: dict) -> list[str]:
    paper, name = list(c["verdicts"])[0], c["compared_method"]
    both = [paper] if name == paper else [paper, name]
    lines = ["## Does a conclusion depend on the rule? (issues 13.4, 14)", "",
             f"The paper's rule **{paper}** ({c['verdicts'][paper]}) beside **{name}** — {c['role']}; "
             f"`{c['text']}` — on the same {c['n_windows']} evaluation windows (Figs 7, 8: "
             "`fig7_lrp_paper_rule`, `fig7_lrp_compared_method`, `fig8_sigma_lrp_compared_method`).", "",
             "| quantity | " + " | ".join(both) + " |", "|---|" + "---|" * len(both)]
    m = c["methods"]
    rows = [("σ_LRP vs epicentral distance, Spearman (paper: positive)",
             lambda n: _f(m[n]["sigma_lrp_s"]["spearman_vs_distance"], 2)),
            ("σ_LRP median, earthquakes / noise, s (paper: noise larger)",
             lambda n: f"{_f(m[n]['sigma_lrp_s']['earthquake_median'], 2)} / {_f(m[n]['sigma_lrp_s']['noise_median'], 2)}"),
            ("total relevance of noise windows, mean (paper: negative)", lambda n: _f(m[n]["noise_relevance_sum_mean"], 3)),
            ("total relevance of earthquake windows, mean", lambda n: _f(m[n]["earthquake_relevance_sum_mean"], 3)),
            ("positive relevance in the P–S window", lambda n: _f(c["mass_in_p_s_window"][n], 2))]
    f = c["frequency"]
    lo = f["band_hz"][0]
    rows.append((f"positive DFT-LRP relevance above {lo:g} Hz (earthquakes; energy of those windows; flat spectrum)",
                 lambda n: f"{_f(f['relevance_share_above_split'][n]['relevance'], 2)} "
                           f"({_f(f['relevance_share_above_split'][n]['input'], 2)}; "
                           f"{_f(f['relevance_share_above_split'][n]['uniform'], 2)})"))
    lines += [f"| {label} | " + " | ".join(fn(n) for n in both) + " |" for label, fn in rows]
    lines += ["", f"Energy above {lo:g} Hz: optimal inputs (zero init, all runs) {_f(f['optimal_inputs_energy_share'], 3)}, "
              f"training earthquakes {_f(f['training_earthquakes_energy_share'], 3)} (Fig. 5B: optimal inputs richer "
              "in high frequencies); the relevance spectra beside them: `fig5_relevance_spectra`.", ""]
    return lines


def _scan(sc: dict) -> list[str]:
    return ["## Scan of a continuous record (seis_keras.scan)", "",
            f"Model A over the built-in {sc['record_s']:.0f} s record ({sc['n_events']} events), stride "
            f"{sc['settings']['stride_s']:g} s, threshold {sc['settings']['threshold']:g}: {sc['n_detections']} "
            f"detections, recall {_f(sc['recall'], 2)}, false alarms {sc['false_alarms']} "
            "(an event counts as found when a detection overlaps its P onset to coda end).", ""] + _false_alarms(sc)


def _false_alarms(sc: dict) -> list[str]:
    fa = sc.get("false_alarm_rate")
    if not fa:
        return []
    lines = [f"False alarms per hour on records without events (every detection is false), as they are and with "
             f"{fa['glitches_per_hour']:g} glitches per hour injected ({', '.join(fa['glitch_kinds'])}, "
             f"{fa['glitch_factor']:g} × the largest demeaned value of the 25 s around them, seeded):", "",
             "| record | hours scanned | false alarms / h | with glitches: false alarms / h | glitches detected |",
             "|---|---|---|---|---|"]
    names = {"built_in": "built-in, no events (detector_continuous)", "ref_STS2": "obspy ref_STS2 (CA.STS2 EHZ)",
             "ref_unknown": "obspy ref_unknown (CA.0438 EHZ)"}
    for key, r in fa["records"].items():
        g = r["glitches"]
        lines.append(f"| {names.get(key, key)} | {r['as_is']['hours']:.2f} | {r['as_is']['false_alarms_per_hour']:.2f} "
                     f"| {g['false_alarms_per_hour']:.2f} | {g['n_glitches_detected']} of {g['n_glitches']} |")
    if any(k.startswith("ref_") for k in fa["records"]):
        lines += ["", "obspy's records have one component: E and N are the same trace shifted by 1/3 and 2/3 of its "
                      "length (real noise on every component, not a real three-component record); they were taken as "
                      "noise by eye, so a detection on them may also be a small event. Every detection: "
                      "`scan_false_alarms.csv`; the glitches: `scan_glitches.csv`."]
    return lines + [""]


def markdown(metrics: dict, cfg: DetectorConfig) -> str:
    """The run's ``report.md`` from its ``metrics.json`` content and config."""
    timings = metrics["timings_s"]
    lines = (_header(metrics, cfg) + _differences(metrics, cfg) + _detection(metrics) + _real_data(metrics)
             + _feature_maps(metrics["fmv"])
             + _backward_optimisation(metrics["backward_optimisation"]) + _relevance(metrics["lrp"])
             + _trust(metrics["trust"])
             + (_compared(metrics["lrp_compared"]) if "lrp_compared" in metrics else []) + _scan(metrics["scan"]))
    exported = metrics["exported_model"]
    lines += ["## Files", "",
              "`metrics.json` (every number above, the paper's with their sources under `paper`), `figures/*.png`, "
              f"`{exported['path']}/` (run {exported['run']}: model.h5, model.keras, model_serving/ SavedModel, "
              f"input_contract.json with transforms {exported['input_contract']['transforms']}; "
              f"`seis-keras scan --model <run>/{exported['path']} --stream FILES`), `runs/<name>/` "
              "(history.csv, tensorboard/, model.h5), `scan_detections.csv`, `config.json`.", "",
              "## Settings used", "", "```json", json.dumps(to_dict(cfg), indent=1, default=str), "```", "",
              f"Wall time: {timings['total']:.0f} s "
              f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items() if k != 'total')})."]
    return "\n".join(lines) + "\n"
