"""The ``seis-keras`` command line.

Subcommands::

    seis-keras data generate detector OUT --n 10000     built-in data with planted physics
    seis-keras data info STORE                          what a store holds
    seis-keras data stream STORE                        stream it through tf.data, report windows/s
    seis-keras data ingest FILE... --out STORE ...      obspy-readable files -> windows in a store
    seis-keras data fetch MANIFEST OUT                  FDSN download described by a manifest
    seis-keras data convert-norcia ROOT OUT             the authors' Norcia Zenodo release -> store
    seis-keras run RECIPE [recipe options]              a paper's whole experiment
    seis-keras train / explain / export / scan          the pieces, one at a time

Every subcommand has ``--help``. Heavy imports (TensorFlow) happen inside the command that
needs them, so ``--help`` is instant.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

RECIPES = ("detector", "norcia", "norcia_shap", "precursor", "subduction")
GENERATORS = ("detector", "norcia", "precursor", "subduction")


# ---------------------------------------------------------------- data
def _data_generate(args) -> int:
    from seis_keras.data import synthetic

    out = Path(args.out)
    t0 = time.perf_counter()
    if args.kind == "detector":
        meta = synthetic.detector_data(args.n, seed=args.seed, path=out)
    elif args.kind == "norcia":
        meta = synthetic.norcia_data(args.n, seed=args.seed, path=out)
    elif args.kind == "precursor":
        settings = synthetic.PrecursorSettings(hours=args.hours)
        meta = synthetic.precursor_data(args.n, seed=args.seed, settings=settings, path=out)
    else:
        from seis_keras.atomic import atomic_path

        table = synthetic.subduction_table(seed=args.seed)
        out = out if out.suffix == ".csv" else out / "subduction.csv"
        with atomic_path(out) as tmp:
            table.to_csv(tmp, index=False)
        meta = table
    print(f"wrote {len(meta)} rows of built-in {args.kind} data to {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def _data_info(args) -> int:
    from seis_keras.data import WaveformStore

    with WaveformStore(args.store) as store:
        meta = store.metadata
        print(f"{args.store}: {len(store)} traces, {store.sampling_rate:g} Hz, components {store.component_order}")
        if "split" in meta:
            print("split:", ", ".join(f"{k} {v}" for k, v in meta["split"].value_counts().items()))
        if "label" in meta:
            print("label:", ", ".join(f"{k}: {v}" for k, v in meta["label"].value_counts().sort_index().items()))
        print("columns:", ", ".join(meta.columns))
    return 0


def _data_stream(args) -> int:
    """Stream a store through the tf.data pipeline and report throughput (an honest end-to-end job)."""
    from seis_keras.data import MaxNormalize, WaveformStore, make_dataset

    with WaveformStore(args.store) as store:
        label = "label" if "label" in store.metadata else None
        ds = make_dataset(store, label=label, transforms=[MaxNormalize()], batch_size=args.batch_size,
                          shuffle=True, seed=0)
        n, t0 = 0, time.perf_counter()
        for batch in ds:
            x = batch[0] if isinstance(batch, tuple) else batch
            n += int(x.shape[0])
        dt = time.perf_counter() - t0
    print(f"streamed {n} windows in {dt:.2f} s: {n / dt:,.0f} windows/s")
    return 0


def _data_ingest(args) -> int:
    from seis_keras.data.ingest import ingest, read_picks

    picks = read_picks(args.picks) if args.picks else None
    report = ingest(args.files, args.out, sampling_rate=args.sampling_rate, component_order=args.components,
                    window_s=args.window_s, stride_s=args.stride_s, picks=picks, gap_policy=args.gap_policy)
    print(report)
    return 0


def _data_fetch(args) -> int:
    from seis_keras.data.fetch import fetch

    print(fetch(args.manifest, args.out, base_url=args.base_url, noise_b=args.noise_b))
    return 0


def _data_convert_norcia(args) -> int:
    from seis_keras.data.readers import convert_norcia_zenodo

    stations = args.stations.split(",") if args.stations else None
    result = convert_norcia_zenodo(args.root, args.out, stations=stations, component_order=args.components)
    print(result)
    return 0


def _add_data(sub) -> None:
    data = sub.add_parser("data", help="make, inspect, ingest and fetch waveform stores")
    dsub = data.add_subparsers(dest="data_command", required=True)

    g = dsub.add_parser("generate", help="write built-in data with planted physics")
    g.add_argument("kind", choices=GENERATORS)
    g.add_argument("out", help="store folder (subduction: a CSV path or folder)")
    g.add_argument("--n", type=int, default=1000,
                   help="windows (detector), events (norcia, precursor); ignored for subduction")
    g.add_argument("--hours", type=float, default=10.0, help="precursor record length before each event (h)")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=_data_generate)

    i = dsub.add_parser("info", help="summarise a store (traces, rate, components, splits, labels)")
    i.add_argument("store")
    i.set_defaults(func=_data_info)

    s = dsub.add_parser("stream", help="stream a store through tf.data and report windows/s")
    s.add_argument("store")
    s.add_argument("--batch-size", type=int, default=512)
    s.set_defaults(func=_data_stream)

    n = dsub.add_parser("ingest", help="cut obspy-readable files into windows in a store")
    n.add_argument("files", nargs="+", help="files or glob patterns (one obspy.read each)")
    n.add_argument("--out", required=True, help="store folder to write")
    n.add_argument("--sampling-rate", type=float, required=True, help="target rate (Hz)")
    n.add_argument("--window-s", type=float, required=True, help="window length (s)")
    n.add_argument("--stride-s", type=float, default=None, help="sliding-window stride (s)")
    n.add_argument("--picks", default=None, help="picks CSV: windows around picks instead of sliding")
    n.add_argument("--components", default="ENZ", help="component order (default ENZ)")
    n.add_argument("--gap-policy", choices=("reject", "fill"), default="reject")
    n.set_defaults(func=_data_ingest)

    f = dsub.add_parser("fetch", help="download a manifest's data through FDSN (resumable)")
    f.add_argument("manifest", help="data_manifests/<name>.toml")
    f.add_argument("out", help="dataset folder")
    f.add_argument("--base-url", default=None, help="FDSN service (default: the manifest's)")
    f.add_argument("--noise-b", type=int, default=0, help="also fetch this many mode-B noise records")
    f.set_defaults(func=_data_fetch)

    c = dsub.add_parser("convert-norcia", help="the authors' Norcia Zenodo release -> one store")
    c.add_argument("root", help="folder holding {STA}/{STA}_waveforms_{pre,post}.hdf5 and attribute CSVs")
    c.add_argument("out", help="store folder to write")
    c.add_argument("--stations", default=None, help="comma-separated station codes (default: all found)")
    c.add_argument("--components", default="ENZ", help="row order of the HDF5 traces (ENZ or NEZ)")
    c.set_defaults(func=_data_convert_norcia)


# ---------------------------------------------------------------- recipes
def _run_recipe(args, rest) -> int:
    module = importlib.import_module(f"seis_keras.recipes.{args.recipe}")
    if hasattr(module, "__path__"):  # a recipe package: its command line is in __main__
        module = importlib.import_module(f"seis_keras.recipes.{args.recipe}.__main__")
    code = module.main(rest)  # a converted recipe's main returns its exit status (and prints the run folder)
    return code if isinstance(code, int) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seis-keras", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data(sub)
    r = sub.add_parser("run", help="run a paper's whole experiment (python -m seis_keras.recipes.<name>)",
                       add_help=False)
    r.add_argument("recipe", choices=RECIPES)
    r.set_defaults(func=_run_recipe, passthrough=True)
    for name in ("train", "explain", "export", "scan"):
        _add_optional(sub, name)
    return parser


def _add_optional(sub, name: str) -> None:
    """Subcommands whose argument parsers live beside their code (``seis_keras.commands``)."""
    from seis_keras import commands

    getattr(commands, f"add_{name}_command")(sub)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv[:1] == ["run"]:
        args, rest = parser.parse_known_args(argv)
        return _run_recipe(args, rest)
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as err:  # RuntimeError: e.g. DatasetUnavailable
        print(f"seis-keras: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
