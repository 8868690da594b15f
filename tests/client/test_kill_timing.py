"""Kill timing: kill_timeout capped by the client, shutdown_delay waited or skipped."""

from __future__ import annotations

from nomadjail.client.kill_timing import DEFAULT_KILL_TIMEOUT, kill_timeout, shutdown_delay
from nomadjail.structs import SECOND, Task, TaskEventType
from nomadjail.testing import mock_alloc, mock_job, mock_node


def test_kill_timeout_is_the_tasks_capped_by_the_client() -> None:
    assert kill_timeout(Task(name="web", kill_timeout=2 * SECOND), 30.0) == 2.0
    assert kill_timeout(Task(name="web", kill_timeout=60 * SECOND), 30.0) == 30.0
    assert kill_timeout(Task(name="web", kill_timeout=0), 30.0) == 0.0


def test_kill_timeout_defaults_to_five_seconds() -> None:
    assert DEFAULT_KILL_TIMEOUT == 5.0
    assert kill_timeout(Task(name="web", kill_timeout=None), 30.0) == 5.0
    assert kill_timeout(Task(name="web", kill_timeout=None), 1.0) == 1.0


def test_no_shutdown_delay_no_event_no_wait() -> None:
    job = mock_job()
    alloc = mock_alloc(job, mock_node())
    assert shutdown_delay(job.task_groups[0].tasks[0], alloc) == (None, 0.0)


def test_a_shutdown_delay_is_waited_with_an_event() -> None:
    job = mock_job()
    task = job.task_groups[0].tasks[0]
    task.shutdown_delay = 3 * SECOND
    event, wait = shutdown_delay(task, mock_alloc(job, mock_node()))
    assert wait == 3.0
    assert event is not None and event.type == TaskEventType.WAITING_SHUTDOWN_DELAY
    assert event.display_message == ("Waiting for shutdown_delay of 3s before killing the "
                                     "task.")


def test_no_shutdown_delay_asked_by_the_stop_skips_it_with_an_event() -> None:
    job = mock_job()
    task = job.task_groups[0].tasks[0]
    task.shutdown_delay = 3 * SECOND
    alloc = mock_alloc(job, mock_node())
    alloc.desired_transition.no_shutdown_delay = True
    event, wait = shutdown_delay(task, alloc)
    assert wait == 0.0
    assert event is not None and event.type == TaskEventType.SKIPPING_SHUTDOWN_DELAY
    assert event.display_message == ("Skipping shutdown_delay of 3s before killing the "
                                     "task.")
