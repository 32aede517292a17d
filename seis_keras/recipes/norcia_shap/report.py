"""The norcia_shap recipe's outputs: the exported model with its input contract, and report.md."""
from __future__ import annotations

from seis_keras.models import CONTRACT_FILE
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.shap_maps import METHOD_LABELS
from seis_keras.recipes.norcia_shap.study import PAPER, SPLIT_LABELS
from seis_keras.train.export import export_model


def export(model, contract, folder) -> dict:
    """``model/spectrogram_cnn.{h5,keras}``, ``_serving/`` and ``input_contract.json`` (the inputs' recipe).

    The contract names the log spectrogram and the training standardisation, so the exported
    model can be fed raw 25 s traces.
    """
    paths = export_model(model, folder.path / "model", name="spectrogram_cnn")
    prep = folder.write_json(f"model/{CONTRACT_FILE}", contract.to_json())
    out = {k: folder.relative(v) for k, v in paths.items()}
    out["input_contract"] = folder.relative(prep)
    return out


def differences(cfg: NorciaShapConfig, metrics: dict) -> list[str]:
    """Plain sentences on where this run's settings leave the authors' code (SPEC §3), and why."""
    p, sh, sp, t = cfg.preprocess, cfg.shap, cfg.split, cfg.train
    out = []
    if metrics["data"]["source"].startswith("built-in"):
        out.append("The traces are built-in synthetic ones with a planted 30–40 Hz change (ground truth for the "
                   "trust checks), not the Norcia Zenodo traces: scores and maps check the pipeline, not the paper.")
    out.append("Labels come from the trace start time against the mainshock time; the code reads them from the "
               "file names (_pre / _post), which split at the mainshock.")
    out.append(f"The splits are drawn from seed {cfg.seed} with numpy; the code shuffles file names with "
               "random.seed(42), so the same traces do not land in the same parts.")
    if sp.primary != "trace":
        out.append("The explained and exported model is the event-split one; the code's is the trace split.")
    if "trace" not in sp.groupings:
        out.append("The published protocol (random split by trace) was not run (`split.groupings`).")
    if "event" in sp.groupings:
        out.append("Beside the code's split by trace, a split by event is run (ours): on the trace split one event's "
                   "records at different stations land in training and test, so its score is optimistic.")
    if cfg.model.init != "pytorch":
        out.append("Weights start from Keras's Glorot-uniform initialisation (zero biases); the code's PyTorch layers "
                   "start from their defaults (U(±1/√fan_in)).")
    if sh.target != "logit":
        out.append("SHAP explains the logit margin (predicted minus other logit); the code explains the top predicted "
                   "class's logit.")
    if not p.quantise_uint8:
        out.append("Spectrograms stay float32: the code stores them as 8-bit PNG images (floor(255·x)) and scales "
                   "each 32-sample batch to uint8 for the SHAP masker (`preprocess.quantise_uint8 = true`): a storage "
                   "artefact that rounds the input and makes a sample's SHAP input depend on its batch.")
        if sh.float_inpaint:
            out.append("The inpainting masker fills masked cells in float32 per channel; the code's shap masker "
                       "inpaints the uint8 image.")
    if sh.aggregation != "batch_signed_max":
        out.append("Class means normalise all maps by one max |value| and average all correct samples; the code "
                   "divides each 32-sample batch by its signed max and averages the per-batch class means.")
    if (sh.batches, sh.batch_samples, sh.max_evals) != (20, 32, 1000):
        out.append(f"SHAP on {sh.batches} batch(es) of {sh.batch_samples} {sh.explain_split} spectrograms at "
                   f"max_evals {sh.max_evals}; the code: 20 batches of 32 at max_evals 1000.")
    if t.epochs != 10:
        out.append(f"{t.epochs} training epochs; the code trains 10.")
    if "gradient" in sh.methods:
        out.append("GradientExplainer SHAP is ours, beside the code's Partition explainer.")
    out.append("The trust checks (randomisation, localisation, deletion) are ours; the slides show the maps "
               "without such checks.")
    return out


