"""Where a scan's time goes: ``seis_keras.scan.scan`` timed stage by stage, end to end.

Builds the record of ``bench/scan.py`` (``detector_continuous``, 100 Hz, default 6 h, untrained
detector: the speed does not depend on the weights), then runs whole scans at stride 2.5 s with
the functions of each stage wrapped by wall-clock timers (the wrappers cost microseconds per
call; a scan makes a few dozen calls). Per round it prints nothing; at the end, the median over
``--rounds`` of each stage, its share of the whole scan, and the whole scan's real-time factor,
with the load average beside them (2 shared cores: read the medians with the load in mind).

Stages (nested ones indented):

* ``prepare_stream`` (step 1): NaN check, grouping, ``resampling`` of every trace of a station
  (``data.resampling.resample_traces``: obspy's FFT resampling), merging each component on one grid
  (``data.segments.merge_channel``), the common-span ``(T, C)`` copy (the rest);
* ``gap mask``: which windows touch a gap;
* ``window_probabilities`` (step 2): window batches (``window_batch``: strided view -> contiguous
  float32 -> the contract's normalisation) and the compiled forward pass (``_Predictor``);
* ``find_detections`` (step 4); ``other``: the whole scan minus the stages above (checks,
  output traces, the settings dict).

``--before`` profiles the path before ``data.resampling`` and ``scan/fused.py`` (obspy's
``Trace.resample`` with the cached window, the numpy normalisation, the model's own layers).

Usage::

    .venv/bin/python bench/scan_profile.py [--hours 6] [--rounds 7] [--batch-size 512] [--before]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def _load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


class Timers:
    """Wall-clock totals per stage name, one dict per round."""

    def __init__(self):
        self.rounds: list[dict] = []
        self.now: dict = defaultdict(float)

    def wrap(self, name: str, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.now[name] += time.perf_counter() - t
        return timed

    def next_round(self):
        self.rounds.append(dict(self.now))
        self.now = defaultdict(float)


def _obspy_resample(traces, fs, *settings):
    """What data.ingest.resample_trace did before data.resampling: obspy's Trace.resample, the window cached."""
    from seis_keras.data.resampling import _fft_window

    out = []
    for tr in traces:
        t = tr.copy()
        t.data = t.data.astype(np.float64)
        out.append(t.resample(fs, window=_fft_window("hann", t.stats.npts), no_filter=True))
    return out


@contextlib.contextmanager
def patched(obj, name: str, timers: Timers, label: str):
    original = getattr(obj, name)
    setattr(obj, name, timers.wrap(label, original))
    try:
        yield
    finally:
        setattr(obj, name, original)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=6.0, help="record length in hours (default 6)")
    ap.add_argument("--rounds", type=int, default=7, help="timed scans (medians kept)")
    ap.add_argument("--batch-size", type=int, default=None, help="scan's batch_size (default: scan's default)")
    ap.add_argument("--before", action="store_true",
                    help="profile the path before data.resampling and scan/fused.py: obspy's Trace.resample with "
                         "the cached window, one trace after the other; the numpy normalisation; the model's own "
                         "layers")
    args = ap.parse_args(argv)

    import seis_keras.data.records as records
    import seis_keras.scan as scan_pkg
    import seis_keras.scan.model as scan_model
    import seis_keras.scan.stream as scan_stream
    import seis_keras.scan.windows as scan_windows
    from seis_keras.data.synthetic import detector_continuous
    from seis_keras.models import get_model

    duration = args.hours * 3600.0
    stream, _ = detector_continuous(duration, n_events=int(args.hours * 10), seed=0)
    model = get_model("detector")
    restore = (records.resample_traces, scan_pkg._predictor)
    if args.before:
        records.resample_traces = _obspy_resample
        scan_pkg._predictor = lambda m, kind, bs, transforms=(): scan_model._Predictor(m, kind, bs, fuse=False)
    kw = {} if args.batch_size is None else {"batch_size": args.batch_size}
    scan_pkg.scan(model, stream.slice(stream[0].stats.starttime, stream[0].stats.starttime + 600), **kw)  # trace
    scan_pkg.scan(model, stream, **kw)  # warm up (caches, allocator)
    print(f"record: {duration:.0f} s at 100 Hz, 3 components; CPUs {os.cpu_count()}; {_load()}")

    timers = Timers()
    stages = [(scan_stream, "continuous_stations", "prepare_stream"),
              (records, "resample_traces", "  resampling"),
              (records, "merge_channel", "  merge_channel"),
              (scan_pkg, "window_view", "gap mask"),
              (scan_pkg, "window_probabilities", "window_probabilities"),
              (scan_windows, "window_batch", "  window_batch (copy + normalise)"),
              (scan_model._Predictor, "__call__", "  forward (_Predictor)"),
              (scan_pkg, "find_detections", "find_detections")]
    stages = [s for s in stages if hasattr(s[0], s[1])]
    whole = []
    with contextlib.ExitStack() as stack:
        for obj, name, label in stages:
            stack.enter_context(patched(obj, name, timers, label))
        for _ in range(args.rounds):
            t = time.perf_counter()
            scan_pkg.scan(model, stream, **kw)
            whole.append(time.perf_counter() - t)
            timers.next_round()
    records.resample_traces, scan_pkg._predictor = restore
    rounds = timers.rounds
    labels = [label for _, _, label in stages]
    med = {k: float(np.median([r.get(k, 0.0) for r in rounds])) for k in labels}
    total = float(np.median(whole))
    top = [k for k in labels if not k.startswith("  ")]
    med["  (rest of prepare_stream)"] = med["prepare_stream"] - med.get("  resampling", 0) - med.get(
        "  merge_channel", 0)
    med["  (rest of window_probabilities)"] = (med["window_probabilities"] - med.get(
        "  window_batch (copy + normalise)", 0) - med.get("  forward (_Predictor)", 0))
    med["other"] = total - sum(med[k] for k in top)
    order = []
    for k in labels:
        order.append(k)
        if k == "  merge_channel":
            order.append("  (rest of prepare_stream)")
        if k == "  forward (_Predictor)":
            order.append("  (rest of window_probabilities)")
    order.append("other")
    print(f"\n{'BEFORE the speed-ups: ' if args.before else ''}whole scan at stride 2.5 s, median of {args.rounds}: "
          f"{total:.3f} s = "
          f"{duration / total:,.0f} x real time (fastest {min(whole):.3f} s = {duration / min(whole):,.0f} x); "
          f"{_load()}")
    print(f"{'stage':<40} {'median_s':>9} {'share':>7}")
    for k in order:
        print(f"{k:<40} {med[k]:9.4f} {med[k] / total:7.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
