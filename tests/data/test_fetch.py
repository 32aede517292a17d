"""Tests for seis_keras.data.fetch against a loopback FDSN server, and for the manifests."""
import json
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import obspy
import pytest
from obspy.clients.fdsn.header import FDSNServiceUnavailableException

from seis_keras.data.fetch import (DatasetUnavailable, fetch, load_manifest, mode_b_noise_times,
                                   read_fetch_log, record_specs, sha256)
from seis_keras.data.store import WaveformStore

sys.path.insert(0, str(Path(__file__).parent))
from fdsn_server import FDSNTestServer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "data_manifests"
PAPER = REPO.parent / "shared" / "papers" / "ong_temporal-earthquake-forecasting.txt"

TINY = """
[dataset]
name = "tiny_ong"
kind = "fdsn_event_records"

[fdsn]
network = "IU"
channels = ["BH1", "BH2", "BHZ"]
location = "*"
location_preference = ["10", "00"]
level = "response"

[window]
sampling_rate_hz = 40.0
before_origin_s = 30.0
after_origin_s = 0.0
component_order = "12Z"
gap_policy = "{policy}"

[noise_mode_b]
duration_s = 20.0
min_separation_h = 48.0
span_start = "2018-01-01T00:00:00"
span_end = "2019-12-31T00:00:00"
station = "MAJO"

[[events]]
table_row = 1
origin_time = "2019-06-18T13:22:19"
latitude = 38.6370
longitude = 139.4804
depth_km = 12.0
magnitude = 6.4
distance_deg = 2.32
split = "train"
station = "MAJO"

[[events]]
table_row = 25
origin_time = "2018-11-14T21:21:50"
latitude = 55.6324
longitude = 162.0008
depth_km = 50.2
magnitude = 6.1
distance_deg = 7.18
split = "test"
station = "MA2"
"""


def _manifest(tmp_path, policy="reject", text=TINY):
    p = tmp_path / "tiny.toml"
    p.write_text(text.replace("{policy}", policy))
    return p


def _served(server, station, origin, location="10"):
    t0 = obspy.UTCDateTime(origin) - 30
    st = server.served[(station, location, str(t0))]
    return np.stack([st.select(channel=c)[0].data[:1200] for c in ("BH1", "BH2", "BHZ")], axis=1)


def test_fetch_writes_a_store_equal_to_what_was_served(tmp_path):
    out = tmp_path / "ong"
    with FDSNTestServer() as server:
        report = fetch(_manifest(tmp_path), out, base_url=server.base_url, progress=False)
        assert report.downloaded == ["ev01_MAJO_20190618T132219", "ev25_MA2_20181114T212150"]
        store = WaveformStore(out)
        assert len(store) == 2 and store.component_order == "12Z" and store.sampling_rate == 40.0
        x = store.get_waveforms(np.arange(2))
        assert x.shape == (2, 1200, 3)
        np.testing.assert_array_equal(x[0], _served(server, "MAJO", "2019-06-18T13:22:19"))
        np.testing.assert_array_equal(x[1], _served(server, "MA2", "2018-11-14T21:21:50"))
    meta = store.metadata
    assert meta["split"].tolist() == ["train", "test"] and meta["station_code"].tolist() == ["MAJO", "MA2"]
    assert meta["station_location_code"].astype(str).tolist() == ["10", "10"]  # location preference
    assert meta["trace_start_time"].iloc[0] == "2019-06-18T13:21:49.000000Z"
    assert meta["source_magnitude"].tolist() == [6.4, 6.1]
    assert meta["station_latitude_deg"].iloc[0] == pytest.approx(36.5457)
    assert meta["trace_sensor"].tolist() == ["Streckeisen STS-2 High-gain"] * 2
    log = json.loads((out / "fetch_log.json").read_text())
    for rec in log["records"].values():
        assert rec["status"] == "done" and rec["npts"] == {"BH1": 1201, "BH2": 1201, "BHZ": 1201}
        for name, digest in rec["files"].items():
            assert sha256(out / name) == digest
    inv = obspy.read_inventory(str(out / "records" / "ev01_MAJO_20190618T132219.xml"))
    assert inv[0][0][0].response.instrument_sensitivity is not None  # instrument metadata kept
    assert log["store"]["files"]["metadata.csv"] == sha256(out / "metadata.csv")


