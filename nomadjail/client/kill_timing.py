"""A task kill (Nomad's ``killTask``): the wait before the kill signal, how long the task
then gets to exit before the driver forces it, and :class:`TaskKiller`, which does it.

Rules, kept as Nomad keeps them:

* :func:`kill_timeout` is the task's ``kill_timeout`` (5 s when the job does
  not say), never more than the client's ``max_kill_timeout``: an operator
  bounds how long any job may hold up a kill.
* :func:`shutdown_delay`: a task with a ``shutdown_delay`` waits that long
  before the kill signal (so service deregistration can spread first), with a
  "Waiting for shutdown delay" event -- unless its allocation was stopped with
  ``no_shutdown_delay``, which skips the wait with a "Skipping shutdown delay"
  event.  An update asking to skip also cuts short a wait under way
  (:meth:`TaskKiller.skip_delay`).
* :class:`TaskKiller` waits the delay, then has the driver stop the task
  (kill_signal, kill_timeout, force).  A stop that fails is logged and its
  error kept for the "Killed" event; the task runner decides what next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..drivers.base import TaskHandle
from ..structs import Allocation, Task, TaskEvent, TaskEventType, format_duration
from . import events
from .driver_calls import DriverCalls

DEFAULT_KILL_TIMEOUT = 5.0  # seconds, when the job does not say


def kill_timeout(task: Task, max_kill_timeout: float) -> float:
    """Seconds between the kill signal and the forced kill."""
    timeout = task.kill_timeout / 1e9 if task.kill_timeout is not None else DEFAULT_KILL_TIMEOUT
    return min(timeout, max_kill_timeout)


def shutdown_delay(task: Task, alloc: Allocation) -> tuple[TaskEvent | None, float]:
    """The event to record before a kill (None: no delay), and the seconds to wait."""
    delay_ns = task.shutdown_delay or 0
    if delay_ns <= 0:
        return None, 0.0
    delay = format_duration(delay_ns)
    if alloc.desired_transition.no_shutdown_delay:
        return events.new_event(
            TaskEventType.SKIPPING_SHUTDOWN_DELAY,
            display=f"Skipping shutdown_delay of {delay} before killing the task."), 0.0
    return events.new_event(
        TaskEventType.WAITING_SHUTDOWN_DELAY,
        display=f"Waiting for shutdown_delay of {delay} before killing the task."), delay_ns / 1e9


class TaskKiller:
    """Kills one task by the rules above; any thread may call :meth:`kill`."""

    def __init__(self, calls: DriverCalls, *, emit: Callable[[TaskEvent], None],
                 max_kill_timeout: float, prekill: Callable[[], None] = lambda: None) -> None:
        """``emit`` records an event on the task (the shutdown delay's); ``prekill`` runs
        first on every kill (the prekill hooks: services leave discovery before the task
        stops answering, as in Nomad)."""
        self._calls = calls
        self._emit = emit
        self._prekill = prekill
        self._max_kill_timeout = max_kill_timeout
        self._skip = threading.Event()
        self.error = ""  # the last failed stop's error, for the "Killed" event

    def timeout(self, task: Task) -> float:
        return kill_timeout(task, self._max_kill_timeout)

    def skip_delay(self) -> None:
        """No shutdown delay from now on, and a wait under way ends at once."""
        self._skip.set()

    def kill(self, handle: TaskHandle, task: Task, alloc: Allocation) -> None:
        """The shutdown delay, then kill_signal, kill_timeout and force (the driver's steps);
        returns once the driver's stop returned."""
        self._prekill()
        event, delay = shutdown_delay(task, alloc)
        if event is not None:
            self._emit(event)
        if delay > 0:
            self._skip.wait(delay)
        error = self._calls.stop(handle, self.timeout(task), task.kill_signal)
        if error:
            self.error = error
