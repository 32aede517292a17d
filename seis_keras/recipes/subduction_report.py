"""What the ml4szeq subduction recipe writes: summaries, the exported models, report.md.

Kept apart from :mod:`seis_keras.recipes.subduction` (the study itself, which reads top to
bottom like the paper's methods) so both stay short.
"""
from __future__ import annotations

import numpy as np

from seis_keras.atomic import write_json
from seis_keras.data.subduction import FEATURE_COLUMNS, REGION, validation_rows

PAPER_CLAIMS = (
    "F1 is reported against the exclusion distance for two classes (Mw < 8.0 / Mw ≥ 8.0, README "
    "panel A) and three classes (Mw < 6.4, 6.4 ≤ Mw < 8.3, Mw ≥ 8.3, panel B); the README describes "
    "'trends in model accuracy with increasing exclusion distances, highlighting the model's "
    "robustness and sensitivity to data partitioning' (no numbers are given in the public text).",
    "LRP heatmaps (ε-rule toward the predicted class, true positives, robust-scaled per sample, "
    "per-class median) are used to identify the features critical for large-earthquake segments.",
)


def data_summary(table, source: str) -> dict:
    """Rows read / dropped / kept, per region, and the no-event replacement count."""
    per_region = table.frame[REGION].value_counts().sort_index()
    return {"source": source, "n_read": table.n_read, "n_dropped_missing": table.n_dropped,
            "n_rows": len(table.frame), "dropped_per_region": table.dropped_per_region,
            "rows_per_region": {str(k): int(v) for k, v in per_region.items()},
            "n_no_event_set_to_mw4": table.n_no_event}


def class_summary(scheme, table, transforms) -> dict:
    """Class cuts (in Mw, with the transforms fitted on all rows) and class counts."""
    labels = scheme.labels(table.target, transforms)
    return {"cuts": list(scheme.cuts), "space": scheme.space, "mw_cuts_all_rows": scheme.mw_cuts(transforms),
            "names": scheme.class_names(transforms),
            "counts_all_rows": np.bincount(labels, minlength=scheme.n_classes).tolist()}


def relevance_summary(rel: dict, class_names, planted, cfg: dict) -> dict:
    """Top features per class for every method, and where the planted features rank.

    The planted-feature rank orders features by their median relevance averaged over classes
    (largest first, 1-based); ``planted_in_top_k`` says whether every planted feature is within
    the ``explain.top_k`` best.
    """
    from seis_keras.recipes.subduction_relevance import top_features

    k = int(cfg["explain"]["top_k"])
    out = {}
    for method, r in rel.items():
        med = r["medians"]
        entry = {"counts": r["counts"], "medians": np.where(np.isnan(med), None, med).tolist(),
                 "top_features": dict(zip(class_names, top_features(med, k)))}
        if planted:
            mean = np.nanmean(med, axis=0) if not np.isnan(med).all() else np.zeros(med.shape[1])
            order = [FEATURE_COLUMNS[i] for i in np.argsort(-mean)]
            ranks = {f: order.index(f) + 1 for f in planted if f in order}
            entry["planted_ranks"] = ranks
            entry["planted_in_top_k"] = bool(ranks) and max(ranks.values()) <= k
        out[method] = entry
    return out


def heatmap_figure(rel: dict, class_names, n_classes: int, exclusion_km: float):
    """The per-class median relevance heatmaps of every method (one figure)."""
    from seis_keras.plots.subduction import relevance_heatmaps

    return relevance_heatmaps({m: r["medians"] for m, r in rel.items()}, FEATURE_COLUMNS, class_names,
                              counts={m: r["counts"] for m, r in rel.items()},
                              title=f"{n_classes} classes: median robust-scaled relevance "
                                    f"(CV models, exclusion {exclusion_km:g} km, true positives)")


