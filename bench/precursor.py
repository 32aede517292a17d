"""Precursor recipe throughput: full-size training and inference windows/s, projected recipe CPU time.

Builds the Ong et al. precursor CNN at the paper's size (16384 × 3 windows, filters up to 256)
and at the quick profile's size, times training steps (``train_on_batch`` with the random input
layer active, sparse cross-entropy from logits, Adam) and inference (``predict_on_batch``) on
random windows, then multiplies by the window counts of the full recipe (``recipes/precursor.toml``:
5 + 1 trainings of 1776 windows × epochs, their evaluations, the 36-interval time course,
the frequency-occlusion sweep, time occlusion, saliency/LRP and the scan).

Usage: ``.venv/bin/python bench/precursor.py [--batch 4] [--steps 2] [--threads 2]``
Prints one line per measurement and the projection; numbers depend on the machine's load (the
1-minute load average is printed).

``--profile``: where a training step's time goes instead (paper widths, ``--profile-length``
samples, default 4096, so that a round stays short; the split scales with the length). Variants
of the step, timed in alternating rounds (``--rounds``; medians, with the ratio to the full
step taken within a round): the full fp32 step; without the random input layer; without
BatchNorm (replaced by identity); without the stride-1 max-pools; the forward pass alone
(``training=True``); the full step under Keras's ``mixed_bfloat16`` policy; then, in a fresh
process each, the full step with oneDNN off (``TF_ENABLE_ONEDNN_OPTS=0``) and with
``--threads 1``; and the input pipeline's sub-windows/s (``sub_window_dataset`` of a built-in
store). The machine's ceiling beside them: fp32 and bf16 matmul GFLOP/s (2048²,
``tf.linalg.matmul``), and the model's multiply-adds per training window (3 × forward). Last,
the full-size (16384) training rate in fp32 and bf16 and the full profile's projected time
with each.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def windows_per_second(model, x, y, steps: int, train: bool) -> float:
    """Windows/s over ``steps`` calls after one warm-up call."""
    call = (lambda: model.train_on_batch(x, y)) if train else (lambda: model.predict_on_batch(x))
    call()
    t0 = time.perf_counter()
    for _ in range(steps):
        call()
    return steps * len(x) / (time.perf_counter() - t0)


def recipe_counts(cfg) -> dict:
    """Training window-steps and inference windows of the whole recipe for a config (``PrecursorConfig``)."""
    from seis_keras.recipes.precursor.occlusion import cutoff_list

    w, t = cfg.windows, cfg.train
    n_tr = round(cfg.data.n_events * 24 / 31)
    n_te = cfg.data.n_events - n_tr
    per_event = w.sub_windows
    train_windows = 2 * n_tr * per_event
    test_windows = 2 * n_te * per_event
    fits = t.retrainings + (t.mode_b_retrainings if "B" in w.modes else 0)
    positions = -(-w.sub_window_samples // cfg.occlusion.stride)
    record_s = w.n_macro_windows * w.macro_window_s
    window_s = w.sub_window_samples / cfg.data.sampling_rate
    return {
        "training_window_steps": fits * train_windows * t.epochs,
        "inference_windows": {
            "evaluation": fits * (train_windows + test_windows),
            "time_course": t.retrainings * n_te * w.n_macro_windows * per_event,
            "frequency_occlusion": len(cutoff_list(cfg.frequency_occlusion)) * test_windows,
            "time_occlusion_and_sequence": n_te * per_event + 4 * positions,
            "scan": int((record_s - window_s) // cfg.scan.stride_s) + 1},
        "gradient_windows": 2 * 2 * cfg.relevance.n_per_class,  # saliency + LRP, ~ a training step each
    }


def _load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def train_step(model, x, y):
    """One compiled training step (the function ``model.fit`` calls), fed a repeated batch."""
    import tensorflow as tf
    from tensorflow import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batches = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    fn = model.make_train_function()
    return lambda: fn(batches)


def without(model, kind):
    """A copy of ``model`` with its BatchNorm layers (``"bn"``) or stride-1 max-pools (``"pool"``) as identity."""
    from tensorflow import keras
    from tensorflow.keras import layers

    def clone(layer):
        if kind == "bn" and isinstance(layer, layers.BatchNormalization):
            return layers.Activation("linear", name=layer.name)
        if kind == "pool" and isinstance(layer, layers.MaxPooling1D) and layer.strides == (1,):
            return layers.Activation("linear", name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    return keras.models.clone_model(model, clone_function=clone)


def matmul_gflops(dtype: str, n: int = 2048, reps: int = 5) -> float:
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    f = tf.function(lambda m: tf.linalg.matmul(m, m))
    f(a).numpy()
    t = time.perf_counter()
    for _ in range(reps):
        f(a).numpy()
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


def profile_step(args) -> int:
    import subprocess
    import sys

    import tensorflow as tf
    from tensorflow import keras

    from seis_keras.models import get_model
    from seis_keras.recipes.config import load_config
    from seis_keras.recipes.precursor.config import PrecursorConfig

    if args.variant:  # child process: the full step's rate on one line
        print(f"RATE {_variant_rate(args):.4f}")
        return 0
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    cfg = load_config(PrecursorConfig, "precursor", "full")
    filters, n = tuple(cfg.model.filters), args.profile_length
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, n, 3)).astype(np.float32)
    y = rng.integers(0, 2, args.batch).astype(np.int32)
    print(f"# profile of one training step: paper widths {list(filters)}, {n} x 3, batch {args.batch}, "
          f"threads {args.threads}; CPUs {os.cpu_count()}; {_load()}")
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    print(f"# CPU flags: avx512f {'avx512f' in flags}, avx512_bf16 {'avx512_bf16' in flags}, "
          f"amx_bf16 {'amx_bf16' in flags}")
    print(f"# ceiling: matmul fp32 {matmul_gflops('float32'):.0f} GFLOP/s, bf16 {matmul_gflops('bfloat16'):.0f} "
          f"GFLOP/s ({_load()})")

    def build(**kw):
        return get_model("precursor", input_length=n, filters=filters, fc_units=cfg.model.fc_units, **kw)

    steps = {}
    base = build()
    macs = sum(int(np.prod(l.kernel.shape)) * int(l.output_shape[1])
               for l in base.layers if isinstance(l, keras.layers.Conv1D))
    steps["full fp32 step"] = train_step(base, x, y)
    steps["no random input layer"] = train_step(build(random_input=False), x, y)
    steps["no BatchNorm"] = train_step(without(build(), "bn"), x, y)
    steps["no stride-1 max-pools"] = train_step(without(build(), "pool"), x, y)
    fwd_model = build()
    fwd = tf.function(lambda t: fwd_model(t, training=True))
    steps["forward only (training=True)"] = lambda: fwd(x).numpy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    steps["full step, mixed_bfloat16"] = train_step(build(), x, y)
    keras.mixed_precision.set_global_policy("float32")
    for step in steps.values():  # tracing, first-call allocation
        step()
    times = {k: [] for k in steps}
    for _ in range(args.rounds):
        for key, step in steps.items():
            t = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[key].append((time.perf_counter() - t) / args.steps)
    full = np.array(times["full fp32 step"])
    print(f"{'variant':<32} {'s/step':>7} {'win/s':>7} {'vs full':>8}  ({args.rounds} rounds x {args.steps} steps; "
          f"{_load()})")
    for key, v in times.items():
        v = np.array(v)
        print(f"{key:<32} {np.median(v):7.3f} {args.batch / np.median(v):7.2f} {np.median(v / full):8.3f}")
    print(f"  per training window: {3 * macs / 1e9:.2f} G multiply-adds (3 x forward {macs / 1e9:.2f} G) -> "
          f"{6 * macs * args.batch / np.median(full) / 1e9:.0f} GFLOP/s achieved by the full fp32 step")
    for label, extra_env, extra in (("oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)", {"TF_ENABLE_ONEDNN_OPTS": "0"}, []),
                                    ("1 thread", {}, ["--threads", "1"])):
        out = subprocess.run([sys.executable, __file__, "--profile", "--variant", "full", "--batch", str(args.batch),
                              "--steps", str(args.steps), "--profile-length", str(n),
                              "--threads", str(args.threads), *extra],
                             env={**os.environ, **extra_env}, capture_output=True, text=True)
        rate = [float(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("RATE")]
        print(f"{label:<32} {'':7} {rate[0] if rate else float('nan'):7.2f}  (own process; {_load()})")
    for shuffle, rate in pipeline_rates(cfg).items():
        print(f"{'input pipeline, shuffle ' + str(shuffle):<32} {'':7} {rate:7.1f}  (sub_window_dataset of a built-in "
              f"store, 16384 x 3, batch {cfg.train.batch_size}; {_load()})")
    counts = recipe_counts(cfg)
    n_inf = sum(counts["inference_windows"].values())
    print(f"\n# full profile ({counts['training_window_steps']} training window-steps, {n_inf} inference windows) "
          f"at 16384 x 3, batch {args.batch}")
    for policy in ("float32", "mixed_bfloat16") if args.full_steps else ():
        keras.mixed_precision.set_global_policy(policy)
        big = get_model("precursor", input_length=16384, filters=filters, fc_units=cfg.model.fc_units)
        xb = rng.normal(size=(args.batch, 16384, 3)).astype(np.float32)
        step = train_step(big, xb, y)
        step()
        t = time.perf_counter()
        for _ in range(args.full_steps):
            step()
        rate = args.full_steps * args.batch / (time.perf_counter() - t)
        infer = 3 * rate  # a forward pass is ~1/3 of a training step
        hours = ((counts["training_window_steps"] + counts["gradient_windows"]) / rate + n_inf / infer) / 3600
        print(f"  {policy:<15} training {rate:5.2f} windows/s -> projected {hours:6.1f} h on this CPU ({_load()})")
        keras.backend.clear_session()
    keras.mixed_precision.set_global_policy("float32")
    full_macs = macs * 16384 // n  # the conv stack's cost is linear in the length (same padding)
    flop = 2 * full_macs * (3 * (counts["training_window_steps"] + counts["gradient_windows"]) + n_inf)
    mhz = [float(line.split(":")[1]) for line in flags.splitlines() if line.startswith("cpu MHz")]
    peak = 2 * 16 * (max(mhz) / 1e3 if mhz else float("nan")) * (os.cpu_count() or 1)
    print(f"  the full profile is {flop / 1e15:.1f} PFLOP: 12 h needs {flop / 43200 / 1e9:.0f} GFLOP/s sustained; "
          f"this CPU's fp32 FMA peak is ~{peak:.0f} GFLOP/s ({os.cpu_count()} cores x 16 fp32 FMA/cycle x "
          f"{max(mhz) if mhz else float('nan'):.0f} MHz; bf16 dot products at most 2 x that), so >= "
          f"{flop / (2 * peak * 1e9) / 3600:.1f} h even at the bf16 peak")
    return 0


def pipeline_rates(cfg) -> dict:
    """Sub-windows/s of the recipe's input pipeline (``sub_window_dataset``, full-size windows) on a
    built-in store of 3 events, without and with shuffling (second pass timed)."""
    import shutil
    import tempfile
    from pathlib import Path

    from seis_keras.data.precursor_windows import sub_window_dataset, training_windows
    from seis_keras.data.store import WaveformStore
    from seis_keras.data.synthetic.precursor import precursor_data
    from seis_keras.recipes.precursor.config import windowing

    work = Path(tempfile.mkdtemp(prefix="bench_precursor_"))
    try:
        precursor_data(3, seed=0, path=work / "store")
        store = WaveformStore(work / "store")
        lengths = np.array([store.trace_shape(i)[0] for i in range(len(store))])
        w = windowing(cfg, store.sampling_rate)
        win = training_windows(store.metadata, lengths, store.sampling_rate, w, mode="A", split="train")
        rates = {}
        for shuffle in (False, True):
            ds = sub_window_dataset(store, win, w, batch_size=cfg.train.batch_size, shuffle=shuffle,
                                    shuffle_buffer=cfg.train.shuffle_buffer)
            for _ in ds:
                pass
            t, n = time.perf_counter(), 0
            for x, _ in ds:
                n += len(x)
            rates[shuffle] = n / (time.perf_counter() - t)
        store.close()
        return rates
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _variant_rate(args) -> float:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from seis_keras.models import get_model
    from seis_keras.recipes.config import load_config
    from seis_keras.recipes.precursor.config import PrecursorConfig

    cfg = load_config(PrecursorConfig, "precursor", "full")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.profile_length, 3)).astype(np.float32)
    y = rng.integers(0, 2, args.batch).astype(np.int32)
    step = train_step(get_model("precursor", input_length=args.profile_length, filters=tuple(cfg.model.filters),
                                fc_units=cfg.model.fc_units), x, y)
    step()
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    return args.steps * args.batch / (time.perf_counter() - t)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=4, help="windows per step at full size (default 4)")
    p.add_argument("--steps", type=int, default=2, help="timed steps per measurement (default 2)")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra/inter-op threads (default 2)")
    p.add_argument("--profile", action="store_true", help="where a training step's time goes (see above)")
    p.add_argument("--profile-length", type=int, default=4096, help="window length of --profile (default 4096)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of --profile (default 2)")
    p.add_argument("--full-steps", type=int, default=1,
                   help="timed full-size (16384) steps per precision at the end of --profile (0: skip)")
    p.add_argument("--variant", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.profile:
        return profile_step(args)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from tensorflow import keras

    from seis_keras.models import get_model
    from seis_keras.recipes.config import load_config
    from seis_keras.recipes.precursor.config import PrecursorConfig

    print(f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; threads {args.threads}")
    rates = {}
    for profile in ("full", "quick"):
        cfg = load_config(PrecursorConfig, "precursor", profile)
        n, filters = cfg.windows.sub_window_samples, tuple(cfg.model.filters)
        model = get_model("precursor", input_length=n, filters=filters, fc_units=cfg.model.fc_units)
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        batch = args.batch if profile == "full" else max(args.batch, 16)
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch, n, 3)).astype(np.float32)
        y = rng.integers(0, 2, batch).astype(np.int32)
        train = windows_per_second(model, x, y, args.steps, True)
        infer = windows_per_second(model, np.concatenate([x, x]), None, args.steps, False)
        rates[profile] = (train, infer)
        print(f"{profile:5s} model ({n} x 3, filters {list(filters)}): training {train:.2f} windows/s "
              f"(batch {batch}), inference {infer:.2f} windows/s (batch {2 * batch})")
        counts = recipe_counts(cfg)
        n_inf = sum(counts["inference_windows"].values())
        seconds = (counts["training_window_steps"] + counts["gradient_windows"]) / train + n_inf / infer
        print(f"  {profile} recipe: {counts['training_window_steps']} training window-steps, {n_inf} inference "
              f"windows ({', '.join(f'{k} {v}' for k, v in counts['inference_windows'].items())}) -> projected "
              f"{seconds / 3600:.2f} h of model time on this CPU (data generation, filtering and LRP start-up extra)")
        keras.backend.clear_session()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
