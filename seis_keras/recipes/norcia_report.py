"""The Norcia recipe's run-folder outputs: confusion-matrix figures, the exported model, report.md.

The paper's numbers (Laurenti et al. 2024, Tables 1 and 2, Figs. 5 and 6) are written beside
ours so a run reads as a reproduction.
"""
from __future__ import annotations

import json

#: Laurenti et al. 2024 Table 1 (test accuracy %, mean ± std over 3 runs): 2, 2 PRE, 2 POST, 4, 8, 9.
PAPER_TABLE1 = {
    "FDMO": ("98.84 ± 0.22", "99.19 ± 0.19", "98.49 ± 0.52", "68.81 ± 1.86", "45.81 ± 3.29", "47.05 ± 0.83"),
    "MC2": ("99.16 ± 0.43", "98.93 ± 0.25", "99.40 ± 0.72", "63.90 ± 2.96", "55.03 ± 5.96", "53.04 ± 2.73"),
    "MMO1": ("84.61 ± 0.69", "79.45 ± 2.47", "89.80 ± 2.68", "54.92 ± 2.46", "39.04 ± 2.99", "39.33 ± 1.55"),
    "NRCA": ("99.19 ± 0.12", "99.16 ± 0.19", "99.22 ± 0.07", "68.21 ± 4.85", "44.69 ± 1.76", "57.94 ± 4.42"),
    "T1212": ("77.52 ± 3.37", "62.37 ± 7.36", "92.71 ± 1.61", "69.67 ± 7.22", "46.41 ± 3.99", "41.02 ± 6.98"),
    "T1213": ("99.69 ± 0.13", "99.84 ± 0.13", "99.53 ± 0.38", "80.57 ± 0.60", "67.68 ± 4.31", "64.57 ± 1.64"),
    "T1214": ("84.47 ± 7.03", "77.62 ± 17.23", "91.31 ± 4.43", "61.48 ± 5.81", "36.76 ± 2.35", "40.96 ± 7.64"),
    "T1216": ("92.65 ± 0.83", "96.45 ± 0.90", "88.85 ± 1.51", "59.53 ± 3.40", "40.93 ± 2.70", "31.83 ± 1.97"),
    "T1244": ("96.83 ± 0.55", "98.85 ± 0.42", "94.81 ± 0.95", "71.25 ± 1.11", "49.92 ± 1.61", "46.66 ± 1.43"),
}
#: Table 2 (station NRCA): date -> (performance %, NM/NC, FP %).
PAPER_TABLE2 = {"2016-10-11": (95.88, "149/42", 71.8), "2016-10-16": (95.63, "107/38", 64.5),
                "2016-10-21": (95.55, "43/38", 11.6), "2016-10-30": (98.84, "-", None),
                "2016-11-04": (95.00, "64/36", 43.7), "2016-11-09": (93.42, "121/45", 62.8),
                "2016-11-14": (90.07, "171/41", 76.0), "2016-11-19": (79.58, "261/61", 76.6)}


def class_figures(classes: dict, folder) -> None:
    """Fig. 3: one row of confusion matrices (first run) per station."""
    from seis_keras.plots.norcia import confusion_matrices

    for station, by_n in classes.items():
        mats = {f"{n} classes": (run0["confusion_matrix"], run0["class_names"])
                for n, entry in by_n.items() for run0 in [entry["runs"][0]]}
        folder.save_figure(confusion_matrices(mats, title=f"station {station}, test set (run 0)"),
                           f"confusion_{station}")


def export(model, folder, station: str) -> dict:
    """The 2-class model of ``station``: ``model/norcia_2class.h5``/``.keras``/``_serving/``."""
    from seis_keras.train.export import export_model

    paths = export_model(model, folder.path / "model", name=f"norcia_{station}_2class")
    return {k: str(v.relative_to(folder.path)) for k, v in paths.items()}


def _pm(summary: dict, key: str, index=None) -> str:
    s = summary[key]
    m, sd = (s["mean"], s["std"]) if index is None else (s["mean"][index], s["std"][index])
    if m is None:
        return "–"
    return f"{100 * m:.2f} ± {100 * (sd or 0):.2f}"


def _fmt(v, digits=1, pct=False):
    if v is None or v != v:  # None or NaN
        return "–"
    return f"{v:.{digits}f}{' %' if pct else ''}"


