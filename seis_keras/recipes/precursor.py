"""Temporal earthquake forecasting: a CNN finds precursors in the 10 h before Mw ≥ 6 earthquakes.

Ong, Nielsen, Giani & Johnson, "Temporal earthquake forecasting" (CNN on IU MAJO, 31 events in
and around Japan; SPEC §4, ``papers/ong_temporal-earthquake-forecasting.txt``).

Reproduces the study: ten hours of three-component data before each event are cut into 36
macro-windows of 1000 s, each normalised jointly over its components; the last (36) is
*precursor*, noise is window 1 (mode A) or 1000 s at least 48 h from any event (mode B); each
macro-window gives 37 windows of 16384 samples (888 + 888 training, 259 + 259 test windows for
24/7 events). The precursor CNN (random input layer redrawn every epoch, 7 conv blocks,
softmax over noise/precursor) is trained; training/test accuracy per mode, confusion matrices
(Fig. 4) and per-event test accuracy (Table 2); then every window of all 36 intervals is
classified by five independent retrainings, giving the fraction called precursor through time
(Fig. 5, paper: rising above the spread ~3.3 h before). What the network learned: sequential
windows and time occlusion (Figs 6–7), frequency occlusion (Fig. 8), spectrogram, cumulative
spectra and their relative difference (Figs 9–11), plus LRP and saliency spectra; on the
built-in data, whether these find the planted 0.16–0.21 Hz tremor. The model scans a continuous
record (``seis_keras.scan``) and is exported.

    python -m seis_keras.recipes.precursor --profile quick          # minutes on a CPU
    python -m seis_keras.recipes.precursor --data STORE              # the fetched Ong store

Data (``--data``): default the built-in records of
:func:`seis_keras.data.synthetic.precursor_data` (10 h before each event with a growing
0.16–0.21 Hz tremor over the last ``onset_hours``, plus tremor-free records ≥ 48 h from any
event), written to a store. ``--data STORE``: a store with ``record_kind`` (``event``;
``noise``/``noise_b`` for mode B), ``trace_start_time``, ``source_origin_time``, ``split``,
e.g. from ``seis-keras data fetch data_manifests/ong_majo.toml``. ``--data FILES`` (obspy-readable
continuous records, a folder or glob) with ``data.events_csv`` is cut into such records.

Sections: 1 data, 2 windows, 3 model and training, 4 precursor fraction through time here;
5 interpretation, 6 planted band and 7 scan in :mod:`seis_keras.recipes.precursor_analysis`;
8 run folder and report in :mod:`seis_keras.recipes.precursor_report`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd

from seis_keras.data.precursor_windows import (WindowingSettings, interval_windows, sub_window_dataset,
                                              sub_window_table, training_windows)
from seis_keras.recipes.runner import RunFolder, load_config, recipe_parser

NAME = "precursor"
CLASS_NAMES = ("noise", "precursor")


# --- 1. Data (§2) ----------------------------------------------------------------------------
@dataclasses.dataclass
class PrecursorStudy:
    """Everything the sections share.

    Attributes:
        cfg: the merged config.
        folder: the :class:`RunFolder`.
        store: the :class:`~seis_keras.data.store.WaveformStore` of records.
        lengths: samples of each record.
        fs: sampling rate in Hz.
        windowing: the :class:`WindowingSettings`.
        source: what the data are (for the report).
        built_in: whether the built-in data (planted tremor known) are used.
        extra_origins: origin times added to the 48 h rule.
        results: section name -> results dict (metrics.json).
        models: mode -> list of trained models (retraining 0 first).
    """

    cfg: dict
    folder: RunFolder
    store: object
    lengths: np.ndarray
    fs: float
    windowing: WindowingSettings
    source: str
    built_in: bool
    extra_origins: tuple = ()
    results: dict = dataclasses.field(default_factory=dict)
    models: dict = dataclasses.field(default_factory=dict)


def built_in_store(cfg: dict, folder: RunFolder, seed: int) -> Path:
    """Write the built-in records (``precursor_data``) to a store; reuse a matching cached one."""
    from seis_keras.data.synthetic import PrecursorSettings, precursor_data

    d, sy, w = cfg["data"], cfg["synthetic"], cfg["windows"]
    hours = float(w["n_macro_windows"]) * float(w["macro_window_s"]) / 3600.0
    settings = PrecursorSettings(hours=hours, sampling_rate=float(d["sampling_rate"]),
                                 onset_hours=min(float(sy["onset_hours"]), hours), tremor_snr=float(sy["tremor_snr"]),
                                 tremor_band=tuple(float(v) for v in sy["tremor_band"]),
                                 noise_records_per_event=int(d["noise_records_per_event"]))
    digest = hashlib.sha1(repr(settings).encode()).hexdigest()[:10]
    tag = f"precursor_n{d['n_events']}_h{hours:g}_s{seed}_{digest}"
    root = Path(d["cache_dir"]) if d["cache_dir"] else folder.path / "data"
    path = root / tag
    if not (path / "metadata.csv").is_file():
        precursor_data(int(d["n_events"]), seed=seed, settings=settings, path=path)
    return path


def records_from_files(pattern: str, events_csv: str, cfg: dict, out: Path) -> Path:
    """Cut obspy-readable continuous records into a store of event (and noise) records.

    ``events_csv``: one row per event, columns ``origin_time`` (UTC), ``split`` and optionally
    ``source_id``; rows with ``record_kind = noise`` give ``start_time``/``end_time`` of
    unrelated records (mode B). Each event record holds the ``n_macro_windows × macro_window_s``
    before its origin, resampled and merged by :func:`seis_keras.scan.prepare_stream`.
    """
    import glob

    import obspy

    from seis_keras.data.ingest import read_stream
    from seis_keras.data.store import StoreWriter
    from seis_keras.scan import InputContract, prepare_stream

    if not events_csv:
        raise ValueError(f"--data {pattern}: waveform files need data.events_csv (origin_time, split)")
    ev = pd.read_csv(events_csv, dtype=str).fillna("")
    for col in ("origin_time", "split"):
        if col not in ev.columns and not (col == "origin_time" and "start_time" in ev.columns):
            raise ValueError(f"{events_csv}: column {col!r} missing (expected origin_time, split)")
    files = sorted(glob.glob(os.path.join(pattern, "*")) if os.path.isdir(pattern) else glob.glob(pattern))
    if not files:
        raise ValueError(f"--data {pattern}: no files found")
    st = read_stream(files)
    d, w = cfg["data"], cfg["windows"]
    fs, span = float(d["sampling_rate"]), float(w["n_macro_windows"]) * float(w["macro_window_s"])
    contract = InputContract(sampling_rate=fs, component_order=d["component_order"], transforms=())
    with StoreWriter(out, sampling_rate=fs, component_order=d["component_order"], block_size=1) as writer:
        for i, row in ev.iterrows():
            kind = row.get("record_kind", "event") or "event"
            if kind == "event":
                t1 = obspy.UTCDateTime(row["origin_time"])
                t0 = t1 - span
            else:
                t0, t1 = obspy.UTCDateTime(row["start_time"]), obspy.UTCDateTime(row["end_time"])
            stations = prepare_stream(st.slice(t0 - 1.0, t1 + 1.0), contract)
            if not stations:
                raise ValueError(f"{events_csv}: row {i + 1}: no data between {t0} and {t1}")
            sta = stations[0]
            i0 = int(round((t0 - sta["start"]) * fs))
            n = int(round((t1 - t0) * fs))
            if i0 < 0 or i0 + n > len(sta["data"]) or sta["gap"][max(i0, 0):i0 + n].any():
                raise ValueError(f"{events_csv}: row {i + 1}: the records do not cover {t0} - {t1} without gaps")
            meta = {"source_id": row.get("source_id") or f"{kind}{i:03d}", "record_kind": kind,
                    "split": row.get("split", ""), "trace_start_time": str(t0),
                    "source_origin_time": str(t1) if kind == "event" else "", "station_code": sta["id"].split(".")[1]}
            writer.add_many(sta["data"][i0:i0 + n][None], pd.DataFrame([meta]))
    return out


def load_data(cfg: dict, data: str | None, folder: RunFolder, seed: int) -> PrecursorStudy:
    """Section 1: open (or build) the store of 10 h records; check its columns."""
    from seis_keras.data.store import WaveformStore

    d, w = cfg["data"], cfg["windows"]
    built_in = data is None
    if built_in:
        path = built_in_store(cfg, folder, seed)
        source = (f"built-in records (seis_keras.data.synthetic.precursor_data: {d['n_events']} events, "
                  f"tremor {cfg['synthetic']['tremor_band']} Hz over the last {cfg['synthetic']['onset_hours']} h)")
    elif (Path(data) / "metadata.csv").is_file():
        path, source = Path(data), f"store {data}"
    else:
        path = records_from_files(data, d["events_csv"], cfg, folder.path / "data" / "records")
        source = f"obspy records {data} cut by {d['events_csv']}"
    store = WaveformStore(path)
    meta = store.metadata
    for col in ("record_kind", "trace_start_time", "source_origin_time", "split", "source_id"):
        if col not in meta.columns:
            raise ValueError(f"{path / 'metadata.csv'}: column {col!r} missing (expected record_kind, "
                             "trace_start_time, source_origin_time, split, source_id)")
    if store.component_order != d["component_order"] and sorted(store.component_order) != sorted(d["component_order"]):
        raise ValueError(f"{path}: component_order {store.component_order!r} (expected {d['component_order']!r})")
    fs = float(store.sampling_rate)
    macro = int(round(float(w["macro_window_s"]) * fs))
    windowing = WindowingSettings(n_macro_windows=int(w["n_macro_windows"]), macro_window_samples=macro,
                                  sub_window_samples=int(w["sub_window_samples"]), sub_windows=int(w["sub_windows"]),
                                  sub_window_stride=int(w["sub_window_stride"]) or None,
                                  noise_min_separation_hours=float(w["noise_min_separation_hours"]),
                                  normalisation=w["normalisation"])
    extra = ()
    if d["extra_origins_csv"]:
        origins = pd.read_csv(d["extra_origins_csv"], dtype=str)
        if "origin_time" not in origins.columns:
            raise ValueError(f"{d['extra_origins_csv']}: column 'origin_time' missing (data.extra_origins_csv: "
                             "more origin times for the 48 h rule)")
        extra = tuple(origins["origin_time"].dropna())
    lengths = np.array([store.trace_shape(i)[0] for i in range(len(store))])
    return PrecursorStudy(cfg, folder, store, lengths, fs, windowing, source, built_in, extra)


# --- 2. Windows (§4) ---------------------------------------------------------------------------
def windows_of(study: PrecursorStudy, mode: str, split: str) -> pd.DataFrame:
    """The labelled macro-windows of a split for noise mode A or B."""
    return training_windows(study.store.metadata, study.lengths, study.fs, study.windowing, mode=mode, split=split,
                            seed=int(study.cfg["seed"]), extra_origins=study.extra_origins,
                            where=str(study.store.path / "metadata.csv"))


def dataset(study: PrecursorStudy, windows: pd.DataFrame, *, shuffle: bool = False, seed: int = 0, lowpass=None):
    """Stream the sub-windows of ``windows`` (components in the config's order)."""
    t = study.cfg["train"]
    return sub_window_dataset(study.store, windows, study.windowing, batch_size=int(t["batch_size"]), shuffle=shuffle,
                              seed=seed, shuffle_buffer=int(t["shuffle_buffer"]),
                              components=study.cfg["data"]["component_order"], lowpass=lowpass)


# --- 3. Model and training (§3, §5.1) ---------------------------------------------------------
def build_model(study: PrecursorStudy, seed: int):
    """The precursor CNN at the configured size (``input_length`` = the sub-window length)."""
    from seis_keras.models import get_model

    m = study.cfg["model"]
    return get_model("precursor", input_length=study.windowing.sub_window_samples, filters=tuple(m["filters"]),
                     fc_units=int(m["fc_units"]), dropout=float(m["dropout"]),
                     noise_rms_fraction=float(m["noise_rms_fraction"]), bn_momentum=float(m["bn_momentum"]),
                     seed=seed)


def train_once(study: PrecursorStudy, mode: str, index: int) -> dict:
    """Train one network on the training windows of ``mode``; evaluate it on train and test."""
    from seis_keras.models.layers import RedrawRandomKernel
    from seis_keras.train.evaluate import evaluate
    from seis_keras.train.fit import TrainSettings, fit

    t = study.cfg["train"]
    seed = int(study.cfg["seed"]) + index
    train_w, test_w = windows_of(study, mode, "train"), windows_of(study, mode, "test")
    settings = TrainSettings(optimizer=t["optimizer"], learning_rate=float(t["learning_rate"]), epochs=int(t["epochs"]),
                             keep_best=False, seed=seed, verbose=0, tensorboard=False)
    t0 = time.perf_counter()
    res = fit(build_model(study, seed), dataset(study, train_w, shuffle=True, seed=seed), None, settings,
              study.folder.path / "runs" / f"mode_{mode}_{index}", callbacks=[RedrawRandomKernel()])
    seconds = time.perf_counter() - t0
    model = res.model
    study.models.setdefault(mode, []).append(model)
    test_table = sub_window_table(test_w, study.windowing)
    train_eval = evaluate(model, dataset(study, train_w), class_names=CLASS_NAMES)
    test_eval = evaluate(model, dataset(study, test_w), class_names=CLASS_NAMES,
                         groups=test_table["source_id"].to_numpy())
    per_event = {}
    for ev, sub in test_table.groupby("source_id", sort=False):
        per_event[ev] = test_eval["per_group"][str(ev)]
    return {"mode": mode, "retraining": index, "seed": seed, "train_seconds": seconds,
            "n_train_windows": int(len(train_w) * study.windowing.sub_windows),
            "n_test_windows": int(len(test_table)), "train": train_eval, "test": test_eval,
            "per_event_test_accuracy": per_event, "history": res.history}


def train_all(study: PrecursorStudy) -> dict:
    """Section 3: mode A ``retrainings`` times, mode B ``mode_b_retrainings`` times."""
    t = study.cfg["train"]
    out = {}
    for mode in study.cfg["windows"]["modes"]:
        n = int(t["retrainings"]) if mode == "A" else int(t["mode_b_retrainings"])
        out[mode] = [train_once(study, mode, i) for i in range(max(n, 1))]
    return out


# --- 4. Precursor fraction through time (§5.2, Fig. 5) --------------------------------------------
def precursor_fractions(study: PrecursorStudy, model, windows: pd.DataFrame) -> np.ndarray:
    """Fraction of the windows of each of the 36 intervals that ``model`` calls precursor."""
    from seis_keras.train.evaluate import predictions

    _, y_pred, _ = predictions(model, dataset(study, windows))
    table = sub_window_table(windows, study.windowing)
    frac = pd.Series(y_pred == 1).groupby(table["macro_window"].to_numpy()).mean()
    return frac.reindex(range(1, study.windowing.n_macro_windows + 1)).to_numpy(np.float64)


def rise_interval(mean: np.ndarray, std: np.ndarray, baseline_intervals: int) -> int | None:
    """First interval (1-based) from which ``mean - std`` stays above the background level.

    Background: the mean of ``mean`` over intervals ``2 … baseline_intervals`` (interval 1 is
    the training noise of mode A) plus the larger of their spread across intervals and their
    mean retraining std. ``None`` if the last interval does not rise above it.
    """
    base = mean[1:baseline_intervals]
    level = float(base.mean()) + max(float(base.std()), float(std[1:baseline_intervals].mean()))
    above = (mean - std) > level
    if not above[-1]:
        return None
    k = len(above)
    while k > 0 and above[k - 1]:
        k -= 1
    return k + 1


def time_course(study: PrecursorStudy) -> dict:
    """Section 4: classify all 36 intervals with every mode-A retraining; mean ± std; the rise."""
    tc = study.cfg["time_course"]
    split = None if tc["split"] == "all" else tc["split"]
    windows = interval_windows(study.store.metadata, study.lengths, study.fs, study.windowing, split=split)
    fr = np.stack([precursor_fractions(study, m, windows) for m in study.models["A"]])
    mean, std = fr.mean(axis=0), fr.std(axis=0)
    k = rise_interval(mean, std, int(tc["baseline_intervals"]))
    n, w_s = study.windowing.n_macro_windows, float(study.cfg["windows"]["macro_window_s"])
    hours_before = (n - np.arange(n)) * w_s / 3600.0  # start of interval k, hours before the origin
    out = {"split": tc["split"], "n_events": int(windows["source_id"].nunique()), "fractions": fr.tolist(),
           "mean": mean.tolist(), "std": std.tolist(), "interval_start_hours_before": hours_before.tolist(),
           "rise_interval": k, "rise_hours_before": None if k is None else float(hours_before[k - 1]),
           "paper_rise_hours_before": 3.3}
    if study.built_in:
        out["planted_onset_hours_before"] = float(min(float(study.cfg["synthetic"]["onset_hours"]),
                                                      n * w_s / 3600.0))
    return out


# --- main ------------------------------------------------------------------------------------------
def run(cfg: dict, data: str | None = None, out: str = "runs", folder: RunFolder | None = None) -> RunFolder:
    """Run the whole study; returns the run folder (metrics.json, figures, report.md, model)."""
    from seis_keras.recipes import precursor_analysis as analysis
    from seis_keras.recipes import precursor_report as report

    folder = folder or RunFolder(NAME, out)
    t0 = time.perf_counter()
    timings, tick = {}, [t0]

    def lap(name):
        now = time.perf_counter()
        timings[name] = now - tick[0]
        tick[0] = now

    study = load_data(cfg, data, folder, int(cfg["seed"]))
    study.results["data"] = report.data_summary(study)
    lap("data")
    study.results["training"] = train_all(study)
    lap("training")
    study.results["time_course"] = time_course(study)
    lap("time_course")
    analysis.interpret(study, lap)
    study.results["scan"] = analysis.scan_record(study)
    lap("scan")
    study.results["export"] = report.export_model(study)
    lap("export")
    study.results["seconds"] = time.perf_counter() - t0
    study.results["section_seconds"] = timings
    report.write(study)
    return folder


def main(argv=None) -> int:
    p = recipe_parser(NAME, __doc__.split("\n\n")[0])
    args = p.parse_args(argv)
    cfg = load_config(args.config, args.profile, args.overrides)
    if args.seed is not None:
        cfg["seed"] = args.seed
    folder = run(cfg, args.data, args.out)
    print(f"run folder: {folder.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
