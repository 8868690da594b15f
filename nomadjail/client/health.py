"""Allocation health for deployments and migrations (Nomad's alloc health watcher and
tracker).

The servers' deployment watcher and drainer need to know whether a new
allocation became healthy.  For service and system jobs the client decides, by
the group's ``update`` block when the allocation belongs to a deployment, else
by its ``migrate`` block (Nomad's defaults: checks, 10s / 5m).  ``health_check``
says what counts:

* ``checks`` (the default): the tasks are healthy **and** every check of the
  allocation's services (group and task services, whatever their provider) is
  registered and passing -- a ``warning`` is fine for ``on_update =
  "ignore_warnings"``, anything for ``"ignore"`` -- continuously for
  ``min_healthy_time``.  Check statuses are asked of the service providers every
  half second (:mod:`nomadjail.client.services.provider`).
* ``task_states``: the tasks alone.
* ``manual``: nothing is watched; an operator sets the health.

The tasks are healthy when every task (poststop excluded, finished poststart
tasks excused) has been running for ``min_healthy_time`` without a restart.
The allocation is unhealthy when a task failed, a main task finished, the
allocation failed, or ``healthy_deadline`` passed first; at the deadline each
task gets an "Alloc Unhealthy" event saying what was missing (Nomad's words).

The result is reported once; a new deployment ID clears it and the watch
starts again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..helper.timers import Timer, Timers
from ..structs import (
    MINUTE,
    SECOND,
    ZERO_TIME,
    Allocation,
    AllocClientStatus,
    JobType,
    MigrateStrategy,
    TaskEvent,
    TaskEventType,
    TaskGroup,
    TaskState,
    TaskStateName,
    format_duration,
    parse_rfc3339,
)
from ..structs.consts import WireEnum
from . import events
from .lifecycle import POSTSTART, POSTSTOP, PRESTART, lifecycle_kind
from .services.provider import AllocChecks
from .services.workload import healthy_status

CHECK_POLL_INTERVAL = 0.5  # seconds (Nomad's checkLookupInterval)


class HealthCheck(WireEnum):
    """``update { health_check }`` / ``migrate { health_check }``."""

    CHECKS = "checks"
    TASK_STATES = "task_states"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class HealthParams:
    min_healthy_time: float  # seconds
    healthy_deadline: float  # seconds
    use_checks: bool


ChecksLookup = Callable[[str, set[str]], AllocChecks | None]  # (alloc, providers)


def health_params(alloc: Allocation) -> HealthParams | None:
    """What to watch for ``alloc``, or None when nothing is."""
    job = alloc.job
    if job is None or job.type not in (JobType.SERVICE, JobType.SYSTEM):
        return None
    group = alloc.lookup_task_group()
    if group is None:
        return None
    if alloc.deployment_id:
        update = group.update
        if update is None or update.health_check == HealthCheck.MANUAL or not update.max_parallel:
            return None
        return HealthParams((update.min_healthy_time or 0) / 1e9,
                            (update.healthy_deadline or 5 * MINUTE) / 1e9,
                            update.health_check != HealthCheck.TASK_STATES)
    migrate = group.migrate or MigrateStrategy()
    if migrate.health_check == HealthCheck.MANUAL:
        return None
    return HealthParams((migrate.min_healthy_time if migrate.min_healthy_time is not None
                         else 10 * SECOND) / 1e9,
                        (migrate.healthy_deadline or 5 * MINUTE) / 1e9,
                        migrate.health_check != HealthCheck.TASK_STATES)


def expected_checks(group: TaskGroup) -> tuple[int, set[str]]:
    """How many checks the group's services have, and the providers they use."""
    services = [*group.services, *(s for task in group.tasks for s in task.services)]
    return (sum(len(s.checks) for s in services),
            {s.provider for s in services if s.checks})


