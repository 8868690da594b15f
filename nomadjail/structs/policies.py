"""How a group's allocations restart, reschedule, update and migrate.

Each policy is set at the job, group or task level, with every field ``None``
until canonicalization merges the levels (the more specific wins) onto
Nomad's defaults for the job type (``merged_onto`` and the ``default_*``
functions).  :func:`restart_errors` and :func:`reschedule_errors` hold Nomad's
``RestartPolicy.Validate`` and ``ReschedulePolicy.Validate`` rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .consts import HOUR, MINUTE, SECOND, JobType, RestartMode
from .durations import format_duration

DELAY_FUNCTIONS = frozenset({"constant", "exponential", "fibonacci"})
RESCHEDULE_MIN_DELAY = 5_000_000_000  # ns, Nomad's ReschedulePolicyMinDelay
RESCHEDULE_MIN_INTERVAL = 5_000_000_000  # ns, Nomad's ReschedulePolicyMinInterval


def _values(obj: Any) -> list[Any]:
    return [getattr(obj, name) for name in obj.__slots__]


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

    def merged_onto(self, base: MigrateStrategy) -> MigrateStrategy:
        """``base`` (the job's block) with every field this (the group's) sets replaced."""
        return MigrateStrategy(*(mine if mine is not None else theirs for mine, theirs in
                                 zip(_values(self), _values(base), strict=True)))

    def canonicalize(self) -> None:
        if self.max_parallel is None:
            self.max_parallel = 1
        if self.health_check is None:
            self.health_check = "checks"
        if self.min_healthy_time is None:
            self.min_healthy_time = 10 * SECOND
        if self.healthy_deadline is None:
            self.healthy_deadline = 5 * MINUTE


MIGRATE_HEALTH_CHECKS = ("checks", "task_states")
UPDATE_HEALTH_CHECKS = ("checks", "task_states", "manual")


def update_errors(policy: UpdateStrategy) -> Iterable[str]:
    """Nomad's UpdateStrategy.Validate, on a canonicalized block, in Nomad's words."""
    if policy.health_check not in UPDATE_HEALTH_CHECKS:
        yield f"Invalid health check given: {policy.health_check!r}"
    max_parallel, canary = policy.max_parallel or 0, policy.canary or 0
    if max_parallel < 0:
        yield f"Max parallel can not be less than zero: {max_parallel} < 0"
    if canary < 0:
        yield f"Canary count can not be less than zero: {canary} < 0"
    if canary == 0 and policy.auto_promote:
        yield "Auto Promote requires a Canary count greater than zero"
    min_healthy = policy.min_healthy_time or 0
    healthy_deadline = policy.healthy_deadline or 0
    progress_deadline = policy.progress_deadline or 0
    if min_healthy < 0:
        yield f"Minimum healthy time may not be less than zero: {format_duration(min_healthy)}"
    if healthy_deadline <= 0:
        yield f"Healthy deadline must be greater than zero: {format_duration(healthy_deadline)}"
    if progress_deadline < 0:
        yield f"Progress deadline must be zero or greater: {format_duration(progress_deadline)}"
    if min_healthy >= healthy_deadline:
        yield (f"Minimum healthy time must be less than healthy deadline: "
               f"{format_duration(min_healthy)} > {format_duration(healthy_deadline)}")
    if progress_deadline != 0 and healthy_deadline >= progress_deadline:
        yield (f"Healthy deadline must be less than progress deadline: "
               f"{format_duration(healthy_deadline)} > {format_duration(progress_deadline)}")
    if (policy.stagger or 0) <= 0:
        yield f"Stagger must be greater than zero: {format_duration(policy.stagger or 0)}"


def migrate_errors(policy: MigrateStrategy) -> Iterable[str]:
    """Nomad's MigrateStrategy.Validate, on a canonicalized block."""
    max_parallel = policy.max_parallel or 0
    if max_parallel < 0:
        yield f"MaxParallel must be >= 0 but found {max_parallel}"
    if not policy.health_check:
        if max_parallel > 0:
            yield "Missing HealthCheck"
    elif policy.health_check not in MIGRATE_HEALTH_CHECKS:
        yield (f"Invalid HealthCheck: {policy.health_check!r} (expected "
               f"{' or '.join(repr(c) for c in MIGRATE_HEALTH_CHECKS)})")
    min_healthy, deadline = policy.min_healthy_time or 0, policy.healthy_deadline or 0
    if min_healthy < 0:
        yield f"MinHealthyTime is {min_healthy / 1e9:g}s and must be >= 0"
    if deadline < 0:
        yield f"HealthyDeadline is {deadline / 1e9:g}s and must be >= 0"
    if min_healthy > deadline:
        yield "MinHealthyTime must be less than HealthyDeadline"


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
    if policy.delay_function not in DELAY_FUNCTIONS:
        yield (f"Invalid delay function {policy.delay_function!r}, must be one of "
               f"{sorted(DELAY_FUNCTIONS)}")
    if policy.delay_function != "constant" and max_delay < delay:
        yield f"Max Delay cannot be less than Delay {delay / 1e9:g}s (got {max_delay / 1e9:g}s)"
    if not unlimited and (policy.interval or 0) < RESCHEDULE_MIN_INTERVAL:
        yield f"Interval cannot be less than 5s (got {(policy.interval or 0) / 1e9:g}s)"