def export_final_models(table, schemes: dict, cfg: dict, folder, trainers: dict, transforms) -> dict:
    """Train one model per class count on all rows (20 % validation) and save it with its transforms.

    ``transforms`` are the :class:`SubductionTransforms` fitted on all rows.

    Writes, through :func:`seis_keras.train.export.export_model`, ``model_<k>class.h5`` (Keras
    HDF5: for training and the innvestigate worker), ``model_<k>class.keras`` and the serving
    SavedModel ``model_<k>class_serving/`` (probabilities = softmax of the logits; the code's
    sigmoid per class picks the same class), and ``transforms_<k>class.json`` (Yeo–Johnson λ, standardisation mean/scale,
    target quantiles, class cuts) so the model can classify new segments.

    Returns:
        ``{n_classes: {"model": path, "transforms": path, "best_epoch": int}}``.
    """
    from seis_keras.train.export import export_model

    out = {}
    seed = int(cfg["seed"])
    for n_cls, scheme in schemes.items():
        tr = transforms
        X, y = tr.transform(table.features), scheme.labels(table.target, tr)
        fit_i, val_i = validation_rows(np.arange(len(y)), float(cfg["cv"]["validation_fraction"]), seed=seed)
        model, info = trainers[n_cls].fit(X[fit_i], y[fit_i], X[val_i], y[val_i], seed=seed)
        paths = export_model(model, folder.path, name=f"model_{n_cls}class", outputs="logits")
        power = tr.power_
        params = {"features": list(FEATURE_COLUMNS), "yeo_johnson_lambdas": power.lambdas_,
                  "standardize_mean": power._scaler.mean_ if power.standardize else None,
                  "standardize_scale": power._scaler.scale_ if power.standardize else None,
                  "target_quantiles": tr.quantile_.quantiles_.ravel(), "target_references": tr.quantile_.references_,
                  "class_cuts": list(scheme.cuts), "class_cut_space": scheme.space,
                  "class_names": scheme.class_names(tr), "output": "logits"}
        transforms_path = write_json(folder.file(f"transforms_{n_cls}class.json"), params)
        out[str(n_cls)] = {"model": paths["h5"].name, "keras": paths["keras"].name,
                           "serving": paths["savedmodel"].name, "transforms": transforms_path.name,
                           "best_epoch": info["best_epoch"]}
    return out


def _pm(s: dict) -> str:
    return f"{s['macro_mean']:.3f} ± {s['macro_std']:.3f}"


