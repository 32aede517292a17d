"""tf.data pipelines that stream a :class:`~seis_keras.data.store.WaveformStore` from disk.

Three parts: a **read plan** in numpy (:mod:`seis_keras.data.read_plan`: the requested rows
cut into shards — runs of rows stored contiguously in one HDF5 block, at most ``shard_size``
traces each — or, without shuffling and for large batches, into batches; shuffle groups), the
**reader** (:mod:`seis_keras.data.reader`: one read -> ``(x, rows)`` through the thread's own
read-only handle, transforms applied to the whole chunk), and here the short **tf.data
assembly**: a parallel map of ``tf.numpy_function(reader)`` over the read ids (an interleave
whose block is the whole read, ``cycle_length`` in flight), labels and metadata gathered from
in-graph tables by row, shard reads re-batched (one copy), then prefetched. Memory is bounded
by ``cycle_length`` reads (16 MiB each by default, or one batch; 64 MiB shuffle groups) plus the
prefetch buffer, whatever the store's size.

Order: without shuffling the batches follow ``indices`` exactly as given. With shuffling, the
shard order, the grouping and the permutation inside each group are all seeded by ``seed``
(``deterministic=True``: the same seed gives the same batches, epoch after epoch), whatever the
process did before: TensorFlow pairs every op seed with the global seed (``tf.random.set_seed``,
which ``fit`` sets), so the seeded tf.data ops are built as if no global seed were set
(:func:`_seeded_ops`); without that a second training in one process read another order.

Under ``tf.distribute`` the dataset carries ``AutoShardPolicy.DATA``; pass it to
``strategy.experimental_distribute_dataset`` (each global batch is split across replicas).
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context as _tf_context  # private: see _seeded_ops

from seis_keras.data.augment import Augmentations
from seis_keras.data.read_plan import (PER_BATCH_READ_BYTES, SHARD_BYTES, SHUFFLE_BYTES,  # noqa: F401  (re-exported)
                                       check_block_shapes, make_batches, make_shards, plan_reads)
from seis_keras.data.read_plan import positions as _positions
from seis_keras.data.reader import PlanReader, reader_handle  # noqa: F401  (reader_handle: re-exported)
from seis_keras.data.store import WaveformStore
from seis_keras.data.transforms import Compose

Label = str | Callable | None


@contextlib.contextmanager
def _seeded_ops():
    """Build seeded ops as under no global seed: (DEFAULT_GRAPH_SEED, op seed), whatever was set before.

    ``random_seed.get_seed`` reads the eager context's global seed; TensorFlow has no public way to
    build a seeded op without it, so its private ``_seed`` is cleared for the construction and put back
    (its op-seed generator ``_rng`` is left alone: ops with an explicit seed do not use it). In graph
    mode (eager execution disabled) the graph's seed decides, as before.
    """
    ctx = _tf_context.context()
    saved = ctx._seed
    ctx._seed = None
    try:
        yield
    finally:
        ctx._seed = saved


def _store(store) -> WaveformStore:
    return store if isinstance(store, WaveformStore) else WaveformStore(store)


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


def make_dataset(store, *, indices=None, label: Label = "label", transforms=(), batch_size: int = 32,
                 shuffle: bool = False, seed: int = 0, deterministic: bool = True, drop_remainder: bool = False,
                 metadata_columns: Sequence[str] = (), window: tuple[int, int] | None = None,
                 shuffle_buffer: int | None = None, cycle_length: int | None = None, shard_size: int | None = None,
                 components: str | None = None, prefetch: int = tf.data.AUTOTUNE, augment=None) -> tf.data.Dataset:
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
        augment: augmentation of each read's raw windows before ``transforms``
            (:mod:`seis_keras.data.augment`: an ``Augmentations`` or its settings dict), new
            draws every epoch, seeded by ``seed``.

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
    augment = Augmentations(augment) if isinstance(augment, dict) else (augment or None)
    signature = dataset_signature(store, indices=pos, label=label, transforms=compose, window=window,
                                  metadata_columns=metadata_columns)
    if window is None:
        check_block_shapes(store, pos)
    x_shape = tuple(signature[0].shape[1:])
    y_all = _labels(store, label)
    if y_all is not None and y_all.dtype.kind == "f" and not np.isfinite(y_all[pos]).all():
        bad = int(pos[np.flatnonzero(~np.isfinite(y_all[pos]).reshape(len(pos), -1).any(axis=1))[0]])
        raise ValueError(f"{store.path / 'metadata.csv'}: label {label if isinstance(label, str) else '(callable)'!r} "
                         f"is NaN/inf for trace_name {store.metadata['trace_name'].iat[bad]!r} (expected a number "
                         "for every selected trace)")
    plan = plan_reads(store, pos, batch_size=batch_size, shuffle=shuffle, drop_remainder=drop_remainder,
                      window=window, shard_size=shard_size, shuffle_buffer=shuffle_buffer)
    reader = PlanReader(store, plan, compose, x_shape, shuffle=shuffle, seed=seed, window=window,
                        components=components, augment=augment, labels=y_all)
    y_table = None if y_all is None else tf.constant(y_all)
    meta_tables = {k: tf.constant(v) for k, v in _meta_arrays(store, metadata_columns).items()}
    static_n = batch_size if drop_remainder and plan.per_batch else None

    def read_elements(read_ids, draw=np.int64(0)):
        x, rows = tf.numpy_function(reader, [read_ids, draw], (tf.float32, tf.int64), stateful=False)
        x = tf.ensure_shape(x, (static_n, *x_shape))
        rows = tf.ensure_shape(rows, (static_n,))
        out = [x]
        if y_table is not None:
            out.append(tf.gather(y_table, rows))
        if meta_tables:
            out.append({k: tf.gather(v, rows) for k, v in meta_tables.items()})
        return tuple(out) if len(out) > 1 else x

    ds = tf.data.Dataset.range(len(plan.reads))
    with _seeded_ops():
        if shuffle:  # the read order (seeded, new each epoch), reads grouped
            ds = ds.shuffle(max(len(plan.reads), 1), seed=seed, reshuffle_each_iteration=True).batch(plan.group)
        if shuffle or augment is not None:  # one seeded draw per read, new each epoch: permutation, augmentation
            ds = tf.data.Dataset.zip((ds, tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)))
    if cycle_length > 1:
        ds = ds.map(read_elements, num_parallel_calls=cycle_length, deterministic=deterministic)
    else:
        ds = ds.map(read_elements)
    if not plan.per_batch:
        ds = ds.rebatch(batch_size, drop_remainder=drop_remainder)
    if prefetch:
        ds = ds.prefetch(prefetch)
    return ds.with_options(_options(deterministic))


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
        with _seeded_ops():
            ds = ds.shuffle(shuffle_buffer or max(len(x), 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    return ds.with_options(_options(True))


__all__ = ["make_dataset", "make_dataset_from_arrays", "dataset_signature", "sample_shape", "make_shards",
           "make_batches", "reader_handle", "SHARD_BYTES", "SHUFFLE_BYTES", "PER_BATCH_READ_BYTES"]
