"""Allocations on a client: restart policy, kills, sibling/leader rules, lifecycle, health."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest

from nomadjail.client.restarts import REASON_DELAY
from nomadjail.structs import (
    SECOND,
    AllocDeploymentStatus,
    BadRequest,
    NotFound,
    Task,
    TaskEventType,
    TaskLifecycle,
    UpdateStrategy,
    parse_rfc3339,
)
from nomadjail.testing import wait_for
from nomadjail.testing.fake_servers import alloc_for, one_task_job, wait_client_status

E = TaskEventType


def test_restart_policy_attempts_then_fail(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"run_for": "10ms", "exit_code": 1}, driver="mock_driver",
                       restart={"attempts": 2, "delay": 20_000_000, "interval": 60 * SECOND,
                                "mode": "fail"})
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "failed")
    state = servers.task_state(alloc.id, "web")
    assert (state.state, state.failed, state.restarts) == ("dead", True, 2)
    assert state.last_restart != "0001-01-01T00:00:00Z"
    # Nomad keeps the last 10 events: "Received" has been dropped.
    assert [e.type for e in state.events] == [
        E.SETUP, E.STARTED, E.TERMINATED, E.RESTARTING, E.STARTED, E.TERMINATED, E.RESTARTING,
        E.STARTED, E.TERMINATED, E.NOT_RESTARTING]
    last = state.events[-1]
    assert last.display_message == 'Exceeded allowed attempts 2 in interval 1m0s and mode is "fail"'
    assert last.fails_task
    restarting = next(e for e in state.events if e.type == E.RESTARTING)
    assert restarting.restart_reason == "Restart within policy"
    assert 20_000_000 <= restarting.start_delay <= 25_000_000
    assert restarting.display_message.startswith("Task restarting in ")
    terminated = next(e for e in state.events if e.type == E.TERMINATED)
    assert (terminated.exit_code, terminated.display_message) == (1, "Exit Code: 1")
    assert servers.alloc(alloc.id).client_description == "Failed tasks"


def test_restart_policy_mode_delay_keeps_going(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"run_for": "10ms", "exit_code": 1}, driver="mock_driver",
                       restart={"attempts": 1, "delay": 10_000_000, "interval": SECOND // 2,
                                "mode": "delay"})
    alloc = servers.place(alloc_for(job, client))
    wait_for(lambda: any(e.restart_reason == REASON_DELAY
                         for e in servers.task_state(alloc.id, "web").events),
             message="a delayed restart")
    wait_for(lambda: servers.task_state(alloc.id, "web").restarts >= 3, message="more restarts")
    assert not servers.task_state(alloc.id, "web").failed
    assert servers.client_status(alloc.id) != "failed"


def test_batch_failure_without_attempts_fails_the_alloc(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", "exit 3"]}, job_type="batch",
                       restart={"attempts": 0})
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "failed")
    events = servers.task_state(alloc.id, "web").events
    assert events[-2].type == E.TERMINATED and events[-2].exit_code == 3
    assert (events[-1].type, events[-1].restart_reason) == (E.NOT_RESTARTING,
                                                            "Policy allows no restarts")


def test_service_exit_zero_is_restarted(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"run_for": "10ms"}, driver="mock_driver",
                       restart={"attempts": 5, "delay": 10_000_000, "mode": "fail"})
    alloc = servers.place(alloc_for(job, client))
    wait_for(lambda: servers.task_state(alloc.id, "web").restarts >= 1, message="a restart")


TRAP_LOOP = ("trap 'echo stopping; exit 0' INT; echo $$ > \"$NOMAD_TASK_DIR/pid\"; "
             "while true; do sleep 0.05; done")


def _pid(client, alloc_id):
    path = Path(client.alloc_dir(alloc_id), "web", "local", "pid")
    return wait_for(lambda: path.exists() and path.read_text().strip()
                    and int(path.read_text()), message="task pid file")


def test_desired_stop_kills_the_task(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", TRAP_LOOP]})
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "running")
    pid = _pid(client, alloc.id)
    servers.stop(alloc.id)
    wait_client_status(servers, alloc.id, "complete")
    events = servers.task_state(alloc.id, "web").events
    assert [e.type for e in events[-3:]] == [E.KILLING, E.TERMINATED, E.KILLED]
    assert events[-3].display_message == "Sent interrupt. Waiting 5s before force killing"
    assert events[-2].exit_code == 0  # it trapped SIGINT and exited by itself
    assert events[-1].display_message == "Task successfully killed"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    log = Path(client.alloc_dir(alloc.id), "alloc", "logs", "web.stdout.0")
    assert "stopping" in log.read_text()  # the alloc dir (and logs) stay after stop


def test_kill_signal_and_timeout_escalate(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", "trap '' INT TERM; "
                                                      "while true; do sleep 0.05; done"]},
                       kill_timeout=0.2)
    job.task_groups[0].tasks[0].kill_signal = "SIGTERM"
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "running")
    servers.stop(alloc.id)
    wait_client_status(servers, alloc.id, "complete")
    terminated = [e for e in servers.task_state(alloc.id, "web").events
                  if e.type == E.TERMINATED][-1]
    assert terminated.signal == 9 and terminated.exit_code == 137


def test_driver_failure_is_not_restarted(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"command": "/no/such/binary"})
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "failed")
    events = servers.task_state(alloc.id, "web").events
    assert events[-2].type == E.DRIVER_FAILURE and "/no/such/binary" in events[-2].driver_error
    assert (events[-1].type, events[-1].restart_reason) == (E.NOT_RESTARTING,
                                                            "Error was unrecoverable")


def test_recoverable_start_error_is_retried(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"start_error": "flaky", "start_error_recoverable": True},
                       driver="mock_driver",
                       restart={"attempts": 1, "delay": 10_000_000, "mode": "fail"})
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "failed")
    types = servers.event_types(alloc.id, "web")
    assert types.count(E.DRIVER_FAILURE) == 2 and E.RESTARTING in types


def test_invalid_config_fails_validation(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"comand": "/bin/true"})
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "failed")
    event = next(e for e in servers.task_state(alloc.id, "web").events
                 if e.type == E.FAILED_VALIDATION)
    assert "'command' is required" in event.validation_error
    assert "did you mean \"command\"" in event.display_message


def test_unknown_driver_fails_the_alloc(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"image": "x"}, driver="docker")
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "failed")
    description = servers.alloc(alloc.id).client_description
    assert description.startswith("Unable to add allocation due to error:")
    assert '"docker"' in description


def two_task_job(main: dict, other: dict, *, job_type="service"):
    job = one_task_job(main, driver="mock_driver", job_type=job_type, restart={"attempts": 0})
    group = job.task_groups[0]
    first = group.tasks[0]
    second = Task(name="other", driver="mock_driver", config=other,
                  restart_policy=first.restart_policy, resources=first.resources,
                  kill_timeout=first.kill_timeout, log_config=first.log_config)
    group.tasks.append(second)
    return job


def test_failed_task_kills_its_siblings(make_client, servers):
    client = make_client()
    client.start()
    # The main task fails after a second: long enough for its sibling to have started
    # even on a loaded machine (a task killed before it starts records no "Killed").
    job = two_task_job({"run_for": "1s", "exit_code": 1}, {"run_for": "60s"})
    alloc = servers.place(alloc_for(job, client))
    wait_for(lambda: servers.task_state(alloc.id, "other").state == "running",
             message="the sibling running")
    wait_client_status(servers, alloc.id, "failed")
    other = wait_for(lambda: (s := servers.task_state(alloc.id, "other")).state == "dead" and s,
                     message="sibling killed")
    assert not other.failed
    sibling = next(e for e in other.events if e.type == E.SIBLING_FAILED)
    assert sibling.display_message == 'Task\'s sibling "web" failed'
    assert E.KILLED in [e.type for e in other.events]


def test_dead_leader_stops_the_group(make_client, servers):
    client = make_client()
    client.start()
    job = two_task_job({"run_for": "20ms"}, {"run_for": "60s"}, job_type="batch")
    job.task_groups[0].tasks[0].leader = True
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "complete")
    assert E.LEADER_DEAD in servers.event_types(alloc.id, "other")


def test_prestart_task_runs_before_the_main_task(make_client, servers):
    client = make_client()
    client.start()
    job = two_task_job({"run_for": "30s"}, {"run_for": "50ms"})
    job.task_groups[0].tasks[1].lifecycle = TaskLifecycle(hook="prestart", sidecar=False)
    alloc = servers.place(alloc_for(job, client))
    wait_for(lambda: servers.task_state(alloc.id, "web").state == "running",
             message="main task running")
    prestart = servers.task_state(alloc.id, "other")
    main = servers.task_state(alloc.id, "web")
    assert prestart.state == "dead" and not prestart.failed
    assert parse_rfc3339(main.started_at) >= parse_rfc3339(prestart.finished_at)
    assert servers.client_status(alloc.id) == "running"


def test_deployment_health_is_reported(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"run_for": "60s"}, driver="mock_driver")
    job.task_groups[0].update = UpdateStrategy(max_parallel=1, health_check="task_states",
                                               min_healthy_time=50_000_000,
                                               healthy_deadline=60 * SECOND)
    alloc = alloc_for(job, client)
    alloc.deployment_id = "d-1"
    alloc.deployment_status = AllocDeploymentStatus(canary=True)
    servers.place(alloc)
    wait_for(lambda: (servers.alloc(alloc.id).deployment_status or
                      AllocDeploymentStatus()).healthy is True, message="healthy")
    status = servers.alloc(alloc.id).deployment_status
    assert status.canary is True  # the server's flag is kept


def test_unhealthy_when_the_task_fails(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"run_for": "10ms", "exit_code": 2}, driver="mock_driver",
                       restart={"attempts": 0})
    job.task_groups[0].update = UpdateStrategy(max_parallel=1, health_check="checks",
                                               min_healthy_time=10 * SECOND,
                                               healthy_deadline=60 * SECOND)
    alloc = alloc_for(job, client)
    alloc.deployment_id = "d-2"
    servers.place(alloc)
    wait_for(lambda: (servers.alloc(alloc.id).deployment_status or
                      AllocDeploymentStatus()).healthy is False, message="unhealthy")


def test_signal_restart_and_stats_through_the_client(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"run_for": "60s"}, driver="mock_driver")
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "running")
    client.signal_task(alloc.id, "web", "SIGHUP")
    wait_for(lambda: E.SIGNALING in servers.event_types(alloc.id, "web"), message="signal")
    event = [e for e in servers.task_state(alloc.id, "web").events
             if e.type == E.SIGNALING][-1]
    assert event.details["signal"] == "SIGHUP"
    client.restart_alloc(alloc.id, "web")
    wait_for(lambda: servers.task_state(alloc.id, "web").restarts == 1, message="restart")
    types = servers.event_types(alloc.id, "web")
    assert E.RESTART_SIGNAL in types
    restart = [e for e in servers.task_state(alloc.id, "web").events
               if e.type == E.RESTART_SIGNAL][-1]
    assert restart.display_message == "User requested task to restart"
    wait_client_status(servers, alloc.id, "running")
    stats = client.alloc_stats(alloc.id)
    assert set(stats) == {"ResourceUsage", "Tasks", "Timestamp"}
    assert set(stats["ResourceUsage"]) == {"MemoryStats", "CpuStats", "DeviceStats"}
    assert "web" in stats["Tasks"]
    with pytest.raises(NotFound, match="Unknown allocation"):
        client.signal_task("no-such-alloc", None, "SIGHUP")
    with pytest.raises(NotFound, match='task "nope"'):
        client.restart_alloc(alloc.id, "nope")


def test_dropped_alloc_is_garbage_collected(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"run_for": "10ms"}, driver="mock_driver", job_type="batch")
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "complete")
    path = client.alloc_dir(alloc.id)
    assert path is not None and os.path.isdir(path)
    servers.drop(alloc.id)
    wait_for(lambda: not os.path.exists(path), message="alloc dir removed")
    assert client.alloc_dir(alloc.id) is None


def test_restart_returns_once_the_restart_is_under_way(make_client, servers, tmp_path):
    """POST /v1/client/allocation/:id/restart must not hang for kill_timeout: the task
    here ignores its kill signal until the test lets it go."""
    gate = tmp_path / "let-go"
    script = (f"trap 'while [ ! -e {gate} ]; do sleep 0.02; done; exit 0' INT; "
              'echo $$ >> "$NOMAD_TASK_DIR/pids"; while true; do sleep 0.02; done')
    client = make_client()
    client.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", script]}, kill_timeout=20)
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "running")
    pids = Path(client.alloc_dir(alloc.id), "web", "local", "pids")
    first = wait_for(lambda: pids.exists() and pids.read_text().split(), message="started")
    client.restart_alloc(alloc.id, "web")
    assert psutil.pid_exists(int(first[0]))  # returned while the old task still runs
    wait_for(lambda: E.RESTART_SIGNAL in servers.event_types(alloc.id, "web"),
             message="the restart event reported")
    gate.touch()
    wait_for(lambda: len(pids.read_text().split()) == 2, message="started again")
    wait_client_status(servers, alloc.id, "running")
    assert servers.task_state(alloc.id, "web").restarts == 1


def test_restart_errors_are_immediate(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"run_for": "60s"}, driver="mock_driver")
    alloc = servers.place(alloc_for(job, client))
    with pytest.raises(NotFound, match="Unknown allocation"):
        client.restart_alloc("no-such-alloc", "web")
    wait_for(lambda: client.alloc_runner(alloc.id) is not None, message="alloc added")
    with pytest.raises(NotFound, match='task "nope"'):
        client.restart_alloc(alloc.id, "nope")
    with pytest.raises(BadRequest, match="task name cannot be set"):
        client.restart_alloc(alloc.id, "web", all_tasks=True)
