"""Tests for seis_keras.train.distribute (strategies run in subprocesses: TF's devices and
collectives are configured once per process)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from seis_keras.train.distribute import get_strategy, is_multi_worker, with_data_sharding

WORKER = Path(__file__).parent / "workers" / "train_worker.py"
REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _import_worker():
    sys.path.insert(0, str(WORKER.parent))
    try:
        import train_worker
    finally:
        sys.path.remove(str(WORKER.parent))
    return train_worker


def test_single_process_strategies_and_errors(monkeypatch):
    default = tf.distribute.get_strategy()
    assert get_strategy("none") is default
    assert get_strategy("auto") is default  # no GPU on the test machine: one device
    assert not is_multi_worker(default)
    with pytest.raises(ValueError, match="kind must be one of"):
        get_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG is not set"):
        get_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"index": 3}}))
    with pytest.raises(ValueError, match="task.index 3 outside"):
        get_strategy("multiworker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG: expected"):
        get_strategy("multiworker")
    ds = with_data_sharding(tf.data.Dataset.range(4))
    assert ds.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA


@pytest.mark.timeout(200)
def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path):
    done = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "mirrored"), "--strategy", "mirrored",
                           "--logical-cpus", "2", "--epochs", "3"],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert out["replicas"] == 2 and out["epochs_run"] == 3
    # the same global batches on one device give the same losses: the replicas' gradients
    # were all-reduced correctly
    worker = _import_worker()
    train, val, model_fn = worker.problem()
    from seis_keras.train.fit import fit

    single = fit(model_fn, train, val, worker.settings(3), tmp_path / "single")
    np.testing.assert_allclose(out["loss"], single.history["loss"], rtol=1e-4)
    assert out["loss"][-1] < out["loss"][0]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _rows(path):
    try:
        return len(path.read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_multiworker_survives_a_killed_worker(tmp_path):
    """Two workers on 127.0.0.1; worker 1 is SIGKILLed mid-run. Its peer fails on the
    collective (heartbeat timeout) instead of hanging; the workers are restarted like a
    cluster manager would, reload the chief's BackupAndRestore backup and finish."""
    run, epochs = tmp_path / "run", 4
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    logs = [open(tmp_path / f"worker{i}.log", "a") for i in range(2)]

    def start(i):
        env = dict(ENV, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        cmd = [sys.executable, str(WORKER), str(run), "--strategy", "multiworker", "--resume",
               "--epochs", str(epochs), "--sleep", "0.3", "--timeout", "60"]
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=logs[i], stderr=subprocess.STDOUT)

    def log(i):
        logs[i].flush()
        return (tmp_path / f"worker{i}.log").read_text()[-3000:]

    procs = [start(0), start(1)]
    deadline = time.time() + 360
    try:
        while _rows(run / "history.csv") < 2:  # two epochs done, the backup of one at least
            assert all(p.poll() is None for p in procs), log(0) + log(1)
            assert time.time() < deadline, "workers did not train two epochs"
            time.sleep(0.1)
        procs[1].send_signal(signal.SIGKILL)
        assert procs[1].wait(timeout=30) == -signal.SIGKILL
        # the surviving worker must notice and exit with an error, not hang
        rc0 = procs[0].wait(timeout=120)
        assert rc0 != 0, log(0)
        assert _rows(run / "history.csv") < epochs and (run / "backup").is_dir()
        procs = [start(0), start(1)]  # the job restarts: the killed worker and its failed peer
        codes = [p.wait(timeout=max(1, deadline - time.time())) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert codes == [0, 0], log(0) + log(1)
    results = [json.loads(log(i).split("RESULT ", 1)[1].splitlines()[0]) for i in range(2)]
    assert all(r["epochs_run"] == epochs and r["replicas"] == 2 for r in results)
    assert results[0]["loss"] == results[1]["loss"]
    epoch_lines = [line for line in (tmp_path / "worker0.log").read_text().splitlines()
                   if line.startswith("EPOCH")]  # both starts, appended
    history = (run / "history.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in history] == list(range(epochs))
    assert float(history[-1].split(",")[1]) < float(history[0].split(",")[1])
    assert not (run / "backup").exists()
    # resumed from the backup instead of starting over: at most the interrupted epoch twice
    assert epochs <= len(epoch_lines) <= epochs + 1
