"""The caller's side of the LRP worker: start, talk to and stop ``python -m seis_keras.explain.lrp_worker``.

The worker is a plain subprocess (``subprocess.Popen``, no ``multiprocessing``) running
the same interpreter, with this seis_keras first on ``PYTHONPATH`` and a private
temporary working directory, so it never imports the caller's ``__main__`` script or a
module shadowing ours from the caller's folder. Requests and replies are length-prefixed
pickles over its stdin/stdout (:mod:`seis_keras.explain.lrp_worker`). Every wait has a
deadline and watches the process: a worker that dies or stops answering gives a
one-line ``RuntimeError`` (with its last stderr line), never a hang. The worker's stderr
is read by a thread: TensorFlow's start-up noise (:data:`NOISE`) is dropped, anything
else is passed on to this process's stderr, and the last lines are kept for error
messages. It runs in its own session (Ctrl-C reaches only the caller, which stops it);
if the caller dies the worker sees its stdin close and exits.
"""
from __future__ import annotations

import collections
import os
import pickle
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path

from seis_keras.explain.lrp_worker import _HEADER, WORKER_ENV, send_message  # stdlib-only module

__all__ = ["WorkerProcess", "NOISE", "is_noise"]

#: TensorFlow start-up lines that say nothing about the analysis (the worker sets
#: TF_CPP_MIN_LOG_LEVEL=3 so they should not appear; this catches what slips through)
NOISE = re.compile(
    r"Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning|oneDNN custom operations are on"
    r"|This TensorFlow binary is optimized|To enable the following instructions"
    r"|Could not find cuda drivers|All log messages before absl::InitializeLog|cudart_stub\.cc"
    r"|computation placer already registered")


def is_noise(line: str) -> bool:
    """True for a line of TensorFlow start-up noise (see :data:`NOISE`)."""
    return bool(NOISE.search(line))


def _package_root() -> str:
    import seis_keras

    return str(Path(seis_keras.__file__).resolve().parent.parent)


def _stop(proc, stdin, stdout, workdir) -> None:
    """Ask the worker to stop, then terminate / kill it; close the pipes, remove its folder."""
    if proc.poll() is None:
        try:
            os.set_blocking(stdin.fileno(), True)
            send_message(stdin.fileno(), ("close",))
        except (OSError, ValueError):
            pass
        for stop in (None, proc.terminate, proc.kill):
            if stop is not None:
                stop()
            try:
                proc.wait(5.0)
                break
            except subprocess.TimeoutExpired:
                continue
    for pipe in (stdin, stdout):
        try:
            pipe.close()
        except OSError:
            pass
    shutil.rmtree(workdir, ignore_errors=True)


class WorkerProcess:
    """One running worker process and its pipes (started at construction)."""

    def __init__(self):
        env = dict(os.environ)
        env.update(WORKER_ENV)
        root = _package_root()
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        self.stderr_raw: collections.deque = collections.deque(maxlen=200)
        self._last_error = ""
        workdir = tempfile.mkdtemp(prefix="seis_keras-lrp-worker-")  # empty: nothing there to import
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "seis_keras.explain.lrp_worker"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=workdir,
                start_new_session=True, close_fds=True)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        self.pid = self.proc.pid
        os.set_blocking(self.proc.stdin.fileno(), False)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._buffer = bytearray()
        self._reader = threading.Thread(target=self._read_stderr, name=f"lrp-worker-{self.pid}-stderr", daemon=True)
        self._reader.start()
        self._finalizer = weakref.finalize(self, _stop, self.proc, self.proc.stdin, self.proc.stdout, workdir)

    def _read_stderr(self) -> None:
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.stderr_raw.append(line)
            if is_noise(line):
                continue
            if line.strip():
                self._last_error = line.strip()
            try:
                print(f"[LRP worker] {line}", file=sys.stderr, flush=True)
            except (OSError, ValueError):
                pass
        self.proc.stderr.close()

    # ------------------------------------------------------------ talking
    def start(self, options: dict, timeout: float) -> dict:
        """Send ``load`` and wait for ``ready``; returns the worker's info dict."""
        t0 = time.monotonic()
        kind, payload = self._exchange(("load", options), timeout, "starting and loading the model")
        if kind == "error":
            self.stop()
            raise RuntimeError(f"LRP worker: {payload}")
        payload["start_s"] = time.monotonic() - t0
        return payload

    def request(self, message, timeout: float, what: str):
        """Send one request; returns the reply's payload (a tuple for ``result``)."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"LRP worker is not running (exit code {self.proc.returncode}) while {what}")
        reply = self._exchange(message, timeout, what)
        if reply[0] == "error":
            raise RuntimeError(f"LRP worker: {reply[1]}")
        if reply[0] == "result":
            return reply[1] if len(reply) == 2 else reply[1:]
        return reply[1]

    def _exchange(self, message, timeout: float, what: str):
        self._timeout = timeout
        deadline = time.monotonic() + timeout
        data = pickle.dumps(message, protocol=5)
        self._write(memoryview(_HEADER.pack(len(data)) + data), deadline, what)
        (size,) = _HEADER.unpack(self._read(_HEADER.size, deadline, what))
        return pickle.loads(self._read(size, deadline, what))

    def _fail(self, what: str, deadline: float):
        """Raise the right one-line error once the worker is gone or too slow."""
        if self.proc.poll() is None and time.monotonic() <= deadline:
            try:  # pipe closed by a worker on its way out: let it finish exiting
                self.proc.wait(5.0)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.kill()
            raise RuntimeError(f"LRP worker gave no answer within {self._timeout:g} s while {what} (stopped it)")
        self._reader.join(2.0)  # let the last stderr lines arrive
        hint = f": {self._last_error}" if self._last_error else ""
        raise RuntimeError(f"LRP worker died while {what} (exit code {self.proc.returncode}){hint}")

    def _write(self, view: memoryview, deadline: float, what: str) -> None:
        fd = self.proc.stdin.fileno()
        while view:
            if self.proc.poll() is not None:
                self._fail(what, deadline)
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(what, deadline)
            _, ready, _ = select.select([], [fd], [], min(left, 0.2))
            if ready:
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    continue
                except (BrokenPipeError, OSError):
                    self._fail(what, deadline)

    def _read(self, n: int, deadline: float, what: str) -> bytes:
        fd = self.proc.stdout.fileno()
        while len(self._buffer) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(what, deadline)
            ready, _, _ = select.select([fd], [], [], min(left, 0.2))
            if not ready:
                if self.proc.poll() is not None:
                    self._fail(what, deadline)
                continue
            try:
                chunk = os.read(fd, max(n - len(self._buffer), 1 << 16))
            except BlockingIOError:
                continue
            if not chunk:
                self._fail(what, deadline)
            self._buffer += chunk
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out

    # ------------------------------------------------------------ stopping
    def kill(self) -> None:
        """Kill the worker at once (after a timeout)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5.0)

    def stop(self) -> None:
        """Stop the worker politely (then terminate / kill) and close the pipes (idempotent)."""
        self._finalizer()
