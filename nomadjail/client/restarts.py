"""Nomad's restart policy tracker: should an exited task start again, and when?

A task runner tells the tracker what happened -- the task exited
(:meth:`RestartTracker.set_exit_result`), could not start
(:meth:`set_start_error`), was killed (:meth:`set_killed`) or a restart was
asked for (:meth:`set_restart_triggered`) -- and then asks :meth:`decide`.

Semantics (Nomad's ``RestartTracker``, kept exactly):

* A kill always wins: the task is not restarted.
* A requested restart (``nomad alloc restart``) restarts at once, outside the
  policy, unless it was marked as a failure.
* ``attempts = 0``: never restart; a batch task that exited 0 is simply done.
* Restarts are counted per ``interval``: the count resets when the interval
  that began at the first counted restart has passed.
* Batch and sysbatch tasks (and ephemeral lifecycle tasks) that exit 0 are
  done, not restarted.  Service tasks restart even after exit 0.
* A start error restarts only if it is recoverable (its ``recoverable``
  attribute, as on ``DriverError`` and ``HookError``, is true).
* More than ``attempts`` restarts in the interval: mode ``fail`` gives up
  (the task fails); mode ``delay`` waits until the interval ends, then carries on.
* A restart within the policy waits ``delay`` plus up to 25 % random jitter.

The count and the interval start are plain values (:attr:`count`,
:attr:`interval_start`) so the task runner can persist them and a restarted
client keeps counting where it stopped (:meth:`RestartTracker.restore`).

The policy a task restarts by (:func:`task_restart_policy`) is its own, with
what it leaves unset taken from the default for the job type; a job that does
not say its type is a service job (:func:`job_type_of`).  What the runner
records for a decision is :func:`decision_record`; whether an operator's
restart can be honoured at all is :func:`restartable`.
"""

from __future__ import annotations

import enum
import random
import threading
import time
from collections.abc import Callable

from ..drivers.base import ExitResult
from ..structs import (
    Allocation,
    JobType,
    RestartMode,
    RestartPolicy,
    Task,
    TaskEvent,
    TaskLifecycle,
    TaskStateName,
    default_restart_policy,
    format_duration,
)
from ..structs.task_events import REASON_WITHIN_POLICY
from . import events
from .lifecycle import POSTSTART, POSTSTOP, PRESTART, hook_kind

JITTER = 0.25
REASON_NO_RESTARTS_ALLOWED = "Policy allows no restarts"
REASON_UNRECOVERABLE_ERROR = "Error was unrecoverable"
REASON_DELAY = "Exceeded allowed attempts, applying a delay"
REASON_SUCCESS = "Restart unnecessary as task terminated successfully"


class Decision(enum.Enum):
    RESTART = "restart"  # start again after the returned delay
    NOT_RESTARTING = "not restarting"  # give up: the task failed
    TERMINATED = "terminated"  # finished, nothing to do
    KILLED = "killed"  # stopped on purpose


def job_type_of(alloc: Allocation) -> str:
    """The type of the allocation's job; :attr:`JobType.SERVICE` when it does not say."""
    return alloc.job.type if alloc.job is not None and alloc.job.type else JobType.SERVICE


def task_restart_policy(task: Task, job_type: str) -> RestartPolicy:
    """The task's restart policy merged onto the default for ``job_type``."""
    default = default_restart_policy(job_type)
    return task.restart_policy.merged_onto(default) if task.restart_policy else default


def restarts_on_success(job_type: str, lifecycle: TaskLifecycle | None) -> bool:
    """Whether a task that exited 0 is started again (Nomad's ``onSuccess``): a service
    task is, a batch task is not; a prestart or poststart task only if it is a sidecar,
    a poststop task never."""
    kind = hook_kind(lifecycle)
    if kind == POSTSTOP:
        return False
    if kind in (PRESTART, POSTSTART):
        return bool(lifecycle and lifecycle.sidecar)
    return job_type not in (JobType.BATCH, JobType.SYSBATCH)


