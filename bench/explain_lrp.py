"""Benchmark: LRP throughput (innvestigate worker) and its cost relative to one gradient pass.

For the Majstorović detector (500 x 3, batch 256 by default) and the Laurenti Norcia
classifier (2500 x 3 with BatchNorm, batch 32), random weights and random inputs
(throughput does not depend on training), and each LRP rule, it prints:

- ``start_s``: starting the worker, loading the model and building the analyzer;
- ``samples/s``: analysed samples per second once built (best of ``--repeats`` timed
  calls after one warm-up call; includes the pipe transfer to and from the worker);
- ``ratio``: LRP time per sample divided by the time per sample of one eager
  ``tf.GradientTape`` gradient of the predicted logit in this process (goal <= 3).

    .venv/bin/python bench/explain_lrp.py [--models detector norcia] [--rules ...]
        [--n-detector 256] [--n-norcia 32] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seis_keras.explain.lrp import LRPAnalyzer  # noqa: E402
from seis_keras.models import get_model  # noqa: E402

#: label -> LRPAnalyzer settings
RULES = {
    "epsilon": dict(rule="epsilon"),
    "epsilon_nobias": dict(rule="epsilon", bias=False),
    "alpha_beta_b0": dict(rule="alpha_beta", beta=0.0),
    "alpha_beta_b0.5": dict(rule="alpha_beta", beta=0.5),
    "alpha_beta_b1": dict(rule="alpha_beta", beta=1.0),
    "z_plus": dict(rule="z_plus"),
    "gradient": dict(rule="gradient"),
    "preset_a": dict(rule="sequential_preset_a", epsilon=0.1),
}


def _best_seconds(fn, repeats: int) -> float:
    fn()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _gradient_seconds(model, X, repeats: int) -> float:
    """Best time of one eager GradientTape pass (gradient of the predicted logit w.r.t. X)."""
    X = tf.constant(X)

    def step():
        with tf.GradientTape() as tape:
            tape.watch(X)
            logits = model(X, training=False)
            selected = tf.reduce_max(logits, axis=1)
        return tape.gradient(selected, X).numpy()

    return _best_seconds(step, repeats)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["detector", "norcia"], choices=["detector", "norcia"])
    p.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    p.add_argument("--n-detector", type=int, default=256, help="detector batch size")
    p.add_argument("--n-norcia", type=int, default=32, help="norcia batch size")
    p.add_argument("--norcia-length", type=int, default=2500, help="norcia input samples")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (best kept)")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    rows = []
    for name in args.models:
        if name == "detector":
            model, n = get_model("detector"), args.n_detector
        else:
            model, n = get_model("norcia", n_classes=2, input_length=args.norcia_length), args.n_norcia
        X = rng.normal(size=(n,) + tuple(model.input_shape[1:])).astype("float32")
        grad_per_sample = _gradient_seconds(model, X, args.repeats) / n
        rows.append((name, "tf.GradientTape (eager)", n, float("nan"), 1.0 / grad_per_sample, 1.0))
        for label in args.rules:
            t0 = time.perf_counter()
            with LRPAnalyzer(model, batch_size=n, **RULES[label]) as analyzer:
                start = time.perf_counter() - t0
                per_sample = _best_seconds(lambda: analyzer.analyze(X), args.repeats) / n
            rows.append((name, label, n, start, 1.0 / per_sample, per_sample / grad_per_sample))
            print(f"  {name:9s} {label:24s} done", flush=True)

    print(f"\n{'model':9s} {'rule':24s} {'batch':>5s} {'start_s':>8s} {'samples/s':>10s} {'ratio':>6s}")
    for name, label, n, start, rate, ratio in rows:
        start_txt = "-" if np.isnan(start) else f"{start:8.1f}"
        print(f"{name:9s} {label:24s} {n:5d} {start_txt:>8s} {rate:10.1f} {ratio:6.2f}")
    print(f"\n(2-core CPU unless stated; ratio = LRP time per sample / eager gradient time per sample; "
          f"os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