def test_fetch_resumes_after_an_interrupted_run(tmp_path):
    out = tmp_path / "ong"
    manifest = _manifest(tmp_path)
    with FDSNTestServer(fail_queries={2}) as server:
        with pytest.raises(FDSNServiceUnavailableException, match="temporarily unavailable"):
            fetch(manifest, out, base_url=server.base_url, progress=False)
        assert read_fetch_log(out)["id"].tolist() == ["ev01_MAJO_20190618T132219"]
        assert not (out / "metadata.csv").exists()
        assert not [p for p in out.rglob("*") if p.name.startswith(".tmp-")]  # no half-written files
        first = len(server.dataselect_queries())
        report = fetch(manifest, out, base_url=server.base_url, progress=False)
        assert report.skipped == ["ev01_MAJO_20190618T132219"]
        assert report.downloaded == ["ev25_MA2_20181114T212150"] and report.store_rebuilt
        again = server.dataselect_queries()[first:]
        assert [q["station"] for q in again] == ["MA2"]  # the done event was not asked for again
        assert len(WaveformStore(out)) == 2
        # a third run does nothing; a damaged record is fetched again
        report = fetch(manifest, out, base_url=server.base_url, progress=False)
        assert report.downloaded == [] and not report.store_rebuilt
        (out / "records" / "ev01_MAJO_20190618T132219.mseed").write_bytes(b"damaged")
        report = fetch(manifest, out, base_url=server.base_url, progress=False)
        assert report.downloaded == ["ev01_MAJO_20190618T132219"]
        # a changed window in the manifest fetches again
        longer = manifest.read_text().replace("before_origin_s = 30.0", "before_origin_s = 20.0")
        manifest.write_text(longer)
        report = fetch(manifest, out, base_url=server.base_url, progress=False)
        assert len(report.downloaded) == 2 and WaveformStore(out).get_waveforms(0).shape == (800, 3)
        manifest.write_text(longer.replace("before_origin_s = 20.0", "before_origin_s = 30.0"))
        fetch(manifest, out, base_url=server.base_url, progress=False)
        np.testing.assert_array_equal(WaveformStore(out).get_waveforms(0),
                                      _served(server, "MAJO", "2019-06-18T13:22:19"))


@pytest.mark.parametrize("policy", ["reject", "fill"])
def test_gap_policy_of_fetched_records(tmp_path, policy):
    out = tmp_path / "ong"
    with FDSNTestServer(gap_stations={"MA2"}, gap_samples=40) as server:
        report = fetch(_manifest(tmp_path, policy), out, base_url=server.base_url, progress=False)
        store = WaveformStore(out)
        if policy == "reject":
            assert list(report.rejected) == ["ev25_MA2_20181114T212150"]
            assert "40 of 1200 samples missing" in report.rejected["ev25_MA2_20181114T212150"]
            assert len(store) == 1 and store.metadata["station_code"].tolist() == ["MAJO"]
        else:
            assert report.rejected == {} and len(store) == 2
            assert store.metadata["trace_gap_filled"].tolist() == [False, True]
            x = store.get_waveforms(1)
            served = server.served[("MA2", "10", str(obspy.UTCDateTime("2018-11-14T21:21:50") - 30))]
            bh1 = served.select(channel="BH1")
            mid = bh1[0].stats.npts  # first segment length: samples [0, mid), gap [mid, mid + 40)
            np.testing.assert_array_equal(x[:mid, 0], bh1[0].data)
            assert np.all(x[mid:mid + 40] == 0)
            np.testing.assert_array_equal(x[mid + 40:, 0], bh1[1].data[:1200 - mid - 40])


def test_mode_b_noise_is_far_from_every_event(tmp_path):
    m = load_manifest(_manifest(tmp_path))
    times = mode_b_noise_times(m, 25, seed=3)
    origins = [obspy.UTCDateTime(e["origin_time"]) for e in m["events"]]
    for t in times:
        assert obspy.UTCDateTime("2018-01-01") <= t <= obspy.UTCDateTime("2019-12-31") - 20
        assert all(o < t - 48 * 3600 or o > t + 20 + 48 * 3600 for o in origins)
    assert times == mode_b_noise_times(m, 25, seed=3) and times != mode_b_noise_times(m, 25, seed=4)
    specs = record_specs(m, noise_b=2)
    assert [s["meta"]["record_kind"] for s in specs] == ["event", "event", "noise_b", "noise_b"]
    assert specs[2]["endtime"] - specs[2]["starttime"] == 20
    # a span with no room for a noise window is an error, not an endless draw
    crowded = TINY.replace('span_start = "2018-01-01T00:00:00"', 'span_start = "2019-06-17T00:00:00"') \
                  .replace('span_end = "2019-12-31T00:00:00"', 'span_end = "2019-06-20T00:00:00"')
    with pytest.raises(ValueError, match=r"tiny\.toml: field 'noise_mode_b': found 0 of 2 windows"):
        mode_b_noise_times(load_manifest(_manifest(tmp_path, text=crowded)), 2)
    short = TINY.replace('span_end = "2019-12-31T00:00:00"', 'span_end = "2018-01-01T00:00:10"')
    with pytest.raises(ValueError, match="shorter than duration_s"):
        mode_b_noise_times(load_manifest(_manifest(tmp_path, text=short)), 1)


