"""A task: one program a group runs, with the driver, resources and policies for it.

Fields a user may leave out are ``None`` until :meth:`Task.canonicalize`
fills Nomad's defaults; :func:`task_errors` holds the rules Nomad's
``Task.Validate`` checks.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from .artifact import TaskArtifact, artifact_errors
from .codec import field
from .constraint import Affinity, Constraint, constraint_errors
from .consts import SECOND
from .policies import RestartPolicy, restart_errors
from .resources import Resources
from .services import Service
from .template import Template, templates_errors


@dataclass(slots=True)
class LogConfig:
    max_files: int | None = None
    max_file_size_mb: int | None = field(None, key="MaxFileSizeMB")
    disabled: bool | None = None

    def canonicalize(self) -> None:
        if self.max_files is None:
            self.max_files = 10
        if self.max_file_size_mb is None:
            self.max_file_size_mb = 10
        if self.disabled is None:
            self.disabled = False


@dataclass(slots=True)
class VolumeMount:
    volume: str = ""
    destination: str = ""
    read_only: bool = False
    propagation_mode: str = ""


@dataclass(slots=True)
class TaskLifecycle:
    hook: str = ""  # a TaskLifecycleHook value; "" for a main task
    sidecar: bool = False


@dataclass(slots=True)
class Task:
    name: str = ""
    driver: str = ""
    user: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    kill_timeout: int | None = None  # ns
    kill_signal: str = ""
    log_config: LogConfig | None = field(None, key="LogConfig")
    volume_mounts: list[VolumeMount] = field(default_factory=list)
    lifecycle: TaskLifecycle | None = None
    leader: bool = False
    shutdown_delay: int = 0  # ns
    kind: str = ""
    templates: list[Template] = field(default_factory=list)
    artifacts: list[TaskArtifact] = field(default_factory=list)

    def canonicalize(self, group_restart_policy: RestartPolicy) -> None:
        """Fill defaults; the task's restart policy is merged onto its group's."""
        if self.resources is None:
            self.resources = Resources()
        self.resources.canonicalize()
        if self.kill_timeout is None:
            self.kill_timeout = 5 * SECOND
        if self.log_config is None:
            self.log_config = LogConfig()
        self.log_config.canonicalize()
        if self.restart_policy is None:
            self.restart_policy = copy.copy(group_restart_policy)
        else:
            self.restart_policy = self.restart_policy.merged_onto(group_restart_policy)
        for tmpl in self.templates:
            tmpl.canonicalize()
        for artifact in self.artifacts:
            artifact.canonicalize()


def task_errors(task: Task, group_volumes: Collection[str]) -> Iterable[str]:
    """Every problem in ``task``; ``group_volumes`` names the volumes its group declares."""
    if not task.driver:
        yield "Missing task driver"
    if task.kill_timeout is not None and task.kill_timeout < 0:
        yield "KillTimeout must be a positive value"
    if task.shutdown_delay < 0:
        yield "ShutdownDelay must be a positive value"
    res = task.resources
    if res is not None:
        if res.cpu is not None and res.cpu < 1 and not res.cores:
            yield f"Minimum CPU value is 1; got {res.cpu}"
        if res.memory_mb is not None and res.memory_mb < 10:
            yield f"Minimum MemoryMB value is 10; got {res.memory_mb}"
        if res.memory_max_mb and res.memory_mb and res.memory_max_mb < res.memory_mb:
            yield (f"MemoryMaxMB value ({res.memory_max_mb}) should be larger than MemoryMB "
                   f"value ({res.memory_mb})")
    if task.log_config is not None:
        if (task.log_config.max_files or 0) < 1:
            yield f"must have at least one number of files; got {task.log_config.max_files}"
        if (task.log_config.max_file_size_mb or 0) < 1:
            yield ("max size of log files must be 1MB or more; got "
                   f"{task.log_config.max_file_size_mb}")
    for i, constraint in enumerate(task.constraints, 1):
        for err in constraint_errors(constraint):
            yield f"Constraint {i} validation failed: {err}"
    if task.restart_policy is not None:
        for err in restart_errors(task.restart_policy):
            yield f"Restart policy validation failed: {err}"
    for mount in task.volume_mounts:
        if mount.volume not in group_volumes:
            yield f"Volume Mount referenced undefined volume {mount.volume!r}"
    yield from templates_errors(task.templates)
    for i, artifact in enumerate(task.artifacts, 1):
        for err in artifact_errors(artifact):
            yield f"Artifact {i} validation failed: {err}"
