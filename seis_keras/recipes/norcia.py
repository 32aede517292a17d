"""Laurenti et al. 2024: foreshocks, aftershocks and time to failure of the 2016 Norcia mainshock.

Laurenti, L., Paoletti, G., Tinti, E., Galasso, F., Collettini, C. & Marone, C. (2024). Probing
the evolution of fault properties during the seismic cycle with deep learning. Nat. Commun. 15,
10025 (SPEC §2). A 7-block CNN classifies 25 s, 3-component traces recorded near the Vettore
fault as *pre* or *post* mainshock (2 classes) or into time-to-failure classes (4, 8, 9),
with a temporal split from the middle of each class; then three tests of what it learned:
wrong mainshock dates (Table 2), band-pass filtered traces (Fig. 5), spectra of co-located
pre/post pairs (Fig. 6). Ours, beyond the paper: LRP and saliency on correctly classified
traces and the class-mean spectra of the relevance — does the network look at 30–40 Hz?

    python -m seis_keras.recipes.norcia --profile quick
    python -m seis_keras.recipes.norcia --data ZENODO_DIR --station all
    python -m seis_keras.recipes.norcia --profile quick --bandpass      # one experiment

Data: built-in traces (``seis_keras.data.synthetic.norcia_data``: a planted 30–40 Hz change
across the mainshock, so the explanations can be scored) unless ``--data`` names the
authors' Zenodo folder (read by ``seis_keras.data.readers``) or a store. ``--station`` picks
one of the nine stations or ``all`` (one set of models per station, Table 1).

Parts (``[run] parts`` in the config, or the flags ``--classes``, ``--wrong-dates``,
``--bandpass``, ``--pairs``, ``--explain``; the explanations use the first 2-class model):

1. Data and time-to-failure classes (``seis_keras.data.norcia``), balanced as the code.
2. Temporal-middle split by ``source_id``; training as the code (``seis_keras.train.fit``:
   cross-entropy on logits, Adam 1e-3 with coupled L2 1e-3, batch 32, 50 epochs, lowest
   validation loss kept); ``runs`` seeds → mean ± std (Table 1), confusion matrices (Fig. 3).
3. Experiments and explanations: :mod:`seis_keras.recipes.norcia_experiments`.
4. Run folder: metrics.json, figures, report.md (paper numbers beside ours), the exported
   2-class model (serving SavedModel + .h5).
"""
from __future__ import annotations

import dataclasses
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from seis_keras.data import norcia as nd
from seis_keras.recipes.runner import RunFolder, load_config, recipe_parser

NAME = "norcia"
PARTS = ("classes", "wrong_dates", "bandpass", "pairs", "explain")


# --- 1. Data -----------------------------------------------------------------------------------
def stations_of(cfg: dict, station: str | None) -> list[str] | None:
    """The stations to model: ``--station`` (a code or ``all``), else ``data.stations``."""
    choice = station if station is not None else cfg["data"]["stations"]
    if choice == "all" or choice == ["all"]:
        return None
    return [choice] if isinstance(choice, str) else list(choice)


def load_data(data, cfg: dict, folder: RunFolder, stations: list[str] | None, seed: int):
    """Open the Norcia store; returns ``(store, description, skipped, stations in use)``."""
    d = cfg["data"]
    generate = stations if (d.get("builtin_stations", "selected") == "selected") else None
    store, desc, skipped = nd.open_norcia(data, folder.path / "data", stations=generate,
                                          component_order=d["component_order"],
                                          n_events=int(d["builtin_events"]), seed=seed)
    meta = store.metadata
    nd.select_stations(meta, stations)  # clear error for a station not in the data
    present = sorted(set(meta.station_code.astype(str))) if "station_code" in meta.columns else ["all"]
    return store, desc, skipped, (stations or present)


# --- 2. Classes, split, training -----------------------------------------------------------------
@dataclasses.dataclass
class Setting:
    """One classification problem on one store: labels and split per trace (-1 / "" = unused)."""

    labels: np.ndarray
    split: np.ndarray
    n_classes: int
    class_names: list[str]

    def rows(self, part: str) -> np.ndarray:
        return np.flatnonzero((self.split == part) & (self.labels >= 0))

    def counts(self) -> dict:
        return {p: int(len(self.rows(p))) for p in nd.SPLITS}


