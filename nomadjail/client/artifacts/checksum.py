"""Checksums of downloaded files, as go-getter's ``checksum`` parameter gives them.

``sha256:<hex>`` (also md5, sha1, sha512), a bare ``<hex>`` whose length tells
the type, or ``file:<url>``: a checksum file (GNU ``<hex>  name`` or BSD
``SHA256 (name) = <hex>`` lines) fetched first, whose line for the artifact's
file name is used.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from ...structs.artifact import CHECKSUM_SIZES
from .errors import ArtifactError

_BY_SIZE = {size: kind for kind, size in CHECKSUM_SIZES.items()}


@dataclass(frozen=True, slots=True)
class Checksum:
    kind: str  # md5, sha1, sha256, sha512
    digest: bytes

    def verify(self, path: str, name: str = "") -> None:
        """Raise :class:`ArtifactError` with go-getter's message unless ``path`` matches;
        ``name`` is the file's name in the message (the artifact's, not a temporary one)."""
        hasher = hashlib.new(self.kind)
        try:
            with open(path, "rb") as file:
                for chunk in iter(lambda: file.read(1 << 16), b""):
                    hasher.update(chunk)
        except OSError as err:
            raise ArtifactError(f"failed to open file for checksum: {err}") from None
        actual = hasher.digest()
        if actual != self.digest:
            raise ArtifactError(f"Checksums did not match for {name or posixpath.basename(path)}.\n"
                                f"Expected: {self.digest.hex()}\nGot: {actual.hex()}\n"
                                f"{self.kind}")


def _decode(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError as err:
        raise ArtifactError(f"invalid checksum: {err}") from None


def from_type(kind: str, value: str) -> Checksum:
    kind = kind.lower()
    if kind not in CHECKSUM_SIZES:
        raise ArtifactError(f"invalid checksum: unsupported checksum type: {kind}")
    digest = _decode(value)
    if len(digest) != CHECKSUM_SIZES[kind]:
        raise ArtifactError(f"invalid checksum: invalid {kind} checksum: {value}")
    return Checksum(kind, digest)


def from_value(value: str) -> Checksum:
    """A bare digest: its length says which hash it is."""
    digest = _decode(value)
    kind = _BY_SIZE.get(len(digest))
    if kind is None:
        raise ArtifactError(f"invalid checksum: unknown type for checksum {value}")
    return Checksum(kind, digest)


def parse_checksum(value: str, filename: str,
                   fetch_text: Callable[[str], str] | None = None) -> Checksum | None:
    """The checksum a ``checksum`` parameter asks for (None when empty).

    ``filename`` is the artifact's file name, looked up in a checksum file;
    ``fetch_text`` downloads one (``file:<url>``).
    """
    value = value.strip()
    if not value:
        return None
    kind, sep, rest = value.partition(":")
    if not sep:
        return from_value(value)
    if kind == "file":
        if fetch_text is None:
            raise ArtifactError("invalid checksum: checksum files cannot be fetched here")
        try:
            text = fetch_text(rest)
        except ArtifactError as err:
            raise ArtifactError(f"invalid checksum: Error downloading checksum file: {err}",
                                recoverable=err.recoverable) from None
        return from_file(text, filename, rest)
    return from_type(kind, rest)


def from_file(text: str, filename: str, where: str) -> Checksum:
    """The line of a checksum file for ``filename`` (or the first line naming no file)."""
    names = {filename, "*" + filename, "?" + filename, "./" + filename}
    for line in text.splitlines():
        parts = line.split()
        try:
            if len(parts) == 4 and parts[1].startswith("(") and parts[1].endswith(")"):
                found, name = from_type(parts[0], parts[3]), parts[1][1:-1]
            elif len(parts) == 2:
                found, name = from_value(parts[0]), parts[1]
            elif parts:
                found, name = from_value(parts[0]), ""
            else:
                continue
        except ArtifactError:
            continue
        if not name or name in names:
            return found
    raise ArtifactError(f"invalid checksum: no checksum found in: {where}")
