"""Nomad Variables as a client sees them, in memory: the ``Variables.Read`` /
``Variables.List`` half of ``nomadjail.client.rpc.ServerRPC`` for client-side tests
(templates that read ``nomadVar``), without servers.

What it emulates: the workload path rule (a task reads ``nomad/jobs[/<job>[/<group>
[/<task>]]]`` of its allocation's namespace; anything else is PermissionDenied), an
unknown allocation (NotFound), blocking on an index (the answer comes when the
variable -- or, while it is missing, the table -- moves past ``index``, or after
``wait``).  What it does not: encryption, check-and-set, locks, node secrets.  Put
variables with :meth:`FakeVariables.put` / :meth:`delete`; mix it into a fake of the
servers or hand it over on its own.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

from ..server.variables_endpoint import WorkloadIdentity
from ..structs import DEFAULT_NAMESPACE, Allocation, NotFound, PermissionDenied
from ..structs.variables import Variable, VariableMetadata


class FakeVariables:
    def __init__(self, alloc: Callable[[str], Allocation | None]):
        self._alloc = alloc
        self._cond = threading.Condition()
        self.index = 1
        self.variables: dict[tuple[str, str], Variable] = {}
        self.reads: list[tuple[str, str, int]] = []  # (path, alloc ID, index) per call

    def put(self, path: str, items: dict[str, str],
            namespace: str = DEFAULT_NAMESPACE) -> Variable:
        with self._cond:
            self.index += 1
            existing = self.variables.get((namespace, path))
            var = Variable(namespace=namespace, path=path, items=dict(items),
                           create_index=existing.create_index if existing else self.index,
                           modify_index=self.index)
            self.variables[(namespace, path)] = var
            self._cond.notify_all()
            return var

    def delete(self, path: str, namespace: str = DEFAULT_NAMESPACE) -> None:
        with self._cond:
            self.index += 1
            self.variables.pop((namespace, path), None)
            self._cond.notify_all()

    def _identity(self, namespace: str, alloc_id: str, task: str) -> WorkloadIdentity:
        alloc = self._alloc(alloc_id)
        if alloc is None:
            raise NotFound(f"allocation {alloc_id!r} not found")
        group = alloc.job.lookup_task_group(alloc.task_group) if alloc.job else None
        who = WorkloadIdentity(namespace=alloc.namespace or DEFAULT_NAMESPACE,
                               job_id=alloc.job_id, group=alloc.task_group, task=task,
                               group_tasks=frozenset(t.name for t in group.tasks)
                               if group is not None else frozenset())
        if (namespace or DEFAULT_NAMESPACE) != who.namespace:
            raise PermissionDenied("Permission denied: another namespace")
        return who

    def read_variable(self, namespace: str, path: str, alloc_id: str, index: int,
                      wait: float, task: str = "") -> tuple[Variable | None, int]:
        who = self._identity(namespace, alloc_id, task)
        if not who.may_read(path):
            raise PermissionDenied(f"Permission denied: {path!r}")
        key = (namespace or DEFAULT_NAMESPACE, path)
        deadline = time.monotonic() + wait
        with self._cond:
            self.reads.append((path, alloc_id, index))
            while True:
                var = self.variables.get(key)
                current = var.modify_index if var is not None else self.index
                remaining = deadline - time.monotonic()
                if index <= 0 or current > index or remaining <= 0:
                    return (dataclasses.replace(var, items=dict(var.items))
                            if var is not None else None), current
                self._cond.wait(remaining)

    def list_variables(self, namespace: str, prefix: str, alloc_id: str, index: int,
                       wait: float, task: str = "") -> tuple[list[VariableMetadata], int]:
        who = self._identity(namespace, alloc_id, task)
        deadline = time.monotonic() + wait
        with self._cond:
            while index > 0 and self.index <= index and deadline > time.monotonic():
                self._cond.wait(deadline - time.monotonic())
            found = [var.metadata() for (ns, path), var in sorted(self.variables.items())
                     if ns == who.namespace and path.startswith(prefix) and who.may_read(path)]
            return found, self.index
