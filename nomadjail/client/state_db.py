"""The client's local state: what it needs to pick up its work after a restart.

For every allocation the client runs it keeps the allocation (with its job),
the deployment health it reported and, per task, the :class:`TaskState` the
servers see plus the :class:`LocalTaskState` only the client needs: the
driver's :class:`TaskHandle` (to re-attach), the start record of a start in
progress, the restart counter and which one-time hooks already ran.  It also
keeps the IDs of the allocations it finished and removed, so it does not
download them again while the servers still list them.

:class:`FileStateDB` writes JSON files under ``<data_dir>/client/state/``::

    allocs/<alloc_id>/alloc.json
    allocs/<alloc_id>/deployment.json
    allocs/<alloc_id>/task-<task>.state.json
    allocs/<alloc_id>/task-<task>.local.json
    collected.json

Every write goes to a temporary file that is flushed, fsynced and renamed over
the old one, so after a crash (kill -9, power loss) each file holds either the
previous or the new content, never a torn mix; a write that fails removes its
temporary file and raises.  A file that still cannot be read is reported, not
fatal: the client skips that allocation.

Writes of task states and deployment health for an allocation that is not
stored (never put, or deleted) are dropped, so a late write from a runner
never resurrects a deleted allocation.  Nothing is remembered per allocation
once it is deleted.

:class:`MemoryStateDB` keeps the same data in memory (tests, benchmarks,
dev mode without a data dir).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from ..drivers.base import StartRecord, TaskHandle
from ..helper.atomic_file import write_json_atomically
from ..structs import Allocation, AllocDeploymentStatus, TaskState, from_api, to_api

COLLECTED_FILE = "collected.json"


@dataclass(slots=True)
class LocalTaskState:
    """What only the client needs to continue a task after it restarts."""

    handle: TaskHandle | None = None
    # Persisted before the driver starts the task, cleared once ``handle`` is: one left
    # over means the client died inside start_task (the driver may have started it).
    start_record: StartRecord | None = None
    # Tasks the driver failed to destroy: kept (and retried) until it succeeds.
    destroy_pending: list[TaskHandle] = field(default_factory=list)
    run_complete: bool = False  # the task runner finished for good (dead, stop hooks ran)
    restart_count: int = 0
    restart_interval_start: float = 0.0  # seconds since the epoch
    hook_state: dict[str, dict[str, str]] = field(default_factory=dict)


class StateDB(Protocol):
    def get_allocations(self) -> tuple[list[Allocation], dict[str, str]]:
        """Every stored allocation, and ``{alloc ID: why it could not be read}``."""
        ...

    def put_allocation(self, alloc: Allocation) -> None: ...

    def delete_allocation(self, alloc_id: str) -> None:
        """Forget the allocation and everything stored under it (idempotent)."""
        ...

    def get_task_state(self, alloc_id: str, task: str
                       ) -> tuple[LocalTaskState | None, TaskState | None]: ...

    def put_task_local_state(self, alloc_id: str, task: str, local: LocalTaskState) -> None:
        """Dropped when the allocation is not stored."""
        ...

    def put_task_state(self, alloc_id: str, task: str, state: TaskState) -> None:
        """Dropped when the allocation is not stored."""
        ...

    def get_deployment_status(self, alloc_id: str) -> AllocDeploymentStatus | None: ...

    def put_deployment_status(self, alloc_id: str, status: AllocDeploymentStatus) -> None:
        """Dropped when the allocation is not stored."""
        ...

    def get_collected_allocs(self) -> set[str]:
        """The allocations this client finished and removed (see ``put_collected_allocs``)."""
        ...

    def put_collected_allocs(self, alloc_ids: Iterable[str]) -> None:
        """Replace the set of allocations this client finished and removed."""
        ...


class FileStateDB:
    """JSON files under ``state_dir`` (normally ``<data_dir>/client/state``)."""

    def __init__(self, state_dir: str, *, fsync: bool = True) -> None:
        self.state_dir = state_dir
        self.allocs_dir = os.path.join(state_dir, "allocs")
        self._fsync = fsync
        os.makedirs(self.allocs_dir, exist_ok=True)
        self._lock = threading.Lock()
        # One lock per allocation being written, held by the writers (counted) and
        # dropped when the last one is done, so the table never outgrows the writers.
        self._alloc_locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextlib.contextmanager
    def _locked(self, alloc_id: str) -> Iterator[None]:
        """Serialise the writes of one allocation."""
        with self._lock:
            lock, users = self._alloc_locks.get(alloc_id) or (threading.Lock(), 0)
            self._alloc_locks[alloc_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                _, users = self._alloc_locks[alloc_id]
                if users <= 1:
                    del self._alloc_locks[alloc_id]
                else:
                    self._alloc_locks[alloc_id] = (lock, users - 1)

    def _alloc_dir(self, alloc_id: str) -> str:
        return os.path.join(self.allocs_dir, quote(alloc_id, safe=""))

    def _task_file(self, alloc_id: str, task: str, kind: str) -> str:
        return os.path.join(self._alloc_dir(alloc_id), f"task-{quote(task, safe='')}.{kind}.json")

    def _put_under_alloc(self, alloc_id: str, path: str, data: Any) -> None:
        """Write a file of a stored allocation; dropped if the allocation is not stored."""
        with self._locked(alloc_id):
            if not os.path.isdir(self._alloc_dir(alloc_id)):
                return
            write_json_atomically(path, data, fsync=self._fsync)

    @staticmethod
    def _read(path: str) -> Any:
        try:
            with open(path, encoding="utf-8") as src:
                return json.load(src)
        except FileNotFoundError:
            return None

    def get_allocations(self) -> tuple[list[Allocation], dict[str, str]]:
        allocs: list[Allocation] = []
        errors: dict[str, str] = {}
        for name in sorted(os.listdir(self.allocs_dir)):
            path = os.path.join(self.allocs_dir, name, "alloc.json")
            try:
                data = self._read(path)
                if data is None:
                    continue
                allocs.append(from_api(Allocation, data))
            except (OSError, ValueError) as err:
                errors[name] = f"{path}: {err}"
        return allocs, errors

    def put_allocation(self, alloc: Allocation) -> None:
        with self._locked(alloc.id):
            os.makedirs(self._alloc_dir(alloc.id), exist_ok=True)
            write_json_atomically(os.path.join(self._alloc_dir(alloc.id), "alloc.json"),
                              to_api(alloc), fsync=self._fsync)

    def delete_allocation(self, alloc_id: str) -> None:
        with self._locked(alloc_id):
            shutil.rmtree(self._alloc_dir(alloc_id), ignore_errors=True)

    def get_task_state(self, alloc_id: str, task: str
                       ) -> tuple[LocalTaskState | None, TaskState | None]:
        local = self._read(self._task_file(alloc_id, task, "local"))
        state = self._read(self._task_file(alloc_id, task, "state"))
        return (from_api(LocalTaskState, local) if local is not None else None,
                from_api(TaskState, state) if state is not None else None)

    def put_task_local_state(self, alloc_id: str, task: str, local: LocalTaskState) -> None:
        self._put_under_alloc(alloc_id, self._task_file(alloc_id, task, "local"), to_api(local))

    def put_task_state(self, alloc_id: str, task: str, state: TaskState) -> None:
        self._put_under_alloc(alloc_id, self._task_file(alloc_id, task, "state"), to_api(state))

    def get_deployment_status(self, alloc_id: str) -> AllocDeploymentStatus | None:
        data = self._read(os.path.join(self._alloc_dir(alloc_id), "deployment.json"))
        return from_api(AllocDeploymentStatus, data) if data is not None else None

    def put_deployment_status(self, alloc_id: str, status: AllocDeploymentStatus) -> None:
        self._put_under_alloc(alloc_id, os.path.join(self._alloc_dir(alloc_id),
                                                     "deployment.json"), to_api(status))

    def get_collected_allocs(self) -> set[str]:
        data = self._read(os.path.join(self.state_dir, COLLECTED_FILE))
        if not isinstance(data, list):
            return set()
        return {alloc_id for alloc_id in data if isinstance(alloc_id, str)}

    def put_collected_allocs(self, alloc_ids: Iterable[str]) -> None:
        with self._lock:
            write_json_atomically(os.path.join(self.state_dir, COLLECTED_FILE),
                              sorted(set(alloc_ids)), fsync=self._fsync)


class MemoryStateDB:
    """The same contract, in memory: copies in, copies out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._allocs: dict[str, Allocation] = {}
        self._local: dict[tuple[str, str], LocalTaskState] = {}
        self._states: dict[tuple[str, str], TaskState] = {}
        self._deployments: dict[str, AllocDeploymentStatus] = {}
        self._collected: set[str] = set()

    def get_allocations(self) -> tuple[list[Allocation], dict[str, str]]:
        with self._lock:
            return [copy.deepcopy(a) for a in self._allocs.values()], {}

    def put_allocation(self, alloc: Allocation) -> None:
        with self._lock:
            self._allocs[alloc.id] = copy.deepcopy(alloc)

    def delete_allocation(self, alloc_id: str) -> None:
        with self._lock:
            self._allocs.pop(alloc_id, None)
            self._deployments.pop(alloc_id, None)
            for table in (self._local, self._states):
                for key in [k for k in table if k[0] == alloc_id]:
                    del table[key]

    def get_task_state(self, alloc_id: str, task: str
                       ) -> tuple[LocalTaskState | None, TaskState | None]:
        with self._lock:
            return (copy.deepcopy(self._local.get((alloc_id, task))),
                    copy.deepcopy(self._states.get((alloc_id, task))))

    def put_task_local_state(self, alloc_id: str, task: str, local: LocalTaskState) -> None:
        with self._lock:
            if alloc_id in self._allocs:
                self._local[(alloc_id, task)] = copy.deepcopy(local)

    def put_task_state(self, alloc_id: str, task: str, state: TaskState) -> None:
        with self._lock:
            if alloc_id in self._allocs:
                self._states[(alloc_id, task)] = copy.deepcopy(state)

    def get_deployment_status(self, alloc_id: str) -> AllocDeploymentStatus | None:
        with self._lock:
            return copy.deepcopy(self._deployments.get(alloc_id))

    def put_deployment_status(self, alloc_id: str, status: AllocDeploymentStatus) -> None:
        with self._lock:
            if alloc_id in self._allocs:
                self._deployments[alloc_id] = copy.deepcopy(status)

    def get_collected_allocs(self) -> set[str]:
        with self._lock:
            return set(self._collected)

    def put_collected_allocs(self, alloc_ids: Iterable[str]) -> None:
        with self._lock:
            self._collected = set(alloc_ids)
