"""Canary deployments on a real dev agent: raw_exec tasks, the client's health
watcher deciding health by task states, the HTTP API driving promotion.

Version 0 rolls out; version 1 places one canary beside the old allocations
and waits for promotion; promotion rolls it out completely.  Version 2 cannot
start: its canary turns unhealthy and ``auto_revert`` takes the job back to
version 1 (as version 3), whose allocations were never replaced.
"""

from __future__ import annotations

from typing import Any

import pytest

from nomadjail.structs import (
    SECOND,
    Job,
    ReschedulePolicy,
    Resources,
    RestartPolicy,
    Task,
    TaskGroup,
    UpdateStrategy,
    parse_rfc3339,
    to_api,
)
from nomadjail.testing import AgentProcess, wait_for

from .jobs import FOREVER

JOB = "canary-e2e"
MIN_HEALTHY = SECOND


def version(release: str, script: str = FOREVER) -> dict[str, Any]:
    job = Job(id=JOB, type="service", datacenters=["*"], task_groups=[TaskGroup(
        name="g", count=2,
        update=UpdateStrategy(max_parallel=1, canary=1, health_check="task_states",
                              min_healthy_time=MIN_HEALTHY, healthy_deadline=20 * SECOND,
                              progress_deadline=0, auto_revert=True),
        restart_policy=RestartPolicy(attempts=0, mode="fail"),
        reschedule_policy=ReschedulePolicy(attempts=0, unlimited=False),
        tasks=[Task(name="t", driver="raw_exec",
                    config={"command": "/bin/sh", "args": ["-c", script]},
                    env={"RELEASE": release}, kill_timeout=SECOND,
                    resources=Resources(cpu=20, memory_mb=16))])])
    return {"Job": to_api(job)}


@pytest.fixture
def purge(dev_agent: AgentProcess):
    yield
    dev_agent.request("DELETE", f"/v1/job/{JOB}", purge="true")


def register(agent: AgentProcess, body: dict) -> None:
    resp = agent.request("POST", "/v1/jobs", body)
    assert resp.status_code == 200, resp.text


def deployment_for(agent: AgentProcess, job_version: int, status: str,
                   timeout: float = 30) -> dict:
    """The deployment of ``job_version`` once it has ``status`` (a later one may exist)."""
    return wait_for(lambda: next((d for d in agent.json(f"/v1/job/{JOB}/deployments")
                                  if d["JobVersion"] == job_version and d["Status"] == status),
                                 None),
                    timeout=timeout, message=f"the deployment of version {job_version} {status}")


def live(agent: AgentProcess) -> list[dict]:
    return [a for a in agent.json(f"/v1/job/{JOB}/allocations") if a["DesiredStatus"] == "run"]


def test_canary_promote_complete_then_a_failing_version_is_reverted(dev_agent, purge):
    register(dev_agent, version("1"))
    deployment_for(dev_agent, 0, "successful")
    first = {a["ID"] for a in live(dev_agent)}

    # Version 1: one canary, the old allocations untouched until promotion.
    register(dev_agent, version("2"))
    waiting = deployment_for(dev_agent, 1, "running")
    assert waiting["StatusDescription"] == "Deployment is running but requires manual promotion"
    canary = wait_for(lambda: next(
        (a for a in dev_agent.json(f"/v1/deployment/allocations/{waiting['ID']}")
         if (a["DeploymentStatus"] or {}).get("Healthy")), None),
        timeout=30, message="the canary healthy")
    assert canary["DeploymentStatus"]["Canary"] is True
    started = parse_rfc3339(dev_agent.json(f"/v1/allocation/{canary['ID']}")
                            ["TaskStates"]["t"]["StartedAt"])
    assert parse_rfc3339(canary["DeploymentStatus"]["Timestamp"]) - started >= MIN_HEALTHY
    assert {a["ID"] for a in live(dev_agent)} == first | {canary["ID"]}
    assert dev_agent.json(f"/v1/deployment/{waiting['ID']}")["Status"] == "running"

    promoted = dev_agent.request("POST", f"/v1/deployment/promote/{waiting['ID']}",
                                 {"DeploymentID": waiting["ID"], "All": True})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["EvalID"]
    done = deployment_for(dev_agent, 1, "successful")
    assert done["ID"] == waiting["ID"] and done["TaskGroups"]["g"]["Promoted"] is True
    rolled = wait_for(lambda: (lambda allocs: allocs if len(allocs) == 2 and all(
        a["ClientStatus"] == "running" for a in allocs) else None)(live(dev_agent)),
        timeout=20, message="two running allocations")
    assert {a["JobVersion"] for a in rolled} == {1} and canary["ID"] in {a["ID"] for a in rolled}

    # Version 2 cannot start: its canary is unhealthy, the job goes back to version 1.
    register(dev_agent, version("3", script="echo broken; exit 1"))
    failed = deployment_for(dev_agent, 2, "failed")
    assert failed["StatusDescription"] == ("Failed due to unhealthy allocations - rolling back "
                                           "to job version 1")
    job = dev_agent.json(f"/v1/job/{JOB}")
    assert job["Version"] == 3
    assert job["TaskGroups"][0]["Tasks"][0]["Env"] == {"RELEASE": "2"}
    deployment_for(dev_agent, 3, "successful")
    after = live(dev_agent)
    assert {a["ID"] for a in after} == {a["ID"] for a in rolled}  # updated in place
    assert {a["JobVersion"] for a in after} == {3}
    versions = dev_agent.json(f"/v1/job/{JOB}/versions")["Versions"]
    assert [(v["Version"], v["Stable"]) for v in versions] == [
        (3, True), (2, False), (1, True), (0, True)]
