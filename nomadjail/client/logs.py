"""Reading a task's rotated log files, once or following them as they grow.

Used by the HTTP layer for ``/v1/client/fs/logs/:alloc_id``.  The files are
``<alloc_dir>/alloc/logs/<task>.<stdout|stderr>.<N>``; together, in index order,
they are one stream.  Positions follow Nomad's ``logs`` endpoint:

* ``origin="start"``: ``offset`` bytes from the beginning of the oldest file
  still on disk;
* ``origin="end"``: ``offset`` bytes before the end of the newest file, walking
  back into older files when one is too short.

A :class:`LogChunk` names the file its data came from (relative to the alloc
dir, as Nomad's frames do: ``alloc/logs/web.stdout.0``) and the offset in that
file just past the data (Nomad's ``StreamFrame.Offset``).

Following survives rotation: when a newer index appears, the rest of the
current file is read first, then reading moves to the next file from its
start.  A file that shrank (truncated) is read again from the start.
:class:`LogFollower` does one non-blocking, optionally bounded step; the HTTP
layer's follow loop calls it between sends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..structs import BadRequest, NotFound
from .allocdir import LOG_DIR_NAME, SHARED_ALLOC_NAME

LOG_KINDS = ("stdout", "stderr")
ORIGINS = ("start", "end")
FRAME_SIZE = 64 * 1024  # the most data one chunk carries (Nomad's streamFrameSize)
POLL_INTERVAL = 0.25


@dataclass(frozen=True, slots=True)
class LogChunk:
    data: bytes
    file: str  # "alloc/logs/<task>.<kind>.<N>"
    offset: int  # offset in ``file`` just past ``data``


def _check(kind: str, origin: str) -> None:
    if kind not in LOG_KINDS:
        raise BadRequest(f'log type must be "stdout" or "stderr", got {kind!r}')
    if origin not in ORIGINS:
        raise BadRequest(f'origin must be "start" or "end", got {origin!r}')


def _log_dir(alloc_dir: str) -> str:
    return os.path.join(alloc_dir, SHARED_ALLOC_NAME, LOG_DIR_NAME)


def _relative(task: str, kind: str, index: int) -> str:
    return f"{SHARED_ALLOC_NAME}/{LOG_DIR_NAME}/{task}.{kind}.{index}"


def log_files(alloc_dir: str, task: str, kind: str) -> list[tuple[int, int]]:
    """``[(index, size)]`` of the task's log files, oldest first."""
    directory = _log_dir(alloc_dir)
    prefix = f"{task}.{kind}."
    found = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix) or not name[len(prefix):].isdigit():
            continue
        try:
            found.append((int(name[len(prefix):]), entry.stat().st_size))
        except FileNotFoundError:
            continue
    return sorted(found)


def _start_position(files: list[tuple[int, int]], origin: str, offset: int
                    ) -> tuple[int, int]:
    """``(list position, byte offset)`` where reading starts (Nomad's findClosest)."""
    if origin == "start":
        pos, remaining = 0, max(offset, 0)
        while remaining > files[pos][1] and pos < len(files) - 1:
            remaining -= files[pos][1]
            pos += 1
        return pos, min(remaining, files[pos][1])
    pos, back = len(files) - 1, max(offset, 0)
    while True:
        size = files[pos][1]
        if back <= size:
            return pos, size - back
        if pos == 0:
            return 0, 0
        back -= size
        pos -= 1


def _read_range(path: str, offset: int, limit: int | None) -> bytes:
    try:
        with open(path, "rb") as src:
            src.seek(offset)
            return src.read() if limit is None else src.read(limit)
    except FileNotFoundError:
        return b""


def read_logs(alloc_dir: str, task: str, kind: str, *, origin: str = "start", offset: int = 0,
              limit: int | None = None) -> LogChunk:
    """Everything from the position to the end of the newest file (at most ``limit``
    bytes), as one chunk naming the last file read."""
    _check(kind, origin)
    files = log_files(alloc_dir, task, kind)
    if not files:
        raise NotFound(f'log entry for task "{task}" and log type "{kind}" not found')
    pos, start = _start_position(files, origin, offset)
    parts = []
    remaining = limit
    index, end = files[pos][0], start
    for index, _ in files[pos:]:
        data = _read_range(os.path.join(_log_dir(alloc_dir), f"{task}.{kind}.{index}"), start,
                           remaining)
        parts.append(data)
        end = start + len(data)
        start = 0
        if remaining is not None:
            remaining -= len(data)
            if remaining <= 0:
                break
    return LogChunk(data=b"".join(parts), file=_relative(task, kind, index), offset=end)


class LogFollower:
    """Reads new output of one task stream each time :meth:`poll` is called."""

    def __init__(self, alloc_dir: str, task: str, kind: str, *, origin: str = "start",
                 offset: int = 0) -> None:
        _check(kind, origin)
        self.alloc_dir = alloc_dir
        self.task = task
        self.kind = kind
        files = log_files(alloc_dir, task, kind)
        if not files:
            raise NotFound(f'log entry for task "{task}" and log type "{kind}" not found')
        pos, self.offset = _start_position(files, origin, offset)
        self.index = files[pos][0]

    def _path(self, index: int) -> str:
        return os.path.join(_log_dir(self.alloc_dir), f"{self.task}.{self.kind}.{index}")

    def poll(self, max_bytes: int | None = None) -> list[LogChunk]:
        """The output written since the last call (possibly none); never blocks.

        With ``max_bytes`` it returns after about that much data and the next call
        continues where it stopped, so a reader that falls behind a chatty task never
        holds more than one batch in memory.
        """
        chunks: list[LogChunk] = []
        budget = max_bytes if max_bytes is not None else -1
        while True:
            path = self._path(self.index)
            try:
                with open(path, "rb") as src:
                    size = os.fstat(src.fileno()).st_size
                    if size < self.offset:
                        self.offset = 0  # truncated: start over
                    src.seek(self.offset)
                    while budget != 0:
                        data = src.read(FRAME_SIZE if budget < 0 else min(FRAME_SIZE, budget))
                        if not data:
                            break
                        self.offset += len(data)
                        if budget > 0:
                            budget -= len(data)
                        chunks.append(LogChunk(data=data,
                                               file=_relative(self.task, self.kind, self.index),
                                               offset=self.offset))
                missing = False
            except FileNotFoundError:
                missing = True
            if budget == 0:
                return chunks
            newer = [i for i, _ in log_files(self.alloc_dir, self.task, self.kind)
                     if i > self.index]
            if not newer:
                return chunks
            if not missing:
                # The writer moved on; read what it appended since our last read, then go.
                data = _read_range(path, self.offset, None)
                if data:
                    self.offset += len(data)
                    chunks.append(LogChunk(data=data,
                                           file=_relative(self.task, self.kind, self.index),
                                           offset=self.offset))
            self.index, self.offset = newer[0], 0
