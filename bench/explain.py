"""Benchmark: explained samples per second of the eager explainers on two paper models.

Runs vanilla saliency, SmoothGrad, gradient SHAP and time occlusion on the Majstorović
detector (500 x 3) and the Laurenti Norcia classifier (2500 x 3, BatchNorm) with random
weights and random inputs (throughput does not depend on training), and prints a table;
optionally Magrini's partition SHAP on the spectrogram model (``--partition-samples``).

    .venv/bin/python bench/explain.py [--n-detector 256] [--n-norcia 8] [--repeats 1]
                                      [--models detector,norcia]

Each number is the best of ``--repeats`` timed runs after one warm-up run.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tensorflow import keras  # noqa: E402

from seis_keras.explain.occlusion import occlude_time  # noqa: E402
from seis_keras.explain.saliency import saliency, smoothgrad  # noqa: E402
from seis_keras.explain.shap_values import gradient_shap, partition_shap  # noqa: E402
from seis_keras.models import get_model  # noqa: E402


def _best_rate(fn, n: int, repeats: int) -> float:
    fn()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-detector", type=int, default=256, help="detector windows per run")
    p.add_argument("--n-norcia", type=int, default=8, help="Norcia traces per run")
    p.add_argument("--repeats", type=int, default=1, help="timed runs (best kept)")
    p.add_argument("--models", default="detector,norcia", help="comma-separated subset")
    p.add_argument("--partition-samples", type=int, default=0,
                   help="also time Magrini partition SHAP (max_evals 1000, batch 50) on this many "
                        "spectrograms of the spectrogram model (0: skip; first call includes "
                        "shap's numba compilation, so one warm-up sample is run first)")
    p.add_argument("--smooth-samples", type=int, default=10, help="SmoothGrad noisy copies")
    p.add_argument("--shap-nsamples", type=int, default=50, help="GradientExplainer draws per sample")
    args = p.parse_args(argv)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    cases = [
        ("detector", get_model("detector"), rng.normal(size=(args.n_detector, 500, 3)), 25),
        ("norcia", get_model("norcia"), rng.normal(size=(args.n_norcia, 2500, 3)), 125),
    ]
    wanted = args.models.split(",")
    cases = [c for c in cases if c[0] in wanted]
    print(f"{'model':<12}{'method':<34}{'samples/s':>12}")
    for name, model, X, mask in cases:
        X = X.astype(np.float32)
        background = X[:min(16, len(X))]
        n_pos = int(np.ceil(X.shape[1] / mask))
        methods = [
            ("saliency", lambda: saliency(model, X)),
            (f"smoothgrad ({args.smooth_samples} copies)",
             lambda: smoothgrad(model, X, samples=args.smooth_samples)),
            (f"gradient SHAP (nsamples={args.shap_nsamples})",
             lambda: gradient_shap(model, X, background, nsamples=args.shap_nsamples)),
            (f"time occlusion ({n_pos} positions)",
             lambda: occlude_time(model, X, mask=mask, stride=mask)),
        ]
        for label, fn in methods:
            rate = _best_rate(fn, len(X), args.repeats)
            print(f"{name:<12}{label:<34}{rate:>12.1f}", flush=True)
    if args.partition_samples > 0:
        model = get_model("spectrogram")
        S = rng.uniform(size=(args.partition_samples + 1, 33, 153, 3)).astype(np.float32)
        partition_shap(model, S[:1], max_evals=1000, batch_size=50)
        t0 = time.perf_counter()
        partition_shap(model, S[1:], max_evals=1000, batch_size=50)
        rate = args.partition_samples / (time.perf_counter() - t0)
        print(f"{'spectrogram':<12}{'partition SHAP (max_evals=1000)':<34}{rate:>12.3f}", flush=True)


if __name__ == "__main__":
    main()
