"""Reading and following rotated task logs, as /v1/client/fs/logs does."""

from __future__ import annotations

import pytest

from nomadjail.client.logs import LogFollower, read_logs
from nomadjail.drivers.logrotate import FileRotator
from nomadjail.structs import BadRequest, NotFound


@pytest.fixture
def logs(tmp_path):
    directory = tmp_path / "alloc" / "logs"
    directory.mkdir(parents=True)
    (directory / "web.stdout.0").write_bytes(b"aaaa")
    (directory / "web.stdout.1").write_bytes(b"bbbb")
    (directory / "web.stdout.2").write_bytes(b"cc")
    (directory / "web.stderr.0").write_bytes(b"err")
    return tmp_path


def test_reads_everything_from_the_start(logs):
    chunk = read_logs(str(logs), "web", "stdout")
    assert chunk.data == b"aaaabbbbcc"
    assert (chunk.file, chunk.offset) == ("alloc/logs/web.stdout.2", 2)


def test_offset_from_start_crosses_files(logs):
    assert read_logs(str(logs), "web", "stdout", offset=6).data == b"bbcc"


def test_origin_end_walks_back_into_older_files(logs):
    assert read_logs(str(logs), "web", "stdout", origin="end", offset=3).data == b"bcc"
    assert read_logs(str(logs), "web", "stdout", origin="end", offset=100).data == b"aaaabbbbcc"
    assert read_logs(str(logs), "web", "stdout", origin="end").data == b""


def test_limit(logs):
    chunk = read_logs(str(logs), "web", "stdout", offset=2, limit=4)
    assert (chunk.data, chunk.file, chunk.offset) == (b"aabb", "alloc/logs/web.stdout.1", 2)


def test_errors_name_the_problem(logs):
    with pytest.raises(NotFound, match='task "db" and log type "stdout" not found'):
        read_logs(str(logs), "db", "stdout")
    with pytest.raises(BadRequest, match="stdout"):
        read_logs(str(logs), "web", "stdlog")
    with pytest.raises(BadRequest, match="origin"):
        read_logs(str(logs), "web", "stdout", origin="middle")


def test_follower_sees_growth_and_rotation(tmp_path):
    directory = tmp_path / "alloc" / "logs"
    rotator = FileRotator(str(directory), "web.stdout", max_files=10, max_file_size=6)
    rotator.write(b"one\n")
    follower = LogFollower(str(tmp_path), "web", "stdout")
    assert b"".join(c.data for c in follower.poll()) == b"one\n"
    assert follower.poll() == []
    rotator.write(b"two\nthree\nfour\n")  # spreads over three files
    chunks = follower.poll()
    assert b"".join(c.data for c in chunks) == b"two\nthree\nfour\n"
    assert chunks[-1].file == "alloc/logs/web.stdout.3"
    rotator.close()


def test_follower_restarts_a_truncated_file(tmp_path):
    directory = tmp_path / "alloc" / "logs"
    directory.mkdir(parents=True)
    path = directory / "web.stderr.0"
    path.write_bytes(b"long line\n")
    follower = LogFollower(str(tmp_path), "web", "stderr")
    follower.poll()
    path.write_bytes(b"new\n")
    assert [c.data for c in follower.poll()] == [b"new\n"]


def test_follower_continues_across_rotation(tmp_path):
    directory = tmp_path / "alloc" / "logs"
    rotator = FileRotator(str(directory), "web.stdout", max_files=10, max_file_size=8)
    try:
        rotator.write(b"first\n")
        follower = LogFollower(str(tmp_path), "web", "stdout")
        assert b"".join(c.data for c in follower.poll()) == b"first\n"
        rotator.write(b"second\nthird\n")
        chunks = follower.poll()
        assert b"".join(c.data for c in chunks) == b"second\nthird\n"
        assert chunks[-1].file == "alloc/logs/web.stdout.2"
        assert follower.poll() == []
    finally:
        rotator.close()


def test_bounded_poll_continues_where_it_stopped(tmp_path):
    directory = tmp_path / "alloc" / "logs"
    rotator = FileRotator(str(directory), "web.stdout", max_files=10, max_file_size=1024)
    try:
        rotator.write(b"0123456789")
        follower = LogFollower(str(tmp_path), "web", "stdout")
        assert [c.data for c in follower.poll(max_bytes=4)] == [b"0123"]
        assert [c.data for c in follower.poll(max_bytes=4)] == [b"4567"]
        assert [c.data for c in follower.poll()] == [b"89"]
    finally:
        rotator.close()
