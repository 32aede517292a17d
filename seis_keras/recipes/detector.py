"""Interpreting a CNN earthquake detector with FMV, backward optimisation and LRP.

Majstorović, J., Giffard-Roisin, S. & Poli, P. (2023). Interpreting convolutional neural
network decision for earthquake detection with feature map visualization, backward
optimization and layer-wise relevance propagation methods. Geophys. J. Int. 232(2),
923–939. doi:10.1093/gji/ggac369 (SPEC §1; ``papers/majstorovic2023_…txt``).

Reproduces the study: a 7-layer 1D CNN separates 25 s three-component windows (20 Hz, E/N/Z,
each divided by its maximum) into earthquake and noise; ten runs differing only in seed and
sample order (run A is the reference) give accuracy mean ± std (paper: 0.9758 ± 8e-4 on
AQULO); then the three explanations — feature maps of the 7 conv layers (Figs 3–4, channel
correlations), the optimal input of each class by backward optimisation (Figs 5–6) and LRP-β
/ LRP-ε relevance with σ_LRP against distance (Figs 7–8) — are computed and scored (pointing
game, relevance mass in the P–S window, deletion curve, randomisation test). Model A is
exported and scans a continuous record (``seis_keras.scan``).

    python -m seis_keras.recipes.detector --profile quick          # `make run`: minutes on a CPU
    python -m seis_keras.recipes.detector --data STORE --runs 10   # any earthquake/noise store

Data (``--data``): default the built-in windows of ``seis_keras.data.synthetic.detector_data``
(P/S physics planted, picks known), written to a store in the run folder (or
``data.cache_dir``). ``--data STORE`` takes a store in our/SeisBench layout with a ``label``
column (1 earthquake, 0 noise), or labels derived from ``trace_category`` /
``source_event_category`` (values containing "earthquake", or ``eq``/``ke``, → 1; containing
"noise" → 0; anything else is an error). ``--data DIR`` of obspy-readable files plus
``--picks CSV`` is ingested on the fly (:mod:`seis_keras.data.ingest`): windows starting
``pick_offset_s`` before each P pick are earthquakes, back-to-back windows starting at least
``noise_pick_margin_s`` after any pick and holding none are noise. A store at another rate or
with longer traces (SeisBench, STEAD: 100 Hz, 60 s) is resampled to 20 Hz and cropped to 25 s
windows starting ``pick_offset_s`` before P (:mod:`seis_keras.recipes.detector_data`). The
``split`` column (train/dev/test) is used when present, else a seeded 80/10/10 split.

Sections: 1 data, 2 model and training (ten runs, evaluation table) here; 3 FMV and 4 BO in
:mod:`seis_keras.recipes.detector_explain`; 5 LRP, 6 explanation quality and 7 scan in
:mod:`seis_keras.recipes.detector_lrp`; 8 the run folder, exported model and report in
:mod:`seis_keras.recipes.detector_report`.
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd

from seis_keras.recipes.runner import RunFolder, load_config, recipe_parser

NAME = "detector"
RUN_NAMES = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


# --- 1. Data (§2.1) --------------------------------------------------------------------------
@dataclasses.dataclass
class DetectorData:
    """The windows of the study.

    Attributes:
        store: the :class:`~seis_keras.data.store.WaveformStore`.
        labels: ``(N,)`` int, 1 earthquake, 0 noise.
        splits: ``{"train" | "dev" | "test": row indices}``.
        source: what the data are (for the report).
        built_in: whether the built-in data (ground truth known) are used.
    """

    store: object
    labels: np.ndarray
    splits: dict
    source: str
    built_in: bool


def window_transforms(cfg: dict) -> list:
    """Per-window normalisation (§2.1): optional demean, then divide by the max over 3 components."""
    from seis_keras.data.transforms import Demean, MaxNormalize

    return ([Demean()] if cfg["data"]["demean"] else []) + [MaxNormalize()]


def input_contract(cfg: dict):
    """The trained model's :class:`~seis_keras.scan.InputContract` (stored with the exported model)."""
    from seis_keras.scan import InputContract

    d = cfg["data"]
    return InputContract(sampling_rate=float(d["sampling_rate"]),
                         window_samples=int(round(d["window_s"] * d["sampling_rate"])),
                         component_order=d["component_order"],
                         transforms=("Demean", "MaxNormalize") if d["demean"] else ("MaxNormalize",),
                         class_names=("earthquake",))


