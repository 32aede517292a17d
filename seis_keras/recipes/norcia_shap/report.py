"""The norcia_shap recipe's outputs: the exported model with its input contract, and report.md."""
from __future__ import annotations

from seis_keras.models import CONTRACT_FILE
from seis_keras.recipes.norcia_shap.config import NorciaShapConfig
from seis_keras.recipes.norcia_shap.study import PAPER
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


def markdown(metrics: dict, cfg: NorciaShapConfig) -> str:
    """The run's report.md."""
    d, t, s = metrics["data"], cfg.train, metrics["training"]
    published = {k: PAPER[k].value for k in ("accuracy", "precision", "recall", "f1")}
    published_nrca = PAPER["nrca_accuracy"].value
    lines = ["# Magrini & Marrocco — log-spectrogram CNN on Norcia foreshocks/aftershocks, with SHAP (SPEC §3)", "",
             f"Data: {d['source']}; {d['n_traces']} traces ({d['n_skipped']} skipped on reading); split "
             f"{d['split']} by {d['split_grouping']} ({d['events_in_several_splits']} events with traces in "
             "more than one split).", "",
             "## Settings", "",
             f"- Profile `{cfg.profile}`, seed {metrics['seed']}.",
             f"- Input: scipy spectrogram nperseg {cfg.preprocess.nperseg}, noverlap {cfg.preprocess.noverlap} "
             "-> (33, 153, 3), log1p, min-max per channel, training mean/std "
             f"(mean {[round(v, 4) for v in metrics['preprocessing']['mean']]}, "
             f"std {[round(v, 4) for v in metrics['preprocessing']['std']]}).",
             f"- CNN2D filters {list(cfg.model.filters)}, dense {cfg.model.hidden_units}; {t.optimizer} lr "
             f"{t.learning_rate}, batch {t.batch_size}, {t.epochs} epochs, last weights kept = "
             f"{not t.keep_best}.", "",
             "## Test metrics (aftershock = positive class)", "",
             "| | accuracy | precision | recall | F1 |", "|---|---|---|---|---|",
             f"| ours | {s['accuracy']:.4f} | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} |",
             f"| published (all stations) | {published['accuracy']:.4f} | {published['precision']:.4f} | "
             f"{published['recall']:.4f} | {published['f1']:.4f} |", "",
             f"Confusion matrix (rows true foreshock/aftershock): {s['confusion_matrix']} (`figures/confusion.png`). "
             f"Published NRCA alone: accuracy {published_nrca}."]
    if "per_group" in s:
        lines.append("Per station: " + ", ".join(f"{k} {v['accuracy']:.3f} (n={v['n']})" for k, v in s["per_group"].items())
                     + ".")
    lines.append("")
    if "shap" in metrics:
        e = metrics["shap"]
        lines += ["## SHAP", "",
                  f"Correctly classified {e['explain_split']} samples: {e['n_per_class'][0]} foreshocks, "
                  f"{e['n_per_class'][1]} aftershocks (slides: 316 and 301). Share of |SHAP| mass in the "
                  f"{e['band_kind']} band {e['band'][0]:g}–{e['band'][1]:g} Hz; uniform share (band rows / 33) "
                  f"{e['uniform_share']:.3f}.", "",
                  "| method | foreshocks | aftershocks | all | ÷ uniform | class-mean maps (fore / after) | time (s) |",
                  "|---|---|---|---|---|---|---|"]
        for name, r in e["methods"].items():
            bs, cm = r["band_share"], r["class_mean_map_band_share"]
            lines.append(f"| {name} | {bs.get('foreshocks', float('nan')):.3f} | {bs.get('aftershocks', float('nan')):.3f} | "
                         f"{r['band_share_all']:.3f} | {r['enrichment_vs_uniform']:.2f} | "
                         f"{cm.get('foreshocks', float('nan')):.3f} / {cm.get('aftershocks', float('nan')):.3f} | "
                         f"{r['wall_time_s']} |")
        lines += ["", "Figures: `figures/shap_<method>_class_mean.png` (frequency in Hz, time in s), "
                  "`figures/shap_<method>_<class>_<i>.png` (one spectrogram and its map). Class means: maps divided "
                  "by the batch max |value|, averaged over channels, then over the correct samples of each class.", ""]
    lines += [f"Exported: {', '.join(metrics['exported'].values())}.", "",
              "## Wall times (s)", "", ", ".join(f"{k}: {v:.1f}" for k, v in metrics["timings_s"].items()), ""]
    return "\n".join(lines)
