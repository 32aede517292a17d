"""tf.data pipelines that stream a :class:`~seis_keras.data.store.WaveformStore` from disk.

The requested rows are cut into **shards**: runs of rows stored contiguously in one HDF5 block
(read with one h5py slice), at most ``shard_size`` traces each; or, without shuffling and for
large batches (see :data:`PER_BATCH_READ_BYTES`), into **batches** of ``batch_size`` rows
(one or more runs, across block boundaries where the rows go). Each read (one shard or batch,
or when shuffling a group of random shards) is a numpy function that reads through its own
thread's read-only ``waveforms.hdf5`` handle (opened lazily by that thread, never shared),
applies the numpy transforms to the whole chunk at once, and returns it with its row numbers;
labels and metadata are gathered from in-graph tables by row. ``cycle_length`` reads run
concurrently (a parallel map over read ids: an interleave whose block is the whole read);
shard reads are re-batched (one copy), batch reads are the batches; then prefetched. Memory is
bounded by ``cycle_length`` reads (16 MiB each by default, or one batch; 64 MiB shuffle
groups) plus the prefetch buffer, whatever the store's size.

Order: without shuffling the batches follow ``indices`` exactly as given. With shuffling, the
shard order, the grouping and the permutation inside each group are all seeded by ``seed``
(``deterministic=True``: the same seed gives the same batches, epoch after epoch).

Under ``tf.distribute`` the dataset carries ``AutoShardPolicy.DATA``; pass it to
``strategy.experimental_distribute_dataset`` (each global batch is split across replicas).
"""
from __future__ import annotations

import os
import threading
from typing import Callable, Sequence

import h5py
import numpy as np
import tensorflow as tf

from seis_keras.data.store import WaveformStore, empty_aligned, open_read_only
from seis_keras.data.transforms import Compose

Label = str | Callable | None


def _store(store) -> WaveformStore:
    return store if isinstance(store, WaveformStore) else WaveformStore(store)


def _positions(store: WaveformStore, indices) -> np.ndarray:
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


def _labels(store: WaveformStore, label: Label) -> np.ndarray | None:
    if label is None:
        return None
    if callable(label):
        y = np.asarray(label(store.metadata))
        if len(y) != len(store):
            raise ValueError(f"label: the callable returned {len(y)} values for {len(store)} metadata rows")
    else:
        if label not in store.metadata.columns:
            raise ValueError(f"{store.path / 'metadata.csv'}: column {label!r} missing (needed as label)")
        y = store.metadata[label].to_numpy()
    if y.dtype.kind in "iub":
        return y.astype(np.int32)
    if y.dtype.kind == "f":
        return y.astype(np.float32)
    raise ValueError(f"label {label!r}: expected numbers, got dtype {y.dtype}")


def _meta_arrays(store: WaveformStore, columns: Sequence[str]) -> dict[str, np.ndarray]:
    out = {}
    for col in columns:
        if col not in store.metadata.columns:
            raise ValueError(f"{store.path / 'metadata.csv'}: column {col!r} missing (asked for in metadata_columns)")
        v = store.metadata[col].to_numpy()
        if v.dtype.kind in "iu":
            v = v.astype(np.int64)
        elif v.dtype.kind == "f":
            v = v.astype(np.float64)
        elif v.dtype.kind != "b":
            v = v.astype(str).astype(object)
        out[col] = v
    return out


def _spec_dtype(a: np.ndarray) -> tf.DType:
    return tf.string if a.dtype == object else tf.as_dtype(a.dtype)


def _transform(transforms) -> Compose:
    if isinstance(transforms, Compose):
        return transforms
    return Compose(list(transforms) if isinstance(transforms, (list, tuple)) else [transforms])


def sample_shape(store, *, indices=None, transforms=(), window=None) -> tuple[int, ...]:
    """Shape of one element's ``x`` (no batch axis) after ``window`` and ``transforms``.

    Taken from the first requested trace; every other trace must give the same shape.
    """
    store = _store(store)
    pos = _positions(store, indices)
    if len(pos) == 0:
        raise ValueError(f"indices: no traces selected from {store.path}")
    t, c = store.trace_shape(int(pos[0]))
    if window is not None:
        t = int(window[1])
    compose = _transform(transforms)
    if all(hasattr(tr, "output_shape") for tr in compose.transforms):
        return tuple(int(s) for s in compose.output_shape((t, c)))
    return tuple(compose(np.zeros((1, t, c), np.float32)).shape[1:])


