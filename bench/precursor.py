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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=4, help="windows per step at full size (default 4)")
    p.add_argument("--steps", type=int, default=2, help="timed steps per measurement (default 2)")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra/inter-op threads (default 2)")
    args = p.parse_args()
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