def _split_rows(metrics: dict, cfg: NorciaShapConfig) -> list[str]:
    rows = []
    for g in cfg.split.groupings:
        s = metrics[f"training_{g}"]
        n_shared = s["split"]["events_in_several_splits"]
        rows.append(f"| ours, {SPLIT_LABELS[g]}{' (explained)' if g == cfg.split.primary else ''} | "
                    f"{s['accuracy']:.4f} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} | "
                    f"{s['split']['split']['test']} | {n_shared} |")
    return rows


_REFERENCES = {"train": "random training spectrograms",
               "other_class": "training spectrograms of the class other than the explained one"}


_CELLS = {"row": "each frequency row's SHAP summed over time and channels (its relevance on the whole spectrogram, "
                  "as the Norcia recipe's DFT band shares; `band_share(map, freqs, band, freq_axis=1, sum_axes=(2, 3))`)",
          "cell": "each (frequency, time, channel) cell (`band_share(map, freqs, band, freq_axis=1)`)"}


def _ceiling(r: dict) -> str:
    c = r.get("ceiling")
    return "not run" if c is None else f"{c['band_share']:.3f} ({c['over_uniform']:.2f}×)"


def _over_ceiling(r: dict) -> str:
    c = r.get("ceiling")
    return "—" if c is None else f"{c['over_ceiling']:.2f} (n={c['n']})"


def _masker_lines(e: dict) -> list[str]:
    r = e["methods"].get("partition", {})
    if "ceiling" not in r:
        return []
    rows = {r["ceiling"]["masker"] + " (the recipe's)": r["ceiling"], **r.get("maskers", {})}
    n = r["ceiling"]["n"]
    lines = [f"Partition SHAP by masker, on the first {n} explained spectrograms (trained CNN and the band-only model "
             "explained alike; ÷ ceiling = what the CNN reaches of what the masker lets a band-only model reach):", "",
             "| masker | CNN share (÷ uniform) | band-only model = ceiling (÷ uniform) | CNN ÷ ceiling |",
             "|---|---|---|---|"]
    for name, c in rows.items():
        lines.append(f"| {name} | {c['model_share']:.3f} ({c['model_over_uniform']:.2f}×) | {c['band_share']:.3f} "
                     f"({c['over_uniform']:.2f}×) | {c['over_ceiling']:.2f} |")
    return lines + ["", "The ceiling is what a masker lets a model that reads only the band reach, not a bound for a "
                    "network that also reads the rows around it: a CNN ÷ ceiling above 1 means the masker credits the "
                    "CNN's band more than the band-only model's; where the maskers rank the two the other way round, "
                    "the share measures the masker with the model, not the band's use alone.", ""]


