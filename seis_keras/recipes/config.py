"""Typed, validated recipe configs: a dataclass schema per recipe, values from its TOML.

A recipe's settings live in ``recipes/<name>.toml`` (every paper number with its citation,
every open choice named and explained); its *schema* is a tree of dataclasses in
``seis_keras/recipes/<name>/config.py`` that says what each key is: its type (``int``,
``float``, ``bool``, ``str``, ``Literal[...]`` choices, ``list[...]``, ``tuple[...]``,
``dict[str, ...]`` or a nested section dataclass) and, through :func:`setting`, its range or
a check. The TOML is the one source of values: a schema field has no default, so a key the
TOML lacks is an error, and so is a key the schema lacks.

:func:`load_config` reads the TOML, applies a profile (``[profiles.<p>]`` tables, whose keys
must exist) and ``--set SECTION.KEY=VALUE`` overrides (which must name existing keys), checks
every value against the schema and returns the schema instance. Every profile of the file is
checked on every load, so a typo in a profile fails at once, not when that profile is run.
Errors are one line naming the file (or the ``--set``), the key and what was expected::

    recipes/detector.toml [profiles.quick.train]: 'epoch' is not a setting of [train] (did you mean 'epochs'?)
    --set train.epochs=-5: [train] epochs = -5: expected an integer >= 1

Schema example::

    @dataclasses.dataclass(frozen=True)
    class Train:
        optimizer: Literal["sgd", "adam", "adamw"]
        learning_rate: float = setting(gt=0)
        epochs: int = setting(min=1)

    @dataclasses.dataclass(frozen=True)
    class Config:
        seed: int
        train: Train
        profile: str = setting(loader=True)   # filled by load_config, not in the TOML
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

RECIPES_ENV = "SEIS_KERAS_RECIPES"

_MISSING = dataclasses.MISSING


def setting(*, min: float | None = None, max: float | None = None, gt: float | None = None,
            lt: float | None = None, check: Callable[[Any], str | None] | None = None,
            loader: bool = False) -> Any:
    """A schema field with a range or a check (bounds apply to each element of a list).

    Args:
        min, max: inclusive bounds.
        gt, lt: exclusive bounds.
        check: ``check(value) -> None`` if fine, else a short text saying what was expected
            (e.g. a method-spec validator). It may also raise ``ValueError``.
        loader: the field is filled by :func:`load_config` (``profile``), never by the TOML.
    """
    meta = {"min": min, "max": max, "gt": gt, "lt": lt, "check": check, "loader": loader}
    if loader:
        return dataclasses.field(default="full", metadata=meta)
    return dataclasses.field(metadata=meta)


def recipes_dir() -> Path:
    """The folder of recipe TOML files: ``$SEIS_KERAS_RECIPES`` or the repository's ``recipes/``."""
    env = os.environ.get(RECIPES_ENV)
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "recipes"
    if not path.is_dir():
        raise FileNotFoundError(
            f"recipe configs not found at {path}: set {RECIPES_ENV} to the folder holding <recipe>.toml")
    return path


def config_path(name: str | os.PathLike) -> Path:
    """``recipes/<name>.toml`` for a recipe name, or the given ``.toml`` path."""
    path = Path(name)
    if path.suffix != ".toml":
        path = recipes_dir() / f"{name}.toml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: recipe config not found")
    return path


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.epochs=3"`` -> ``(["train", "epochs"], 3)``; the value is read as TOML, a bare word as a string."""
    if "=" not in text:
        raise ValueError(f"--set {text}: expected SECTION.KEY=VALUE")
    dotted, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    keys = [k.strip() for k in dotted.strip().split(".")]
    if not all(keys):
        raise ValueError(f"--set {text}: expected SECTION.KEY=VALUE")
    return keys, value


