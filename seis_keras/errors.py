"""One error path for every command: a user error is one line on stderr and exit status 2.

    with one_line_errors("seis-keras", debug=args.debug) as status:
        do_the_work()
    return status.code

Errors caused by the input — a bad file, field, setting or path — are raised inside seis_keras
as ``ValueError`` (or ``FileNotFoundError`` / ``FileExistsError`` / ``PermissionError`` /
``OSError``) whose message names the file or field and what was expected. This context
manager turns them into ``<prog>: error: <message>`` (one line) and ``status.code = 2``; with
``debug=True`` the traceback is printed too. ``KeyboardInterrupt`` gives 130. Anything else is a
bug and propagates with its traceback.
"""
from __future__ import annotations

import contextlib
import dataclasses
import sys
import traceback
from typing import Iterator

#: Exception types that report a problem with the user's input, not a bug.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, MemoryError)


@dataclasses.dataclass
class ExitStatus:
    """The exit status the command should return (0 unless an error was reported)."""

    code: int = 0


def one_line(err: BaseException) -> str:
    """The message of an exception on one line (newlines folded, type named when the message is empty)."""
    text = " ".join(str(err).split())
    if isinstance(err, OSError) and err.filename is not None and str(err.filename) not in text:
        text = f"{err.filename}: {text}"
    return text or type(err).__name__


@contextlib.contextmanager
def one_line_errors(prog: str, *, debug: bool = False, stream=None) -> Iterator[ExitStatus]:
    """Report user errors raised inside the block as one line; set ``status.code`` (2, or 130)."""
    status = ExitStatus()
    stream = stream or sys.stderr
    try:
        yield status
    except USER_ERRORS as err:
        if debug:
            traceback.print_exc(file=stream)
        print(f"{prog}: error: {one_line(err)}", file=stream)
        status.code = 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=stream)
        status.code = 130
