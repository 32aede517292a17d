"""Magrini & Marrocco: a log-spectrogram CNN for Norcia foreshocks/aftershocks, explained with SHAP.

Magrini, M. & Marrocco, F., "What is machine learning teaching us? Explainable AI for seismic
models" (EQML project, slides and public PyTorch code; SPEC §3). The Norcia traces of Laurenti
et al. 2024 become 3-channel log spectrograms (``scipy.signal.spectrogram`` fs 100, nperseg 64,
noverlap 48 → 33 frequencies × 153 times, ``log1p``, min-max per channel, standardised with
the training set's per-channel mean/std); a small 2D CNN separates foreshocks (0) from
aftershocks (1); SHAP (Partition explainer, inpainting image masker, the top class's logit)
shows where in frequency and time it looks, averaged over correctly classified samples per
class. Published: accuracy 0.9575, precision 0.9477, recall 0.9707, F1 0.9591.

    python -m seis_keras.recipes.norcia_shap --profile quick
    python -m seis_keras.recipes.norcia_shap --data ZENODO_DIR --published-split

Sections: 1. data and labels; 2. split (random 70/15/15; by default no event in two splits —
``--published-split`` splits traces as published, so one event's traces from different
stations can land in training and test); 3. preprocessing; 4. training as the code (Adam 1e-3,
batch 32, 10 epochs, last weights kept) and test metrics; 5. SHAP maps (Partition with
inpainting, and GradientExplainer), class means, and on built-in data the share of |SHAP|
mass in the planted 30–40 Hz band; 6. run folder (metrics.json, figures, report.md, the
exported model with its standardisation statistics).
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from seis_keras.data import norcia as nd
from seis_keras.recipes.runner import RunFolder, load_config, recipe_parser

NAME = "norcia_shap"
#: Slides, all stations: accuracy, precision, recall, F1 (test set); NRCA alone: accuracy 0.9957.
PUBLISHED = {"accuracy": 0.9575, "precision": 0.9477, "recall": 0.9707, "f1": 0.9591}
PUBLISHED_NRCA_ACCURACY = 0.9957


# --- 1. Data and labels ----------------------------------------------------------------------
def load_data(data, cfg: dict, folder: RunFolder, seed: int):
    """``(store, description, skipped, trace mask of the selected stations, labels 0 pre / 1 post)``."""
    d = cfg["data"]
    stations = None if d["stations"] in ("all", ["all"]) else (
        [d["stations"]] if isinstance(d["stations"], str) else list(d["stations"]))
    store, desc, skipped = nd.open_norcia(data, folder.path / "data", stations=stations,
                                          component_order=d["component_order"],
                                          n_events=int(d["builtin_events"]), seed=seed)
    mask = nd.select_stations(store.metadata, stations)
    labels = nd.pre_post_labels(store.metadata, d["mainshock_time"], time_column=d["time_column"])
    return store, desc, skipped, mask, labels


# --- 2. Split ----------------------------------------------------------------------------------
def make_split(meta, mask, cfg: dict, seed: int) -> np.ndarray:
    """Random train/dev/test split: by event (default) or by trace (as published)."""
    s = cfg["split"]
    if s["grouping"] not in ("event", "trace"):
        raise ValueError(f"split.grouping: expected 'event' or 'trace', got {s['grouping']!r}")
    return nd.random_split(meta, fractions=s["fractions"], group="source_id" if s["grouping"] == "event" else None,
                           seed=seed, mask=mask)


# --- 3. Preprocessing ----------------------------------------------------------------------------
def log_spectrogram(cfg: dict):
    from seis_keras.data.transforms import LogSpectrogram

    p = cfg["preprocess"]
    return LogSpectrogram(fs=float(cfg["data"]["sampling_rate_hz"]), nperseg=int(p["nperseg"]),
                          noverlap=int(p["noverlap"]))


def spectrogram_axes(cfg: dict, n_samples: int = 2500) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and segment-centre times (s) of the spectrogram rows and columns."""
    from scipy import signal

    p = cfg["preprocess"]
    f, t, _ = signal.spectrogram(np.zeros(n_samples), fs=float(cfg["data"]["sampling_rate_hz"]),
                                 nperseg=int(p["nperseg"]), noverlap=int(p["noverlap"]))
    return f, t


