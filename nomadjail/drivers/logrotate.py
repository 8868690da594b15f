"""Rotated log files with Nomad's naming: ``<dir>/<task>.stdout.0``, ``.1`` ...

Standard library only: the raw_exec supervisor imports it and must start fast.

Guarantees (the same as Nomad's logmon ``FileRotator``):

* A file grows to at most ``max_file_size`` bytes, then writing moves on to the
  next index.  A chunk that does not fit is cut after its last newline that
  fits, so lines are not split across files unless one line is longer than a
  whole file.
* At most ``max_files`` files are kept; the oldest indexes are deleted.
* A rotator opened on a directory that already holds files for the same base
  name continues with the highest index (appending), so a restarted writer
  never overwrites earlier output.
* Every ``write`` reaches the file before it returns (no user-space buffer):
  readers following the logs see output as soon as the task prints it.

And one Nomad leaves to chance: **a storage error never escapes**.  When the
disk is full, the file cannot be opened or a write fails, ``write`` drops the
output it could not store, counts it (:attr:`FileRotator.dropped_bytes`,
:attr:`FileRotator.last_error`) and tries to open the file again on a later
write, waiting longer after each failure (up to :data:`MAX_RETRY_DELAY`).
The task's output pipe keeps being drained, so the task never blocks on a
full pipe and its exit is still seen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

MB = 1024 * 1024
# After a storage error, the first retry waits this long; each further failure doubles it.
FIRST_RETRY_DELAY = 0.1
MAX_RETRY_DELAY = 5.0


def log_indexes(directory: str, base_name: str) -> list[int]:
    """The indexes of ``<base_name>.<N>`` files in ``directory``, ascending."""
    prefix = base_name + "."
    found = []
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    for name in names:
        if name.startswith(prefix):
            suffix = name[len(prefix):]
            if suffix.isdigit():
                found.append(int(suffix))
    return sorted(found)


class FileRotator:
    """Write one stream (a task's stdout or stderr) into rotated files.

    ``clock`` (seconds, monotonic) decides when a failed file is tried again;
    tests pass their own.
    """

    def __init__(self, directory: str, base_name: str, *, max_files: int,
                 max_file_size: int, clock: Callable[[], float] = time.monotonic) -> None:
        if max_files < 1:
            raise ValueError(f"max_files must be at least 1, got {max_files}")
        if max_file_size < 1:
            raise ValueError(f"max_file_size must be at least 1 byte, got {max_file_size}")
        self.directory = directory
        self.base_name = base_name
        self.max_files = max_files
        self.max_file_size = max_file_size
        self.dropped_bytes = 0  # output lost to storage errors, in total
        self.last_error: OSError | None = None  # the latest storage error (None: none yet)
        self._clock = clock
        self._retry_at = 0.0  # while the file is unusable: when to try opening it again
        self._retry_delay = FIRST_RETRY_DELAY
        self._fd = -1
        self._size = 0
        self._stored = 0
        existing = log_indexes(directory, base_name)
        self.index = existing[-1] if existing else 0
        self._try_open()

    @property
    def path(self) -> str:
        """The file being written now."""
        return os.path.join(self.directory, f"{self.base_name}.{self.index}")

    @property
    def healthy(self) -> bool:
        """The current file is open and the last write reached it."""
        return self._fd >= 0

    def _open(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self._size = os.fstat(fd).st_size
        except OSError:
            os.close(fd)
            raise
        self._fd = fd

    def _try_open(self) -> bool:
        try:
            self._open()
        except OSError as err:
            self._failed(err)
            return False
        self._retry_delay = FIRST_RETRY_DELAY
        return True

    def _failed(self, err: OSError) -> None:
        """Give up on the current file for a while (it is reopened on a later write)."""
        self.last_error = err
        self._close_fd()
        self._retry_at = self._clock() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, MAX_RETRY_DELAY)

    def _close_fd(self) -> None:
        if self._fd >= 0:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1

    def _rotate(self) -> None:
        self._close_fd()
        self.index += 1
        self._open()
        self._purge()

    def _purge(self) -> None:
        indexes = log_indexes(self.directory, self.base_name)
        for old in indexes[:max(0, len(indexes) - self.max_files)]:
            try:
                os.unlink(os.path.join(self.directory, f"{self.base_name}.{old}"))
            except OSError:
                pass

    def _write_all(self, data: memoryview) -> None:
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
            self._size += written
            self._stored += written

    def write(self, data: bytes) -> None:
        """Store ``data``, or drop (and count) what a storage error kept out; never raises."""
        if self._fd < 0 and (self._clock() < self._retry_at or not self._try_open()):
            self.dropped_bytes += len(data)
            return
        view = memoryview(data)
        pos, end = 0, len(data)
        self._stored = 0  # bytes of ``data`` that reached a file (the output is in order)
        try:
            while pos < end:
                space = self.max_file_size - self._size
                if space <= 0:
                    self._rotate()
                    continue
                if end - pos <= space:
                    self._write_all(view[pos:])
                    return
                cut = data.rfind(b"\n", pos, pos + space)
                if cut >= 0:
                    count = cut + 1 - pos
                else:
                    newline = data.find(b"\n", pos)
                    line_length = (newline + 1 - pos) if newline >= 0 else end - pos
                    if self._size > 0 and line_length <= self.max_file_size:
                        self._rotate()  # the line fits whole in a fresh file
                        continue
                    count = space  # a line longer than a file: split it
                self._write_all(view[pos:pos + count])
                pos += count
                self._rotate()
        except OSError as err:
            self.dropped_bytes += end - self._stored
            self._failed(err)

    def close(self) -> None:
        self._close_fd()
