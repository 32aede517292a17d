"""ml4szeq: which subduction segments host great earthquakes, and what the network looks at.

Reproduces the ml4szeq / xai-megathrust framework (SPEC §5; README in
``papers/ml4szeq_subduction-framework-readme.txt``; raw data DOI 10.26180/25066592): an MLP
classifies 50 km subduction segments of eight zones by the largest GCMT magnitude they hosted
(2 classes: Mw < 8 / ≥ 8; 3 classes: quantile cuts ≈ Mw 6.4, 8.3) from 49 geophysical and
kinematic features; spatial cross-validation with an exclusion distance measures F1; LRP-ε
(toward the predicted class, true positives, robust-scaled per sample) shows per-class feature
relevance, beside gradient saliency and gradient SHAP.

    python -m seis_keras.recipes.subduction --data ../shared/data/subduction --profile quick

Without ``--data`` the built-in synthetic table (``seis_keras.data.synthetic``, planted rule
on a few features) is used, and the report checks the planted features rank on top.

Training: the study is many tiny fits (seeds × 5 folds × distances × class counts on ≤ 556
rows), and the code trains with sigmoid+BCE on one-hot labels, a one-cycle learning rate and
inverse-frequency resampling every epoch. ``seis_keras.train.fit`` (one long run: checkpoint
files, TensorBoard, resume; loss fixed by the output width) fits none of that, so
:class:`MLPTrainer` is a lean loop: one XLA-compiled call per epoch, reused by every fit, the
best-validation weights kept in memory.
"""
from __future__ import annotations

import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from tensorflow import keras

from seis_keras.data.subduction import (FEATURE_COLUMNS, ClassScheme, SubductionTransforms, balanced_sample,
                                        load_subduction_tables, prepare_table, spatial_exclusion_split,
                                        validation_rows)
from seis_keras.recipes import subduction_report as report
from seis_keras.recipes.subduction_relevance import explain_folds
from seis_keras.recipes.runner import RunFolder, load_config, recipe_parser

NAME = "subduction"


# --- 1. Data ---------------------------------------------------------------------------------
def load_data(data: str | None, cfg: dict, seed: int):
    """The prepared table: the CSVs of ``data``, or the built-in synthetic table.

    Returns:
        ``(SubductionTable, source description, planted feature names or None)``.
    """
    d = cfg["data"]
    kw = dict(segment_step_km=d["segment_step_km"], no_event_threshold=d["no_event_threshold"],
              no_event_magnitude=d["no_event_magnitude"])
    if data is not None:
        return load_subduction_tables(data, **kw), str(data), None
    from seis_keras.data import synthetic

    frame = synthetic.subduction_table(n_segments_per_region=int(d["synthetic_segments_per_region"]), seed=seed)
    planted = list(frame.attrs["planted_features"])
    return prepare_table(frame, source="built-in synthetic subduction table", **kw), "built-in synthetic", planted


def class_schemes(cfg: dict) -> dict[int, ClassScheme]:
    """``{2: Mw cut 8.0, 3: quantile cuts 0.33/0.65}`` from the ``[classes]`` settings."""
    c = cfg["classes"]
    known = {2: ClassScheme(tuple(c["two_cuts"]), c["two_space"]),
             3: ClassScheme(tuple(c["three_cuts"]), c["three_space"])}
    bad = [n for n in c["counts"] if n not in known]
    if bad:
        raise ValueError(f"classes.counts: {bad} not supported (expected 2 and/or 3)")
    return {int(n): known[int(n)] for n in c["counts"]}