def load_config(schema: type, name: str | os.PathLike, profile: str = "full",
                overrides: Sequence[str] = ()) -> Any:
    """Read, merge and validate a recipe config.

    Args:
        schema: the recipe's top-level config dataclass.
        name: a recipe name (``"detector"``) or a path to a TOML file.
        profile: ``"full"`` (the paper as written) or a table under ``[profiles]``.
        overrides: ``SECTION.KEY=VALUE`` strings applied last.

    Returns:
        An instance of ``schema`` (its ``profile`` field, if it has one, names the profile).

    Raises:
        FileNotFoundError: no such config.
        ValueError: invalid TOML, unknown profile, unknown or missing key, wrong type or range
            (one line naming the file or override, the key and what was expected).
    """
    path = config_path(name)
    with open(path, "rb") as fh:
        try:
            raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: not valid TOML ({err})") from None
    profiles = raw.pop("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ValueError(f"{path}: [profiles] must hold one table per profile ([profiles.quick] ...)")
    if "full" in profiles:
        raise ValueError(f"{path}: [profiles.full] is not allowed ('full' is the config as written)")
    sources: dict[tuple, str] = {}
    _record_sources(raw, (), str(path), sources)
    _check_keys(schema, raw, (), str(path), require_all=True)
    for pname, table in profiles.items():  # every profile, not only the one asked for
        where = f"{path} [profiles.{pname}]"
        _check_keys(schema, table, (), where, require_all=False)
        prof_sources = dict(sources)
        _record_sources(table, (), where, prof_sources)
        _build(schema, _merge(raw, table), (), prof_sources, pname)
    if profile != "full" and profile not in profiles:
        raise ValueError(f"{path}: no profile {profile!r} (expected one of: full, {', '.join(profiles)})")
    values = _merge(raw, profiles[profile]) if profile != "full" else raw
    if profile != "full":
        _record_sources(profiles[profile], (), f"{path} [profiles.{profile}]", sources)
    for text in overrides:
        keys, value = parse_override(text)
        tree: dict = value
        for k in reversed(keys):
            tree = {k: tree}
        _check_keys(schema, tree, (), f"--set {text}", require_all=False)
        values = _merge(values, tree)
        sources[tuple(keys)] = f"--set {text}"
    return _build(schema, values, (), sources, profile)


def to_dict(cfg) -> dict:
    """A config instance as plain JSON-safe data (tuples as lists), for ``config.json``."""
    def plain(v):
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return plain(cfg)


# --- internals -------------------------------------------------------------------------------------
def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _record_sources(tree: dict, prefix: tuple, where: str, sources: dict) -> None:
    for key, value in tree.items():
        if isinstance(value, dict):
            _record_sources(value, prefix + (key,), where, sources)
        sources[prefix + (key,)] = where


def _hints(schema: type) -> dict:
    return typing.get_type_hints(schema)


def _section_name(prefix: tuple) -> str:
    return f"[{'.'.join(prefix)}]" if prefix else "the top level"


def _check_keys(schema: type, tree: dict, prefix: tuple, where: str, *, require_all: bool) -> None:
    """Unknown keys (anywhere) and, for the base file, missing keys are errors."""
    fields = {f.name: f for f in dataclasses.fields(schema)}
    settable = {n for n, f in fields.items() if not f.metadata.get("loader")}
    hints = _hints(schema)
    if not isinstance(tree, dict):
        raise ValueError(f"{where}: {_section_name(prefix)} must be a table")
    for key, value in tree.items():
        if key not in settable:
            close = difflib.get_close_matches(key, sorted(settable), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (expected one of {sorted(settable)})"
            what = "a section" if isinstance(value, dict) else "a setting"
            raise ValueError(f"{where}: {key!r} is not {what} of {_section_name(prefix)}{hint}")
        if dataclasses.is_dataclass(hints[key]):
            if not isinstance(value, dict):
                raise ValueError(f"{where}: {_section_name(prefix + (key,))} must be a table, got {value!r}")
            _check_keys(hints[key], value, prefix + (key,), where, require_all=require_all)
    if require_all:
        missing = sorted(settable - set(tree))
        if missing:
            raise ValueError(f"{where}: {_section_name(prefix)} lacks {missing} (every setting is given in the "
                             "config, with its source)")


def _build(schema: type, tree: dict, prefix: tuple, sources: dict, profile: str):
    hints = _hints(schema)
    kwargs = {}
    for f in dataclasses.fields(schema):
        if f.metadata.get("loader"):
            kwargs[f.name] = profile
            continue
        path = prefix + (f.name,)
        ann = hints[f.name]
        if dataclasses.is_dataclass(ann):
            kwargs[f.name] = _build(ann, tree[f.name], path, sources, profile)
            continue
        value = tree[f.name]
        where = sources.get(path, "config")
        label = f"{_section_name(prefix)} {f.name} = {value!r}" if prefix else f"{f.name} = {value!r}"
        try:
            value = _coerce(value, ann)
            _check_range(value, f.metadata)
        except ValueError as err:
            raise ValueError(f"{where}: {label}: {err}") from None
        kwargs[f.name] = value
    try:
        return schema(**kwargs)
    except (ValueError, TypeError) as err:  # cross-field checks in a section's __post_init__
        where = sorted({sources.get(prefix + (f.name,), "config") for f in dataclasses.fields(schema)}
                       - {"config"})
        raise ValueError(f"{' / '.join(where) or 'config'}: {_section_name(prefix)}: {err}") from None


def _type_name(ann) -> str:
    origin = typing.get_origin(ann)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(ann))
    if ann is int:
        return "an integer"
    if ann is float:
        return "a number"
    if ann is bool:
        return "true or false"
    if ann is str:
        return "a string"
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a table"
    return str(ann)


def _coerce(value, ann):
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is Literal:
        if value not in args or isinstance(value, bool) != any(isinstance(a, bool) for a in args):
            raise ValueError(f"expected {_type_name(ann)}")
        return value
    if ann is bool:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value
    if ann is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected an integer")
        return value
    if ann is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("expected a number")
        if math.isnan(value):
            raise ValueError("expected a number, got nan")
        return float(value)
    if ann is str:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"expected a list of {_type_name(args[0])}")
        return [_coerce(v, args[0]) for v in value]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError("expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0]) for v in value)
        if len(value) != len(args):
            raise ValueError(f"expected a list of {len(args)} values")
        return tuple(_coerce(v, a) for v, a in zip(value, args))
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError("expected a table")
        return {str(k): _coerce(v, args[1]) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        for a in args:
            try:
                return _coerce(value, a)
            except ValueError:
                pass
        raise ValueError("expected " + " or ".join(_type_name(a) for a in args))
    raise TypeError(f"config schema: type {ann!r} is not supported")


def _check_range(value, meta) -> None:
    items = value if isinstance(value, (list, tuple)) else [value]
    for v in items:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        if meta.get("min") is not None and v < meta["min"]:
            raise ValueError(f"expected {'an integer' if isinstance(v, int) else 'a number'} >= {meta['min']:g}")
        if meta.get("max") is not None and v > meta["max"]:
            raise ValueError(f"expected {'an integer' if isinstance(v, int) else 'a number'} <= {meta['max']:g}")
        if meta.get("gt") is not None and not v > meta["gt"]:
            raise ValueError(f"expected a number > {meta['gt']:g}")
        if meta.get("lt") is not None and not v < meta["lt"]:
            raise ValueError(f"expected a number < {meta['lt']:g}")
    check = meta.get("check")
    if check is not None:
        problem = check(value)
        if problem:
            raise ValueError(problem)


@dataclasses.dataclass(frozen=True)
class TrustChecks:
    """The ``[trust]`` keys every recipe shares: :class:`seis_keras.explain.trust.TrustSettings` fields of the
    same names. A recipe's ``Trust`` schema subclasses it and adds its own (``fill``, ``unit``, ground truth)."""

    randomisation_layers: list[str]
    randomisation_layer: str
    randomisation_similarity: Literal["spearman_abs", "spearman", "spearman_positive", "ssim"]
    randomisation_max: float = setting(gt=0)
    randomisation_samples: int = setting(min=1)
    localisation_min_ratio: float = setting(gt=0)
    steps: int = setting(min=1)
    score: Literal["logit", "probability"]
    random_orders: int = setting(min=1)
    deletion_max_ratio: float = setting(gt=0)
    faithfulness_samples: int = setting(min=1)

    def __post_init__(self):
        if self.randomisation_layer not in self.randomisation_layers:
            raise ValueError(f"randomisation_layer = {self.randomisation_layer!r} is not in randomisation_layers "
                             f"{self.randomisation_layers}")