class RestartTracker:
    def __init__(self, policy: RestartPolicy, job_type: str,
                 lifecycle: TaskLifecycle | None = None, *,
                 clock: Callable[[], float] = time.time,
                 rng: random.Random | None = None) -> None:
        self.policy = policy
        self.on_success = restarts_on_success(job_type, lifecycle)
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.count = 0  # restarts counted in the current interval
        self.interval_start = clock()  # seconds since the epoch
        self.reason = ""
        self._exit: ExitResult | None = None
        self._start_error: BaseException | None = None
        self._killed = False
        self._restart_triggered = False
        self._failure = False

    def restore(self, count: int, interval_start: float) -> None:
        """Carry on from what a previous client persisted (an ``interval_start`` of 0 was
        never set: the interval begun here stands)."""
        with self._lock:
            self.count = count
            if interval_start:
                self.interval_start = interval_start

    def set_policy(self, policy: RestartPolicy) -> None:
        with self._lock:
            self.policy = policy

    def set_start_error(self, error: BaseException) -> None:
        with self._lock:
            self._start_error = error
            self._failure = True

    def set_exit_result(self, result: ExitResult) -> None:
        with self._lock:
            self._exit = result
            self._failure = True

    def set_restart_triggered(self, failure: bool) -> None:
        with self._lock:
            if failure:
                self._failure = True
            else:
                self._restart_triggered = True

    def set_killed(self) -> None:
        with self._lock:
            self._killed = True

    @property
    def killed(self) -> bool:
        with self._lock:
            return self._killed

    def decide(self) -> tuple[Decision, float]:
        """The next step and, for RESTART, the delay in seconds.  Clears the inputs."""
        with self._lock:
            try:
                return self._decide_locked()
            finally:
                self._exit = None
                self._start_error = None
                self._restart_triggered = False
                self._failure = False
                self._killed = False

    def _decide_locked(self) -> tuple[Decision, float]:
        if self._killed:
            self.reason = ""
            return Decision.KILLED, 0.0
        if self._restart_triggered:
            self.reason = ""
            return Decision.RESTART, 0.0
        attempts = self.policy.attempts or 0
        interval = (self.policy.interval or 0) / 1e9
        if attempts == 0:
            self.reason = REASON_NO_RESTARTS_ALLOWED
            if not self.on_success and self._exit is not None and self._exit.successful():
                return Decision.TERMINATED, 0.0
            return Decision.NOT_RESTARTING, 0.0
        now = self._clock()
        if now > self.interval_start + interval:
            self.count = 0
            self.interval_start = now
        self.count += 1
        if not self._failure:
            return Decision.TERMINATED, 0.0
        if self._start_error is not None:
            if not getattr(self._start_error, "recoverable", False):
                self.reason = REASON_UNRECOVERABLE_ERROR
                return Decision.NOT_RESTARTING, 0.0
        elif self._exit is not None and self._exit.successful() and not self.on_success:
            self.reason = REASON_SUCCESS
            return Decision.TERMINATED, 0.0
        if self.count > attempts:
            if (self.policy.mode or RestartMode.FAIL) == RestartMode.FAIL:
                self.reason = (f"Exceeded allowed attempts {attempts} in interval "
                               f"{format_duration(self.policy.interval or 0)} and mode is \"fail\"")
                return Decision.NOT_RESTARTING, 0.0
            self.reason = REASON_DELAY
            return Decision.RESTART, max(self.interval_start + interval - now, 0.0)
        self.reason = REASON_WITHIN_POLICY
        return Decision.RESTART, self._jittered_delay()

    def _jittered_delay(self) -> float:
        delay_ns = self.policy.delay or 1
        jitter = self._rng.randrange(delay_ns) * JITTER
        return (delay_ns + jitter) / 1e9


def decision_record(decision: Decision, delay: float, reason: str, kill_error: str = ""
                    ) -> tuple[TaskStateName | None, TaskEvent | None]:
    """What the task runner records for a decision (Nomad's ``shouldRestart``): the state
    the task moves to (None: it stays) and the event (None: none).

    ==============  =======  ==========================================================
    decision        state    event
    ==============  =======  ==========================================================
    RESTART         pending  "Restarting", with the delay and the tracker's reason
    NOT_RESTARTING  dead     "Not Restarting", with the reason; it fails the task
    TERMINATED      --       none ("Terminated" was recorded when the task exited)
    KILLED          --       "Killed", with the kill's error if it had one
    ==============  =======  ==========================================================
    """
    if decision == Decision.KILLED:
        return None, events.killed(kill_error)
    if decision == Decision.NOT_RESTARTING:
        return TaskStateName.DEAD, events.not_restarting(reason)
    if decision == Decision.TERMINATED:
        return None, None
    return TaskStateName.PENDING, events.restarting(int(delay * 1e9), reason)


def restartable(state: TaskStateName, *, force: bool, settled: bool) -> bool:
    """Whether an operator's restart can be honoured (Nomad's ``Restart`` and
    ``ForceRestart``): a running task's can; a pending task's cannot; a dead task's only
    when ``force`` asks for it and its runner has not ``settled`` (it still waits in its
    dead state, so it can start the task again)."""
    if state == TaskStateName.PENDING:
        return False
    return state != TaskStateName.DEAD or (force and not settled)
