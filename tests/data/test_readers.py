"""Tests for seis_keras.data.readers: the Norcia Zenodo layout (written here in that layout)."""
import h5py
import numpy as np
import pandas as pd
import pytest

from seis_keras.data.readers import convert_norcia_zenodo, read_norcia_zenodo
from seis_keras.data.store import WaveformStore


def _write_zenodo(root, station="NRCA", n=4, short=(2,), seed=0):
    """Write {STA}/{STA}_waveforms_{pre,post}.hdf5 + attributes; rows stored N,E,Z; returns ENZ truth."""
    rng = np.random.default_rng(seed)
    folder = root / station
    folder.mkdir(parents=True)
    truth = {}
    for period in ("pre", "post"):
        rows = []
        with h5py.File(folder / f"{station}_waveforms_{period}.hdf5", "w") as h5:
            for i in range(n):
                name = f"{station}.IV.{period}{1000 + i}_EV"
                enz = rng.normal(size=(2500, 3))
                data = enz[:, [1, 0, 2]].T  # on disk: rows N, E, Z
                if period == "pre" and i in short:
                    data = data[:2]
                else:
                    truth[name] = enz.astype(np.float32)
                h5.create_dataset(name, data=data)
                rows.append({"trace_name": name, "trace_start_time": f"2016-10-{10 + i}T00:00:00",
                             "network_code": "IV", "receiver_code": station, "receiver_latitude": 42.8,
                             "receiver_longitude": 13.1, "receiver_elevation_m": 900.0,
                             "source_id": 100 + i, "source_depth_km": 8.0, "source_latitude": 42.9,
                             "source_longitude": 13.2, "source_magnitude": 1.0 + i / 10,
                             "source_magnitude_type": "ML", "source_origin_time": f"2016-10-{10 + i}T00:00:05",
                             "p_travel_sec": 2.0})
        pd.DataFrame(rows).to_csv(folder / f"{station}_attributes_{period}.csv", index=False)
    return truth


def test_read_norcia_reorders_and_skips_short_traces(tmp_path):
    truth = _write_zenodo(tmp_path, n=4, short=(2,))
    x, md, skipped = read_norcia_zenodo(tmp_path, component_order="NEZ")
    assert x.shape == (7, 2500, 3) and x.dtype == np.float32
    assert len(skipped) == 1
    file, trace, reason = skipped[0]
    assert file.endswith("NRCA_waveforms_pre.hdf5") and trace == "NRCA.IV.pre1002_EV" and "(2, 2500)" in reason
    for i, name in enumerate(md["trace_name"]):
        np.testing.assert_array_equal(x[i], truth[name])
    assert list(md["period"]) == ["pre"] * 3 + ["post"] * 4
    assert {"station_network_code", "source_latitude_deg", "station_code", "trace_p_arrival_sample"} <= set(md.columns)
    assert (md["trace_sampling_rate_hz"] == 100.0).all() and (md["trace_p_arrival_sample"] == 500).all()
    # the default row order (ENZ) reads the stored N row as E
    x_enz, _, _ = read_norcia_zenodo(tmp_path, periods=("post",))
    np.testing.assert_array_equal(x_enz[:, :, 0], x[3:, :, 1])


def test_convert_norcia_streams_into_a_store(tmp_path):
    truth = _write_zenodo(tmp_path / "zen", n=5, short=(0, 4))
    _write_zenodo(tmp_path / "zen", station="MMO1", n=2, short=(), seed=1)
    out, skipped = convert_norcia_zenodo(tmp_path / "zen", tmp_path / "store", stations=["NRCA"],
                                         component_order="NEZ", block_size=3)
    assert [s[1] for s in skipped] == ["NRCA.IV.pre1000_EV", "NRCA.IV.pre1004_EV"]
    store = WaveformStore(out)
    assert len(store) == 8 and store.component_order == "ENZ" and store.sampling_rate == 100.0
    names = list(store.metadata["trace_name_original"])
    np.testing.assert_array_equal(store.get_waveforms(slice(None)), np.stack([truth[n] for n in names]))
    assert len(store.blocks()) == 3
    # station discovery finds both folders
    x, md, _ = read_norcia_zenodo(tmp_path / "zen", periods=("post",), component_order="NEZ")
    assert sorted(set(md["station_code"])) == ["MMO1", "NRCA"] and len(x) == 7


def test_norcia_bad_input(tmp_path):
    _write_zenodo(tmp_path, n=2)
    with pytest.raises(FileNotFoundError, match="FDMO_waveforms_pre.hdf5"):
        read_norcia_zenodo(tmp_path, stations=["FDMO"])
    with pytest.raises(ValueError, match="component_order"):
        read_norcia_zenodo(tmp_path, component_order="ENN")
    csv = tmp_path / "NRCA" / "NRCA_attributes_post.csv"
    pd.read_csv(csv).drop(columns="trace_name").to_csv(csv, index=False)
    with pytest.raises(ValueError, match="NRCA_attributes_post.csv: column 'trace_name' missing"):
        read_norcia_zenodo(tmp_path)
    csv.write_text("")
    with pytest.raises(ValueError, match="NRCA_attributes_post.csv: cannot parse as CSV"):
        read_norcia_zenodo(tmp_path)
    csv.write_bytes(b"trace_name,a\n\xff\xfe,\xc3\n")
    with pytest.raises(ValueError, match="NRCA_attributes_post.csv: cannot parse as CSV"):
        read_norcia_zenodo(tmp_path)
