"""Benchmark of ``seis_keras.scan``: how many times faster than real time the detector scans.

Builds a continuous 3-component record (``seis_keras.data.synthetic.detector_continuous``,
100 Hz native, default 6 h) and scans it with the Majstorović detector (untrained weights: the
speed does not depend on them). Every contender runs once per round, the rounds alternate
(``--rounds``, so all see the same load from other processes), and the medians are printed with
the load average beside them:

1. the stages of one scan at the default stride 2.5 s: resampling 100 -> 20 Hz + merging
   (``prepare_stream``); the FFT resampling of the three traces alone: obspy's
   ``Trace.resample`` with ``window="hann"`` (it rebuilds a Hann window of the trace's length
   for every trace), obspy with that window computed once and passed as an array (the path
   before ``data.resampling``), ``data.resampling.resample_trace`` one trace after the other
   (obspy's operations on the bins the inverse FFT reads) and ``resample_traces`` (the three on
   a thread pool, what the scan runs); the bench checks every variant is bit-identical to
   obspy's; window preparation alone (zero-copy view -> contiguous batch -> the contract's
   normalisation), the compiled forward passes alone, fused (``scan/fused.py``: the padding in
   the convolutions, what the scan runs; checked bit-identical) and through the model's own
   layers; the paired speed-ups of the fused pass and of the resampling;
2. the window stage (prepare + forward, :func:`seis_keras.scan.windows.window_probabilities`)
   at each of ``--batch-sizes``; its speed-up over batch 512 (``scan``'s default) is taken
   within a round;
3. the whole ``scan`` (resampling, windows, detections) per stride and its real-time factor
   ``record duration / scan time`` (goal >= 1e5 at stride 2.5 s).

Usage::

    .venv/bin/python bench/scan.py [--hours 6] [--strides 2.5 1.0 5.0] [--batch-sizes 512 1024 2048] [--rounds 5]
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


def _load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=6.0, help="record length in hours (default 6)")
    ap.add_argument("--strides", type=float, nargs="+", default=[2.5, 1.0, 5.0], help="strides in s")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[512, 1024, 2048],
                    help="window-stage batch sizes (the first also for the stages and the whole scan)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating timed rounds (medians kept)")
    args = ap.parse_args(argv)

    import tensorflow as tf

    from seis_keras.data.synthetic import detector_continuous
    from seis_keras.models import contract_of, get_model
    from seis_keras.scan import _predictor, prepare_stream, scan
    from seis_keras.scan.model import _Predictor
    from seis_keras.scan.windows import window_batch, window_probabilities, window_view

    contract = contract_of("detector")
    duration = args.hours * 3600.0
    stream, events = detector_continuous(duration, n_events=int(args.hours * 10), seed=0)
    print(f"record: {duration:.0f} s at 100 Hz, 3 components, {len(events)} events; "
          f"threads intra-op {tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, "
          f"CPUs {os.cpu_count()}; {_load()}")
    model = get_model("detector")
    norm = contract.transform()
    n_win, step = 500, int(round(2.5 * contract.sampling_rate))
    (sta,) = prepare_stream(stream, contract)
    data = sta["data"]
    view = window_view(data, n_win, step)
    predictors = {bs: _predictor(model, "auto", bs) for bs in args.batch_sizes}
    unfused = _Predictor(model, "auto", args.batch_sizes[0], fuse=False)  # the model's own layers, padding copies
    scan(model, stream.slice(stream[0].stats.starttime, stream[0].stats.starttime + 600))  # trace, warm up
    for bs in args.batch_sizes:
        window_probabilities(predictors[bs], norm, data, n_win, step, bs)

    def stage_prepare():
        prepare_stream(stream, contract)

    bs0 = args.batch_sizes[0]
    batches = [window_batch(view, lo, lo + bs0, norm) for lo in range(0, len(view), bs0)]

    def stage_windows():
        for lo in range(0, len(view), bs0):
            window_batch(view, lo, lo + bs0, norm)

    def stage_forward():
        for x in batches:
            predictors[bs0](x)

    def stage_forward_unfused():
        for x in batches:
            unfused(x)

    if not predictors[bs0].fused or not np.array_equal(np.concatenate([predictors[bs0](x) for x in batches]),
                                                       np.concatenate([unfused(x) for x in batches])):
        raise RuntimeError("the fused forward pass (scan/fused.py) is not used or changed the probabilities")

    from scipy.signal import get_window

    from seis_keras.data.resampling import resample_trace, resample_traces

    raw = [tr.copy() for tr in stream]
    for tr in raw:
        tr.data = tr.data.astype(np.float64)
    hann = {n: np.fft.ifftshift(get_window("hann", n)) for n in {tr.stats.npts for tr in raw}}
    rs_args = (contract.sampling_rate, "resample", True, "hann", "lanczos", 0.8)

    def resample(cached: bool):
        out = []
        for tr in raw:
            t = tr.copy()
            t.resample(contract.sampling_rate, window=hann[t.stats.npts] if cached else "hann", no_filter=True)
            out.append(t.data)
        return out

    def ours_serial():
        return [resample_trace(tr, *rs_args).data for tr in stream]

    def ours_threads():
        return [tr.data for tr in resample_traces(stream, *rs_args)]

    reference = resample(False)
    for name, fn in (("a precomputed Hann window", lambda: resample(True)), ("data.resampling (serial)", ours_serial),
                     ("data.resampling (threads)", ours_threads)):
        if not all(np.array_equal(a, b) for a, b in zip(reference, fn())):
            raise RuntimeError(f"{name} changed obspy's resampling output")
    print("resampling: obspy's Trace.resample with window='hann', with the window cached, and data.resampling "
          "(serial, threads) checked bit-identical")

    contenders = {"resample+merge (prepare_stream)": stage_prepare,
                  "3 traces: obspy, window='hann'": lambda: resample(False),
                  "3 traces: obspy, window cached": lambda: resample(True),
                  "3 traces: data.resampling serial": ours_serial, "3 traces: data.resampling threads": ours_threads,
                  f"prepare windows (bs {bs0})": stage_windows, f"forward only (bs {bs0}), fused": stage_forward,
                  f"forward only (bs {bs0}), model as is": stage_forward_unfused}
    for bs in args.batch_sizes:
        contenders[f"window stage bs {bs}"] = (
            lambda bs=bs: window_probabilities(predictors[bs], norm, data, n_win, step, bs))
    times = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for key, fn in contenders.items():
            t = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t)
    print(f"\nstages at stride 2.5 s ({len(view)} windows), median of {args.rounds} rounds; {_load()}")
    for key, v in times.items():
        print(f"  {key:<36} {np.median(v):7.3f} s")
    ratio = np.array(times[f"forward only (bs {bs0}), model as is"]) / np.array(times[f"forward only (bs {bs0}), fused"])
    print(f"  speed-up of the fused forward pass over the model as is (paired): median {np.median(ratio):5.2f} x, "
          f"quartiles {np.percentile(ratio, 25):.2f}-{np.percentile(ratio, 75):.2f}")
    ratio = np.array(times["3 traces: obspy, window cached"]) / np.array(times["3 traces: data.resampling threads"])
    print(f"  speed-up of data.resampling (threads) over obspy with the cached window (paired): median "
          f"{np.median(ratio):5.2f} x, quartiles {np.percentile(ratio, 25):.2f}-{np.percentile(ratio, 75):.2f}")
    ref = 512 if 512 in args.batch_sizes else bs0
    base = np.array(times[f"window stage bs {ref}"])
    for bs in args.batch_sizes:
        ratio = base / np.array(times[f"window stage bs {bs}"])
        print(f"  speed-up of the window stage at bs {bs} over bs {ref} (paired): median {np.median(ratio):5.2f} x, "
              f"quartiles {np.percentile(ratio, 25):.2f}-{np.percentile(ratio, 75):.2f}")

    print(f"\nwhole scan (median of {args.rounds} rounds per stride, batch {bs0})")
    print(f"{'stride_s':>8} {'windows':>8} {'scan_s':>8} {'x_realtime':>11} {'windows/s':>10}")
    for stride in args.strides:
        best = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            res = scan(model, stream, stride_s=stride, batch_size=bs0)
            best.append(time.perf_counter() - t)
        n, s = res.probabilities[0].stats.npts, float(np.median(best))
        print(f"{stride:8.2f} {n:8d} {s:8.2f} {duration / s:11.0f} {n / s:10.0f}")
    print(_load())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
