"""A client restarted on the same data dir picks up its tasks; it never starts a second copy."""

from __future__ import annotations

import os

import psutil

from nomadjail.drivers.mock import MockDriver
from nomadjail.structs import TaskEventType
from nomadjail.testing import wait_for

E = TaskEventType

RECORD_AND_LOOP = ('echo $$ >> "$NOMAD_TASK_DIR/pids"; trap \'exit 0\' INT; '
                   'while true; do echo tick; sleep 0.05; done')


def pids(client, alloc_id) -> list[int]:
    path = os.path.join(client.config.alloc_root, alloc_id, "web", "local", "pids")
    try:
        return [int(line) for line in open(path).read().split()]
    except FileNotFoundError:
        return []


def test_restarted_client_reattaches_without_a_second_copy(make_client, servers, kit):
    first = make_client()
    first.start()
    job = kit.run_job({"command": "/bin/sh", "args": ["-c", RECORD_AND_LOOP]})
    alloc = servers.place(kit.alloc_for(job, first))
    kit.wait_status(servers, alloc.id, "running")
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
    kit.wait_status(servers, alloc.id, "complete")
    assert pids(second, alloc.id) == [task_pid]
    assert not psutil.pid_exists(task_pid) or psutil.Process(task_pid).status() == "zombie"


def test_task_that_exited_while_the_client_was_down_is_reported(make_client, servers, kit,
                                                                tmp_path):
    gate = tmp_path / "gate"
    first = make_client()
    first.start()
    job = kit.run_job({"command": "/bin/sh",
                       "args": ["-c", f'echo $$ >> "$NOMAD_TASK_DIR/pids"; '
                                      f"while [ ! -e {gate} ]; do sleep 0.05; done; exit 3"]},
                      job_type="batch", restart={"attempts": 0})
    alloc = servers.place(kit.alloc_for(job, first))
    kit.wait_status(servers, alloc.id, "running")
    task_pid = wait_for(lambda: pids(first, alloc.id), message="task started")[0]
    first.shutdown()
    gate.touch()
    wait_for(lambda: not psutil.pid_exists(task_pid)
             or psutil.Process(task_pid).status() == "zombie", message="task exited")

    second = make_client()
    second.start()
    kit.wait_status(servers, alloc.id, "failed")
    events = servers.task_state(alloc.id, "web").events
    terminated = [e for e in events if e.type == E.TERMINATED]
    assert len(terminated) == 1 and terminated[0].exit_code == 3
    assert events[-1].type == E.NOT_RESTARTING
    assert pids(second, alloc.id) == [task_pid]  # not started again


def test_mock_tasks_resume_their_timer_after_a_restart(make_client, servers, kit):
    first = make_client(drivers={"mock_driver": MockDriver()})
    first.start()
    job = kit.run_job({"run_for": "400ms", "exit_code": 0}, driver="mock_driver",
                      job_type="batch")
    alloc = servers.place(kit.alloc_for(job, first))
    kit.wait_status(servers, alloc.id, "running")
    first.shutdown()
    second = make_client(drivers={"mock_driver": MockDriver()})
    second.start()
    kit.wait_status(servers, alloc.id, "complete")
    assert servers.event_types(alloc.id, "web").count(E.STARTED) == 1


def test_stopped_while_down_is_killed_after_restart(make_client, servers, kit):
    first = make_client()
    first.start()
    job = kit.run_job({"command": "/bin/sh", "args": ["-c", RECORD_AND_LOOP]})
    alloc = servers.place(kit.alloc_for(job, first))
    kit.wait_status(servers, alloc.id, "running")
    task_pid = wait_for(lambda: pids(first, alloc.id), message="task started")[0]
    first.shutdown()
    servers.stop(alloc.id)
    second = make_client()
    second.start()
    kit.wait_status(servers, alloc.id, "complete")
    wait_for(lambda: not psutil.pid_exists(task_pid)
             or psutil.Process(task_pid).status() == "zombie", message="task killed")
    assert pids(second, alloc.id) == [task_pid]
