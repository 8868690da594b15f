"""The ``variables`` and ``root_keys`` tables: Nomad Variables, sealed, and the keys that seal them.

The state store never sees a variable in the clear: :class:`VariableTable` holds
:class:`~nomadjail.structs.variables.VariableEncrypted` values keyed by
``(namespace, path)``, and its writes apply Nomad's operations -- set, check-and-set,
delete, delete-check-and-set -- with Nomad's conflict rules (``varSetCASTxn``,
``varDeleteCASTxn``).  A conflict changes nothing and answers with the *current*
variable (or an empty one naming the path, when the check expected something that
is not there), so the caller can show what won.

Like every table it is a value on persistent maps: a write returns a new table and a
snapshot that holds the old one never sees it change.  Root keys are a plain map from
key ID to :class:`~nomadjail.structs.keyring.RootKey` in
:attr:`~.snapshot.Tables.root_keys`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import immutables

from ..structs.variables import (
    VariableEncrypted,
    VariableMetadata,
    VarOp,
    VarOpResult,
)

VarKey = tuple[str, str]  # (namespace, path)
_EMPTY: immutables.Map = immutables.Map()


@dataclass(slots=True)
class VarApplyResult:
    """What one operation did (Nomad's VarApplyStateResponse): ``written`` is the
    stored metadata of a successful set; ``conflict`` the variable that made a
    check-and-set fail."""

    op: VarOp
    result: VarOpResult
    written: VariableMetadata | None = None
    conflict: VariableEncrypted | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.result == VarOpResult.OK


@dataclass(frozen=True, slots=True)
class VariableTable:
    """Every variable, sealed, by (namespace, path)."""

    by_key: immutables.Map = _EMPTY  # VarKey -> VariableEncrypted

    @classmethod
    def of(cls, variables: Iterable[VariableEncrypted]) -> VariableTable:
        return cls(immutables.Map({(v.namespace, v.path): v for v in variables}))

    def __len__(self) -> int:
        return len(self.by_key)

    def __iter__(self) -> Iterator[VariableEncrypted]:
        return iter(self.by_key.values())

    # -- reads -------------------------------------------------------------------
    def get(self, namespace: str, path: str) -> VariableEncrypted | None:
        return self.by_key.get((namespace, path))

    def listed(self, namespace: str | None, prefix: str = "") -> list[VariableEncrypted]:
        """Sorted by (namespace, path) as Nomad's index walk returns them;
        ``namespace=None`` means every namespace."""
        keys = sorted(key for key in self.by_key
                      if (namespace is None or key[0] == namespace) and key[1].startswith(prefix))
        return [self.by_key[key] for key in keys]

    def sealed_with(self, key_id: str) -> list[VariableEncrypted]:
        return [v for v in self.by_key.values() if v.key_id == key_id]

    # -- writes ------------------------------------------------------------------
    def applied(self, op: VarOp, var: VariableEncrypted, cas_index: int,
                index: int) -> tuple[VariableTable, VarApplyResult]:
        """The table after ``op`` at raft ``index`` and what happened.  ``cas_index`` is
        the ModifyIndex a check-and-set expects (0: "must not exist").

        A locked variable changes only for its lock holder (the request carries the
        lock's ID): anyone else's write or delete is a conflict, as in Nomad."""
        key = (var.namespace, var.path)
        existing = self.by_key.get(key)
        if op in (VarOp.CAS, VarOp.DELETE_CAS):
            conflict = _cas_conflict(existing, var, cas_index)
            if conflict is not None:
                return self, VarApplyResult(op, VarOpResult.CONFLICT, conflict=conflict)
        if op in (VarOp.LOCK_ACQUIRE, VarOp.LOCK_RELEASE):
            return self._lock_op(op, var, existing, index)
        if existing is not None and _locked(existing) and not _holder(existing, var):
            return self, VarApplyResult(op, VarOpResult.CONFLICT, conflict=existing)
        if op in (VarOp.DELETE, VarOp.DELETE_CAS):
            if existing is None:
                return self, VarApplyResult(op, VarOpResult.OK)
            return VariableTable(self.by_key.delete(key)), VarApplyResult(op, VarOpResult.OK)
        if op not in (VarOp.SET, VarOp.CAS):
            return self, VarApplyResult(op, VarOpResult.ERROR,
                                        error=f"unsupported variable operation {op!r}")
        # Lock parameters change only through lock-acquire; a plain write keeps them.
        lock = existing.lock if existing is not None and _locked(existing) else None
        return self._stored(op, dataclasses.replace(var, lock=lock), existing, index)

    def _stored(self, op: VarOp, var: VariableEncrypted, existing: VariableEncrypted | None,
                index: int) -> tuple[VariableTable, VarApplyResult]:
        stored = dataclasses.replace(
            var, modify_index=index,
            create_index=existing.create_index if existing else index,
            create_time=existing.create_time if existing else var.create_time)
        return (VariableTable(self.by_key.set((var.namespace, var.path), stored)),
                VarApplyResult(op, VarOpResult.OK, written=stored.metadata()))

    def _lock_op(self, op: VarOp, var: VariableEncrypted, existing: VariableEncrypted | None,
                 index: int) -> tuple[VariableTable, VarApplyResult]:
        if var.lock is None or not var.lock.id:
            return self, VarApplyResult(op, VarOpResult.ERROR, error="missing lock ID")
        if op == VarOp.LOCK_ACQUIRE:
            if existing is not None and _locked(existing):
                return self, VarApplyResult(op, VarOpResult.CONFLICT, conflict=existing)
            if not var.data and existing is not None:  # no new items: keep the old ones
                var = dataclasses.replace(var, data=existing.data, key_id=existing.key_id)
            return self._stored(op, var, existing, index)
        if existing is None:
            return self, VarApplyResult(op, VarOpResult.ERROR, error="variable not found")
        if not _holder(existing, var):
            return self, VarApplyResult(op, VarOpResult.CONFLICT, conflict=existing)
        released = dataclasses.replace(existing, lock=None, modify_time=var.modify_time
                                       or existing.modify_time)
        return self._stored(op, released, existing, index)


def _locked(var: VariableEncrypted) -> bool:
    return var.lock is not None and bool(var.lock.id)


def _holder(existing: VariableEncrypted, var: VariableEncrypted) -> bool:
    """Whether ``var`` (a request) carries the ID of ``existing``'s lock."""
    return (existing.lock is not None and var.lock is not None
            and var.lock.id == existing.lock.id)


def _cas_conflict(existing: VariableEncrypted | None, var: VariableEncrypted,
                  cas_index: int) -> VariableEncrypted | None:
    """The variable to answer a failed check with, or None when the check passes."""
    if existing is None:
        if cas_index == 0:
            return None
        return VariableEncrypted(namespace=var.namespace, path=var.path)
    if existing.modify_index != cas_index:
        return existing
    return None