def _shap_lines(e: dict, trust: dict | None) -> list[str]:
    cells = e.get("share_cells", "cell")
    other = "cell" if cells == "row" else "row"
    ns = {name: r["n"] for name, r in e["methods"].items()}
    counts = " / ".join(f"{n} ({METHOD_LABELS[m].split(' (')[0]})" for m, n in ns.items())
    correct = "; ".join(f"{METHOD_LABELS[m].split(' (')[0]}: {r['n_correct']['foreshocks']} foreshocks and "
                        f"{r['n_correct']['aftershocks']} aftershocks" for m, r in e["methods"].items())
    con = e["input_contrast_by_cells"]
    lines = ["## SHAP maps and their frequency band", "",
             f"{counts} {e['explain_split']} spectrograms explained (shuffled batches of the same draw, every sample "
             f"for its top class); correctly classified: {correct} (slides: 316 and 301). Band: {e['band_kind']} "
             f"{e['band'][0]:g}–{e['band'][1]:g} Hz. Share = positive part of {_CELLS[cells]}, in the band's rows / "
             f"all rows, 0 Hz left out (`shap.share_cells = \"{cells}\"`; the per-{other} share is the column beside "
             "it); input = the explained traces' energy share in the band; "
             f"uniform = the band's share of the frequency rows ({e['uniform_share']:.3f}); input contrast = the band's "
             "share of the model input's own class difference (mean post − mean pre of "
             f"{e['contrast_samples']} training spectrograms, per {cells}: {con[cells]:.3f} = "
             f"{con[cells] / e['uniform_share']:.2f}× uniform; per {other} {con[other] / e['uniform_share']:.2f}×), "
             "what a map that follows where the classes differ in the input would put in the band. Explained score: "
             f"{'the logit margin' if e['target'] == 'margin' else 'the predicted class logit (the code)'}; "
             f"GradientExplainer background: {_REFERENCES[e['gradient_reference']]}.", "",
             "Ceiling = the share the same explainer and settings give a model that reads only the band's rows "
             "(`shap_maps.band_reader`, on the first explained spectrograms): what a network using nothing but the band "
             "would score; ÷ ceiling compares the CNN's share on those same spectrograms with it.", "",
             f"| method | verdict | n | foreshocks | aftershocks | all | ÷ uniform | per {other} ÷ uniform | input | "
             "÷ input | ÷ input contrast | ceiling (÷ uniform) | ÷ ceiling | \\|SHAP\\| share | "
             "class-mean maps (fore / after) | time (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    nan = float("nan")
    for name, r in e["methods"].items():
        bs, cm = r["band_share"], r["class_mean_map_band_share"]
        verdict = trust["methods"][name]["verdict"] if trust else "not checked"
        lines.append(f"| {METHOD_LABELS[name]} | {verdict} | {r['n']} | {bs.get('foreshocks', nan):.3f} | "
                     f"{bs.get('aftershocks', nan):.3f} | {r['band_share_all']:.3f} | {r['over_uniform']:.2f} | "
                     f"{r['by_cells'][other]['over_uniform']:.2f} | {r['input_share']:.3f} | "
                     f"{r['over_input']:.2f} | {r['over_input_contrast']:.2f} | {_ceiling(r)} | {_over_ceiling(r)} | "
                     f"{r['abs_band_share_all']:.3f} | "
                     f"{cm.get('foreshocks', nan):.3f} / {cm.get('aftershocks', nan):.3f} | {r['wall_time_s']} |")
    lines.append("")
    lines += _masker_lines(e)
    for name, r in e["methods"].items():
        b = r["frequency_blocks"]
        if b["n"] < 33:
            lines += [f"{METHOD_LABELS[name]} maps are constant over {b['n']} frequency blocks of the 33 rows "
                      f"(blocks start at {', '.join(f'{f:g}' for f in b['first_rows_hz'])} Hz: the explainer's "
                      "partition tree at this max_evals), so a band edge inside a block cannot be resolved.", ""]
    lines += ["Figures: `figures/shap_<method>_class_mean.png` (class means, frequency in Hz, time in s), "
              "`figures/shap_<method>_spectra.png` (SHAP per frequency as the share counts it, beside the traces' "
              "spectra), `figures/shap_<method>_<class>_<i>.png` (one spectrogram and its map).", ""]
    return lines


_LOCALISATION = {"row": "read on each map's frequency rows summed over time and channels, 0 Hz left out, as the band "
                         "shares above; uniform = the band's share of the 32 rows",
                 "cell": "read on every cell; uniform = the band's share of the 33 frequency rows"}


def _trust_lines(t: dict) -> list[str]:
    lines = ["## Trust", "",
             "Each SHAP method is checked (`seis_keras.explain.trust`, thresholds in `[trust]`): cascading "
             "randomisation of the CNN from the logits down (SHAP again on the randomised copies), localisation "
             f"against the planted band (ground truth: {t['localisation_ground_truth']}; "
             f"{_LOCALISATION[t.get('localisation_cells', 'cell')]}), and deletion of spectrogram cells most relevant first against random "
             "orders (the explained logit). A method is *trusted* only when every check that ran passed.", "",
             t["table"]]
    if t["headline"] is None:
        lines.append("No method passed its checks: the maps are shown with their verdicts, none as the answer; "
                     "no headline figure.")
    else:
        lines.append(f"Headline (`figures/shap_headline.png`): {METHOD_LABELS[t['headline']]}, the best method "
                     "that passed.")
    part = t["methods"].get("partition")
    if part is not None:
        lines.append(f"The code's method, Partition SHAP, is **{part['verdict']}** ({part['rule']}).")
    lines += ["", "Curves: `figures/trust_randomisation.png`, `figures/trust_deletion.png`.", ""]
    return lines


def markdown(metrics: dict, cfg: NorciaShapConfig) -> str:
    """The run's report.md."""
    d, t = metrics["data"], cfg.train
    published = {k: PAPER[k].value for k in ("accuracy", "precision", "recall", "f1")}
    prep = metrics[f"preprocessing_{cfg.split.primary}"]
    lines = ["# Magrini & Marrocco — log-spectrogram CNN on Norcia foreshocks/aftershocks, with SHAP (SPEC §3)", "",
             f"Data: {d['source']}; {d['n_traces']} traces ({d['n_skipped']} skipped on reading).", "",
             "## Settings", "",
             f"- Profile `{cfg.profile}`, seed {metrics['seed']}.",
             f"- Input: scipy spectrogram nperseg {cfg.preprocess.nperseg}, noverlap {cfg.preprocess.noverlap} "
             f"-> (33, 153, 3), log1p, min-max per channel{', 8-bit levels' if cfg.preprocess.quantise_uint8 else ''}"
             f", training mean/std of the explained split (mean {[round(v, 4) for v in prep['mean']]}, "
             f"std {[round(v, 4) for v in prep['std']]}).",
             f"- CNN2D filters {list(cfg.model.filters)}, dense {cfg.model.hidden_units}; {t.optimizer} lr "
             f"{t.learning_rate}, batch {t.batch_size}, {t.epochs} epochs, last weights kept = {not t.keep_best}.", "",
             "## Test metrics (aftershock = positive class)", "",
             f"Random {'/'.join(str(round(100 * f)) for f in cfg.split.fractions)} split(s), one row each: "
             + "; ".join(SPLIT_LABELS[g] for g in cfg.split.groupings) + ".", "",
             "| | accuracy | precision | recall | F1 | test traces | events in several parts |",
             "|---|---|---|---|---|---|---|", *_split_rows(metrics, cfg),
             f"| published (all stations, random split by trace) | {published['accuracy']:.4f} | "
             f"{published['precision']:.4f} | {published['recall']:.4f} | {published['f1']:.4f} | | |", "",
             f"Published NRCA alone: accuracy {PAPER['nrca_accuracy'].value}. Confusion matrices: "
             "`figures/confusion_<split>.png`."]
    s = metrics[f"training_{cfg.split.primary}"]
    if "per_group" in s:
        lines.append(f"Per station ({cfg.split.primary} split): "
                     + ", ".join(f"{k} {v['accuracy']:.3f} (n={v['n']})" for k, v in s["per_group"].items()) + ".")
    lines.append("")
    if "shap" in metrics:
        lines += _shap_lines(metrics["shap"], metrics.get("trust"))
    if "trust" in metrics:
        lines += _trust_lines(metrics["trust"])
    lines += ["## Where this run differs from the code, and why", ""] + [f"- {x}" for x in differences(cfg, metrics)]
    lines += ["", f"Exported ({cfg.split.primary} split): {', '.join(metrics['exported'].values())}.", "",
              "## Wall times (s)", "", ", ".join(f"{k}: {v:.1f}" for k, v in metrics["timings_s"].items()), ""]
    return "\n".join(lines)
