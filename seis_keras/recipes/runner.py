"""What every paper recipe shares: its command line, its sections, its run folder, its paper table.

A recipe package ``seis_keras/recipes/<study>/`` has a typed config (:mod:`seis_keras.recipes.config`),
and a ``run(cfg, inputs) -> RunFolder`` that reads as the paper's Methods, one *section* at a
time::

    with RunFolder(NAME, out) as folder:
        data = folder.section("data", load_data, cfg, inputs)        # returns what later sections need
        runs = folder.section("training", train_runs, data, cfg, folder)
        ...
        folder.finish(report.markdown, config=cfg, paper=PAPER)

:meth:`RunFolder.section` runs one section function, times it, logs it and files its metrics
under its key in ``metrics.json``: a section returns a ``dict`` (its metrics) or an object
with a ``metrics`` attribute or method (a dict). Sections pass what later ones need as return
values, never through shared mutable state.

Run folders: ``runs/<recipe>-<UTC time>/`` with ``config.json`` (the settings used),
``metrics.json``, ``figures/*.png``, ``report.md`` and the exported model. Used as a context
manager (as the recipes do), the folder is written under ``<name>.partial`` and renamed when
the run finishes, so a run folder with its final name is always complete; on an error the
partial folder is removed (``keep_failed=True`` / ``--keep-failed`` keeps it as
``<name>.failed`` for a look). Paths stored in ``metrics.json`` are relative to the run folder
(:meth:`RunFolder.relative`). Every file is written atomically.
"""
from __future__ import annotations

import argparse
import concurrent.futures as futures
import dataclasses
import datetime as _dt
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from seis_keras.atomic import atomic_path, write_json, write_text
from seis_keras.errors import one_line_errors
from seis_keras.recipes.config import load_config as load_typed_config
from seis_keras.recipes.config import to_dict


# --- the paper's numbers -----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PaperValue:
    """A number the paper (or the authors' code) reports, with where it says so.

    Attributes:
        value: the number (or a short text, e.g. ``"0.9758 ± 8e-4"``).
        source: where: ``"§2.4"``, ``"Table 1"``, ``"Fig. 5"``, ``"code: fit.py:437"``.
        note: how it differs from what we can measure (other data, other split ...), or "".
    """

    value: float | str
    source: str
    note: str = ""


def paper_table(paper: Mapping[str, PaperValue]) -> dict:
    """``{key: {"value", "source", "note"}}`` for ``metrics.json``."""
    return {k: dataclasses.asdict(v) for k, v in paper.items()}


def _fmt(v, digits: int) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def paper_rows(paper: Mapping[str, PaperValue], ours: Mapping[str, Any], labels: Mapping[str, str] | None = None,
               digits: int = 4) -> str:
    """A markdown table *quantity | paper | ours | source* for the keys of ``paper`` (ours may lack some)."""
    lines = ["| quantity | paper | ours | source |", "|---|---|---|---|"]
    for key, pv in paper.items():
        label = (labels or {}).get(key, key.replace("_", " "))
        note = f" ({pv.note})" if pv.note else ""
        lines.append(f"| {label} | {_fmt(pv.value, digits)} | {_fmt(ours.get(key), digits)} | {pv.source}{note} |")
    return "\n".join(lines)


# --- the command line ---------------------------------------------------------------------------
def recipe_parser(name: str, description: str) -> argparse.ArgumentParser:
    """The command line every recipe shares; a recipe adds its own flags to it."""
    p = argparse.ArgumentParser(prog=f"python -m seis_keras.recipes.{name}", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="full", help="config profile: full (the paper) or quick (default: full)")
    p.add_argument("--config", default=name, help=f"recipe TOML name or path (default: recipes/{name}.toml)")
    p.add_argument("--data", default=None, help="input data (default: built-in data generated on the fly)")
    p.add_argument("--out", default="runs", help="parent folder of the run folder (default: runs)")
    p.add_argument("--seed", type=int, default=None, help="base seed (default: the config's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set train.epochs=3 (repeatable; the key must exist)")
    p.add_argument("--keep-failed", action="store_true",
                   help="on an error keep the partial run folder as <name>.failed (default: remove it)")
    p.add_argument("--debug", action="store_true", help="on an error show the traceback")
    return p


