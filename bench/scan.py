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
   before ``data.resampling``), ``data.resampling.fft_resample(exact=True)`` (obspy's
   operations on the bins the inverse FFT reads; checked bit-identical), its default (the low
   spectrum from 5 phase FFTs of 1/5 the length; its distance from obspy's output is printed
   and must stay under 1e-13 of the largest sample) one trace after the other, and
   ``resample_traces(workers=2)`` (the three on a thread pool; the scan runs one thread); window copies with and
   without the numpy normalisation; the compiled forward passes alone: fused with the
   normalisation in the graph (``scan/fused.py``, what the scan runs), fused, and through the
   model's own layers (checked bit-identical); the paired speed-ups;
2. the window stage (prepare + forward, :func:`seis_keras.scan.windows.window_probabilities`)
   at each of ``--batch-sizes``; its speed-up over batch 512 (``scan``'s default) is taken
   within a round;
3. the whole ``scan`` (resampling, windows, detections) per stride and its real-time factor
   ``record duration / scan time`` (goal >= 1e5 at stride 2.5 s);
4. the whole scan at stride 2.5 s now against the path before ``data.resampling`` and
   ``scan/fused.py`` (obspy's ``Trace.resample`` with the cached window, the model's own
   layers), rounds alternating, after checking both give the same probabilities and detections.

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
    from seis_keras.data.transforms import Compose
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
    specs = tuple(contract.transforms)  # ("MaxNormalize",): normalised inside the compiled pass, as scan does
    predictors = {bs: _predictor(model, "auto", bs, specs) for bs in args.batch_sizes}
    plain = _predictor(model, "auto", args.batch_sizes[0])  # fused, fed windows normalised in numpy
    unfused = _Predictor(model, "auto", args.batch_sizes[0], fuse=False)  # the model's own layers, padding copies
    identity = Compose([])
    scan(model, stream.slice(stream[0].stats.starttime, stream[0].stats.starttime + 600))  # trace, warm up
    for bs in args.batch_sizes:
        window_probabilities(predictors[bs], identity, data, n_win, step, bs)

    def stage_prepare():
        prepare_stream(stream, contract)

    bs0 = args.batch_sizes[0]
    batches = [window_batch(view, lo, lo + bs0, norm) for lo in range(0, len(view), bs0)]
    raw_batches = [window_batch(view, lo, lo + bs0, identity) for lo in range(0, len(view), bs0)]

    def stage_windows(transform):
        for lo in range(0, len(view), bs0):
            window_batch(view, lo, lo + bs0, transform)

    def stage_forward(predictor, xs):
        for x in xs:
            predictor(x)

    outs = [np.concatenate([p(x) for x in xs]) for p, xs in
            ((predictors[bs0], raw_batches), (plain, batches), (unfused, batches))]
    if not (predictors[bs0].fused and all(np.array_equal(outs[0], o) for o in outs[1:])):
        raise RuntimeError("the fused forward pass or the in-graph normalisation (scan/fused.py) is not used or "
                           "changed the probabilities")
    print("forward pass: fused + normalised in the graph, fused, and the model as is checked bit-identical")

    from scipy.signal import get_window

    from seis_keras.data.resampling import fft_resample, resample_traces

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

    def ours_serial(exact=False):
        return [fft_resample(tr.data, tr.stats.sampling_rate, contract.sampling_rate, "hann", exact=exact)
                for tr in stream]

    def ours_threads():
        return [tr.data for tr in resample_traces(stream, *rs_args, workers=2)]

    reference = resample(False)
    for name, fn in (("a precomputed Hann window", lambda: resample(True)),
                     ("data.resampling exact=True", lambda: ours_serial(True))):
        if not all(np.array_equal(a, b) for a, b in zip(reference, fn())):
            raise RuntimeError(f"{name} changed obspy's resampling output")
    for name, fn in (("data.resampling (serial)", ours_serial), ("data.resampling (threads)", ours_threads)):
        out = fn()
        rel = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(out, reference))
        n32 = sum(int((np.float32(a) != np.float32(b)).sum()) for a, b in zip(out, reference))
        print(f"resampling: {name} vs obspy: max |diff| / max |obspy| {rel:.1e}, float32 samples differing "
              f"{n32} of {sum(len(b) for b in reference)}")
        if rel > 1e-13:
            raise RuntimeError(f"{name}: {rel:.1e} from obspy's output (tolerance 1e-13)")
    print("resampling: obspy's Trace.resample with window='hann', with the window cached, and data.resampling "
          "exact=True checked bit-identical")

    contenders = {"resample+merge (prepare_stream)": stage_prepare,
                  "3 traces: obspy, window='hann'": lambda: resample(False),
                  "3 traces: obspy, window cached": lambda: resample(True),
                  "3 traces: data.resampling exact": lambda: ours_serial(True),
                  "3 traces: data.resampling serial": ours_serial, "3 traces: data.resampling threads": ours_threads,
                  f"copy + numpy normalise (bs {bs0})": lambda: stage_windows(norm),
                  f"copy only (bs {bs0})": lambda: stage_windows(identity),
                  f"forward, fused + norm in graph (bs {bs0})": lambda: stage_forward(predictors[bs0], raw_batches),
                  f"forward, fused (bs {bs0})": lambda: stage_forward(plain, batches),
                  f"forward, model as is (bs {bs0})": lambda: stage_forward(unfused, batches),
                  f"window stage before (bs {bs0})": lambda: window_probabilities(unfused, norm, data, n_win, step,
                                                                                  bs0),
                  f"window stage, numpy normalisation (bs {bs0})": lambda: window_probabilities(plain, norm, data,
                                                                                                n_win, step, bs0)}
    for bs in args.batch_sizes:
        contenders[f"window stage bs {bs}"] = (
            lambda bs=bs: window_probabilities(predictors[bs], identity, data, n_win, step, bs))
    times = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for key, fn in contenders.items():
            t = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t)
    print(f"\nstages at stride 2.5 s ({len(view)} windows), median of {args.rounds} rounds; {_load()}")
    for key, v in times.items():
        print(f"  {key:<42} {np.median(v):7.3f} s")
    def speed_up(slow: str, fast: str) -> None:
        ratio = np.array(times[slow]) / np.array(times[fast])
        print(f"  speed-up of {fast!r} over {slow!r} (paired): median {np.median(ratio):5.2f} x, "
              f"quartiles {np.percentile(ratio, 25):.2f}-{np.percentile(ratio, 75):.2f}")

    speed_up(f"forward, model as is (bs {bs0})", f"forward, fused (bs {bs0})")
    speed_up("3 traces: obspy, window cached", "3 traces: data.resampling exact")
    speed_up("3 traces: obspy, window cached", "3 traces: data.resampling serial")
    speed_up("3 traces: obspy, window cached", "3 traces: data.resampling threads")
    speed_up(f"window stage before (bs {bs0})", f"window stage bs {bs0}")
    speed_up(f"window stage, numpy normalisation (bs {bs0})", f"window stage bs {bs0}")
    speed_up("3 traces: data.resampling serial", "3 traces: data.resampling threads")
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

    # 4. the whole scan against the path before data.resampling and scan/fused.py, rounds alternating
    import contextlib

    import seis_keras.data.records as records
    import seis_keras.scan as scan_pkg

    def obspy_resample(traces, fs, *settings):  # what data.ingest.resample_trace did: obspy, cached window
        out = []
        for tr in traces:
            t = tr.copy()
            t.data = t.data.astype(np.float64)
            out.append(t.resample(fs, window=hann.get(t.stats.npts) if t.stats.npts in hann else "hann",
                                  no_filter=True))
        return out

    @contextlib.contextmanager
    def before():
        saved = records.resample_traces, scan_pkg._predictor
        records.resample_traces = obspy_resample
        scan_pkg._predictor = lambda m, kind, bs, transforms=(): (unfused if bs == bs0 else
                                                                 _Predictor(m, kind, bs, fuse=False))
        try:
            yield
        finally:
            records.resample_traces, scan_pkg._predictor = saved

    with before():
        old = scan(model, stream, stride_s=2.5, batch_size=bs0)
    new = scan(model, stream, stride_s=2.5, batch_size=bs0)
    dp = float(np.abs(old.probabilities[0].data - new.probabilities[0].data).max())
    print(f"\nnow vs before: max |probability difference| {dp:.1e}, detections identical "
          f"{old.detections.equals(new.detections)} ({len(new.detections)} detections)")
    if dp > 1e-6 or not old.detections.equals(new.detections):
        raise RuntimeError("the scan's probabilities or detections differ from the path before the speed-ups")
    pair = {"before": [], "now": []}
    for _ in range(args.rounds):
        with before():
            t = time.perf_counter()
            scan(model, stream, stride_s=2.5, batch_size=bs0)
            pair["before"].append(time.perf_counter() - t)
        t = time.perf_counter()
        scan(model, stream, stride_s=2.5, batch_size=bs0)
        pair["now"].append(time.perf_counter() - t)
    print(f"\nwhole scan at stride 2.5 s, batch {bs0}, now vs before (obspy's Trace.resample with the cached window, "
          f"the model's own layers; probabilities within 1e-6, detections identical), {args.rounds} alternating rounds")
    for key, v in pair.items():
        print(f"  {key:<7} median {np.median(v):6.3f} s = {duration / np.median(v):8.0f} x real time, "
              f"fastest {min(v):6.3f} s = {duration / min(v):8.0f} x")
    ratio = np.array(pair["before"]) / np.array(pair["now"])
    print(f"  speed-up (paired): median {np.median(ratio):5.2f} x, quartiles {np.percentile(ratio, 25):.2f}-"
          f"{np.percentile(ratio, 75):.2f}; {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
