"""Tests for seis_keras.data.store: round trips, the two shared real datasets, bad input."""
import h5py
import numpy as np
import pandas as pd
import pytest

from seis_keras.data.store import StoreWriter, WaveformStore, write_store


def _random_store(path, n=10, t=50, block_size=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 3)).astype(np.float32)
    md = pd.DataFrame({"label": np.arange(n) % 2, "trace_name": [f"ev{i}" for i in range(n)],
                       "source_magnitude": rng.uniform(0, 3, n).round(3)})
    write_store(path, x, md, sampling_rate=40.0, component_order="ENZ", block_size=block_size)
    return x, md


def test_round_trip_arrays_metadata_and_seisbench_layout(tmp_path):
    x, md = _random_store(tmp_path / "s", n=10, block_size=4)
    with WaveformStore(tmp_path / "s") as store:
        assert len(store) == 10 and store.sampling_rate == 40.0 and store.component_order == "ENZ"
        np.testing.assert_array_equal(store.get_waveforms(slice(None)), x)
        np.testing.assert_array_equal(store.get_waveforms(7), x[7])
        np.testing.assert_array_equal(store.get_waveforms([9, 0, 5, 0]), x[[9, 0, 5, 0]])
        np.testing.assert_array_equal(store.metadata["label"], md["label"])
        np.testing.assert_array_equal(store.metadata["source_magnitude"], md["source_magnitude"])
        assert list(store.metadata["trace_name_original"]) == list(md["trace_name"])
        blocks = store.blocks()
        assert [(b.start, b.stop) for b in blocks] == [(0, 4), (0, 4), (0, 2)]
        assert np.array_equal(np.concatenate([b.positions for b in blocks]), np.arange(10))
        np.testing.assert_array_equal(store.get_waveforms(3, window=(10, 20)), x[3, 10:30])
        np.testing.assert_array_equal(store.get_waveforms([1], components="ZNE")[0], x[1][:, ::-1])
    # what SeisBench reads: data_format entries and trace_name "bucket$row,:C,:T" into (N, C, T) blocks
    with h5py.File(tmp_path / "s" / "waveforms.hdf5", "r") as h5:
        assert h5["data_format/dimension_order"][()].decode() == "CW"
        assert h5["data_format/component_order"][()].decode() == "ENZ"
        assert float(h5["data_format/sampling_rate"][()]) == 40.0
        name = pd.read_csv(tmp_path / "s" / "metadata.csv")["trace_name"][5]
        assert name == "bucket1$1,:3,:50"
        np.testing.assert_array_equal(h5["data/bucket1"][1, :3, :50], x[5].T)


def test_variable_length_traces_get_blocks_of_their_own(tmp_path):
    rng = np.random.default_rng(1)
    waves = [rng.normal(size=(t, 3)).astype(np.float32) for t in (50, 50, 30, 30, 50)]
    with StoreWriter(tmp_path / "v", sampling_rate=10, block_size=8) as w:
        for i, wave in enumerate(waves):
            assert w.add(wave, label=i) == i
    store = WaveformStore(tmp_path / "v")
    assert [len(b.positions) for b in store.blocks()] == [2, 2, 1]
    for i, wave in enumerate(waves):
        np.testing.assert_array_equal(store.get_waveforms(i), wave)
        assert store.trace_shape(i) == wave.shape
    np.testing.assert_array_equal(store.get_waveforms([2, 3]), np.stack(waves[2:4]))
    with pytest.raises(ValueError, match="different shapes"):
        store.get_waveforms([0, 2])