def checks_healthy(registered: AllocChecks, expected: int) -> bool:
    """Nomad's evaluateConsulChecks: all expected checks registered, each healthy by its
    ``on_update``."""
    checks = registered.checks()
    return len(checks) == expected and all(healthy_status(c.status, c.on_update)
                                           for c in checks)


def unhealthy_events(group: TaskGroup, states: dict[str, TaskState],
                     registered: AllocChecks | None, params: HealthParams,
                     now_ns: int) -> dict[str, TaskEvent]:
    """Why each task kept the allocation from being healthy by its deadline (Nomad's
    taskHealthState.event): an "Alloc Unhealthy" event per task that did."""
    deadline = format_duration(int(params.healthy_deadline * 1e9))
    min_healthy = format_duration(int(params.min_healthy_time * 1e9))
    group_services = [s for s in group.services if s.checks]
    found: dict[str, TaskEvent] = {}
    for task in group.tasks:
        state = states.get(task.name)
        message = ""
        if state is not None:
            if state.failed:
                message = "Unhealthy because of failed task"
            elif state.state == TaskStateName.PENDING:
                message = f"Task not running by healthy_deadline of {deadline}"
            elif state.state == TaskStateName.DEAD:
                if task.lifecycle is None or task.lifecycle.sidecar:
                    message = "Unhealthy because of dead task"
            elif parse_rfc3339(state.started_at) + params.min_healthy_time * 1e9 > now_ns:
                message = (f"Task not running for min_healthy_time of {min_healthy} by "
                           f"healthy_deadline of {deadline}")
        if not message and params.use_checks:
            desired = sum(len(s.checks) for s in [*task.services, *group_services])
            mine = [] if registered is None else [
                service for workload, services in registered.workloads.items()
                if workload in (task.name, f"group-{group.name}") for service in services]
            not_passing = sorted({s.name for s in mine
                                  if any(c.status != "passing" for c in s.checks)})
            passing = sum(1 for s in mine for c in s.checks if c.status == "passing")
            if not_passing:
                message = f"Services not healthy by deadline: {', '.join(not_passing)}"
            elif desired and registered is None:
                message = "Service checks not registered"
            elif passing != desired:
                message = f"Only {passing} out of {desired} checks registered and passing"
        if message:
            event = events.new_event(TaskEventType.ALLOC_UNHEALTHY)
            event.message = message
            event.display_message = message
            found[task.name] = event
    return found


