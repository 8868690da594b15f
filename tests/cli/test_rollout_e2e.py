"""Safe rollouts end to end: the ``nomadjail`` CLI, as a subprocess, against a real dev agent.

Every step is what an operator types -- ``job run`` of an HCL file, ``job
promote``, ``deployment promote|fail|pause|resume``, ``job revert`` -- and
what they see: the command's output and exit status, then the cluster as
``deployment status``, ``job history`` and the API show it.  The tasks are
raw_exec shell processes; their deployment health comes from their task
states (the client's health watcher) or, with ``health_check = "manual"``,
from the API client's ``set_deployment_alloc_health`` while a command waits.

The scenarios share one agent per module and use distinct job IDs; each
purges its job at the end.  Health times are short (``min_healthy_time =
500ms``) so the whole module takes seconds, not minutes.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nomadjail.api import ApiClient, ApiError
from nomadjail.testing import AgentProcess, wait_for
from nomadjail.testing.cli_process import BackgroundCli, run_cli

WAIT = 30.0  # seconds any one thing may take on a busy 2-core machine


def job_hcl(job_id: str, release: str, *, groups: tuple[str, ...] = ("g",), count: int = 2,
            canary: int = 1, health: str = "task_states", auto_revert: bool = True,
            broken: bool = False) -> str:
    """A service job file: ``groups`` of ``count`` shell tasks; ``broken`` ones cannot start.

    ``RELEASE`` in the task's environment tells the versions apart.
    """
    command = "/nonexistent/nomadjail-e2e" if broken else "/bin/sh"
    group_blocks = "".join(f'''
  group "{name}" {{
    count = {count}
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "{command}"
        args    = ["-c", "exec sleep 300"]
      }}
      env {{
        RELEASE = "{release}"
      }}
      kill_timeout = "1s"
      resources {{
        cpu    = 20
        memory = 16
      }}
    }}
  }}
''' for name in groups)
    return f'''job "{job_id}" {{
  datacenters = ["*"]
  update {{
    max_parallel     = 1
    canary           = {canary}
    health_check     = "{health}"
    min_healthy_time = "500ms"
    healthy_deadline = "20s"
    auto_revert      = {str(auto_revert).lower()}
  }}
{group_blocks}}}
'''


class Rollout:
    """One job's files, commands and API reads, in the test's own directory."""

    def __init__(self, agent: AgentProcess, cwd: Path, job_id: str):
        self.agent = agent
        self.cwd = cwd
        self.job_id = job_id
        self.api = ApiClient(agent.address)

    def write(self, release: str, **kwargs: Any) -> str:
        name = f"{self.job_id}-{release}.nomad"
        (self.cwd / name).write_text(job_hcl(self.job_id, release, **kwargs))
        return name

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(self.agent, *args, cwd=self.cwd)

    def background(self, *args: str) -> BackgroundCli:
        return BackgroundCli(self.agent, *args, cwd=self.cwd)

    def job(self) -> dict[str, Any]:
        return self.agent.json(f"/v1/job/{self.job_id}")

    def release(self) -> str:
        """The RELEASE the job's current version runs."""
        return self.job()["TaskGroups"][0]["Tasks"][0]["Env"]["RELEASE"]

    def deployment(self, job_version: int | None = None) -> dict[str, Any]:
        """The job's latest deployment, or the one of ``job_version``."""
        if job_version is None:
            return self.agent.json(f"/v1/job/{self.job_id}/deployment")
        return next(d for d in self.agent.json(f"/v1/job/{self.job_id}/deployments")
                    if d["JobVersion"] == job_version)

    def live(self) -> list[dict[str, Any]]:
        """The allocations meant to run (desired status "run")."""
        return [a for a in self.agent.json(f"/v1/job/{self.job_id}/allocations")
                if a["DesiredStatus"] == "run"]

    def fingerprint(self) -> tuple[Any, ...]:
        """What a refused command must leave as it was: the job, its deployments, its evals."""
        job = self.job()
        return (job["Version"], job["JobModifyIndex"],
                [(d["ID"], d["Status"], d["ModifyIndex"])
                 for d in self.agent.json(f"/v1/job/{self.job_id}/deployments")],
                len(self.agent.json(f"/v1/job/{self.job_id}/evaluations")))

    def purge(self) -> None:
        self.agent.request("DELETE", f"/v1/job/{self.job_id}", purge="true")


