"""What every paper recipe shares: its TOML config with profiles, its command line, its run folder.

A recipe config (``recipes/<name>.toml``) holds sections (``[data]``, ``[model]``,
``[train]``, ``[explain]`` ...) with the paper's settings, and ``[profiles.<p>]`` tables
whose nested keys override them (``[profiles.quick.train] epochs = 2``). The ``full``
profile is the paper as written; ``quick`` runs on a laptop CPU in minutes.

Run folders: ``runs/<recipe>-<UTC time>/`` with ``config.json`` (the settings used),
``metrics.json``, ``figures/*.png``, ``report.md`` and the exported model. Every file is
written atomically.
"""
from __future__ import annotations

import argparse
import copy
import datetime as _dt
import os
import tomllib
from pathlib import Path
from typing import Any, Sequence

from seis_keras.atomic import atomic_path, write_json, write_text

RECIPES_ENV = "SEIS_KERAS_RECIPES"


def recipes_dir() -> Path:
    """The folder of recipe TOML files: ``$SEIS_KERAS_RECIPES`` or the repository's ``recipes/``."""
    env = os.environ.get(RECIPES_ENV)
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "recipes"
    if not path.is_dir():
        raise FileNotFoundError(
            f"recipe configs not found at {path}: set {RECIPES_ENV} to the folder holding <recipe>.toml"
        )
    return path


def deep_merge(base: dict, override: dict) -> dict:
    """Return ``base`` with ``override`` merged in, nested tables merged key by key."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_override(text: str) -> dict:
    """Turn ``"train.epochs=3"`` into ``{"train": {"epochs": 3}}`` (value parsed as TOML)."""
    if "=" not in text:
        raise ValueError(f"--set expects SECTION.KEY=VALUE, got {text!r}")
    dotted, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string
    keys = dotted.strip().split(".")
    out: dict = {}
    node = out
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return out


def load_config(name: str | os.PathLike, profile: str = "full",
                overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Read a recipe config, apply a profile and ``--set`` overrides.

    Args:
        name: a recipe name (``"detector"``) or a path to a TOML file.
        profile: ``"full"`` (the paper) or a table under ``[profiles]``.
        overrides: ``SECTION.KEY=VALUE`` strings applied last.

    Returns:
        The merged settings; ``config["profile"]`` names the profile used.
    """
    path = Path(name)
    if path.suffix != ".toml":
        path = recipes_dir() / f"{name}.toml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: recipe config not found")
    with open(path, "rb") as fh:
        try:
            raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path}: not valid TOML ({err})") from None
    profiles = raw.pop("profiles", {})
    if profile != "full":
        if profile not in profiles:
            raise ValueError(f"{path}: no profile {profile!r} (have: full, {', '.join(profiles)})")
        raw = deep_merge(raw, profiles[profile])
    for text in overrides:
        raw = deep_merge(raw, parse_override(text))
    raw["profile"] = profile
    return raw


def recipe_parser(name: str, description: str) -> argparse.ArgumentParser:
    """The command line every recipe shares; a recipe adds its own flags to it."""
    p = argparse.ArgumentParser(prog=f"python -m seis_keras.recipes.{name}", description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="full", help="config profile: full (the paper) or quick (default: full)")
    p.add_argument("--config", default=name, help=f"recipe TOML name or path (default: recipes/{name}.toml)")
    p.add_argument("--data", default=None, help="input data (default: built-in data generated on the fly)")
    p.add_argument("--out", default="runs", help="parent folder of the run folder (default: runs)")
    p.add_argument("--seed", type=int, default=None, help="base seed (default: from the config)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set train.epochs=3 (repeatable)")
    return p


class RunFolder:
    """One recipe run's output folder: ``<out>/<recipe>-<UTC timestamp>``.

    Args:
        recipe: recipe name (first part of the folder name).
        out: parent folder.
        path: use exactly this folder instead (created if missing).
    """

    def __init__(self, recipe: str, out: str | os.PathLike = "runs", path: str | os.PathLike | None = None):
        if path is None:
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
            path = Path(out) / f"{recipe}-{stamp}"
            n = 1
            while path.exists():
                n += 1
                path = Path(out) / f"{recipe}-{stamp}-{n}"
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.figures_dir = self.path / "figures"
        self.figures_dir.mkdir(exist_ok=True)

    def file(self, name: str) -> Path:
        """Path of a file inside the run folder (parents created)."""
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def save_figure(self, fig, name: str, dpi: int = 120) -> Path:
        """Save a matplotlib figure as ``figures/<name>.png`` atomically and close it."""
        import matplotlib.pyplot as plt

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
