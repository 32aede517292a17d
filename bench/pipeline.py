"""Benchmark of the tf.data store pipeline: throughput vs plain h5py, peak memory vs dataset size.

Writes a synthetic store (random float32 windows, default 20,000 x (500, 3)), then

1. windows/s of one epoch of ``make_dataset`` (no transforms, batch 512, no shuffle) against
   two plain h5py baselines, and their ratios (goal >= 0.8):

   * ``raw``: the usual ``dataset[()]`` of every block in turn (what h5py reads fastest, but
     not what a model consumes: on-disk layout, one block at a time);
   * ``batches``: plain h5py delivering what the pipeline delivers: sequential reads of
     ``batch_size`` rows (``dataset[a:b]``, never crossing a block), made float32
     channels-last ``(N, T, C)`` contiguous arrays with numpy (a transpose for ``CW``).

   Also the shuffled training configuration, and the floor any ``tf.data`` pipeline iterated
   from Python pays: ready-made batches iterated with no reads at all. For both on-disk layouts: ``CW`` (SeisBench's
   default, blocks ``(N, C, T)``: the pipeline must transpose to channels-last) and ``WC``
   (blocks ``(N, T, C)``). ``--ref FILE`` adds the ``make_dataset`` of another copy of
   ``seis_keras/data/pipeline.py`` (e.g. the previous commit's) as a paired A/B contender;
2. the peak RSS (``resource.getrusage(...).ru_maxrss``) of a fresh process that streams one
   shuffled epoch, for the store and for one ``--scale`` (default 10) times larger; goal: the
   larger within 10 % of the smaller.

Every contender runs once per round, rounds repeated ``--repeats`` times (alternating, so all
see the same machine load; other processes share the CPU); rates and ratios are medians over
the rounds (a ratio is taken within a round). The load average is printed beside them.

Usage::

    .venv/bin/python bench/pipeline.py [--n 20000] [--length 500] [--scale 10] [--workdir DIR]
        [--ref OLD_PIPELINE.py] [--layouts CW,WC] [--no-shuffled] [--no-rss]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import h5py  # noqa: E402
import numpy as np  # noqa: E402


def build_store(path: Path, n: int, length: int, block_size: int, seed: int = 0, dimension_order: str = "CW") -> float:
    """Write ``n`` random (length, 3) windows with a binary label; returns seconds taken."""
    import pandas as pd

    from seis_keras.data.store import StoreWriter

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    chunk = 2048
    with StoreWriter(path, sampling_rate=100.0, component_order="ENZ", block_size=block_size,
                     dimension_order=dimension_order) as writer:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            x = rng.standard_normal((m, length, 3), dtype=np.float32)
            writer.add_many(x, pd.DataFrame({"label": (np.arange(start, start + m) % 2)}))
    return time.perf_counter() - t0


def _blocks(h5: h5py.File) -> list:
    return [h5["data"][k] for k in sorted(h5["data"], key=lambda k: int(k.replace("bucket", "")))]


def plain_h5py_epoch(path: Path) -> int:
    """Read every block sequentially with ``dataset[()]``; returns the number of windows read."""
    count = 0
    with h5py.File(path / "waveforms.hdf5", "r") as h5:
        for ds in _blocks(h5):
            count += len(ds[()])
    return count


def plain_h5py_batches(path: Path, batch_size: int, channels_first: bool) -> int:
    """Plain h5py delivering the pipeline's product: float32 ``(N, T, C)`` batches, in order.

    Reads ``batch_size`` rows at a time (``dataset[a:b]``, a block's last batch may be short)
    and makes each a contiguous channels-last float32 array (``CW`` blocks are transposed).
    Returns the number of windows delivered.
    """
    count = 0
    with h5py.File(path / "waveforms.hdf5", "r") as h5:
        for ds in _blocks(h5):
            for a in range(0, len(ds), batch_size):
                x = ds[a:a + batch_size]
                x = np.ascontiguousarray(x.transpose(0, 2, 1) if channels_first else x, dtype=np.float32)
                count += len(x)
    return count


def pipeline_epoch(ds) -> int:
    count = 0
    for x in ds:
        count += int(x.shape[0])
    return count


def tf_floor(n: int, length: int, batch_size: int, channels: int = 3):
    """The cost of iterating ``tf.data`` alone: the same number of ready-made batches, no reads.

    Returns a function giving the number of windows iterated; no pipeline that streams through
    ``tf.data`` into Python can beat it.
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensors(np.ones((batch_size, length, channels), np.float32)).repeat(n // batch_size)
    return lambda: pipeline_epoch(ds)


def paired_rates(fns: dict, repeats: int) -> dict:
    """windows/s of each function, run in turn ``repeats`` times (after one warm-up round).

    Alternating the contenders exposes them to the same machine load (the benchmark shares
    the CPU with whatever else runs). Returns {name: list of rates}.
    """
    for fn in fns.values():
        fn()
    rates = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            n = fn()
            rates[name].append(n / (time.perf_counter() - t0))
    return rates


def load_make_dataset(file: Path):
    """``make_dataset`` of another copy of the pipeline module (for an A/B comparison)."""
    spec = importlib.util.spec_from_file_location("pipeline_ref", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_dataset


def rss_child(path: str, batch_size: int) -> None:
    """Stream one shuffled epoch (training configuration) and print the peak RSS in MiB."""
    from seis_keras.data.pipeline import make_dataset

    ds = make_dataset(path, label="label", batch_size=batch_size, shuffle=True, seed=0)
    n = 0
    for x, _ in ds:
        n += int(x.shape[0])
    print(f"RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} {n}")


def peak_rss(path: Path, batch_size: int) -> tuple[float, int]:
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(path), "--batch-size", str(batch_size)],
                         capture_output=True, text=True, check=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RSS ")][-1]
    mib, n = line.split()[1:]
    return float(mib), int(n)


def _load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="windows in the 1x store")
    parser.add_argument("--length", type=int, default=500, help="samples per window")
    parser.add_argument("--block-size", type=int, default=1024, help="windows per HDF5 block")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", type=int, default=10, help="size of the large store for the memory test")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the stores (default: temp)")
    parser.add_argument("--ref", type=Path, default=None, help="another pipeline.py to compare with (A/B)")
    parser.add_argument("--layouts", default="CW,WC", help="on-disk layouts to measure")
    parser.add_argument("--no-shuffled", action="store_true", help="skip the shuffled configuration")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.batch_size)
        return

    from seis_keras.data.pipeline import make_dataset

    make_ref = load_make_dataset(args.ref) if args.ref else None
    work = args.workdir or Path(tempfile.mkdtemp(prefix="seis-keras-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    bs = args.batch_size
    try:
        rows = []
        for layout in args.layouts.split(","):
            path = work / f"store_1x_{layout}"
            t_write = build_store(path, args.n, args.length, args.block_size, dimension_order=layout)
            mb = args.n * args.length * 3 * 4 / 2**20
            print(f"store {layout}: {args.n} windows x ({args.length}, 3) float32 = {mb:.0f} MiB, "
                  f"block {args.block_size}, written in {t_write:.1f} s", flush=True)
            fns = {"raw": lambda: plain_h5py_epoch(path),
                   "batches": lambda: plain_h5py_batches(path, bs, layout == "CW"),
                   "tf_floor": tf_floor(args.n, args.length, bs)}
            makers = {"pipeline": make_dataset, **({"pipeline_ref": make_ref} if make_ref else {})}
            for name, make in makers.items():
                ds = make(path, label=None, batch_size=bs)
                assert pipeline_epoch(ds) == args.n
                fns[name] = lambda ds=ds: pipeline_epoch(ds)
                if not args.no_shuffled:
                    shuf = make(path, label="label", batch_size=bs, shuffle=True, seed=0)
                    fns[name.replace("pipeline", "shuffled")] = lambda ds=shuf: pipeline_epoch(x for x, _ in ds)
            assert plain_h5py_epoch(path) == plain_h5py_batches(path, bs, layout == "CW") == args.n
            load_before = _load()
            r = paired_rates(fns, args.repeats)
            print(f"[{layout}] {load_before} before, {_load()} after", flush=True)

            def ratio(a, b):
                return f"{np.median(np.divide(r[a], r[b])):.2f}"
            rows += [(f"[{layout}] plain h5py dataset[()] per block (windows/s)", f"{np.median(r['raw']):,.0f}"),
                     (f"[{layout}] plain h5py (N, T, C) batches of {bs} (windows/s)",
                      f"{np.median(r['batches']):,.0f}"),
                     (f"[{layout}] tf.data iteration alone, ready batches of {bs} (windows/s)",
                      f"{np.median(r['tf_floor']):,.0f}")]
            for name in fns:
                if name.startswith(("pipeline", "shuffled")):
                    rows.append((f"[{layout}] make_dataset {name}, batch {bs} (windows/s)",
                                 f"{np.median(r[name]):,.0f}"))
            for name in fns:
                if name.startswith(("pipeline", "shuffled")):
                    rows += [(f"[{layout}] ratio {name} / dataset[()] (goal >= 0.8)", ratio(name, "raw")),
                             (f"[{layout}] ratio {name} / h5py batches (goal >= 0.8)", ratio(name, "batches")),
                             (f"[{layout}] ratio {name} / tf.data iteration alone", ratio(name, "tf_floor"))]
            if make_ref:
                rows.append((f"[{layout}] ratio pipeline / pipeline_ref (A/B)", ratio("pipeline", "pipeline_ref")))
                if not args.no_shuffled:
                    rows.append((f"[{layout}] ratio shuffled / shuffled_ref (A/B)", ratio("shuffled", "shuffled_ref")))

        if not args.no_rss:
            small, large = work / "store_1x_CW", work / f"store_{args.scale}x_CW"
            if not small.exists():
                build_store(small, args.n, args.length, args.block_size)
            t_write_large = build_store(large, args.n * args.scale, args.length, args.block_size, seed=1)
            print(f"store CW {args.scale}x: {args.n * args.scale} windows written in {t_write_large:.1f} s", flush=True)
            rss_small, n_small = peak_rss(small, bs)
            rss_large, n_large = peak_rss(large, bs)
            assert n_small == args.n and n_large == args.n * args.scale
            rows += [(f"peak RSS, shuffled epoch, 1x = {n_small} windows (MiB)", f"{rss_small:.1f}"),
                     (f"peak RSS, shuffled epoch, {args.scale}x = {n_large} windows (MiB)", f"{rss_large:.1f}"),
                     (f"RSS ratio {args.scale}x / 1x (goal <= 1.10)", f"{rss_large / rss_small:.3f}")]
        print()
        print(f"{_load()} at the end; rates and ratios: medians of {args.repeats} paired rounds")
        print(f"{'measure':<64}{'value':>14}")
        print("-" * 78)
        for name, value in rows:
            print(f"{name:<64}{value:>14}")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