def earthquake_labels(meta: pd.DataFrame, where: str) -> np.ndarray:
    """1 earthquake / 0 noise from ``label``, ``trace_category`` or ``source_event_category``."""
    if "label" in meta.columns:
        y = pd.to_numeric(meta["label"], errors="coerce").to_numpy()
        if np.isnan(y).any() or not np.isin(y, (0, 1)).all():
            raise ValueError(f"{where}: column 'label' must hold 0 (noise) or 1 (earthquake) in every row")
        return y.astype(np.int64)
    for col in ("trace_category", "source_event_category"):
        if col in meta.columns:
            v = meta[col].astype(str).str.lower()
            eq = v.str.contains("earthquake") | v.isin(["eq", "ke", "le", "re"])
            noise = v.str.contains("noise")
            bad = sorted(set(v[~(eq | noise)]))
            if bad:
                raise ValueError(f"{where}: column {col!r} has values {bad[:5]} that are neither earthquake "
                                 "nor noise (expected e.g. 'earthquake_local' / 'noise')")
            return eq.to_numpy().astype(np.int64)
    raise ValueError(f"{where}: no column 'label', 'trace_category' or 'source_event_category' "
                     "(expected earthquake/noise labels)")


def data_splits(meta: pd.DataFrame, fractions, seed: int, where: str) -> dict:
    """Row indices of train/dev/test: the ``split`` column, else a seeded split by ``fractions``."""
    if "split" in meta.columns:
        s = meta["split"].astype(str).str.lower().replace({"val": "dev", "validation": "dev", "valid": "dev"})
        bad = sorted(set(s) - {"train", "dev", "test"})
        if bad:
            raise ValueError(f"{where}: column 'split' has values {bad} (expected train/dev/test)")
        splits = {k: np.flatnonzero(s.to_numpy() == k) for k in ("train", "dev", "test")}
    else:
        n = len(meta)
        order = np.random.default_rng(seed).permutation(n)
        f = np.asarray(fractions, float) / np.sum(fractions)
        cut = np.round(np.cumsum(f)[:2] * n).astype(int)
        splits = {k: np.sort(p) for k, p in zip(("train", "dev", "test"), np.split(order, cut))}
    empty = [k for k, v in splits.items() if len(v) == 0]
    if empty:
        raise ValueError(f"{where}: no windows in split(s) {empty} (expected train, dev and test windows)")
    return splits


def ingest_records(directory: Path, picks_csv: str, out: Path, cfg: dict) -> Path:
    """Waveform files + picks -> a store of earthquake (around P picks) and noise windows."""
    from obspy import UTCDateTime

    from seis_keras.data.ingest import read_picks, read_stream, stream_to_windows
    from seis_keras.data.store import write_store

    d = cfg["data"]
    if not picks_csv:
        raise ValueError(f"{directory}: a directory of waveform files needs a picks CSV (--picks or data.picks)")
    picks = read_picks(picks_csv)
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    stream = read_stream(files)
    kw = dict(sampling_rate=d["sampling_rate"], component_order=d["component_order"], window_s=d["window_s"])
    p_picks = picks[picks.get("phase", pd.Series("P", index=picks.index)).astype(str).str.upper() == "P"]
    eq_x, eq_m = stream_to_windows(stream, picks=p_picks, pick_offset_s=d["pick_offset_s"], **kw)
    no_x, no_m = stream_to_windows(stream, stride_s=d["window_s"], picks=picks, **kw)
    pick_t = np.array(sorted(UTCDateTime(str(t)).timestamp for t in picks["time"]))
    start = np.array([UTCDateTime(t).timestamp for t in no_m["trace_start_time"]]) if len(no_m) else np.zeros(0)
    prev = np.searchsorted(pick_t, start + d["window_s"], side="right") - 1  # last pick before window end
    clear = (prev < 0) | (start - pick_t[np.maximum(prev, 0)] >= d["noise_pick_margin_s"])
    eq_m = eq_m.assign(label=1, trace_category="earthquake")
    no_m = no_m[clear].assign(label=0, trace_category="noise")
    if len(eq_m) == 0 or len(no_m) == 0:
        raise ValueError(f"{directory}: got {len(eq_m)} earthquake and {len(no_m)} noise windows "
                         "(expected both; check the picks' station names and times)")
    write_store(out, np.concatenate([eq_x, no_x[clear]]), pd.concat([eq_m, no_m], ignore_index=True),
                sampling_rate=d["sampling_rate"], component_order=d["component_order"])
    return out