def markdown(metrics: dict, cfg: dict, names: dict) -> str:
    """The run's report.md: data, settings, F1 table beside the baselines, relevance, claims."""
    d, t, cv = metrics["data"], cfg["train"], cfg["cv"]
    lines = ["# ml4szeq subduction segments by maximum magnitude (SPEC §5)", "",
             f"Data: {d['source']} — {d['n_read']} rows read, {d['n_dropped_missing']} dropped for missing "
             f"values, {d['n_rows']} used ({d['n_no_event_set_to_mw4']} 'no event' rows set to Mw 4); "
             f"dropped per region: {d['dropped_per_region']}.", "",
             "## Settings", "",
             f"- MLP {cfg['model']['h1']}-{cfg['model']['h2']}, dropout {cfg['model']['dropout']}; loss "
             f"{t['loss']}; Adam lr {t['learning_rate']} ({t['lr_schedule']}); batch {t['batch_size']}; "
             f"{t['epochs']} epochs; balance = {t['balance']}; {t['seeds']} seeds; best validation loss kept.",
             f"- Spatial CV: {cv['n_slices']} along-strike slices per region (by {cv['slice_by']}), "
             f"validation {cv['validation_fraction']:.0%} of the training rows; transforms fitted on "
             f"{metrics['fit_transforms_on']} rows.",
             f"- Profile: {cfg.get('profile', 'full')}; wall time {metrics.get('wall_time_s', float('nan')):.0f} s.", ""]
    for n_cls, c in metrics["classes"].items():
        lines.append(f"- {n_cls} classes: {', '.join(c['names'])} (cuts {c['cuts']} in {c['space']} space; "
                     f"Mw of the cuts on all rows {c['mw_cuts_all_rows']}; counts {c['counts_all_rows']}).")
    for n_cls, by_dist in metrics["f1"].items():
        cuts = np.array([c for e in by_dist.values() for c in e["mw_cuts_per_fold"]], dtype=float)
        if metrics["classes"][n_cls]["space"] == "quantile" and cuts.size:
            lines.append(f"- {n_cls} classes, Mw of the cuts per fold (transforms fitted on "
                         f"{metrics['fit_transforms_on']} rows): " + ", ".join(
                             f"{lo:.2f}–{hi:.2f}" for lo, hi in zip(cuts.min(axis=0), cuts.max(axis=0))) + ".")
    lines += ["", "## F1 (pooled over the 5 test slices; mean ± std over seeds)", ""]
    for n_cls, by_dist in metrics["f1"].items():
        cls_names = names[int(n_cls)]
        lines += [f"### {n_cls} classes", "",
                  "| exclusion (km) | MLP macro F1 | " + " | ".join(f"MLP F1 {n}" for n in cls_names)
                  + " | logistic | majority |",
                  "|---" * (4 + len(cls_names)) + "|"]
        for dist, e in by_dist.items():
            per = " | ".join(f"{m:.3f} ± {s:.3f}" for m, s in zip(e["mlp"]["per_class_mean"], e["mlp"]["per_class_std"]))
            lines.append(f"| {dist} | {_pm(e['mlp'])} | {per} | {e['logistic']['macro_mean']:.3f} | "
                         f"{e['majority']['macro_mean']:.3f} |")
        lines.append("")
    comp = metrics["fit_transforms_comparison"]
    if any(comp.values()):
        lines += ["## Transforms fitted on training rows vs all rows (MLP macro F1, same seeds)", "",
                  "| classes | exclusion (km) | " + " | ".join(k for k in next(iter(next(iter(comp.values())).values()))
                                                            if k != "seeds") + " |", "|---|---|---|---|---|"]
        for n_cls, by_dist in comp.items():
            for dist, e in by_dist.items():
                lines.append(f"| {n_cls} | {dist} | " + " | ".join(f"{v:+.3f}" if "minus" in k else f"{v:.3f}"
                                                                  for k, v in e.items() if k != "seeds") + " |")
        lines.append("")
    lines += ["## Relevance (top features per class, median robust-scaled relevance)", "",
              f"Models: the first seed's cross-validation models at exclusion {cfg['explain']['exclusion_km']} km, "
              f"their test rows ({'true positives' if cfg['explain']['true_positives_only'] else 'all'}); "
              f"LRP-ε {cfg['explain']['lrp_epsilon']} via {cfg['explain']['lrp_backend']}; saliency = |gradient|; "
              "SHAP = gradient SHAP; scaling per sample (r − median) / IQR.", ""]
    for n_cls, rel in metrics["relevance"].items():
        lines += [f"### {n_cls} classes: top {cfg['explain']['top_k']} features per class", "",
                  "| method | class (explained rows) | top features, most relevant first |", "|---|---|---|"]
        for method, r in rel.items():
            lines += [f"| {method} | {name} ({n}) | {', '.join(feats) if feats else '—'} |"
                      for (name, feats), n in zip(r["top_features"].items(), r["counts"])]
        lines.append("")
        planted = [f"- {method}: planted features' ranks (of 49): {r['planted_ranks']}; all in top "
                   f"{cfg['explain']['top_k']}: {r['planted_in_top_k']}" for method, r in rel.items() if "planted_ranks" in r]
        lines += planted + ([""] if planted else [])
    lines += ["## The paper's qualitative claims", ""] + [f"- {c}" for c in PAPER_CLAIMS]
    lines += ["", "Figures: `figures/f1_vs_exclusion.png`, `figures/relevance_<k>class.png`. "
              "Models: " + ", ".join(f"`{e['model']}` + `{e['transforms']}`" for e in metrics["exported"].values()), ""]
    return "\n".join(lines)
