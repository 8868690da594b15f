"""Nomad's TaskState upkeep: events, restarts, failure and timestamps."""

from __future__ import annotations

from nomadjail.client import events
from nomadjail.client.task_state import MAX_EVENTS, append_event, copy_state, set_state
from nomadjail.structs import ZERO_TIME, TaskState, TaskStateName, rfc3339

T1, T2, T3 = 1_700_000_000_000_000_000, 1_700_000_060_000_000_000, 1_700_000_120_000_000_000


def test_appending_fills_the_display_message() -> None:
    state = TaskState()
    append_event(state, events.driver_failure("no such image"))
    assert state.events[0].display_message  # as `nomad alloc status` prints it
    assert not state.failed  # a driver failure alone does not fail the task


def test_an_event_that_fails_the_task_marks_it_failed() -> None:
    state = TaskState()
    append_event(state, events.not_restarting("Exceeded allowed attempts"))
    assert state.failed


def test_a_restarting_event_counts_the_restart() -> None:
    state = TaskState()
    append_event(state, events.restarting(1_000_000_000, "Restart within policy"))
    append_event(state, events.restarting(1_000_000_000, "Restart within policy"))
    assert state.restarts == 2
    assert state.last_restart == rfc3339(state.events[-1].time)


def test_only_the_last_events_are_kept() -> None:
    state = TaskState()
    for code in range(MAX_EVENTS + 3):
        append_event(state, events.terminated(code, 0))
    assert MAX_EVENTS == 10
    assert [e.exit_code for e in state.events] == list(range(3, MAX_EVENTS + 3))


def test_started_at_is_stamped_on_every_entry_into_running() -> None:
    state = TaskState()
    set_state(state, TaskStateName.RUNNING, T1)
    set_state(state, TaskStateName.RUNNING, T2)  # still running: unchanged
    assert state.started_at == rfc3339(T1)
    set_state(state, TaskStateName.PENDING, T2)
    set_state(state, TaskStateName.RUNNING, T3)
    assert state.state == TaskStateName.RUNNING and state.started_at == rfc3339(T3)
    assert state.finished_at == ZERO_TIME


def test_finished_at_is_stamped_the_first_time_the_task_is_dead() -> None:
    state = TaskState()
    set_state(state, TaskStateName.DEAD, T1)
    set_state(state, TaskStateName.RUNNING, T2)
    set_state(state, TaskStateName.DEAD, T3)
    assert state.state == TaskStateName.DEAD and state.finished_at == rfc3339(T1)


def test_a_copy_shares_nothing_mutable() -> None:
    state = TaskState()
    append_event(state, events.terminated(1, 0))
    set_state(state, TaskStateName.DEAD, T1)
    copied = copy_state(state)
    assert copied == state
    copied.events[0].details["exit_code"] = "99"
    copied.events.append(events.received())
    copied.restarts = 5
    assert state.events[0].details["exit_code"] == "1" and len(state.events) == 1
    assert state.restarts == 0