# --- 2. Model and training -------------------------------------------------------------------
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """PyTorch ``OneCycleLR`` (two phases, cosine annealing) as a Keras schedule.

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then falls to ``max_lr / div_factor / final_div_factor``. PyTorch also
    cycles Adam's β1 (0.95 → 0.85 → 0.95); Keras cannot, so β1 stays 0.9 here.
    ``total_steps`` is a variable, so one compiled training step serves fits of any length.
    """

    def __init__(self, max_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
                 final_div_factor: float = 1e4):
        self.max_lr, self.pct_start = float(max_lr), float(pct_start)
        self.div_factor, self.final_div_factor = float(div_factor), float(final_div_factor)
        self.total_steps = tf.Variable(float(total_steps), trainable=False, dtype=tf.float32)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        up_end = tf.maximum(self.pct_start * self.total_steps - 1.0, 1e-6)
        down_len = tf.maximum(self.total_steps - 1.0 - up_end, 1e-6)

        def anneal(start, end, pct):
            return end + (start - end) / 2.0 * (1.0 + tf.cos(math.pi * tf.clip_by_value(pct, 0.0, 1.0)))

        return tf.where(step <= up_end, anneal(initial, self.max_lr, step / up_end),
                        anneal(self.max_lr, final, (step - up_end) / down_len))

    def get_config(self):
        return dict(max_lr=self.max_lr, total_steps=float(self.total_steps.numpy()), pct_start=self.pct_start,
                    div_factor=self.div_factor, final_div_factor=self.final_div_factor)


def build_mlp(n_features: int, n_classes: int, model_cfg: dict) -> keras.Model:
    """The ml4szeq MLP: ``(N, n_features) -> (N, n_classes)`` logits (``seis_keras.models``)."""
    from seis_keras.models import get_model

    return get_model("subduction", n_features=n_features, n_classes=n_classes,
                     hidden_units=(int(model_cfg["h1"]), int(model_cfg["h2"])), dropout=float(model_cfg["dropout"]))


