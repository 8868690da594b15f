"""One artifact from source to destination: go-getter's ``Client.Get`` steps, then
Nomad's inspect-and-move.

1. Read the source (:func:`~.source.parse_source`): getter, subdir, ``archive``,
   ``checksum``, ``filename``.
2. Fetch into a fresh temporary directory inside the allocation directory --
   never straight into the task's files -- in the mode asked for.  In mode
   ``any`` the getter decides: an http(s) URL is a file unless its path ends
   in ``/``, a local path is what it is on disk, git is a directory; a file
   lands in the destination under its own name (or ``?filename=``).
3. An archive (by ``?archive=`` or its extension, unless ``archive=false``)
   is downloaded to a file, checksummed, then unpacked
   (:mod:`.unpack`); a plain file is checksummed where it landed.  A checksum
   on a directory is an error.
4. With a ``//subdir``, only that part (a glob matching one path) is kept.
5. The result is inspected: a symlink that resolves outside it is refused
   (Nomad's artifact inspection, used where it cannot sandbox the download).
6. It is moved into the destination: in mode ``file`` the file replaces the
   destination; otherwise its entries are merged into the destination
   directory, replacing files of the same name.  No move follows a symlink
   the task may have left in its directories.
7. ``chown = true``: everything under the destination is given to the task's
   user, when the client runs as root (Nomad's rule).
"""

from __future__ import annotations

import glob
import os
import posixpath
import pwd
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ...helper.artifact_config import ArtifactConfig
from ...structs.artifact import GetterMode
from .checksum import parse_checksum
from .errors import ArtifactError
from .fetchers import (
    GitSettings,
    HTTPSettings,
    file_get_dir,
    file_get_file,
    git_get,
    http_get_file,
    local_is_dir,
    local_path,
)
from .source import GetterKind, Source, parse_source
from .unpack import ARCHIVE_TYPES, Limits, archive_type, unpack

_CHECKSUM_FILE_MAX = 1 << 20  # bytes of a checksum file read


@dataclass(frozen=True, slots=True)
class Download:
    """One artifact, interpolated and placed: what :func:`fetch` needs."""

    source: str  # with the artifact's options merged into the query
    destination: str  # absolute host path
    mode: GetterMode
    task_dir: str  # relative local paths start here
    alloc_dir: str  # the sandbox: temporary files go here, nothing lands outside
    headers: Mapping[str, str] = field(default_factory=dict)
    insecure: bool = False
    chown_user: str = ""  # the task's user when the artifact asks for chown
    cancelled: Callable[[], bool] = field(default=lambda: False)  # the task is stopping


def fetch(download: Download, config: ArtifactConfig) -> None:
    """Download, verify, unpack and move one artifact; :class:`ArtifactError` says why not."""
    source = parse_source(download.source, download.task_dir)
    sandbox = os.path.realpath(download.alloc_dir)
    final = os.path.normpath(download.destination)
    if not _inside(sandbox, os.path.realpath(os.path.dirname(final))):
        raise ArtifactError("artifact destination path escapes alloc directory",
                            recoverable=False)
    _check_local_read(source, download, config)
    env = _environment(download.task_dir, config)
    scratch = tempfile.mkdtemp(prefix="artifact-", dir=download.alloc_dir)
    try:
        result = os.path.join(scratch, "artifact")
        if source.subdir:
            whole = os.path.join(scratch, "whole")
            _get(source, whole, download, config, env, scratch)
            _keep_subdir(whole, source.subdir, result)
        else:
            _get(source, result, download, config, env, scratch)
        if not config.disable_artifact_inspection:
            _inspect(result)
        _move(result, final, download.mode, sandbox)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if download.chown_user and os.geteuid() == 0:
        _chown(final, download.chown_user)


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root + os.sep)


_LANDLOCK_PATH = re.compile(r"^[fd]:[rwcx]+:(?P<path>.+)$")


