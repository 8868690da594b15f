"""The timing of a task kill (Nomad's ``killTask``): the wait before the kill signal, and
how long the task then gets to exit before the driver forces it.

Rules, kept as Nomad keeps them:

* :func:`kill_timeout` is the task's ``kill_timeout`` (5 s when the job does
  not say), never more than the client's ``max_kill_timeout``: an operator
  bounds how long any job may hold up a kill.
* :func:`shutdown_delay`: a task with a ``shutdown_delay`` waits that long
  before the kill signal (so service deregistration can spread first), with a
  "Waiting for shutdown delay" event -- unless its allocation was stopped with
  ``no_shutdown_delay``, which skips the wait with a "Skipping shutdown delay"
  event.  (An update asking to skip also cuts short a wait under way; the task
  runner does that.)
"""

from __future__ import annotations

from ..structs import Allocation, Task, TaskEvent, TaskEventType, format_duration
from . import events

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
