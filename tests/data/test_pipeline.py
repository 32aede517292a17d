"""Tests for seis_keras.data.pipeline: batches equal direct reads, coverage, determinism, distribution."""
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from seis_keras.data.pipeline import dataset_signature, make_dataset, make_dataset_from_arrays
from seis_keras.data.store import StoreWriter, WaveformStore, write_store
from seis_keras.data.transforms import Demean, LogSpectrogram, MaxNormalize

N = 300
ROW_ID = "row_id"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipe") / "store"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 40, 3)).astype(np.float32)
    md = pd.DataFrame({"label": np.arange(N) % 3, ROW_ID: np.arange(N), "station_code": [f"S{i % 4}" for i in range(N)],
                       "source_magnitude": np.linspace(0, 3, N)})
    write_store(path, x, md, sampling_rate=20, block_size=64)
    return WaveformStore(path)


def _collect(ds):
    parts = [tuple(t.numpy() if not isinstance(t, dict) else {k: v.numpy() for k, v in t.items()} for t in b)
             for b in ds]
    return parts


def test_batches_equal_direct_reads_in_given_order(store):
    idx = np.r_[250:260, 3, 7, 100:140, 299, 0]
    ds = make_dataset(store, indices=idx, label=ROW_ID, batch_size=16, metadata_columns=("station_code",))
    batches = _collect(ds)
    assert [len(b[0]) for b in batches] == [16, 16, 16, 6]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(y, idx)
    np.testing.assert_array_equal(x, store.get_waveforms(idx))
    st = np.concatenate([b[2]["station_code"] for b in batches])
    assert [s.decode() for s in st] == list(store.metadata["station_code"].iloc[idx])
    # reading in the consuming thread (no parallel reads, no prefetch) gives the same batches
    serial = _collect(make_dataset(store, indices=idx, label=ROW_ID, batch_size=16, cycle_length=1, prefetch=0,
                                   shard_size=7))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in serial]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in serial]), idx)


@pytest.mark.parametrize("shard_size", [50, 16])  # one shard per read / groups of 4 shards
def test_shuffled_epoch_covers_every_index_once_and_is_deterministic(store, shard_size):
    def order(seed):
        ds = make_dataset(store, label=ROW_ID, batch_size=32, shuffle=True, seed=seed, shard_size=shard_size,
                          shuffle_buffer=64)
        epochs = [np.concatenate([b[1].numpy() for b in ds]) for _ in range(2)]
        x = np.concatenate([b[0].numpy() for b in ds.take(2)])
        return epochs, x

    (e1, e2), x = order(5)
    assert sorted(e1) == list(range(N)) and sorted(e2) == list(range(N))
    assert not np.array_equal(e1, np.arange(N)) and not np.array_equal(e1, e2)  # shuffled, reshuffled each epoch
    (f1, f2), _ = order(5)
    np.testing.assert_array_equal(e1, f1)
    np.testing.assert_array_equal(e2, f2)
    (g1, _), _ = order(6)
    assert not np.array_equal(e1, g1)
    # the values travel with their labels
    ds = make_dataset(store, label=ROW_ID, batch_size=32, shuffle=True, seed=5)
    xb, yb = next(iter(ds))
    np.testing.assert_array_equal(xb.numpy(), store.get_waveforms(yb.numpy()))


def test_one_shard_is_still_reshuffled_every_epoch(store):
    """40 traces of one block: one shard, one group; only the in-group permutation shuffles."""
    def epochs(seed):
        ds = make_dataset(store, indices=np.arange(40), label=ROW_ID, batch_size=8, shuffle=True, seed=seed)
        return [np.concatenate([b[1].numpy() for b in ds]) for _ in range(3)]

    e = epochs(2)
    assert all(sorted(ep) == list(range(40)) for ep in e)
    assert not np.array_equal(e[0], e[1]) and not np.array_equal(e[1], e[2])
    for a, b in zip(e, epochs(2)):  # the same seed gives the same epochs
        np.testing.assert_array_equal(a, b)


