"""The raft log on disk, written so that a full disk is an error, not a crash.

PySyncObj's own file journal maps the file into memory and grows it with
``mmap.resize``, which only makes the file longer on paper (a sparse file).
When the disk is full, the first write to a new page has no block to land
in and the kernel kills the process with SIGBUS -- the agent's one worker
dies mid-write and the gunicorn master restarts it into the same full disk.

This journal keeps PySyncObj's file format (a data dir written by either
one is read by the other) but

* writes with ``os.pwrite``, so a failing write raises ``OSError``;
* reserves disk space ahead of the writes, in chunks, with
  ``posix_fallocate`` (or by writing zeros where the filesystem cannot
  preallocate), so running out of space shows up when space is *reserved*.
  :meth:`RaftJournal.reserve` is called by :meth:`Raft.apply` before a
  command is submitted: a write that cannot fit is refused to its caller,
  and nothing half-written reaches the log;
* remembers a write that failed anyway (copy-on-write filesystems allocate
  at write time) in :attr:`RaftJournal.write_error`, for the raft adapter to
  fail the writes that were waiting on it.

Format (PySyncObj's ``FileJournal``): a 40-byte header -- name, version,
format version, offset of the end of the last record -- then records of
``size | index | term | command | size``.
"""

from __future__ import annotations

import errno
import logging
import os
import struct
import threading
from typing import Any

from pysyncobj.journal import (
    APP_NAME,
    APP_VERSION,
    FIRST_RECORD_OFFSET,
    JOURNAL_FORMAT_VERSION,
    LAST_RECORD_OFFSET_OFFSET,
    NAME_SIZE,
    VERSION_SIZE,
    Journal,
)
from pysyncobj.pickle import dumps, loads, to_bytes

from ..helper.atomic_file import write_atomically

log = logging.getLogger(__name__)

# Disk space is reserved this far beyond the end of the log.
RESERVE_CHUNK = 1 << 20
# Bytes a record adds around its command (two sizes, index and term) plus the
# pickled envelope PySyncObj wraps around our (type, payload) call.
RECORD_OVERHEAD = 256
_ZEROS = bytes(64 * 1024)
# posix_fallocate is not supported here: fall back to writing zeros.
_NO_FALLOCATE = {errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS}


