"""A dev agent runs jobs end to end through Nomad's HTTP API."""

from __future__ import annotations

import base64
import json
import os
import signal
from pathlib import Path

import pytest

from nomadjail.structs import SECOND, ReschedulePolicy, RestartPolicy
from nomadjail.testing import AgentProcess, wait_for

from .jobs import FOREVER, shell_job


def register(agent: AgentProcess, body: dict) -> dict:
    resp = agent.request("POST", "/v1/jobs", body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def live_allocs(agent: AgentProcess, job_id: str, status: str = "running") -> list[dict]:
    return [a for a in agent.json(f"/v1/job/{job_id}/allocations")
            if a["ClientStatus"] == status and a["DesiredStatus"] == "run"]


def wait_running(agent: AgentProcess, job_id: str, count: int = 1) -> list[dict]:
    return wait_for(lambda: (lambda found: found if len(found) == count else None)(
        live_allocs(agent, job_id)), timeout=20, message=f"{count} running allocs of {job_id}")


@pytest.fixture
def purge(dev_agent: AgentProcess):
    created: list[str] = []
    yield created.append
    for job_id in created:
        dev_agent.request("DELETE", f"/v1/job/{job_id}", purge="true")


def test_run_logs_stop(dev_agent: AgentProcess, purge) -> None:
    purge("lifecycle")
    result = register(dev_agent, shell_job(
        "lifecycle", 'echo "hello from $NOMAD_ALLOC_NAME"; echo oops >&2; exec sleep 300'))
    assert result["EvalID"] and result["JobModifyIndex"] > 0
    alloc = wait_running(dev_agent, "lifecycle")[0]
    assert alloc["Name"] == "lifecycle.g[0]" and alloc["TaskStates"]["t"]["State"] == "running"

    def logs(**params) -> str:
        resp = dev_agent.get(f"/v1/client/fs/logs/{alloc['ID']}", task="t", **params)
        assert resp.status_code == 200, resp.text
        return resp.text

    assert wait_for(lambda: "hello from lifecycle.g[0]" in logs(type="stdout", plain="true"))
    assert wait_for(lambda: "oops" in logs(type="stderr", plain="true"))
    frames = [json.loads(line) for line in logs(type="stdout").splitlines() if line]
    assert base64.b64decode(frames[0]["Data"]).startswith(b"hello from")
    assert frames[0]["File"] == "alloc/logs/t.stdout.0"

    stop = dev_agent.request("DELETE", "/v1/job/lifecycle")
    assert stop.status_code == 200 and stop.json()["EvalID"]
    final = wait_for(lambda: (lambda a: a if a["ClientStatus"] == "complete" else None)(
        dev_agent.json(f"/v1/allocation/{alloc['ID']}")), timeout=15, message="alloc complete")
    assert final["DesiredStatus"] == "stop"
    events = [e["Type"] for e in final["TaskStates"]["t"]["Events"]]
    assert events[:3] == ["Received", "Task Setup", "Started"] and "Killed" in events
    job = dev_agent.json("/v1/job/lifecycle")
    assert job["Stop"] is True and job["Status"] == "dead"


def test_scale_up_and_down(dev_agent: AgentProcess, purge) -> None:
    purge("scale")
    register(dev_agent, shell_job("scale", FOREVER, count=1))
    wait_running(dev_agent, "scale", 1)
    register(dev_agent, shell_job("scale", FOREVER, count=3))
    running = wait_running(dev_agent, "scale", 3)
    assert sorted(a["Name"] for a in running) == ["scale.g[0]", "scale.g[1]", "scale.g[2]"]
    ports = set()
    for a in running:
        full = dev_agent.json(f"/v1/allocation/{a['ID']}")
        ports.update(p["Value"] for p in full["AllocatedResources"]["Shared"]["Ports"])
    assert len(ports) == 3  # dynamic ports differ on one node

    register(dev_agent, shell_job("scale", FOREVER, count=1))
    remaining = wait_running(dev_agent, "scale", 1)
    assert remaining[0]["Name"] == "scale.g[0]"  # scale down stops the highest indexes
    summary = dev_agent.json("/v1/job/scale/summary")["Summary"]["g"]
    wait_for(lambda: dev_agent.json("/v1/job/scale/summary")["Summary"]["g"]["Complete"] == 2,
             message="two stopped allocations counted complete")
    assert summary["Running"] >= 1
    versions = dev_agent.json("/v1/job/scale/versions")["Versions"]
    assert [v["Version"] for v in versions] == [2, 1, 0]


def test_failing_task_restarts_then_is_rescheduled(dev_agent: AgentProcess, purge) -> None:
    purge("flaky")
    register(dev_agent, shell_job(
        "flaky", "echo failing; exit 3",
        restart=RestartPolicy(attempts=1, delay=1 * SECOND, interval=60 * SECOND, mode="fail"),
        reschedule=ReschedulePolicy(attempts=1, interval=3600 * SECOND, delay=5 * SECOND,
                                    delay_function="constant", unlimited=False)))

    def failed_allocs() -> list[dict]:
        return [a for a in dev_agent.json("/v1/job/flaky/allocations")
                if a["ClientStatus"] == "failed"]

    first = wait_for(lambda: failed_allocs(), timeout=20, message="first alloc failed")[0]
    events = first["TaskStates"]["t"]["Events"]
    kinds = [e["Type"] for e in events]
    assert "Restarting" in kinds and "Not Restarting" in kinds
    terminated = [e for e in events if e["Type"] == "Terminated"]
    assert len(terminated) == 2 and all(e["ExitCode"] == 3 for e in terminated)
    assert first["TaskStates"]["t"]["Restarts"] == 1 and first["TaskStates"]["t"]["Failed"]

    replacement = wait_for(
        lambda: [a for a in dev_agent.json("/v1/job/flaky/allocations")
                 if a["ID"] != first["ID"]], timeout=30, message="a rescheduled allocation")[0]
    full = dev_agent.json(f"/v1/allocation/{replacement['ID']}")
    assert full["PreviousAllocation"] == first["ID"]
    assert full["RescheduleTracker"]["Events"][0]["PrevAllocID"] == first["ID"]
    # The policy allows one reschedule: after the replacement fails, nothing follows.
    wait_for(lambda: len(failed_allocs()) == 2, timeout=30, message="replacement failed too")
    assert len(dev_agent.json("/v1/job/flaky/allocations")) == 2


def test_task_killed_outside_nomad_is_noticed(dev_agent: AgentProcess, purge) -> None:
    purge("victim")
    register(dev_agent, shell_job(
        "victim", 'echo $$ > "$NOMAD_TASK_DIR/pid"; exec sleep 300',
        restart=RestartPolicy(attempts=2, delay=1 * SECOND, interval=60 * SECOND, mode="fail")))
    alloc = wait_running(dev_agent, "victim")[0]
    alloc_dir = wait_for(lambda: next(dev_agent.data_dir.glob(f"data/alloc/{alloc['ID']}")),
                         message="alloc dir")
    pid_file = Path(alloc_dir) / "t" / "local" / "pid"
    pid = int(wait_for(lambda: pid_file.read_text().strip(), message="task pid"))
    os.kill(pid, signal.SIGKILL)

    def restarted() -> dict | None:
        task = dev_agent.json(f"/v1/allocation/{alloc['ID']}")["TaskStates"]["t"]
        return task if task["Restarts"] == 1 and task["State"] == "running" else None

    task = wait_for(restarted, timeout=20, message="task restarted after kill -9")
    killed = [e for e in task["Events"] if e["Type"] == "Terminated"]
    assert killed and killed[0]["Signal"] == signal.SIGKILL
    new_pid = int(wait_for(lambda: (lambda p: p if p and int(p) != pid else None)(
        pid_file.read_text().strip()), message="new task pid"))
    assert new_pid != pid
