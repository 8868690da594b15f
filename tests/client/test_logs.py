"""Reading and following rotated task logs, as /v1/client/fs/logs does."""

from __future__ import annotations

import asyncio
import threading

import pytest

from nomadjail.client.logs import LogFollower, afollow_logs, follow_logs, read_logs
from nomadjail.drivers.logrotate import FileRotator
from nomadjail.structs import BadRequest, NotFound
from nomadjail.testing import wait_for


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


def test_follow_logs_iterates_until_stopped(tmp_path):
    directory = tmp_path / "alloc" / "logs"
    rotator = FileRotator(str(directory), "web.stdout", max_files=10, max_file_size=8)
    rotator.write(b"first\n")
    stop = threading.Event()
    received: list[bytes] = []

    def reader() -> None:
        for chunk in follow_logs(str(tmp_path), "web", "stdout", stop=stop,
                                 poll_interval=0.01):
            received.append(chunk.data)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        wait_for(lambda: b"".join(received) == b"first\n", message="first line")
        rotator.write(b"second\nthird\n")
        wait_for(lambda: b"".join(received) == b"first\nsecond\nthird\n",
                 message="lines across rotation")
    finally:
        stop.set()
        thread.join(timeout=5)
        rotator.close()
    assert not thread.is_alive()


def test_async_follow(tmp_path):
    directory = tmp_path / "alloc" / "logs"
    rotator = FileRotator(str(directory), "web.stdout", max_files=10, max_file_size=4)

    async def scenario() -> bytes:
        rotator.write(b"ab\n")
        stream = afollow_logs(str(tmp_path), "web", "stdout", origin="end", offset=1,
                              poll_interval=0.01)
        got = [(await stream.__anext__()).data]
        rotator.write(b"cd\n")
        got.append((await stream.__anext__()).data)
        await stream.aclose()
        return b"".join(got)

    assert asyncio.run(scenario()) == b"\ncd\n"
    rotator.close()
