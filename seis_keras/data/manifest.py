"""Reading and checking a dataset manifest (``data_manifests/<name>.toml``) before any download.

:func:`load_manifest` is used by :mod:`seis_keras.data.fetch`; every error names the file and
the field and says what was expected, and everything an FDSN request depends on is checked
before the first request.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import numpy as np

EVENT_FIELDS = {"origin_time": "an ISO UTC time", "latitude": "degrees", "longitude": "degrees",
                "depth_km": "km", "magnitude": "Mw", "split": "train/dev/test", "station": "a station code"}


def _need(table: dict, key: str, where: str, path, expected: str):
    if not isinstance(table, dict) or key not in table:
        raise ValueError(f"{path}: field '{where}{key}' missing (expected {expected})")
    return table[key]


_CHANNEL = re.compile(r"^[A-Z0-9]{3}$")
_CODE = re.compile(r"^[A-Z0-9]{1,5}$")


def _number(value, field_name: str, path, *, lo: float | None = None, hi: float | None = None,
            strict_lo: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if strict_lo else value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        rng = "" if lo is None else f" {'>' if strict_lo else '>='} {lo:g}" + ("" if hi is None else f" and <= {hi:g}")
        raise ValueError(f"{path}: field '{field_name}' is {value!r} (expected a number{rng})")
    return float(value)


def _time(value, field_name: str, path):
    from obspy import UTCDateTime

    try:
        return UTCDateTime(str(value))
    except Exception:  # obspy raises TypeError/ValueError/its own for unparsable times
        raise ValueError(f"{path}: field '{field_name}' is {value!r} (expected an ISO UTC time, "
                         "e.g. 2011-03-11T05:46:24)") from None


def _check_records(m: dict, path) -> None:
    """Everything an ``fdsn_event_records`` manifest asks of the service, checked before any request."""
    fd, win = m["fdsn"], m["window"]
    if not isinstance(fd["network"], str) or not _CODE.match(fd["network"]) or len(fd["network"]) > 2:
        raise ValueError(f"{path}: field 'fdsn.network' is {fd['network']!r} (expected an FDSN network code, e.g. 'IU')")
    channels = fd["channels"]
    if not isinstance(channels, list) or not all(isinstance(c, str) and _CHANNEL.match(c) for c in channels):
        raise ValueError(f"{path}: field 'fdsn.channels' is {channels!r} (expected a list of SEED channel codes "
                         "of 3 letters/digits, e.g. ['BH1', 'BH2', 'BHZ'])")
    if len(set(channels)) != len(channels):
        raise ValueError(f"{path}: field 'fdsn.channels' repeats a channel: {channels}")
    order = win["component_order"]
    if not isinstance(order, str) or len(set(order)) != len(order) or not order:
        raise ValueError(f"{path}: field 'window.component_order' is {order!r} (expected distinct letters, e.g. '12Z')")
    _number(win["sampling_rate_hz"], "window.sampling_rate_hz", path, lo=0, strict_lo=True)
    before = _number(win["before_origin_s"], "window.before_origin_s", path)
    after = _number(win.get("after_origin_s", 0.0), "window.after_origin_s", path)
    if before + after <= 0:
        raise ValueError(f"{path}: fields 'window.before_origin_s' = {before:g} and 'window.after_origin_s' = "
                         f"{after:g} give a window that ends before it starts (expected before + after > 0 s)")
    if not isinstance(m["events"], list) or not m["events"]:
        raise ValueError(f"{path}: field 'events' is empty (expected at least one [[events]] entry)")
    for i, ev in enumerate(m["events"]):
        _time(ev["origin_time"], f"events[{i}].origin_time", path)
        _number(ev["latitude"], f"events[{i}].latitude", path, lo=-90, hi=90)
        _number(ev["longitude"], f"events[{i}].longitude", path, lo=-180, hi=360)
        _number(ev["depth_km"], f"events[{i}].depth_km", path, lo=-10)
        _number(ev["magnitude"], f"events[{i}].magnitude", path)
        if not isinstance(ev["station"], str) or not _CODE.match(ev["station"]):
            raise ValueError(f"{path}: field 'events[{i}].station' is {ev['station']!r} (expected a station code)")
    nb = m.get("noise_mode_b")
    if nb is not None:
        lo, hi = (_time(nb.get(k), f"noise_mode_b.{k}", path) for k in ("span_start", "span_end"))
        if hi <= lo:
            raise ValueError(f"{path}: field 'noise_mode_b.span_end' ({hi}) is not after span_start ({lo})")


def load_manifest(path: str | os.PathLike) -> dict:
    """Read and check a manifest; errors name the file and the missing/invalid field.

    For ``fdsn_event_records`` everything is checked before any request: channel codes (a
    list of 3-character SEED codes: ``channels = "BH1"`` is refused), the window (a positive
    rate, ``before_origin_s + after_origin_s > 0``), at least one event, each event's origin
    time (ISO UTC), coordinates and station code, and the mode-B noise span.

    Args:
        path: a ``data_manifests/*.toml`` file.

    Returns:
        The manifest as a dict (``manifest["_path"]`` holds its path).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            m = tomllib.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: manifest not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    ds = _need(m, "dataset", "", path, "a [dataset] table")
    _need(ds, "name", "dataset.", path, "the dataset name")
    kind = _need(ds, "kind", "dataset.", path, "fdsn_event_records, local_tables, zenodo or unavailable")
    if kind == "fdsn_event_records":
        fd = _need(m, "fdsn", "", path, "an [fdsn] table")
        _need(fd, "network", "fdsn.", path, "an FDSN network code")
        channels = _need(fd, "channels", "fdsn.", path, "a list of channel codes")
        win = _need(m, "window", "", path, "a [window] table")
        for key in ("sampling_rate_hz", "before_origin_s", "component_order"):
            _need(win, key, "window.", path, "a number" if key != "component_order" else "e.g. '12Z'")
        if not isinstance(channels, list):
            raise ValueError(f"{path}: field 'fdsn.channels' is {channels!r} (expected a list of SEED channel "
                             "codes, e.g. ['BH1', 'BH2', 'BHZ'])")
        if len(channels) != len(win["component_order"]):
            raise ValueError(f"{path}: field 'fdsn.channels' has {len(channels)} channels for "
                             f"window.component_order {win['component_order']!r}")
        events = _need(m, "events", "", path, "an [[events]] array")
        for i, ev in enumerate(events if isinstance(events, list) else []):
            for key, expected in EVENT_FIELDS.items():
                _need(ev, key, f"events[{i}].", path, expected)
            if ev["split"] not in ("train", "dev", "test"):
                raise ValueError(f"{path}: field 'events[{i}].split' is {ev['split']!r} (expected train/dev/test)")
        _check_records(m, path)
    elif kind == "local_tables":
        _need(ds, "tables_dir", "dataset.", path, "the folder of the tables")
        for i, reg in enumerate(_need(m, "regions", "", path, "a [[regions]] array")):
            for key in ("code", "file", "sha256"):
                _need(reg, key, f"regions[{i}].", path, "a value")
    elif kind in ("zenodo", "unavailable"):
        _need(ds, "reason", "dataset.", path, "why fetch cannot download it")
    else:
        raise ValueError(f"{path}: field 'dataset.kind' is {kind!r} "
                         f"(expected fdsn_event_records, local_tables, zenodo or unavailable)")
    m["_path"] = str(path)
    return m


__all__ = ["load_manifest", "EVENT_FIELDS"]