def make_setting(meta, mask: np.ndarray, n_classes: int, cfg: dict, seed: int, *, mainshock_time=None,
                 exclude_visso=None) -> Setting:
    """Labels (time-to-failure classes or pre/post at ``mainshock_time``), balance and split.

    Args:
        meta: the store's metadata (all traces).
        mask: traces taking part (one station).
        n_classes: 2, 4, 8 or 9.
        cfg: the recipe config.
        seed: balancing (and random split) seed.
        mainshock_time: the pre/post boundary (a wrong date for Table 2); default the true one.
        exclude_visso: override of the class rule's Visso exclusion.
    """
    d, c, s = cfg["data"], cfg["classes"], cfg["split"]
    sub = meta.iloc[np.flatnonzero(mask)].reset_index(drop=True)
    if exclude_visso is None and n_classes % 2 == 0:
        exclude_visso = bool(c["exclude_visso_even"])
    y = nd.time_to_failure_classes(sub, n_classes, mainshock_time=mainshock_time or d["mainshock_time"],
                                   visso_interval=(d["visso_start"], d["mainshock_time"]),
                                   exclude_visso=exclude_visso, time_column=d["time_column"])
    if c["balance"]:
        y = nd.balance_classes(y, sub, seed=seed)
    if s["kind"] == "temporal":
        split = nd.temporal_middle_split(sub, y, train_head=s["train_head"], validation=s["validation"],
                                         test=s["test"], time_column=d["time_column"])
    elif s["kind"] == "random":
        split = nd.random_split(sub, fractions=s["random_fractions"], seed=seed, mask=y >= 0)
    else:
        raise ValueError(f"split.kind: expected 'temporal' or 'random', got {s['kind']!r}")
    labels = np.full(len(meta), -1, np.int64)
    full_split = np.full(len(meta), "", dtype=object)
    labels[mask], full_split[mask] = y, split
    return Setting(labels, full_split, n_classes, nd.class_names(n_classes))


def transforms_for(cfg: dict, band=None) -> list:
    """Laurenti's preprocessing: (band-pass, then) each channel divided by its L2 norm."""
    from seis_keras.data.transforms import Bandpass, L2Normalize

    fs = float(cfg["data"]["sampling_rate_hz"])
    out = [Bandpass(float(band[0]), float(band[1]), fs, order=int(cfg["bandpass"]["order"]))] if band else []
    return out + [L2Normalize()]


def train_settings(cfg: dict, seed: int):
    from seis_keras.train.fit import TrainSettings

    t = cfg["train"]
    return TrainSettings(optimizer=t["optimizer"], learning_rate=float(t["learning_rate"]),
                         weight_decay=float(t["weight_decay"]), weight_decay_mode="coupled",
                         epochs=int(t["epochs"]), keep_best=bool(t["keep_best"]), seed=int(seed),
                         verbose=int(t["verbose"]), tensorboard=bool(t["tensorboard"]))


def build_model(cfg: dict, n_classes: int):
    from seis_keras.models import get_model

    m = cfg["model"]
    return get_model("norcia", n_classes=n_classes, blocks=[tuple(b) for b in m["blocks"]],
                     dilation=list(m["dilation"]) or None, dropout=float(m["dropout"]))


def train_and_test(store, setting: Setting, cfg: dict, seed: int, run_dir, *, band=None, true_labels=None):
    """Train one model on ``setting`` and score its test traces.

    Args:
        store: the waveform store.
        setting: labels and split.
        cfg: recipe config.
        seed: model initialisation and shuffling seed.
        run_dir: ``fit``'s folder for this model.
        band: band-pass ``(lo, hi)`` Hz before the L2 normalisation, or None.
        true_labels: score against these labels (per trace) instead of the training labels
            (wrong-date models are scored on the true pre/post labels).

    Returns:
        ``(model, scores dict from seis_keras.train.evaluate, test rows, predicted classes)``.
    """
    from seis_keras.data.pipeline import make_dataset
    from seis_keras.train.evaluate import classification_metrics
    from seis_keras.train.fit import fit

    transforms = transforms_for(cfg, band)
    labels = setting.labels
    batch = int(cfg["train"]["batch_size"])
    train_ds = make_dataset(store, indices=setting.rows("train"), label=lambda _m: labels, transforms=transforms,
                            batch_size=batch, shuffle=True, seed=seed, drop_remainder=True)
    val_ds = make_dataset(store, indices=setting.rows("dev"), label=lambda _m: labels, transforms=transforms,
                          batch_size=batch)
    result = fit(lambda: build_model(cfg, setting.n_classes), train_ds, val_ds, train_settings(cfg, seed), run_dir)
    test = setting.rows("test")
    x_ds = make_dataset(store, indices=test, label=None, transforms=transforms, batch_size=256)
    logits = np.asarray(result.model.predict(x_ds, verbose=0))
    pred = logits.argmax(axis=1)
    truth = labels[test] if true_labels is None else np.asarray(true_labels)[test]
    k = setting.n_classes if true_labels is None else 2
    names = setting.class_names if true_labels is None else nd.class_names(2)
    scores = classification_metrics(truth, pred, n_classes=k, class_names=names)
    scores["best_epoch"] = result.best_epoch
    return result.model, scores, test, pred


