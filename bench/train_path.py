"""Benchmark of the training path users run: store -> ``make_dataset`` -> ``fit`` vs in-memory arrays.

For the detector (built-in windows, default 20,000 × 500 × 3, batch 512, shuffled) and Norcia
(built-in traces of ``--norcia-events`` events, 2500 × 3, batch 32 as ``recipes/norcia.toml``,
shuffled, last partial batch dropped) it writes the built-in data as a store, then runs two
epochs of :func:`seis_keras.train.fit` (the loop every recipe uses, with its per-epoch weight
backup) on a fresh model and times the second epoch (the first includes graph tracing and
first-call costs, the same for both; its rate is printed too), fed

* ``store``: ``make_dataset(store, transforms=<the model's contract>, shuffle=True)``, what the
  recipes do (reads, transforms and shuffling while training);
* ``arrays``: ``make_dataset_from_arrays(x, y, transforms=..., shuffle=True)`` on the same
  windows already in memory (transforms applied once, inside the timing).

The two alternate in ``--rounds`` rounds (so both see the same load from the other processes on
this machine); windows/s are medians over the rounds and the ratio store / arrays is the median
of the per-round ratios (1.0: reading from disk costs nothing). The load average is printed
beside the numbers.

Usage::

    .venv/bin/python bench/train_path.py [--models detector,norcia] [--n 20000] [--norcia-events 300]
        [--rounds 3] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

#: model -> (batch size, drop the last partial batch, steps per graph call), as its recipe trains
CASES = {"detector": (512, False, 1), "norcia": (32, True, 1)}


def _load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def _epoch_clock():
    from tensorflow import keras

    class EpochClock(keras.callbacks.Callback):
        """Wall seconds of each epoch (``on_epoch_begin`` to ``on_epoch_end``)."""

        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._t)

    return EpochClock


def build_store(name: str, path: Path, args) -> None:
    from seis_keras.data.synthetic import detector_data, norcia_data

    if name == "detector":
        detector_data(args.n, seed=0, path=path)
    else:
        norcia_data(args.norcia_events, seed=0, path=path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="detector,norcia", help="comma-separated subset of detector, norcia")
    ap.add_argument("--n", type=int, default=20000, help="detector windows (default 20000)")
    ap.add_argument("--norcia-events", type=int, default=25, help="Norcia events (default 25: ~110 traces)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating timed rounds (default 3)")
    ap.add_argument("--workdir", type=Path, help="folder for the stores (default: a temporary one)")
    args = ap.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    if unknown := sorted(set(names) - set(CASES)):
        ap.error(f"--models: unknown {unknown} (expected some of {list(CASES)})")

    from seis_keras.data.pipeline import make_dataset, make_dataset_from_arrays
    from seis_keras.data.store import WaveformStore
    from seis_keras.models import contract_of, get_model
    from seis_keras.train.fit import TrainSettings, fit

    EpochClock = _epoch_clock()

    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_train_path_"))
    print(f"# CPUs {os.cpu_count()}; {_load()}")
    print(f"{'model':<9} {'windows':>7} {'batch':>5} {'store win/s':>12} {'arrays win/s':>13} "
          f"{'store/arrays':>12} {'1st epoch store/arrays win/s':>29}  load")
    try:
        for name in names:
            batch, drop, spe = CASES[name]
            path = work / f"{name}_store"
            if not (path / "waveforms.hdf5").is_file():
                build_store(name, path, args)
            store = WaveformStore(path)
            contract = contract_of(name)
            transforms = contract.transform_list()
            x, y = store.get_waveforms(slice(None)), store.metadata["label"].to_numpy()
            n_classes = int(y.max()) + 1
            settings = TrainSettings(epochs=2, keep_best=False, tensorboard=False, verbose=0,
                                     steps_per_execution=spe)
            n_seen = (len(y) // batch) * batch if drop else len(y)

            def model_fn():
                return get_model(name, **({} if name == "detector" else {"n_classes": n_classes}))

            def run(kind, k=[0]):
                """Two epochs on a fresh model; returns (first, second) epoch seconds."""
                k[0] += 1
                if kind == "store":
                    ds = make_dataset(store, label="label", transforms=transforms, batch_size=batch,
                                      shuffle=True, seed=k[0], drop_remainder=drop)
                else:
                    ds = make_dataset_from_arrays(x, y, transforms=transforms, batch_size=batch,
                                                  shuffle=True, seed=k[0], drop_remainder=drop)
                clock = EpochClock()
                fit(model_fn, ds, None, settings, work / f"run_{name}_{kind}_{k[0]}", callbacks=[clock])
                return clock.seconds

            times = {"store": [], "arrays": []}
            for _ in range(args.rounds):
                for kind in ("store", "arrays"):
                    times[kind].append(run(kind))
            first = {kind: n_seen / np.median([t[0] for t in v]) for kind, v in times.items()}
            times = {kind: [t[1] for t in v] for kind, v in times.items()}
            ts, ta = np.array(times["store"]), np.array(times["arrays"])
            ratio = float(np.median(ta / ts))
            print(f"{name:<9} {n_seen:>7} {batch:>5} {n_seen / np.median(ts):>12.0f} "
                  f"{n_seen / np.median(ta):>13.0f} {ratio:>12.2f} "
                  f"{first['store']:>15.0f} / {first['arrays']:<11.0f}  {_load()}", flush=True)
            store.close()
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
