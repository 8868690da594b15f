"""Kill timing: kill_timeout capped by the client, shutdown_delay waited or skipped, and the
TaskKiller that follows those rules."""

from __future__ import annotations

import threading

from nomadjail.client.driver_calls import DriverCalls
from nomadjail.client.kill_timing import (
    DEFAULT_KILL_TIMEOUT,
    TaskKiller,
    kill_timeout,
    shutdown_delay,
)
from nomadjail.drivers.base import DriverError, TaskHandle, TaskNotFound
from nomadjail.structs import HOUR, SECOND, Task, TaskEvent, TaskEventType
from nomadjail.testing import mock_alloc, mock_job, mock_node
from nomadjail.testing.waiting import wait_for

HANDLE = TaskHandle(driver="stopper", task_id="a1/web/0001", pid=42)


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


class Stopper:
    """A driver that records its stops and fails them as the test says."""

    name = "stopper"

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.stops: list[tuple[str, float, str]] = []

    def stop_task(self, handle: TaskHandle, timeout: float, signal: str) -> None:
        self.stops.append((handle.task_id, timeout, signal))
        if self.error is not None:
            raise self.error


def killer(driver: Stopper, emitted: list[TaskEvent], *, max_kill_timeout: float = 30.0
           ) -> TaskKiller:
    calls = DriverCalls(driver, driver_name="stopper", alloc_id="a1", task="web")
    return TaskKiller(calls, emit=emitted.append, max_kill_timeout=max_kill_timeout)


def test_the_driver_stops_the_task_with_its_signal_and_capped_timeout() -> None:
    driver, emitted = Stopper(), []
    job = mock_job()
    task = job.task_groups[0].tasks[0]
    task.kill_signal, task.kill_timeout = "SIGINT", 60 * SECOND
    task_killer = killer(driver, emitted, max_kill_timeout=30.0)
    task_killer.kill(HANDLE, task, mock_alloc(job, mock_node()))
    assert driver.stops == [("a1/web/0001", 30.0, "SIGINT")]
    assert task_killer.timeout(task) == 30.0
    assert emitted == [] and task_killer.error == ""


def test_a_failed_stop_keeps_its_error_a_gone_task_is_stopped() -> None:
    job = mock_job()
    task, alloc = job.task_groups[0].tasks[0], mock_alloc(job, mock_node())
    failing = killer(Stopper(DriverError("jail is busy")), [])
    failing.kill(HANDLE, task, alloc)
    assert failing.error == "jail is busy"
    gone = killer(Stopper(TaskNotFound("no such task")), [])
    gone.kill(HANDLE, task, alloc)
    assert gone.error == ""


def test_the_shutdown_delay_is_announced_and_a_skip_cuts_it_short() -> None:
    driver, emitted = Stopper(), []
    job = mock_job()
    task, alloc = job.task_groups[0].tasks[0], mock_alloc(job, mock_node())
    task.shutdown_delay = HOUR  # longer than any test: only the skip ends the wait
    task_killer = killer(driver, emitted)
    thread = threading.Thread(target=task_killer.kill, args=(HANDLE, task, alloc), daemon=True)
    thread.start()
    wait_for(lambda: emitted, message="the shutdown delay's event")
    assert emitted[0].type == TaskEventType.WAITING_SHUTDOWN_DELAY and driver.stops == []
    task_killer.skip_delay()
    wait_for(lambda: driver.stops, message="the stop after the skipped delay")
    thread.join(timeout=10)
    assert not thread.is_alive()