def test_abort_and_exception_leave_nothing(tmp_path):
    x, _ = _random_store(tmp_path / "s", n=6)
    w = StoreWriter(tmp_path / "new", sampling_rate=10)
    w.add(np.zeros((5, 3)))
    w.abort()
    assert not (tmp_path / "new").exists()
    with pytest.raises(RuntimeError, match="boom"):
        with StoreWriter(tmp_path / "s", sampling_rate=10, overwrite=True) as w:
            w.add(np.ones((5, 3)))
            raise RuntimeError("boom")
    np.testing.assert_array_equal(WaveformStore(tmp_path / "s").get_waveforms(slice(None)), x)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_writer_rejects_bad_traces(tmp_path):
    with StoreWriter(tmp_path / "w", sampling_rate=10, component_order="ZNE") as w:
        with pytest.raises(ValueError, match=r"waveform: expected shape \(T, 3\)"):
            w.add(np.zeros((5, 2)))
        with pytest.raises(ValueError, match="NaN"):
            w.add(np.full((5, 3), np.nan), trace_name="bad")
        w.add(np.zeros((5, 3)))
    assert len(WaveformStore(tmp_path / "w")) == 1


def test_seisbench_dummy(shared_data):
    root = shared_data / "seisbench_dummy"
    store = WaveformStore(root)
    assert len(store) == 100 and store.sampling_rate == 20.0 and store.component_order == "ZNE"
    assert store.layout == "seisbench" and store.trace_shape(0) == (1200, 3)
    x = store.get_waveforms(slice(None))
    assert x.shape == (100, 1200, 3) and x.dtype == np.float32
    assert sorted(len(b.positions) for b in store.blocks()) == [10, 30, 60]
    with h5py.File(root / "waveforms.hdf5", "r") as h5:
        np.testing.assert_array_equal(x[62], h5["data/bucket1"][2].T.astype(np.float32))
        np.testing.assert_array_equal(x[0], h5["data/bucket0"][0].T.astype(np.float32))
    enz = store.get_waveforms(62, components="ENZ")
    np.testing.assert_array_equal(enz, x[62][:, [2, 1, 0]])
    assert set(store.metadata["split"]) <= {"train", "dev", "test"}


def test_stead_sample_layout_rates_and_picks(shared_data):
    root = shared_data / "stead_sample"
    store = WaveformStore(root)
    assert store.layout == "stead" and len(store) == 50
    assert store.sampling_rate == 100.0 and store.component_order == "ENZ" and store.dimension_order == "WC"
    x = store.get_waveforms(np.arange(50))
    assert x.shape == (50, 6000, 3)
    with h5py.File(root / "waveforms.hdf5", "r") as h5:
        for i in (0, 17, 49):
            name = store.metadata["trace_name"].iat[i]
            ds = h5["earthquake/local/" + name]
            np.testing.assert_array_equal(x[i], ds[()])
            assert store.metadata["trace_p_arrival_sample"].iat[i] == ds.attrs["p_arrival_sample"]
            assert store.metadata["trace_s_arrival_sample"].iat[i] == ds.attrs["s_arrival_sample"]
    p, s = store.metadata["trace_p_arrival_sample"], store.metadata["trace_s_arrival_sample"]
    assert ((0 < p) & (p < s) & (s < 6000)).all()
    assert {"station_code", "source_latitude_deg"} <= set(store.metadata.columns)
    # sampling_rate= / component_order= are SeisBench's targets: resampled (decimated 2x) and reordered on read
    half = WaveformStore(root, sampling_rate=50, component_order="NEZ")
    assert half.sampling_rate == 50.0 and half.trace_shape(0) == (3000, 3)
    np.testing.assert_array_equal(half.metadata["trace_p_arrival_sample"], p / 2)
    import scipy.signal

    np.testing.assert_allclose(half.get_waveforms(3), scipy.signal.decimate(x[3], 2, axis=0, zero_phase=False)[:, [1, 0, 2]],
                               rtol=1e-5, atol=1e-6 * np.abs(x[3]).max())


# --------------------------------------------------------------------------- bad input
def _h5_store(path, datasets, names, data_format=None, columns=None):
    path.mkdir()
    with h5py.File(path / "waveforms.hdf5", "w") as h5:
        for key, value in datasets.items():
            h5.create_dataset(key, data=value)
        for key, value in (data_format or {}).items():
            h5.create_dataset(f"data_format/{key}", data=value)
    pd.DataFrame(columns or {"trace_name": names}).to_csv(path / "metadata.csv", index=False)
    return path


FMT = {"sampling_rate": 100, "component_order": "ZNE", "dimension_order": "CW"}


