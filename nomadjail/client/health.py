"""Allocation health for deployments and migrations (Nomad's alloc health watcher).

The servers' deployment watcher and drainer need to know whether a new
allocation became healthy.  For service and system jobs the client decides,
by task states (nomadjail has no service checks to wait for):

* healthy: every task (poststop excluded, finished poststart tasks excused)
  has been running for ``min_healthy_time`` without a restart;
* unhealthy: a task failed, a main task finished, the allocation failed, or
  ``healthy_deadline`` passed first.

The parameters come from the group's ``update`` block when the allocation
belongs to a deployment (nothing is watched for ``health_check = "manual"``),
else from its ``migrate`` block (Nomad's defaults: 10s / 5m).  The result is
reported once; a new deployment ID clears it and the watch starts again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..helper.timers import Timer, Timers
from ..structs import (
    MINUTE,
    SECOND,
    ZERO_TIME,
    Allocation,
    AllocClientStatus,
    JobType,
    MigrateStrategy,
    TaskState,
    TaskStateName,
    parse_rfc3339,
)
from .lifecycle import POSTSTART, POSTSTOP, PRESTART, lifecycle_kind


def health_params(alloc: Allocation) -> tuple[float, float] | None:
    """``(min_healthy_time, healthy_deadline)`` in seconds, or None when not watched."""
    job = alloc.job
    if job is None or job.type not in (JobType.SERVICE, JobType.SYSTEM):
        return None
    group = alloc.lookup_task_group()
    if group is None:
        return None
    if alloc.deployment_id:
        update = group.update
        if update is None or update.health_check == "manual" or not update.max_parallel:
            return None
        return ((update.min_healthy_time or 0) / 1e9,
                (update.healthy_deadline or 5 * MINUTE) / 1e9)
    migrate = group.migrate or MigrateStrategy()
    return ((migrate.min_healthy_time if migrate.min_healthy_time is not None
             else 10 * SECOND) / 1e9,
            (migrate.healthy_deadline or 5 * MINUTE) / 1e9)


class AllocHealthWatcher:
    """Feed it task states; it calls ``set_health(healthy)`` at most once per watch."""

    def __init__(self, timers: Timers, set_health: Callable[[bool], None]) -> None:
        self._timers = timers
        self._set_health = set_health
        self._lock = threading.Lock()
        self._active = False
        self._kinds: dict[str, str] = {}
        self._min_healthy = 0.0
        self._all_started = 0  # ns; the latest StartedAt among the tasks
        self._healthy_timer: Timer | None = None
        self._deadline_timer: Timer | None = None

    def start(self, alloc: Allocation) -> None:
        """Begin watching ``alloc`` (does nothing if it is not watched)."""
        self.stop()
        params = health_params(alloc)
        group = alloc.lookup_task_group()
        if params is None or group is None:
            return
        with self._lock:
            self._active = True
            self._kinds = {t.name: lifecycle_kind(t) for t in group.tasks}
            self._min_healthy, deadline = params
            self._all_started = 0
            self._deadline_timer = self._timers.call_later(deadline,
                                                           lambda: self._report(False))

    def stop(self) -> None:
        with self._lock:
            self._active = False
            for timer in (self._healthy_timer, self._deadline_timer):
                if timer is not None:
                    timer.cancel()
            self._healthy_timer = self._deadline_timer = None

    def _report(self, healthy: bool) -> None:
        with self._lock:
            if not self._active:
                return
        self.stop()
        self._set_health(healthy)

    def observe(self, states: dict[str, TaskState], client_status: str) -> None:
        """Re-evaluate after a task state change."""
        with self._lock:
            if not self._active:
                return
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
                    if latest:
                        self._healthy_timer = self._timers.call_later(
                            self._min_healthy, lambda: self._report(True))
        if unhealthy:
            self._report(False)
