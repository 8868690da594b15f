"""Nomad Variables: small secret documents stored encrypted by the servers.

A variable is a map of string items at a path inside a namespace.  Three shapes
share one metadata envelope, as in Nomad's ``structs/variables.go``:

* :class:`VariableMetadata` -- what lists show (namespace, path, lock, indexes, times);
* :class:`Variable` (Nomad's ``VariableDecrypted``) -- metadata plus the cleartext
  ``Items``: what the HTTP API and the CLI exchange, never written to disk;
* :class:`VariableEncrypted` -- metadata plus ``Data`` (nonce and AES-GCM ciphertext,
  base64) and the ``KeyID`` of the root key that sealed it: the only form the raft
  log, the state store and snapshots hold.

The checks here are Nomad's own (path grammar, the reserved ``nomad/`` tree, the
64 KiB limit on the items, lock TTL bounds); :func:`variable_errors` collects every
problem of one variable so a request can be refused whole with all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .codec import field
from .consts import DEFAULT_NAMESPACE, SECOND

MAX_VARIABLE_SIZE = 65536
"""Bytes of keys plus values one variable may hold (Nomad's maxVariableSize; not
configurable, so nobody fills the raft log through it)."""
MAX_PATH_LENGTH = 128

MIN_LOCK_TTL = 10 * SECOND
MAX_LOCK_TTL = 24 * 3600 * SECOND
DEFAULT_LOCK_TTL = 15 * SECOND
DEFAULT_LOCK_DELAY = 15 * SECOND

# RFC 3986 unreserved characters without "." (templates use "." and "@" around paths).
_VALID_PATH = re.compile(r"[a-zA-Z0-9\-_~/]{1,128}")

WORKLOAD_ROOT = "nomad/jobs"
"""Every task may read this path; below it, the paths of its own job, group and task."""


class VarOp(StrEnum):
    """What one apply does (Nomad's VarOp)."""

    SET = "set"
    DELETE = "delete"
    DELETE_CAS = "delete-cas"
    CAS = "cas"
    LOCK_ACQUIRE = "lock-acquire"
    LOCK_RELEASE = "lock-release"


class VarOpResult(StrEnum):
    OK = "ok"
    CONFLICT = "conflict"
    ERROR = "error"


@dataclass(slots=True)
class VariableLock:
    """A variable used as a lock: its holder's ``ID``, the ``TTL`` it must renew within
    and the ``LockDelay`` before another caller may take it after it lapsed (ns)."""

    id: str = ""
    ttl: int = 0
    lock_delay: int = 0


@dataclass(slots=True)
class VariableMetadata:
    namespace: str = ""
    path: str = ""
    lock: VariableLock | None = None
    create_index: int = 0
    create_time: int = 0  # ns since the epoch
    modify_index: int = 0
    modify_time: int = 0  # ns since the epoch


@dataclass(slots=True)
class Variable:
    """A variable in the clear (Nomad's VariableDecrypted)."""

    namespace: str = ""
    path: str = ""
    lock: VariableLock | None = None
    create_index: int = 0
    create_time: int = 0
    modify_index: int = 0
    modify_time: int = 0
    items: dict[str, str] = field(default_factory=dict)

    def metadata(self) -> VariableMetadata:
        return VariableMetadata(namespace=self.namespace, path=self.path, lock=self.lock,
                                create_index=self.create_index, create_time=self.create_time,
                                modify_index=self.modify_index, modify_time=self.modify_time)


@dataclass(slots=True)
class VariableEncrypted:
    """A variable as stored: ``data`` is base64 of nonce + ciphertext + tag."""

    namespace: str = ""
    path: str = ""
    lock: VariableLock | None = None
    create_index: int = 0
    create_time: int = 0
    modify_index: int = 0
    modify_time: int = 0
    data: str = ""
    key_id: str = field("", key="KeyID")

    def metadata(self) -> VariableMetadata:
        return VariableMetadata(namespace=self.namespace, path=self.path, lock=self.lock,
                                create_index=self.create_index, create_time=self.create_time,
                                modify_index=self.modify_index, modify_time=self.modify_time)


def items_size(items: dict[str, str]) -> int:
    """Nomad's VariableItems.Size: bytes of every key and value."""
    return sum(len(k.encode()) + len(v.encode()) for k, v in items.items())


def path_errors(path: str) -> list[str]:
    """Nomad's validatePath, in its words."""
    if not path:
        return ["variable requires path"]
    if not _VALID_PATH.fullmatch(path):
        return [f"invalid path {path!r}: a path is 1 to {MAX_PATH_LENGTH} of the characters "
                "a-z A-Z 0-9 - _ ~ /"]
    if path.startswith("/") or path.endswith("/") or "//" in path:
        return [f"invalid path {path!r}: a path may not begin or end with \"/\" or hold an "
                "empty segment"]
    parts = path.split("/")
    if parts[0] != "nomad":
        return []
    if len(parts) == 1:
        return ['"nomad" is a reserved top-level directory path, but you may write variables '
                'to "nomad/jobs", "nomad/job-templates", or below']
    if parts[1] == "jobs" or (parts[1] == "job-templates" and len(parts) == 3):
        return []
    if parts[1] == "job-templates":
        return ['"nomad/job-templates" is a reserved directory path, but you may write '
                'variables at the level below it, for example, '
                '"nomad/job-templates/template-name"']
    return ['only paths at "nomad/jobs" or "nomad/job-templates" and below are valid paths '
            'under the top-level "nomad" directory']


def lock_errors(lock: VariableLock) -> list[str]:
    errors = []
    if lock.lock_delay < 0 or lock.ttl < 0:
        errors.append("Lock delay and TTL must be positive")
    if not MIN_LOCK_TTL <= lock.ttl <= MAX_LOCK_TTL:
        errors.append("TTL must be between 10 seconds and 24 hours")
    return errors


def variable_errors(var: Variable) -> list[str]:
    """Everything wrong with a variable someone wants to store (Nomad's Validate,
    collecting every problem instead of stopping at the first)."""
    errors = []
    if var.namespace == "*":
        errors.append('can not target wildcard ("*") namespace')
    if not var.items:
        errors.append("empty variables are invalid")
    else:
        empty_keys = [k for k in var.items if not k]
        if empty_keys:
            errors.append("variable items must have non-empty keys")
        size = items_size(var.items)
        if size > MAX_VARIABLE_SIZE:
            errors.append(f"variables are limited to 64KiB in total size (items of "
                          f"{var.path!r} hold {size} bytes)")
    if var.lock is not None:
        errors.extend(lock_errors(var.lock))
    errors.extend(path_errors(var.path))
    return errors


def canonicalize(var: Variable) -> None:
    """Defaults Nomad fills in: the default namespace, lock TTL and delay."""
    if not var.namespace:
        var.namespace = DEFAULT_NAMESPACE
    if var.lock is not None:
        if not var.lock.ttl:
            var.lock.ttl = DEFAULT_LOCK_TTL
        if not var.lock.lock_delay:
            var.lock.lock_delay = DEFAULT_LOCK_DELAY


def workload_paths(job_id: str, group: str, task: str) -> list[str]:
    """The paths a task may read without an ACL policy (Nomad's implicit workload
    rules): ``nomad/jobs`` and its job's, group's and task's paths below it."""
    paths = [WORKLOAD_ROOT, f"{WORKLOAD_ROOT}/{job_id}"]
    if group:
        paths.append(f"{WORKLOAD_ROOT}/{job_id}/{group}")
        if task:
            paths.append(f"{WORKLOAD_ROOT}/{job_id}/{group}/{task}")
    return paths
