"""Round trips against the real SeisBench (a test extra: requirements/no-deps.txt).

What we write SeisBench reads identically; what SeisBench's own writer makes (buckets of mixed
lengths, chunks, per-trace component orders, ``trace_dt_s``, list-valued component orders) we
read identically; ``sampling_rate=`` / ``component_order=`` / ``missing_components=`` mean the
same in both (targets: resampled and reordered on read).
"""
import h5py
import numpy as np
import pandas as pd
import pytest

from seis_keras.data.store import WaveformStore, write_store

sbd = pytest.importorskip("seisbench.data")


def _ours_store(path, dimension_order="CW", n=7, t=120, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 3)).astype(np.float32)
    md = pd.DataFrame({"trace_p_arrival_sample": rng.integers(10, 100, n).astype(float), "split": "train"})
    write_store(path, x, md, sampling_rate=40.0, component_order="ENZ", block_size=3,
                dimension_order=dimension_order)
    return x


def _sb(path, **kw):
    return sbd.WaveformDataset(path, dimension_order="NWC", **kw)


@pytest.mark.parametrize("dims", ["CW", "WC"])
def test_seisbench_reads_what_we_write_and_targets_mean_the_same(tmp_path, dims):
    x = _ours_store(tmp_path / "s", dims)
    sb = _sb(tmp_path / "s", component_order="ENZ")
    np.testing.assert_array_equal(sb.get_waveforms(np.arange(7)), x)
    for kw in ({"sampling_rate": 20.0}, {"sampling_rate": 30.0}, {"component_order": "ZNE"},
               {"sampling_rate": 20.0, "component_order": "NZ"},
               {"component_order": "ZNEH", "missing_components": "pad"},
               {"component_order": "ZNEH", "missing_components": "copy"}):
        with pytest.warns(UserWarning, match="lack") if "H" in kw.get("component_order", "") else _no_warning():
            ours = WaveformStore(tmp_path / "s", **kw)
        theirs = _sb(tmp_path / "s", **{"component_order": "ENZ", **kw})
        got, want = ours.get_waveforms(np.arange(7)), theirs.get_waveforms(np.arange(7))
        assert got.shape == want.shape, kw
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=str(kw))
        assert ours.trace_shape(0) == want.shape[1:]
        if "sampling_rate" in kw:  # sample columns in output samples, as SeisBench's get_sample gives them
            _, meta = theirs.get_sample(4)
            assert ours.metadata["trace_p_arrival_sample"].iat[4] == pytest.approx(meta["trace_p_arrival_sample"])
            assert ours.sampling_rate == kw["sampling_rate"]
            assert ours.metadata["trace_source_sampling_rate_hz"].iat[4] == 40.0


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _sb_written(path, rng):
    """Two chunks by SeisBench's writer: buckets of mixed lengths, per-trace orders, rate or dt per chunk."""
    traces = {}
    for chunk, rate_col in (("a", "trace_sampling_rate_hz"), ("b", "trace_dt_s")):
        with sbd.WaveformDataWriter(path / f"metadata{chunk}.csv", path / f"waveforms{chunk}.hdf5") as w:
            w.data_format = {"dimension_order": "CW", "component_order": "ZNE"}
            w.bucket_size = 4
            for i in range(9):
                length = int(rng.integers(100, 260))
                wave = rng.normal(size=(3, length)).astype(np.float32)
                order = "ENZ" if i % 3 == 0 else "ZNE"
                w.add_trace({"trace_name": f"{chunk}{i}", "trace_component_order": order,
                             rate_col: 20.0 if rate_col.endswith("hz") else 0.05,
                             "trace_p_arrival_sample": 50.0, "split": "train"}, wave)
                traces[f"{chunk}{i}"] = (wave, order)
    (path / "chunks").write_text("a\nb\n")
    return traces


def test_we_read_seisbench_written_buckets_chunks_and_per_trace_orders(tmp_path):
    path = tmp_path / "sb"
    traces = _sb_written(path, np.random.default_rng(1))
    ours, theirs = WaveformStore(path), _sb(path, component_order="ZNE")
    assert len(ours) == len(theirs) == 18 and ours.chunks == ["a", "b"]
    assert list(ours.metadata["trace_chunk"]) == list(theirs.metadata["trace_chunk"])
    assert ours.sampling_rate == 20.0 and ours.component_order == "ZNE"
    names = ours.metadata["trace_name_original"].tolist()
    assert names == theirs.metadata["trace_name_original"].tolist()
    lengths = {ours.trace_shape(i)[0] for i in range(18)}
    assert len(lengths) > 3  # mixed lengths inside buckets, each read at its own length (no padding)
    for i in range(18):
        got = ours.get_waveforms(i)
        np.testing.assert_array_equal(got, theirs.get_waveforms(i))
        wave, order = traces[names[i]]  # and the independent answer: the trace as written, reordered to ZNE
        np.testing.assert_array_equal(got, wave.T[:, [order.index(c) for c in "ZNE"]])
    down_ours, down_theirs = WaveformStore(path, sampling_rate=10.0), _sb(path, component_order="ZNE", sampling_rate=10.0)
    for i in (0, 5, 13):
        np.testing.assert_allclose(down_ours.get_waveforms(i), down_theirs.get_waveforms(i), rtol=1e-5, atol=1e-6)
    assert WaveformStore(path, chunks=["b"]).metadata["trace_name_original"].tolist() == names[9:]
    with pytest.raises(ValueError, match=r"chunks \['c'\] not in the dataset"):
        WaveformStore(path, chunks=["c"])


def test_list_valued_component_order_and_missing_dimension_order(tmp_path):
    x = _ours_store(tmp_path / "s", "CW")
    with h5py.File(tmp_path / "s" / "waveforms.hdf5", "r+") as h5:
        del h5["data_format/component_order"], h5["data_format/dimension_order"]
        h5["data_format/component_order"] = np.array([b"E", b"N", b"Z"])
    with pytest.warns(UserWarning, match="dimension_order missing: reading traces as 'CW'"):
        ours = WaveformStore(tmp_path / "s")
    assert ours.component_order == "ENZ" and ours.dimension_order == "CW"
    theirs = _sb(tmp_path / "s", component_order="ENZ")
    np.testing.assert_array_equal(ours.get_waveforms(np.arange(7)), theirs.get_waveforms(np.arange(7)))
    np.testing.assert_array_equal(ours.get_waveforms(np.arange(7)), x)
