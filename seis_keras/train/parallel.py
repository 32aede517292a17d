"""Independent trainings side by side: this process and ``workers - 1`` spawned ones.

A small Keras model (the detector: 27k weights, batches of 64) keeps about one core busy
however many threads TensorFlow has (the ops are too small to split), so on a 2-core machine
two runs trained at once take little longer than one. :func:`run_jobs` runs job ``i`` in this
process when ``i % workers == 0`` and the others in a pool of freshly *spawned* processes (not
forked: TensorFlow's runtime does not survive a fork). Each process keeps TensorFlow's default
thread settings, so a job gives bit-identical weights wherever it runs (the thread count, not
the sharing of the cores, is what changes float results: 1 vs 2 intra-op threads moved the
detector's weights by up to 0.16 after six epochs; tests/recipes/test_detector.py compares a
run trained in a worker with the same run trained here).

The job function must be importable (a module-level function) and its arguments and result
picklable; results come back in job order. An exception in a worker is raised here, the pool
is shut down and its queued jobs are cancelled. A script that runs jobs in workers needs the
usual ``if __name__ == "__main__":`` guard (spawned processes import the main module); a worker
that dies says so in one line.
"""
from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import os
from typing import Callable, Sequence

__all__ = ["WorkerPool", "available_cores", "resolve_workers", "run_jobs"]


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity; ``os.cpu_count()`` where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(workers: int, n_jobs: int) -> int:
    """``workers`` processes for ``n_jobs`` jobs: 0 = one per available core; never more than the jobs.

    Raises:
        ValueError: ``workers`` < 0.
    """
    if int(workers) < 0:
        raise ValueError(f"workers: expected 0 (one per core) or a number of processes >= 1, got {workers}")
    chosen = available_cores() if int(workers) == 0 else int(workers)
    return max(1, min(chosen, int(n_jobs)))


class WorkerPool:
    """Spawned processes started ahead of their jobs: ``with WorkerPool(1, warm=f) as pool: ... run_jobs(..., pool=pool)``.

    A spawned Python process spends seconds importing TensorFlow before its first job; started
    early (``warm``: a module-level function run once per process, whose import is the point),
    it imports while this process does other work. ``processes = 0`` is a pool of none (every
    job runs here). Closed on exit, queued jobs cancelled; on an exception (Ctrl-C included) the
    workers are terminated rather than waited for.
    """

    def __init__(self, processes: int, *, warm: Callable | None = None):
        self.processes = max(0, int(processes))
        self.executor = None
        if self.processes:
            self.executor = futures.ProcessPoolExecutor(max_workers=self.processes,
                                                        mp_context=multiprocessing.get_context("spawn"))
            for _ in range(self.processes if warm is not None else 0):
                self.executor.submit(warm)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if self.executor is None:
            return
        if exc_type is not None:  # an error or Ctrl-C here: stop the workers' runs instead of waiting for them
            # ProcessPoolExecutor has no public way to stop a running job; its processes are in ``_processes``
            for process in list(getattr(self.executor, "_processes", {}).values()):
                process.terminate()
        self.executor.shutdown(wait=True, cancel_futures=True)


def run_jobs(fn: Callable, jobs: Sequence[tuple], *, workers: int, on_result: Callable | None = None,
             pool: WorkerPool | None = None) -> list:
    """``[fn(*job) for job in jobs]``, with up to ``workers`` jobs at a time.

    Args:
        fn: a module-level function (spawned workers import it by name).
        jobs: argument tuples, picklable.
        workers: processes in all, this one included (see :func:`resolve_workers`; 1: all here).
        on_result: called as ``on_result(i, result)`` for each job when its result is here: this process's
            jobs as they finish, then the workers' in job order (e.g. to log a finished run).
        pool: a started :class:`WorkerPool` to use (then ``workers`` = its processes + 1); default: one
            started here for these jobs.

    Returns:
        the results in job order.
    """
    jobs = list(jobs)
    if pool is None:
        with WorkerPool(resolve_workers(workers, len(jobs)) - 1) as own:
            return run_jobs(fn, jobs, workers=0, on_result=on_result, pool=own)
    workers = min(pool.processes + 1, max(len(jobs), 1))
    results: list = [None] * len(jobs)
    pending = {i: pool.executor.submit(fn, *job) for i, job in enumerate(jobs) if i % workers}
    try:
        for i in range(0, len(jobs), workers):  # this process's share, while the pool runs the rest
            results[i] = fn(*jobs[i])
            if on_result is not None:
                on_result(i, results[i])
        for i, job in pending.items():
            results[i] = job.result()
            if on_result is not None:
                on_result(i, results[i])
    except BaseException as exc:
        for job in pending.values():
            job.cancel()
        if isinstance(exc, futures.process.BrokenProcessPool):
            raise RuntimeError("a spawned worker process died before returning its job (killed, out of memory, or a "
                               "script without `if __name__ == \"__main__\":` around its top level: spawned processes "
                               "import the main module); run the jobs in this process with workers = 1") from exc
        raise
    return results
