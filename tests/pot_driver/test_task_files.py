"""The pot driver's own files in the task directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from nomadjail.drivers.base import DriverError
from nomadjail.pot_driver import task_files


def test_one_set_of_files_per_start_attempt() -> None:
    task_id = "alloc/web/1a2b3c4d"
    assert task_files.env_path("/a/web", task_id) == "/a/web/.pot/1a2b3c4d.env.json"
    assert task_files.resolv_conf_path("/a/web", task_id) == "/a/web/.pot/1a2b3c4d.resolv.conf"


def test_the_environment_is_kept_private_and_read_back(tmp_path: Path) -> None:
    path = str(tmp_path / ".pot" / "x.env.json")
    task_files.write_env(path, {"TOKEN": "s3cret", "A": "1"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert task_files.read_env(path) == {"TOKEN": "s3cret", "A": "1"}
    Path(path).write_text('["not", "a", "mapping"]')
    assert task_files.read_env(path) == {}
    Path(path).write_text("{broken")
    assert task_files.read_env(path) == {}
    task_files.forget_file(path)
    task_files.forget_file(path)  # gone already
    task_files.forget_file("")
    assert task_files.read_env(path) == {}


def test_a_file_that_cannot_be_written_is_a_recoverable_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    with pytest.raises(DriverError, match="cannot write") as err:
        task_files.write_file(str(tmp_path / "blocker" / "x.env.json"), "{}", 0o600)
    assert err.value.recoverable
