"""Replace a file so that a crash leaves either the old content or the new, whole.

Every piece of state nomadjail keeps on disk (the client's state db, a task's
exit status, the saved raft peers, rendered appliance configs, the job import
record, a pot's environment) is written through :func:`write_atomically`:

1. the data goes to a temporary file in the same directory (unique per process
   and thread, so concurrent writers never share one);
2. the file is flushed and fsynced, so its blocks are on disk;
3. it is renamed over the target (``os.replace`` is atomic on POSIX);
4. the directory is fsynced, so the rename itself survives a power cut.

On any error the temporary file is removed and the exception (an ``OSError``)
propagates: the target keeps its old content.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

__all__ = ["write_atomically", "write_json_atomically"]


def write_atomically(path: str | os.PathLike[str], data: str | bytes, *, mode: int = 0o644,
                     fsync: bool = True) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8), whole or not at all.

    ``mode`` is the new file's permission (before the umask; a file holding a secret
    passes 0o600, which no umask widens).  ``fsync=False`` skips both fsyncs: the write
    is still atomic for readers, but may be lost on a power cut (tests and dev mode).
    """
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    scratch = os.path.join(directory, f".{os.path.basename(target)}."
                                      f"{os.getpid()}.{threading.get_ident()}.tmp")
    payload = data.encode() if isinstance(data, str) else data
    try:
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(scratch, target)
    except BaseException:
        try:
            os.unlink(scratch)
        except OSError:
            pass
        raise
    if fsync:
        _fsync_directory(directory)


def write_json_atomically(path: str | os.PathLike[str], value: Any, *, indent: int | None = None,
                          mode: int = 0o644, fsync: bool = True) -> None:
    """:func:`write_atomically` of ``value`` as JSON (compact unless ``indent`` is given)."""
    text = (json.dumps(value, indent=indent, sort_keys=True) + "\n" if indent is not None
            else json.dumps(value, separators=(",", ":")))
    write_atomically(path, text, mode=mode, fsync=fsync)


def _fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable.  Best effort: some file systems refuse
    to fsync a directory (EINVAL), and the data itself is already on disk then."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