def readable_paths(download: Download, config: ArtifactConfig) -> list[str]:
    """Where a local source may be read from: the allocation directory and the
    ``filesystem_isolation_extra_paths`` (landlock's ``kind:mode:path``, or a plain path)."""
    paths = [download.alloc_dir]
    for entry in config.filesystem_isolation_extra_paths:
        match = _LANDLOCK_PATH.match(entry)
        paths.append(match.group("path") if match else entry)
    return [os.path.realpath(path) for path in paths]


def _check_local_read(source: Source, download: Download, config: ArtifactConfig) -> None:
    """Nomad runs the download in a Landlock sandbox that reads only the allocation
    directory and the configured extra paths; nomadjail has no sandbox, so a local
    source (a path, or a ``file://`` git repository) is held to the same rule unless
    ``disable_filesystem_isolation`` is set.  Otherwise any job could copy any file of
    the client host into its task."""
    if config.disable_filesystem_isolation or not source.url.startswith("file:"):
        return
    path = os.path.realpath(local_path(source.url))
    if not any(_inside(root, path) for root in readable_paths(download, config)):
        raise ArtifactError(
            f"source path error: {path} is outside the allocation directory; the client's "
            "artifact { filesystem_isolation_extra_paths } (or disable_filesystem_isolation) "
            "must allow it", recoverable=False)


def _environment(task_dir: str, config: ArtifactConfig) -> dict[str, str]:
    """A minimal environment for the download (Nomad's defaultEnvironment), plus what
    ``set_environment_variables`` lets through from the client's."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": task_dir,
           "TMPDIR": os.path.join(task_dir, "tmp")}
    for name in config.inherited_environment():
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def _proxies(env: Mapping[str, str]) -> dict[str, str]:
    return {name[:-6].lower(): value for name, value in env.items()
            if name.lower().endswith("_proxy") and name.lower() != "no_proxy" and value}


def _get(source: Source, dst: str, download: Download, config: ArtifactConfig,
         env: Mapping[str, str], scratch: str) -> None:
    mode = download.mode
    kind = ""
    if source.archive and source.archive != "-":
        kind = source.archive if source.archive in ARCHIVE_TYPES else ""
    elif not source.archive:
        kind = archive_type(source.path)
    unpack_to, unpack_dir = "", False
    if kind:
        unpack_to, unpack_dir = dst, mode != GetterMode.FILE
        dst = os.path.join(scratch, "download")
        mode = GetterMode.FILE
    checksum = parse_checksum(source.checksum, posixpath.basename(source.path),
                              lambda url: _fetch_text(url, download, config, env, scratch))
    if mode == GetterMode.ANY:
        mode = _client_mode(source)
        if mode == GetterMode.FILE:
            dst = os.path.join(dst, source.filename or posixpath.basename(source.path)
                               or "index")
    if mode == GetterMode.FILE:
        _get_file(source, dst, download, config, env)
        if checksum is not None:
            checksum.verify(dst, posixpath.basename(source.path))
        if kind:
            unpack(kind, dst, unpack_to, into_dir=unpack_dir,
                   limits=Limits(max_files=config.decompression_file_count_limit,
                                 max_bytes=config.decompression_size_limit))
        return
    if checksum is not None:
        raise ArtifactError("checksum cannot be specified for directory download")
    if source.getter == GetterKind.GIT:
        git_get(source.url, dst, source.query, GitSettings(
            timeout=config.git_timeout, env=env, cancelled=download.cancelled))
    elif source.getter == GetterKind.FILE:
        file_get_dir(source.url, dst)
    else:
        raise ArtifactError(f"error downloading {source.url!r}: an http source is a single "
                            'file; mode = "dir" needs an archive (.tar.gz, .zip ...)')


def _client_mode(source: Source) -> GetterMode:
    if source.getter == GetterKind.GIT:
        return GetterMode.DIR
    if source.getter == GetterKind.FILE:
        return GetterMode.DIR if local_is_dir(source.url) else GetterMode.FILE
    return GetterMode.DIR if source.path.endswith("/") else GetterMode.FILE


def _get_file(source: Source, dst: str, download: Download, config: ArtifactConfig,
              env: Mapping[str, str]) -> None:
    if source.getter in (GetterKind.HTTP, GetterKind.HTTPS):
        http_get_file(source.url, dst, HTTPSettings(
            headers=download.headers, insecure=download.insecure,
            read_timeout=config.http_read_timeout, max_bytes=config.http_max_size,
            cancelled=download.cancelled),
            proxies=_proxies(env))
    elif source.getter == GetterKind.FILE:
        file_get_file(source.url, dst)
    else:
        raise ArtifactError('a git source is a directory; mode = "file" cannot fetch it')


def _fetch_text(url: str, download: Download, config: ArtifactConfig,
                env: Mapping[str, str], scratch: str) -> str:
    """A checksum file's text (``checksum=file:<url>``)."""
    source = parse_source(url, download.task_dir)
    _check_local_read(source, download, config)
    path = os.path.join(scratch, "checksum-file")
    _get_file(source, path, download, config, env)
    with open(path, "rb") as file:
        return file.read(_CHECKSUM_FILE_MAX).decode("utf-8", "replace")


