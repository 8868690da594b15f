"""A job: the task groups a user wants run, and where and how.

Fields a user may leave out are ``None`` until :meth:`Job.canonicalize` fills
Nomad's defaults (the same defaults, per job type, that Nomad's ``api``
package applies), so a job read back from the API shows every value the
scheduler and client act on.  :meth:`Job.validate` checks a canonicalized job.

The parts live beside it, each with its own rules, and import nothing of this
module (so validating never needs a lazy import)::

    job.py          Job, job_errors
    task_group.py   TaskGroup, EphemeralDisk, VolumeRequest, group_errors
    task.py         Task, LogConfig, VolumeMount, TaskLifecycle, task_errors
    services.py     Service, ServiceCheck, CheckRestart
    policies.py     RestartPolicy, ReschedulePolicy, UpdateStrategy, MigrateStrategy
    constraint.py   Constraint, Affinity, constraint_errors
    validate.py     ValidationError (every problem, Nomad's wording)
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .codec import field
from .constraint import Affinity, Constraint, constraint_errors
from .consts import (
    ALL_DATACENTERS,
    DEFAULT_NAMESPACE,
    DEFAULT_PRIORITY,
    GLOBAL_REGION,
    MAX_PRIORITY,
    MIN_PRIORITY,
    JobStatus,
    JobType,
)
from .policies import (
    MigrateStrategy,
    ReschedulePolicy,
    UpdateStrategy,
    default_update_strategy,
    migrate_errors,
    update_errors,
)
from .scaling import canonicalize_scaling
from .services import canonicalize_services
from .task_group import TaskGroup, group_errors
from .validate import ValidationError

_VALID_ID = re.compile(r"^[^\s\x00]+$")


@dataclass(slots=True)
class Job:
    id: str = ""
    name: str = ""
    region: str | None = None
    namespace: str | None = None
    type: str | None = None
    priority: int | None = None
    all_at_once: bool = False
    datacenters: list[str] = field(default_factory=list)
    node_pool: str | None = None
    constraints: list[Constraint] = field(default_factory=list)
    affinities: list[Affinity] = field(default_factory=list)
    task_groups: list[TaskGroup] = field(default_factory=list)
    update: UpdateStrategy | None = None
    reschedule: ReschedulePolicy | None = None
    migrate: MigrateStrategy | None = None
    meta: dict[str, str] = field(default_factory=dict)
    # Set by the server, not by the job file.
    stop: bool = False
    parent_id: str = ""
    status: JobStatus | Literal[""] = ""  # "" until the state store derives it
    status_description: str = ""
    stable: bool = False
    version: int = 0
    submit_time: int = 0  # ns since the epoch
    create_index: int = 0
    modify_index: int = 0
    job_modify_index: int = 0

    def lookup_task_group(self, name: str) -> TaskGroup | None:
        return next((g for g in self.task_groups if g.name == name), None)

    def canonicalize(self) -> None:
        """Fill every default Nomad fills, so what is stored is what runs."""
        if not self.name:
            self.name = self.id
        if self.namespace is None or self.namespace == "":
            self.namespace = DEFAULT_NAMESPACE
        canonicalize_services(self)  # names default to the job's and the group's
        if self.priority is None:
            self.priority = DEFAULT_PRIORITY
        if self.region is None or self.region == "":
            self.region = GLOBAL_REGION
        if self.type is None or self.type == "":
            self.type = JobType.SERVICE
        if self.node_pool is None or self.node_pool == "":
            self.node_pool = "default"
        if not self.datacenters:
            self.datacenters = [ALL_DATACENTERS]
        if self.update is None and self.type in (JobType.SERVICE, JobType.SYSTEM):
            self.update = default_update_strategy()
        elif self.update is not None:
            self.update = self.update.merged_onto(default_update_strategy())
        for group in self.task_groups:
            group.canonicalize(self.type, self.update, self.reschedule,
                               job_migrate=self.migrate)
        canonicalize_scaling(self)  # after counts: min defaults to the count

    def validate(self) -> None:
        """Raise :class:`ValidationError` listing every problem in the job."""
        errors = list(job_errors(self))
        if errors:
            raise ValidationError(errors)

    def copy(self) -> Job:
        return copy.deepcopy(self)

    def spec_changed(self, other: Job) -> bool:
        """Whether ``other`` differs from this job in anything the user wrote.

        Server-set fields (indexes, version, status, submit time) are ignored,
        so re-submitting an unchanged job does not create a new version.
        """
        mine, theirs = self.copy(), other.copy()
        for job in (mine, theirs):
            job.status = job.status_description = ""
            job.stable = False
            job.version = job.submit_time = 0
            job.create_index = job.modify_index = job.job_modify_index = 0
        return mine != theirs


def job_errors(job: Job) -> Iterable[str]:
    """Every problem in a canonicalized job, each saying where (Nomad's Job.Validate)."""
    if not job.region:
        yield "Missing job region"
    if not job.id:
        yield "Missing job ID"
    elif not _VALID_ID.match(job.id):
        yield f"Job ID {job.id!r} contains a space or a null character"
    if not job.name:
        yield "Missing job name"
    if not job.namespace:
        yield "Job must be in a namespace"
    if job.type not in set(JobType):
        yield f"Invalid job type: {job.type!r} (expected service, batch, system or sysbatch)"
    if job.priority is not None and not MIN_PRIORITY <= job.priority <= MAX_PRIORITY:
        yield f"Job priority must be between [{MIN_PRIORITY}, {MAX_PRIORITY}], got {job.priority}"
    if not job.datacenters:
        yield "Missing job datacenters"
    for dc in job.datacenters:
        if not dc:
            yield "Job datacenter must be non-empty string"
    if not job.task_groups:
        yield "Missing job task groups"
    for i, constraint in enumerate(job.constraints, 1):
        for err in constraint_errors(constraint):
            yield f"Constraint {i} validation failed: {err}"
    seen: dict[str, int] = {}
    for i, group in enumerate(job.task_groups, 1):
        if not group.name:
            yield f"Job task group {i} missing name"
        elif group.name in seen:
            yield (f"Job task group {i} redefines '{group.name}' from group "
                   f"{seen[group.name]}")
        else:
            seen[group.name] = i
        if job.type in (JobType.SYSTEM, JobType.SYSBATCH) and (group.count or 0) > 1:
            yield (f"Job task group {group.name} has count {group.count}. Count cannot exceed "
                   f"1 with system scheduler")
        for err in group_errors(group):
            yield f"Task group {group.name} validation failed: {err}"
        if group.update is not None and job.type in (JobType.SERVICE, JobType.SYSTEM):
            for err in update_errors(group.update):
                yield f"Task group {group.name} validation failed: update: {err}"
        if group.migrate is not None and job.type != JobType.SERVICE:
            yield (f"Task group {group.name} validation failed: Job type {job.type!r} does "
                   "not allow migrate block")
        elif group.migrate is not None:
            for err in migrate_errors(group.migrate):
                yield f"Task group {group.name} validation failed: migrate: {err}"
