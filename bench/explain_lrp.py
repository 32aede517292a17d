"""Benchmark: LRP in the innvestigate worker — start, analyzer builds, throughput, one worker vs one per rule.

For the Majstorović detector (500 x 3, batch 256 by default) and the Laurenti Norcia
classifier (2500 x 3 with BatchNorm, batch 32), random weights and random inputs
(throughput does not depend on training), it prints:

1. per model, one :class:`LRPSession` for every method: ``start_s`` (worker start +
   model load, once), ``build_s`` (the method's analyzer, first use), ``samples/s`` once
   built (best of ``--repeats`` calls after a warm-up, pipe transfer included) and
   ``ratio`` = LRP time per sample / one eager ``tf.GradientTape`` gradient pass (goal <= 3);
2. the detector recipe's four rules (alpha-beta beta 0, 0.5, 1 and epsilon) on the same
   windows, paired: one worker per rule (``LRPAnalyzer`` each, as before) against one
   session for all four, wall time of each and their ratio;
3. ``--builds``: the analyzer build time in one graph with Keras' default TF-op layer
   creation (it evaluates every constant input in a new session callable) against the
   worker's setting (constants kept symbolic), same analyzers, in two subprocesses.

    .venv/bin/python bench/explain_lrp.py [--models detector norcia] [--methods ...]
        [--n-detector 256] [--n-norcia 32] [--repeats 3] [--no-paired] [--builds]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seis_keras.explain.lrp import LRPAnalyzer, LRPSession  # noqa: E402
from seis_keras.models import get_model  # noqa: E402

#: label -> method text
METHODS = {
    "epsilon": "lrp.epsilon",
    "epsilon_nobias": "lrp.epsilon(bias=false)",
    "alpha_beta_b0": "lrp.alpha_beta(beta=0)",
    "alpha_beta_b0.5": "lrp.alpha_beta(beta=0.5)",
    "alpha_beta_b1": "lrp.alpha_beta(beta=1)",
    "alpha_beta_b1_stab": "lrp.alpha_beta(beta=1, stabilised=true)",
    "gamma": "lrp.gamma",
    "composite": "lrp.composite(input=zbox(low=-1, high=1))",
    "preset_a_flat": "lrp.sequential_preset_a_flat",
    "gradient": "gradient",
}
#: the detector recipe's rules (recipes/detector.toml: betas 0, 0.5, 1 and epsilon without bias)
RECIPE_RULES = [dict(rule="alpha_beta", beta=b) for b in (0.0, 0.5, 1.0)] + [dict(rule="epsilon", bias=False)]


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
            selected = tf.reduce_max(model(X, training=False), axis=1)
        return tape.gradient(selected, X).numpy()

    return _best_seconds(step, repeats)


def _model(name, args):
    if name == "detector":
        return get_model("detector"), args.n_detector
    return get_model("norcia", n_classes=2, input_length=args.norcia_length), args.n_norcia


def throughput(args, rng):
    rows = []
    for name in args.models:
        model, n = _model(name, args)
        X = rng.normal(size=(n,) + tuple(model.input_shape[1:])).astype("float32")
        grad_per_sample = _gradient_seconds(model, X, args.repeats) / n
        rows.append((name, "tf.GradientTape (eager)", n, float("nan"), float("nan"), 1.0 / grad_per_sample, 1.0))
        with LRPSession(model, batch_size=n) as session:
            start = session.info["start_s"]
            for label in args.methods:
                method = METHODS[label]
                per_sample = _best_seconds(lambda: session.analyze(X, method), args.repeats) / n
                build = session.build_s.get(_text(method), 0.0)
                rows.append((name, label, n, start, build, 1.0 / per_sample, per_sample / grad_per_sample))
                start = float("nan")
                print(f"  {name:9s} {label:20s} done", flush=True)
    print(f"\n{'model':9s} {'method':24s} {'batch':>5s} {'start_s':>8s} {'build_s':>8s} {'samples/s':>10s} {'ratio':>6s}")
    for name, label, n, start, build, rate, ratio in rows:
        fmt = lambda v: "-" if np.isnan(v) else f"{v:8.1f}"  # noqa: E731
        print(f"{name:9s} {label:24s} {n:5d} {fmt(start):>8s} {fmt(build):>8s} {rate:10.1f} {ratio:6.2f}")


def _text(method):
    from seis_keras.explain.methods import parse_method

    return parse_method(method).text


def paired_recipe_rules(args, rng):
    """The detector recipe's four rules: one worker each vs one session (same windows)."""
    model, n = _model("detector", args)
    X = rng.normal(size=(n, 500, 3)).astype("float32")
    print("\ndetector recipe rules (alpha-beta 0, 0.5, 1; epsilon without bias), paired rounds:")
    for round_ in range(args.rounds):
        t0 = time.perf_counter()
        per_rule = []
        for settings in RECIPE_RULES:
            with LRPAnalyzer(model, batch_size=n, **settings) as analyzer:
                per_rule.append(analyzer.analyze(X))
        t_per_rule = time.perf_counter() - t0
        t0 = time.perf_counter()
        with LRPSession(model, batch_size=n) as session:
            one = [session.analyze(X, _analyzer_text(s)) for s in RECIPE_RULES]
        t_one = time.perf_counter() - t0
        same = max(float(np.max(np.abs(a - b))) for a, b in zip(per_rule, one))
        print(f"  round {round_ + 1}: one worker per rule {t_per_rule:6.1f} s, one session {t_one:6.1f} s, "
              f"ratio {t_per_rule / t_one:4.2f}x (max |difference| {same:.1e}); load {os.getloadavg()[0]:.1f}")


