"""End to end: the ``nomadjail`` command against a real ``nomadjail agent -dev``.

The CLI runs as a subprocess (``python -m nomadjail``), exactly as a user
runs it, with ``NOMAD_ADDR`` pointing at a dev agent on a free loopback port.
"""

from __future__ import annotations

from pathlib import Path

from nomadjail.testing import AgentProcess, wait_alloc_status, wait_for
from nomadjail.testing.cli_process import run_cli as nomadjail


def test_init_run_logs_stop(dev_agent: AgentProcess, tmp_path: Path) -> None:
    init = nomadjail(dev_agent, "job", "init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "example.nomad").exists()

    run = nomadjail(dev_agent, "job", "run", "-detach", "example.nomad", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("Job registration successful\nEvaluation ID: ")

    allocs = wait_for(lambda: dev_agent.json("/v1/job/example/allocations"), timeout=30,
                      message="the example's allocation")
    assert len(allocs) == 1
    alloc_id = allocs[0]["ID"]
    wait_alloc_status(dev_agent, alloc_id, "running")

    status = nomadjail(dev_agent, "job", "status", "example", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "Status        = running\n" in status.stdout
    assert f"{alloc_id[:8]}  " in status.stdout

    def logged() -> str:
        logs = nomadjail(dev_agent, "alloc", "logs", alloc_id[:8], cwd=tmp_path)
        assert logs.returncode == 0, logs.stderr
        return logs.stdout if "hello from nomadjail" in logs.stdout else ""

    assert wait_for(logged, timeout=30, interval=0.5, message="the example's log line")

    alloc_status = nomadjail(dev_agent, "alloc", "status", alloc_id, cwd=tmp_path)
    assert alloc_status.returncode == 0, alloc_status.stderr
    assert 'Task "hello" is "running"' in alloc_status.stdout
    assert "Recent Events:" in alloc_status.stdout

    stop = nomadjail(dev_agent, "job", "stop", "example", cwd=tmp_path)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert 'finished with status "complete"' in stop.stdout
    wait_alloc_status(dev_agent, alloc_id, "complete", timeout=30)
    after = nomadjail(dev_agent, "job", "status", cwd=tmp_path)
    assert "example  service  50        dead (stopped)" in after.stdout
    nomadjail(dev_agent, "job", "stop", "-purge", "-detach", "example", cwd=tmp_path)


def test_run_monitors_until_the_job_runs(dev_agent: AgentProcess, tmp_path: Path) -> None:
    """``job run`` without -detach returns once the deployment succeeded (exit 0).

    The example's update block counts an allocation healthy after 5s, so the
    servers must mark the deployment successful well within the timeout.
    """
    nomadjail(dev_agent, "job", "init", "monitored.nomad", cwd=tmp_path)
    job_file = tmp_path / "monitored.nomad"
    job_file.write_text(job_file.read_text().replace('job "example"', 'job "monitored"'))
    try:
        run = nomadjail(dev_agent, "job", "run", "monitored.nomad", cwd=tmp_path, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        assert 'Evaluation triggered by job "monitored"' in run.stdout
        assert 'finished with status "complete"' in run.stdout
        assert "Status      = successful" in run.stdout
        allocs = dev_agent.json("/v1/job/monitored/allocations")
        assert [a["ClientStatus"] for a in allocs] == ["running"]
        _deployment_views(dev_agent, tmp_path, "monitored")
    finally:
        nomadjail(dev_agent, "job", "stop", "-purge", "-detach", "monitored", cwd=tmp_path)


def _deployment_views(agent: AgentProcess, cwd: Path, job_id: str) -> None:
    """The deployment commands see the job's finished deployment on a real agent."""
    deployment_id = agent.json(f"/v1/job/{job_id}/deployment")["ID"]
    short = deployment_id[:8]
    listed = nomadjail(agent, "deployment", "list", cwd=cwd)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("ID        Job ID ")
    assert any(line.startswith(f"{short}  {job_id}") and "successful" in line
               for line in listed.stdout.splitlines()), listed.stdout

    status = nomadjail(agent, "deployment", "status", short[:6], cwd=cwd)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"ID          = {short}\nJob ID      = {job_id}\n")
    assert "Status      = successful\n" in status.stdout

    latest = nomadjail(agent, "job", "deployments", "-latest", job_id, cwd=cwd)
    assert latest.stdout == status.stdout

    monitored = nomadjail(agent, "deployment", "status", "-monitor", deployment_id, cwd=cwd)
    assert monitored.returncode == 0, monitored.stdout + monitored.stderr
    assert f'Monitoring deployment "{short}"' in monitored.stdout

    unknown = nomadjail(agent, "deployment", "status", "ffffff", cwd=cwd)
    assert unknown.returncode == 1
    assert unknown.stderr == ('Error retrieving deployment: Deployment ID "ffffff" matched no '
                              "deployments\n")


def test_cluster_views(dev_agent: AgentProcess, tmp_path: Path) -> None:
    nodes = nomadjail(dev_agent, "node", "status", cwd=tmp_path)
    assert nodes.returncode == 0, nodes.stderr
    assert nodes.stdout.startswith("ID  ")
    assert "eligible     ready" in nodes.stdout
    members = nomadjail(dev_agent, "server", "members", cwd=tmp_path)
    assert members.returncode == 0, members.stderr
    assert members.stdout.startswith("Name  ")
    assert "  alive   true  " in members.stdout


def test_unplaceable_job_exits_2(dev_agent: AgentProcess, tmp_path: Path) -> None:
    # A batch job: it starts no deployment, so the monitor ends with the evaluation (a
    # service job would wait for its deployment's progress deadline, as Nomad does).
    (tmp_path / "windows.nomad").write_text('''job "needs-windows" {
  type = "batch"
  group "g" {
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "windows"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/true"
      }
    }
  }
}
''')
    try:
        run = nomadjail(dev_agent, "job", "run", "windows.nomad", cwd=tmp_path)
        assert run.returncode == 2, run.stdout + run.stderr
        assert "but failed to place all allocations:" in run.stdout
        assert 'Task Group "g" (failed to place 1 allocation):' in run.stdout
        assert "nodes excluded by filter" in run.stdout
    finally:
        nomadjail(dev_agent, "job", "stop", "-purge", "-detach", "needs-windows", cwd=tmp_path)
