"""What :func:`seis_keras.data.pipeline.make_dataset` reads, planned in numpy (no TensorFlow).

A :class:`ReadPlan` cuts the requested rows of a store into *reads*, each a list of runs
(:meth:`~seis_keras.data.store.WaveformStore.runs`: rows stored contiguously in one HDF5 block,
read with one h5py slice):

* **shards** (:func:`make_shards`): at most ``shard_size`` traces per read; a long run is a
  shard of its own, short runs (one-trace datasets) are merged. When shuffling, a read is a
  *shuffle group* of ``group`` random shards, its traces permuted together
  (:func:`group_permutation`).
* **batches** (:func:`make_batches`): without shuffling and for batches of at least
  :data:`PER_BATCH_READ_BYTES` (and at most ``shard_size`` traces), each read is one batch,
  straight into the batch (no re-batching copy), when at least half of the batches lie in one
  block each.

Sizes: shards of :data:`SHARD_BYTES` (at most 128 traces when shuffling, for better mixing),
shuffle groups of :data:`SHUFFLE_BYTES` (at most 4096 traces).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHARD_BYTES = 16 * 2**20
SHUFFLE_BYTES = 64 * 2**20
#: Without shuffling, batches of at least this many bytes (and at most ``shard_size`` traces)
#: are read one batch per read, straight into the batch (no re-batching copy), when at least
#: half of them lie in one HDF5 block each. Other batches come from ``shard_size`` reads
#: re-batched: a read costs ~1 ms beyond its bytes, more than copying a small batch, and a
#: batch from several blocks is copied together anyway. bench/pipeline.py, one read per batch
#: against re-batched reads, medians of paired runs on a loaded 2-CPU machine: 1.4-1.6x for
#: 4.6-9 MB batches in one block each, ~1.0-1.1x for 6 and 14 MB, 0.8-0.95x for 3 MB batches and
#: for 12 MB batches across two blocks, 0.25x for 0.2 MB batches.
PER_BATCH_READ_BYTES = 4 * 2**20


def positions(store, indices) -> np.ndarray:
    """The metadata rows to read, in order (``None``: all; ints, negative allowed; a boolean mask)."""
    n = len(store)
    if indices is None:
        return np.arange(n, dtype=np.int64)
    idx = np.asarray(indices)
    if idx.dtype == bool:
        if len(idx) != n:
            raise ValueError(f"indices: boolean mask of length {len(idx)} for a store of {n} traces")
        return np.flatnonzero(idx).astype(np.int64)
    idx = idx.astype(np.int64).ravel()
    if len(idx) and (idx.min() < -n or idx.max() >= n):
        raise ValueError(f"indices: values must lie in [0, {n}) for {store.path}")
    idx = np.where(idx < 0, idx + n, idx)
    if len(np.unique(idx)) != len(idx):
        raise ValueError("indices: duplicates given (each trace is read once per epoch)")
    return idx


def make_shards(store, positions: np.ndarray, shard_size: int, *, sort: bool) -> list[list[np.ndarray]]:
    """Group the rows into shards: lists of contiguous runs with at most ``shard_size`` traces.

    A run of at least ``shard_size // 4`` traces is a shard of its own (read without a copy into
    a concatenation); shorter runs (e.g. one-trace datasets) are merged up to ``shard_size``.
    """
    shards: list[list[np.ndarray]] = []
    current: list[np.ndarray] = []
    count = 0
    for run in store.runs(positions, max_len=shard_size, sort=sort):
        if len(run) >= max(2, shard_size // 4):
            if current:  # keep the order: pending short runs go first
                shards.append(current)
                current, count = [], 0
            shards.append([run])
            continue
        if count + len(run) > shard_size and current:
            shards.append(current)
            current, count = [], 0
        current.append(run)
        count += len(run)
    if current:
        shards.append(current)
    return shards


def make_batches(store, positions: np.ndarray, batch_size: int, *, drop_remainder: bool) -> list[list[np.ndarray]]:
    """Cut the rows, in the order given, into batches: lists of runs of ``batch_size`` traces in all.

    Each batch is one read: a batch of one run is the very array h5py reads into; the runs of a
    batch that crosses block boundaries are copied into one output. The last batch is short,
    or left out with ``drop_remainder``.
    """
    batches: list[list[np.ndarray]] = []
    current: list[np.ndarray] = []
    count = 0
    for run in store.runs(positions, sort=False):
        while len(run):
            part, run = run[:batch_size - count], run[batch_size - count:]
            current.append(part)
            count += len(part)
            if count == batch_size:
                batches.append(current)
                current, count = [], 0
    if current and not drop_remainder:
        batches.append(current)
    return batches


def group_permutation(seed: int, draw: int, shard_ids, n: int) -> np.ndarray:
    """The permutation of the ``n`` traces of one shuffle group (``draw``: new every epoch)."""
    return np.random.default_rng([seed, int(draw) % 2**63, *[int(i) for i in shard_ids]]).permutation(n)


@dataclass
class ReadPlan:
    """The reads of one epoch's rows (see the module docstring).

    Attributes:
        reads: one list of runs per read (a shard, or a batch when ``per_batch``).
        per_batch: each read is exactly one batch (no re-batching).
        shard_size: traces per shard at most.
        shuffle_buffer: traces mixed together when shuffling.
        group: shards per read when shuffling (1 otherwise).
        trace_bytes: bytes of one float32 trace as read (after ``window``).
    """

    reads: list[list[np.ndarray]]
    per_batch: bool
    shard_size: int
    shuffle_buffer: int
    group: int
    trace_bytes: int

    @property
    def n_traces(self) -> int:
        return sum(len(run) for read in self.reads for run in read)


def plan_reads(store, pos: np.ndarray, *, batch_size: int, shuffle: bool, drop_remainder: bool,
               window: tuple[int, int] | None = None, shard_size: int | None = None,
               shuffle_buffer: int | None = None) -> ReadPlan:
    """Plan the reads of rows ``pos`` (defaults as in :func:`seis_keras.data.pipeline.make_dataset`)."""
    t, c = store.trace_shape(int(pos[0]))
    trace_bytes = 4 * (int(window[1]) if window is not None else t) * c
    if shard_size is None:
        shard_size = max(1, SHARD_BYTES // trace_bytes)
        if shuffle:
            shard_size = min(shard_size, 128)
    if shuffle_buffer is None:
        shuffle_buffer = max(1, min(4096, SHUFFLE_BYTES // trace_bytes))
    group = max(1, shuffle_buffer // shard_size) if shuffle else 1
    per_batch = not shuffle and PER_BATCH_READ_BYTES <= batch_size * trace_bytes and batch_size <= shard_size
    if per_batch:
        reads = make_batches(store, pos, batch_size, drop_remainder=drop_remainder)
        # a batch in several pieces is copied together anyway (by one thread): not worth it
        per_batch = 2 * sum(len(b) == 1 for b in reads) >= len(reads)
    if not per_batch:
        reads = make_shards(store, pos, shard_size, sort=shuffle)
    return ReadPlan(reads, per_batch, shard_size, shuffle_buffer, group, trace_bytes)


def check_block_shapes(store, positions: np.ndarray) -> None:
    """Fail early when the requested traces stored in blocks differ in shape (cheap: one per block)."""
    blocked = positions[store._row[positions] >= 0]
    if len(blocked) == 0:
        return
    _, first = np.unique(np.stack([store._dset[blocked], store._sel[blocked]]), axis=1, return_index=True)
    shapes = {store.trace_shape(int(blocked[i])): int(blocked[i]) for i in sorted(first)}
    if len(shapes) > 1:
        names = ", ".join(f"{store.metadata['trace_name'].iat[p]!r} {s}" for s, p in shapes.items())
        raise ValueError(f"{store.h5_path}: traces of different shapes ({names}); use window= to crop")


__all__ = ["ReadPlan", "plan_reads", "positions", "make_shards", "make_batches", "group_permutation",
           "check_block_shapes", "SHARD_BYTES", "SHUFFLE_BYTES", "PER_BATCH_READ_BYTES"]
