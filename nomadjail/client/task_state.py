"""A task's state as the servers see it, kept by Nomad's rules (``TaskState`` upkeep).

Pure functions over a :class:`TaskState`; the task runner calls them under its
lock and persists the result.  They take the clock as an argument, so the
rules can be checked without waiting.

Guarantees (as Nomad's task runner keeps them):

* :func:`append_event` fills the event's display message; an event that
  fails the task sets ``Failed``; a ``Restarting`` event counts the restart
  and stamps ``LastRestart``; only the last :data:`MAX_EVENTS` events stay.
* :func:`set_state` stamps ``StartedAt`` on every entry into ``running`` and
  ``FinishedAt`` the first time the task is ``dead`` (later deaths keep it).
* :func:`copy_state` copies events and their details, so another thread may
  keep the copy while the runner goes on changing the original.
"""

from __future__ import annotations

from ..structs import ZERO_TIME, TaskEvent, TaskEventType, TaskState, TaskStateName, rfc3339
from . import events

MAX_EVENTS = 10  # Nomad keeps the last 10 events per task


def append_event(state: TaskState, event: TaskEvent) -> None:
    """Append ``event`` to ``state`` and apply what it means for the state."""
    events.finish(event)
    if event.fails_task:
        state.failed = True
    if event.type == TaskEventType.RESTARTING:
        state.restarts += 1
        state.last_restart = rfc3339(event.time)
    state.events.append(event)
    del state.events[:-MAX_EVENTS]


def set_state(state: TaskState, name: TaskStateName, now: int) -> None:
    """Move ``state`` to ``name`` at ``now`` (ns since the epoch)."""
    old = state.state
    state.state = name
    if name == TaskStateName.RUNNING and old != TaskStateName.RUNNING:
        state.started_at = rfc3339(now)
    if name == TaskStateName.DEAD and state.finished_at == ZERO_TIME:
        state.finished_at = rfc3339(now)


def copy_state(state: TaskState) -> TaskState:
    """A copy of ``state`` that shares nothing mutable with it."""
    return TaskState(state=state.state, failed=state.failed, restarts=state.restarts,
                     last_restart=state.last_restart, started_at=state.started_at,
                     finished_at=state.finished_at,
                     events=[_copy_event(e) for e in state.events])


def _copy_event(event: TaskEvent) -> TaskEvent:
    copied = TaskEvent(**{name: getattr(event, name) for name in TaskEvent.__slots__})
    copied.details = dict(event.details)
    return copied