class _MetaFile:
    """The journal's ``.meta`` file (term, vote, commit index) in PySyncObj's format,
    written atomically -- and, unlike PySyncObj's MetaStorer, closing what it opens."""

    def __init__(self, path: str):
        self.path = path

    def load(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as src:
                return loads(src.read())
        except (OSError, ValueError, EOFError):
            return {}

    def store(self, meta: dict[str, Any]) -> None:
        write_atomically(self.path, dumps(meta))


class JournalFullError(OSError):
    """The journal cannot grow: the disk (or the file size limit) is full."""


def _header() -> bytes:
    name = APP_NAME + b"\0" * (NAME_SIZE - len(APP_NAME))
    version = APP_VERSION + b"\0" * (VERSION_SIZE - len(APP_VERSION))
    return name + version + struct.pack("<II", JOURNAL_FORMAT_VERSION, FIRST_RECORD_OFFSET)


def _preallocate(fd: int, offset: int, length: int) -> None:
    """Make ``length`` bytes at ``offset`` exist on disk (raises OSError when
    they cannot)."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, offset, length)
            return
        except OSError as err:
            if err.errno not in _NO_FALLOCATE:
                raise
    end = offset + length
    while offset < end:
        offset += os.pwrite(fd, _ZEROS[:min(len(_ZEROS), end - offset)], offset)


class RaftJournal(Journal):
    """PySyncObj's journal interface over a file written with ``pwrite``."""

    def __init__(self, path: str, *, reserve_chunk: int = RESERVE_CHUNK):
        self.path = path
        self.reserve_chunk = reserve_chunk
        self.write_error: OSError | None = None
        self._lock = threading.Lock()
        self._entries: list[tuple[bytes, int, int]] = []
        self._offsets: list[int] = []  # where each entry's record starts
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._load()
        except BaseException:
            os.close(self._fd)
            raise
        self._meta_storer = _MetaFile(path + ".meta")
        self._meta: dict[str, Any] = self._meta_storer.load()
        self._meta_saved = True
        try:
            self.reserve(0)
        except JournalFullError as err:
            # Reading needs no space: start, and refuse writes until there is room.
            log.error("%s", err)

    # -- loading -----------------------------------------------------------------
    def _load(self) -> None:
        size = os.fstat(self._fd).st_size
        data = os.pread(self._fd, size, 0) if size else b""
        if len(data) < FIRST_RECORD_OFFSET:
            data = _header()
            self._write(data, 0)
        at = LAST_RECORD_OFFSET_OFFSET
        (last,) = struct.unpack("<I", data[at:at + 4])
        offset = FIRST_RECORD_OFFSET
        while offset < last:
            (record_size,) = struct.unpack("<I", data[offset:offset + 4])
            record = data[offset + 4:offset + 4 + record_size]
            index, term = struct.unpack("<QQ", record[:16])
            self._entries.append((record[16:], index, term))
            self._offsets.append(offset)
            offset += record_size + 8
        self._end = offset
        # Only what was written is known to exist on disk: an older journal may
        # be a sparse file past its end.
        self._allocated = offset

    # -- disk space --------------------------------------------------------------
    def reserve(self, nbytes: int) -> None:
        """Make sure ``nbytes`` more can be appended without allocating disk
        space; raises :class:`JournalFullError` naming the file otherwise."""
        with self._lock:
            self._reserve_locked(nbytes)

    def _reserve_locked(self, nbytes: int) -> None:
        needed = self._end + nbytes
        if needed <= self._allocated:
            return
        # A chunk ahead, so most appends allocate nothing; when even that does
        # not fit, just what is needed now.
        for target in (needed + self.reserve_chunk, needed):
            try:
                _preallocate(self._fd, self._allocated, target - self._allocated)
            except OSError as err:
                error = err
                continue
            self._allocated = target
            return
        raise JournalFullError(error.errno, f"the raft journal {self.path!r} cannot grow to "
                                            f"{needed} bytes: {error.strerror}") from error

    def _write(self, data: bytes | memoryview, offset: int) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written

    def _set_end_locked(self, end: int) -> None:
        self._write(struct.pack("<I", end), LAST_RECORD_OFFSET_OFFSET)
        self._end = end

    # -- PySyncObj's Journal interface --------------------------------------------
    def add(self, command: bytes, idx: int, term: int) -> None:
        record = struct.pack("<QQ", idx, term) + to_bytes(command)
        size = struct.pack("<I", len(record))
        blob = size + record + size
        with self._lock:
            start = self._end
            try:
                self._reserve_locked(len(blob))
                self._write(blob, start)
                self._set_end_locked(start + len(blob))
            except OSError as err:
                self.write_error = err
                raise
            self._entries.append((command, idx, term))
            self._offsets.append(start)

    def clear(self) -> None:
        with self._lock:
            self._entries, self._offsets = [], []
            self._set_end_locked(FIRST_RECORD_OFFSET)

    def deleteEntriesFrom(self, entryFrom: int) -> None:  # noqa: N802 - PySyncObj's name
        with self._lock:
            if entryFrom >= len(self._entries):
                return
            end = self._offsets[entryFrom]
            del self._entries[entryFrom:], self._offsets[entryFrom:]
            self._set_end_locked(end)

    def deleteEntriesTo(self, entryTo: int) -> None:  # noqa: N802 - PySyncObj's name
        """Drop the entries before ``entryTo`` (log compaction after a snapshot):
        the rest is rewritten from the start of the file in one write."""
        with self._lock:
            kept = self._entries[entryTo:]
            blobs, offsets = [], []
            offset = FIRST_RECORD_OFFSET
            for command, idx, term in kept:
                record = struct.pack("<QQ", idx, term) + to_bytes(command)
                size = struct.pack("<I", len(record))
                blobs.append(size + record + size)
                offsets.append(offset)
                offset += len(record) + 8
            try:
                self._set_end_locked(FIRST_RECORD_OFFSET)
                self._write(b"".join(blobs), FIRST_RECORD_OFFSET)
                self._set_end_locked(offset)
            except OSError as err:
                self.write_error = err
                raise
            self._entries, self._offsets = kept, offsets

    def __getitem__(self, item: Any) -> Any:
        return self._entries[item]

    def __len__(self) -> int:
        return len(self._entries)

    def _destroy(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def flush(self) -> None:
        with self._lock:
            os.fsync(self._fd)

    def take_write_error(self) -> OSError | None:
        """The write failure since the last call, if any (and forget it)."""
        with self._lock:
            error, self.write_error = self.write_error, None
            return error

    # -- raft's persistent state (term, vote, commit index), as PySyncObj ---------
    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:  # noqa: N802,N803
        self._meta["raftCommitIndex"] = raftCommitIndex
        self._meta_saved = False

    def getRaftCommitIndex(self) -> int:  # noqa: N802
        return self._meta.get("raftCommitIndex", 1)

    def setCurrentTerm(self, term: int, votedForNodeId: Any) -> None:  # noqa: N802,N803
        # Raft needs the term and vote durable before any message reflects them.
        self._meta["currentTerm"] = term
        self._meta["votedForNodeId"] = votedForNodeId
        self._meta_storer.store(self._meta)
        self._meta_saved = True

    def getCurrentTerm(self) -> int:  # noqa: N802
        return self._meta.get("currentTerm", 0)

    def getVotedForNodeId(self) -> Any:  # noqa: N802
        return self._meta.get("votedForNodeId", None)

    def onOneSecondTimer(self) -> None:  # noqa: N802
        if not self._meta_saved:
            self._meta_storer.store(self._meta)
            self._meta_saved = True