def recipe_main(name: str, description: str, schema: type, run: Callable[..., "RunFolder"],
                argv: Sequence[str] | None = None,
                add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                flag_overrides: Callable[[argparse.Namespace], list[str]] | None = None) -> int:
    """Parse a recipe's command line, load and validate its config, run it; one-line errors, exit 2.

    Args:
        name: the recipe (``"detector"``).
        description: its ``--help`` text (the package docstring).
        schema: its config dataclass (:mod:`seis_keras.recipes.config`).
        run: ``run(cfg, args) -> RunFolder``; ``args`` is the parsed command line (``data``,
            ``out``, ``keep_failed`` and the recipe's own flags).
        argv: the arguments (default ``sys.argv[1:]``).
        add_arguments: adds the recipe's own flags to the shared parser.
        flag_overrides: the ``SECTION.KEY=VALUE`` overrides a recipe's own flags stand for
            (``--published-split`` -> ``split.grouping="trace"``), applied before ``--set``.

    Returns:
        0 on success, 2 on a user error (message on stderr, one line, no traceback unless
        ``--debug``).
    """
    parser = recipe_parser(name, description)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    with one_line_errors(f"python -m seis_keras.recipes.{name}", debug=args.debug) as status:
        overrides = (list(flag_overrides(args)) if flag_overrides else []) + list(args.overrides)
        overrides += [f"seed={args.seed}"] if args.seed is not None else []
        cfg = load_typed_config(schema, args.config, args.profile, overrides)  # before any data is read
        folder = run(cfg, args)
        print(f"[{name}] run folder: {folder.path}", flush=True)
    return status.code


