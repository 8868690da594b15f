"""An ``artifact`` a task downloads before it starts (Nomad's ``structs.TaskArtifact``).

The client fetches ``GetterSource`` the way go-getter does (http(s), local
files, git) into ``RelativeDest`` inside the task directory and unpacks
archives there; see :mod:`nomadjail.client.artifacts`.  This module holds the
shape, the defaults (:meth:`TaskArtifact.canonicalize`, Nomad's
``api.TaskArtifact.Canonicalize``), the rules (:func:`artifact_errors`, Nomad's
``TaskArtifact.Validate`` in its wording) and :meth:`TaskArtifact.hash`, the
identity a client records once an artifact is downloaded so a restarted task
does not fetch it again.

``getter_mode`` stays a plain string, not a :class:`GetterMode`: an unknown
word is a validation error reported with every other problem of the job, not
a decode error that hides the rest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .codec import field
from .consts import WireEnum

# Nomad's ``args.ContainsEnv``: a checksum holding ``${...}`` is only known on the client.
_ENV_REFERENCE = re.compile(r"\$\{[^}]+\}")
_HEX = re.compile(r"[0-9a-fA-F]*")

# Digest sizes in bytes of the checksum types go-getter knows.
CHECKSUM_SIZES = {"md5": 16, "sha1": 20, "sha256": 32, "sha512": 64}

DEFAULT_DESTINATION = "local/"


class GetterMode(WireEnum):
    """What the destination is: go-getter's ``ClientMode``."""

    ANY = "any"  # a directory; a single file lands in it under its own name
    FILE = "file"  # the destination is the file itself
    DIR = "dir"  # the source is a directory (or an archive of one)


@dataclass(slots=True)
class TaskArtifact:
    getter_source: str = ""
    getter_options: dict[str, str] = field(default_factory=dict)
    getter_headers: dict[str, str] = field(default_factory=dict)
    getter_mode: str = ""  # a GetterMode value; "" until canonicalized
    getter_insecure: bool = False
    relative_dest: str = ""
    chown: bool = False

    def canonicalize(self) -> None:
        """Nomad's defaults: mode ``any``; the destination ``local/``, or in file mode
        ``local/<the source's file name>``."""
        if not self.getter_mode:
            self.getter_mode = GetterMode.ANY
        if not self.relative_dest:
            if self.getter_mode == GetterMode.FILE:
                self.relative_dest = posixpath.join("local", posixpath.basename(
                    self.getter_source))
            else:
                self.relative_dest = DEFAULT_DESTINATION

    def hash(self) -> str:
        """Nomad's ``TaskArtifact.Hash``: the same source may be fetched twice to two
        destinations, so the identity covers every field (blake2b-256, base64 raw)."""
        digest = hashlib.blake2b(digest_size=32)
        digest.update(self.getter_source.encode())
        _hash_map(digest, self.getter_options)
        _hash_map(digest, self.getter_headers)
        digest.update(str(self.getter_mode).encode())
        digest.update(b"true" if self.getter_insecure else b"false")
        digest.update(self.relative_dest.encode())
        digest.update(b"true" if self.chown else b"false")
        return base64.b64encode(digest.digest()).decode().rstrip("=")


def _hash_map(digest: hashlib.blake2b, values: Mapping[str, str]) -> None:
    for key in sorted(values):
        digest.update(key.encode())
        digest.update(values[key].encode())


def destination_escapes(relative_dest: str) -> bool:
    """Whether a destination leaves the allocation directory (Nomad's
    ``PathEscapesAllocViaRelative("task", dest)``): it is taken relative to the
    task directory, one level below the allocation's, even when it is absolute."""
    alloc = "/alloc-dir/alloc-id"
    full = posixpath.normpath(posixpath.join(alloc, "task", relative_dest.lstrip("/")))
    return posixpath.relpath(full, alloc).startswith("..")


def checksum_error(value: str) -> str | None:
    """What is wrong with an ``options { checksum }`` value, or None (Nomad's
    ``validateChecksum``)."""
    if _ENV_REFERENCE.search(value):
        return None  # interpolated on the client; the download fails there if it is wrong
    check = value.strip()
    if not check:
        return "checksum value cannot be empty"
    parts = check.split(":")
    if len(parts) != 2:
        return f'checksum must be given as "type:value"; got {json.dumps(check)}'
    kind, digest = parts
    if not _HEX.fullmatch(digest) or len(digest) % 2:
        return f"invalid checksum: encoding/hex: invalid byte in {digest!r}"
    size = CHECKSUM_SIZES.get(kind)
    if size is None:
        return f"unsupported checksum type: {kind}"
    if len(digest) != 2 * size:
        return f"invalid {kind} checksum: {digest}"
    return None


def artifact_errors(artifact: TaskArtifact) -> Iterable[str]:
    """Every problem in one artifact, in Nomad's words."""
    if not artifact.getter_source:
        yield "source must be specified"
    modes = [mode.value for mode in GetterMode]
    if artifact.getter_mode and artifact.getter_mode not in modes:
        yield (f"invalid artifact mode {json.dumps(artifact.getter_mode)}; must be one of: "
               f"{', '.join(modes)}")
    if destination_escapes(artifact.relative_dest):
        yield "destination escapes allocation directory"
    checksum = artifact.getter_options.get("checksum")
    if checksum is not None:
        problem = checksum_error(checksum)
        if problem:
            yield problem
