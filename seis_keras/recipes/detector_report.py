"""Section 8 of the detector study: training figures, the exported model and ``report.md``.

The report puts the paper's numbers (Majstorović et al. 2023) beside ours and lists the
settings used. The exported model (run A) is the folder ``model/`` written by
:func:`seis_keras.train.export.export_model` plus the scan
:class:`~seis_keras.scan.InputContract` in ``model/input_contract.json``, so
``seis-keras scan --model RUN/model`` and :func:`seis_keras.scan.scan` read it directly.
"""
from __future__ import annotations

import json

import numpy as np

from seis_keras.recipes.runner import RunFolder

CITATION = ("Majstorović, J., Giffard-Roisin, S. & Poli, P. (2023). Interpreting convolutional neural network "
            "decision for earthquake detection with feature map visualization, backward optimization and "
            "layer-wise relevance propagation methods. Geophys. J. Int. 232(2), 923–939. doi:10.1093/gji/ggac369")


def data_summary(data) -> dict:
    """Size, class balance and split sizes of the windows used."""
    return {"source": data.source, "built_in": data.built_in, "n_windows": int(len(data.labels)),
            "earthquake_fraction": float(data.labels.mean()),
            "split_sizes": {k: int(len(v)) for k, v in data.splits.items()}, "store": str(data.store.path)}


def training_figures(runs, folder: RunFolder) -> None:
    """Loss and accuracy curves of every run (TensorBoard logs are in ``runs/<name>/tensorboard``)
    and run A's evaluation confusion matrix."""
    from seis_keras.plots.detector import training_curves
    from seis_keras.plots.evaluation import confusion_matrix

    folder.save_figure(training_curves({r.name: r.fit["history"] for r in runs}), "training_curves")
    folder.save_figure(confusion_matrix(runs[0].metrics["confusion_matrix"], ("noise", "earthquake"),
                                        title=f"run {runs[0].name}, evaluation split"), "confusion_matrix_run_A")


def export_reference(run, cfg: dict, folder: RunFolder) -> dict:
    """Export run A into ``model/`` (:func:`seis_keras.train.export.export_model`) with its input contract.

    ``model/model.h5`` (Keras, what LRP reads), ``model/model.keras``, ``model/model_serving/``
    (serving SavedModel: ``probabilities``, ``predicted_class``) and ``model/input_contract.json``.
    """
    from seis_keras.atomic import write_json
    from seis_keras.recipes.detector import input_contract
    from seis_keras.scan import CONTRACT_FILE
    from seis_keras.train.export import export_model

    target = folder.path / "model"
    paths = export_model(run.model, target, name="model", outputs="logits")
    contract = input_contract(cfg).to_json()
    write_json(target / CONTRACT_FILE, contract)
    return {"path": str(target), "run": run.name, "files": {k: str(v) for k, v in paths.items()},
            "input_contract": contract}


