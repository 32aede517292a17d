"""Benchmark of the tf.data store pipeline: throughput vs plain h5py, peak memory vs dataset size.

Writes a synthetic store (random float32 windows, default 20,000 x (500, 3)), then

1. windows/s of one epoch of ``make_dataset`` (no transforms, batch 512, no shuffle) against a
   plain sequential h5py read of the same file, block by block, and their ratio (goal >= 0.8);
   two plain reads: the usual ``dataset[()]`` and ``read_direct`` into a preallocated float32
   buffer (the fastest h5py offers); also the shuffled training configuration. For both
   on-disk layouts: ``CW`` (SeisBench's default, blocks ``(N, C, T)``: the pipeline must
   transpose to channels-last) and ``WC`` (blocks ``(N, T, C)``);
2. the peak RSS (``resource.getrusage(...).ru_maxrss``) of a fresh process that streams one
   shuffled epoch, for the store and for one ``--scale`` (default 10) times larger; goal: the
   larger within 10 % of the smaller.

Usage::

    .venv/bin/python bench/pipeline.py [--n 20000] [--length 500] [--scale 10] [--workdir DIR]
"""
from __future__ import annotations

import argparse
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


def plain_h5py_epoch(path: Path, direct: bool = False) -> int:
    """Read every block sequentially with h5py; returns the number of windows read.

    ``direct``: ``read_direct`` into a new float32 buffer instead of ``dataset[()]``.
    """
    count = 0
    with h5py.File(path / "waveforms.hdf5", "r") as h5:
        for key in sorted(h5["data"], key=lambda k: int(k.replace("bucket", ""))):
            ds = h5["data"][key]
            if direct:
                buf = np.empty(ds.shape, np.float32)
                ds.read_direct(buf)
            else:
                buf = ds[()]
            count += len(buf)
    return count


def pipeline_epoch(ds) -> int:
    count = 0
    for x in ds:
        count += int(x.shape[0])
    return count


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


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="windows in the 1x store")
    parser.add_argument("--length", type=int, default=500, help="samples per window")
    parser.add_argument("--block-size", type=int, default=1024, help="windows per HDF5 block")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", type=int, default=10, help="size of the large store for the memory test")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the stores (default: temp)")
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.batch_size)
        return

    from seis_keras.data.pipeline import make_dataset

    work = args.workdir or Path(tempfile.mkdtemp(prefix="seis-keras-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = []
        for layout in ("CW", "WC"):
            path = work / f"store_1x_{layout}"
            t_write = build_store(path, args.n, args.length, args.block_size, dimension_order=layout)
            mb = args.n * args.length * 3 * 4 / 2**20
            print(f"store {layout}: {args.n} windows x ({args.length}, 3) float32 = {mb:.0f} MiB, "
                  f"block {args.block_size}, written in {t_write:.1f} s", flush=True)
            ds = make_dataset(path, label=None, batch_size=args.batch_size)
            ds_shuf = make_dataset(path, label="label", batch_size=args.batch_size, shuffle=True, seed=0)
            assert plain_h5py_epoch(path) == pipeline_epoch(ds) == args.n
            r = paired_rates({"plain": lambda: plain_h5py_epoch(path),
                              "direct": lambda: plain_h5py_epoch(path, direct=True),
                              "pipeline": lambda: pipeline_epoch(ds),
                              "shuffled": lambda: pipeline_epoch(x for x, _ in ds_shuf)}, args.repeats)
            best = {k: max(v) for k, v in r.items()}

            def ratio(a, b):
                return f"{np.median(np.divide(r[a], r[b])):.2f} (best {best[a] / best[b]:.2f})"
            rows += [(f"[{layout}] plain h5py dataset[()] (windows/s)", f"{best['plain']:,.0f}"),
                     (f"[{layout}] plain h5py read_direct (windows/s)", f"{best['direct']:,.0f}"),
                     (f"[{layout}] make_dataset, batch {args.batch_size} (windows/s)", f"{best['pipeline']:,.0f}"),
                     (f"[{layout}] make_dataset, shuffled (windows/s)", f"{best['shuffled']:,.0f}"),
                     (f"[{layout}] ratio pipeline / dataset[()] (goal >= 0.8)", ratio("pipeline", "plain")),
                     (f"[{layout}] ratio pipeline / read_direct", ratio("pipeline", "direct")),
                     (f"[{layout}] ratio shuffled / dataset[()]", ratio("shuffled", "plain"))]

        small, large = work / "store_1x_CW", work / f"store_{args.scale}x_CW"
        t_write_large = build_store(large, args.n * args.scale, args.length, args.block_size, seed=1)
        print(f"store CW {args.scale}x: {args.n * args.scale} windows written in {t_write_large:.1f} s", flush=True)
        rss_small, n_small = peak_rss(small, args.batch_size)
        rss_large, n_large = peak_rss(large, args.batch_size)
        assert n_small == args.n and n_large == args.n * args.scale
        rows += [(f"peak RSS, shuffled epoch, 1x = {n_small} windows (MiB)", f"{rss_small:.1f}"),
                 (f"peak RSS, shuffled epoch, {args.scale}x = {n_large} windows (MiB)", f"{rss_large:.1f}"),
                 (f"RSS ratio {args.scale}x / 1x (goal <= 1.10)", f"{rss_large / rss_small:.3f}")]
        print()
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
              f"ratios: median of {args.repeats} paired runs (best/best)")
        print(f"{'measure':<56}{'value':>20}")
        print("-" * 76)
        for name, value in rows:
            print(f"{name:<56}{value:>20}")
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