def test_nondeterministic_mode_still_covers_everything(store):
    ds = make_dataset(store, label=ROW_ID, batch_size=40, shuffle=True, deterministic=False, seed=1)
    assert sorted(np.concatenate([b[1].numpy() for b in ds])) == list(range(N))


def test_transforms_window_labels_and_static_shapes(store):
    idx = np.arange(10, 90)
    ds = make_dataset(store, indices=idx, transforms=[Demean(), MaxNormalize()], window=(5, 30),
                      batch_size=32, drop_remainder=True)
    assert ds.element_spec[0].shape.as_list() == [32, 30, 3]
    assert ds.element_spec[1].dtype == tf.int32
    batches = _collect(ds)
    assert len(batches) == 2
    direct = MaxNormalize()(Demean()(store.get_waveforms(idx[:64], window=(5, 30))))
    np.testing.assert_allclose(np.concatenate([b[0] for b in batches]), direct, atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), idx[:64] % 3)
    # callable label, no label, float label
    ds = make_dataset(store, indices=[4, 5], label=lambda md: md["source_magnitude"].to_numpy() > 1.5)
    assert ds.element_spec[1].dtype == tf.int32
    (xb,) = [b for b in make_dataset(store, indices=[4, 5, 6], label=None)]
    assert xb.shape == (3, 40, 3)
    spec = dataset_signature(store, label="source_magnitude", transforms=[LogSpectrogram(fs=20, nperseg=16, noverlap=8)])
    assert spec[0].shape.as_list() == [None, 9, 4, 3] and spec[1].dtype == tf.float32


def test_keras_fit_on_streamed_dataset(store):
    ds = make_dataset(store, indices=np.arange(64), batch_size=16, label=lambda md: (md["label"] > 0).to_numpy())
    model = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(1)])
    model.compile("sgd", tf.keras.losses.BinaryCrossentropy(from_logits=True))
    hist = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert model.predict(make_dataset(store, indices=np.arange(20), label=None), verbose=0).shape == (20, 1)


def test_stead_layout_streams(shared_data):
    st = WaveformStore(shared_data / "stead_sample")
    ds = make_dataset(st, label=lambda md: md["trace_p_arrival_sample"].to_numpy().astype(int), batch_size=8,
                      window=(0, 3000), metadata_columns=("trace_name",))
    batches = _collect(ds)
    x = np.concatenate([b[0] for b in batches])
    np.testing.assert_array_equal(x, st.get_waveforms(slice(None), window=(0, 3000)))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), st.metadata["trace_p_arrival_sample"])


def test_bad_input(store, tmp_path):
    with pytest.raises(ValueError, match="metadata.csv: column 'polarity' missing"):
        make_dataset(store, label="polarity")
    with pytest.raises(ValueError, match="metadata.csv: column 'snr' missing"):
        make_dataset(store, metadata_columns=("snr",))
    with pytest.raises(ValueError, match="duplicates"):
        make_dataset(store, indices=[1, 1])
    nan_at_5 = lambda md: np.where(np.arange(len(md)) == 5, np.nan, 1.0)  # noqa: E731
    name5 = store.metadata["trace_name"].iat[5]
    with pytest.raises(ValueError, match=rf"metadata.csv: label .* is NaN/inf for trace_name '{re.escape(name5)}'"):
        make_dataset(store, indices=[4, 5], label=nan_at_5)
    (_, y), = list(make_dataset(store, indices=[4, 6], label=nan_at_5))  # NaN outside the selection is fine
    np.testing.assert_array_equal(y.numpy(), [1.0, 1.0])
    with StoreWriter(tmp_path / "v", sampling_rate=10) as w:
        w.add(np.zeros((40, 3)), label=0)
        w.add(np.zeros((30, 3)), label=1)
    with pytest.raises(ValueError, match=r"waveforms.hdf5: traces of different shapes .*use window= to crop"):
        make_dataset(tmp_path / "v", batch_size=2)
    assert next(iter(make_dataset(tmp_path / "v", window=(0, 30))))[0].shape == (2, 30, 3)


