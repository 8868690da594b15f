"""A group's ``service`` blocks, kept registered by the allocation runner (Nomad's group
service hook).

Registered when the allocation starts running (before its tasks, as Nomad
does: a check may fail until a task answers), again after a client restart
(same IDs: nothing doubles), updated when the servers send a new version of
the allocation (a promoted canary loses its canary tags), and deregistered
before the tasks are killed and when the allocation is done or destroyed.
Shutting the client down leaves them registered, as it leaves the tasks running.

Addresses are the host's (group services have no driver network), names and
tags are interpolated with the allocation's environment.  ``check_restart`` of
a group service restarts the allocation's running tasks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ...structs import Allocation, Node, Task, TaskEvent
from .. import events
from ..taskenv import build_task_env
from .provider import ServiceProvider, ServiceProviders, ServiceRegistrationError
from .workload import Restarter, WorkloadServices, group_workload

log = logging.getLogger(__name__)

HOOK = "group_services"


class GroupServices:
    def __init__(self, *, providers: ServiceProviders | None, node: Callable[[], Node],
                 region: str, restarter: Restarter,
                 emit: Callable[[TaskEvent], None]) -> None:
        self._providers = providers
        self._node = node
        self._region = region
        self._restarter = restarter
        self._emit = emit
        self._lock = threading.Lock()
        self._workload: WorkloadServices | None = None
        self._provider: ServiceProvider | None = None
        self._done = False  # deregistered for good: the allocation stopped

    def _build(self, alloc: Allocation) -> WorkloadServices:
        node = self._node()
        env = build_task_env(alloc=alloc, task=Task(), node=node, region=self._region,
                             task_dir=None, host_env={})
        workload = group_workload(alloc, node, interpolate=env.replace)
        workload.restarter = self._restarter
        workload.events = self._emit
        return workload

    def register(self, alloc: Allocation) -> None:
        """The allocation runs (or runs again after a client restart)."""
        if self._providers is None:
            return
        workload = self._build(alloc)
        if not workload.services:
            return
        provider = self._providers.for_workload(workload)
        with self._lock:
            if self._done:
                return
            old, self._workload, self._provider = self._workload, workload, provider
        try:
            if old is not None:
                provider.update_workload(old, workload)
            else:
                provider.register_workload(workload)
        except ServiceRegistrationError as err:
            log.warning("alloc %s: %s", alloc.id, err)
            self._emit(events.hook_failed(HOOK, str(err)))

    def update(self, alloc: Allocation) -> None:
        """A new version of the allocation from the servers (services may have changed,
        a canary may have been promoted)."""
        if not alloc.terminal_status():
            self.register(alloc)

    def deregister(self) -> None:
        """The allocation stops: deregister, and never register again."""
        with self._lock:
            workload, provider = self._workload, self._provider
            self._workload = self._provider = None
            self._done = True
        if workload is not None and provider is not None:
            provider.remove_workload(workload)
