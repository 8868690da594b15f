"""Nomad Variables on the servers: writes, reads and the workload reads of tasks.

Every write is sealed here, before it becomes a raft message (see
:mod:`.keyring`), so the log, the state store and snapshots only ever hold
ciphertext; every read opens the stored variable on the server that answers.

Two kinds of caller, as in Nomad's ``Variables`` endpoint:

* **operators** (the public API, ``var put|get|list|purge``): any path of the
  namespace; writes may be checked-and-set against a ModifyIndex;
* **workloads** (agent RPC ``Variables.Read`` / ``Variables.List``, authenticated by
  the secret of the node that runs the allocation): only the paths Nomad grants a
  task implicitly -- ``nomad/jobs``, ``nomad/jobs/<job>``,
  ``nomad/jobs/<job>/<group>``, ``nomad/jobs/<job>/<group>/<task>`` -- and only in
  the allocation's namespace.  Anything else is 403 (ACL policies, which could grant
  more, are not built yet).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..state import StateSnapshot, StateStore
from ..state.variables import VarApplyResult
from ..structs import (
    DEFAULT_NAMESPACE,
    BadRequest,
    Node,
    NotFound,
    PermissionDenied,
    generate_uuid,
    now_ns,
)
from ..structs.validate import multierror
from ..structs.variables import (
    Variable,
    VariableEncrypted,
    VariableLock,
    VariableMetadata,
    VarOp,
    VarOpResult,
    canonicalize,
    path_errors,
    variable_errors,
)
from . import messages as m
from .keyring import Keyring

Apply = Callable[[Any], tuple[int, Any]]
Authenticate = Callable[[str, str], Node]  # (node ID, secret ID) -> the registered node

WORKLOAD_PREFIX = ("nomad", "jobs")


@dataclass(slots=True)
class VariablesApplyResponse:
    """What a write did (Nomad's VariablesApplyResponse): ``output`` is the stored
    variable after a set; ``conflict`` the current one when a check failed."""

    op: VarOp
    result: VarOpResult
    index: int = 0
    output: Variable | None = None
    conflict: Variable | None = None

    @property
    def is_conflict(self) -> bool:
        return self.result == VarOpResult.CONFLICT


@dataclass(frozen=True, slots=True)
class WorkloadIdentity:
    """Who a workload read is for: the allocation's namespace, job, group and task.

    ``task`` is "" when the caller did not name one; the task level then admits every
    task of ``group_tasks`` (the node that asks runs them all, so naming one would not
    prove more).  Name the task to get exactly Nomad's rule."""

    namespace: str
    job_id: str
    group: str
    task: str
    group_tasks: frozenset[str] = frozenset()

    def may_read(self, path: str) -> bool:
        """Nomad's authValidatePrefix: the path's segments must be a leading part of
        ``nomad/jobs/<job>/<group>/<task>`` (at least ``nomad/jobs``)."""
        expect = [*WORKLOAD_PREFIX, self.job_id, self.group, self.task]
        parts = path.split("/")
        if len(parts) < len(WORKLOAD_PREFIX) or len(parts) > len(expect):
            return False
        if not self.task and len(parts) == len(expect):
            return parts[:-1] == expect[:-1] and parts[-1] in self.group_tasks
        return all(part == want and want for part, want in zip(parts, expect, strict=False))


class VariablesEndpoint:
    def __init__(self, store: StateStore, apply: Apply, keyring: Keyring,
                 authenticate: Authenticate, *, clock: Callable[[], int] = now_ns):
        self.store = store
        self._apply = apply
        self.keyring = keyring
        self._authenticate = authenticate
        self._clock = clock

    # -- opening -----------------------------------------------------------------
    def opened(self, var: VariableEncrypted) -> Variable:
        return Variable(namespace=var.namespace, path=var.path, lock=var.lock,
                        create_index=var.create_index, create_time=var.create_time,
                        modify_index=var.modify_index, modify_time=var.modify_time,
                        items=self.keyring.open(var))

    # -- operator writes ---------------------------------------------------------
    def apply(self, var: Variable, *, cas_index: int | None = None) -> VariablesApplyResponse:
        """Store ``var`` (``cas_index``: only if its ModifyIndex is that, 0 meaning "only
        if it does not exist").  Refused with every problem (400) before anything is
        written; a failed check answers with the current variable, not an error."""
        var = dataclasses.replace(var, items=dict(var.items))
        canonicalize(var)
        errors = variable_errors(var)
        if errors:
            raise BadRequest(multierror(errors))
        op = VarOp.SET if cas_index is None else VarOp.CAS
        now = self._clock()
        key_id, data = self.keyring.seal_with_active(var.namespace, var.path, var.items)
        sealed = VariableEncrypted(namespace=var.namespace, path=var.path, lock=var.lock,
                                   create_time=now, modify_time=now, data=data, key_id=key_id)
        index, result = self._apply(m.VarApplyStateRequest(op=op, var=sealed,
                                                           cas_index=cas_index or 0))
        return self._response(op, index, result)

    def delete(self, namespace: str, path: str, *,
               cas_index: int | None = None) -> VariablesApplyResponse:
        namespace = namespace or DEFAULT_NAMESPACE
        errors = path_errors(path)
        if namespace == "*":
            errors.insert(0, 'can not target wildcard ("*") namespace')
        if errors:
            raise BadRequest(multierror(errors))
        op = VarOp.DELETE if cas_index is None else VarOp.DELETE_CAS
        index, result = self._apply(m.VarApplyStateRequest(
            op=op, var=VariableEncrypted(namespace=namespace, path=path),
            cas_index=cas_index or 0))
        return self._response(op, index, result)

    # -- locks -------------------------------------------------------------------
    def lock_acquire(self, var: Variable) -> VariablesApplyResponse:
        """Lock ``var`` (made if it does not exist; its items replaced when the request
        has some).  The answer's ``output`` carries the lock ID every later call on the
        lock needs; a variable locked by someone else is a conflict."""
        var = dataclasses.replace(var, items=dict(var.items),
                                  lock=dataclasses.replace(var.lock) if var.lock
                                  else VariableLock())
        canonicalize(var)
        errors = [e for e in variable_errors(var) if e != "empty variables are invalid"]
        if errors:
            raise BadRequest(multierror(errors))
        assert var.lock is not None
        var.lock.id = generate_uuid()
        now = self._clock()
        key_id, data = "", ""
        if var.items or self.store.variables.get(var.namespace, var.path) is None:
            key_id, data = self.keyring.seal_with_active(var.namespace, var.path, var.items)
        sealed = VariableEncrypted(namespace=var.namespace, path=var.path, lock=var.lock,
                                   create_time=now, modify_time=now, data=data, key_id=key_id)
        index, result = self._apply(m.VarApplyStateRequest(op=VarOp.LOCK_ACQUIRE, var=sealed))
        return self._response(VarOp.LOCK_ACQUIRE, index, result)

    def lock_release(self, namespace: str, path: str, lock_id: str) -> VariablesApplyResponse:
        """Give up a lock (the variable stays); a wrong lock ID is a conflict."""
        namespace, errors = self._lock_target(namespace, path, lock_id)
        if errors:
            raise BadRequest(multierror(errors))
        index, result = self._apply(m.VarApplyStateRequest(
            op=VarOp.LOCK_RELEASE, var=VariableEncrypted(
                namespace=namespace, path=path, lock=VariableLock(id=lock_id),
                modify_time=self._clock())))
        return self._response(VarOp.LOCK_RELEASE, index, result)

    def lock_renew(self, namespace: str, path: str, lock_id: str
                   ) -> tuple[VariableMetadata, int]:
        """Restart the lock's TTL; Conflict when ``lock_id`` does not hold it (any more)."""
        namespace, errors = self._lock_target(namespace, path, lock_id)
        if errors:
            raise BadRequest(multierror(errors))
        index, meta = self._apply(m.VarLockRenewRequest(namespace=namespace, path=path,
                                                        lock_id=lock_id))
        return meta, index

    @staticmethod
    def _lock_target(namespace: str, path: str, lock_id: str) -> tuple[str, list[str]]:
        errors = path_errors(path)
        if not lock_id:
            errors.append("missing lock ID")
        return namespace or DEFAULT_NAMESPACE, errors

    def _response(self, op: VarOp, index: int, result: VarApplyResult) -> VariablesApplyResponse:
        if result.result == VarOpResult.ERROR:
            raise BadRequest(result.error)
        response = VariablesApplyResponse(op=op, result=result.result, index=index)
        if result.conflict is not None:
            conflict = result.conflict
            response.conflict = (self.opened(conflict) if conflict.data else
                                 Variable(namespace=conflict.namespace, path=conflict.path))
        elif result.written is not None:
            stored = self.store.variables.get(result.written.namespace, result.written.path)
            if stored is not None and stored.modify_index == result.written.modify_index:
                response.output = self.opened(stored)
        return response

    # -- reads -------------------------------------------------------------------
    @staticmethod
    def read_sealed(snapshot: StateSnapshot, namespace: str,
                    path: str) -> VariableEncrypted | None:
        return snapshot.variables.get(namespace or DEFAULT_NAMESPACE, path)

    @staticmethod
    def list_metadata(snapshot: StateSnapshot, namespace: str | None,
                      prefix: str = "") -> list[VariableMetadata]:
        """Sorted by (namespace, path); ``namespace=None`` lists every namespace."""
        return [var.metadata() for var in snapshot.variables.listed(namespace, prefix)]

    # -- workload reads ----------------------------------------------------------
    def workload(self, secret_id: str, alloc_id: str, task: str = "") -> WorkloadIdentity:
        """The identity of allocation ``alloc_id`` (and its ``task``), after checking
        that the caller is the node that runs it."""
        if not alloc_id:
            raise BadRequest("missing AllocID: a workload read names its allocation")
        alloc = self.store.alloc_by_id(alloc_id)
        if alloc is None:
            raise NotFound(f"allocation {alloc_id!r} not found")
        self._authenticate(alloc.node_id, secret_id)
        if alloc.terminal_status():
            raise PermissionDenied(f"Permission denied: allocation {alloc_id} is stopped")
        group = alloc.job.lookup_task_group(alloc.task_group) if alloc.job else None
        tasks = frozenset(t.name for t in group.tasks) if group is not None else frozenset()
        if task and group is not None and task not in tasks:
            raise BadRequest(f"task {task!r} is not in group {alloc.task_group!r} of "
                             f"allocation {alloc_id}")
        return WorkloadIdentity(namespace=alloc.namespace or DEFAULT_NAMESPACE,
                                job_id=alloc.job_id, group=alloc.task_group, task=task,
                                group_tasks=tasks)

    def check_workload_path(self, who: WorkloadIdentity, namespace: str, path: str) -> None:
        namespace = namespace or DEFAULT_NAMESPACE
        if namespace != who.namespace:
            raise PermissionDenied(f"Permission denied: allocation of job {who.job_id!r} "
                                   f"runs in namespace {who.namespace!r}, not {namespace!r}")
        if not who.may_read(path):
            raise PermissionDenied(f"Permission denied: a task of job {who.job_id!r} may "
                                   f"read only nomad/jobs/{who.job_id}[/{who.group}"
                                   f"[/{who.task or '<its task>'}]] and nomad/jobs, not "
                                   f"{path!r}")

    @staticmethod
    def workload_list(snapshot: StateSnapshot, who: WorkloadIdentity,
                      prefix: str) -> list[VariableMetadata]:
        """The variables under ``prefix`` this workload may read (others are left out,
        as Nomad filters a workload's list)."""
        return [var.metadata() for var in snapshot.variables.listed(who.namespace, prefix)
                if who.may_read(var.path)]