def test_manifest_errors_name_file_and_field(tmp_path):
    broken = TINY.replace('station = "MA2"\n', "")
    with pytest.raises(ValueError, match=r"tiny\.toml: field 'events\[1\]\.station' missing"):
        load_manifest(_manifest(tmp_path, text=broken))
    with pytest.raises(ValueError, match=r"tiny\.toml: field 'fdsn\.channels' has 2 channels"):
        load_manifest(_manifest(tmp_path, text=TINY.replace('"BH1", "BH2", "BHZ"', '"BH1", "BHZ"')))
    with pytest.raises(ValueError, match=r"field 'events\[0\]\.split' is 'val'"):
        load_manifest(_manifest(tmp_path, text=TINY.replace('split = "train"', 'split = "val"')))
    with pytest.raises(DatasetUnavailable, match=r"aqulo\.toml: .*no public download"):
        fetch(MANIFESTS / "aqulo.toml", tmp_path / "a", progress=False)
    with pytest.raises(DatasetUnavailable, match=r"10\.5281/zenodo\.12806081"):
        fetch(MANIFESTS / "norcia.toml", tmp_path / "n", progress=False)


def test_ong_manifest_has_the_31_events_of_table_1():
    m = load_manifest(MANIFESTS / "ong_majo.toml")
    ev = m["events"]
    assert len(ev) == 31
    assert [e["split"] for e in ev] == ["train"] * 24 + ["test"] * 7
    assert [e["station"] for e in ev].count("MA2") == 1
    ma2 = next(e for e in ev if e["station"] == "MA2")
    assert ma2["origin_time"] == "2018-11-14T21:21:50" and ma2["split"] == "test"
    assert all(e["station"] == "MAJO" for e in ev if e is not ma2)
    assert all(e["magnitude"] >= 6.0 for e in ev)
    assert m["fdsn"]["network"] == "IU" and m["fdsn"]["channels"] == ["BH1", "BH2", "BHZ"]
    assert m["window"]["sampling_rate_hz"] == 40.0 and m["window"]["before_origin_s"] == 10 * 3600
    assert m["noise_mode_b"]["min_separation_h"] == 48.0
    specs = record_specs(m)
    assert len({s["id"] for s in specs}) == 31
    assert specs[0]["endtime"] - specs[0]["starttime"] == 36000


def test_ong_manifest_matches_the_paper_text():
    if not PAPER.exists():
        pytest.skip(f"{PAPER} not present")
    rows = [line.split("\t") for line in PAPER.read_text().splitlines() if re.match(r"^\d{4}-\d\d-\d\dT", line)]
    assert len(rows) == 31
    with open(MANIFESTS / "ong_majo.toml", "rb") as f:
        ev = tomllib.load(f)["events"]
    for e, r in zip(ev, rows):
        assert e["origin_time"] == r[0].replace(" (*)", "")
        assert (e["station"] == "MA2") == ("(*)" in r[0])
        assert [e["latitude"], e["longitude"], e["depth_km"], e["magnitude"], e["distance_deg"]] == \
            [float(v) for v in (r[1], r[2], r[3], r[5], r[6])]
        assert e["catalog"] == r[4]


def test_subduction_tables_are_verified_and_copied(tmp_path, shared_data):
    m = load_manifest(MANIFESTS / "subduction.toml")
    assert [r["code"] for r in m["regions"]] == ["alu", "cam", "izu", "ker", "kur", "ryu", "sam", "sum"]
    assert sum(r["rows"] for r in m["regions"]) == m["dataset"]["n_rows"] == 591
    report = fetch(MANIFESTS / "subduction.toml", tmp_path / "sub", progress=False)
    assert len(report.downloaded) == 8
    for r in m["regions"]:
        copied = tmp_path / "sub" / r["file"]
        assert sha256(copied) == r["sha256"] and len(copied.read_text().splitlines()) == r["rows"] + 1
    assert fetch(MANIFESTS / "subduction.toml", tmp_path / "sub", progress=False).skipped == [
        r["file"] for r in m["regions"]]
    bad = tmp_path / "bad"
    bad.mkdir()
    for r in m["regions"]:
        (bad / r["file"]).write_bytes((shared_data / "subduction" / r["file"]).read_bytes())
    (bad / "ryu.csv").write_text("tampered\n")
    with pytest.raises(ValueError, match=r"ryu\.csv: SHA-256 .* differs"):
        fetch(MANIFESTS / "subduction.toml", tmp_path / "sub2", base_url=str(bad), progress=False)


def test_fetch_mode_b_noise_records(tmp_path):
    out = tmp_path / "ong"
    m = load_manifest(_manifest(tmp_path))
    (t0,) = mode_b_noise_times(m, 1)
    with FDSNTestServer() as server:
        report = fetch(_manifest(tmp_path), out, base_url=server.base_url, progress=False, noise_b=1)
        assert len(report.downloaded) == 3 and report.downloaded[2].startswith("noiseB00_MAJO_")
        store = WaveformStore(out)
        assert store.metadata["record_kind"].tolist() == ["event", "event", "noise_b"]
        st = server.served[("MAJO", "10", str(t0))]
        np.testing.assert_array_equal(store.get_waveforms(2)[:, 2], st.select(channel="BHZ")[0].data[:800])
