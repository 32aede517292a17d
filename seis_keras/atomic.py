"""Atomic output: every file seis_keras writes appears whole or not at all.

Write to a temporary name in the destination's folder, then ``os.replace`` it onto the
final name (atomic on POSIX within one file system). A crash leaves at most a stray
``.tmp-*`` file, never a half-written output under the real name.

Directories (``atomic_path(path, is_dir=True)``) never delete what we did not write: an
existing target is an error (:class:`FileExistsError`) unless the caller passes ``replace``,
a test that recognises the folder as one of its own outputs (a store, a SavedModel) which
the user asked to replace. Nothing outside the temporary name is touched until everything is
written; only then is the old folder moved aside, the new one renamed into place and the old
one removed (moved back if the rename fails). The current folder, or a folder holding it, is
never a target.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

__all__ = ["atomic_path", "check_new_dir", "write_text", "write_json"]


def _holds_cwd(path: Path) -> bool:
    """Whether ``path`` is the current folder or one of its parents (or the file system root)."""
    try:
        target, cwd = path.resolve(), Path.cwd().resolve()
    except OSError:
        return False
    return target == cwd or target in cwd.parents or target == Path(target.anchor)


def check_new_dir(path: str | os.PathLike, *, replace: Callable[[Path], bool] | None = None,
                  what: str = "output folder", hint: str = "") -> Path:
    """Check that a folder may be written at ``path``; raise before any work otherwise.

    Args:
        path: the folder to create.
        replace: ``None`` (an existing ``path`` is an error) or a test ``replace(path) ->
            bool`` that is True when ``path`` is one of our own outputs that may be replaced.
        what: names the folder in the messages (``"store"``).
        hint: appended to the "already exists" message (``"pass --overwrite to replace it"``).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``path`` is the current folder (``.``), a folder holding it, or the root.
        FileExistsError: ``path`` exists and may not be replaced.
    """
    path = Path(path)
    if _holds_cwd(path):
        raise ValueError(f"{path}: refusing to write a {what} onto the current folder or a folder holding it "
                         "(expected a new folder name, e.g. ./my_store)")
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise FileExistsError(f"{path}: exists and is not a folder (expected a new {what} name; "
                              "nothing was written)")
    if path.exists():
        if replace is None:
            raise FileExistsError(f"{path}: already exists (expected a new {what} name{'; ' + hint if hint else ''})")
        if not replace(path):
            held = sorted(p.name for p in path.iterdir())[:5]
            raise FileExistsError(f"{path}: exists and is not a {what} written by seis_keras (holds {held}); "
                                  "refusing to replace it")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, is_dir: bool = False,
                replace: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Args:
        path: the final file or directory name.
        is_dir: yield a fresh temporary directory instead of a file name.
        replace: with ``is_dir``: ``None`` (default: an existing ``path`` is an error) or a test
            ``replace(path) -> bool`` recognising one of our own outputs, which is then replaced
            whole (see :func:`check_new_dir`; checked before and again at the rename). Files
            (``is_dir=False``) are replaced as before: they are our own single outputs.

    Yields:
        The temporary path to write to. On an exception it is removed and ``path`` is
        left untouched.
    """
    path = Path(path)
    if is_dir:
        check_new_dir(path, replace=replace)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".tmp-{path.name}-"
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    else:
        if path.is_dir():
            raise IsADirectoryError(f"{path}: is a folder (expected a file name)")
        fd, name = tempfile.mkstemp(prefix=prefix, dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
    try:
        yield tmp
        if is_dir:
            _publish_dir(tmp, path, replace)
        else:
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise


def _publish_dir(tmp: Path, path: Path, replace) -> None:
    """Rename the finished ``tmp`` onto ``path``; an existing one (checked again) is swapped out."""
    if not (path.exists() or path.is_symlink()):
        os.rename(tmp, path)  # fails (no silent merge) if someone created ``path`` meanwhile
        return
    check_new_dir(path, replace=replace)
    old = Path(tempfile.mkdtemp(prefix=f".old-{path.name}-", dir=path.parent))
    os.replace(path, old / "x")
    try:
        os.rename(tmp, path)
    except BaseException:
        os.replace(old / "x", path)  # put the old folder back as it was
        old.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json(path: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented JSON atomically (numpy scalars and arrays converted)."""
    return write_text(path, json.dumps(obj, indent=2, default=_to_builtin) + "\n")


def _to_builtin(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")