def load_data(data: str | None, cfg: dict, folder: RunFolder, seed: int, picks: str | None = None) -> DetectorData:
    """The store of windows, its labels and its splits (section 1 of the docstring)."""
    from seis_keras.data.store import WaveformStore
    from seis_keras.data.synthetic import detector_data

    d = cfg["data"]
    built_in = data is None
    if built_in:
        n = int(d["synthetic_n"])
        parent = Path(d["cache_dir"]) if d["cache_dir"] else folder.path / "data"
        path = parent / f"detector_n{n}_seed{seed}"
        if not (path / "waveforms.hdf5").is_file():
            detector_data(n, seed=seed, earthquake_fraction=float(d["earthquake_fraction"]),
                          sampling_rate=float(d["sampling_rate"]), window_s=float(d["window_s"]),
                          split_fractions=tuple(d["split"]), path=path, block_size=int(d["block_size"]))
        source = f"built-in synthetic windows (seis_keras.data.synthetic.detector_data, n={n}, seed={seed})"
    else:
        path = Path(data)
        if not path.exists():
            raise FileNotFoundError(f"{path}: --data not found (expected a store folder or a folder of waveform files)")
        if not (path / "metadata.csv").is_file():
            path = ingest_records(path, picks or d["picks"], folder.path / "data" / "ingested", cfg)
        source = str(data)
    store = WaveformStore(path)
    where = str(path / "metadata.csv")
    labels = earthquake_labels(store.metadata, where)  # fail early, before any conversion
    splits = data_splits(store.metadata, d["split"], seed, where)
    for name, rows in splits.items():
        if len(np.unique(labels[rows])) < 2:
            raise ValueError(f"{where}: split {name!r} holds only {'earthquake' if labels[rows].all() else 'noise'} "
                             "windows (expected both earthquakes and noise in train, dev and test)")
    t_expected = int(round(d["window_s"] * d["sampling_rate"]))
    if abs(store.sampling_rate - d["sampling_rate"]) > 1e-6 or any(
            store.trace_shape(i)[0] != t_expected for i in range(len(store))):
        from seis_keras.recipes.detector_data import conform_store

        print(f"[{NAME}] {path}: {store.sampling_rate:g} Hz, {store.trace_shape(0)[0]} samples -> resampling to "
              f"{d['sampling_rate']:g} Hz and cropping {d['window_s']:g} s windows", flush=True)
        store = WaveformStore(conform_store(store, folder.path / "data" / "conformed", cfg))
    return DetectorData(store, labels, splits, source, built_in)


def load_windows(data: DetectorData, rows: np.ndarray, cfg: dict) -> np.ndarray:
    """Normalised windows ``(n, 500, 3)`` of some rows, read in the model's component order."""
    from seis_keras.data.transforms import Compose

    x = data.store.get_waveforms(np.asarray(rows), components=cfg["data"]["component_order"])
    return Compose(window_transforms(cfg))(x)