class MLPTrainer:
    """Trains the ml4szeq MLP again and again; keeps the lowest-validation-loss epoch (code).

    One model, optimizer and compiled epoch function are reused by every :meth:`fit` (fresh
    seeded weights — Keras's Dense defaults, Glorot-uniform kernels and zero biases, drawn with
    numpy — and a zeroed optimizer each time), so the study's hundreds of tiny fits do not
    each pay for building and tracing. Each epoch is one call: the rows are packed into
    ``max_rows``-sized, zero-padded batches (padding masked out of the loss, so every batch
    loss is the mean over its real rows, the last one partial as in PyTorch), which gives the
    function fixed shapes, compiled once (with XLA when ``jit_compile``). Dropout masks are drawn
    statelessly from (seed, epoch, batch, layer), so a fit depends on its seed only.

    Args:
        n_features: input width.
        n_classes: output width.
        model_cfg: ``[model]`` settings (h1, h2, dropout).
        train_cfg: ``[train]`` settings: loss (``"bce_onehot"``: sigmoid BCE on one-hot labels,
            the code; ``"softmax_ce"``), learning_rate, lr_schedule (``"one_cycle"``, the code's
            OneCycleLR; ``"constant"``), adam_epsilon, batch_size, epochs, balance
            (``"sampling"``: inverse-frequency resampling each epoch, like the code's
            WeightedRandomSampler; ``"class_weight"``: loss weights n/(k·n_c); ``"none"``),
            jit_compile (XLA-compile the epoch; same arithmetic, ~12 % less CPU per fit in
            ``bench/subduction_trainer.py``).
        max_rows: most training (and validation) rows any fit will get.
    """

    def __init__(self, n_features: int, n_classes: int, model_cfg: dict, train_cfg: dict, max_rows: int):
        self.loss, self.balance = train_cfg["loss"], train_cfg["balance"]
        if self.loss not in ("bce_onehot", "softmax_ce"):
            raise ValueError(f"train.loss: expected 'bce_onehot' or 'softmax_ce', got {self.loss!r}")
        if self.balance not in ("sampling", "class_weight", "none"):
            raise ValueError(f"train.balance: expected 'sampling', 'class_weight' or 'none', got {self.balance!r}")
        if train_cfg["lr_schedule"] not in ("one_cycle", "constant"):
            raise ValueError(f"train.lr_schedule: expected 'one_cycle' or 'constant', got {train_cfg['lr_schedule']!r}")
        self.n_features, self.n_classes, self.model_cfg = int(n_features), int(n_classes), model_cfg
        self.batch, self.epochs = int(train_cfg["batch_size"]), int(train_cfg["epochs"])
        self.max_rows = int(max_rows)
        self.max_batches = max(1, math.ceil(self.max_rows / self.batch))
        lr = float(train_cfg["learning_rate"])
        self.schedule = OneCycle(lr, 1) if train_cfg["lr_schedule"] == "one_cycle" else None
        self.model = build_mlp(self.n_features, self.n_classes, model_cfg)
        self.optimizer = keras.optimizers.Adam(self.schedule or lr, epsilon=float(train_cfg["adam_epsilon"]))
        self.optimizer.build(self.model.trainable_variables)
        none = keras.losses.Reduction.NONE
        self.loss_fn = (keras.losses.BinaryCrossentropy(from_logits=True, reduction=none) if self.loss == "bce_onehot"
                        else keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=none))
        self._epoch = tf.function(self._one_epoch, jit_compile=bool(train_cfg.get("jit_compile", True)))

    def _target(self, y):
        if self.loss == "bce_onehot":
            return np.eye(self.n_classes, dtype=np.float32)[y]
        return np.asarray(y, dtype=np.int32)

    def _pad(self, a, rows: int):
        out = np.zeros((rows, *a.shape[1:]), dtype=a.dtype)
        out[:len(a)] = a
        return out

    def _train_forward(self, x, seed):
        """The model's chain of layers with stateless dropout: masks follow ``seed`` (shape [2])."""
        for index, layer in enumerate(self.model.layers[1:]):
            if isinstance(layer, keras.layers.Dropout):
                if layer.rate > 0:
                    x = tf.nn.experimental.stateless_dropout(x, layer.rate, seed=seed + tf.constant([0, 1], tf.int64) * index)
            else:
                x = layer(x, training=True)
        return x

    def _one_epoch(self, xb, yb, wb, mb, n_batches, xv, yv, mv, seed):
        model, opt = self.model, self.optimizer

        def step(i):
            step_seed = tf.stack([seed[0], seed[1] * 4096 + tf.cast(i, tf.int64) * 64])
            with tf.GradientTape() as tape:
                per_row = self.loss_fn(yb[i], self._train_forward(xb[i], step_seed))
                loss = tf.reduce_sum(per_row * wb[i]) / tf.maximum(tf.reduce_sum(mb[i]), 1.0)
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return (i + 1,)

        tf.while_loop(lambda i: i < n_batches, step, (tf.constant(0),))
        per_row = self.loss_fn(yv, model(xv, training=False))
        return tf.reduce_sum(per_row * mv) / tf.maximum(tf.reduce_sum(mv), 1.0)

    def fit(self, X_fit, y_fit, X_val, y_val, seed: int):
        """Train from fresh weights (seeded) on ``X_fit`` ``(n, F)``, ``y_fit`` ``(n,)`` class indices.

        Args:
            X_fit, y_fit: training rows.
            X_val, y_val: validation rows; empty → the last epoch is kept.
            seed: weights, dropout and sampling seed.

        Returns:
            ``(model, info)``: the trainer's model holding the best epoch's weights (valid until
            the next fit; :meth:`copy_model` keeps it) and
            ``{"best_epoch", "best_val_loss", "val_loss": per epoch}``.
        """
        n, n_val = len(X_fit), len(X_val)
        if n > self.max_rows or n_val > self.max_rows or n == 0:
            raise ValueError(f"MLPTrainer.fit: got {n} training / {n_val} validation rows "
                             f"(expected 1..{self.max_rows}, the trainer's max_rows)")
        keras.utils.set_random_seed(int(seed))
        rng = np.random.default_rng(seed)
        self.model.set_weights([self._initial(w.shape, rng) for w in self.model.get_weights()])
        for v in self.optimizer.variables():
            v.assign(tf.zeros_like(v))
        if self.schedule is not None:
            self.schedule.total_steps.assign(float(math.ceil(n / self.batch) * self.epochs))
        counts = np.bincount(y_fit, minlength=self.n_classes)
        class_w = (n / (self.n_classes * np.maximum(counts, 1))).astype(np.float32)
        rows, shape = self.max_batches * self.batch, (self.max_batches, self.batch)
        mask = self._pad(np.ones(n, np.float32), rows).reshape(shape)
        n_batches = tf.constant(math.ceil(n / self.batch), tf.int32)
        xv = self._pad(np.asarray(X_val, np.float32).reshape(-1, self.n_features), self.max_rows)
        yv = self._pad(self._target(np.asarray(y_val, dtype=np.int64)), self.max_rows)
        mv = self._pad(np.ones(n_val, np.float32), self.max_rows)
        best, best_w, best_epoch, history = np.inf, None, self.epochs - 1, []
        for epoch in range(self.epochs):
            order = balanced_sample(y_fit, seed=rng) if self.balance == "sampling" else rng.permutation(n)
            w = class_w[y_fit[order]] if self.balance == "class_weight" else np.ones(n, np.float32)
            xb = self._pad(X_fit[order], rows).reshape(*shape, self.n_features)
            yb = self._pad(self._target(y_fit[order]), rows).reshape(*shape, *self._target(y_fit[:1]).shape[1:])
            v = float(self._epoch(xb, yb, self._pad(w, rows).reshape(shape), mask, n_batches, xv, yv, mv,
                                  tf.constant([seed, epoch], tf.int64)))
            if n_val:
                history.append(v)
                if v < best:
                    best, best_w, best_epoch = v, self.model.get_weights(), epoch
        if best_w is not None:
            self.model.set_weights(best_w)
        return self.model, {"best_epoch": best_epoch, "best_val_loss": float(best), "val_loss": history}

    @staticmethod
    def _initial(shape, rng: np.random.Generator) -> np.ndarray:
        """Keras's Dense defaults drawn from ``rng``: Glorot-uniform kernels, zero biases."""
        if len(shape) == 1:
            return np.zeros(shape, np.float32)
        limit = math.sqrt(6.0 / (shape[0] + shape[1]))
        return rng.uniform(-limit, limit, size=shape).astype(np.float32)

    def copy_model(self) -> keras.Model:
        """A separate model holding the current weights (the trainer's model is reused by the next fit)."""
        model = build_mlp(self.n_features, self.n_classes, self.model_cfg)
        model.set_weights(self.model.get_weights())
        return model


