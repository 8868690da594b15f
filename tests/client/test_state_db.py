"""The client's local state survives restarts and torn writes never show."""

from __future__ import annotations

import errno
import os
import threading

import pytest

from nomadjail.client.state_db import FileStateDB, LocalTaskState, MemoryStateDB
from nomadjail.drivers.base import StartRecord, TaskHandle
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
    db.put_allocation(alloc)
    for _ in range(3):
        db.put_task_state(alloc.id, "web", TaskState())
    names = sorted(os.listdir(os.path.join(db.allocs_dir, alloc.id)))
    assert names == ["alloc.json", "task-web.state.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    db = FileStateDB(str(tmp_path / "state"))
    alloc = mock_alloc(mock_job(), mock_node())
    db.put_allocation(alloc)
    db.put_task_state(alloc.id, "web", TaskState(state="running"))

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        db.put_task_state(alloc.id, "web", TaskState(state="dead"))
    monkeypatch.undo()
    assert sorted(os.listdir(os.path.join(db.allocs_dir, alloc.id))) == [
        "alloc.json", "task-web.state.json"]
    assert db.get_task_state(alloc.id, "web")[1].state == "running"


def test_task_writes_for_an_allocation_never_stored_are_dropped(db):
    db.put_task_state("never-put", "web", TaskState(state="dead"))
    db.put_task_local_state("never-put", "web", LocalTaskState(restart_count=1))
    db.put_deployment_status("never-put", AllocDeploymentStatus(healthy=True))
    assert db.get_task_state("never-put", "web") == (None, None)
    assert db.get_deployment_status("never-put") is None


def test_nothing_is_remembered_per_allocation_once_deleted(tmp_path):
    """A client that ran thousands of allocations holds no bookkeeping for the gone ones."""
    db = FileStateDB(str(tmp_path / "state"))
    for _ in range(50):
        alloc = mock_alloc(mock_job(), mock_node())
        db.put_allocation(alloc)
        db.put_task_state(alloc.id, "web", TaskState())
        db.delete_allocation(alloc.id)
    assert db._alloc_locks == {}  # the leak this guards against: one lock per alloc ever seen
    assert os.listdir(db.allocs_dir) == []


def test_concurrent_writers_of_one_allocation_all_land(tmp_path):
    db = FileStateDB(str(tmp_path / "state"), fsync=False)
    alloc = mock_alloc(mock_job(), mock_node())
    db.put_allocation(alloc)

    def write(task: str) -> None:
        for restarts in range(20):
            db.put_task_state(alloc.id, task, TaskState(restarts=restarts))

    threads = [threading.Thread(target=write, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [db.get_task_state(alloc.id, f"t{i}")[1].restarts for i in range(4)] == [19] * 4
    assert db._alloc_locks == {}


def test_collected_allocations_survive_a_restart(tmp_path):
    db = FileStateDB(str(tmp_path / "state"))
    assert db.get_collected_allocs() == set()
    db.put_collected_allocs({"a", "b"})
    assert FileStateDB(str(tmp_path / "state")).get_collected_allocs() == {"a", "b"}
    db.put_collected_allocs(["b"])
    assert FileStateDB(str(tmp_path / "state")).get_collected_allocs() == {"b"}


def test_start_record_and_pending_destroys_round_trip(db):
    alloc = mock_alloc(mock_job(), mock_node())
    db.put_allocation(alloc)
    local = LocalTaskState(
        start_record=StartRecord(driver="raw_exec", task_id=f"{alloc.id}/web/1",
                                 state={"pid_path": "/p"}),
        destroy_pending=[TaskHandle(driver="raw_exec", task_id=f"{alloc.id}/web/0", pid=9)])
    db.put_task_local_state(alloc.id, "web", local)
    assert db.get_task_state(alloc.id, "web")[0] == local
