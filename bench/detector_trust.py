"""The detector recipe's trust section on a trained run, with real earthquake windows (issue 13's targets).

Loads model A of a detector run folder (``runs/A/model.h5`` and its built-in store under
``data/``, as ``python -m seis_keras.recipes.detector`` writes them), runs the recipe's trust
section (:func:`seis_keras.recipes.detector.trust.trust_section`: every compared method's
randomisation, P–S localisation and deletion verdict) and, with ``--eval-data STORE``, the
localisation of every method on that store's earthquake windows with a P pick, in
[P − ``trust.real_before_s``, P + ``trust.real_after_s``] (the shared
``../shared/data/detector_real_dev``: evaluation only, nothing is tuned on it).

Usage: ``.venv/bin/python bench/detector_trust.py RUN_DIR [--eval-data STORE] [--set trust.n_samples=100 ...]``
Prints the verdict table, the real-window table and the wall time with the load average.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tensorflow import keras  # noqa: E402

from seis_keras.data.detector import load_windows  # noqa: E402
from seis_keras.data.store import WaveformStore  # noqa: E402
from seis_keras.explain.lrp import LRPSession  # noqa: E402
from seis_keras.recipes.config import load_config  # noqa: E402
from seis_keras.recipes.detector.config import DetectorConfig  # noqa: E402
from seis_keras.recipes.detector.data import load_data  # noqa: E402
from seis_keras.recipes.detector.study import TrainedRun, Training, input_contract  # noqa: E402
from seis_keras.recipes.detector.trust import trust_section  # noqa: E402
from seis_keras.recipes.runner import RunFolder  # noqa: E402


def real_earthquakes(path: str, contract) -> tuple[np.ndarray, np.ndarray]:
    """Earthquake windows (label 1) with a P pick of a store, through the model's contract, and their P samples."""
    store = WaveformStore(path)
    meta = store.metadata
    p = meta["trace_p_arrival_sample"].to_numpy(dtype=float)
    rows = np.flatnonzero((meta["label"].to_numpy() == 1) & np.isfinite(p))
    return load_windows(store, rows, components=contract.component_order, transform=contract.transform()), p[rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a detector run folder (runs/A/model.h5, data/)")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--eval-data", default=None, help="labelled store with trace_p_arrival_sample")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--json", default=None, help="write metrics.json['trust'] here")
    args = parser.parse_args()
    cfg = load_config(DetectorConfig, "detector", args.profile, args.overrides)
    contract = input_contract(cfg)
    folder = RunFolder("detector", path=Path(args.run), quiet=False)
    data = load_data(cfg, contract, folder)
    h5 = Path(args.run) / "runs" / "A" / "model.h5"
    training = Training([TrainedRun("A", keras.models.load_model(h5, compile=False), h5, {})])
    real = real_earthquakes(args.eval_data, contract) if args.eval_data else None
    load0, t0 = os.getloadavg()[0], time.time()
    with LRPSession(h5, batch_size=cfg.lrp.batch_size) as session:
        trust = trust_section(data, training, cfg, folder, session, real=real)
    wall = time.time() - t0
    print(trust.metrics["table"])
    for name, q in trust.metrics.get("real_windows", {}).get("methods", {}).items():
        print(f"real | {name} | mass {q['mass_accuracy']:.3f} (uniform {q['uniform_share']:.3f}) | "
              f"pointing {q['pointing_game']:.2f}")
    print(f"headline: {trust.headline}; wall {wall:.0f} s (trust section incl. worker start), load average "
          f"{load0:.1f} -> {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(trust.metrics, indent=1))


if __name__ == "__main__":
    main()
