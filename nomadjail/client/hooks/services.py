"""A task's ``service`` blocks: registered while the task runs (Nomad's service hook).

* **poststart** -- once the driver started the task (or the client re-attached to
  it after a restart): the task's services are registered with their provider,
  addressed by the network the driver reports (``TaskHandle.network``: a pot's
  own IP), and its script checks start running.
* **update** -- a new version of the allocation (a canary promoted, new tags):
  the registration is updated in place.
* **prekill** -- before the task is killed (stop, restart): deregistered, so no
  traffic is sent to a task that is going away; script checks stop.
* **exited** / **stop** -- deregistered (if not already).

Registration is asynchronous (see :mod:`nomadjail.client.services.provider`):
nothing here waits for Consul.  What cannot be registered (an address that
cannot be worked out, no Consul on this client) becomes a "Task hook failed"
event; the task runs on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ...drivers.base import ExecResult, ExitResult, TaskHandle
from .. import events
from ..services.provider import ServiceProvider, ServiceRegistrationError
from ..services.script_checks import ScriptChecks
from ..services.workload import WorkloadServices, script_checks_for_task, task_workload
from ..taskenv import build_task_env
from .base import HookContext


def _interpolator(ctx: HookContext) -> Callable[[str], str]:
    """The task's environment as an interpolation (rebuilt: an update may change it)."""
    env = build_task_env(alloc=ctx.alloc, task=ctx.task, node=ctx.node,
                         region=ctx.config.region, task_dir=ctx.task_dir,
                         fs_isolation=ctx.capabilities.fs_isolation,
                         env_denylist=ctx.config.env_denylist())
    return env.replace


class TaskServicesHook:
    name = "task_services"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workload: WorkloadServices | None = None
        self._provider: ServiceProvider | None = None
        self._handle: TaskHandle | None = None
        self._scripts: ScriptChecks | None = None

    def _build(self, ctx: HookContext, handle: TaskHandle) -> WorkloadServices:
        workload = task_workload(ctx.alloc, ctx.task, ctx.node, interpolate=_interpolator(ctx),
                                 driver_network=handle.network)
        workload.restarter = ctx.restarter
        workload.events = ctx.emit
        return workload

    def poststart(self, ctx: HookContext, handle: TaskHandle) -> None:
        if ctx.services is None:
            return
        workload = self._build(ctx, handle)
        scripts = script_checks_for_task(ctx.alloc, ctx.task, workload.interpolate)
        provider = ctx.services.for_workload(workload) if workload.services else None
        with self._lock:
            self._stop_scripts_locked()
            self._handle = handle
            self._workload, self._provider = (workload, provider) if provider else (None, None)
            if scripts:
                group = ctx.alloc.lookup_task_group()
                # One group, one provider (validation sees to it).
                named = [s.provider for s in [*ctx.task.services,
                                              *(group.services if group else [])]]
                script_provider = ctx.services.get(named[0] if named else "")
                driver = ctx.driver

                def run(argv: list[str], timeout: float) -> ExecResult:
                    return driver.exec_task(handle, argv, timeout)

                self._scripts = ScriptChecks(scripts, run, script_provider.update_ttl,
                                             name=f"script-checks-{ctx.alloc.id[:8]}-"
                                                  f"{ctx.task.name}").start()
        if provider is not None:
            self._register(ctx, lambda: provider.register_workload(workload))

    def _register(self, ctx: HookContext, call: Callable[[], None]) -> None:
        try:
            call()
        except ServiceRegistrationError as err:
            ctx.emit(events.hook_failed(self.name, str(err)))

    def update(self, ctx: HookContext) -> None:
        with self._lock:
            old, provider, handle = self._workload, self._provider, self._handle
        if old is None or provider is None or handle is None or ctx.services is None:
            return
        new = self._build(ctx, handle)
        with self._lock:
            if self._workload is not old:
                return  # deregistered meanwhile
            self._workload = new
        self._register(ctx, lambda: provider.update_workload(old, new))

    def prekill(self, ctx: HookContext) -> None:
        self._deregister()

    def exited(self, ctx: HookContext, result: ExitResult) -> None:
        self._deregister()

    def stop(self, ctx: HookContext) -> None:
        self._deregister()

    def _stop_scripts_locked(self) -> None:
        if self._scripts is not None:
            self._scripts.stop()
            self._scripts = None

    def _deregister(self) -> None:
        with self._lock:
            workload, provider = self._workload, self._provider
            self._workload = self._provider = None
            self._stop_scripts_locked()
        if workload is not None and provider is not None:
            provider.remove_workload(workload)