def training_statistics(store, rows: np.ndarray, spectrogram, batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of the log spectrograms of ``rows``, streamed (float64 sums).

    Equal to ``Standardize().fit(all training spectrograms)`` without holding them in memory.
    """
    from seis_keras.data.pipeline import make_dataset

    if len(rows) == 0:
        raise ValueError("training split is empty: no statistics to standardise with")
    s1 = s2 = 0.0
    n = 0
    for x in make_dataset(store, indices=rows, label=None, transforms=[spectrogram], batch_size=batch_size):
        x = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
        s1, s2, n = s1 + x.sum(axis=0), s2 + (x ** 2).sum(axis=0), n + len(x)
    mean = s1 / n
    return mean, np.sqrt(np.maximum(s2 / n - mean ** 2, 0.0))


def preprocessing(store, train_rows, cfg: dict) -> list:
    """SPEC §3: ``[LogSpectrogram, Standardize(training mean/std)]``."""
    from seis_keras.data.transforms import Standardize

    spec = log_spectrogram(cfg)
    mean, std = training_statistics(store, train_rows, spec)
    return [spec, Standardize(mean=mean, std=std)]


# --- 4. Training and test metrics --------------------------------------------------------------
def train(store, labels, split, transforms, cfg: dict, seed: int, run_dir):
    """CNN2D trained as the code; returns ``seis_keras.train.fit``'s ``FitResult``."""
    from seis_keras.data.pipeline import make_dataset
    from seis_keras.models import get_model
    from seis_keras.train.fit import TrainSettings, fit

    t, m = cfg["train"], cfg["model"]
    batch = int(t["batch_size"])
    rows = {p: np.flatnonzero(split == p) for p in nd.SPLITS}
    train_ds = make_dataset(store, indices=rows["train"], label=lambda _m: labels, transforms=transforms,
                            batch_size=batch, shuffle=True, seed=seed)
    val_ds = make_dataset(store, indices=rows["dev"], label=lambda _m: labels, transforms=transforms,
                          batch_size=batch)
    settings = TrainSettings(optimizer=t["optimizer"], learning_rate=float(t["learning_rate"]),
                             weight_decay=float(t["weight_decay"]), weight_decay_mode="coupled",
                             epochs=int(t["epochs"]), keep_best=bool(t["keep_best"]), seed=seed,
                             verbose=int(t["verbose"]), tensorboard=bool(t["tensorboard"]))
    return fit(lambda: get_model("spectrogram", n_classes=2, filters=tuple(m["filters"]),
                                 hidden_units=int(m["hidden_units"])), train_ds, val_ds, settings, run_dir)


def predict(model, store, rows, transforms) -> np.ndarray:
    from seis_keras.data.pipeline import make_dataset

    ds = make_dataset(store, indices=rows, label=None, transforms=transforms, batch_size=256)
    return np.asarray(model.predict(ds, verbose=0))


# --- 5. SHAP -------------------------------------------------------------------------------------
def band_of(meta, cfg: dict) -> tuple[tuple[float, float], str]:
    if {"planted_band_low_hz", "planted_band_high_hz"} <= set(meta.columns):
        return (float(meta.planted_band_low_hz.iloc[0]), float(meta.planted_band_high_hz.iloc[0])), "planted"
    return tuple(float(v) for v in cfg["shap"]["band_hz"]), "paper"


def band_mass_fraction(maps: np.ndarray, freqs: np.ndarray, band) -> np.ndarray:
    """Share of each map's |SHAP| mass in the frequency rows inside ``band``: (N, F, T, C) -> (N,)."""
    a = np.abs(np.asarray(maps, np.float64)).sum(axis=(2, 3))
    inside = (freqs >= band[0]) & (freqs <= band[1])
    total = a.sum(axis=1)
    return np.divide(a[:, inside].sum(axis=1), total, out=np.zeros(len(a)), where=total > 0)


def explain(store, model, labels, split, transforms, cfg: dict, folder: RunFolder, seed: int, log) -> dict:
    """Per-sample and class-mean SHAP maps over correctly classified samples of the explain split."""
    from seis_keras.atomic import atomic_path
    from seis_keras.data.transforms import Compose
    from seis_keras.explain.shap_values import class_mean_maps, gradient_shap, partition_shap
    from seis_keras.plots.norcia import spectrogram_maps

    sh = cfg["shap"]
    rows = np.flatnonzero(split == sh["explain_split"])
    pred = predict(model, store, rows, transforms).argmax(axis=1)
    rng = np.random.default_rng(seed)
    chosen = [np.sort(rng.permutation(rows[(labels[rows] == c) & (pred == c)])[:int(sh["samples_per_class"])])
              for c in (0, 1)]
    rows = np.concatenate(chosen)
    y = labels[rows]
    freqs, times = spectrogram_axes(cfg)
    band, kind = band_of(store.metadata, cfg)
    out = {"explain_split": sh["explain_split"], "n_per_class": [len(c) for c in chosen], "band": list(band),
           "band_kind": kind, "uniform_share": float(np.mean((freqs >= band[0]) & (freqs <= band[1]))), "methods": {}}
    if len(rows) == 0:
        log("shap: no correctly classified sample to explain")
        return out
    compose = Compose(transforms)
    X = compose(store.get_waveforms(rows))
    names = {0: "foreshocks", 1: "aftershocks"}
    for method in sh["methods"]:
        t0 = time.time()
        if method == "partition":
            maps = partition_shap(model, X, class_index="predicted", max_evals=int(sh["max_evals"]),
                                  batch_size=int(sh["batch_size"]), masker=sh["masker"],
                                  float_inpaint=bool(sh["float_inpaint"]))
        elif method == "gradient":
            train_rows = np.flatnonzero(split == "train")
            bg = np.sort(rng.permutation(train_rows)[:int(sh["gradient_background"])])
            maps = gradient_shap(model, X, compose(store.get_waveforms(bg)), class_index="predicted",
                                 nsamples=int(sh["gradient_nsamples"]), seed=seed)
        else:
            raise ValueError(f"shap.methods: {method!r} unknown (expected 'partition' or 'gradient')")
        means = class_mean_maps(maps, y, y)  # all chosen samples are correct
        share = band_mass_fraction(maps, freqs, band)
        mean_maps = {f"{names[c]} (n={means[c]['n']})": means[c]["map"] for c in means}
        mean_share = {names[c]: float(band_mass_fraction(means[c]["map"][None, :, :, None], freqs, band)[0])
                      for c in means}
        out["methods"][method] = {
            "band_share": {names[c]: float(share[y == c].mean()) for c in (0, 1) if (y == c).any()},
            "band_share_all": float(share.mean()), "class_mean_map_band_share": mean_share,
            "enrichment_vs_uniform": float(share.mean() / out["uniform_share"]), "wall_time_s": round(time.time() - t0, 1)}
        log(f"shap {method}: |SHAP| share in {band[0]:g}-{band[1]:g} Hz {share.mean():.3f} "
            f"(uniform {out['uniform_share']:.3f}), {time.time() - t0:.0f} s")
        folder.save_figure(spectrogram_maps(mean_maps, freqs, times, band=band,
                                            title=f"class-mean {method} SHAP (normalised by the batch max |value|, "
                                                  "channel mean)"), f"shap_{method}_class_mean")
        for c in (0, 1):
            for i in np.flatnonzero(y == c)[:int(sh["example_maps"])]:
                folder.save_figure(spectrogram_maps(
                    {"log spectrogram (standardised, channel mean)": X[i].mean(axis=-1),
                     f"{method} SHAP (channel mean)": maps[i].mean(axis=-1)}, freqs, times, band=band,
                    title=f"{names[c][:-1]} {store.metadata.trace_name_original.iloc[rows[i]] if 'trace_name_original' in store.metadata else rows[i]}"),
                    f"shap_{method}_{names[c]}_{i}")
        with atomic_path(folder.file(f"shap_{method}_class_means.npy")) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.stack([means[c]["map"] for c in (0, 1) if c in means]))  # a handle: no ".npy" appended
    return out


