"""run_jobs: results in job order from this process and spawned workers; errors raised here."""
import os

import pytest

from seis_keras.train.parallel import available_cores, resolve_workers, run_jobs


def where(i, fail_on=None):
    """A job: its index and the process that ran it (module level: spawned workers import it)."""
    if i == fail_on:
        raise ValueError(f"job {i}: planted failure")
    return i * i, os.getpid()


def test_jobs_run_in_this_process_and_a_worker_in_order():
    seen = []
    results = run_jobs(where, [(i,) for i in range(5)], workers=2, on_result=lambda i, r: seen.append(i))
    assert [r[0] for r in results] == [0, 1, 4, 9, 16]
    here = os.getpid()
    assert {r[1] for k, r in enumerate(results) if k % 2 == 0} == {here}  # 0, 2, 4 here
    others = {r[1] for k, r in enumerate(results) if k % 2}
    assert len(others) == 1 and here not in others                        # 1, 3 in one spawned worker
    assert seen == [0, 2, 4, 1, 3]                                        # ours as they finish, then the worker's


def test_one_worker_runs_everything_here_and_errors_surface():
    assert {r[1] for r in run_jobs(where, [(i,) for i in range(3)], workers=1)} == {os.getpid()}
    with pytest.raises(ValueError, match="job 1: planted failure"):
        run_jobs(where, [(i, 1) for i in range(3)], workers=2)


def test_resolve_workers():
    assert resolve_workers(0, 10) == min(available_cores(), 10)
    assert resolve_workers(4, 2) == 2 and resolve_workers(1, 5) == 1 and resolve_workers(3, 0) == 1
    with pytest.raises(ValueError, match="workers"):
        resolve_workers(-1, 3)


def test_a_pool_started_ahead_runs_the_jobs_and_a_pool_of_none_runs_them_here():
    from seis_keras.train.parallel import WorkerPool

    with WorkerPool(1, warm=os.getpid) as pool:
        results = run_jobs(where, [(i,) for i in range(4)], workers=0, pool=pool)
    assert [r[0] for r in results] == [0, 1, 4, 9]
    assert results[0][1] == results[2][1] == os.getpid() != results[1][1] == results[3][1]
    with WorkerPool(0) as none:
        assert {r[1] for r in run_jobs(where, [(i,) for i in range(3)], workers=0, pool=none)} == {os.getpid()}


def sleeper(seconds):
    import time

    time.sleep(seconds)
    return os.getpid()


def test_an_error_here_stops_the_workers_instead_of_waiting_for_them():
    from seis_keras.train.parallel import WorkerPool

    with pytest.raises(KeyboardInterrupt):
        with WorkerPool(1) as pool:
            running = pool.executor.submit(sleeper, 600)
            while not running.running():
                pass
            processes = list(pool.executor._processes.values())
            raise KeyboardInterrupt  # Ctrl-C while a worker trains
    assert processes and not any(p.is_alive() for p in processes)


def die(i):
    if i:
        os._exit(3)  # a worker killed mid-job (out of memory, a signal)
    return i


def test_a_worker_that_dies_is_one_clear_error():
    with pytest.raises(RuntimeError, match="spawned worker process died.*workers = 1"):
        run_jobs(die, [(0,), (1,)], workers=2)
