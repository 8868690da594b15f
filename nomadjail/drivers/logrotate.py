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
"""

from __future__ import annotations

import os

MB = 1024 * 1024


def log_indexes(directory: str, base_name: str) -> list[int]:
    """The indexes of ``<base_name>.<N>`` files in ``directory``, ascending."""
    prefix = base_name + "."
    found = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        if name.startswith(prefix):
            suffix = name[len(prefix):]
            if suffix.isdigit():
                found.append(int(suffix))
    return sorted(found)


class FileRotator:
    """Write one stream (a task's stdout or stderr) into rotated files."""

    def __init__(self, directory: str, base_name: str, *, max_files: int,
                 max_file_size: int) -> None:
        if max_files < 1:
            raise ValueError(f"max_files must be at least 1, got {max_files}")
        if max_file_size < 1:
            raise ValueError(f"max_file_size must be at least 1 byte, got {max_file_size}")
        self.directory = directory
        self.base_name = base_name
        self.max_files = max_files
        self.max_file_size = max_file_size
        os.makedirs(directory, exist_ok=True)
        existing = log_indexes(directory, base_name)
        self.index = existing[-1] if existing else 0
        self._fd = -1
        self._size = 0
        self._open()

    @property
    def path(self) -> str:
        """The file being written now."""
        return os.path.join(self.directory, f"{self.base_name}.{self.index}")

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        os.close(self._fd)
        self.index += 1
        self._open()
        self._purge()

    def _purge(self) -> None:
        indexes = log_indexes(self.directory, self.base_name)
        for old in indexes[:max(0, len(indexes) - self.max_files)]:
            try:
                os.unlink(os.path.join(self.directory, f"{self.base_name}.{old}"))
            except FileNotFoundError:
                pass

    def _write_all(self, data: memoryview) -> None:
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
            self._size += written

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        pos, end = 0, len(data)
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

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
