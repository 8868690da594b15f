"""FileRotator: Nomad's file naming, size limit, line-aware cuts, purge and resume."""

from __future__ import annotations

import errno
from itertools import pairwise
from pathlib import Path

import pytest

from nomadjail.drivers.logrotate import FileRotator, log_indexes


def contents(directory, base: str) -> list[bytes]:
    return [Path(directory, f"{base}.{i}").read_bytes()
            for i in log_indexes(str(directory), base)]


def test_writes_to_index_zero_first(tmp_path):
    rotator = FileRotator(str(tmp_path), "web.stdout", max_files=3, max_file_size=100)
    rotator.write(b"hello\n")
    rotator.close()
    assert contents(tmp_path, "web.stdout") == [b"hello\n"]


def test_rotates_at_line_boundaries(tmp_path):
    rotator = FileRotator(str(tmp_path), "web.stdout", max_files=10, max_file_size=10)
    rotator.write(b"aaaa\nbbbb\ncccc\n")
    rotator.close()
    assert contents(tmp_path, "web.stdout") == [b"aaaa\nbbbb\n", b"cccc\n"]


def test_a_line_that_fits_a_fresh_file_is_not_split(tmp_path):
    rotator = FileRotator(str(tmp_path), "t.stdout", max_files=10, max_file_size=10)
    rotator.write(b"aaaaaa\n")
    rotator.write(b"bbbbbbb\n")
    rotator.close()
    assert contents(tmp_path, "t.stdout") == [b"aaaaaa\n", b"bbbbbbb\n"]


def test_a_line_longer_than_a_file_is_split(tmp_path):
    rotator = FileRotator(str(tmp_path), "t.stdout", max_files=10, max_file_size=4)
    rotator.write(b"0123456789")
    rotator.close()
    assert contents(tmp_path, "t.stdout") == [b"0123", b"4567", b"89"]


def test_keeps_only_max_files(tmp_path):
    rotator = FileRotator(str(tmp_path), "t.stderr", max_files=2, max_file_size=2)
    for chunk in (b"a\n", b"b\n", b"c\n", b"d\n"):
        rotator.write(chunk)
    rotator.close()
    assert log_indexes(str(tmp_path), "t.stderr") == [2, 3]
    assert contents(tmp_path, "t.stderr") == [b"c\n", b"d\n"]


def test_resumes_at_the_highest_index(tmp_path):
    (tmp_path / "t.stdout.0").write_bytes(b"old\n")
    (tmp_path / "t.stdout.1").write_bytes(b"aa\n")
    rotator = FileRotator(str(tmp_path), "t.stdout", max_files=5, max_file_size=8)
    rotator.write(b"bb\n")
    rotator.close()
    assert contents(tmp_path, "t.stdout") == [b"old\n", b"aa\nbb\n"]


def test_other_streams_are_left_alone(tmp_path):
    (tmp_path / "web.stdout.7").write_text("other stream")
    rotator = FileRotator(str(tmp_path), "web.stderr", max_files=1, max_file_size=2)
    rotator.write(b"x\ny\n")
    rotator.close()
    assert (tmp_path / "web.stdout.7").read_text() == "other stream"


def test_rejects_nonsense_limits(tmp_path):
    with pytest.raises(ValueError, match="max_files"):
        FileRotator(str(tmp_path), "t", max_files=0, max_file_size=10)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_disk_drops_and_counts_output_then_retries_with_backoff(tmp_path):
    clock = Clock()
    (tmp_path / "t.stdout.0").symlink_to("/dev/full")  # writes fail with ENOSPC
    rotator = FileRotator(str(tmp_path), "t.stdout", max_files=3, max_file_size=100,
                          clock=clock)
    rotator.write(b"lost 1\n")  # raises nothing
    assert rotator.dropped_bytes == 7
    assert rotator.last_error is not None and rotator.last_error.errno == errno.ENOSPC
    (tmp_path / "t.stdout.0").unlink()  # space again, but the retry is not due yet
    rotator.write(b"lost 2\n")
    assert rotator.dropped_bytes == 14 and not (tmp_path / "t.stdout.0").exists()
    clock.now += 0.1
    rotator.write(b"kept\n")
    rotator.close()
    assert contents(tmp_path, "t.stdout") == [b"kept\n"]
    assert rotator.dropped_bytes == 14


def test_the_retry_delay_doubles_while_the_file_stays_unusable(tmp_path):
    clock = Clock()
    (tmp_path / "t.stdout.0").mkdir()  # cannot be opened as a file
    rotator = FileRotator(str(tmp_path), "t.stdout", max_files=3, max_file_size=100,
                          clock=clock)
    opened_at = []
    for _ in range(700):
        clock.now += 0.01
        before = rotator.last_error
        rotator.write(b"x\n")
        if rotator.last_error is not before:  # it tried (and failed) to open the file again
            opened_at.append(clock.now)
    gaps = [b - a for a, b in pairwise(opened_at)]
    assert gaps[:4] == pytest.approx([0.2, 0.4, 0.8, 1.6], abs=0.02)
    assert rotator.dropped_bytes == 1400
    rotator.close()


def test_a_directory_that_cannot_be_created_is_not_fatal(tmp_path):
    (tmp_path / "file").write_text("in the way")
    rotator = FileRotator(str(tmp_path / "file" / "logs"), "t.stdout", max_files=1,
                          max_file_size=10)
    rotator.write(b"x\n")
    assert rotator.dropped_bytes == 2
    rotator.close()
