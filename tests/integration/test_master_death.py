"""``kill -9`` of the agent's main pid (the gunicorn master a pidfile or daemon(8)
holds): the worker that owns the agent exits within seconds instead of running on
as an orphan agent (heartbeating, holding the ports and the raft port); the task
keeps running, and the next agent started on the data dir re-attaches to it."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import psutil

from nomadjail.testing import AgentProcess, wait_for

from .jobs import shell_job

# The worker's own deadline after its master died (gunicorn's graceful timeout) is
# far above this; a clean non-dev shutdown takes a few seconds.
WORKER_EXIT_TIMEOUT = 30.0


def gone(pid: int) -> bool:
    """Exited (a zombie nobody reaped yet counts: it holds no ports, runs nothing)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def running_alloc(agent: AgentProcess, job_id: str) -> dict | None:
    allocs = [a for a in agent.json(f"/v1/job/{job_id}/allocations")
              if a["ClientStatus"] == "running"]
    return allocs[0] if len(allocs) == 1 else None


def test_kill_9_of_the_master_ends_the_worker_and_the_next_agent_reattaches(
        agent_factory) -> None:
    agent = agent_factory("master-death", dev=False, config={"plugin": {"raw_exec": {
        "config": {"enabled": True}}}})
    agent.start()
    resp = agent.request("POST", "/v1/jobs", shell_job(
        "survivor", 'echo $$ > "$NOMAD_TASK_DIR/pid"; exec sleep 300'))
    assert resp.status_code == 200, resp.text
    alloc = wait_for(lambda: running_alloc(agent, "survivor"), timeout=20,
                     message="the allocation running")
    pid_file = wait_for(lambda: next(Path(agent.data_dir).glob("data/alloc/*/t/local/pid")),
                        timeout=20, message="the task's pid file")
    task_pid = int(wait_for(lambda: pid_file.read_text().strip(), message="the task's pid"))
    assert agent.proc is not None
    master, worker = agent.proc.pid, agent.worker_pid()

    os.kill(master, signal.SIGKILL)  # by pid, as an operator or a supervisor would
    agent.proc.wait(10)

    wait_for(lambda: gone(worker), timeout=WORKER_EXIT_TIMEOUT,
             message=f"the worker (pid {worker}) to exit after its master died")
    for port in (agent.http_port, agent.rpc_port, agent.serf_port):
        wait_for(lambda port=port: port_free(port), timeout=10,
                 message=f"port {port} to be free")
    assert not gone(task_pid), "the task died with the agent"
    assert f"the agent's main process (pid {master}) died" in agent.log()

    agent.start()

    after = wait_for(lambda: running_alloc(agent, "survivor"), timeout=30,
                     message="the allocation running under the new agent")
    assert after["ID"] == alloc["ID"]
    assert after["TaskStates"]["t"]["StartedAt"] == alloc["TaskStates"]["t"]["StartedAt"]
    assert after["TaskStates"]["t"]["Restarts"] == 0
    assert not gone(task_pid) and int(pid_file.read_text().strip()) == task_pid
    agent.request("DELETE", "/v1/job/survivor", purge="true")


def test_kill_9_of_a_dev_agents_master_ends_the_worker_and_its_tasks(agent_factory) -> None:
    """Dev mode keeps its rule (nothing outlives the dev agent): its state was in the
    worker's memory, so the worker's shutdown ends the tasks it started."""
    agent = agent_factory("dev-master-death")
    agent.start()
    resp = agent.request("POST", "/v1/jobs", shell_job(
        "dev-task", 'echo $$ > "$NOMAD_TASK_DIR/pid"; exec sleep 300'))
    assert resp.status_code == 200, resp.text
    pid_file = wait_for(lambda: next(Path(agent.data_dir).glob("data/alloc/*/t/local/pid")),
                        timeout=20, message="the task's pid file")
    task_pid = int(wait_for(lambda: pid_file.read_text().strip(), message="the task's pid"))
    assert agent.proc is not None
    master, worker = agent.proc.pid, agent.worker_pid()

    os.kill(master, signal.SIGKILL)
    agent.proc.wait(10)

    wait_for(lambda: gone(worker), timeout=WORKER_EXIT_TIMEOUT,
             message=f"the dev worker (pid {worker}) to exit after its master died")
    wait_for(lambda: gone(task_pid), timeout=10, message="the dev agent's task to end")
    assert "ends its tasks (dev mode)" in agent.log()
