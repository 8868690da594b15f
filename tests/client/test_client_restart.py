"""A client restarted on the same data dir picks up its tasks; it never starts a second copy."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import psutil
import pytest

from nomadjail.client import pending_destroys
from nomadjail.drivers.base import DriverError, TaskNotFound
from nomadjail.drivers.mock import MockDriver
from nomadjail.drivers.raw_exec import RawExecDriver
from nomadjail.structs import TaskEventType
from nomadjail.testing import wait_for
from nomadjail.testing.fake_servers import alloc_for, one_task_job, wait_client_status

E = TaskEventType

RECORD_AND_LOOP = ('echo $$ >> "$NOMAD_TASK_DIR/pids"; trap \'exit 0\' INT; '
                   'while true; do echo tick; sleep 0.05; done')


def pids(client, alloc_id) -> list[int]:
    path = os.path.join(client.config.alloc_root, alloc_id, "web", "local", "pids")
    try:
        return [int(line) for line in Path(path).read_text().split()]
    except FileNotFoundError:
        return []


def test_restarted_client_reattaches_without_a_second_copy(make_client, servers):
    first = make_client()
    first.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", RECORD_AND_LOOP]})
    alloc = servers.place(alloc_for(job, first))
    wait_client_status(servers, alloc.id, "running")
    task_pid = wait_for(lambda: pids(first, alloc.id), message="task started")[0]
    first.shutdown()
    assert psutil.pid_exists(task_pid)  # tasks outlive their client

    second = make_client()
    assert second.node_id == first.node_id  # the node ID persists in the data dir
    second.start()
    wait_for(lambda: second.alloc_runner(alloc.id) is not None, message="alloc restored")
    updates_before = len(servers.updates)
    wait_for(lambda: len(servers.updates) > updates_before, message="status re-reported")
    assert servers.client_status(alloc.id) == "running"
    assert pids(second, alloc.id) == [task_pid]
    types = servers.event_types(alloc.id, "web")
    assert types.count(E.STARTED) == 1  # re-attaching is not a start

    servers.stop(alloc.id)
    wait_client_status(servers, alloc.id, "complete")
    assert pids(second, alloc.id) == [task_pid]
    assert not psutil.pid_exists(task_pid) or psutil.Process(task_pid).status() == "zombie"


def test_task_that_exited_while_the_client_was_down_is_reported(make_client, servers,
                                                                tmp_path):
    gate = tmp_path / "gate"
    first = make_client()
    first.start()
    job = one_task_job({"command": "/bin/sh",
                        "args": ["-c", f'echo $$ >> "$NOMAD_TASK_DIR/pids"; '
                                       f"while [ ! -e {gate} ]; do sleep 0.05; done; exit 3"]},
                       job_type="batch", restart={"attempts": 0})
    alloc = servers.place(alloc_for(job, first))
    wait_client_status(servers, alloc.id, "running")
    task_pid = wait_for(lambda: pids(first, alloc.id), message="task started")[0]
    first.shutdown()
    gate.touch()
    wait_for(lambda: not psutil.pid_exists(task_pid)
             or psutil.Process(task_pid).status() == "zombie", message="task exited")

    second = make_client()
    second.start()
    wait_client_status(servers, alloc.id, "failed")
    events = servers.task_state(alloc.id, "web").events
    terminated = [e for e in events if e.type == E.TERMINATED]
    assert len(terminated) == 1 and terminated[0].exit_code == 3
    assert events[-1].type == E.NOT_RESTARTING
    assert pids(second, alloc.id) == [task_pid]  # not started again


def test_mock_tasks_resume_their_timer_after_a_restart(make_client, servers):
    first = make_client(drivers={"mock_driver": MockDriver()})
    first.start()
    job = one_task_job({"run_for": "400ms", "exit_code": 0}, driver="mock_driver",
                       job_type="batch")
    alloc = servers.place(alloc_for(job, first))
    wait_client_status(servers, alloc.id, "running")
    first.shutdown()
    second = make_client(drivers={"mock_driver": MockDriver()})
    second.start()
    wait_client_status(servers, alloc.id, "complete")
    assert servers.event_types(alloc.id, "web").count(E.STARTED) == 1


def test_stopped_while_down_is_killed_after_restart(make_client, servers):
    first = make_client()
    first.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", RECORD_AND_LOOP]})
    alloc = servers.place(alloc_for(job, first))
    wait_client_status(servers, alloc.id, "running")
    task_pid = wait_for(lambda: pids(first, alloc.id), message="task started")[0]
    first.shutdown()
    servers.stop(alloc.id)
    second = make_client()
    second.start()
    wait_client_status(servers, alloc.id, "complete")
    wait_for(lambda: not psutil.pid_exists(task_pid)
             or psutil.Process(task_pid).status() == "zombie", message="task killed")
    assert pids(second, alloc.id) == [task_pid]


class DiesInsideStart(RawExecDriver):
    """A client killed inside start_task: the start is recorded, the task may have been
    launched (``launch=True``), but start_task never returns to persist the handle."""

    def __init__(self, *, launch: bool) -> None:
        super().__init__()
        self.launch = launch
        self.inside = threading.Event()
        self.release = threading.Event()

    def start_task(self, cfg):
        if self.launch:
            super().start_task(cfg)
        self.inside.set()
        self.release.wait()  # the "dead" client never gets further
        raise DriverError("the client is gone")


@pytest.mark.parametrize("launched", [True, False], ids=["task launched", "nothing launched"])
def test_a_client_killed_inside_start_never_runs_a_second_copy(make_client, servers,
                                                                launched):
    dying = DiesInsideStart(launch=launched)
    first = make_client(drivers={"raw_exec": dying})
    first.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", RECORD_AND_LOOP]})
    alloc = servers.place(alloc_for(job, first))
    wait_for(dying.inside.is_set, message="the client inside start_task")
    if launched:
        wait_for(lambda: pids(first, alloc.id), message="task launched")
    first.shutdown()  # its state db now holds the start record, no handle
    try:
        second = make_client()
        second.start()
        wait_client_status(servers, alloc.id, "running")
        task_pids = wait_for(lambda: pids(second, alloc.id), message="task running")
        assert len(task_pids) == 1  # re-attached to the launched task, or started it once
        assert servers.event_types(alloc.id, "web").count(E.STARTED) == 1
        servers.stop(alloc.id)
        wait_client_status(servers, alloc.id, "complete")
        assert not psutil.pid_exists(task_pids[0]) or \
            psutil.Process(task_pids[0]).status() == "zombie"
        assert pids(second, alloc.id) == task_pids
    finally:
        dying.release.set()


class DestroyFailsTwice(MockDriver):
    """A driver that cannot find the task after a restart and fails to clean it up twice."""

    def __init__(self) -> None:
        super().__init__()
        self.destroy_calls = 0

    def recover_task(self, handle):
        raise TaskNotFound(f"{handle.task_id} is gone")

    def destroy_task(self, handle, force):
        self.destroy_calls += 1
        if self.destroy_calls <= 2:
            raise DriverError("device busy")
        super().destroy_task(handle, force)


def test_a_failed_destroy_on_restore_is_kept_and_retried(make_client, servers, monkeypatch,
                                                         caplog):
    monkeypatch.setattr(pending_destroys, "DESTROY_RETRY_FIRST", 0.05)
    first = make_client(drivers={"mock_driver": MockDriver()})
    first.start()
    job = one_task_job({"run_for": "60s"}, driver="mock_driver")
    alloc = servers.place(alloc_for(job, first))
    wait_client_status(servers, alloc.id, "running")
    first.shutdown()
    driver = DestroyFailsTwice()
    second = make_client(drivers={"mock_driver": driver})
    with caplog.at_level(logging.ERROR, logger="nomadjail.client.pending_destroys"):
        second.start()
    runner = second.alloc_runner(alloc.id).tasks["web"]
    failed = [r.getMessage() for r in caplog.records if "destroying task" in r.getMessage()]
    assert failed and alloc.id in failed[0] and "web" in failed[0] and "pid 0" in failed[0]
    wait_for(lambda: driver.destroy_calls >= 3 and not runner.pending_destroys(),
             message="the destroy retried until it succeeded")
    local, _ = second._db.get_task_state(alloc.id, "web")
    assert local.destroy_pending == []


def test_a_destroy_still_pending_is_retried_after_another_restart(make_client, servers,
                                                                  monkeypatch):
    monkeypatch.setattr(pending_destroys, "DESTROY_RETRY_FIRST", 3600.0)  # no retry in this life
    first = make_client(drivers={"mock_driver": MockDriver()})
    first.start()
    job = one_task_job({"run_for": "60s"}, driver="mock_driver")
    alloc = servers.place(alloc_for(job, first))
    wait_client_status(servers, alloc.id, "running")
    first.shutdown()
    second = make_client(drivers={"mock_driver": DestroyFailsTwice()})
    second.start()
    assert len(second.alloc_runner(alloc.id).tasks["web"].pending_destroys()) == 1
    second.shutdown()
    monkeypatch.setattr(pending_destroys, "DESTROY_RETRY_FIRST", 0.05)
    driver = DestroyFailsTwice()
    driver.destroy_calls = 2  # it works now
    third = make_client(drivers={"mock_driver": driver})
    third.start()
    runner = third.alloc_runner(alloc.id).tasks["web"]
    wait_for(lambda: not runner.pending_destroys(), message="the persisted destroy retried")
    assert driver.destroy_calls == 3