def test_from_arrays():
    x = np.arange(2 * 10 * 3, dtype=np.float32).reshape(10, 2, 3)
    ds = make_dataset_from_arrays(x, np.arange(10), batch_size=4, shuffle=True, seed=2, transforms=[MaxNormalize()])
    batches = _collect(ds)
    ys = np.concatenate([b[1] for b in batches])
    xs = np.concatenate([b[0] for b in batches])
    assert not np.array_equal(ys, np.arange(10)) and sorted(ys) == list(range(10))
    np.testing.assert_allclose(xs, MaxNormalize()(x[ys]))


MIRRORED = textwrap.dedent("""
    import sys, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from seis_keras.data.pipeline import make_dataset
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    ds = make_dataset(sys.argv[1], label="row_id", batch_size=32, shuffle=True, seed=3, drop_remainder=False)
    opts = ds.options().experimental_distribute.auto_shard_policy
    assert opts == tf.data.experimental.AutoShardPolicy.DATA, opts
    seen, per_replica = [], [0, 0]
    for x, y in strategy.experimental_distribute_dataset(ds):
        for r, (xr, yr) in enumerate(zip(strategy.experimental_local_results(x), strategy.experimental_local_results(y))):
            assert xr.shape[1:] == (40, 3) and xr.shape[0] == yr.shape[0]
            seen.extend(yr.numpy().tolist()); per_replica[r] += len(yr)
    print("SEEN", len(seen), len(set(seen)), min(seen), max(seen), per_replica[0], per_replica[1])
""")


def test_mirrored_strategy_shards_without_duplicates(store, tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    res = subprocess.run([sys.executable, str(script), str(store.path)], capture_output=True, text=True,
                         timeout=240, env=env, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert res.returncode == 0, res.stderr[-2000:]
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("SEEN")][0]
    n, n_unique, lo, hi, r0, r1 = map(int, line.split()[1:])
    assert (n, n_unique, lo, hi) == (N, N, 0, N - 1)
    assert r0 > 0 and r1 > 0 and r0 + r1 == N


def test_per_trace_layout_shape_mismatch_is_reported_when_read(tmp_path):
    path = tmp_path / "pt"
    path.mkdir()
    import h5py
    with h5py.File(path / "waveforms.hdf5", "w") as h5:
        h5["data/a"] = np.zeros((3, 20))
        h5["data/b"] = np.ones((3, 20))
        h5["data/c"] = np.ones((3, 15))
        h5["data_format/sampling_rate"] = 10
    pd.DataFrame({"trace_name": ["a", "b", "c"], "label": [0, 1, 1]}).to_csv(path / "metadata.csv", index=False)
    ds = make_dataset(path, batch_size=3, shard_size=2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="trace_name 'c' .*use window= to crop"):
        list(ds)
    (x, y), = list(make_dataset(path, batch_size=3, window=(0, 15)))
    np.testing.assert_array_equal(x.numpy()[:, 0, 0], [0, 1, 1])
    np.testing.assert_array_equal(y.numpy(), [0, 1, 1])


def _stages(ds) -> list[str]:
    names = []
    while ds is not None:
        names.append(type(ds).__name__)
        ds = getattr(ds, "_input_dataset", None)
    return names


@pytest.mark.parametrize("drop_remainder", [False, True])
def test_batch_reads_equal_rebatched_shard_reads(store, monkeypatch, drop_remainder):
    """Large batches are read one batch per read (no re-batching): the same batches as shard reads."""
    import seis_keras.data.read_plan as read_plan
    from seis_keras.data.read_plan import make_batches

    # given order, runs that cross the 64-trace blocks, a batch starting mid-run, a short tail
    idx = np.r_[250:300, 3, 7, 60:140, 10:30]
    kwargs = dict(indices=idx, label=ROW_ID, batch_size=24, metadata_columns=("station_code",),
                  drop_remainder=drop_remainder)
    shard_reads = _collect(make_dataset(store, **kwargs))
    assert len(shard_reads) == len(idx) // 24 + (not drop_remainder)
    cut = []
    monkeypatch.setattr(read_plan, "make_batches", lambda *a, **k: cut.append(1) or make_batches(*a, **k))
    monkeypatch.setattr(read_plan, "PER_BATCH_READ_BYTES", 0)
    ds = make_dataset(store, **kwargs)
    assert cut == [1] and "_RebatchDataset" not in _stages(ds)  # read as batches, not re-batched
    assert "_RebatchDataset" in _stages(make_dataset(store, shuffle=True, **kwargs))
    assert ds.element_spec[0].shape.as_list() == [24 if drop_remainder else None, 40, 3]
    batch_reads = _collect(ds)
    sizes = [24] * (len(idx) // 24) + ([] if drop_remainder else [len(idx) % 24])
    assert [len(b[0]) for b in batch_reads] == [len(b[0]) for b in shard_reads] == sizes
    n = sum(sizes)
    for got, want in zip(batch_reads, shard_reads):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2]["station_code"], want[2]["station_code"])
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batch_reads]), idx[:n])
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batch_reads]), store.get_waveforms(idx[:n]))
    # one read per batch, serial or parallel; a batch bigger than shard_size goes back to shard reads
    serial = _collect(make_dataset(store, cycle_length=1, prefetch=0, **kwargs))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in serial]), store.get_waveforms(idx[:n]))
    assert len(cut) == 2
    small_shards = make_dataset(store, shard_size=7, **kwargs)
    assert len(cut) == 2 and "_RebatchDataset" in _stages(small_shards)
    small_shards = _collect(small_shards)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in small_shards]), idx[:n])


