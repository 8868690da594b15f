"""Sysbatch end to end: a job file with ``type = "sysbatch"`` parsed and run by
real agents (a server+client and, joining later, a client-only agent; raw_exec),
read back with the real CLI.  Work that finished on a node is not run again when
the job is re-evaluated, a node that joined later gets its one allocation at
that evaluation (as in Nomad, a node joining does not by itself evaluate
sysbatch jobs), and ``job stop`` stops work still running."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from nomadjail.testing import AgentProcess, make_agent, wait_for

RAW_EXEC = {"plugin": {"raw_exec": {"config": {"enabled": True}}}}

JOB = """
job "{job_id}" {{
  type        = "sysbatch"
  datacenters = ["*"]
  group "g" {{
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{script}"]
      }}
      resources {{
        cpu    = 20
        memory = 16
      }}
    }}
  }}
}}
"""


def cli(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOMAD_ADDR": agent.address, "NOMAD_CLI_NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "nomadjail", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def submit(agent: AgentProcess, job_id: str, script: str) -> None:
    hcl = JOB.format(job_id=job_id, script=script)
    parsed = agent.request("POST", "/v1/jobs/parse", {"JobHCL": hcl, "Canonicalize": True})
    assert parsed.status_code == 200, parsed.text
    assert parsed.json()["Type"] == "sysbatch"
    registered = agent.request("POST", "/v1/jobs", {"Job": parsed.json()})
    assert registered.status_code == 200, registered.text


def allocs(agent: AgentProcess, job_id: str) -> list[dict[str, Any]]:
    return list(agent.json(f"/v1/job/{job_id}/allocations"))


def one_alloc_in(agent: AgentProcess, job_id: str, status: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        found = allocs(agent, job_id)
        return found[0] if len(found) == 1 and found[0]["ClientStatus"] == status else None
    return wait_for(check, timeout=20, message=f"one {status} alloc of {job_id}")


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AgentProcess,
                                                                        AgentProcess]]:
    """The server+client, and a client-only agent a test starts when it needs it."""
    base = tmp_path_factory.mktemp("sysbatch")
    first = make_agent(base / "first", dev=False, config={**RAW_EXEC, "name": "first"})
    later = make_agent(base / "later", dev=False, server=False, config={
        **RAW_EXEC, "name": "later", "client": {"servers": [first.rpc_address]}})
    try:
        first.start()
        yield first, later
    finally:
        later.stop()
        first.stop()


@pytest.fixture
def server(agents: tuple[AgentProcess, AgentProcess]) -> Iterator[AgentProcess]:
    """The server, with the jobs a test registered purged afterwards."""
    yield agents[0]
    for job in agents[0].json("/v1/jobs"):
        agents[0].request("DELETE", f"/v1/job/{job['ID']}", purge="true")


def ready_nodes(agent: AgentProcess) -> dict[str, str]:
    return {n["Name"]: n["ID"] for n in agent.json("/v1/nodes") if n["Status"] == "ready"}


def force_evaluation(agent: AgentProcess, job_id: str) -> None:
    evaluated = agent.request("POST", f"/v1/job/{job_id}/evaluate", {})
    assert evaluated.status_code == 200, evaluated.text
    eval_id = evaluated.json()["EvalID"]
    wait_for(lambda: agent.json(f"/v1/evaluation/{eval_id}")["Status"] == "complete",
             timeout=20, message="forced evaluation complete")


def test_finished_work_is_not_rerun_and_a_later_node_gets_one(
        server: AgentProcess, agents: tuple[AgentProcess, AgentProcess]) -> None:
    wait_for(lambda: "first" in ready_nodes(server), timeout=30, message="first node ready")
    submit(server, "sweep", "echo swept")
    done = one_alloc_in(server, "sweep", "complete")
    assert done["Name"] == "sweep.g[0]"

    force_evaluation(server, "sweep")
    assert [a["ID"] for a in allocs(server, "sweep")] == [done["ID"]]
    status = cli(server, "job", "status", "sweep")
    assert status.returncode == 0, status.stderr
    assert "Type          = sysbatch" in status.stdout
    assert "Status        = dead" in status.stdout

    agents[1].start()
    later = wait_for(lambda: ready_nodes(server).get("later"), timeout=30,
                     message="later node ready")
    force_evaluation(server, "sweep")
    found = wait_for(lambda: (lambda a: a if len(a) == 2 and all(
        x["ClientStatus"] == "complete" for x in a) else None)(allocs(server, "sweep")),
        timeout=20, message="the later node's alloc complete")
    assert {a["NodeID"] for a in found} == {done["NodeID"], later}
    assert done["ID"] in {a["ID"] for a in found}


def test_job_stop_stops_running_sysbatch_work(server: AgentProcess) -> None:
    wait_for(lambda: "first" in ready_nodes(server), timeout=30, message="first node ready")
    nodes = len(ready_nodes(server))
    submit(server, "patrol", "exec sleep 300")
    running = wait_for(lambda: (lambda a: a if len(a) == nodes and all(
        x["ClientStatus"] == "running" for x in a) else None)(allocs(server, "patrol")),
        timeout=20, message="patrol running on every node")

    stopped = cli(server, "job", "stop", "-detach", "patrol")
    assert stopped.returncode == 0, stopped.stderr

    final = wait_for(lambda: (lambda a: a if all(
        x["ClientStatus"] == "complete" for x in a) else None)(allocs(server, "patrol")),
        timeout=20, message="patrol stopped everywhere")
    assert {a["ID"] for a in final} == {a["ID"] for a in running}
    assert all(a["DesiredStatus"] == "stop" for a in final)
    job = server.json("/v1/job/patrol")
    assert job["Stop"] is True and job["Type"] == "sysbatch"
