"""A task's records in the state db: failed writes logged, strict ones raised."""

from __future__ import annotations

import logging

import pytest

from nomadjail.client.state_db import LocalTaskState, MemoryStateDB
from nomadjail.client.task_store import TaskStore
from nomadjail.drivers.base import StartRecord
from nomadjail.structs import TaskState, TaskStateName
from nomadjail.testing import mock_alloc, mock_job, mock_node


class FullDisk(MemoryStateDB):
    """Every task write fails, as on a full disk."""

    def put_task_state(self, alloc_id: str, task: str, state: TaskState) -> None:
        raise OSError(28, "No space left on device")

    def put_task_local_state(self, alloc_id: str, task: str, local: LocalTaskState) -> None:
        raise OSError(28, "No space left on device")


def stored_alloc_id(db: MemoryStateDB) -> str:
    alloc = mock_alloc(mock_job(), mock_node())
    db.put_allocation(alloc)
    return alloc.id


def test_what_is_put_is_loaded() -> None:
    db = MemoryStateDB()
    store = TaskStore(db, alloc_id=stored_alloc_id(db), task="web")
    assert store.load() == (None, None)
    store.put_state(TaskState(state=TaskStateName.RUNNING))
    store.put_local(LocalTaskState(restart_count=2))
    local, state = store.load()
    assert state is not None and state.state == TaskStateName.RUNNING
    assert local is not None and local.restart_count == 2


def test_a_failed_write_is_logged_and_the_runner_carries_on(caplog) -> None:
    db = FullDisk()
    alloc_id = stored_alloc_id(db)
    store = TaskStore(db, alloc_id=alloc_id, task="web")
    with caplog.at_level(logging.ERROR, logger="nomadjail.client.task_store"):
        store.put_state(TaskState(state=TaskStateName.RUNNING))
        store.put_local(LocalTaskState())
    assert [r.getMessage() for r in caplog.records] == [
        f"alloc {alloc_id} task web: cannot persist task state: "
        "[Errno 28] No space left on device",
        f"alloc {alloc_id} task web: cannot persist the task handle: "
        "[Errno 28] No space left on device"]


def test_a_strict_write_raises() -> None:
    db = FullDisk()
    store = TaskStore(db, alloc_id=stored_alloc_id(db), task="web")
    record = StartRecord(driver="mock_driver", task_id="a1/web/0001")
    with pytest.raises(OSError, match="No space left"):
        store.put_local(LocalTaskState(start_record=record), strict=True)