@pytest.fixture
def rollout(request: pytest.FixtureRequest, dev_agent: AgentProcess,
            tmp_path: Path) -> Iterator[Rollout]:
    """A Rollout of a job named after the test; the job is purged afterwards."""
    job_id = request.node.name.removeprefix("test_").replace("_", "-")[:40]
    job = Rollout(dev_agent, tmp_path, job_id)
    try:
        yield job
    finally:
        job.purge()


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    """The command's stdout, once it exited with ``code``."""
    assert result.returncode == code, (f"exit {result.returncode}, wanted {code}\n"
                                       f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result.stdout


def waiting_line(output: str) -> str:
    """The short deployment ID of the monitor's last line, which must be the promotion hint."""
    last = output.rstrip("\n").splitlines()[-1]
    match = re.fullmatch(r'==> \S+: Deployment "([0-9a-f]{8})" waiting for promotion: '
                         r'"nomadjail deployment promote \1"', last)
    assert match, f"the monitor did not end waiting for promotion:\n{output}"
    return match.group(1)


def blocks(output: str) -> list[str]:
    """The deployment status blocks the monitor printed (each from its time line), oldest
    first; the last one runs to the end of the output."""
    return re.split(r"^(?=\S+\nID {10}= )", output, flags=re.MULTILINE)[1:]


def test_canary_promote_auto_revert_and_revert(rollout: Rollout) -> None:
    """job run -> waiting for promotion -> job promote -> complete; a version that
    cannot start is rolled back by auto_revert; job revert 0 runs version 0 again."""
    ok(rollout.cli("job", "run", rollout.write("1")))
    first = {a["ID"] for a in rollout.live()}
    assert len(first) == 2

    # Version 1: one canary beside the two old allocations, then the command returns.
    out = ok(rollout.cli("job", "run", rollout.write("2")))
    short = waiting_line(out)
    deployment = rollout.deployment()
    assert deployment["ID"].startswith(short) and deployment["JobVersion"] == 1
    assert deployment["Status"] == "running"
    assert "Description = Deployment is running but requires manual promotion" in out
    live = rollout.live()
    assert {a["ID"] for a in live} >= first and len(live) == 3
    assert sorted(a["JobVersion"] for a in live) == [0, 0, 1]

    out = ok(rollout.cli("job", "promote", rollout.job_id))
    assert f'Evaluation within deployment: "{short}"' in out
    assert "Status      = successful" in blocks(out)[-1]
    status = ok(rollout.cli("deployment", "status", short))
    assert status.startswith(f"ID          = {short}\nJob ID      = {rollout.job_id}\n"
                             "Job Version = 1\nStatus      = successful\n")
    assert re.search(r"\ng +true +true +2 +1 +2 +2 +0", status), status
    live = rollout.live()
    assert len(live) == 2 and {a["JobVersion"] for a in live} == {1}
    assert {a["ClientStatus"] for a in live} == {"running"}
    history = ok(rollout.cli("job", "history", rollout.job_id))
    assert history.startswith("Version     = 1\nStable      = true\n"), history

    # Version 2 cannot start: its deployment fails and the job goes back to version 1.
    out = ok(rollout.cli("job", "run", rollout.write("3", broken=True)), code=1)
    shown = blocks(out)
    failed = next(i for i, b in enumerate(shown) if "Status      = failed" in b)
    assert ("Description = Failed due to unhealthy allocations - rolling back to job "
            "version 1") in shown[failed]
    assert "Job Version = 2" in shown[failed]
    after = shown[failed + 1:]
    assert after and all("Job Version = 3" in b for b in after)
    assert "Status      = successful" in after[-1]
    job = rollout.job()
    assert (job["Version"], job["Stable"], rollout.release()) == (3, True, "2")
    assert {a["JobVersion"] for a in rollout.live()} == {3}
    history = ok(rollout.cli("job", "history", rollout.job_id))
    assert re.findall(r"Version     = (\d+)\nStable      = (\w+)", history)[:4] == [
        ("3", "true"), ("2", "false"), ("1", "true"), ("0", "true")]

    # job revert <job> 0: a new version with version 0's spec, its deployment followed
    # (to the canary's promotion: version 0 has a canary too).
    out = ok(rollout.cli("job", "revert", rollout.job_id, "0"))
    short = waiting_line(out)
    assert (rollout.job()["Version"], rollout.release()) == (4, "1")
    deployment = rollout.deployment()
    assert deployment["ID"].startswith(short) and deployment["JobVersion"] == 4


def test_group_promotion_fail_and_refusals(rollout: Rollout) -> None:
    """deployment promote -group promotes one group of two; the whole deployment by
    its ID prefix; refused promotions change nothing; deployment fail reverts."""
    ok(rollout.cli("job", "run", rollout.write("1", groups=("a", "b"), count=1)))
    out = ok(rollout.cli("job", "run", rollout.write("2", groups=("a", "b"), count=1)))
    prefix = waiting_line(out)[:6]
    full = rollout.deployment()["ID"]

    out = ok(rollout.cli("deployment", "promote", "-group", "a", prefix))
    assert waiting_line(out) == full[:8]  # group b still waits
    groups = rollout.deployment()["TaskGroups"]
    assert (groups["a"]["Promoted"], groups["b"]["Promoted"]) == (True, False)
    versions = sorted((a["TaskGroup"], a["JobVersion"]) for a in rollout.live())
    assert versions == [("a", 1), ("b", 0), ("b", 1)]

    unchanged = rollout.fingerprint()
    refused = rollout.cli("deployment", "promote", "-group", "nope", prefix)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == ("Error promoting deployment: Unexpected response code: 400 (1 "
                              "error occurred:\n\t* Task group \"nope\" is not part of "
                              f"deployment \"{full}\")\n")
    assert rollout.fingerprint() == unchanged

    out = ok(rollout.cli("deployment", "promote", prefix))
    assert "Status      = successful" in blocks(out)[-1]
    assert sorted((a["TaskGroup"], a["JobVersion"]) for a in rollout.live()) == [
        ("a", 1), ("b", 1)]

    unchanged = rollout.fingerprint()
    for args, error in [
            (("deployment", "promote", prefix),
             "Error promoting deployment: Unexpected response code: 400 (can't promote "
             "terminal deployment)\n"),
            (("job", "promote", rollout.job_id),
             f'Error promoting deployment "{full}" for job "{rollout.job_id}": Unexpected '
             "response code: 400 (can't promote terminal deployment)\n"),
            (("deployment", "promote", "0000ffff"),
             'Error retrieving deployment: Deployment ID "0000ffff" matched no deployments\n'),
            (("deployment", "fail", prefix),
             "Error failing deployment: Unexpected response code: 400 (can't fail terminal "
             "deployment)\n")]:
        refused = rollout.cli(*args)
        assert (refused.returncode, refused.stdout, refused.stderr) == (1, "", error), args
    assert rollout.fingerprint() == unchanged

    # Version 2 waits for promotion; failing its deployment by hand reverts to version 1.
    out = ok(rollout.cli("job", "run", rollout.write("3", groups=("a", "b"), count=1)))
    prefix = waiting_line(out)[:6]
    failing = rollout.deployment()["ID"]
    out = ok(rollout.cli("deployment", "fail", prefix))
    assert out.startswith(f'Deployment "{failing}" failed. Auto-reverted to job version 1.\n')
    assert "Job Version = 3" in blocks(out)[-1] and "Status      = successful" in blocks(out)[-1]
    assert rollout.deployment(2)["StatusDescription"] == (
        "Deployment marked as failed - rolling back to job version 1")
    assert (rollout.job()["Version"], rollout.release()) == (3, "2")
    assert sorted((a["TaskGroup"], a["JobVersion"]) for a in rollout.live()) == [
        ("a", 3), ("b", 3)]


def test_manual_health_pause_and_resume(rollout: Rollout) -> None:
    """health_check = "manual": nothing is healthy until the API says so; a paused
    deployment places nothing more; resume finishes the rollout."""
    def mark_healthy(deployment_id: str, alloc_id: str) -> str:
        response, _ = rollout.api.set_deployment_alloc_health(deployment_id,
                                                               healthy=[alloc_id])
        return response["EvalID"]

    def placed(job_version: int, count: int) -> list[dict[str, Any]]:
        """The deployment's allocations once ``count`` of them run (newest first)."""
        def check() -> list[dict[str, Any]] | None:
            deployment = rollout.deployment(job_version)
            allocs = rollout.agent.json(f"/v1/deployment/allocations/{deployment['ID']}")
            running = [a for a in allocs if a["ClientStatus"] == "running"]
            return allocs if len(allocs) == count and len(running) == count else None
        return wait_for(check, timeout=WAIT, message=f"{count} running allocation(s) of "
                        f"version {job_version}")

    # Version 0 under `job run`: the command waits until both allocations are marked healthy.
    with rollout.background("job", "run", rollout.write("1", canary=0, health="manual",
                                                        auto_revert=False)) as run:
        for alloc in placed(0, 2):
            mark_healthy(rollout.deployment(0)["ID"], alloc["ID"])
        out = ok(run.result())
    assert "Status      = successful" in blocks(out)[-1]

    ok(rollout.cli("job", "run", "-detach", rollout.write("2", canary=0, health="manual",
                                                          auto_revert=False)))
    first = placed(1, 1)[0]
    deployment_id = rollout.deployment(1)["ID"]
    out = ok(rollout.cli("deployment", "pause", deployment_id[:6]))
    assert out == f'Deployment "{deployment_id}" paused\n'

    unchanged = rollout.fingerprint()
    with pytest.raises(ApiError) as refused:
        rollout.api.set_deployment_alloc_health(deployment_id, healthy=["not-an-alloc"])
    assert (refused.value.status, refused.value.message) == (400, 'unknown alloc "not-an-alloc"')
    assert rollout.fingerprint() == unchanged

    # Healthy while paused: the server evaluates the job, and places nothing more.
    eval_id = mark_healthy(deployment_id, first["ID"])
    wait_for(lambda: rollout.agent.json(f"/v1/evaluation/{eval_id}")["Status"] == "complete",
             timeout=WAIT, message="the health evaluation to complete")
    paused = rollout.deployment(1)
    assert paused["Status"] == "paused"
    assert (paused["TaskGroups"]["g"]["PlacedAllocs"],
            paused["TaskGroups"]["g"]["HealthyAllocs"]) == (1, 1)
    assert sorted(a["JobVersion"] for a in rollout.live()) == [0, 1]

    with rollout.background("deployment", "resume", deployment_id[:6]) as resume:
        second = next(a for a in placed(1, 2) if a["ID"] != first["ID"])
        mark_healthy(deployment_id, second["ID"])
        out = ok(resume.result())
    assert out.startswith(f'Deployment "{deployment_id}" resumed\n')
    assert "Status      = successful" in blocks(out)[-1]
    assert sorted(a["JobVersion"] for a in rollout.live()) == [1, 1]
    assert (rollout.job()["Stable"], rollout.release()) == (True, "2")