def class_models(store, cfg: dict, folder: RunFolder, stations: list[str], seed: int, log) -> tuple[dict, dict]:
    """Table 1 and Fig. 3: every station x class count x run.

    Returns:
        ``(metrics {station: {n: {...}}}, first 2-class model per station {station: (model, setting)})``.
    """
    from seis_keras.train.evaluate import summarise_runs

    meta = store.metadata
    out, first = {}, {}
    for station in stations:
        mask = nd.select_stations(meta, None if station == "all" else [station])
        out[station] = {}
        for n in cfg["classes"]["counts"]:
            n = int(n)
            runs = []
            for r in range(int(cfg["train"]["runs"])):
                setting = make_setting(meta, mask, n, cfg, seed + r)
                t0 = time.time()
                model, scores, _, _ = train_and_test(store, setting, cfg, seed + r,
                                                     folder.path / "models" / f"{station}_{n}class_run{r}")
                scores["counts"] = setting.counts()
                scores["wall_time_s"] = round(time.time() - t0, 1)
                runs.append(scores)
                log(f"{station} {n} classes run {r}: test accuracy {scores['accuracy']:.3f} "
                    f"({scores['counts']}, {scores['wall_time_s']} s)")
                if n == 2 and r == 0:
                    first[station] = (model, setting)
            out[station][str(n)] = {"runs": runs, "summary": summarise_runs(
                [{k: v for k, v in s.items() if k in ("accuracy", "per_class_accuracy", "confusion_matrix")}
                 for s in runs])}
    return out, first


# --- 3. Main ----------------------------------------------------------------------------------------
def parts_to_run(args, cfg: dict) -> list[str]:
    chosen = [p for p in PARTS if getattr(args, p)]
    parts = chosen or list(cfg["run"]["parts"])
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise ValueError(f"run.parts: {bad} unknown (expected some of {list(PARTS)})")
    return parts


def parser():
    p = recipe_parser(NAME, __doc__.split("\n\n")[0])
    p.add_argument("--station", default=None, help="one of the nine stations, or 'all' (default: data.stations)")
    for part in PARTS:
        p.add_argument(f"--{part.replace('_', '-')}", dest=part, action="store_true",
                       help=f"run the {part.replace('_', ' ')} part (any part flag: only the flagged parts)")
    return p


def main(argv=None) -> RunFolder:
    from seis_keras.recipes import norcia_experiments as ex
    from seis_keras.recipes import norcia_report as report

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # one tf.function per model: retracing warnings say nothing here
    args = parser().parse_args(argv)
    cfg = load_config(args.config, args.profile, args.overrides)
    seed = int(cfg["seed"] if args.seed is None else args.seed)
    parts = parts_to_run(args, cfg)
    folder = RunFolder(NAME, args.out)
    t_start = time.time()

    def log(msg):
        print(f"[norcia {time.time() - t_start:6.0f} s] {msg}", flush=True)

    stations = stations_of(cfg, args.station)
    store, desc, skipped, stations = load_data(args.data, cfg, folder, stations, seed)
    log(f"data: {desc}, {len(store)} traces, stations {stations}, {len(skipped)} skipped")
    metrics = {"data": {"source": desc, "n_traces": len(store), "stations": stations, "n_skipped": len(skipped),
                        "skipped_examples": [list(s) for s in skipped[:20]]},
               "parts": parts, "seed": seed, "profile": cfg["profile"], "wall_time_s": {}}
    experiment_station = "NRCA" if "NRCA" in stations else stations[0]
    metrics["experiment_station"] = experiment_station
    first = {}
    if "classes" in parts or "explain" in parts:
        t0 = time.time()
        if "classes" in parts:
            metrics["classes"], first = class_models(store, cfg, folder, stations, seed, log)
        else:  # explanations only: the first 2-class model of the experiment station
            mask = nd.select_stations(store.metadata, [experiment_station])
            setting = make_setting(store.metadata, mask, 2, cfg, seed)
            model, scores, _, _ = train_and_test(store, setting, cfg, seed,
                                                 folder.path / "models" / f"{experiment_station}_2class_run0")
            first[experiment_station] = (model, setting)
            metrics["explain_model_scores"] = scores
        metrics["wall_time_s"]["classes"] = round(time.time() - t0, 1)
        report.class_figures(metrics.get("classes", {}), folder)
    mask = nd.select_stations(store.metadata, [experiment_station])
    for part, run in (("wrong_dates", ex.wrong_dates), ("bandpass", ex.bandpass), ("pairs", ex.pairs)):
        if part in parts:
            t0 = time.time()
            metrics[part] = run(store, mask, cfg, folder, seed, log, metrics=metrics)
            metrics["wall_time_s"][part] = round(time.time() - t0, 1)
    if "explain" in parts and experiment_station in first:
        t0 = time.time()
        model, setting = first[experiment_station]
        metrics["explain"] = ex.explain(store, model, setting, cfg, folder, seed, log)
        metrics["wall_time_s"]["explain"] = round(time.time() - t0, 1)
    if first:
        metrics["exported"] = report.export(first[experiment_station][0], folder, experiment_station)
    metrics["wall_time_s"]["total"] = round(time.time() - t_start, 1)
    folder.write_json("config.json", cfg)
    folder.write_json("metrics.json", metrics)
    folder.write_text("report.md", report.markdown(metrics, cfg))
    log(f"done: {folder.path}")
    return folder


if __name__ == "__main__":
    main()
