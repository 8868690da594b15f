"""Where a template's files are, and how its output is written.

Paths follow Nomad's ``TaskEnv.ClientPath``: ``${...}`` is interpolated with the
task's environment; a destination is always taken relative to the task directory
(an absolute ``/local/app.conf`` is the task's ``local/app.conf``, which is what
the task sees inside a jail), unless it already names a path inside the
allocation directory (``${NOMAD_SECRETS_DIR}/x`` for raw_exec); a relative source
is relative to the task directory, an absolute one is taken as is.  Either may
not leave the allocation directory unless the client's ``template`` block sets
``disable_file_sandbox`` -- with Nomad's error texts.

Writes are atomic (a temporary file in the same directory, then ``rename``), so
a task never reads half a config, and are skipped when the content and mode are
already what they should be: an unchanged render touches nothing and counts as
no change.
"""

from __future__ import annotations

import os
import tempfile

SOURCE_ESCAPES = "template source path escapes alloc directory"
DEST_ESCAPES = "template destination path escapes alloc directory"


class SandboxError(Exception):
    """A template path leaves the allocation directory."""


def _inside(path: str, root: str) -> bool:
    root = os.path.normpath(root)
    return os.path.commonpath([os.path.normpath(path), root]) == root


def dest_path(dest: str, *, task_dir: str, alloc_dir: str, sandbox: bool) -> str:
    """The host path of an (interpolated) destination."""
    if os.path.isabs(dest) and _inside(dest, alloc_dir):
        path = os.path.normpath(dest)
    else:
        path = os.path.normpath(os.path.join(task_dir, dest.lstrip("/")))
    if sandbox and not _inside(path, alloc_dir):
        raise SandboxError(DEST_ESCAPES)
    return path


def source_path(source: str, *, task_dir: str, alloc_dir: str, sandbox: bool) -> str:
    """The host path of an (interpolated) source."""
    path = os.path.normpath(source if os.path.isabs(source) else os.path.join(task_dir, source))
    if sandbox and not _inside(os.path.realpath(path), os.path.realpath(alloc_dir)):
        raise SandboxError(SOURCE_ESCAPES)
    return path


def write_rendered(path: str, content: str, *, perms: int, uid: int | None = None,
                   gid: int | None = None) -> bool:
    """Write ``content`` to ``path`` atomically with mode ``perms`` (and owner, when this
    process may set it); False when the file already held exactly that."""
    data = content.encode()
    try:
        with open(path, "rb") as existing:
            same = existing.read() == data
        if same and (os.stat(path).st_mode & 0o7777) == perms:
            return False
    except FileNotFoundError:
        pass
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmpl-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), perms)
            if (uid is not None or gid is not None) and os.geteuid() == 0:
                os.fchown(handle.fileno(), uid if uid is not None else -1,
                          gid if gid is not None else -1)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return True
