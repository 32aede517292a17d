"""Run many innvestigate analyses in one process, through the LRPAnalyzer worker's own code.

``python innvestigate_batch.py JOBS.pkl OUT.npz``: ``JOBS.pkl`` holds a dict
``name -> (model_path, config, X, neuron_indices)``; every job goes through
:func:`seis_keras.explain.lrp_worker.serve` — the function an ``LRPAnalyzer`` worker
process runs (load, strip random input, fold BatchNorm, logits model, build the analyzer,
answer ``analyze`` requests) — here in a thread of this single process, so that TensorFlow
and innvestigate are imported once instead of once per rule (one worker start costs
5-10 s on an idle machine; the oracle test needs ~20 analyzers). The relevances are saved
to ``OUT.npz`` under the job names. tests/explain/test_lrp_oracle.py checks one job
against a real ``LRPAnalyzer`` so that this shortcut cannot drift from it.
"""
import os
import pickle
import resource
import sys
import threading
import time
from multiprocessing import Pipe

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()  # before any model exists (innvestigate needs graph mode)

from tensorflow import keras  # noqa: E402

from seis_keras.explain.lrp_worker import serve  # noqa: E402


def run_job(path, config, X, neuron):
    """One analysis through ``serve`` (ready -> analyze -> pipe closed, so ``serve`` returns)."""
    parent, child = Pipe()
    thread = threading.Thread(target=serve, args=(child, path, config), daemon=True)
    thread.start()
    kind, payload = parent.recv()
    if kind != "ready":
        raise RuntimeError(payload)
    parent.send(("analyze", X, neuron))
    kind, payload = parent.recv()
    parent.close()
    thread.join(60)
    keras.backend.clear_session()  # a fresh graph per analyzer keeps each build fast
    if kind != "result":
        raise RuntimeError(payload)
    return payload


def main(jobs_path, out_path):
    with open(jobs_path, "rb") as f:
        jobs = pickle.load(f)
    out, seconds = {}, {}
    for name, (path, config, X, neuron) in jobs.items():
        t0 = time.perf_counter()
        out[name] = run_job(path, config, X, neuron)
        seconds[name] = time.perf_counter() - t0
    np.savez(out_path, **out)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"innvestigate_batch: {len(jobs)} analyses, process CPU {usage.ru_utime + usage.ru_stime:.1f} s, "
          f"wall s per analysis {({k: round(v, 2) for k, v in seconds.items()})}", flush=True)
    os._exit(0)  # skip TensorFlow's slow interpreter teardown (as the LRP worker does)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
