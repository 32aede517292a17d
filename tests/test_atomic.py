"""Atomic writes: whole file or nothing."""
import json

import numpy as np
import pytest

from seis_keras.atomic import atomic_path, write_json, write_text


def test_file_appears_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # no stray temp file


def test_directory_replaced_whole_only_when_recognised(tmp_path):
    target = tmp_path / "store"
    with atomic_path(target, is_dir=True) as tmp:
        (tmp / "a").write_text("1")
    # an existing folder is an error without a replace test: nothing is touched
    with pytest.raises(FileExistsError, match="already exists"):
        with atomic_path(target, is_dir=True) as tmp:
            (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    # a replace test that does not recognise it: still refused, before any work
    with pytest.raises(FileExistsError, match="not a output folder written by seis_keras|not a"):
        with atomic_path(target, is_dir=True, replace=lambda p: (p / "marker").exists()):
            raise AssertionError("the block must not run")
    ours = lambda p: (p / "a").exists() or (p / "b").exists()  # noqa: E731
    with atomic_path(target, is_dir=True, replace=ours) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    with pytest.raises(ValueError):
        with atomic_path(target, is_dir=True, replace=ours) as tmp:
            (tmp / "c").write_text("3")
            raise ValueError
    assert sorted(p.name for p in target.iterdir()) == ["b"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_directory_target_never_the_current_folder_or_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("user data")
    for target in (".", tmp_path, tmp_path.parent):
        with pytest.raises(ValueError, match="current folder"):
            with atomic_path(target, is_dir=True, replace=lambda p: True):
                pass
    with pytest.raises(FileExistsError, match="not a folder"):
        with atomic_path(tmp_path / "keep.txt", is_dir=True, replace=lambda p: True):
            pass
    assert (tmp_path / "keep.txt").read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_write_json_converts_numpy(tmp_path):
    p = write_json(tmp_path / "m.json", {"acc": np.float32(0.5), "cm": np.eye(2, dtype=int)})
    assert json.loads(p.read_text()) == {"acc": 0.5, "cm": [[1, 0], [0, 1]]}
    with pytest.raises(TypeError):
        write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()
    assert write_text(tmp_path / "t.md", "hi").read_text() == "hi"


def test_written_files_get_the_usual_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        p = write_text(tmp_path / "r.md", "x")
    finally:
        os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o644