def dataset_signature(store, *, indices=None, label: Label = "label", transforms=(), window=None,
                      metadata_columns: Sequence[str] = ()) -> tuple:
    """The ``element_spec`` of :func:`make_dataset` batches (batch axis ``None``).

    Returns:
        ``(x_spec, y_spec)``, ``(x_spec, y_spec, {column: spec})``, ``(x_spec, {column: spec})``
        or ``(x_spec,)`` when there is neither label nor metadata.
    """
    store = _store(store)
    shape = sample_shape(store, indices=indices, transforms=transforms, window=window)
    specs: list = [tf.TensorSpec((None, *shape), tf.float32)]
    y = _labels(store, label)
    if y is not None:
        specs.append(tf.TensorSpec((None, *y.shape[1:]), tf.as_dtype(y.dtype)))
    meta = _meta_arrays(store, metadata_columns)
    if meta:
        specs.append({k: tf.TensorSpec((None,), _spec_dtype(v)) for k, v in meta.items()})
    return tuple(specs)


def make_shards(store: WaveformStore, positions: np.ndarray, shard_size: int, *, sort: bool) -> list[list[np.ndarray]]:
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


def make_batches(store: WaveformStore, positions: np.ndarray, batch_size: int, *,
                 drop_remainder: bool) -> list[list[np.ndarray]]:
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


_HANDLES = threading.local()


def reader_handle(path: str) -> "_ReaderHandle":
    """This thread's read-only handle on ``path``, opened on first use (~1 ms saved per read).

    Each thread of the tf.data pool keeps its own handle (h5py handles are not shared across
    threads here) and its opened datasets; a file replaced on disk (new inode or mtime) is
    reopened. The handles live as long as the thread.
    """
    st = os.stat(path)
    key = (st.st_ino, st.st_mtime_ns)
    cache = getattr(_HANDLES, "files", None)
    if cache is None:
        cache = _HANDLES.files = {}
    handle = cache.get(path)
    if handle is None or handle.key != key or not handle.h5.id.valid:
        if handle is not None and handle.h5.id.valid:
            handle.h5.close()
        cache[path] = handle = _ReaderHandle(key, open_read_only(path))
    return handle


class _ReaderHandle:
    """An open HDF5 file whose datasets are looked up once (``h5[key]`` costs ~0.1-0.3 ms)."""

    def __init__(self, key, h5: h5py.File):
        self.key, self.h5, self._datasets = key, h5, {}

    def __getitem__(self, name: str) -> h5py.Dataset:
        ds = self._datasets.get(name)
        if ds is None:
            ds = self._datasets[name] = self.h5[name]
        return ds



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


