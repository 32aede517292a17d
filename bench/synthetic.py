"""Throughput of the synthetic data generators (seis_keras.data.synthetic).

Prints windows per minute for the detector (25 s, 20 Hz, 3 components; target >= 10,000 per
minute on 2 cores) in memory and streamed into a store, for the realistic windows (the default:
Peterson-bounded noise, instruments, transients) and the clean ones (``realism=None``), the same for Norcia traces (25 s,
100 Hz), seconds per 10 h precursor record with the peak memory allocated (tracemalloc) while
streaming records into a store (run first, so nothing else inflates it), and the time of a subduction table.

Usage: ``.venv/bin/python bench/synthetic.py [--n-detector 20000] [--n-norcia 500] [--n-precursor 2]``
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from seis_keras.data.synthetic import (DetectorRealism, PrecursorSettings, detector_data,  # noqa: E402
                                       norcia_data, precursor_data, subduction_table)


def _rate(n: int, seconds: float) -> str:
    return f"{n} in {seconds:.2f} s = {60.0 * n / seconds:,.0f} per minute"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-detector", type=int, default=20000)
    parser.add_argument("--n-norcia", type=int, default=500, help="events (about 6.75 traces each)")
    parser.add_argument("--n-precursor", type=int, default=2, help="events (plus as many noise records)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tracemalloc.start()
        t = time.perf_counter()
        meta = precursor_data(args.n_precursor, seed=0, settings=PrecursorSettings(), path=os.path.join(tmp, "pre"))
        dt = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"precursor 10 h x 40 Hz x 3 records into a store: {len(meta)} in {dt:.1f} s = "
              f"{dt / len(meta):.2f} s per record; peak allocated {peak:.0f} MB "
              f"(one record is {1_440_000 * 3 * 4 / 2**20:.0f} MB as float32)")

        for kind, realism in (("realistic", DetectorRealism()), ("clean", None)):
            t = time.perf_counter()
            w, _ = detector_data(args.n_detector, seed=0, realism=realism)
            print(f"detector windows {w.shape[1:]} ({kind}) in memory: {_rate(len(w), time.perf_counter() - t)}")
            del w
            t = time.perf_counter()
            meta = detector_data(args.n_detector, seed=0, path=os.path.join(tmp, f"det_{kind}"), realism=realism)
            print(f"detector windows ({kind}) into a store: {_rate(len(meta), time.perf_counter() - t)}")

        t = time.perf_counter()
        w, meta = norcia_data(args.n_norcia, seed=0)
        print(f"norcia traces {w.shape[1:]} in memory: {_rate(len(meta), time.perf_counter() - t)}")
        del w

    t = time.perf_counter()
    table = subduction_table(seed=0)
    print(f"subduction table {table.shape}: {time.perf_counter() - t:.3f} s")


if __name__ == "__main__":
    main()