# --- 3. Spatial cross-validation -------------------------------------------------------------
def _baselines(X_train, y_train, X_test, n_classes: int, cfg: dict) -> dict[str, np.ndarray]:
    """Majority class of the training rows, and class-balanced logistic regression."""
    from sklearn.linear_model import LogisticRegression

    out = {"majority": np.full(len(X_test), np.bincount(y_train, minlength=n_classes).argmax())}
    if len(np.unique(y_train)) > 1:
        lr = LogisticRegression(C=float(cfg["baselines"]["logistic_c"]), class_weight="balanced", max_iter=2000)
        out["logistic"] = lr.fit(X_train, y_train).predict(X_test)
    else:
        out["logistic"] = out["majority"].copy()
    return out


def fitted_transforms(X_raw, y_mw, rows: np.ndarray, cache: dict | None = None) -> SubductionTransforms:
    """:class:`SubductionTransforms` fitted on ``rows``, reused from ``cache`` for the same rows.

    The Yeo–Johnson fit (a scalar optimisation per feature) costs far more than a tiny MLP
    epoch, and it depends only on the rows, not on the seed or the class count.
    """
    key = np.asarray(rows, dtype=np.int64).tobytes()
    if cache is not None and key in cache:
        return cache[key]
    tr = SubductionTransforms().fit(X_raw[rows], y_mw[rows])
    if cache is not None:
        cache[key] = tr
    return tr


