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
import math
import os
import shutil
import sys
import time
from pathlib import Path

from seis_keras.errors import one_line_errors

RECIPES = ("detector", "norcia", "norcia_shap", "precursor", "subduction")
GENERATORS = ("detector", "norcia", "precursor", "subduction")


# ---------------------------------------------------------------- data
#: Bytes the writer keeps per row until the store is closed (metadata dicts, then a DataFrame).
_ROW_MEMORY_BYTES = 2500


def _free_memory() -> int:
    """Bytes of memory available to a new allocation (``MemAvailable``; Linux, else the physical size)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.3g} {unit}"
        n /= 1000


def generate_size(kind: str, n: int, hours: float) -> tuple[int, int]:
    """Estimated ``(disk bytes, memory bytes)`` of ``seis-keras data generate KIND --n N``.

    Disk: float32 samples plus ~400 bytes of metadata per trace. Memory: the metadata the
    writer holds until it closes (~2.5 kB per trace) plus the largest record being generated
    (a precursor record: float64 samples with FFT workspace, ~6 copies).
    """
    from seis_keras.data import synthetic

    if kind == "detector":
        rows, samples = n, 500
    elif kind == "norcia":
        s = synthetic.NorciaSettings()
        rows, samples = int(n * len(synthetic.NORCIA_STATIONS) * s.station_probability) + 1, 2500
    else:
        s = synthetic.PrecursorSettings(hours=hours)
        rows, samples = n * (1 + s.noise_records_per_event), int(hours * 3600 * s.sampling_rate)
    disk = rows * (samples * 3 * 4 + 400)
    memory = rows * _ROW_MEMORY_BYTES + (samples * 3 * 8 * 6 if kind == "precursor" else 64 * 2**20)
    return disk, memory


def _check_generate(args) -> Path:
    """Refuse before any work: a bad size, an existing output, or more bytes than the disk/memory hold."""
    out = Path(args.out)
    if args.n < 1:
        raise ValueError(f"--n {args.n}: expected a positive number of windows/events")
    if not (math.isfinite(args.hours) and args.hours > 0):
        raise ValueError(f"--hours {args.hours}: expected a positive number of hours")
    if args.kind == "subduction":
        out = out if out.suffix == ".csv" else out / "subduction.csv"
        if out.exists() and not (args.overwrite and out.is_file()):
            raise FileExistsError(f"{out}: already exists (expected a new file name; pass --overwrite to replace it)")
        return out
    from seis_keras.data.store_writer import check_store_target

    check_store_target(out, overwrite=args.overwrite)
    disk, memory = generate_size(args.kind, args.n, args.hours)
    parent = next(p for p in (out.resolve(), *out.resolve().parents) if p.exists())
    free_disk, free_memory = shutil.disk_usage(parent).free, _free_memory()
    if memory > 0.8 * free_memory:
        raise MemoryError(f"--n {args.n}: writing the {args.kind} store needs ~{_size(memory)} of memory, "
                          f"{_size(free_memory)} available (expected a smaller --n{' or --hours' if args.kind == 'precursor' else ''})")
    if disk > 0.95 * free_disk:
        raise ValueError(f"--n {args.n}: the {args.kind} store would take ~{_size(disk)} on disk, "
                         f"{_size(free_disk)} free at {parent} (expected a smaller --n{' or --hours' if args.kind == 'precursor' else ''})")
    return out


def _data_generate(args) -> int:
    from seis_keras.data import synthetic

    out = _check_generate(args)
    t0 = time.perf_counter()
    if args.kind == "subduction":
        from seis_keras.atomic import atomic_path

        table = synthetic.subduction_table(seed=args.seed)
        with atomic_path(out) as tmp:
            table.to_csv(tmp, index=False)
        meta = table
    else:
        # an existing store may be replaced (--overwrite): the generators write through StoreWriter, which
        # refuses anything else; the check above has already run, so a replaced store is ours
        tmp_out = out
        if args.overwrite and out.exists():
            tmp_out = out.with_name(f".tmp-generate-{out.name}-{os.getpid()}")
        if args.kind == "detector":
            meta = synthetic.detector_data(args.n, seed=args.seed, path=tmp_out)
        elif args.kind == "norcia":
            meta = synthetic.norcia_data(args.n, seed=args.seed, path=tmp_out)
        else:
            settings = synthetic.PrecursorSettings(hours=args.hours)
            meta = synthetic.precursor_data(args.n, seed=args.seed, settings=settings, path=tmp_out)
        if tmp_out != out:
            _swap_in(tmp_out, out)
    print(f"wrote {len(meta)} rows of built-in {args.kind} data to {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def _swap_in(new: Path, out: Path) -> None:
    """Replace the store ``out`` by the finished store ``new`` (both ours), the old one removed last."""
    from seis_keras.atomic import atomic_path
    from seis_keras.data.store_writer import is_store

    try:
        with atomic_path(out, is_dir=True, replace=is_store) as tmp:
            for entry in new.iterdir():
                os.replace(entry, tmp / entry.name)
    finally:
        shutil.rmtree(new, ignore_errors=True)


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
                    window_s=args.window_s, stride_s=args.stride_s, picks=picks, gap_policy=args.gap_policy,
                    overlap_policy=args.overlap_policy, overwrite=args.overwrite)
    print(report)
    return 0


def _data_fetch(args) -> int:
    from seis_keras.data.fetch import fetch

    print(fetch(args.manifest, args.out, base_url=args.base_url, noise_b=args.noise_b))
    return 0


def _data_convert_norcia(args) -> int:
    from seis_keras.data.readers import convert_norcia_zenodo

    stations = args.stations.split(",") if args.stations else None
    result = convert_norcia_zenodo(args.root, args.out, stations=stations, component_order=args.components,
                                   overwrite=args.overwrite)
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
    g.add_argument("--overwrite", action="store_true",
                   help="replace an existing store written by seis_keras (never any other folder)")
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
    n.add_argument("--overlap-policy", choices=("reject", "mask"), default="reject",
                   help="segments overlapping with different samples: an error (reject) or a gap (mask, as "
                        "obspy's Stream.merge(method=0)); identical overlaps are merged")
    n.add_argument("--overwrite", action="store_true",
                   help="replace an existing store written by seis_keras (never any other folder or file)")
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
    c.add_argument("--overwrite", action="store_true",
                   help="replace an existing store written by seis_keras (never any other folder)")
    c.set_defaults(func=_data_convert_norcia)


# ---------------------------------------------------------------- recipes
def _run_recipe(recipe: str, rest: list[str]) -> int:
    """``seis-keras run NAME ...`` = ``python -m seis_keras.recipes.NAME ...`` (its exit status).

    Converted recipes report their own errors (one line, exit 2, run folder removed); the
    others' errors go through the same one-line path here.
    """
    with one_line_errors(f"seis-keras run {recipe}", debug="--debug" in rest) as status:
        package = importlib.import_module(f"seis_keras.recipes.{recipe}")
        module = importlib.import_module(f"{package.__name__}.__main__") if hasattr(package, "__path__") else package
        try:
            code = module.main(rest)
        except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, message printed)
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
        status.code = code if isinstance(code, int) else 0  # recipes not yet converted return their run folder
    return status.code


RUN_HELP = """usage: seis-keras run RECIPE [recipe options]

