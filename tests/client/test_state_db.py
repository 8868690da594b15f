"""The client's local state survives restarts and torn writes never show."""

from __future__ import annotations

import os

import pytest

from nomadjail.client.state_db import FileStateDB, LocalTaskState, MemoryStateDB
from nomadjail.drivers.base import TaskHandle
from nomadjail.structs import AllocDeploymentStatus, TaskEvent, TaskState
from nomadjail.testing import mock_alloc, mock_job, mock_node


@pytest.fixture(params=["file", "memory"])
def db(request, tmp_path):
    return FileStateDB(str(tmp_path / "state")) if request.param == "file" else MemoryStateDB()


def test_round_trip(db):
    alloc = mock_alloc(mock_job(), mock_node())
    db.put_allocation(alloc)
    handle = TaskHandle(driver="raw_exec", task_id=f"{alloc.id}/web/abc", started_at=5, pid=42,
                        state={"supervisor_pid": 41, "status_path": "/x"})
    local = LocalTaskState(handle=handle, restart_count=2, restart_interval_start=1.5,
                           hook_state={"task_dir": {"done": "true"}})
    state = TaskState(state="running", restarts=2,
                      events=[TaskEvent(type="Started", time=7, details={"a": "b"})])
    db.put_task_local_state(alloc.id, "web", local)
    db.put_task_state(alloc.id, "web", state)
    db.put_deployment_status(alloc.id, AllocDeploymentStatus(healthy=True, canary=True))

    allocs, errors = db.get_allocations()
    assert errors == {}
    assert [a.id for a in allocs] == [alloc.id]
    assert allocs[0].job.id == alloc.job.id
    got_local, got_state = db.get_task_state(alloc.id, "web")
    assert got_local == local and got_state == state
    assert db.get_deployment_status(alloc.id).healthy is True


def test_delete_forgets_everything_and_late_writes_do_not_resurrect(db):
    alloc = mock_alloc(mock_job(), mock_node())
    db.put_allocation(alloc)
    db.put_task_state(alloc.id, "web", TaskState())
    db.delete_allocation(alloc.id)
    db.put_task_state(alloc.id, "web", TaskState(state="dead"))
    assert db.get_allocations() == ([], {})
    assert db.get_task_state(alloc.id, "web") == (None, None)


def test_a_corrupt_file_is_reported_not_fatal(tmp_path):
    db = FileStateDB(str(tmp_path / "state"))
    good, bad = mock_alloc(mock_job(), mock_node()), mock_alloc(mock_job(), mock_node())
    db.put_allocation(good)
    db.put_allocation(bad)
    with open(os.path.join(db.allocs_dir, bad.id, "alloc.json"), "w") as out:
        out.write('{"ID": "half')
    allocs, errors = db.get_allocations()
    assert [a.id for a in allocs] == [good.id]
    assert bad.id in errors


def test_writes_leave_no_temporary_files(tmp_path):
    db = FileStateDB(str(tmp_path / "state"))
    alloc = mock_alloc(mock_job(), mock_node())
    for _ in range(3):
        db.put_task_state(alloc.id, "web", TaskState())
    names = os.listdir(os.path.join(db.allocs_dir, alloc.id))
    assert names == ["task-web.state.json"]