# --- 6. Main ------------------------------------------------------------------------------------
def parser():
    p = recipe_parser(NAME, __doc__.split("\n\n")[0])
    p.add_argument("--published-split", action="store_true",
                   help="random split of traces as published (default: event-grouped, no event in two splits)")
    p.add_argument("--no-shap", action="store_true", help="train and score only")
    return p


def main(argv=None) -> RunFolder:
    import tensorflow as tf

    from seis_keras.recipes import norcia_shap_report as report
    from seis_keras.train.evaluate import classification_metrics

    tf.get_logger().setLevel("ERROR")
    args = parser().parse_args(argv)
    overrides = list(args.overrides) + (["split.grouping=\"trace\""] if args.published_split else [])
    cfg = load_config(args.config, args.profile, overrides)
    seed = int(cfg["seed"] if args.seed is None else args.seed)
    folder = RunFolder(NAME, args.out)
    t_start = time.time()

    def log(msg):
        print(f"[norcia_shap {time.time() - t_start:6.0f} s] {msg}", flush=True)

    store, desc, skipped, mask, labels = load_data(args.data, cfg, folder, seed)
    split = make_split(store.metadata, mask, cfg, seed)
    counts = {p: int((split == p).sum()) for p in nd.SPLITS}
    log(f"data: {desc}, {int(mask.sum())} traces used, split {counts} by {cfg['split']['grouping']}")
    metrics = {"data": {"source": desc, "n_traces": int(mask.sum()), "n_skipped": len(skipped), "split": counts,
                        "split_grouping": cfg["split"]["grouping"],
                        "events_in_several_splits": int((store.metadata[mask].assign(s=split[mask])
                                                         .groupby("source_id").s.nunique() > 1).sum())},
               "seed": seed, "profile": cfg["profile"], "wall_time_s": {}}
    t0 = time.time()
    transforms = preprocessing(store, np.flatnonzero(split == "train"), cfg)
    metrics["standardisation"] = {"mean": transforms[1].mean_.tolist(), "std": transforms[1].std_.tolist()}
    metrics["wall_time_s"]["preprocessing_statistics"] = round(time.time() - t0, 1)
    t0 = time.time()
    result = train(store, labels, split, transforms, cfg, seed, folder.path / "training")
    metrics["wall_time_s"]["training"] = round(time.time() - t0, 1)
    test = np.flatnonzero(split == "test")
    pred = predict(result.model, store, test, transforms).argmax(axis=1)
    scores = classification_metrics(labels[test], pred, n_classes=2, class_names=["foreshock", "aftershock"],
                                    groups=store.metadata.station_code.astype(str).to_numpy()[test]
                                    if "station_code" in store.metadata else None)
    metrics["test"] = scores
    log(f"test: accuracy {scores['accuracy']:.4f}, precision {scores['precision']:.4f}, recall {scores['recall']:.4f}, "
        f"F1 {scores['f1']:.4f} (published {PUBLISHED})")
    report.confusion_figure(scores, folder)
    if not args.no_shap:
        t0 = time.time()
        metrics["shap"] = explain(store, result.model, labels, split, transforms, cfg, folder, seed, log)
        metrics["wall_time_s"]["shap"] = round(time.time() - t0, 1)
    metrics["exported"] = report.export(result.model, transforms, folder)
    metrics["wall_time_s"]["total"] = round(time.time() - t_start, 1)
    folder.write_json("config.json", cfg)
    folder.write_json("metrics.json", metrics)
    folder.write_text("report.md", report.markdown(metrics, cfg, PUBLISHED, PUBLISHED_NRCA_ACCURACY))
    log(f"done: {folder.path}")
    return folder


if __name__ == "__main__":
    main()
