"""write_atomically: a reader sees the old file or the new one, never a part or a stray."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from nomadjail.helper import atomic_file
from nomadjail.helper.atomic_file import write_atomically, write_json_atomically


def test_replaces_the_content_and_leaves_no_scratch_file(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    write_atomically(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_bytes_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    write_atomically(str(target), b"\x00key", mode=0o600)
    assert target.read_bytes() == b"\x00key"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_failed_rename_keeps_the_old_content_and_removes_the_scratch_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")

    def no_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "replace", no_rename)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_missing_directory_raises_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomically(tmp_path / "absent" / "file", "x")
    assert list(tmp_path.iterdir()) == []


def test_file_and_directory_are_fsynced_unless_asked_not_to(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(atomic_file.os, "fsync", recording_fsync)
    write_atomically(tmp_path / "a", "1")
    assert synced == ["file", "dir"]
    synced.clear()
    write_atomically(tmp_path / "b", "1", fsync=False)
    assert synced == []


def test_json_forms(tmp_path: Path) -> None:
    write_json_atomically(tmp_path / "compact", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "compact").read_text() == '{"b":1,"a":[1,2]}'
    write_json_atomically(tmp_path / "readable", {"b": 1, "a": 2}, indent=2)
    text = (tmp_path / "readable").read_text()
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": 2, "b": 1}