def markdown(metrics: dict, cfg: dict) -> str:
    """report.md: data, settings, Table 1, Table 2, Fig. 5, Fig. 6, explanations, wall times."""
    d, t, m = metrics["data"], cfg["train"], cfg["model"]
    lines = ["# Laurenti et al. 2024 — Norcia foreshocks/aftershocks and time to failure (SPEC §2)", "",
             f"Data: {d['source']}; {d['n_traces']} traces; stations {', '.join(d['stations'])}; "
             f"{d['n_skipped']} traces skipped on reading.", "",
             "## Settings", "",
             f"- Profile `{metrics['profile']}`, seed {metrics['seed']} (run i: seed + i); parts: {', '.join(metrics['parts'])}.",
             f"- Model: 7 conv blocks {m['blocks']} (paper: 32..256 filters), dilation {m['dilation'] or 'none'}, "
             f"dropout {m['dropout']}; input L2-normalised per channel.",
             f"- Training: {t['optimizer']} lr {t['learning_rate']}, coupled L2 {t['weight_decay']}, batch "
             f"{t['batch_size']} (last partial dropped), {t['epochs']} epochs, lowest validation loss kept "
             f"= {t['keep_best']}, {t['runs']} run(s).",
             f"- Classes: {cfg['classes']['counts']}; Visso left out of even class counts = "
             f"{cfg['classes']['exclude_visso_even']}; balanced = {cfg['classes']['balance']}; split "
             f"{cfg['split']['kind']} ({cfg['split']['train_head']:.0%} train / {cfg['split']['validation']:.0%} "
             f"validation / {cfg['split']['test']:.0%} test / rest train, by source_id).",
             f"- Mainshock {cfg['data']['mainshock_time']} (UTC; the authors' code uses 07:40:17).", ""]
    if "classes" in metrics:
        lines += ["## Table 1 — test accuracy (%), mean ± std over runs", "",
                  "| station | | 2 | 2 PRE | 2 POST | 4 | 8 | 9 |", "|---|---|---|---|---|---|---|---|"]
        for station, by_n in metrics["classes"].items():
            cells = []
            for n in ("2", "4", "8", "9"):
                if n not in by_n:
                    cells += ["–"] * (3 if n == "2" else 1)
                    continue
                s = by_n[n]["summary"]
                cells.append(_pm(s, "accuracy"))
                if n == "2":
                    cells += [_pm(s, "per_class_accuracy", 0), _pm(s, "per_class_accuracy", 1)]
            lines.append(f"| {station} | ours | " + " | ".join(cells) + " |")
            if station in PAPER_TABLE1:
                lines.append(f"| {station} | paper | " + " | ".join(PAPER_TABLE1[station]) + " |")
        first = next(iter(metrics["classes"].values()))
        counts = {n: e["runs"][0]["counts"] for n, e in first.items()}
        lines += ["", f"Traces per split (first station, run 0): {json.dumps(counts)}. Confusion matrices: "
                  "`figures/confusion_<station>.png` (Fig. 3).", ""]
    if "wrong_dates" in metrics:
        w = metrics["wrong_dates"]
        lines += ["## Table 2 — wrong mainshock dates (station "
                  f"{metrics['experiment_station']}; scored on the true labels)", "",
                  "| date | accuracy (ours) | NM/NC (ours) | FP (ours) | accuracy (paper) | NM/NC (paper) | FP (paper) |",
                  "|---|---|---|---|---|---|---|"]
        for r in w["table"]:
            date = "2016-10-30" if r["true_date"] else r["date"]
            p = PAPER_TABLE2.get(date, (None, "–", None))
            nmnc = "–" if r["true_date"] else f"{r['NM']}/{r['NC']}"
            lines.append(f"| {date}{' (true)' if r['true_date'] else ''} | {_fmt(r['accuracy'], 2)} | {nmnc} | "
                         f"{'–' if r['true_date'] else _fmt(r['FP'])} | {_fmt(p[0], 2)} | {p[1]} | {_fmt(p[2])} |")
        lines += ["", "NM: test events between the fake and the true date (mislabelled in training); NC: of them, "
                  "classified with the true label; FP = (NM − NC)/NM, the share following the fake label. "
                  f"Visso events included: {not w['exclude_visso']}; split: {w['split']} (same_events: the true-date "
                  "events and split, only the labels changed). Figure: `figures/wrong_dates.png` (Fig. 4b).", ""]
    if "bandpass" in metrics:
        b = metrics["bandpass"]
        lines += ["## Fig. 5 — binary models on band-passed traces", "",
                  "| band (Hz) | test accuracy (%) |", "|---|---|"]
        lines += [f"| {r['band_low_hz']:g}–{r['band_high_hz']:g} | {r['accuracy']:.1f} ± {r['accuracy_std']:.1f} |"
                  for r in b["table"]]
        lines += ["", f"Raw traces: {_fmt(b['raw_accuracy'], 2)} %. Mean over bands overlapping the {b['band_kind']} "
                  f"band {b['band'][0]:g}–{b['band'][1]:g} Hz: {_fmt(b['mean_accuracy_in_band'])} %; bands below "
                  f"10 Hz: {_fmt(b['mean_accuracy_below_10hz'])} %. Paper: similar to raw (98.8 %) above 10 Hz, a "
                  "significant drop below 10 Hz. Figure: `figures/bandpass.png`.", ""]
    if "pairs" in metrics:
        p = metrics["pairs"]
        lines += ["## Fig. 6 — co-located pre/post pairs", "",
                  f"{p['n_pairs']} pairs (±{cfg['pairs']['max_distance_km'] * 1000:.0f} m, ±"
                  f"{cfg['pairs']['max_magnitude_difference']} M) among {p['n_events']} events at station "
                  f"{metrics['experiment_station']} (paper: 918 pairs in the catalogue, 253 at NRCA)."]
        if p["n_pairs"]:
            lines += [f"Geometric-mean post/pre amplitude ratio (multitaper, NW {cfg['pairs']['multitaper_nw']}): "
                      f"{p['mean_ratio_in_band']:.2f} in {p['band'][0]:g}–{p['band'][1]:g} Hz vs "
                      f"{p['mean_ratio_reference_band']:.2f} in {p['reference_band_hz'][0]:g}–"
                      f"{p['reference_band_hz'][1]:g} Hz; {p['fraction_of_pairs_richer_in_band']:.0%} of the pairs "
                      "are relatively richer in the band."
                      + (f" Planted gain ratio of these pairs: {p['planted_gain_ratio']:.2f}." if "planted_gain_ratio" in p
                         else "") + " Paper: aftershocks richer in 30–40 Hz for all 253 NRCA pairs. Figure: "
                      "`figures/pairs_spectral_ratio.png`."]
        lines.append("")
    if "explain" in metrics:
        e = metrics["explain"]
        lines += ["## Explanations (ours) — does the network look at 30–40 Hz?", "",
                  f"Correctly classified test traces explained: {e['n_per_class'][0]} pre, {e['n_per_class'][1]} post. "
                  f"Share of spectral power in the {e['band_kind']} band {e['band'][0]:g}–{e['band'][1]:g} Hz "
                  f"(``band_power_fraction``, 0 Hz left out); uniform share {e['uniform_share']:.3f}.", "",
                  "| method | pre | post | all | ÷ input share | ÷ uniform share |", "|---|---|---|---|---|---|"]
        if "input_share" in e:
            lines.append(f"| input traces | {_fmt(e['input_share'].get('pre'), 3)} | "
                         f"{_fmt(e['input_share'].get('post'), 3)} | | | |")
        for name, r in e["methods"].items():
            bs = r["band_share"]
            lines.append(f"| {name} | {_fmt(bs.get('pre'), 3)} | {_fmt(bs.get('post'), 3)} | {r['band_share_all']:.3f} | "
                         f"{r['enrichment_vs_input']:.2f} | {r['enrichment_vs_uniform']:.2f} |")
        if "spectral_gradient_x_input_share" in e["methods"].get("saliency", {}):
            lines += ["", "Gradient × input decomposed over frequency (Parseval: each frequency's share of the "
                      "first-order contribution to the logit): share in the band "
                      f"{e['methods']['saliency']['spectral_gradient_x_input_share']:.3f} "
                      f"(uniform {e['uniform_share']:.3f})."]
        lines += ["", "Figures: `figures/explain_relevance_spectra.png`, `figures/explain_<method>_<class>_example.png`.", ""]
    if "exported" in metrics:
        lines += [f"Exported model: {', '.join(metrics['exported'].values())}.", ""]
    lines += ["## Wall times (s)", "", ", ".join(f"{k}: {v}" for k, v in metrics["wall_time_s"].items()), ""]
    return "\n".join(lines)
