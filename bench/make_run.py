"""Benchmark of ``make run`` (issue 17.5): the detector's quick profile, section by section.

Runs ``python -m seis_keras.recipes.detector --profile quick`` (built-in data, optionally with
``--eval-data``) ``--rounds`` times into a temporary folder and prints each section's seconds
(``metrics.json["timings_s"]``), the process's wall time and the load average before and after.
With ``--paired``, every round also runs the recipe with ``--set train.workers=1`` (the runs one
after the other in one process, the path before ``seis_keras.train.parallel``), the two
alternating so both see the same load, and prints the training section's ratio.

Then the two pieces of the path that changed besides the training, each paired on the quick
model A of the last run:

* backward optimisation: ``optimal_input(engine="compiled")`` against ``engine="tf-keras-vis"``
  (200 SGD steps of the three zero / random / noise-prototype inputs of model A);
* the trust section's deletion curves: :func:`seis_keras.explain.metrics.perturbation_curve`
  as it runs now (several steps per model call, a compiled model call) against one eager model
  call per step (what it did before), on 32 scored earthquakes, 20 steps.

    .venv/bin/python bench/make_run.py [--rounds 1] [--paired] [--eval-data ../shared/data/detector_real_dev]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")


def recipe(out: Path, eval_data: str | None, extra: list[str]) -> tuple[float, dict, Path]:
    """One quick detector run: (wall seconds of the process, timings_s, run folder)."""
    cmd = [sys.executable, "-m", "seis_keras.recipes.detector", "--profile", "quick", "--out", str(out), *extra]
    if eval_data:
        cmd += ["--eval-data", eval_data]
    before = set(out.iterdir()) if out.exists() else set()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    (folder,) = set(out.iterdir()) - before
    return wall, json.loads((folder / "metrics.json").read_text())["timings_s"], folder


def show(name: str, wall: float, timings: dict) -> None:
    parts = ", ".join(f"{k} {v:.0f}" for k, v in timings.items() if v >= 0.5)
    print(f"{name:28s} wall {wall:6.1f} s   sections: {parts}", flush=True)


def paired_pieces(folder: Path) -> None:
    """BO engines and deletion curves, old path vs new, alternating, on model A of ``folder``."""
    import numpy as np

    from seis_keras.data.store import WaveformStore
    from seis_keras.explain import metrics, targets
    from seis_keras.explain.optimal_input import optimal_input
    from seis_keras.explain.targets import resolve_model

    model = resolve_model(folder / "runs" / "A" / "model.h5")
    shape = model.input_shape[1:]
    init = np.concatenate([np.zeros((1, *shape)), 0.1 * np.random.default_rng(1000).standard_normal((1, *shape)),
                           np.zeros((1, *shape))]).astype(np.float32)
    kw = dict(init=init, steps=200, learning_rate=6.0, objective="loss", optimizer="sgd", weight_decay=1e-4)
    store = WaveformStore(next((folder / "data").iterdir()))
    rows = np.flatnonzero(store.metadata["label"].to_numpy() == 1)[:32]
    x = store.get_waveforms(rows).astype(np.float32)
    x = x - x.mean(axis=1, keepdims=True)
    x = x / np.abs(x).max(axis=(1, 2), keepdims=True)
    relevance = np.abs(np.random.default_rng(0).standard_normal(x.shape))

    def curve_before():  # one eager model call per step, as before: batch_size = the batch flushes every step
        compiled = targets._inference_call
        targets._inference_call = lambda m: (lambda v: m(v, training=False))
        try:
            return metrics.perturbation_curve(model, x, relevance, steps=20, batch_size=len(x), score="logit")[1]
        finally:
            targets._inference_call = compiled

    def curve_now():
        return metrics.perturbation_curve(model, x, relevance, steps=20, score="logit")[1]

    contenders = {"BO tf-keras-vis (before)": lambda: optimal_input(model, [1, 1, 0], engine="tf-keras-vis", **kw),
                  "BO compiled (now)": lambda: optimal_input(model, [1, 1, 0], engine="compiled", **kw),
                  "deletion curve, eager call per step (before)": curve_before,
                  "deletion curve (now)": curve_now}
    diff = np.abs(curve_before() - curve_now()).max()
    print(f"deletion curves before vs now: max |score difference| {diff:.1e}")
    times: dict = {k: [] for k in contenders}
    for k, fn in contenders.items():
        fn()  # warm-up (traces)
    for _ in range(3):
        for k, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    med = {k: float(np.median(v)) for k, v in times.items()}
    for k, v in med.items():
        print(f"{k:46s} {v * 1000:8.0f} ms (median of 3)")
    print(f"BO speed-up {med['BO tf-keras-vis (before)'] / med['BO compiled (now)']:.2f}x; "
          f"deletion-curve speed-up (21 eager calls -> 3 compiled calls) {med['deletion curve, eager call per step (before)'] / med['deletion curve (now)']:.2f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--paired", action="store_true", help="also run with train.workers=1, alternating")
    p.add_argument("--eval-data", default=None)
    p.add_argument("--no-pieces", action="store_true", help="skip the paired BO / deletion-curve timings")
    p.add_argument("--folder", type=Path, default=None, help="time the pieces on this detector run folder instead")
    a = p.parse_args()
    print(f"cores {len(os.sched_getaffinity(0))}, load average before {os.getloadavg()}", flush=True)
    ratios, folder = [], None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for r in range(a.rounds):
            wall, timings, folder = recipe(out, a.eval_data, [])
            show(f"round {r + 1}: now", wall, timings)
            if a.paired:
                wall1, timings1, _ = recipe(out, a.eval_data, ["--set", "train.workers=1"])
                show(f"round {r + 1}: train.workers=1", wall1, timings1)
                ratios.append(timings1["training"] / timings["training"])
        if ratios:
            print(f"training section, workers=1 / now: {', '.join(f'{x:.2f}x' for x in ratios)}")
        print(f"load average after the recipe runs {os.getloadavg()}", flush=True)
        if not a.no_pieces and (a.folder or folder):
            paired_pieces(a.folder or folder)
    print(f"load average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
