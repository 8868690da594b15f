"""``node drain`` moves a group off a node one allocation at a time (migrate.max_parallel
= 1), each only after its replacement on the other node is healthy; the CLI prints
Nomad's monitor lines until the drain is complete and the node's allocations stopped.

Two real client nodes: a server+client agent (the node drained) and a client-only
agent (where the allocations go), raw_exec tasks, the real ``nomadjail`` CLI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from nomadjail.structs import (
    SECOND,
    Job,
    MigrateStrategy,
    Resources,
    Task,
    TaskGroup,
    UpdateStrategy,
    to_api,
)
from nomadjail.testing import AgentProcess, wait_for

RAW_EXEC = {"plugin": {"raw_exec": {"config": {"enabled": True}}}}
JOB_ID = "migrating"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory) -> Any:
    from nomadjail.testing import make_agent

    base = tmp_path_factory.mktemp("drain")
    drained = make_agent(base / "drained", dev=False, config={**RAW_EXEC, "name": "drained"})
    spare = make_agent(base / "spare", dev=False, server=False, config={
        **RAW_EXEC, "name": "spare", "client": {"servers": [drained.rpc_address]}})
    try:
        drained.start()
        yield drained, spare
    finally:
        spare.stop()
        drained.stop()


def job_body(count: int) -> dict[str, Any]:
    """A service group whose allocations are healthy 1s after they start."""
    job = Job(id=JOB_ID, type="service", datacenters=["*"], task_groups=[TaskGroup(
        name="web", count=count,
        update=UpdateStrategy(max_parallel=count, min_healthy_time=SECOND,
                              healthy_deadline=20 * SECOND, progress_deadline=60 * SECOND,
                              health_check="task_states"),
        migrate=MigrateStrategy(max_parallel=1, health_check="task_states",
                                min_healthy_time=SECOND, healthy_deadline=20 * SECOND),
        tasks=[Task(name="t", driver="raw_exec",
                    config={"command": "/bin/sh", "args": ["-c", "exec sleep 300"]},
                    kill_timeout=2 * SECOND, resources=Resources(cpu=20, memory_mb=16))])])
    return {"Job": to_api(job)}


def node_id(agent: AgentProcess, name: str) -> str:
    return wait_for(lambda: next((n["ID"] for n in agent.json("/v1/nodes")
                                  if n["Name"] == name and n["Status"] == "ready"), None),
                    timeout=30, message=f"node {name} ready")


def healthy(alloc: dict[str, Any]) -> bool:
    return bool((alloc.get("DeploymentStatus") or {}).get("Healthy"))


def test_drain_moves_one_allocation_at_a_time(nodes) -> None:
    drained, spare = nodes
    drained_id = node_id(drained, "drained")
    resp = drained.request("POST", "/v1/jobs", job_body(3))
    assert resp.status_code == 200, resp.text
    originals = wait_for(lambda: (lambda allocs: allocs if len(allocs) == 3 and all(
        a["ClientStatus"] == "running" and healthy(a) for a in allocs) else None)(
        drained.json(f"/v1/job/{JOB_ID}/allocations")), timeout=30,
        message="3 healthy allocations on the first node")
    assert {a["NodeID"] for a in originals} == {drained_id}
    original_ids = {a["ID"] for a in originals}

    spare.start()
    spare_id = node_id(drained, "spare")

    cli = subprocess.Popen(
        [sys.executable, "-m", "nomadjail", "node", "drain", "-enable", "-yes",
         f"-address={drained.address}", drained_id],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NOMAD_ADDR": drained.address})
    try:
        steps = watch_migrations(drained, original_ids, spare_id)
        out, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(5)

    # One at a time: never a second original marked while a replacement is unhealthy,
    # and each in-flight step was seen (a replacement takes >= 1s to become healthy).
    assert all(marked <= replaced + 1 for marked, replaced in steps), steps
    assert {(1, 0), (2, 1), (3, 2)} <= set(steps), steps
    assert steps[-1] == (3, 3)

    assert cli.returncode == 0, err
    text = [line.split(": ", 1)[1] for line in out.splitlines()]
    assert text[:2] == ["Ctrl-C to stop monitoring: will not cancel the node drain",
                        f'Node "{drained_id}" drain strategy set']
    for alloc_id in original_ids:
        assert f'Alloc "{alloc_id}" marked for migration' in text, out
        assert any(line.startswith(f'Alloc "{alloc_id}" status running -> ') for line in text)
    assert f"Drain complete for node {drained_id}" in text
    assert text[-1] == f'All allocations on node "{drained_id}" have stopped' or \
        text[-1] == f"Drain complete for node {drained_id}"

    node = drained.json(f"/v1/node/{drained_id}")
    assert node["DrainStrategy"] is None and node["SchedulingEligibility"] == "ineligible"
    assert node["Events"][-1]["Message"] == "Node drain complete"
    live = [a for a in drained.json(f"/v1/job/{JOB_ID}/allocations")
            if a["DesiredStatus"] == "run"]
    assert len(live) == 3 and {a["NodeID"] for a in live} == {spare_id}


def watch_migrations(agent: AgentProcess, original_ids: set[str], spare_id: str,
                     timeout: float = 60.0) -> list[tuple[int, int]]:
    """Each distinct (originals marked for migration, healthy replacements) seen,
    in order, following the job's allocations with blocking queries until all
    three moved."""
    steps: list[tuple[int, int]] = []
    index = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = requests.get(f"{agent.address}/v1/job/{JOB_ID}/allocations",
                            params={"index": index, "wait": "5s"}, timeout=30)
        resp.raise_for_status()
        index = int(resp.headers["X-Nomad-Index"])
        allocs = resp.json()
        marked = sum(1 for a in allocs if a["ID"] in original_ids
                     and (a.get("DesiredTransition") or {}).get("Migrate"))
        replaced = sum(1 for a in allocs if a["NodeID"] == spare_id
                       and a["DesiredStatus"] == "run" and healthy(a))
        if not steps or steps[-1] != (marked, replaced):
            steps.append((marked, replaced))
        if (marked, replaced) == (3, 3):
            return steps
    raise AssertionError(f"the drain did not move all three allocations: {steps}")
