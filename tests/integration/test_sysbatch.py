"""Sysbatch end to end: a job file with ``type = "sysbatch"`` parsed and run by a
real dev agent (server + client, raw_exec), read back with the real CLI.  Work
that finished on the node is not run again when the job is re-evaluated, and
``job stop`` stops work still running."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from nomadjail.testing import AgentProcess, wait_for

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


@pytest.fixture
def purge(dev_agent: AgentProcess):
    created: list[str] = []
    yield created.append
    for job_id in created:
        dev_agent.request("DELETE", f"/v1/job/{job_id}", purge="true")


def test_finished_sysbatch_work_is_not_run_again(dev_agent: AgentProcess, purge) -> None:
    purge("sweep")
    submit(dev_agent, "sweep", "echo swept")
    done = one_alloc_in(dev_agent, "sweep", "complete")
    assert done["Name"] == "sweep.g[0]"

    evaluated = dev_agent.request("POST", "/v1/job/sweep/evaluate", {})
    assert evaluated.status_code == 200, evaluated.text
    eval_id = evaluated.json()["EvalID"]
    wait_for(lambda: dev_agent.json(f"/v1/evaluation/{eval_id}")["Status"] == "complete",
             timeout=20, message="forced evaluation complete")

    assert [a["ID"] for a in allocs(dev_agent, "sweep")] == [done["ID"]]
    status = cli(dev_agent, "job", "status", "sweep")
    assert status.returncode == 0, status.stderr
    assert "Type          = sysbatch" in status.stdout
    assert "Status        = dead" in status.stdout


def test_job_stop_stops_running_sysbatch_work(dev_agent: AgentProcess, purge) -> None:
    purge("patrol")
    submit(dev_agent, "patrol", "exec sleep 300")
    running = one_alloc_in(dev_agent, "patrol", "running")

    stopped = cli(dev_agent, "job", "stop", "-detach", "patrol")
    assert stopped.returncode == 0, stopped.stderr

    final = one_alloc_in(dev_agent, "patrol", "complete")
    assert final["ID"] == running["ID"] and final["DesiredStatus"] == "stop"
    job = dev_agent.json("/v1/job/patrol")
    assert job["Stop"] is True and job["Type"] == "sysbatch"
