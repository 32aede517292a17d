"""Distribution strategies: one GPU/CPU, all GPUs of a machine, or several machines.

``get_strategy("auto")`` mirrors over the GPUs when there is more than one and otherwise
returns TensorFlow's default strategy. ``"multiworker"`` reads the cluster from the
``TF_CONFIG`` environment variable (``{"cluster": {"worker": ["host:port", ...]},
"task": {"type": "worker", "index": i}}``, one process per worker, all started with the
same cluster) and all-reduces with the RING implementation. Fault tolerance comes from
``seis_keras.train.fit``'s ``BackupAndRestore`` backup: a killed worker is restarted with
the same command and ``resume=True``; every worker reloads the chief's last backup.
"""
from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("auto", "none", "mirrored", "multiworker")


def split_cpu(n_devices: int) -> list:
    """Split the first physical CPU into ``n_devices`` logical devices.

    Must run before TensorFlow initialises its devices (before any op or model); this is
    how ``MirroredStrategy`` is exercised without GPUs.

    Args:
        n_devices: number of logical CPU devices (>= 1).

    Returns:
        The logical CPU devices.
    """
    if n_devices < 1:
        raise ValueError(f"split_cpu: n_devices must be >= 1, got {n_devices}")
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n_devices)])
    return tf.config.list_logical_devices("CPU")


def get_strategy(kind: str = "auto", *, communication: str = "ring",
                 timeout_seconds: float | None = None) -> tf.distribute.Strategy:
    """Return the ``tf.distribute`` strategy for ``kind``.

    Args:
        kind: ``"auto"`` (mirrored if more than one GPU is visible, else default),
            ``"none"`` (the default strategy: one device), ``"mirrored"`` (all visible
            GPUs; without GPUs all logical CPU devices, see ``split_cpu``) or
            ``"multiworker"`` (``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``).
        communication: multi-worker all-reduce implementation: ``"ring"`` (default, works
            on CPUs and over plain gRPC), ``"nccl"`` (GPUs) or ``"auto"``.
        timeout_seconds: multi-worker collective timeout (``None`` = TensorFlow's: wait
            forever). A finite value makes surviving workers fail, instead of hang, when a
            peer dies.

    Returns:
        The strategy. Build and compile models inside ``strategy.scope()``.
    """
    if kind not in STRATEGIES:
        raise ValueError(f"get_strategy: kind must be one of {', '.join(STRATEGIES)}, got {kind!r}")
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "multiworker":  # before anything lists devices: that initialises TensorFlow
        return _multi_worker(communication, timeout_seconds)
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "auto":
        return tf.distribute.MirroredStrategy([d.name for d in gpus]) if len(gpus) > 1 \
            else tf.distribute.get_strategy()
    devices = gpus or tf.config.list_logical_devices("CPU")  # "mirrored"
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def _multi_worker(communication: str, timeout_seconds: float | None) -> tf.distribute.Strategy:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError("get_strategy('multiworker'): environment variable TF_CONFIG is not set "
                         "(expected {'cluster': {'worker': [...]}, 'task': {'type': 'worker', 'index': i}})")
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"]
        index = int(config["task"]["index"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"TF_CONFIG: expected cluster.worker (list) and task.index, got {raw!r} ({err})") from None
    if not 0 <= index < len(workers):
        raise ValueError(f"TF_CONFIG: task.index {index} outside the {len(workers)} workers")
    implementations = {"ring": tf.distribute.experimental.CommunicationImplementation.RING,
                       "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
                       "auto": tf.distribute.experimental.CommunicationImplementation.AUTO}
    if communication not in implementations:
        raise ValueError(f"get_strategy: communication must be ring, nccl or auto, got {communication!r}")
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=implementations[communication], timeout_seconds=timeout_seconds)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``strategy`` spans several worker processes."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def with_data_sharding(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` with ``AutoShardPolicy.DATA``: each worker takes every n-th batch.

    Our datasets come from HDF5 blocks, not from a list of files, so sharding by file
    (TensorFlow's first choice) does not apply; sharding by data always does.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
