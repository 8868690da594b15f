"""Archive extraction that cannot write outside its destination.

The archive types are go-getter's, chosen by the longest matching extension
of the source's path (or by ``?archive=<type>``): ``tar``, ``tar.gz``/``tgz``,
``tar.bz2``/``tbz2``, ``tar.xz``/``txz``, ``zip``, and the single-file
compressions ``gz``, ``bz2``, ``xz``.  (``zst`` is recognised and refused
with a hint: Python's standard library has no zstd before 3.14.)

An archive is untrusted input, so every entry is checked before anything is
written, and the whole artifact is refused at the first bad entry, named in
the error:

* absolute names and names with a ``..`` component;
* symbolic links whose target (relative to the link, or absolute) is not
  inside the destination, and hard links to anything outside it;
* device files and FIFOs;
* a path whose parent resolves outside the destination (through a link);
* more entries than ``decompression_file_count_limit`` or more bytes than
  ``decompression_size_limit`` -- counted while extracting, from the bytes
  actually written, not only from what the headers claim.

Files keep their permission bits but never setuid/setgid/sticky (Nomad's
umask for artifacts).  The destination is a fresh directory the getter
created, so nothing else in it can redirect a write.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from .errors import ArtifactError

_CHUNK = 1 << 16
_TarMode = Literal["r|", "r|gz", "r|bz2", "r|xz"]
_TAR_MODES: dict[str, _TarMode] = {"tar": "r|", "tar.gz": "r|gz", "tgz": "r|gz", "tar.bz2": "r|bz2",
              "tbz2": "r|bz2", "tar.xz": "r|xz", "txz": "r|xz"}


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


_SINGLE: dict[str, tuple[str, Callable[[str], io.BufferedIOBase]]] = {
    "gz": ("gzip", lambda path: gzip.open(path, "rb")),
    "bz2": ("bzip2", lambda path: bz2.open(path, "rb")),
    "xz": ("xz", lambda path: lzma.open(path, "rb")),
}
_ZSTD = ("zst", "tar.zst", "tzst")
ARCHIVE_TYPES = frozenset({*_TAR_MODES, *_SINGLE, "zip", *_ZSTD})


def archive_type(path: str) -> str:
    """The archive type the longest matching extension of ``path`` names, or ""."""
    found = ""
    for kind in ARCHIVE_TYPES:
        if path.endswith("." + kind) and len(kind) > len(found):
            found = kind
    return found


@dataclass(frozen=True, slots=True)
class Limits:
    """0 means no limit (go-getter's zero value)."""

    max_files: int = 0
    max_bytes: int = 0


def unpack(kind: str, archive: str, dst: str, *, into_dir: bool, limits: Limits) -> None:
    """Extract ``archive`` (of type ``kind``) into directory ``dst`` (``into_dir``) or,
    for a single-file archive, to the file ``dst``."""
    if kind in _ZSTD:
        raise ArtifactError(f"{kind} archives are not supported by nomadjail; set "
                            'options { archive = "false" } to download the file as it is')
    if kind in _SINGLE:
        _single_file(kind, archive, dst, into_dir=into_dir, limits=limits)
        return
    if kind not in _TAR_MODES and kind != "zip":
        raise ArtifactError(f"unknown archive type {kind!r}")
    root = dst if into_dir else os.path.dirname(dst)
    os.makedirs(root, mode=0o755, exist_ok=True)
    writer = _Writer(root, limits, archive)
    if kind == "zip":
        _unzip(writer, archive, dst, into_dir)
    else:
        _untar(writer, _TAR_MODES[kind], archive, dst, into_dir)


class _Writer:
    """Writes entries below ``root``, refusing anything that would leave it."""

    def __init__(self, root: str, limits: Limits, archive: str) -> None:
        self.root = os.path.realpath(root)
        self.limits = limits
        self.archive = os.path.basename(archive)
        self.files = 0
        self.bytes = 0
        self._dirs: list[tuple[str, int]] = []

    def count(self, kind: str) -> None:
        self.files += 1
        limit = self.limits.max_files
        if limit and self.files > limit:
            raise ArtifactError(f"{kind} archive contains too many files: {self.files} > {limit}")

    def _inside(self, path: str) -> bool:
        return path == self.root or path.startswith(self.root + os.sep)

    def path_of(self, name: str) -> str:
        """The host path of an entry name, after the name checks."""
        if name.startswith("/"):
            raise ArtifactError(f"entry has an absolute path: {name}")
        if ".." in re.split(r"[/\\]", name):  # go-getter's containsDotDot: either slash
            raise ArtifactError(f"entry contains '..': {name}")
        parts = [part for part in name.split("/") if part not in ("", ".")]
        relative = os.path.normpath("/".join(parts) or ".")
        return os.path.join(self.root, relative)

    def _parent(self, name: str, path: str) -> None:
        parent = os.path.dirname(path)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        if not self._inside(os.path.realpath(parent)):
            raise ArtifactError(f"entry {name} would be written outside the destination")

    def _clear(self, name: str, path: str) -> None:
        if os.path.isdir(path) and not os.path.islink(path):
            raise ArtifactError(f"entry {name} replaces a directory of the archive")
        if os.path.lexists(path):
            os.unlink(path)

    def directory(self, name: str, mode: int) -> None:
        path = self.path_of(name)
        if os.path.islink(path):
            raise ArtifactError(f"entry {name} is a directory where the archive has a link")
        os.makedirs(path, mode=0o755, exist_ok=True)
        if not self._inside(os.path.realpath(path)):
            raise ArtifactError(f"entry {name} would be written outside the destination")
        self._dirs.append((path, mode))

    def file(self, name: str, source: _Readable, mode: int, path: str | None = None) -> None:
        path = path or self.path_of(name)
        self._parent(name, path)
        self._clear(name, path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                self.bytes += len(chunk)
                limit = self.limits.max_bytes
                if limit and self.bytes > limit:
                    raise ArtifactError(f"archive {self.archive} larger than limit: {limit} "
                                        "bytes (decompression_size_limit)")
                out.write(chunk)
        os.chmod(path, _file_mode(mode))

    def symlink(self, name: str, target: str) -> None:
        path = self.path_of(name)
        self._parent(name, path)
        base = os.path.realpath(os.path.dirname(path))
        resolved = os.path.normpath(target if os.path.isabs(target)
                                    else os.path.join(base, target))
        if not self._inside(resolved):
            raise ArtifactError(f"entry {name} is a symlink to {target}, outside the "
                                "destination")
        self._clear(name, path)
        os.symlink(target, path)

    def hardlink(self, name: str, target: str) -> None:
        """A copy of an earlier entry (a real hard link could reach past the sandbox
        through a symlink the target later turns into)."""
        try:
            source = self.path_of(target)
        except ArtifactError:
            raise ArtifactError(f"entry {name} is a hard link to {target}, outside the "
                                "destination") from None
        real = os.path.realpath(source)
        if not self._inside(real) or not os.path.isfile(real):
            raise ArtifactError(f"entry {name} is a hard link to {target}, outside the "
                                "destination or not a file of the archive")
        with open(real, "rb") as data:
            self.file(name, data, os.stat(real).st_mode)

    def finish(self) -> None:
        """Directory modes last: a read-only directory would refuse its own entries."""
        for path, mode in reversed(self._dirs):
            os.chmod(path, _file_mode(mode) | 0o700)


def _file_mode(mode: int) -> int:
    """Permission bits only: no setuid, setgid or sticky (Nomad's artifact umask)."""
    return (mode & 0o777) or 0o644


def _untar(writer: _Writer, mode: _TarMode, archive: str, dst: str, into_dir: bool) -> None:
    wrote = False
    try:
        with tarfile.open(archive, mode) as tar:
            for member in tar:
                writer.count("tar")
                name = member.name
                if not into_dir:
                    if member.isdir():
                        raise ArtifactError(f"expected a single file: {writer.archive}")
                    if wrote:
                        raise ArtifactError(
                            f"expected a single file, got multiple: {writer.archive}")
                if member.isdir():
                    writer.directory(name, member.mode)
                elif member.issym():
                    writer.symlink(name, member.linkname)
                elif member.islnk():
                    writer.hardlink(name, member.linkname)
                elif member.isfile():
                    data = tar.extractfile(member)
                    if data is None:
                        raise ArtifactError(f"entry {name} cannot be read")
                    writer.file(name, data, member.mode, None if into_dir else dst)
                else:
                    raise ArtifactError(f"entry {name} is a device or FIFO, refused")
                wrote = True
    except (tarfile.TarError, EOFError, OSError, lzma.LZMAError, zlib.error) as err:
        raise ArtifactError(f"failed to read tar archive {writer.archive}: {err}") from None
    if not wrote:
        raise ArtifactError(f"empty archive: {writer.archive}")
    writer.finish()


def _unzip(writer: _Writer, archive: str, dst: str, into_dir: bool) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            entries = zipped.infolist()
            if not entries:
                raise ArtifactError(f"empty archive: {writer.archive}")
            if not into_dir and len(entries) > 1:
                raise ArtifactError(f"expected a single file: {writer.archive}")
            limit = writer.limits.max_files
            if limit and len(entries) > limit:
                raise ArtifactError(
                    f"zip archive contains too many files: {len(entries)} > {limit}")
            for entry in entries:
                writer.files += 1
                unix_mode = entry.external_attr >> 16
                if entry.is_dir():
                    if not into_dir:
                        raise ArtifactError(f"expected a single file: {writer.archive}")
                    writer.directory(entry.filename, unix_mode or 0o755)
                elif stat.S_ISLNK(unix_mode):
                    target = zipped.read(entry).decode("utf-8", "replace")
                    writer.symlink(entry.filename, target)
                elif stat.S_IFMT(unix_mode) not in (0, stat.S_IFREG):
                    raise ArtifactError(f"entry {entry.filename} is a device or FIFO, refused")
                else:
                    with zipped.open(entry) as data:
                        writer.file(entry.filename, data, unix_mode or 0o644,
                                    None if into_dir else dst)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as err:
        raise ArtifactError(f"failed to read zip archive {writer.archive}: {err}") from None
    writer.finish()


def _single_file(kind: str, archive: str, dst: str, *, into_dir: bool,
                 limits: Limits) -> None:
    label, opener = _SINGLE[kind]
    if into_dir:
        raise ArtifactError(f"{label}-compressed files can only unarchive to a single file "
                            '(set mode = "file" and destination to the file\'s path)')
    root = os.path.dirname(dst)
    os.makedirs(root, mode=0o755, exist_ok=True)
    writer = _Writer(root, limits, archive)
    try:
        with opener(archive) as data:
            writer.file(os.path.basename(dst), data, 0o644, dst)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as err:
        raise ArtifactError(f"failed to decompress {writer.archive}: {err}") from None

