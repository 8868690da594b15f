"""Job validation: every problem in one pass, each message saying where.

Messages follow Nomad's wording (``Task group web validation failed: ...``,
``Constraint 2 validation failed: ...``) so operators who know Nomad
recognise them.  Validation runs on a canonicalized job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .consts import MAX_PRIORITY, MIN_PRIORITY, JobType, RestartMode
from .errors import BadRequest
from .job import Constraint, Job, ReschedulePolicy, RestartPolicy, Task, TaskGroup
from .resources import NetworkResource

CONSTRAINT_OPERANDS = frozenset({
    "=", "==", "is", "!=", "not", "<", "<=", ">", ">=", "regexp", "version", "semver",
    "set_contains", "set_contains_all", "set_contains_any", "is_set", "is_not_set",
    "distinct_hosts", "distinct_property",
})
_NO_RTARGET = frozenset({"is_set", "is_not_set", "distinct_hosts"})
_DELAY_FUNCTIONS = frozenset({"constant", "exponential", "fibonacci"})
_VALID_ID = re.compile(r"^[^\s\x00]+$")


class ValidationError(BadRequest):
    """A job (or other input) broke one or more rules; ``errors`` lists them all."""

    def __init__(self, errors: Iterable[str], what: str = "job validation failed"):
        self.errors = list(errors)
        super().__init__(multierror(self.errors) if self.errors else what)
        self.what = what


def multierror(errors: list[str]) -> str:
    """The text of Go's go-multierror, which Nomad's validation errors use, so scripts
    that match Nomad's messages keep working."""
    head = "1 error occurred:" if len(errors) == 1 else f"{len(errors)} errors occurred:"
    return head + "\n" + "".join(f"\t* {e}\n" for e in errors) + "\n"


def validate_job(job: Job) -> None:
    errors = list(job_errors(job))
    if errors:
        raise ValidationError(errors)


def job_errors(job: Job) -> Iterable[str]:
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
        for err in group_errors(group, job):
            yield f"Task group {group.name} validation failed: {err}"


def group_errors(group: TaskGroup, job: Job) -> Iterable[str]:
    if group.count is not None and group.count < 0:
        yield f"Task group count can't be negative, got {group.count}"
    if not group.tasks:
        yield "Missing tasks for task group"
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
        for err in task_errors(task, group):
            yield f"Task {task.name} validation failed: {err}"
    leaders = [t.name for t in group.tasks if t.leader]
    if len(leaders) > 1:
        yield f"Only one task may be marked as leader, got {', '.join(leaders)}"


def network_errors(net: NetworkResource, labels: set[str], where: str) -> Iterable[str]:
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


def task_errors(task: Task, group: TaskGroup) -> Iterable[str]:
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
        if mount.volume not in group.volumes:
            yield f"Volume Mount referenced undefined volume {mount.volume!r}"


def constraint_errors(c: Constraint) -> Iterable[str]:
    if c.operand not in CONSTRAINT_OPERANDS:
        yield f"Unknown constraint type {c.operand!r}"
        return
    if c.operand not in _NO_RTARGET and c.operand != "distinct_property" and c.r_target == "":
        yield f"No RTarget provided for operator {c.operand!r}"
    if c.operand not in ("distinct_hosts",) and c.l_target == "":
        yield f"No LTarget provided but is required by constraint {c.operand!r}"
    if c.operand == "regexp":
        try:
            re.compile(c.r_target)
        except re.error as err:
            yield f"Regular expression failed to compile: {err}"
    if c.operand in ("version", "semver"):
        from .versions import parse_version_constraint
        try:
            parse_version_constraint(c.r_target)
        except ValueError as err:
            yield f"Version constraint is invalid: {err}"


def restart_errors(policy: RestartPolicy) -> Iterable[str]:
    if policy.mode not in (RestartMode.FAIL, RestartMode.DELAY):
        yield f"Unsupported restart mode: {policy.mode!r}"
    if (policy.attempts or 0) < 0:
        yield f"Attempts must be non-negative, got {policy.attempts}"
    if (policy.delay or 0) < 0:
        yield "Delay must be non-negative"
    if policy.attempts and policy.interval is not None and policy.delay is not None \
            and policy.delay * policy.attempts > policy.interval:
        yield (f"Nomad can't restart the task {policy.attempts} times with a delay of "
               f"{policy.delay // 1_000_000_000}s within an interval of "
               f"{policy.interval // 1_000_000_000}s")


RESCHEDULE_MIN_DELAY = 5_000_000_000  # ns, Nomad's ReschedulePolicyMinDelay
RESCHEDULE_MIN_INTERVAL = 5_000_000_000  # ns, Nomad's ReschedulePolicyMinInterval


def reschedule_errors(policy: ReschedulePolicy) -> Iterable[str]:
    attempts, unlimited = policy.attempts or 0, bool(policy.unlimited)
    if attempts < 0:
        yield f"Attempts must be non-negative, got {attempts}"
    if not (attempts > 0 or unlimited):
        return  # rescheduling is off; nothing else matters
    delay, max_delay = policy.delay or 0, policy.max_delay or 0
    if attempts > 0 and (policy.interval or 0) <= 0:
        yield "Interval must be a non zero value if Attempts > 0"
    if attempts > 0 and unlimited:
        yield ("Reschedule Policy with Attempts > 0 and Unlimited = true is ambiguous: "
               "if Attempts > 0, Unlimited cannot also be set to true")
    if delay < RESCHEDULE_MIN_DELAY:
        yield f"Delay cannot be less than 5s (got {delay / 1e9:g}s)"
    if policy.delay_function not in _DELAY_FUNCTIONS:
        yield (f"Invalid delay function {policy.delay_function!r}, must be one of "
               f"{sorted(_DELAY_FUNCTIONS)}")
    if policy.delay_function != "constant" and max_delay < delay:
        yield f"Max Delay cannot be less than Delay {delay / 1e9:g}s (got {max_delay / 1e9:g}s)"
    if not unlimited and (policy.interval or 0) < RESCHEDULE_MIN_INTERVAL:
        yield f"Interval cannot be less than 5s (got {(policy.interval or 0) / 1e9:g}s)"