# --- the run folder ----------------------------------------------------------------------------
class RunFolder:
    """One recipe run's output folder: ``<out>/<recipe>-<UTC timestamp>``.

    Args:
        recipe: recipe name (first part of the folder name).
        out: parent folder.
        path: use exactly this folder name instead.
        keep_failed: as a context manager, keep a failed run's folder as ``<name>.failed``.
        quiet: do not print section logs.

    Used directly, the folder is created at once under its final name. Used as a context
    manager, it is created as ``<name>.partial`` and renamed to ``<name>`` on success
    (:attr:`path` then changes), removed on failure.
    """

    def __init__(self, recipe: str, out: str | os.PathLike = "runs", path: str | os.PathLike | None = None, *,
                 keep_failed: bool = False, quiet: bool = False):
        if path is None:
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
            path = Path(out) / f"{recipe}-{stamp}"
            n = 1
            while any(p.exists() for p in (path, _suffixed(path, ".partial"), _suffixed(path, ".failed"))):
                n += 1
                path = Path(out) / f"{recipe}-{stamp}-{n}"
        self.recipe = recipe
        self.final_path = Path(path)
        self.keep_failed = keep_failed
        self.quiet = quiet
        self.metrics: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self._t0 = time.perf_counter()
        self._managed = False
        self.path = self.final_path
        self._make_dirs()

    def _make_dirs(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self.figures_dir = self.path / "figures"
        self.figures_dir.mkdir(exist_ok=True)

    # context manager: partial name while running
    def __enter__(self) -> "RunFolder":
        if not self._managed:
            written = [p for p in self.path.iterdir() if p != self.figures_dir] + list(self.figures_dir.iterdir())
            if written:
                raise ValueError(f"{self.path}: already holds files; a managed run folder must start empty")
            shutil.rmtree(self.path)  # nothing written yet: restart under the partial name
            self._managed = True
            self.path = _suffixed(self.final_path, ".partial")
            self._make_dirs()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if not self._managed:
            return False
        if exc_type is None:
            self._publish()
            return False
        if self.keep_failed:
            failed = _suffixed(self.final_path, ".failed")
            os.replace(self.path, failed)
            self.path = failed
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        return False

    def _publish(self) -> None:
        if self.path != self.final_path:
            os.replace(self.path, self.final_path)
            self.path = self.final_path
            self.figures_dir = self.path / "figures"

    # sections
    def log(self, message: str) -> None:
        """Print ``[recipe  12 s] message`` (seconds since the run started)."""
        if not self.quiet:
            print(f"[{self.recipe} {time.perf_counter() - self._t0:6.0f} s] {message}", flush=True)

    def section(self, key: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
        """Run one section of the study: ``fn(*args, **kwargs)``, timed, logged, its metrics filed.

        Args:
            key: the section's key in ``metrics.json`` (and its name in the log).
            fn: the section function. Its return value is returned; if it is a ``dict`` it is
                also the section's metrics, else its ``metrics`` attribute (or method) is, if any.

        Returns:
            What ``fn`` returned.
        """
        if key in self.timings:
            raise ValueError(f"RunFolder.section: section {key!r} already ran in this run")
        self.log(f"{key} ...")
        t = time.perf_counter()
        result = fn(*args, **kwargs)
        self.timings[key] = time.perf_counter() - t
        metrics = result if isinstance(result, dict) else getattr(result, "metrics", None)
        if callable(metrics):
            metrics = metrics()
        if metrics is not None:
            if not isinstance(metrics, dict):
                raise TypeError(f"section {key!r}: metrics must be a dict, got {type(metrics).__name__}")
            self.metrics[key] = metrics
        self.log(f"{key}: done in {self.timings[key]:.0f} s")
        return result

    def finish(self, report: str | Callable[[dict], str], *, config=None,
               paper: Mapping[str, PaperValue] | None = None) -> Path:
        """Write ``config.json``, ``metrics.json`` (with ``paper`` and ``timings_s``) and ``report.md``.

        Args:
            report: the report's markdown, or a function of the metrics that returns it.
            config: the config used (a schema instance or a dict).
            paper: the recipe's ``PAPER`` table.

        Returns:
            The run folder's path (final, once the context manager exits).
        """
        if paper is not None:
            self.metrics["paper"] = paper_table(paper)
        self.timings["total"] = time.perf_counter() - self._t0
        self.metrics["timings_s"] = {k: round(v, 2) for k, v in self.timings.items()}
        if config is not None:
            self.write_json("config.json", to_dict(config) if dataclasses.is_dataclass(config) else config)
        text = report(self.metrics) if callable(report) else report
        self.write_json("metrics.json", self.metrics)
        self.write_text("report.md", text)
        return self.final_path

    # files
    def file(self, name: str) -> Path:
        """Path of a file inside the run folder (parents created)."""
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` relative to the run folder (what ``metrics.json`` stores: the folder is renamed at the end)."""
        return str(Path(path).resolve().relative_to(self.path.resolve()))

    def save_figure(self, fig, name: str, dpi: int = 120) -> Path:
        """Save a matplotlib figure as ``figures/<name>.png`` atomically and close it."""
        import matplotlib.pyplot as plt  # optional heavy import: only when a figure is saved

        target = self.figures_dir / f"{name}.png"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        return target

    def write_json(self, name: str, obj) -> Path:
        return write_json(self.file(name), obj)

    def write_text(self, name: str, text: str) -> Path:
        return write_text(self.file(name), text)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"


def _suffixed(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


class Opening:
    """A resource opened on a thread while the recipe goes on: ``with Opening(LRPSession, path) as s: ... s.get()``.

    For what takes seconds to start and works in another process (an LRP worker importing
    TensorFlow and loading its model): the start overlaps the sections before its first use.
    ``get()`` waits for it (and raises what opening raised); on exit it is closed, whether or
    not it was used.
    """

    def __init__(self, opener: Callable, *args, **kwargs):
        self._pool = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="opening")
        self._future = self._pool.submit(opener, *args, **kwargs)

    def get(self):
        """The opened resource (waits until it is)."""
        return self._future.result()

    def __enter__(self) -> "Opening":
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True)
        if self._future.exception() is None:
            self._future.result().close()