Run a paper's whole experiment: the same as python -m seis_keras.recipes.RECIPE.

recipes: {recipes}

Every recipe takes --profile full|quick, --config, --data, --out, --seed, --set SECTION.KEY=VALUE,
--keep-failed and --debug; `seis-keras run RECIPE --help` lists its own options.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seis-keras", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="on an error show the traceback")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data(sub)
    r = sub.add_parser("run", help="run a paper's whole experiment (python -m seis_keras.recipes.<name>)",
                       add_help=False)
    r.add_argument("recipe", choices=RECIPES)
    for name in ("train", "explain", "export", "scan"):
        _add_optional(sub, name)
    return parser


def _add_optional(sub, name: str) -> None:
    """Subcommands whose argument parsers live beside their code (``seis_keras.commands``)."""
    from seis_keras import commands

    getattr(commands, f"add_{name}_command")(sub)


def main(argv=None) -> int:
    """``seis-keras ...``: returns the exit status (0; 2 for a user error, one line on stderr; 1 for a bug)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if argv[:1] == ["--debug"]:
        argv = argv[1:]
    if argv[:1] == ["run"]:
        if len(argv) == 1 or argv[1] in ("-h", "--help"):
            print(RUN_HELP.format(recipes=", ".join(RECIPES)), end="")
            return 0 if len(argv) > 1 else 2
        if argv[1] not in RECIPES:
            print(f"seis-keras run: error: unknown recipe {argv[1]!r} (expected one of {', '.join(RECIPES)})",
                  file=sys.stderr)
            return 2
        return _run_recipe(argv[1], argv[2:])
    argv = [a for a in argv if a != "--debug"]
    args = build_parser().parse_args(argv)
    with one_line_errors("seis-keras", debug=debug) as status:
        status.code = args.func(args) or 0
    return status.code


if __name__ == "__main__":
    sys.exit(main())