def _analyzer_text(settings):
    from seis_keras.explain.lrp import _rule_text

    return _rule_text(settings["rule"], 1e-6, settings.get("beta", 0.0), settings.get("bias"))


BUILD_SCRIPT = r"""
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
from tensorflow import keras
from keras.src.engine import base_layer_utils
base_layer_utils._UNSAFE_GRAPH_OP_LAYER_CREATION = sys.argv[2] == "symbolic"
import seis_keras.models
from seis_keras.explain.lrp_rules import build_analyzer
from seis_keras.explain.methods import parse_method
from seis_keras.models.surgery import fold_batchnorm, logits_model, strip_random_input
m = logits_model(fold_batchnorm(strip_random_input(keras.models.load_model(sys.argv[1], compile=False))))
out = {}
for text in sys.argv[3:]:
    t0 = time.perf_counter()
    build_analyzer(m, parse_method(text))
    out[text] = time.perf_counter() - t0
print("RESULT " + json.dumps(out))
"""


def build_modes(args):
    """Analyzer builds in one graph: Keras' default constant evaluation vs symbolic constants."""
    methods = [METHODS[k] for k in ("epsilon", "alpha_beta_b0", "alpha_beta_b0.5", "alpha_beta_b1", "composite")]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "detector.h5")
        get_model("detector").save(path, save_format="h5")
        script = os.path.join(tmp, "builds.py")
        with open(script, "w") as fh:
            fh.write(BUILD_SCRIPT)
        results = {}
        for mode in ("default", "symbolic"):
            done = subprocess.run([sys.executable, script, path, mode, *methods], capture_output=True, text=True,
                                  check=True)
            line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")][0]
            results[mode] = json.loads(line[7:])
    print("\ndetector analyzer builds in one graph (seconds, in this order):")
    print(f"  {'method':44s} {'Keras default':>13s} {'symbolic':>9s}")
    for m in methods:
        print(f"  {m:44s} {results['default'][m]:13.1f} {results['symbolic'][m]:9.1f}")
    total = {k: sum(v.values()) for k, v in results.items()}
    print(f"  {'total':44s} {total['default']:13.1f} {total['symbolic']:9.1f}   "
          f"({total['default'] / total['symbolic']:.1f}x); load {os.getloadavg()[0]:.1f}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["detector", "norcia"], choices=["detector", "norcia"])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--n-detector", type=int, default=256, help="detector batch size")
    p.add_argument("--n-norcia", type=int, default=32, help="norcia batch size")
    p.add_argument("--norcia-length", type=int, default=2500, help="norcia input samples")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (best kept)")
    p.add_argument("--rounds", type=int, default=2, help="paired rounds of the recipe-rules comparison")
    p.add_argument("--no-throughput", action="store_true", help="skip part 1")
    p.add_argument("--no-paired", action="store_true", help="skip part 2")
    p.add_argument("--builds", action="store_true", help="also run part 3 (two more TensorFlow processes)")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    if not args.no_throughput:
        throughput(args, rng)
    if not args.no_paired:
        paired_recipe_rules(args, rng)
    if args.builds:
        build_modes(args)
    print(f"\n(2-core CPU unless stated; os.cpu_count()={os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
