"""A task group: the tasks placed together on one node, as one allocation, ``count`` times.

Fields a user may leave out are ``None`` until :meth:`TaskGroup.canonicalize`
merges the job-level policies and fills Nomad's defaults for the job type;
:func:`group_errors` holds the rules Nomad's ``TaskGroup.Validate`` checks.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass

from .codec import field
from .constraint import Affinity, Constraint, constraint_errors
from .consts import JobType
from .policies import (
    MigrateStrategy,
    ReschedulePolicy,
    RestartPolicy,
    UpdateStrategy,
    default_reschedule_policy,
    default_restart_policy,
    default_update_strategy,
    reschedule_errors,
    restart_errors,
)
from .resources import DEFAULT_DISK_MB, NetworkResource
from .scaling import ScalingPolicy, scaling_errors
from .services import Service, group_service_errors, task_service_errors
from .task import Task, task_errors


@dataclass(slots=True)
class EphemeralDisk:
    sticky: bool | None = None
    migrate: bool | None = None
    size_mb: int | None = field(None, key="SizeMB")

    def canonicalize(self) -> None:
        if self.sticky is None:
            self.sticky = False
        if self.migrate is None:
            self.migrate = False
        if self.size_mb is None:
            self.size_mb = DEFAULT_DISK_MB


@dataclass(slots=True)
class VolumeRequest:
    name: str = ""
    type: str = ""
    source: str = ""
    read_only: bool = False
    per_alloc: bool = False


@dataclass(slots=True)
class TaskGroup:
    name: str = ""
    count: int | None = None
    constraints: list[Constraint] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    volumes: dict[str, VolumeRequest] = field(default_factory=dict)
    restart_policy: RestartPolicy | None = None
    reschedule_policy: ReschedulePolicy | None = None
    ephemeral_disk: EphemeralDisk | None = None
    update: UpdateStrategy | None = None
    migrate: MigrateStrategy | None = None
    networks: list[NetworkResource] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    shutdown_delay: int | None = None  # ns
    scaling: ScalingPolicy | None = None

    def lookup_task(self, name: str) -> Task | None:
        return next((t for t in self.tasks if t.name == name), None)

    def canonicalize(self, job_type: str, job_update: UpdateStrategy | None,
                     job_reschedule: ReschedulePolicy | None, *,
                     job_migrate: MigrateStrategy | None = None) -> None:
        """Fill defaults; the group's update and reschedule blocks are merged onto
        the job's (``job_update``, ``job_reschedule``), then onto Nomad's defaults
        for ``job_type``."""
        job_type = job_type or JobType.SERVICE
        if self.count is None:
            self.count = 1
        if self.ephemeral_disk is None:
            self.ephemeral_disk = EphemeralDisk()
        self.ephemeral_disk.canonicalize()
        if job_update is not None and self.update is not None:
            self.update = self.update.merged_onto(job_update)
        elif job_update is not None:
            self.update = copy.copy(job_update)
        if self.update is not None:
            self.update = self.update.merged_onto(default_update_strategy())
        default_reschedule = default_reschedule_policy(job_type)
        if self.reschedule_policy is not None and job_reschedule is not None:
            self.reschedule_policy = self.reschedule_policy.merged_onto(job_reschedule)
        elif job_reschedule is not None:
            self.reschedule_policy = copy.copy(job_reschedule)
        if self.reschedule_policy is not None and default_reschedule is not None:
            self.reschedule_policy = self.reschedule_policy.merged_onto(default_reschedule)
        elif default_reschedule is not None:
            self.reschedule_policy = default_reschedule
        if job_migrate is not None:
            self.migrate = (self.migrate.merged_onto(job_migrate) if self.migrate is not None
                            else copy.copy(job_migrate))
        if self.migrate is None and job_type == JobType.SERVICE:
            self.migrate = MigrateStrategy()
        if self.migrate is not None:
            self.migrate.canonicalize()
        default_restart = default_restart_policy(job_type)
        restart_policy = (self.restart_policy.merged_onto(default_restart)
                          if self.restart_policy is not None else default_restart)
        self.restart_policy = restart_policy
        for task in self.tasks:
            task.canonicalize(restart_policy)


def group_errors(group: TaskGroup) -> Iterable[str]:
    if group.count is not None and group.count < 0:
        yield f"Task group count can't be negative, got {group.count}"
    if not group.tasks:
        yield "Missing tasks for task group"
    yield from scaling_errors(group)
    for i, constraint in enumerate(group.constraints, 1):
        for err in constraint_errors(constraint):
            yield f"Constraint {i} validation failed: {err}"
    if group.restart_policy is not None:
        for err in restart_errors(group.restart_policy):
            yield f"Restart policy validation failed: {err}"
    if group.reschedule_policy is not None:
        for err in reschedule_errors(group.reschedule_policy):
            yield f"Reschedule policy validation failed: {err}"
    if group.ephemeral_disk is not None and (group.ephemeral_disk.size_mb or 0) < 10:
        yield f"Ephemeral disk size must be at least 10 MB, got {group.ephemeral_disk.size_mb}"
    labels: set[str] = set()
    for net in group.networks:
        yield from network_errors(net, labels, "group network")
    for task in group.tasks:
        for net in (task.resources.networks if task.resources else []):
            yield from network_errors(net, labels, f"task {task.name} network")
    seen: dict[str, int] = {}
    for i, task in enumerate(group.tasks, 1):
        if not task.name:
            yield f"Task {i} missing name"
            continue
        if task.name in seen:
            yield f"Task {i} redefines '{task.name}' from task {seen[task.name]}"
        seen[task.name] = i
        for err in task_errors(task, group.volumes.keys()):
            yield f"Task {task.name} validation failed: {err}"
        for err in task_service_errors(task, group.networks):
            yield f"Task {task.name} validation failed: {err}"
    yield from group_service_errors(group)
    leaders = [t.name for t in group.tasks if t.leader]
    if len(leaders) > 1:
        yield f"Only one task may be marked as leader, got {', '.join(leaders)}"


def network_errors(net: NetworkResource, labels: set[str], where: str) -> Iterable[str]:
    """Problems in one network block; ``labels`` collects port labels across the group,
    which must be unique there."""
    for port in net.reserved_ports:
        if not 0 < port.value <= 65535:
            yield f"{where}: static port {port.label!r} has invalid value {port.value}"
    for port in net.dynamic_ports:
        if port.value:
            yield f"{where}: dynamic port {port.label!r} must not set a value"
    for port in net.ports():
        if not port.label:
            yield f"{where}: port without a label"
        elif port.label in labels:
            yield f"{where}: port label {port.label!r} is defined more than once"
        labels.add(port.label)
        if port.to < -1 or port.to > 65535:
            yield f"{where}: port {port.label!r} has invalid \"to\" value {port.to}"
