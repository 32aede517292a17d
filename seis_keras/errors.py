"""One error path for every command: a user error is one line on stderr and exit status 2.

    with one_line_errors("seis-keras", debug=args.debug) as status:
        do_the_work()
    return status.code

Errors caused by the input — a bad file, field, setting or path — are raised inside seis_keras
as ``ValueError`` (or ``FileNotFoundError`` / ``FileExistsError`` / ``PermissionError`` /
``OSError``, or a :class:`UserError`) whose message names the file or field and what was
expected. This context manager turns them into ``<prog>: error: <message>`` (one line) and
``status.code = 2``. Errors that arrive wrapped are unwrapped to the original message:

* TensorFlow ``InvalidArgumentError`` / ``UnknownError`` raised by a ``tf.numpy_function``
  while tf.data reads (a NaN sample, a short trace: our reader's ``ValueError`` with 45 lines
  of TensorFlow stack around it) — :func:`unwrap_tensorflow`;
* obspy's FDSN exceptions (service down, bad request, no data) — the service's message.

``KeyboardInterrupt`` gives 130. Anything else is a bug in seis_keras: it is reported as one
line too (``<prog>: internal error: <Type>: <message> (run with --debug ...)``), exit status 1.
With ``debug=True`` the traceback is printed first, in every case.
"""
from __future__ import annotations

import contextlib
import dataclasses
import re
import sys
import traceback
from typing import Iterator


class UserError(Exception):
    """A problem with the user's input or environment that is not a ``ValueError``/``OSError``."""


#: Exception types that report a problem with the user's input, not a bug.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, MemoryError, UserError)
#: Their names, as they appear inside a TensorFlow error that wraps them.
_WRAPPED_NAMES = ("ValueError", "FileNotFoundError", "FileExistsError", "PermissionError", "OSError",
                  "IsADirectoryError", "NotADirectoryError", "MemoryError", "UserError", "DatasetUnavailable")
_WRAPPED = re.compile(r"^\s*(?:\(\d+\)\s+\w+:\s*)?(?:\{\{[^}]*\}\}\s*)?(?:[\w.]+\.)?(" + "|".join(_WRAPPED_NAMES)
                      + r"): (.+?)\s*$", re.MULTILINE)


@dataclasses.dataclass
class ExitStatus:
    """The exit status the command should return (0 unless an error was reported)."""

    code: int = 0


def unwrap_tensorflow(err: BaseException) -> str | None:
    """The message of a user error that TensorFlow wrapped (``tf.numpy_function`` in tf.data), else None."""
    mod = type(err).__module__
    if not mod.startswith("tensorflow") or type(err).__name__ not in ("InvalidArgumentError", "UnknownError",
                                                                      "InternalError", "AbortedError"):
        return None
    match = _WRAPPED.search(getattr(err, "message", None) or str(err))
    return match.group(2) if match else None


def _is_fdsn(err: BaseException) -> bool:
    return type(err).__module__.startswith("obspy.clients.fdsn")


def one_line(err: BaseException) -> str:
    """The message of an exception on one line (newlines folded, type named when the message is empty)."""
    inner = unwrap_tensorflow(err)
    if inner is not None:
        return " ".join(inner.split())
    text = " ".join(str(err).split())
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
        text = f"{err.filename}: {text}"
    if _is_fdsn(err):
        text = f"FDSN service: {type(err).__name__}: {text[:300]}"
    return text or type(err).__name__


def is_user_error(err: BaseException) -> bool:
    """Whether ``err`` reports bad input (directly, wrapped by TensorFlow, or from an FDSN service)."""
    return isinstance(err, USER_ERRORS) or unwrap_tensorflow(err) is not None or _is_fdsn(err)


@contextlib.contextmanager
def one_line_errors(prog: str, *, debug: bool = False, stream=None) -> Iterator[ExitStatus]:
    """Report errors raised inside the block as one line; set ``status.code`` (2 user error, 1 bug, 130)."""
    status = ExitStatus()
    stream = stream or sys.stderr
    try:
        yield status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=stream)
        status.code = 130
    except Exception as err:  # noqa: BLE001  (every error ends as one line; --debug shows the traceback)
        if debug:
            traceback.print_exc(file=stream)
        if is_user_error(err):
            print(f"{prog}: error: {one_line(err)}", file=stream)
            status.code = 2
        else:
            print(f"{prog}: internal error: {type(err).__name__}: {one_line(err)[:500]} "
                  "(a bug in seis_keras: run with --debug for the traceback and report it)", file=stream)
            status.code = 1
