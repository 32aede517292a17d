"""Benchmark: training throughput (windows/s) of each paper model, Keras vs PyTorch, on this CPU.

For every model the same architecture is built in Keras (``seis_keras.models.get_model``) and in
PyTorch (``seis_keras.models.torch_ports``), both trained with Adam (lr 1e-3) and the loss the
output width calls for (BCE from logits / cross-entropy from logits) on random data at the
paper's batch size: detector 512, norcia 32, spectrogram 32, precursor 16 (open in the paper;
windows of 16384 samples), subduction 16. Each framework runs ``--warmup`` steps (graph
tracing, allocator warm-up), then the two alternate in ``--rounds`` timed rounds (so both see
the same load from other processes) of ``--seconds / --rounds`` each (at least
``--min-steps`` steps; one round when a step pair takes longer than that), and the
median round is reported. Keras steps run through the function ``model.fit`` itself
calls (``model.make_train_function()`` on a repeated dataset), which executes
``--steps-per-execution`` steps per call into the graph (``TrainSettings.steps_per_execution``);
norcia and precursor use 1, their steps take long enough that the ~1 ms dispatch cost is
negligible. ``model.train_on_batch`` (one Python call per step, what a naive loop pays) is
reported beside it. PyTorch steps are the usual zero_grad / forward / backward / step loop. The table gives
windows/s and the ratio Keras / PyTorch (> 1: Keras faster), with the load average at the end
of each row.

Threads: ``--threads 1,2`` (the default) runs each configuration in its own process (a
framework's thread pool is fixed once it starts), both frameworks with that many threads, and
prints them separately. On a machine shared with other jobs, more threads than idle cores make
OpenMP oversubscribed: PyTorch's small steps then slow down up to fifty-fold (spinning threads
wait for descheduled ones), which measures the load, not the framework. A row is marked
``honest`` when it has 1 thread, or when the load average during it left at least its threads
idle (the load average minus the benchmark's own threads ``<= cores - threads + 0.5``);
otherwise ``oversubscribed``. Only honest rows belong
in the README's table.

Usage::

    .venv/bin/python bench/train.py [--models detector,norcia,...] [--seconds 6]
        [--threads 1,2] [--precursor-length 16384] [--json results.json]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

#: name -> (batch size, Keras input shape per window, PyTorch axes order of a batch)
CASES = {
    "detector": (512, (500, 3), (0, 2, 1)),
    "norcia": (32, (2500, 3), (0, 2, 1)),
    "spectrogram": (32, (33, 153, 3), (0, 3, 1, 2)),
    "precursor": (16, (16384, 3), (0, 2, 1)),
    "subduction": (16, (49,), (0, 1)),
}


def _data(batch, shape, n_outputs, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *shape)).astype("float32")
    if n_outputs == 1:
        y = rng.integers(0, 2, (batch, 1)).astype("float32")
    else:
        y = rng.integers(0, n_outputs, batch).astype("int64")
    return x, y


def _timed(step, seconds, min_steps, max_steps):
    """Time ``step`` for about ``seconds``; returns (steps, elapsed seconds)."""
    steps, start = 0, time.perf_counter()
    while steps < max_steps and (steps < min_steps or time.perf_counter() - start < seconds):
        step()
        steps += 1
    return steps, time.perf_counter() - start


#: models whose steps are long (>= 0.1 s): one step per call
LONG_STEPS = ("norcia", "precursor")


def keras_step(name, batch, shape, settings, steps_per_execution=1, train_on_batch=False):
    """Keras training on one random batch; returns (step, parameter count, training steps per call)."""
    import tensorflow as tf
    from tensorflow import keras

    from seis_keras.models import get_model

    keras.utils.set_random_seed(0)
    model = get_model(name, **settings)
    n_out = model.output_shape[-1]
    loss = (keras.losses.BinaryCrossentropy(from_logits=True) if n_out == 1
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    k = 1 if train_on_batch or name in LONG_STEPS else steps_per_execution
    model.compile(keras.optimizers.Adam(1e-3), loss, steps_per_execution=k)
    x, y = _data(batch, shape, n_out)
    if train_on_batch:
        return (lambda: model.train_on_batch(x, y)), model.count_params(), 1
    batches = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    train_function = model.make_train_function()
    return (lambda: train_function(batches)), model.count_params(), k


def torch_step(name, batch, shape, axes, settings):
    """The same step in PyTorch (zero_grad, forward, backward, Adam step)."""
    import torch

    from seis_keras.models import torch_ports

    torch.manual_seed(0)
    build = getattr(torch_ports, f"torch_{name}")
    settings = {k: v for k, v in settings.items() if k != "input_length"}
    module = build(**settings).train()
    n_out = module.logits.out_features
    loss_fn = torch.nn.BCEWithLogitsLoss() if n_out == 1 else torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    x, y = _data(batch, shape, n_out)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(axes)))
    yt = torch.from_numpy(y)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(module(xt), yt)
        loss.backward()
        optimizer.step()

    return step, torch_ports.torch_parameter_count(module)[0]


def compare(name, batch, shape, axes, settings, args):
    """Warm both up, then alternate timed rounds (Keras, PyTorch, Keras, ...) so that both see
    the same machine load; returns the median windows/s of each and the timed steps."""
    k_step, k_params, k_per_call = keras_step(name, batch, shape, settings, args.steps_per_execution)
    b_step, _, _ = keras_step(name, batch, shape, settings, train_on_batch=True)
    t_step, t_params = torch_step(name, batch, shape, axes, settings)
    if k_params != t_params:
        raise RuntimeError(f"{name}: Keras has {k_params} parameters, PyTorch {t_params}")
    start = time.perf_counter()
    for _ in range(args.warmup):
        k_step()
        b_step()
        t_step()
    warm_pair = (time.perf_counter() - start) / max(args.warmup, 1)
    # one round when a single Keras + PyTorch step pair already fills the time (precursor)
    rounds = args.rounds if warm_pair * args.rounds <= 2 * args.seconds else 1
    rates = {"keras": [], "train_on_batch": [], "torch": []}
    steps = {"keras": 0, "train_on_batch": 0, "torch": 0}
    per_call = {"keras": k_per_call, "train_on_batch": 1, "torch": 1}
    per_round = args.seconds / rounds
    for _ in range(rounds):
        for key, step in (("keras", k_step), ("train_on_batch", b_step), ("torch", t_step)):
            n, elapsed = _timed(step, per_round, args.min_steps, args.max_steps)
            rates[key].append(n * per_call[key] * batch / elapsed)
            steps[key] += n * per_call[key]
    return ({key: float(np.median(v)) for key, v in rates.items()}, steps, k_params, k_per_call)


def verdict(threads: int, load: float) -> str:
    """``honest`` for 1 thread or enough idle cores during the row, else ``oversubscribed``.

    The load average counts this benchmark's own ``threads`` runnable threads; the other
    processes' share is about ``load - threads``, and must leave ``threads`` cores idle.
    """
    others = load - threads
    return "honest" if threads == 1 or others <= (os.cpu_count() or 1) - threads + 0.5 else "oversubscribed"


def run_configurations(argv, thread_counts, json_path):
    """Each thread count in its own process (this script with one ``--threads``); one table."""
    import json
    import subprocess
    import tempfile

    rest, skip = [], False
    for a in argv:  # drop --threads/--json from the child's arguments
        if skip:
            skip = False
            continue
        if a in ("--threads", "--json"):
            skip = True
            continue
        if a.startswith(("--threads=", "--json=")):
            continue
        rest.append(a)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for threads in thread_counts:
            out = Path(tmp) / f"threads{threads}.json"
            print(f"## {threads} thread(s) each", flush=True)
            subprocess.run([sys.executable, __file__, *rest, "--threads", str(threads), "--json", str(out)],
                           check=True)
            rows += json.loads(out.read_text())["results"]
    print(f"\n# summary: Keras / PyTorch per thread count (only 'honest' rows say something about the "
          f"frameworks; {os.cpu_count()} cores)")
    print(f"{'model':<12} {'threads':>7} {'keras win/s':>12} {'torch win/s':>12} {'keras/torch':>11} {'load':>5}  verdict")
    for r in sorted(rows, key=lambda r: (list(CASES).index(r["model"]), r["threads"])):
        print(f"{r['model']:<12} {r['threads']:>7} {r['keras_windows_per_s']:>12.1f} {r['torch_windows_per_s']:>12.1f} "
              f"{r['ratio']:>11.2f} {r['load']:>5.1f}  {r['verdict']}")
    if json_path:
        from seis_keras.atomic import write_json

        write_json(json_path, {"cpu_count": os.cpu_count(), "results": rows})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(CASES),
                        help="comma-separated subset of " + ", ".join(CASES))
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed steps of each framework first (default 1)")
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="timed seconds per framework and model (default 6)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating Keras/PyTorch rounds the seconds are split into; "
                             "the median round is reported (default 3)")
    parser.add_argument("--threads", default="1,2",
                        help="comma-separated CPU thread counts, one process each, the same for both "
                             "frameworks (default 1,2)")
    parser.add_argument("--min-steps", type=int, default=1,
                        help="timed steps per round at least (default 1)")
    parser.add_argument("--max-steps", type=int, default=200, help="timed steps at most (default 200)")
    parser.add_argument("--precursor-length", type=int, default=16384,
                        help="precursor window length in samples (paper 16384)")
    parser.add_argument("--steps-per-execution", type=int, default=16,
                        help="Keras steps per graph call for the short-step models (default 16)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    try:
        thread_counts = [int(t) for t in str(args.threads).split(",") if t.strip()]
    except ValueError:
        parser.error(f"--threads: expected comma-separated positive integers, got {args.threads!r}")
    if not thread_counts or min(thread_counts) < 1:
        parser.error(f"--threads: expected comma-separated positive integers, got {args.threads!r}")
    if len(thread_counts) > 1:
        return run_configurations(argv or sys.argv[1:], thread_counts, args.json)
    args.threads = thread_counts[0]

    import tensorflow as tf
    import torch

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    torch.set_num_threads(args.threads)

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CASES))
    if unknown:
        parser.error(f"--models: unknown {unknown} (expected some of {list(CASES)})")
    print(f"# CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{args.threads} threads each; load average {os.getloadavg()[0]:.1f}; "
          f"tensorflow {tf.__version__}, torch {torch.__version__}")
    header = (f"{'model':<12} {'batch':>5} {'input':>14} {'params':>9} {'steps/call':>10} {'keras win/s':>12} "
              f"{'on_batch win/s':>14} {'torch win/s':>12} {'keras/torch':>11} {'load':>9} verdict")
    print(header)
    print("-" * len(header))
    rows = []
    for name in names:
        batch, shape, axes = CASES[name]
        settings = {}
        if name == "precursor":
            shape = (args.precursor_length, shape[1])
            settings = {"input_length": args.precursor_length}
        rates, steps, params, per_call = compare(name, batch, shape, axes, settings, args)
        k_rate, b_rate, t_rate = rates["keras"], rates["train_on_batch"], rates["torch"]
        rows.append(dict(model=name, batch=batch, input=list(shape), parameters=params,
                         keras_steps_per_execution=per_call, keras_windows_per_s=k_rate,
                         keras_train_on_batch_windows_per_s=b_rate, torch_windows_per_s=t_rate,
                         keras_steps=steps["keras"], torch_steps=steps["torch"], ratio=k_rate / t_rate,
                         threads=args.threads, load=os.getloadavg()[0],
                         verdict=verdict(args.threads, os.getloadavg()[0])))
        print(f"{name:<12} {batch:>5} {'x'.join(map(str, shape)):>14} {params:>9} {per_call:>10} "
              f"{k_rate:>12.1f} {b_rate:>14.1f} {t_rate:>12.1f} {k_rate / t_rate:>11.2f} "
              f"load {rows[-1]['load']:4.1f} {rows[-1]['verdict']}", flush=True)
    if args.json:
        from seis_keras.atomic import write_json

        write_json(args.json, {"cpu_count": os.cpu_count(), "threads": args.threads,
                               "results": rows})
    return rows


if __name__ == "__main__":
    main()
