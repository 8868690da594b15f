"""A job and everything inside it: task groups, tasks and their policies.

Fields a user may leave out are ``None`` until :meth:`Job.canonicalize` fills
Nomad's defaults (the same defaults, per job type, that Nomad's ``api``
package applies), so a job read back from the API shows every value the
scheduler and client act on.  :meth:`Job.validate` lives in ``validate.py``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .codec import field
from .consts import (
    ALL_DATACENTERS,
    DEFAULT_NAMESPACE,
    DEFAULT_PRIORITY,
    GLOBAL_REGION,
    HOUR,
    MINUTE,
    SECOND,
    JobType,
    RestartMode,
)
from .resources import DEFAULT_DISK_MB, NetworkResource, Resources


@dataclass(slots=True)
class Constraint:
    l_target: str = field("", key="LTarget")
    r_target: str = field("", key="RTarget")
    operand: str = "="

    def __str__(self) -> str:
        return f"{self.l_target} {self.operand} {self.r_target}".strip()


@dataclass(slots=True)
class Affinity:
    l_target: str = field("", key="LTarget")
    r_target: str = field("", key="RTarget")
    operand: str = "="
    weight: int = 50


@dataclass(slots=True)
class RestartPolicy:
    attempts: int | None = None
    interval: int | None = None  # ns
    delay: int | None = None  # ns
    mode: str | None = None
    render_templates: bool | None = None

    def merged_onto(self, base: RestartPolicy) -> RestartPolicy:
        """``base`` with every field this policy sets replaced."""
        return RestartPolicy(*(mine if mine is not None else theirs for mine, theirs in
                               zip(_values(self), _values(base), strict=True)))


def _values(obj: Any) -> list[Any]:
    return [getattr(obj, name) for name in obj.__slots__]


def default_restart_policy(job_type: str) -> RestartPolicy:
    if job_type in (JobType.SERVICE, JobType.SYSTEM):
        return RestartPolicy(attempts=2, interval=30 * MINUTE, delay=15 * SECOND,
                             mode=RestartMode.FAIL, render_templates=False)
    return RestartPolicy(attempts=3, interval=24 * HOUR, delay=15 * SECOND,
                         mode=RestartMode.FAIL, render_templates=False)


@dataclass(slots=True)
class ReschedulePolicy:
    attempts: int | None = None
    interval: int | None = None  # ns
    delay: int | None = None  # ns
    delay_function: str | None = None
    max_delay: int | None = None  # ns
    unlimited: bool | None = None

    def merged_onto(self, base: ReschedulePolicy) -> ReschedulePolicy:
        return ReschedulePolicy(*(mine if mine is not None else theirs for mine, theirs in
                                  zip(_values(self), _values(base), strict=True)))


def default_reschedule_policy(job_type: str) -> ReschedulePolicy | None:
    """Nomad's defaults; system and sysbatch jobs never reschedule (None)."""
    if job_type == JobType.SERVICE:
        return ReschedulePolicy(attempts=0, interval=0, delay=30 * SECOND,
                                delay_function="exponential", max_delay=HOUR, unlimited=True)
    if job_type == JobType.BATCH:
        return ReschedulePolicy(attempts=1, interval=24 * HOUR, delay=5 * SECOND,
                                delay_function="constant", max_delay=0, unlimited=False)
    return None


@dataclass(slots=True)
class UpdateStrategy:
    stagger: int | None = None
    max_parallel: int | None = None
    health_check: str | None = None
    min_healthy_time: int | None = None
    healthy_deadline: int | None = None
    progress_deadline: int | None = None
    canary: int | None = None
    auto_revert: bool | None = None
    auto_promote: bool | None = None

    def merged_onto(self, base: UpdateStrategy) -> UpdateStrategy:
        return UpdateStrategy(*(mine if mine is not None else theirs for mine, theirs in
                                zip(_values(self), _values(base), strict=True)))


def default_update_strategy() -> UpdateStrategy:
    return UpdateStrategy(stagger=30 * SECOND, max_parallel=1, health_check="checks",
                          min_healthy_time=10 * SECOND, healthy_deadline=5 * MINUTE,
                          progress_deadline=10 * MINUTE, canary=0, auto_revert=False,
                          auto_promote=False)


