"""Fetch a dataset described by a manifest (``data_manifests/<name>.toml``).

What ``fetch`` does depends on the manifest's ``[dataset] kind``:

- ``"fdsn_event_records"`` (Ong: IU MAJO): for every event, the continuous record from
  ``before_origin_s`` before to ``after_origin_s`` after the origin, through obspy's FDSN
  client (dataselect for the waveforms, station at ``level`` for the instrument metadata).
  Each record is kept as served (``records/<id>.mseed`` + ``records/<id>.xml``), then all
  accepted records go into a store in ``out_dir`` (``metadata.csv`` + ``waveforms.hdf5``,
  one long trace per record, ``(T, C)`` in the manifest's ``component_order``).
- ``"local_tables"`` (subduction): copies the tables from ``tables_dir`` (or ``base_url``,
  a folder) into ``out_dir`` after checking each file's SHA-256 against the manifest.
- ``"unavailable"`` (AQULO) and ``"zenodo"`` (Norcia) are refused with the manifest's
  ``reason`` (:class:`DatasetUnavailable`).

Resuming and checking. ``out_dir/fetch_log.json`` lists every record with its status
(``done`` / ``rejected``), the SHA-256 of each file written, and what was verified
(sampling rate, channels, samples vs requested, gaps). A re-run skips a record whose log
entry is ``done`` or ``rejected`` for the same requested window and whose files still
have the logged checksums, and rebuilds the store only when the accepted records (or
their checksums) changed. Every file is written
atomically (temporary name, then rename), and the log is rewritten after each record,
so a killed run leaves whole files and a log that describes them.

Verification per record: the served sampling rate must equal the manifest's, all
channels must be present at one location (the first of ``location_preference`` that has
them all), and each channel must cover the requested window. Gaps and short channels are
handled by ``gap_policy``: ``"reject"`` (the paper excluded such events; the record is
logged as rejected with the reason and left out of the store) or ``"fill"`` (kept, gaps
filled per ``gap_fill``, ``trace_gap_filled`` set).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seis_keras.atomic import atomic_path, write_json
from seis_keras.data.manifest import EVENT_FIELDS, load_manifest  # noqa: F401  (re-exported)
from seis_keras.errors import UserError

LOG_FILE = "fetch_log.json"
RECORDS_DIR = "records"
STORE_FILES = ("waveforms.hdf5", "metadata.csv")


class DatasetUnavailable(UserError, RuntimeError):
    """The manifest's dataset cannot be downloaded by ``fetch`` (the message says why and where)."""