class AllocHealthWatcher:
    """Feed it task states; it calls ``set_health(healthy)`` at most once per watch.

    ``checks`` looks up the allocation's check statuses (``None``: no provider,
    or it cannot tell now); ``emit`` receives the "Alloc Unhealthy" events."""

    def __init__(self, timers: Timers, set_health: Callable[[bool], None], *,
                 checks: ChecksLookup | None = None,
                 emit: Callable[[dict[str, TaskEvent]], None] | None = None,
                 poll_interval: float = CHECK_POLL_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._timers = timers
        self._set_health = set_health
        self._checks = checks
        self._emit = emit
        self._poll = poll_interval
        self._clock = clock
        self._lock = threading.Lock()
        self._active = False
        self._alloc: Allocation | None = None
        self._group: TaskGroup | None = None
        self._params: HealthParams | None = None
        self._kinds: dict[str, str] = {}
        self._states: dict[str, TaskState] = {}
        self._all_started = 0  # ns; the latest StartedAt among the tasks
        self._tasks_ok = False
        self._expected = 0
        self._providers: set[str] = set()
        self._checks_since: float | None = None  # all checks healthy since (monotonic)
        self._checks_ok = False
        self._registered: AllocChecks | None = None
        self._healthy_timer: Timer | None = None
        self._deadline_timer: Timer | None = None
        self._poll_timer: Timer | None = None

    def start(self, alloc: Allocation) -> None:
        """Begin watching ``alloc`` (does nothing if it is not watched)."""
        self.stop()
        params = health_params(alloc)
        group = alloc.lookup_task_group()
        if params is None or group is None:
            return
        expected, providers = expected_checks(group)
        with self._lock:
            self._active = True
            self._alloc, self._group, self._params = alloc, group, params
            self._kinds = {t.name: lifecycle_kind(t) for t in group.tasks}
            self._all_started = 0
            self._tasks_ok = False
            self._expected, self._providers = (expected, providers) if params.use_checks \
                else (0, set())
            self._checks_since = None
            self._checks_ok = self._expected == 0
            self._registered = None
            self._deadline_timer = self._timers.call_later(params.healthy_deadline,
                                                           self._deadline)
            if self._expected:
                self._poll_timer = self._timers.call_later(self._poll, self._poll_checks)

    def stop(self) -> None:
        with self._lock:
            self._active = False
            for timer in (self._healthy_timer, self._deadline_timer, self._poll_timer):
                if timer is not None:
                    timer.cancel()
            self._healthy_timer = self._deadline_timer = self._poll_timer = None

    def _report(self, healthy: bool) -> None:
        with self._lock:
            if not self._active:
                return
        self.stop()
        self._set_health(healthy)

    def _deadline(self) -> None:
        with self._lock:
            if not self._active:
                return
            group, params = self._group, self._params
            states, registered = dict(self._states), self._registered
        if self._emit is not None and group is not None and params is not None:
            found = unhealthy_events(group, states, registered, params, time.time_ns())
            if found:
                self._emit(found)
        self._report(False)

    def _poll_checks(self) -> None:
        """Every half second while checks count: are they all healthy, and since when?"""
        with self._lock:
            if not self._active or self._alloc is None:
                return
            alloc_id, providers = self._alloc.id, set(self._providers)
        registered = self._checks(alloc_id, providers) if self._checks is not None else None
        report = False
        with self._lock:
            if not self._active:
                return
            self._registered = registered if registered is not None else self._registered
            now = self._clock()
            if registered is not None and checks_healthy(registered, self._expected):
                if self._checks_since is None:
                    self._checks_since = now
                assert self._params is not None
                self._checks_ok = now - self._checks_since >= self._params.min_healthy_time
            elif registered is not None:
                self._checks_since = None
                self._checks_ok = False
            report = self._checks_ok and self._tasks_ok
            if not report:
                self._poll_timer = self._timers.call_later(self._poll, self._poll_checks)
        if report:
            self._report(True)

    def _tasks_healthy(self) -> None:
        with self._lock:
            if not self._active:
                return
            self._tasks_ok = True
            report = self._checks_ok
        if report:
            self._report(True)

    def observe(self, states: dict[str, TaskState], client_status: str) -> None:
        """Re-evaluate after a task state change."""
        with self._lock:
            if not self._active:
                return
            self._states = dict(states)
            latest = 0
            pending = False
            for name, state in states.items():
                kind = self._kinds.get(name, "")
                if kind == POSTSTOP:
                    continue
                finished = state.finished_at != ZERO_TIME
                if kind == POSTSTART and finished and not state.failed:
                    continue
                if state.failed or (finished and kind != PRESTART):
                    unhealthy = True
                    break
                if state.state == TaskStateName.PENDING:
                    pending = True
                    continue
                latest = max(latest, parse_rfc3339(state.started_at))
            else:
                unhealthy = client_status == AllocClientStatus.FAILED
            if not unhealthy:
                if pending:
                    latest = 0
                if latest != self._all_started:
                    if self._healthy_timer is not None:
                        self._healthy_timer.cancel()
                        self._healthy_timer = None
                    self._all_started = latest
                    self._tasks_ok = False
                    self._checks_since = None  # a task restarted: its checks start over
                    self._checks_ok = self._expected == 0
                    if latest and self._params is not None:
                        self._healthy_timer = self._timers.call_later(
                            self._params.min_healthy_time, self._tasks_healthy)
        if unhealthy:
            self._report(False)
