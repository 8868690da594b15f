"""The hook phases of a task runner and what a hook may rely on.

A hook is any object with a ``name`` and one or more of these methods; the
task runner calls only the phases a hook has (sorted once, when the runner is
set up, by :mod:`nomadjail.client.task_runner_hooks`):

==============  ===========================================================
``prestart``    before each start attempt, in order; may fill the context
                (env, interpolated config, log paths).  Raising
                :class:`HookError` aborts the attempt: the error goes to the
                restart policy (recoverable or not) and its event is emitted.
``poststart``   after the driver started the task (errors are only logged)
``exited``      after the task exited, before the restart decision
``stop``        once, when the task runner is done with the task for good
``update``      when the server sent a new version of the allocation
==============  ===========================================================

Hooks keep per-task state that must survive a client restart (a one-time step
already done) in ``ctx.hook_state[hook.name]``, which the runner persists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ...drivers.base import Capabilities, Driver, ExitResult, MountConfig, TaskHandle
from ...structs import Allocation, Node, Task, TaskEvent
from ..allocdir import AllocDir, TaskDir
from ..config import ClientConfig
from ..services.provider import ServiceProviders
from ..services.workload import Restarter
from ..taskenv import TaskEnv


class HookError(Exception):
    """A hook could not do its step; ``event`` (if any) tells the user why."""

    def __init__(self, message: str, *, event: TaskEvent | None = None,
                 recoverable: bool = False) -> None:
        super().__init__(message)
        self.event = event
        self.recoverable = recoverable


@dataclass
class HookContext:
    """What the hooks of one task share during one start attempt."""

    alloc: Allocation
    task: Task
    node: Node
    config: ClientConfig
    driver: Driver
    capabilities: Capabilities
    alloc_dir: AllocDir
    task_dir: TaskDir
    emit: Callable[[TaskEvent], None]  # append an event to the task's state
    hook_state: dict[str, dict[str, str]] = field(default_factory=dict)
    services: ServiceProviders | None = None  # where the task's services are registered
    restarter: Restarter | None = None  # restarts the task for check_restart
    # True once the task is being killed or the client shuts down: a long prestart step
    # (a download) stops early rather than hold up the kill.
    cancelled: Callable[[], bool] = field(default=lambda: False)
    # Filled by the prestart hooks:
    env: TaskEnv | None = None
    driver_config: dict[str, Any] = field(default_factory=dict)  # interpolated task config
    stdout_path: str = ""
    stderr_path: str = ""
    log_max_files: int = 10
    log_max_file_size_mb: int = 10
    volume_mounts: list[MountConfig] = field(default_factory=list)  # host volumes to mount


@runtime_checkable
class PrestartHook(Protocol):
    name: str

    def prestart(self, ctx: HookContext) -> None: ...


@runtime_checkable
class PoststartHook(Protocol):
    name: str

    def poststart(self, ctx: HookContext, handle: TaskHandle) -> None: ...


@runtime_checkable
class PrekillHook(Protocol):
    name: str

    def prekill(self, ctx: HookContext) -> None: ...


@runtime_checkable
class ExitedHook(Protocol):
    name: str

    def exited(self, ctx: HookContext, result: ExitResult) -> None: ...


@runtime_checkable
class StopHook(Protocol):
    name: str

    def stop(self, ctx: HookContext) -> None: ...


@runtime_checkable
class UpdateHook(Protocol):
    name: str

    def update(self, ctx: HookContext) -> None: ...


TaskHook = PrestartHook | PoststartHook | PrekillHook | ExitedHook | StopHook | UpdateHook
"""A hook implements one or more of the phases above."""