def make_dataset(store, *, indices=None, label: Label = "label", transforms=(), batch_size: int = 32,
                 shuffle: bool = False, seed: int = 0, deterministic: bool = True, drop_remainder: bool = False,
                 metadata_columns: Sequence[str] = (), window: tuple[int, int] | None = None,
                 shuffle_buffer: int | None = None, cycle_length: int | None = None, shard_size: int | None = None,
                 components: str | None = None, prefetch: int = tf.data.AUTOTUNE) -> tf.data.Dataset:
    """Stream batches of a store without loading it.

    The order without shuffling is ``indices`` as given; the values equal
    ``store.get_waveforms(indices)`` passed through ``transforms``.

    Shuffling happens at three levels, all seeded by ``seed`` and redrawn every epoch: the order
    of the shards; the grouping of ``shuffle_buffer // shard_size`` consecutive (random) shards
    into one read; and a permutation of all the traces of a group. A group plays the role of a
    shuffle buffer of ``shuffle_buffer`` elements fed from that many random places, done in
    numpy (element-wise ``tf.data`` shuffling costs ~50 µs per element).

    Args:
        store: a :class:`WaveformStore` or its folder.
        indices: metadata rows to use (ints or a boolean mask; default all), no duplicates.
        label: a metadata column name, a callable ``f(store.metadata) -> array`` with one value
            per metadata row (all rows, not only ``indices``), or ``None`` (unlabelled).
            Integers become int32, floats float32.
        transforms: a transform or sequence of them (numpy, batch-wise), applied per read.
        batch_size: elements per batch.
        shuffle: shuffle as above.
        seed: seeds all shuffling.
        deterministic: keep the order reproducible (``False`` lets faster reads overtake).
        drop_remainder: drop the last partial batch (gives a static batch dimension).
        metadata_columns: metadata columns to yield in a dict beside ``x`` and ``y``.
        window: ``(start, length)`` samples to crop, read from disk without the rest.
        shuffle_buffer: traces mixed together when shuffling (default: 64 MiB of traces, at
            most 4096).
        cycle_length: reads in flight concurrently (default: the CPU count, at most 4).
        shard_size: maximum traces per contiguous read (default: 16 MiB of traces without
            shuffling; at most 128 traces when shuffling, for better mixing). Without
            shuffling, batches of at most ``shard_size`` traces and at least
            :data:`PER_BATCH_READ_BYTES`, mostly within one block each, are read one per read.
        components: output channel order, default the store's ``component_order``.
        prefetch: batches prepared ahead (default ``tf.data.AUTOTUNE``; 0: none). With
            ``cycle_length=1`` and ``prefetch=0`` every read runs in the consuming thread: no
            thread hand-offs, the fastest choice on a CPU shared with other busy processes.

    Returns:
        ``tf.data.Dataset`` of batches ``(x, y)``, ``(x, y, meta)``, ``(x, meta)`` or ``x``;
        ``x`` is float32 ``(batch, *sample_shape)``.
    """
    store = _store(store)
    pos = _positions(store, indices)
    cycle_length = cycle_length or min(4, os.cpu_count() or 1)
    if batch_size < 1 or cycle_length < 1 or (shard_size is not None and shard_size < 1):
        raise ValueError("batch_size, shard_size and cycle_length must be >= 1")
    compose = _transform(transforms)
    signature = dataset_signature(store, indices=pos, label=label, transforms=compose, window=window,
                                  metadata_columns=metadata_columns)
    if window is None:
        _check_block_shapes(store, pos)
    x_shape = tuple(signature[0].shape[1:])
    trace_bytes = 4 * (int(window[1]) if window is not None else store.trace_shape(int(pos[0]))[0]) * \
        store.trace_shape(int(pos[0]))[1]
    if shard_size is None:
        shard_size = max(1, SHARD_BYTES // trace_bytes)
        if shuffle:
            shard_size = min(shard_size, 128)
    if shuffle_buffer is None:
        shuffle_buffer = max(1, min(4096, SHUFFLE_BYTES // trace_bytes))
    group = max(1, shuffle_buffer // shard_size) if shuffle else 1
    y_all = _labels(store, label)
    if y_all is not None and y_all.dtype.kind == "f" and not np.isfinite(y_all[pos]).all():
        bad = int(pos[np.flatnonzero(~np.isfinite(y_all[pos]).reshape(len(pos), -1).any(axis=1))[0]])
        raise ValueError(f"{store.path / 'metadata.csv'}: label {label if isinstance(label, str) else '(callable)'!r} "
                         f"is NaN/inf for trace_name {store.metadata['trace_name'].iat[bad]!r} (expected a number "
                         "for every selected trace)")
    meta_all = _meta_arrays(store, metadata_columns)
    # large batches without shuffling: each read is exactly one batch (no re-batching copy);
    # otherwise reads are shards (groups of them when shuffling, permuted), then re-batched
    per_batch = not shuffle and PER_BATCH_READ_BYTES <= batch_size * trace_bytes and batch_size <= shard_size
    if per_batch:
        shards = make_batches(store, pos, batch_size, drop_remainder=drop_remainder)
        # a batch in several pieces is copied together anyway (by one thread): not worth it
        per_batch = 2 * sum(len(b) == 1 for b in shards) >= len(shards)
    if not per_batch:
        shards = make_shards(store, pos, shard_size, sort=shuffle)
    h5_path = str(store.h5_path)
    h5_paths = [str(p) for p in store.h5_paths]

    def read_group(shard_ids, draw):
        ids = [int(i) for i in np.atleast_1d(shard_ids)]
        runs = [run for i in ids for run in shards[i]]
        h5 = reader_handle(h5_path) if len(h5_paths) == 1 else [reader_handle(p) for p in h5_paths]
        n = sum(len(run) for run in runs)
        # one copy: each run is scattered straight to its (permuted) place in the output;
        # ``draw`` is new every epoch, so a group that holds the same shards again (always,
        # when one group holds every shard) is still permuted anew
        perm = np.random.default_rng([seed, int(draw) % 2**63, *ids]).permutation(n) if shuffle else None
        x, rows, offset = None, np.empty(n, np.int64), 0
        for run in runs:
            chunk = store.read_run(h5, run, window=window, components=components)
            if x is None:
                x = chunk if len(runs) == 1 and perm is None else empty_aligned((n, *chunk.shape[1:]))
            elif chunk.shape[1:] != x.shape[1:]:
                raise ValueError(f"{h5_path}: trace_name {store.metadata['trace_name'].iat[int(run[0])]!r} has shape "
                                 f"{chunk.shape[1:]}, others {x.shape[1:]} (use window= to crop)")
            dest = slice(offset, offset + len(run)) if perm is None else perm[offset:offset + len(run)]
            if x is not chunk:
                x[dest] = chunk
            rows[dest] = run
            offset += len(run)
        if compose.transforms:
            x = compose(x)
        if x.shape[1:] != x_shape:
            raise ValueError(f"{h5_path}: trace_name {store.metadata['trace_name'].iat[int(rows[0])]!r} gives "
                             f"x of shape {x.shape[1:]}, expected {x_shape} (use window= to crop)")
        if x.dtype != np.float32 or not x.flags.c_contiguous or x.ctypes.data % 64:
            aligned = empty_aligned(x.shape)  # TensorFlow copies unaligned arrays anyway
            aligned[...] = x
            x = aligned
        return x, rows

    y_table = None if y_all is None else tf.constant(y_all)
    meta_tables = {k: tf.constant(v) for k, v in meta_all.items()}

    def read_elements(shard_ids, draw=np.int64(0)):
        x, rows = tf.numpy_function(read_group, [shard_ids, draw], (tf.float32, tf.int64), stateful=False)
        n = batch_size if drop_remainder and per_batch else None
        x = tf.ensure_shape(x, (n, *x_shape))
        rows = tf.ensure_shape(rows, (n,))
        out = [x]
        if y_table is not None:
            out.append(tf.gather(y_table, rows))
        if meta_tables:
            out.append({k: tf.gather(v, rows) for k, v in meta_tables.items()})
        return tuple(out) if len(out) > 1 else x

    # Each read is one element (a batch, a shard or a shuffle group): a parallel map over the
    # read ids is an interleave of the reads whose block is the whole read, ``cycle_length``
    # in flight.
    ds = tf.data.Dataset.range(len(shards))
    if shuffle:
        ds = ds.shuffle(max(len(shards), 1), seed=seed, reshuffle_each_iteration=True).batch(group)
        # one seeded random number per read, a new sequence each epoch: the in-group permutation
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, draws))
    if cycle_length > 1:
        ds = ds.map(read_elements, num_parallel_calls=cycle_length, deterministic=deterministic)
    else:
        ds = ds.map(read_elements)
    if not per_batch:
        ds = ds.rebatch(batch_size, drop_remainder=drop_remainder)
    if prefetch:
        ds = ds.prefetch(prefetch)
    return ds.with_options(_options(deterministic))


def _check_block_shapes(store: WaveformStore, positions: np.ndarray) -> None:
    """Fail early when the requested traces stored in blocks differ in shape (cheap: one per block)."""
    blocked = positions[store._row[positions] >= 0]
    if len(blocked) == 0:
        return
    _, first = np.unique(np.stack([store._dset[blocked], store._sel[blocked]]), axis=1, return_index=True)
    shapes = {store.trace_shape(int(blocked[i])): int(blocked[i]) for i in sorted(first)}
    if len(shapes) > 1:
        names = ", ".join(f"{store.metadata['trace_name'].iat[p]!r} {s}" for s, p in shapes.items())
        raise ValueError(f"{store.h5_path}: traces of different shapes ({names}); use window= to crop")


def _options(deterministic: bool) -> tf.data.Options:
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = deterministic
    return options


def make_dataset_from_arrays(x, y=None, *, transforms=(), batch_size: int = 32, shuffle: bool = False,
                             seed: int = 0, drop_remainder: bool = False, metadata: dict | None = None,
                             shuffle_buffer: int | None = None) -> tf.data.Dataset:
    """The same batches as :func:`make_dataset` from arrays already in memory.

    Args:
        x: waveforms ``(N, T, C)``; ``transforms`` are applied once, up front.
        y: labels ``(N, ...)`` or ``None``.
        batch_size, shuffle, seed, drop_remainder: as :func:`make_dataset`.
        metadata: optional dict of ``(N,)`` arrays yielded beside ``x`` and ``y``.
        shuffle_buffer: default the whole array (a full shuffle).

    Returns:
        ``tf.data.Dataset`` of ``(x, y)``, ``(x, y, meta)``, ``(x, meta)`` or ``x`` batches.
    """
    x = np.asarray(x, np.float32)
    compose = _transform(transforms)
    if compose.transforms:
        x = compose(x)
    parts: list = [x]
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(x):
            raise ValueError(f"y: {len(y)} labels for {len(x)} waveforms")
        parts.append(y.astype(np.int32) if y.dtype.kind in "iub" else y.astype(np.float32))
    if metadata:
        parts.append({k: np.asarray(v) for k, v in metadata.items()})
    ds = tf.data.Dataset.from_tensor_slices(tuple(parts) if len(parts) > 1 else x)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer or max(len(x), 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(_options(True))