def cross_validate(table, scheme: ClassScheme, exclusion_km: float, seeds, cfg: dict, trainer: MLPTrainer, *,
                   fit_transforms_on: str = "train", baselines: bool = True, keep_models: bool = False,
                   transforms_cache: dict | None = None) -> dict:
    """All folds for each seed at one exclusion distance: pooled test labels and predictions.

    Transforms are fitted per fold on its training rows (``fit_transforms_on="train"``) or on
    all rows (``"all"``, the code); 3-class labels follow that fold's quantile transform.

    Returns:
        ``{"labels": (n_seeds, n), "mlp": (n_seeds, n), "majority"/"logistic": (n,),
        "mw_cuts": [per fold], "best_epochs": [...], "explained": [fold dicts of the first seed]}``;
        every row is tested exactly once per seed.
    """
    if fit_transforms_on not in ("train", "all"):
        raise ValueError(f"cv.fit_transforms_on: expected 'train' or 'all', got {fit_transforms_on!r}")
    cv = cfg["cv"]
    frame, X_raw, y_mw = table.frame, table.features, table.target
    n, k = len(frame), scheme.n_classes
    out = {"labels": np.full((len(seeds), n), -1), "mlp": np.full((len(seeds), n), -1), "mw_cuts": [],
           "best_epochs": [], "explained": []}
    base = {name: np.full(n, -1) for name in ("majority", "logistic")}
    for fold in range(int(cv["n_slices"])):
        train, test = spatial_exclusion_split(frame, fold, exclusion_km, n_slices=int(cv["n_slices"]),
                                              by=cv["slice_by"])
        tr = fitted_transforms(X_raw, y_mw, train if fit_transforms_on == "train" else np.arange(n), transforms_cache)
        X_tr, X_te = tr.transform(X_raw[train]), tr.transform(X_raw[test])
        y_tr, y_te = scheme.labels(y_mw[train], tr), scheme.labels(y_mw[test], tr)
        out["mw_cuts"].append(scheme.mw_cuts(tr))
        if baselines:
            for name, p in _baselines(X_tr, y_tr, X_te, k, cfg).items():
                base[name][test] = p
        for s_i, seed in enumerate(seeds):
            fit_i, val_i = validation_rows(np.arange(len(train)), float(cv["validation_fraction"]),
                                           seed=seed * 1009 + fold)
            model, info = trainer.fit(X_tr[fit_i], y_tr[fit_i], X_tr[val_i], y_tr[val_i], seed=seed * 1009 + fold)
            pred = np.argmax(model(X_te, training=False).numpy(), axis=1)
            out["labels"][s_i, test], out["mlp"][s_i, test] = y_te, pred
            out["best_epochs"].append(info["best_epoch"])
            if keep_models and s_i == 0:
                out["explained"].append(dict(model=trainer.copy_model(), X_train=X_tr, X_test=X_te, y_test=y_te,
                                             pred=pred))
    if baselines:
        out.update(base)
    return out