# --- 2. Model and training (§2.3, §2.4) ------------------------------------------------------
@dataclasses.dataclass
class TrainedRun:
    """One of the ten runs: its name (A, B, ...), model, weights file and evaluation metrics."""

    name: str
    model: object
    h5_path: Path
    fit: dict
    metrics: dict


def train_runs(data: DetectorData, cfg: dict, folder: RunFolder, seed: int, x_test: np.ndarray) -> list[TrainedRun]:
    """Train ``train.runs`` models differing only in seed (weights and sample order)."""
    from seis_keras.data.pipeline import make_dataset
    from seis_keras.models import get_model
    from seis_keras.train.export import save_keras_model
    from seis_keras.train.fit import TrainSettings, fit

    t = cfg["train"]
    tr = window_transforms(cfg)
    y_test = data.labels[data.splits["test"]]
    runs = []
    for i in range(int(t["runs"])):
        name = RUN_NAMES[i]
        settings = TrainSettings(optimizer=t["optimizer"], learning_rate=float(t["learning_rate"]),
                                 momentum=float(t["momentum"]), epochs=int(t["epochs"]),
                                 early_stopping_patience=int(t["early_stopping_patience"]), monitor=t["monitor"],
                                 keep_best=bool(t["keep_best"]), seed=seed + i, verbose=0)
        common = dict(label=lambda meta: earthquake_labels(meta, str(data.store.path)), transforms=tr,
                      batch_size=int(t["batch_size"]), components=cfg["data"]["component_order"])
        train_ds = make_dataset(data.store, indices=data.splits["train"], shuffle=True, seed=seed + i,
                                shuffle_buffer=int(t["shuffle_buffer"]), **common)
        val_ds = make_dataset(data.store, indices=data.splits["dev"], **common)
        started = time.time()
        result = fit(lambda: get_model("detector", **cfg["model"]), train_ds, val_ds, settings,
                     folder.path / "runs" / name)
        model = result.model
        h5 = save_keras_model(model, folder.path / "runs" / name / "model.h5")  # what the LRP workers load
        p = probabilities(model, x_test)
        metrics = detection_metrics(y_test, p, data.store.metadata.iloc[data.splits["test"]])
        print(f"[{NAME}] run {name}: {result.epochs_run} epochs ({time.time() - started:.0f} s), "
              f"evaluation accuracy {metrics['accuracy']:.4f}, F1 {metrics['f1']:.4f}", flush=True)
        runs.append(TrainedRun(name, model, h5, {**result.summary(), "wall_time_s": time.time() - started}, metrics))
    return runs


