"""After a client restart: when a task that could not be re-attached waits for the servers."""

from __future__ import annotations

from nomadjail.client.task_restore import waits_for_servers
from nomadjail.structs import AllocClientStatus, AllocDesiredStatus, JobType, TaskStateName
from nomadjail.testing import mock_alloc, mock_job, mock_node


def test_a_lost_running_task_waits_for_the_servers() -> None:
    alloc = mock_alloc(mock_job(), mock_node())
    assert waits_for_servers(TaskStateName.RUNNING, alloc)
    assert waits_for_servers(TaskStateName.RUNNING,
                             mock_alloc(mock_job(job_type=JobType.BATCH), mock_node()))


def test_a_task_that_was_not_running_does_not_wait() -> None:
    alloc = mock_alloc(mock_job(), mock_node())
    assert not waits_for_servers(TaskStateName.PENDING, alloc)
    assert not waits_for_servers(TaskStateName.DEAD, alloc)


def test_a_stopped_allocation_does_not_wait() -> None:
    stopped = mock_alloc(mock_job(), mock_node())
    stopped.desired_status = AllocDesiredStatus.STOP
    assert not waits_for_servers(TaskStateName.RUNNING, stopped)
    failed = mock_alloc(mock_job(), mock_node(), client_status=AllocClientStatus.FAILED)
    assert not waits_for_servers(TaskStateName.RUNNING, failed)


def test_a_system_job_does_not_wait() -> None:
    alloc = mock_alloc(mock_job(job_type=JobType.SYSTEM), mock_node())
    assert not waits_for_servers(TaskStateName.RUNNING, alloc)
