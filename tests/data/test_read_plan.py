"""The pipeline's read plan and reader in numpy alone (issue 11 item 5): no TensorFlow imported."""
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from seis_keras.data.read_plan import group_permutation, make_batches, make_shards, plan_reads, positions
from seis_keras.data.reader import PlanReader
from seis_keras.data.store import WaveformStore, write_store
from seis_keras.data.transforms import Compose, MaxNormalize


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 40, 3)).astype(np.float32)
    path = write_store(tmp_path_factory.mktemp("plan") / "s", x, pd.DataFrame({"label": np.arange(50) % 2}),
                       sampling_rate=20, block_size=16)  # blocks of 16, 16, 16, 2
    return WaveformStore(path), x


def test_the_plan_and_reader_import_no_tensorflow():
    code = ("import sys, seis_keras.data.read_plan, seis_keras.data.reader; "
            "sys.exit('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=str(__import__("pathlib").Path(__file__).parents[2])
                          ).returncode == 0


def test_shards_cover_every_row_once_within_blocks(store):
    st, _ = store
    pos = positions(st, None)
    shards = make_shards(st, pos, 10, sort=True)
    rows = np.concatenate([r for s in shards for r in s])
    assert sorted(rows.tolist()) == list(range(50))
    assert all(sum(len(r) for r in s) <= 10 for s in shards)
    for s in shards:  # every run is consecutive rows of one block
        for r in s:
            assert len({st._dset[i] for i in r}) == 1 and np.all(np.diff(st._row[r]) == 1)
    assert [len(r) for s in shards for r in s][:3] == [8, 8, 8]  # a block of 16 -> two runs of 8


def test_batches_follow_the_given_order(store):
    st, _ = store
    order = np.array([49, 3, 4, 5, 20, 21, 0])
    batches = make_batches(st, order, 3, drop_remainder=False)
    assert [np.concatenate(b).tolist() for b in batches] == [[49, 3, 4], [5, 20, 21], [0]]
    assert len(make_batches(st, order, 3, drop_remainder=True)) == 2
    with pytest.raises(ValueError, match="duplicates"):
        positions(st, [1, 1])
    assert positions(st, np.arange(50) >= 48).tolist() == [48, 49]


def test_plan_sizes_and_per_batch_reads(store):
    st, _ = store
    pos = positions(st, None)
    plan = plan_reads(st, pos, batch_size=8, shuffle=True, drop_remainder=False, shard_size=4, shuffle_buffer=12)
    assert plan.group == 3 and plan.trace_bytes == 4 * 40 * 3 and plan.n_traces == 50 and not plan.per_batch
    big = plan_reads(st, pos, batch_size=16, shuffle=False, drop_remainder=False, shard_size=64)
    assert not big.per_batch  # 16 x 480 bytes is far below PER_BATCH_READ_BYTES: shard reads, re-batched


def test_reader_returns_the_rows_it_read_permuted_by_a_seeded_group(store):
    st, x = store
    pos = positions(st, None)
    plan = plan_reads(st, pos, batch_size=8, shuffle=True, drop_remainder=False, shard_size=4, shuffle_buffer=12)
    norm = Compose([MaxNormalize()])
    reader = PlanReader(st, plan, norm, (40, 3), shuffle=True, seed=7)
    got, rows = reader([0, 5, 2], 11)
    want_rows = np.concatenate([r for i in (0, 5, 2) for r in plan.reads[i]])
    perm = group_permutation(7, 11, [0, 5, 2], len(want_rows))
    expected = np.empty_like(want_rows)
    expected[perm] = want_rows
    np.testing.assert_array_equal(rows, expected)  # trace k of the read goes to place perm[k]
    np.testing.assert_allclose(got, norm(x[rows]), rtol=1e-6)
    assert got.ctypes.data % 64 == 0 and got.dtype == np.float32
    again, rows2 = reader([0, 5, 2], 12)  # another epoch's draw: another permutation of the same traces
    assert sorted(rows2.tolist()) == sorted(rows.tolist()) and rows2.tolist() != rows.tolist()
    plain = PlanReader(st, plan, Compose([]), (40, 3), shuffle=False, seed=0)
    got, rows = plain([1], 0)
    np.testing.assert_array_equal(got, x[rows]) and np.testing.assert_array_equal(rows, plan.reads[1][0])
    with pytest.raises(ValueError, match=r"gives x of shape \(40, 3\), expected \(20, 3\)"):
        PlanReader(st, plan, Compose([]), (20, 3), shuffle=False, seed=0)([1], 0)