def probabilities(model, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Earthquake probability (sigmoid of the logit) of each window."""
    z = np.concatenate([np.asarray(model(x[i:i + batch_size], training=False))
                        for i in range(0, len(x), batch_size)]) if len(x) else np.zeros((0, 1))
    return 1.0 / (1.0 + np.exp(-z[:, 0].astype(np.float64)))


def detection_metrics(y: np.ndarray, p: np.ndarray, meta: pd.DataFrame | None = None, threshold: float = 0.5,
                      distance_bins_km: tuple = (25.0, 50.0, 75.0)) -> dict:
    """Evaluation metrics of one run.

    Args:
        y: true labels (1 earthquake).
        p: earthquake probabilities.
        meta: the windows' metadata; with ``source_distance_km`` the accuracy is also given per
            epicentral-distance class (ours, not in the paper).
        threshold: probability from which a window counts as an earthquake (0.5).
        distance_bins_km: inner edges of the distance classes.

    Returns:
        :func:`seis_keras.train.evaluate.classification_metrics` (accuracy, precision, recall,
        F1 of the earthquake class, confusion matrix, ``per_group["distance"]``).
    """
    from seis_keras.train.evaluate import classification_metrics

    groups = None
    if meta is not None and "source_distance_km" in meta.columns:
        d = meta["source_distance_km"].to_numpy(dtype=float)
        edges = (0.0, *distance_bins_km, np.inf)
        names = np.array([f"{edges[i]:g}-{edges[i + 1]:g} km" for i in range(len(edges) - 1)])
        k = np.clip(np.digitize(np.nan_to_num(d, nan=0.0), edges[1:-1]), 0, len(names) - 1)
        groups = {"distance": np.where(np.isfinite(d) & (y == 1), names[k], "noise")}
    return classification_metrics(y, (p >= threshold).astype(int), n_classes=2,
                                  class_names=("noise", "earthquake"), groups=groups)


def summarise_runs(runs: list[TrainedRun]) -> dict:
    """Mean ± std (sample std, ddof 1) over runs of the evaluation metrics (the paper's table, §2.4)."""
    from seis_keras.train.evaluate import summarise_runs as summarise

    out = summarise([r.metrics for r in runs], ddof=1 if len(runs) > 1 else 0)
    for key in ("accuracy", "precision", "recall", "f1"):
        out[key]["per_run"] = {r.name: float(r.metrics[key]) for r in runs}
    return out


# --- the study ---------------------------------------------------------------------------
def run(cfg: dict, data: str | None = None, out: str = "runs", run_path=None, picks: str | None = None) -> RunFolder:
    """Run the whole study into a run folder; returns it."""
    from seis_keras.recipes import detector_explain as explain
    from seis_keras.recipes import detector_lrp as lrp
    from seis_keras.recipes import detector_report as report

    t0 = time.time()
    seed = int(cfg["seed"])
    folder = RunFolder(NAME, out=out, path=run_path)
    folder.write_json("config.json", cfg)
    timings = {}
    ds = load_data(data, cfg, folder, seed, picks)
    x_test = load_windows(ds, ds.splits["test"], cfg)
    timings["data_s"] = time.time() - t0
    print(f"[{NAME}] data: {ds.source}: {len(ds.labels)} windows "
          f"({100 * ds.labels.mean():.1f} % earthquakes), split {[len(v) for v in ds.splits.values()]}", flush=True)
    t = time.time()
    runs = train_runs(ds, cfg, folder, seed, x_test)
    timings["train_s"] = time.time() - t
    metrics = {"data": report.data_summary(ds), "evaluation": {"runs": {r.name: r.metrics for r in runs},
                                                               "summary": summarise_runs(runs)},
               "training": {r.name: {k: v for k, v in r.fit.items() if k not in ("history", "paths")} for r in runs}}
    report.training_figures(runs, folder)
    study = explain.study_from(ds, x_test, runs, cfg, folder)
    metrics["chosen_samples"] = explain.sample_table(study)
    for section in (explain.feature_map_visualisation, explain.backward_optimisation, lrp.relevance_propagation,
                    lrp.explanation_quality, lrp.scan_record):
        t = time.time()
        key, result = section(study)
        metrics[key] = result
        timings[f"{key}_s"] = time.time() - t
        print(f"[{NAME}] {key}: done in {timings[f'{key}_s']:.0f} s", flush=True)
    metrics["exported_model"] = report.export_reference(runs[0], cfg, folder)
    timings["total_s"] = time.time() - t0
    metrics["timings"] = timings
    folder.write_json("metrics.json", metrics)
    folder.write_text("report.md", report.markdown(metrics, cfg))
    return folder


def main(argv=None) -> int:
    parser = recipe_parser(NAME, __doc__)
    parser.add_argument("--runs", type=int, default=None, help="number of training runs (default: the config's)")
    parser.add_argument("--picks", default=None, help="picks CSV for --data DIR of waveform files")
    args = parser.parse_args(argv)
    overrides = list(args.overrides) + ([f"seed={args.seed}"] if args.seed is not None else [])
    overrides += [f"train.runs={args.runs}"] if args.runs is not None else []
    cfg = load_config(args.config, args.profile, overrides)
    folder = run(cfg, data=args.data, out=args.out, picks=args.picks)
    print(f"[{NAME}] run folder: {folder.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