def sha256(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class FetchReport:
    """What :func:`fetch` did."""
    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    store_rebuilt: bool = False


def _utc(text):
    from obspy import UTCDateTime

    return UTCDateTime(str(text))


def record_specs(manifest: dict, *, noise_b: int = 0) -> list[dict]:
    """The records a ``fdsn_event_records`` manifest asks for: one per event (+ mode-B noise).

    Args:
        manifest: from :func:`load_manifest`.
        noise_b: how many mode-B noise records to add (:func:`mode_b_noise_times`).

    Returns:
        Dicts with ``id``, ``station``, ``starttime``, ``endtime`` and the metadata columns.
    """
    win = manifest["window"]
    before, after = float(win["before_origin_s"]), float(win.get("after_origin_s", 0.0))
    specs = []
    for i, ev in enumerate(manifest["events"]):
        origin = _utc(ev["origin_time"])
        row = ev.get("table_row", i + 1)
        specs.append({"id": f"ev{row:02d}_{ev['station']}_{origin.strftime('%Y%m%dT%H%M%S')}",
                      "station": ev["station"], "starttime": origin - before, "endtime": origin + after,
                      "meta": {"source_id": f"ev{row:02d}", "source_origin_time": str(origin),
                               "source_latitude_deg": ev["latitude"], "source_longitude_deg": ev["longitude"],
                               "source_depth_km": ev["depth_km"], "source_magnitude": ev["magnitude"],
                               "source_magnitude_type": "Mw", "source_catalog": ev.get("catalog", ""),
                               "path_ep_distance_deg": ev.get("distance_deg", np.nan),
                               "split": ev["split"], "record_kind": "event"}})
    if noise_b:
        nb = manifest.get("noise_mode_b", {})
        for k, t0 in enumerate(mode_b_noise_times(manifest, noise_b)):
            specs.append({"id": f"noiseB{k:02d}_{nb.get('station', 'MAJO')}_{t0.strftime('%Y%m%dT%H%M%S')}",
                          "station": nb.get("station", "MAJO"), "starttime": t0,
                          "endtime": t0 + float(nb.get("duration_s", 1000.0)),
                          "meta": {"source_id": "", "split": "", "record_kind": "noise_b"}})
    return specs


def mode_b_noise_times(manifest: dict, n: int, *, seed: int | None = None) -> list:
    """Start times of mode-B noise windows: random, at least ``min_separation_h`` from every event.

    Ong et al.: noise "(B) a random 1000 s in a time interval unrelated to any of the
    earthquakes (at least 48 hours before or after any of the earthquakes)". Start times are
    drawn uniformly (whole seconds) in ``[span_start, span_end - duration_s]`` of
    ``[noise_mode_b]``, keeping those whose whole window is that far from every origin.

    Args:
        manifest: from :func:`load_manifest` (uses ``[noise_mode_b]`` and ``[[events]]``).
        n: how many windows.
        seed: random seed (default: the manifest's ``noise_mode_b.seed``, else 0).

    Returns:
        ``n`` ``obspy.UTCDateTime`` start times, sorted.
    """
    nb = manifest.get("noise_mode_b")
    if nb is None:
        raise ValueError(f"{manifest.get('_path', 'manifest')}: field 'noise_mode_b' missing "
                         f"(expected duration_s, min_separation_h, span_start, span_end)")
    rng = np.random.default_rng(nb.get("seed", 0) if seed is None else seed)
    duration, sep = float(nb.get("duration_s", 1000.0)), float(nb["min_separation_h"]) * 3600.0
    lo, hi = _utc(nb["span_start"]), _utc(nb["span_end"]) - duration
    origins = np.array([_utc(ev["origin_time"]).timestamp for ev in manifest["events"]])
    where = f"{manifest.get('_path', 'manifest')}: field 'noise_mode_b'"
    if hi <= lo:
        raise ValueError(f"{where}: span_start..span_end is shorter than duration_s={duration} "
                         "(expected a span that holds the noise windows)")
    out: list = []
    for _ in range(10000 * max(n, 1)):
        if len(out) == n:
            break
        t0 = float(np.floor(rng.uniform(lo.timestamp, hi.timestamp)))
        if np.all((origins < t0 - sep) | (origins > t0 + duration + sep)):
            out.append(lo + (t0 - lo.timestamp))
    else:
        raise ValueError(f"{where}: found {len(out)} of {n} windows of {duration} s at least "
                         f"{sep / 3600:g} h from every event in span_start..span_end (expected a wider span "
                         "or a smaller min_separation_h)")
    return sorted(out)


def _read_log(out_dir: Path) -> dict:
    import json

    p = out_dir / LOG_FILE
    if not p.exists():
        return {"records": {}, "store": None}
    try:
        return json.loads(p.read_text())
    except ValueError as exc:
        raise ValueError(f"{p}: not valid JSON ({exc}); delete it to start the fetch afresh") from exc


def _files_ok(out_dir: Path, files: dict) -> bool:
    return bool(files) and all((out_dir / name).exists() and sha256(out_dir / name) == digest
                               for name, digest in files.items())


def _pick_location(stream, channels, preference):
    locations = sorted({tr.stats.location for tr in stream})
    complete = [loc for loc in locations
                if all(stream.select(location=loc, channel=c) for c in channels)]
    for loc in list(preference) + complete:
        if loc in complete:
            return loc, None
    return None, f"no location holds all of {channels} (served: {sorted({tr.id for tr in stream})})"


def _download(client, spec, manifest, out_dir: Path) -> dict:
    """Download, verify and write one record; returns its log entry."""
    from obspy.clients.fdsn.header import FDSNNoDataException
    from seis_keras.data.ingest import stream_to_windows

    fd, win = manifest["fdsn"], manifest["window"]
    channels, rate = list(fd["channels"]), float(win["sampling_rate_hz"])
    query = dict(network=fd["network"], station=spec["station"], location=fd.get("location", "*"),
                 channel=",".join(channels), starttime=spec["starttime"], endtime=spec["endtime"])
    entry = {"requested": [str(spec["starttime"]), str(spec["endtime"])], "station": spec["station"]}
    try:
        stream = client.get_waveforms(**query)
    except FDSNNoDataException:
        return dict(entry, status="rejected", reason="no data served", files={})
    loc, problem = _pick_location(stream, channels, fd.get("location_preference", []))
    if problem is None:
        stream = stream.select(location=loc)
        rates = sorted({tr.stats.sampling_rate for tr in stream})
        if rates != [rate]:
            problem = f"sampling rate {rates} Hz (expected {rate} Hz)"
    inventory = client.get_stations(**dict(query, location=loc if loc is not None else query["location"]),
                                    level=fd.get("level", "response"))
    files = {}
    for suffix, obj, fmt in ((".mseed", stream, "MSEED"), (".xml", inventory, "STATIONXML")):
        name = f"{RECORDS_DIR}/{spec['id']}{suffix}"
        with atomic_path(out_dir / name) as tmp:
            obj.write(str(tmp), format=fmt)
        files[name] = sha256(out_dir / name)
    entry.update(files=files, location=loc)
    if problem is not None:
        return dict(entry, status="rejected", reason=problem)
    n = int(round((spec["endtime"] - spec["starttime"]) * rate))
    _, meta = stream_to_windows(stream, sampling_rate=rate, component_order=win["component_order"],
                                window_s=n / rate, starts=[spec["starttime"]],
                                channel_map=dict(zip(channels, win["component_order"])),
                                gap_policy="fill", source=spec["id"])
    entry["npts"] = {tr.stats.channel: int(tr.stats.npts) for tr in stream}
    gap = int(meta["trace_gap_samples"].iloc[0])
    if gap > int(win.get("length_tolerance_samples", 0)) and win.get("gap_policy", "reject") == "reject":
        return dict(entry, status="rejected", gap_samples=gap,
                    reason=f"{gap} of {n} samples missing in the requested window (gaps or short channels)")
    return dict(entry, status="done", gap_samples=gap, samples=n)


def _station_columns(inventory_path: Path, channels) -> dict:
    from obspy import read_inventory

    inv = read_inventory(str(inventory_path))
    sta = inv[0][0]
    cha = next((c for c in sta.channels if c.code == channels[0]), sta.channels[0] if sta.channels else None)
    return {"station_latitude_deg": sta.latitude, "station_longitude_deg": sta.longitude,
            "station_elevation_m": sta.elevation,
            "trace_sensor": (cha.sensor.description if cha is not None and cha.sensor is not None else "") or ""}


def _build_store(manifest, specs, log, out_dir: Path) -> dict:
    import obspy
    from seis_keras.data.ingest import stream_to_windows
    from seis_keras.data.store import StoreWriter

    fd, win = manifest["fdsn"], manifest["window"]
    channels, rate, order = list(fd["channels"]), float(win["sampling_rate_hz"]), win["component_order"]
    done = [s for s in specs if log["records"].get(s["id"], {}).get("status") == "done"]
    build = out_dir / ".store-build"
    with StoreWriter(build, sampling_rate=rate, component_order=order, block_size=1, overwrite=True) as writer:
        for spec in done:
            files = log["records"][spec["id"]]["files"]
            mseed = next(n for n in files if n.endswith(".mseed"))
            xml = next(n for n in files if n.endswith(".xml"))
            n = log["records"][spec["id"]]["samples"]
            waves, meta = stream_to_windows(obspy.read(str(out_dir / mseed)), sampling_rate=rate,
                                            component_order=order, window_s=n / rate,
                                            starts=[spec["starttime"]], channel_map=dict(zip(channels, order)),
                                            gap_policy="fill", gap_fill=win.get("gap_fill", "zeros"),
                                            source=mseed)
            row = meta.iloc[0].to_dict()
            row.update(trace_name=spec["id"], trace_record_file=mseed, trace_inventory_file=xml,
                       **spec["meta"], **_station_columns(out_dir / xml, channels))
            writer.add(waves[0], **row)
    for name in STORE_FILES:  # waveforms first: metadata.csv appearing marks a whole store
        os.replace(build / name, out_dir / name)
    shutil.rmtree(build, ignore_errors=True)
    return {"records": {s["id"]: log["records"][s["id"]]["files"] for s in done},
            "files": {n: sha256(out_dir / n) for n in STORE_FILES}}


def _fetch_records(manifest, out_dir: Path, client, base_url, progress: bool, noise_b: int) -> FetchReport:
    from tqdm.auto import tqdm

    specs = record_specs(manifest, noise_b=noise_b)
    log = _read_log(out_dir)
    log.update(manifest=manifest["dataset"]["name"], manifest_sha256=sha256(manifest["_path"]))
    report = FetchReport()
    for spec in tqdm(specs, desc=f"fetch {manifest['dataset']['name']}", unit="record", disable=not progress):
        old = log["records"].get(spec["id"])
        requested = [str(spec["starttime"]), str(spec["endtime"])]
        if (old and old["status"] in ("done", "rejected") and old.get("requested") == requested
                and (old["files"] == {} or _files_ok(out_dir, old["files"]))):
            report.skipped.append(spec["id"])
            continue
        if client is None:
            from obspy.clients.fdsn import Client

            client = Client(base_url or manifest["fdsn"].get("base_url", "EARTHSCOPE"))
        entry = _download(client, spec, manifest, out_dir)
        entry["fetched_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        log["records"][spec["id"]] = entry
        write_json(out_dir / LOG_FILE, log)
        report.downloaded.append(spec["id"])
        if entry["status"] == "rejected":
            report.rejected[spec["id"]] = entry["reason"]
    accepted = {s["id"]: log["records"][s["id"]]["files"] for s in specs
                if log["records"][s["id"]]["status"] == "done"}
    if not accepted:
        reasons = [f"{k}: {v.get('reason', v['status'])}" for k, v in log["records"].items() if k in {s['id'] for s in specs}]
        raise ValueError(f"{manifest['_path']}: no record accepted, so no store was built ({len(reasons)} rejected: "
                         f"{'; '.join(reasons[:3])}{' ...' if len(reasons) > 3 else ''}; see {out_dir / LOG_FILE})")
    store = log.get("store") or {}
    if store.get("records") != accepted or not _files_ok(out_dir, store.get("files", {})):
        log["store"] = _build_store(manifest, specs, log, out_dir)
        write_json(out_dir / LOG_FILE, log)
        report.store_rebuilt = True
    return report


def _fetch_tables(manifest, out_dir: Path, base_url, progress: bool) -> FetchReport:
    from tqdm.auto import tqdm

    path = Path(manifest["_path"])
    src = Path(base_url) if base_url else (path.resolve().parents[1] / manifest["dataset"]["tables_dir"])
    log = _read_log(out_dir)
    log.update(manifest=manifest["dataset"]["name"], manifest_sha256=sha256(path), source=str(src))
    report = FetchReport()
    for reg in tqdm(manifest["regions"], desc="verify tables", disable=not progress):
        name, digest = reg["file"], reg["sha256"]
        if _files_ok(out_dir, {name: digest}):
            report.skipped.append(name)
            continue
        if not (src / name).exists():
            raise FileNotFoundError(f"{src / name}: table of region {reg['code']!r} not found "
                                    f"(dataset.tables_dir in {path}, or pass base_url=<folder>)")
        got = sha256(src / name)
        if got != digest:
            raise ValueError(f"{src / name}: SHA-256 {got} differs from regions.sha256 {digest} in {path}")
        with atomic_path(out_dir / name) as tmp:
            shutil.copyfile(src / name, tmp)
        log["records"][name] = {"status": "done", "files": {name: digest}, "rows": reg.get("rows")}
        write_json(out_dir / LOG_FILE, log)
        report.downloaded.append(name)
    return report


def fetch(manifest_path: str | os.PathLike, out_dir: str | os.PathLike, *, client=None,
          base_url: str | None = None, progress: bool = True, noise_b: int = 0) -> FetchReport:
    """Download (or verify and copy) the dataset a manifest describes into ``out_dir``.

    Args:
        manifest_path: a ``data_manifests/*.toml`` file.
        out_dir: the dataset folder: records, ``fetch_log.json`` and the store go here.
        client: an ``obspy.clients.fdsn.Client`` (or any object with its ``get_waveforms`` /
            ``get_stations``); default: one made from ``base_url``.
        base_url: FDSN service (``"http://127.0.0.1:8080"``, ``"EARTHSCOPE"``); default the
            manifest's ``fdsn.base_url``. For ``local_tables``: the folder to copy from.
        progress: show a tqdm progress bar.
        noise_b: also fetch this many mode-B noise records (``fdsn_event_records`` with a
            ``[noise_mode_b]`` table).

    Returns:
        A :class:`FetchReport` (records downloaded, skipped as already done, rejected).

    Raises:
        DatasetUnavailable: the manifest's kind is ``unavailable`` or ``zenodo``.
    """
    manifest = load_manifest(manifest_path)
    kind, out_dir = manifest["dataset"]["kind"], Path(out_dir)
    if kind in ("unavailable", "zenodo"):
        extra = f" (DOI {manifest['dataset']['zenodo_doi']})" if "zenodo_doi" in manifest["dataset"] else ""
        raise DatasetUnavailable(f"{manifest_path}: fetch cannot download dataset "
                                 f"{manifest['dataset']['name']!r}{extra}: {manifest['dataset']['reason']}")
    _check_out_dir(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if kind == "local_tables":
        return _fetch_tables(manifest, out_dir, base_url, progress)
    return _fetch_records(manifest, out_dir, client, base_url, progress, noise_b)


def _check_out_dir(out_dir: Path) -> None:
    """``out_dir`` must be new, empty, or a dataset folder of an earlier fetch (it has a fetch log): never a user's."""
    from seis_keras.atomic import check_new_dir

    if out_dir.is_dir() and ((out_dir / LOG_FILE).is_file() or not any(out_dir.iterdir())):
        return  # fetch only adds and replaces its own files (records/, the log, the store) there
    check_new_dir(out_dir, what="dataset folder",
                  hint=f"a folder that fetch writes into holds {LOG_FILE}; give a new or empty folder")


def read_fetch_log(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The records of ``out_dir/fetch_log.json`` as a table (id, status, reason, files)."""
    log = _read_log(Path(out_dir))
    rows = [{"id": k, "status": v.get("status"), "reason": v.get("reason", ""), "n_files": len(v.get("files", {}))}
            for k, v in log["records"].items()]
    return pd.DataFrame(rows, columns=["id", "status", "reason", "n_files"])


__all__ = ["fetch", "load_manifest", "record_specs", "mode_b_noise_times", "sha256", "read_fetch_log",
           "FetchReport", "DatasetUnavailable"]