@dataclass(slots=True)
class MigrateStrategy:
    max_parallel: int | None = None
    health_check: str | None = None
    min_healthy_time: int | None = None
    healthy_deadline: int | None = None

    def canonicalize(self) -> None:
        if self.max_parallel is None:
            self.max_parallel = 1
        if self.health_check is None:
            self.health_check = "checks"
        if self.min_healthy_time is None:
            self.min_healthy_time = 10 * SECOND
        if self.healthy_deadline is None:
            self.healthy_deadline = 5 * MINUTE


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
class CheckRestart:
    limit: int = 0
    grace: int = 0  # ns
    ignore_warnings: bool = False


@dataclass(slots=True)
class ServiceCheck:
    name: str = ""
    type: str = ""
    command: str = ""
    args: list[str] = field(default_factory=list)
    path: str = ""
    protocol: str = ""
    port_label: str = ""
    address_mode: str = ""
    interval: int = 0  # ns
    timeout: int = 0  # ns
    initial_status: str = ""
    method: str = ""
    header: dict[str, list[str]] = field(default_factory=dict)
    task_name: str = ""
    check_restart: CheckRestart | None = None


@dataclass(slots=True)
class Service:
    """Parsed and stored; registering it in Consul is the Consul issue's work."""

    name: str = ""
    tags: list[str] = field(default_factory=list)
    canary_tags: list[str] = field(default_factory=list)
    port_label: str = ""
    address_mode: str = ""
    address: str = ""
    provider: str = ""
    task_name: str = ""
    on_update: str = ""
    checks: list[ServiceCheck] = field(default_factory=list)
    check_restart: CheckRestart | None = None
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class VolumeRequest:
    name: str = ""
    type: str = ""
    source: str = ""
    read_only: bool = False
    per_alloc: bool = False


@dataclass(slots=True)
class VolumeMount:
    volume: str = ""
    destination: str = ""
    read_only: bool = False
    propagation_mode: str = ""


@dataclass(slots=True)
class TaskLifecycle:
    hook: str = ""
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

    def canonicalize(self, group: TaskGroup) -> None:
        if self.resources is None:
            self.resources = Resources()
        self.resources.canonicalize()
        if self.kill_timeout is None:
            self.kill_timeout = 5 * SECOND
        if self.log_config is None:
            self.log_config = LogConfig()
        self.log_config.canonicalize()
        assert group.restart_policy is not None
        if self.restart_policy is None:
            self.restart_policy = copy.copy(group.restart_policy)
        else:
            self.restart_policy = self.restart_policy.merged_onto(group.restart_policy)


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

    def lookup_task(self, name: str) -> Task | None:
        return next((t for t in self.tasks if t.name == name), None)

    def canonicalize(self, job: Job) -> None:
        job_type = job.type or JobType.SERVICE
        if self.count is None:
            self.count = 1
        if self.ephemeral_disk is None:
            self.ephemeral_disk = EphemeralDisk()
        self.ephemeral_disk.canonicalize()
        if job.update is not None and self.update is not None:
            self.update = self.update.merged_onto(job.update)
        elif job.update is not None:
            self.update = copy.copy(job.update)
        if self.update is not None:
            self.update = self.update.merged_onto(default_update_strategy())
        default_reschedule = default_reschedule_policy(job_type)
        if self.reschedule_policy is not None and job.reschedule is not None:
            self.reschedule_policy = self.reschedule_policy.merged_onto(job.reschedule)
        elif job.reschedule is not None:
            self.reschedule_policy = copy.copy(job.reschedule)
        if self.reschedule_policy is not None and default_reschedule is not None:
            self.reschedule_policy = self.reschedule_policy.merged_onto(default_reschedule)
        elif default_reschedule is not None:
            self.reschedule_policy = default_reschedule
        if self.migrate is None and job_type == JobType.SERVICE:
            self.migrate = MigrateStrategy()
        if self.migrate is not None:
            self.migrate.canonicalize()
        default_restart = default_restart_policy(job_type)
        self.restart_policy = (self.restart_policy.merged_onto(default_restart)
                               if self.restart_policy is not None else default_restart)
        for task in self.tasks:
            task.canonicalize(self)


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
    status: str = ""
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
            group.canonicalize(self)

    def validate(self) -> None:
        """Raise :class:`ValidationError` listing every problem in the job."""
        from .validate import validate_job
        validate_job(self)

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
