"""An agent killed (-9) while it starts a job's tasks never runs a task twice nor leaks one."""

from __future__ import annotations

import random

import psutil

from nomadjail.structs import SECOND, Job, Resources, Task, TaskGroup, to_api
from nomadjail.testing import wait_for
from nomadjail.testing.processes import processes_under

COUNT = 30


def sleeper_job(job_id: str) -> dict:
    job = Job(id=job_id, type="service", datacenters=["*"], task_groups=[TaskGroup(
        name="g", count=COUNT, tasks=[Task(
            name="t", driver="raw_exec", config={"command": "/bin/sh",
                                                 "args": ["-c", "exec sleep 300"]},
            kill_timeout=2 * SECOND, resources=Resources(cpu=20, memory_mb=16))])])
    return {"Job": to_api(job)}


def task_processes(agent) -> list[psutil.Process]:
    found = []
    for proc in processes_under(agent.data_dir.resolve()):
        try:
            if proc.name() == "sleep":
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_killed_while_starting_tasks_then_restarted(agent_factory):
    agent = agent_factory("crash", dev=False, config={"plugin": {"raw_exec": {
        "config": {"enabled": True}}}})
    agent.start()
    resp = agent.request("POST", "/v1/jobs", sleeper_job("many"))
    assert resp.status_code == 200, resp.text
    # Somewhere inside the burst of starts (each takes the supervisor's announcement).
    wait_for(lambda: len(task_processes(agent)) >= random.randint(1, COUNT // 2),
             timeout=30, interval=0.01, message="some tasks starting")
    agent.kill()
    agent.start()

    def running() -> list[dict]:
        return [a for a in agent.json("/v1/job/many/allocations")
                if a["ClientStatus"] == "running"]

    wait_for(lambda: len(running()) == COUNT, timeout=60, message=f"{COUNT} running allocs")
    # Every allocation has started (or re-attached to) its one task: no copy is on its way.
    wait_for(lambda: all(a["TaskStates"]["t"]["State"] == "running" for a in running()),
             timeout=30, message="every task running")
    assert len(task_processes(agent)) == COUNT
    agent.request("DELETE", "/v1/job/many", purge="true")