def _f(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(metrics: dict, cfg: dict) -> str:
    """The run's ``report.md``."""
    ev, d = metrics["evaluation"]["summary"], metrics["data"]
    lines = ["# Interpreting a CNN earthquake detector (FMV, backward optimisation, LRP)", "", CITATION, "",
             f"Profile `{cfg['profile']}`; data: {d['source']} — {d['n_windows']} windows, "
             f"{100 * d['earthquake_fraction']:.1f} % earthquakes, split {d['split_sizes']}. "
             "The paper used AQULO (station AQU, ~123k windows, 48 % earthquakes), which is not public; "
             "numbers on other data are not expected to match, the qualitative findings are.", ""]
    if cfg["profile"] != "full":
        t = cfg["train"]
        lines += [f"Profile `{cfg['profile']}` is smaller than the paper's study (the full profile): "
                  f"{t['runs']} runs (paper: 10), at most {t['epochs']} epochs with early-stopping patience "
                  f"{t['early_stopping_patience']} (paper: 50), batch {t['batch_size']} (paper: 512), "
                  f"backward optimisation {cfg['bo']['steps']} iterations (paper: 5000), σ_LRP over "
                  f"{cfg['lrp']['sigma_samples'] or 'all'} evaluation windows (paper: all, ~6000 earthquakes + ~6000 noise), "
                  "cross-run LRP rules "
                  f"{cfg['lrp']['cross_run_betas']} (paper: β = 0, 0.5, 1); numbers are not comparable to the "
                  "paper's.", ""]
    lines += ["## Detection (evaluation split)", "",
             "| | accuracy | precision | recall | F1 |", "|---|---|---|---|---|"]
    for name, m in metrics["evaluation"]["runs"].items():
        lines.append(f"| run {name} | {_f(m['accuracy'])} | {_f(m['precision'])} | {_f(m['recall'])} | {_f(m['f1'])} |")
    lines.append("| **mean ± std (ours)** | " + " | ".join(f"{_f(ev[k]['mean'])} ± {_f(ev[k]['std'], 5)}"
                                                     for k in ("accuracy", "precision", "recall", "f1")) + " |")
    lines += ["| paper (10 runs, AQULO) | 0.9758 ± 0.0008 | | | |", ""]
    fmv = metrics["fmv"]
    fc = fmv["fraction_correlated_channels"]
    cr = fmv["cross_run"]
    lines += ["## Feature maps (§3.1)", "",
              "| quantity | ours | paper |", "|---|---|---|",
              f"| {fmv['layer']} channels with a partner r > {fmv['threshold']:g}, sample B, model A | "
              f"{_f(fc['reference_sample'], 2)} | 0.49 |",
              f"| same, mean over the chosen earthquakes / noise windows | {_f(fc['mean_earthquakes'], 2)} / "
              f"{_f(fc['mean_noise'], 2)} | — |",
              f"| run A channels matched (r > {fmv['threshold']:g}) in another run, mean over runs | "
              f"{_f(cr['mean_fraction_reference_sample'], 2)} | > 0.75 |", ""]
    bo = metrics["backward_optimisation"]
    hf = bo["high_frequency_share"]
    lines += ["## Backward optimisation (§3.2)", "",
              "| quantity | ours | paper |", "|---|---|---|",
              f"| optimal-input components within ±1 (zero init, all runs) | "
              f"{_f(bo['fraction_components_within_unit_amplitude'], 2)} | 0.83 (25/30) |",
              f"| spectrum share above {hf['split_hz']:g} Hz: optimal inputs / training positives | "
              f"{_f(hf['optimal_zero_init_mean'], 3)} / {_f(hf['training_positives'], 3)} | optimal inputs richer in "
              "high frequencies |",
              f"| real init (sample B): loss before → after | {_f(bo['real_init']['initial_loss'])} → "
              f"{_f(bo['real_init']['final_loss'])} | small changes, mostly before P |",
              f"| real init: mean abs change 0–5 s / 5–10 s | {_f(bo['real_init']['mean_abs_change_first_5s'])} / "
              f"{_f(bo['real_init']['mean_abs_change_5_to_10s'])} | more change in the first 5 s |"]
    if "noise_prototype" in bo:
        npt = bo["noise_prototype"]
        lines.append(f"| max amplitude: noise prototype / earthquake prototypes | {_f(npt['max_abs'], 3)} / "
                     f"{_f(npt['earthquake_prototype_max_abs_mean'], 3)} | noise prototype of very low amplitude |")
    lrp = metrics["lrp"]
    s = lrp["sigma_lrp_s"]
    lines += ["", "## LRP (§3.3)", "",
              "| quantity | ours | paper |", "|---|---|---|",
              f"| σ_LRP ({lrp['sigma_rule']}) vs epicentral distance, Spearman | {_f(s['spearman_vs_distance'], 2)} | "
              "positive (more spread for distant events) |",
              f"| σ_LRP median, earthquakes / noise (s) | {_f(s['earthquake_median'], 2)} / {_f(s['noise_median'], 2)} | "
              "noise larger |",
              f"| total relevance of noise windows (mean) | {_f(lrp['noise_relevance_sum_mean'], 3)} | negative |"]
    diag = lrp.get("logit_diagnostics", {})
    if "earthquake" in diag and "noise" in diag:
        e, n = diag["earthquake"], diag["noise"]
        lines.append(f"| model A logit mean ± std, earthquakes / noise (active fc1 units) | {_f(e['logit_mean'], 2)} ± "
                     f"{_f(e['logit_std'], 2)} ({_f(e['active_fc1_units_mean'], 1)}) / {_f(n['logit_mean'], 2)} ± "
                     f"{_f(n['logit_std'], 2)} ({_f(n['active_fc1_units_mean'], 1)}) | — |")
    for rule, per_run in lrp["cross_run_pearson_reference_sample"].items():
        if per_run:
            lines.append(f"| {rule}: relevance of sample B, Pearson r with run A (mean over runs) | "
                         f"{_f(float(np.mean(list(per_run.values()))), 2)} | β = 0, 0.5 consistent; β = 1 less |")
    q = metrics["quality"]
    lines += ["", "## Explanation quality (ours; ground truth: the P–S window)", ""]
    if "skipped" in q:
        lines.append(f"Skipped: {q['skipped']}.")
    else:
        lines += [f"{q['n_samples']} evaluation earthquakes, window {q['window']}.", "",
                  "| metric | value |", "|---|---|",
                  f"| pointing game hit rate | {_f(q['pointing_game_hit_rate'], 3)} |",
                  f"| relevance mass inside the window (uniform relevance would give) | "
                  f"{_f(q['relevance_mass_accuracy_mean'], 3)} ({_f(q['window_fraction_of_samples_mean'], 3)}) |",
                  f"| deletion AUC, LRP order / random order (lower = better) | "
                  f"{_f(q['deletion_auc']['relevance_order_mean'], 3)} / {_f(q['deletion_auc']['random_order_mean'], 3)} |"]
        rnd = q.get("randomisation_spearman_by_layer")
        if rnd:
            lines.append("| randomisation test, Spearman r after randomising down to each layer | "
                         + ", ".join(f"{k} {v:.2f}" for k, v in rnd.items()) + " |")
            above_first = list(rnd.values())[:-1]
            if above_first and min(above_first) > 0.8:
                lines += ["", f"Read the LRP figures with care: the {lrp['sigma_rule']} maps stay rank-correlated "
                          f"(Spearman ≥ {min(above_first):.2f}) with the trained model's even after every layer above "
                          "the first is re-initialised, i.e. they show the input seen through the first convolution "
                          "more than what the upper layers learned (the failure of αβ / z⁺ rules described by "
                          "Sixt et al. 2020, 'When explanations lie'). The σ_LRP and P–S numbers inherit this."]
    sc = metrics["scan"]
    lines += ["", "## Scan of a continuous record (seis_keras.scan)", "",
              f"Model A over the built-in {sc['record_s']:.0f} s record ({sc['n_events']} events), stride "
              f"{sc['settings']['stride_s']:g} s, threshold {sc['settings']['threshold']:g}: {sc['n_detections']} "
              f"detections, recall {_f(sc['recall'], 2)}, false alarms {sc['false_alarms']} "
              "(an event counts as found when a detection overlaps its P onset to coda end).", "",
              "## Files", "",
              "`metrics.json` (every number above), `figures/*.png`, `model/` (run A: model.h5, model.keras, "
              "model_serving/ SavedModel, input_contract.json; `seis-keras scan --model <run>/model --stream FILES`), "
              "`runs/<name>/` "
              "(history.csv, tensorboard/, model.h5), `scan_detections.csv`, `config.json`.", "",
              "## Settings used", "", "```json", json.dumps(cfg, indent=1, default=str), "```", "",
              f"Wall time: {metrics['timings']['total_s']:.0f} s "
              f"({', '.join(f'{k[:-2]} {v:.0f} s' for k, v in metrics['timings'].items() if k != 'total_s')})."]
    return "\n".join(lines) + "\n"
