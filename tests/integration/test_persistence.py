"""A non-dev agent keeps its state across restarts, and its tasks keep running."""

from __future__ import annotations

from nomadjail.testing import wait_for

from .jobs import FOREVER, shell_job


def test_restarted_agent_keeps_jobs_allocations_and_tasks(agent_factory) -> None:
    agent = agent_factory("persist", dev=False, config={"plugin": {"raw_exec": {
        "config": {"enabled": True}}}})
    agent.start()
    resp = agent.request("POST", "/v1/jobs", shell_job("keep", FOREVER, count=2))
    assert resp.status_code == 200, resp.text
    allocs = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
        [a for a in agent.json("/v1/job/keep/allocations") if a["ClientStatus"] == "running"]),
        timeout=20, message="two running allocations")
    node_id = agent.json("/v1/nodes")[0]["ID"]
    eval_ids = {e["ID"] for e in agent.json("/v1/evaluations")}
    started = {a["ID"]: a["TaskStates"]["t"]["StartedAt"] for a in allocs}

    agent.stop_agent_only()
    agent.start()

    job = agent.json("/v1/job/keep")
    assert job["ID"] == "keep" and job["Version"] == 0
    assert agent.json("/v1/nodes")[0]["ID"] == node_id
    assert eval_ids <= {e["ID"] for e in agent.json("/v1/evaluations")}
    after = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
        [a for a in agent.json("/v1/job/keep/allocations") if a["ClientStatus"] == "running"]),
        timeout=20, message="allocations running after restart")
    # Same allocations, and the client re-attached to the same task processes.
    assert {a["ID"]: a["TaskStates"]["t"]["StartedAt"] for a in after} == started
    assert all(a["TaskStates"]["t"]["Restarts"] == 0 for a in after)
    agent.request("DELETE", "/v1/job/keep", purge="true")