def _keep_subdir(whole: str, subdir: str, result: str) -> None:
    matches = glob.glob(os.path.join(whole, subdir))
    if not matches:
        raise ArtifactError(f"subdir {subdir!r} not found")
    if len(matches) > 1:
        raise ArtifactError(f"subdir {subdir!r} matches multiple paths")
    chosen = os.path.realpath(matches[0])
    if not _inside(os.path.realpath(whole), chosen):
        raise ArtifactError(f"subdir {subdir!r} resolves outside of the artifact")
    if os.path.isdir(chosen):
        shutil.copytree(chosen, result, symlinks=True)
    else:
        os.makedirs(result)
        shutil.copy2(chosen, result)


def _inspect(root: str) -> None:
    """Refuse a symlink anywhere in ``root`` that resolves outside of it."""
    base = os.path.realpath(root)
    for current, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(current, name)
            if os.path.islink(path) and not _inside(base, os.path.realpath(path)):
                relative = os.path.relpath(path, root)
                raise ArtifactError("artifact includes symlink that resolves outside of "
                                    f"sandbox: {relative} -> {os.readlink(path)}")


def _move(result: str, final: str, mode: GetterMode, sandbox: str) -> None:
    if mode == GetterMode.FILE:
        _replace(result, final)
        return
    if not os.path.isdir(result):
        raise ArtifactError(f"expected a directory at {result}")
    os.makedirs(final, mode=0o755, exist_ok=True)
    _merge(result, final, sandbox)


def _replace(src: str, dst: str) -> None:
    """``dst`` becomes ``src``; a link at ``dst`` is replaced, never followed."""
    os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
    if os.path.isdir(dst) and not os.path.islink(dst):
        shutil.rmtree(dst)
    os.replace(src, dst)


def _merge(src: str, dst: str, sandbox: str) -> None:
    if not _inside(sandbox, os.path.realpath(dst)):
        raise ArtifactError(f"artifact destination {dst} resolves outside of the allocation "
                            "directory", recoverable=False)
    for name in os.listdir(src):
        source, target = os.path.join(src, name), os.path.join(dst, name)
        source_is_dir = os.path.isdir(source) and not os.path.islink(source)
        target_is_dir = os.path.isdir(target) and not os.path.islink(target)
        if source_is_dir and target_is_dir:
            _merge(source, target, sandbox)
            continue
        if target_is_dir:
            shutil.rmtree(target)
        elif source_is_dir and os.path.lexists(target):
            os.unlink(target)  # a file or link where the artifact has a directory
        os.replace(source, target)  # replaces a link at target, never follows it


def _chown(path: str, user: str) -> None:
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise ArtifactError(f"failed to chown artifact: unknown user {user!r}") from None
    for current, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(current, name), entry.pw_uid, entry.pw_gid)
    os.lchown(path, entry.pw_uid, entry.pw_gid)