def f1_summary(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> dict:
    """Macro and per-class F1 (mean ± std over seeds; one row per seed)."""
    from sklearn.metrics import f1_score

    labels, preds = np.atleast_2d(labels), np.atleast_2d(preds)
    macro = [f1_score(l, p, average="macro", labels=range(n_classes), zero_division=0) for l, p in zip(labels, preds)]
    per = np.array([f1_score(l, p, average=None, labels=range(n_classes), zero_division=0)
                    for l, p in zip(labels, preds)])
    ddof = 1 if len(macro) > 1 else 0
    return {"macro_mean": float(np.mean(macro)), "macro_std": float(np.std(macro, ddof=ddof)),
            "per_class_mean": per.mean(axis=0).tolist(), "per_class_std": per.std(axis=0, ddof=ddof).tolist(),
            "per_seed_macro": [float(m) for m in macro]}


# --- 4. The study ----------------------------------------------------------------------------
def run(cfg: dict, data: str | None = None, out: str = "runs", run_path=None) -> RunFolder:
    """Run the whole study (F1 vs exclusion distance, baselines, relevance) into a run folder."""
    t0 = time.time()
    base_seed = int(cfg["seed"])
    table, source, planted = load_data(data, cfg, base_seed)
    folder = RunFolder(NAME, out=out, path=run_path)
    folder.write_json("config.json", cfg)
    seeds = [base_seed + i for i in range(int(cfg["train"]["seeds"]))]
    distances = sorted({float(d) for d in [*cfg["cv"]["exclusion_km"], *cfg["cv"]["sweep_km"]]})
    fit_on = cfg["cv"]["fit_transforms_on"]
    other = "all" if fit_on == "train" else "train"
    n_compare = min(int(cfg["cv"]["compare_seeds"]), len(seeds))
    explain_km = float(cfg["explain"]["exclusion_km"])
    if explain_km not in distances:
        raise ValueError(f"explain.exclusion_km: {explain_km} is not among the exclusion distances {distances}")
    schemes = class_schemes(cfg)
    metrics = {"data": report.data_summary(table, source), "classes": {}, "f1": {}, "fit_transforms_on": fit_on,
               "fit_transforms_comparison": {}, "relevance": {}}
    f1_plot, names, trainers, cache = {}, {}, {}, {}
    all_tr = fitted_transforms(table.features, table.target, np.arange(len(table.frame)), cache)
    for n_cls, scheme in schemes.items():
        trainer = trainers[n_cls] = MLPTrainer(len(FEATURE_COLUMNS), n_cls, cfg["model"], cfg["train"],
                                               max_rows=len(table.frame))
        names[n_cls] = scheme.class_names(all_tr)
        metrics["classes"][str(n_cls)] = report.class_summary(scheme, table, all_tr)
        f1_plot[n_cls], metrics["f1"][str(n_cls)] = {}, {}
        metrics["fit_transforms_comparison"][str(n_cls)] = {}
        for dist in distances:
            res = cross_validate(table, scheme, dist, seeds, cfg, trainer, fit_transforms_on=fit_on,
                                 keep_models=dist == explain_km, transforms_cache=cache)
            entry = {"mlp": f1_summary(res["labels"], res["mlp"], n_cls)}
            for name in ("majority", "logistic"):
                entry[name] = f1_summary(res["labels"][0], res[name], n_cls)
            entry["mw_cuts_per_fold"] = res["mw_cuts"]
            entry["best_epochs"] = res["best_epochs"]
            metrics["f1"][str(n_cls)][f"{dist:g}"] = entry
            f1_plot[n_cls][dist] = {m: entry[m] for m in ("mlp", "logistic", "majority")}
            if n_compare:
                alt = cross_validate(table, scheme, dist, seeds[:n_compare], cfg, trainer, fit_transforms_on=other,
                                     baselines=False, transforms_cache=cache)
                same = f1_summary(res["labels"][:n_compare], res["mlp"][:n_compare], n_cls)["macro_mean"]
                diff = f1_summary(alt["labels"], alt["mlp"], n_cls)["macro_mean"]
                metrics["fit_transforms_comparison"][str(n_cls)][f"{dist:g}"] = {
                    fit_on: same, other: diff, f"{other}_minus_{fit_on}": diff - same, "seeds": n_compare}
            if dist == explain_km:
                rel = explain_folds(res["explained"], n_cls, cfg)
                metrics["relevance"][str(n_cls)] = report.relevance_summary(rel, names[n_cls], planted, cfg)
                folder.save_figure(report.heatmap_figure(rel, names[n_cls], n_cls, explain_km), f"relevance_{n_cls}class")
            print(f"[{NAME}] {n_cls} classes, exclusion {dist:g} km: MLP macro F1 "
                  f"{entry['mlp']['macro_mean']:.3f} ± {entry['mlp']['macro_std']:.3f} "
                  f"(logistic {entry['logistic']['macro_mean']:.3f}, majority {entry['majority']['macro_mean']:.3f})",
                  flush=True)
    from seis_keras.plots.subduction import f1_vs_exclusion

    folder.save_figure(f1_vs_exclusion(f1_plot, names, title=f"ml4szeq spatial CV ({source})"), "f1_vs_exclusion")
    metrics["exported"] = report.export_final_models(table, schemes, cfg, folder, trainers, all_tr)
    metrics["wall_time_s"] = time.time() - t0
    folder.write_json("metrics.json", metrics)
    folder.write_text("report.md", report.markdown(metrics, cfg, names))
    return folder


def main(argv=None) -> int:
    parser = recipe_parser(NAME, __doc__)
    args = parser.parse_args(argv)
    overrides = list(args.overrides) + ([f"seed={args.seed}"] if args.seed is not None else [])
    cfg = load_config(args.config, args.profile, overrides)
    folder = run(cfg, data=args.data, out=args.out)
    print(f"[{NAME}] run folder: {folder.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