def test_missing_files(tmp_path):
    _random_store(tmp_path / "s")
    (tmp_path / "s" / "metadata.csv").unlink()
    with pytest.raises(FileNotFoundError, match="metadata.csv"):
        WaveformStore(tmp_path / "s")
    _random_store(tmp_path / "t")
    (tmp_path / "t" / "waveforms.hdf5").unlink()
    with pytest.raises(FileNotFoundError, match="waveforms.hdf5"):
        WaveformStore(tmp_path / "t")


def test_missing_trace_name_column(tmp_path):
    p = _h5_store(tmp_path / "s", {"data/b": np.zeros((2, 3, 10))}, None, FMT, columns={"name": ["b$0", "b$1"]})
    with pytest.raises(ValueError, match=r"metadata.csv: column 'trace_name' missing"):
        WaveformStore(p)


def test_trace_name_not_found(tmp_path):
    p = _h5_store(tmp_path / "a", {"data/b": np.zeros((2, 3, 10))}, ["b$0,:3,:10", "b$2,:3,:10"], FMT)
    with pytest.raises(ValueError, match=r"waveforms.hdf5: trace_name 'b\$2,:3,:10' not found"):
        WaveformStore(p)
    p = _h5_store(tmp_path / "b", {"data/t1": np.zeros((3, 10))}, ["t1", "t2"], FMT)
    with pytest.raises(ValueError, match="waveforms.hdf5: trace_name 't2' not found"):
        WaveformStore(p)


def test_wrong_component_count(tmp_path):
    p = _h5_store(tmp_path / "s", {"data/b": np.zeros((2, 2, 10))}, ["b$0,:2,:10", "b$1,:2,:10"], FMT)
    with pytest.raises(ValueError, match=r"waveforms.hdf5: trace_name 'b\$0,:2,:10' has 2 channels but component_order"):
        WaveformStore(p)
    assert WaveformStore(p, source_component_order="ZN").get_waveforms(1).shape == (10, 2)


def test_nan_samples_are_reported_on_read(tmp_path):
    data = np.zeros((3, 3, 10))
    data[1, 2, 4] = np.nan
    p = _h5_store(tmp_path / "s", {"data/b": data}, [f"b${i},:3,:10" for i in range(3)], FMT)
    store = WaveformStore(p)
    assert store.get_waveforms(0).shape == (10, 3)
    with pytest.raises(ValueError, match=r"waveforms.hdf5: trace_name 'b\$1,:3,:10' holds NaN/inf"):
        store.get_waveforms(slice(None))
    assert WaveformStore(p, check_finite=False).get_waveforms(2).shape == (10, 3)


def test_unknown_sampling_rate(tmp_path):
    p = _h5_store(tmp_path / "s", {"data/t1": np.zeros((3, 10))}, ["t1"], {"component_order": "ZNE"})
    with pytest.raises(ValueError, match="no sampling rate for trace_name 't1' .expected data_format/sampling_rate"):
        WaveformStore(p)
    assert WaveformStore(p, source_sampling_rate=25).sampling_rate == 25.0


def test_truncated_hdf5(tmp_path):
    _random_store(tmp_path / "s", n=40)
    h5 = tmp_path / "s" / "waveforms.hdf5"
    h5.write_bytes(h5.read_bytes()[:1000])
    with pytest.raises(ValueError, match="waveforms.hdf5: cannot open as HDF5"):
        WaveformStore(tmp_path / "s")


def test_channels_last_layout_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(7, 30, 3)).astype(np.float32)
    write_store(tmp_path / "wc", x, sampling_rate=10, block_size=3, dimension_order="WC")
    store = WaveformStore(tmp_path / "wc")
    assert store.dimension_order == "WC" and store.metadata["trace_name"][4] == "bucket1$1,:30,:3"
    np.testing.assert_array_equal(store.get_waveforms(slice(None)), x)
    np.testing.assert_array_equal(store.get_waveforms([6, 2], window=(3, 10)), x[[6, 2], 3:13])
    with pytest.raises(ValueError, match="dimension_order"):
        StoreWriter(tmp_path / "bad", sampling_rate=10, dimension_order="NCW")