def test_make_batches_cuts_runs_at_batch_boundaries(store):
    from seis_keras.data.pipeline import make_batches

    idx = np.r_[60:70, 5, 100:103]  # rows 60-63 and 64-69 lie in different blocks
    batches = make_batches(store, idx, 4, drop_remainder=False)
    assert [[r.tolist() for r in b] for b in batches] == [
        [[60, 61, 62, 63]], [[64, 65, 66, 67]], [[68, 69], [5], [100]], [[101, 102]]]
    assert len(make_batches(store, idx, 4, drop_remainder=True)) == 3


def test_batches_across_blocks_are_rebatched_shard_reads(store, monkeypatch):
    """Large batches mostly in several blocks (one copy either way) keep the parallel shard reads."""
    import seis_keras.data.read_plan as read_plan

    monkeypatch.setattr(read_plan, "PER_BATCH_READ_BYTES", 0)
    ds = make_dataset(store, label=ROW_ID, batch_size=96)  # blocks of 64: every batch spans two
    assert "_RebatchDataset" in _stages(ds)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in ds]), np.arange(N))
    assert "_RebatchDataset" not in _stages(make_dataset(store, label=ROW_ID, batch_size=32))


def test_the_shuffled_order_does_not_depend_on_the_global_seed(store):
    """fit sets tf.random.set_seed; a second training in one process must read the same order as the first."""
    from tensorflow.python.eager import context

    def orders(global_seed):
        tf.random.set_seed(global_seed)
        ds = make_dataset(store, label=ROW_ID, batch_size=32, shuffle=True, seed=5, shard_size=16, shuffle_buffer=64,
                          augment=None)
        arr = make_dataset_from_arrays(np.arange(N, dtype=np.float32)[:, None, None], np.arange(N), shuffle=True,
                                       seed=5, batch_size=32)
        out = [np.concatenate([b[1].numpy() for b in d]) for d in (ds, arr) for _ in range(2)]
        assert context.global_seed() == global_seed  # put back after building the seeded ops
        return out

    for a, b in zip(orders(1), orders(12345)):
        np.testing.assert_array_equal(a, b)
