"""The ``seis-keras scan`` command line: :func:`add_scan_command` and :func:`run_scan`."""
from __future__ import annotations

import argparse
from pathlib import Path

def add_scan_command(subparsers) -> argparse.ArgumentParser:
    """Add ``scan`` to a ``seis-keras`` subcommand parser (``parser.add_subparsers()``)."""
    p = subparsers.add_parser("scan", help="slide a trained model over continuous data",
                              description="Probability traces and detections (CSV files) of continuous "
                                          "data obspy can read.")
    p.add_argument("--model", required=True,
                   help="trained model: Keras file, SavedModel dir, or a run/export folder (its model, never "
                        "best_weights.h5)")
    p.add_argument("--stream", required=True, nargs="+", help="waveform files or globs (obspy-readable)")
    p.add_argument("--out", default="scan", help="output folder (default: scan)")
    p.add_argument("--stride-s", type=float, default=2.5, help="window step in seconds (default 2.5)")
    p.add_argument("--threshold", type=float, default=0.5, help="detection threshold (default 0.5)")
    p.add_argument("--min-gap-s", type=float, default=5.0, help="merge detections closer than this (default 5)")
    p.add_argument("--component-order", default=None, help="model channel order (default: the contract's, ENZ)")
    p.add_argument("--batch-size", type=int, default=512, help="windows per forward pass (default 512)")
    p.set_defaults(func=run_scan)
    return p


def run_scan(args) -> int:
    """Run ``seis-keras scan``: write ``probabilities.csv``, ``detections.csv``, ``scan.json``.

    ``probabilities.csv`` has one row per window: ``trace_id``, ``time`` (ISO UTC, the value's
    stamp) and one column per class (MiniSEED cannot hold the long ``<model>_<class>`` channel names).
    """
    from seis_keras.atomic import write_json, write_text
    from seis_keras.scan import check_scan_settings, scan
    from seis_keras.scan.detections import probability_table

    check_scan_settings(stride_s=args.stride_s, threshold=args.threshold, min_gap_s=args.min_gap_s,
                        batch_size=args.batch_size)  # before the model is loaded
    result = scan(args.model, args.stream, stride_s=args.stride_s, threshold=args.threshold,
                  min_gap_s=args.min_gap_s, component_order=args.component_order, batch_size=args.batch_size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "probabilities.csv", probability_table(result.probabilities).to_csv(index=False))
    write_text(out / "detections.csv", result.detections.to_csv(index=False))
    write_json(out / "scan.json", {**result.settings, "model": str(args.model),
                                   "stream": [str(s) for s in args.stream], "n_detections": len(result.detections)})
    print(f"{len(result.detections)} detections; wrote {out}/probabilities.csv, detections.csv, scan.json")
    return 0
