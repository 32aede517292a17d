"""Benchmark of ``seis_keras.scan``: how many times faster than real time the detector scans.

Builds a continuous 3-component record (``seis_keras.data.synthetic.detector_continuous``,
100 Hz native, default 6 h) and scans it with the Majstorović detector (untrained weights: the
speed does not depend on them) at several strides. Prints, per stride:

* total seconds of ``scan`` (resampling 100 -> 20 Hz and merging included) and the
  real-time factor ``record duration / scan time`` (goal >= 1e4 on 2 CPU cores at the
  default stride 2.5 s);
* the time of the forward passes alone, of the window preparation (sliding-window view,
  demean + max normalisation) alone, and the windows per second.

Usage::

    .venv/bin/python bench/scan.py [--hours 6] [--strides 2.5 1.0 5.0] [--batch-size 512] [--repeat 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=6.0, help="record length in hours (default 6)")
    ap.add_argument("--strides", type=float, nargs="+", default=[2.5, 1.0, 5.0], help="strides in s")
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=2, help="timed repeats per stride (best kept)")
    args = ap.parse_args(argv)

    import tensorflow as tf
    from numpy.lib.stride_tricks import sliding_window_view

    from seis_keras.data.synthetic import detector_continuous
    from seis_keras.models import contract_of, get_model
    from seis_keras.scan import _predictor, prepare_stream, scan

    DETECTOR_CONTRACT = contract_of("detector")

    duration = args.hours * 3600.0
    t = time.perf_counter()
    stream, events = detector_continuous(duration, n_events=int(args.hours * 10), seed=0)
    print(f"record: {duration:.0f} s at 100 Hz, 3 components, {len(events)} events "
          f"(generated in {time.perf_counter() - t:.1f} s)")
    print(f"threads: intra-op {tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, "
          f"CPUs {os.cpu_count()}")
    model = get_model("detector")
    scan(model, stream.slice(stream[0].stats.starttime, stream[0].stats.starttime + 600), batch_size=args.batch_size)

    t = time.perf_counter()
    (sta,) = prepare_stream(stream, DETECTOR_CONTRACT)
    t_prep = time.perf_counter() - t
    print(f"resample 100->20 Hz + merge: {t_prep:.2f} s")
    print(f"{'stride_s':>8} {'windows':>8} {'scan_s':>8} {'x_realtime':>11} {'forward_s':>9} "
          f"{'normalise_s':>11} {'windows/s':>10}")
    predictor = _predictor(model, "auto", args.batch_size)
    norm = DETECTOR_CONTRACT.transform()
    for stride in args.strides:
        best = np.inf
        for _ in range(args.repeat):
            t = time.perf_counter()
            res = scan(model, stream, stride_s=stride, batch_size=args.batch_size)
            best = min(best, time.perf_counter() - t)
        n = res.probabilities[0].stats.npts
        step = int(round(stride * 20))
        view = sliding_window_view(sta["data"], 500, axis=0)[::step]
        t_norm = t_fwd = 0.0
        for lo in range(0, len(view), args.batch_size):
            t = time.perf_counter()
            x = norm(np.ascontiguousarray(view[lo:lo + args.batch_size].transpose(0, 2, 1)))
            t_norm += time.perf_counter() - t
            t = time.perf_counter()
            predictor(x)
            t_fwd += time.perf_counter() - t
        print(f"{stride:8.2f} {n:8d} {best:8.2f} {duration / best:11.0f} {t_fwd:9.2f} {t_norm:11.2f} "
              f"{n / best:10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
