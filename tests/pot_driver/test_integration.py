"""``driver = "pot"`` jobs on a real agent, with the pot test double as pot.

The agent's ``plugin "pot" { config { pot_bin = ... } }`` points at the
double's wrapper; ``test_only_allow_any_os`` lets the driver report healthy
on Linux.  Jobs are HCL files parsed by the agent (``port_map = { http =
"80" }`` included), submitted through the HTTP API, and checked through the
API and the double's state and call log.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from nomadjail.testing import AgentProcess, make_agent, wait_alloc_status, wait_for

from .double import PotDouble, make_pot_double, run_double

IMAGE = "https://potluck.example.org/registry/"


def pot_job(job_id: str, script: str, *, task: str = "t", job_type: str = "service",
            kill_timeout: str = "2s", kill_signal: str = "", extra_config: str = "",
            group_extra: str = "", task_extra: str = "") -> str:
    """A job file whose one pot task runs ``/bin/sh -c script`` and never restarts."""
    kill = f'kill_signal = "{kill_signal}"' if kill_signal else ""
    return f"""
job "{job_id}" {{
  datacenters = ["dc1"]
  type = "{job_type}"
  group "g" {{
    network {{
      port "http" {{}}
    }}
    restart {{
      attempts = 0
      mode = "fail"
    }}
    reschedule {{
      attempts = 0
      unlimited = false
    }}
    {group_extra}
    task "{task}" {{
      driver = "pot"
      kill_timeout = "{kill_timeout}"
      {kill}
      config {{
        image = "{IMAGE}"
        pot = "nginx-only"
        tag = "1.0"
        command = "/bin/sh"
        args = ["-c", {json.dumps(shlex.quote(script))}]
        port_map = {{ http = "80" }}
        {extra_config}
      }}
      resources {{
        cpu = 100
        memory = 64
      }}
      {task_extra}
    }}
  }}
}}
"""


def pot_agent(base: Path, double: PotDouble, **config: Any) -> AgentProcess:
    return make_agent(base, dev=False, config={
        "plugin": {"pot": {"config": {"pot_bin": str(double.bin),
                                      "test_only_allow_any_os": True}}},
        **config})


def run_job(agent: AgentProcess, hcl: str) -> str:
    parsed = agent.request("POST", "/v1/jobs/parse", {"JobHCL": hcl, "Canonicalize": True})
    assert parsed.status_code == 200, parsed.text
    job = parsed.json()
    registered = agent.request("POST", "/v1/jobs", {"Job": job})
    assert registered.status_code == 200, registered.text
    return job["ID"]


def the_alloc(agent: AgentProcess, job_id: str, status: str = "running",
              timeout: float = 30.0) -> dict:
    def check() -> dict | None:
        allocs = agent.json(f"/v1/job/{job_id}/allocations")
        matching = [a for a in allocs if a["ClientStatus"] == status]
        return agent.json(f"/v1/allocation/{matching[0]['ID']}") if matching else None

    return wait_for(check, timeout=timeout, message=f"a {status} allocation of {job_id}")


def logs(agent: AgentProcess, alloc_id: str, task: str = "t", kind: str = "stdout") -> str:
    resp = agent.get(f"/v1/client/fs/logs/{alloc_id}", task=task, type=kind, plain="true")
    return resp.text if resp.status_code == 200 else ""


def terminated(alloc: dict, task: str = "t") -> dict:
    events = [e for e in alloc["TaskStates"][task]["Events"] if e["Type"] == "Terminated"]
    assert events, alloc["TaskStates"][task]["Events"]
    return events[-1]


def pot_of(double: PotDouble, alloc_id: str) -> str:
    names = [name for name in double.pots() if name.endswith(alloc_id)]
    return names[0] if names else ""


def stop_job(agent: AgentProcess, job_id: str, alloc_id: str) -> dict:
    assert agent.request("DELETE", f"/v1/job/{job_id}").status_code == 200
    return wait_alloc_status(agent, alloc_id, "complete", timeout=30)


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> PotDouble:
    return make_pot_double(tmp_path_factory.mktemp("pot-agent") / "pot")


@pytest.fixture(scope="module")
def agent(double: PotDouble) -> Iterator[AgentProcess]:
    process = pot_agent(double.base.parent, double)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_the_node_reports_a_healthy_pot_driver(agent: AgentProcess) -> None:
    node = agent.json(f"/v1/node/{agent.json('/v1/nodes')[0]['ID']}")
    pot = node["Drivers"]["pot"]
    assert pot["Healthy"] and pot["Detected"]
    assert node["Attributes"]["driver.pot"] == "1"
    assert node["Attributes"]["driver.pot.version"] == "0.16.0"


def test_an_imported_image_reaches_the_node_and_the_next_placement_is_boosted(
        agent: AgentProcess, double: PotDouble) -> None:
    """The first job imports nginx-only 9.9; the client fingerprints again at once (the
    periodic fingerprint is 30s away), so the server knows the node holds it: the next
    job's placement scores pot-image 1 and its plan counts the placement as cached."""
    first = run_job(agent, pot_job("img-first", "exit 0", job_type="batch").replace(
        'tag = "1.0"', 'tag = "9.9"'))
    the_alloc(agent, first, "complete")
    node_id = agent.json("/v1/nodes")[0]["ID"]
    wait_for(lambda: agent.json(f"/v1/node/{node_id}")["Attributes"].get(
        "driver.pot.image.nginx-only_9_9") == "1", timeout=15,
        message="the image in the node's attributes")

    hcl = pot_job("img-second", "exit 0", job_type="batch").replace('tag = "1.0"',
                                                                      'tag = "9.9"')
    job = agent.request("POST", "/v1/jobs/parse", {"JobHCL": hcl, "Canonicalize": True}).json()
    plan = agent.request("PUT", "/v1/job/img-second/plan", {"Job": job, "Diff": False})
    assert plan.status_code == 200, plan.text
    assert plan.json()["Annotations"]["NomadjailPotImageCached"] == {"g": 1}
    second = run_job(agent, hcl)
    alloc = the_alloc(agent, second, "complete")
    (scored,) = alloc["Metrics"]["ScoreMetaData"]
    assert scored["NodeID"] == node_id and scored["Scores"]["pot-image"] == 1.0
    for job_id in (first, second):
        agent.request("DELETE", f"/v1/job/{job_id}", purge="true")
    # the module's other tests expect only nginx-only 1.0 in the image cache
    wait_for(lambda: double.task_pots() == [], timeout=20,
             message="the task pots (clones of nginx-only 9.9) destroyed")
    assert run_double(double, "destroy", "-p", "nginx-only_9_9").returncode == 0


def test_a_pot_job_runs_and_its_logs_show_the_tasks_output(
        agent: AgentProcess, double: PotDouble) -> None:
    job_id = run_job(agent, pot_job("hello", 'echo "hello from $NOMAD_TASK_NAME"; '
                                             'echo oops >&2; exec sleep 300'))
    alloc = the_alloc(agent, job_id)
    assert wait_for(lambda: logs(agent, alloc["ID"]) == "hello from t\n", timeout=20,
                    message="the task's output")
    assert wait_for(lambda: logs(agent, alloc["ID"], kind="stderr") == "oops\n")
    name = pot_of(double, alloc["ID"])
    port = alloc["AllocatedResources"]["Shared"]["Ports"][0]["Value"]
    conf = double.conf(name)
    assert f"pot.export.ports=80:{port}" in conf and "pot.rss.memory=64M" in conf
    mounts = double.fscomp(name)
    task_dir = Path(agent.data_dir / "data" / "alloc" / alloc["ID"])
    assert mounts == [f"{task_dir}/alloc /alloc", f"{task_dir}/t/local /local",
                      f"{task_dir}/t/secrets /secrets"]
    final = stop_job(agent, job_id, alloc["ID"])
    assert "Killed" in [e["Type"] for e in final["TaskStates"]["t"]["Events"]]
    assert pot_of(double, alloc["ID"]) == ""


@pytest.mark.parametrize(("script", "exit_code", "signum"), [
    ("exit 0", 0, 0), ("echo failing; exit 3", 3, 0), ("kill -KILL $$", 137, 9)])
def test_exit_codes_are_reported(agent: AgentProcess, double: PotDouble, script: str,
                                 exit_code: int, signum: int) -> None:
    job_id = run_job(agent, pot_job(f"exit-{exit_code}", script, job_type="batch"))
    status = "complete" if exit_code == 0 else "failed"
    alloc = the_alloc(agent, job_id, status)
    event = terminated(alloc)
    assert (event["ExitCode"], event["Signal"]) == (exit_code, signum)
    assert wait_for(lambda: pot_of(double, alloc["ID"]) == "", timeout=20,
                    message="the pot to be destroyed")
    agent.request("DELETE", f"/v1/job/{job_id}", purge="true")


def test_alloc_signal_reaches_the_task(agent: AgentProcess, double: PotDouble,
                                       tmp_path: Path) -> None:
    job_id = run_job(agent, pot_job(
        "signal", "trap 'echo got HUP' HUP; echo up; while :; do sleep 0.1; done"))
    alloc = the_alloc(agent, job_id)
    wait_for(lambda: "up" in logs(agent, alloc["ID"]), timeout=20, message="the task to run")
    done = subprocess.run([sys.executable, "-m", "nomadjail", "alloc", "signal", "-s", "SIGHUP",
                           alloc["ID"][:8], "t"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={**os.environ, "NOMAD_ADDR": agent.address})
    assert done.returncode == 0, done.stdout + done.stderr
    assert wait_for(lambda: "got HUP" in logs(agent, alloc["ID"]), timeout=20,
                    message="the signal in the task's output")
    name = pot_of(double, alloc["ID"])
    assert ["signal", "-s", "SIGHUP", "-p", name] in double.calls()
    stop_job(agent, job_id, alloc["ID"])


def test_alloc_signal_right_after_the_start_reaches_the_task(
        agent: AgentProcess, double: PotDouble, tmp_path: Path) -> None:
    gate = tmp_path / "main-pid-gate"
    double.set_faults(main_pid_gate=str(gate))  # pot has not recorded the program's pid yet
    try:
        job_id = run_job(agent, pot_job(
            "early-signal", "trap 'echo got HUP' HUP; while :; do sleep 0.1; done"))
        alloc = the_alloc(agent, job_id)  # running: no waiting for the task's output
        name = pot_of(double, alloc["ID"])
        signal_cli = subprocess.Popen(
            [sys.executable, "-m", "nomadjail", "alloc", "signal", "-s", "SIGHUP",
             alloc["ID"][:8], "t"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, cwd=tmp_path, env={**os.environ, "NOMAD_ADDR": agent.address})
        try:
            # a second `pot signal` means the driver retried the one pot refused
            wait_for(lambda: signal_cli.poll() is not None or double.calls().count(
                ["signal", "-s", "SIGHUP", "-p", name]) >= 2, timeout=30,
                message="the signal to be retried")
        finally:
            gate.touch()
            output, _ = signal_cli.communicate(timeout=60)
    finally:
        double.set_faults()
    assert signal_cli.returncode == 0, output
    assert wait_for(lambda: "got HUP" in logs(agent, alloc["ID"]), timeout=20,
                    message="the signal in the task's output")
    stop_job(agent, job_id, alloc["ID"])


def test_cores_and_the_groups_dns_reach_the_pot(agent: AgentProcess, double: PotDouble) -> None:
    # A relative path: the double runs the program in the pot's root on the host's file
    # system (a real pot's program has / there, so it reads the same file).
    hcl = pot_job("dns-cores", "cat etc/resolv.conf; exec sleep 300").replace(
        'port "http" {}', 'port "http" {}\n      dns {\n        servers = ["10.0.0.53"]\n'
                          '        searches = ["service.consul"]\n      }').replace(
        "cpu = 100", "cores = 1")
    job_id = run_job(agent, hcl)
    alloc = the_alloc(agent, job_id)
    assert wait_for(lambda: logs(agent, alloc["ID"]).endswith(
        "nameserver 10.0.0.53\nsearch service.consul\n"), timeout=20,
        message="the pot's resolv.conf in the task's output")
    conf = double.conf(pot_of(double, alloc["ID"]))
    assert "pot.rss.cpus=1" in conf and "pot.dns=custom" in conf
    stop_job(agent, job_id, alloc["ID"])


def test_job_stop_signals_first_and_destroys_after_the_kill_timeout(
        agent: AgentProcess, double: PotDouble) -> None:
    job_id = run_job(agent, pot_job(
        "stubborn", "trap 'echo ignoring HUP' HUP; echo up; while :; do sleep 0.1; done",
        kill_signal="SIGHUP", kill_timeout="2s"))
    alloc = the_alloc(agent, job_id)
    wait_for(lambda: "up" in logs(agent, alloc["ID"]), timeout=20, message="the task to run")
    name = pot_of(double, alloc["ID"])
    final = stop_job(agent, job_id, alloc["ID"])
    entries = [json.loads(line) for line in double.log_path.read_text().splitlines()]
    mine = [(e["time"], e["argv"][0]) for e in entries if name in e["argv"]
            and e["argv"][0] in ("signal", "destroy")]
    # `pot signal` (retried until pot knows the program's pid), then `destroy`
    first_destroy = [command for _, command in mine].index("destroy")
    assert first_destroy >= 1 and {c for _, c in mine[:first_destroy]} == {"signal"}
    # kill_timeout = "2s" was waited out after the signal got through
    assert mine[first_destroy][0] - mine[first_destroy - 1][0] >= 1.5
    assert "ignoring HUP" in logs(agent, alloc["ID"])
    event = terminated(final)
    assert (event["ExitCode"], event["Signal"]) == (137, 9)
    assert pot_of(double, alloc["ID"]) == ""


def test_a_task_named_web_v2_works_and_nothing_is_left(agent: AgentProcess,
                                                       double: PotDouble) -> None:
    job_id = run_job(agent, pot_job("dotted", "echo v2 here; exec sleep 300", task="web.v2"))
    alloc = the_alloc(agent, job_id)
    assert wait_for(lambda: "v2 here" in logs(agent, alloc["ID"], task="web.v2"), timeout=20,
                    message="the task's output")
    name = pot_of(double, alloc["ID"])
    assert name.startswith("web_v2_") and "." not in name
    stop_job(agent, job_id, alloc["ID"])
    agent.request("DELETE", f"/v1/job/{job_id}", purge="true")
    wait_for(lambda: double.task_pots() == [], timeout=20, message="no task pot left")
    assert double.pots() == ["nginx-only_1_0"]  # pot's image cache only
    assert double.runtime_files() == []


def test_submission_rejects_bad_pot_configs(agent: AgentProcess) -> None:
    hcl = pot_job("bad", "true", extra_config='copy = ["no-colon"]').replace(
        'port_map = { http = "80" }', 'port_map = { admin = "80" }')
    parsed = agent.request("POST", "/v1/jobs/parse", {"JobHCL": hcl, "Canonicalize": True})
    resp = agent.request("POST", "/v1/jobs", {"Job": parsed.json()})
    assert resp.status_code == 400
    assert "copy[0] 'no-colon': expected \"host_path:pot_path\"" in resp.text
    assert 'port_map label "admin" is not defined' in resp.text


def test_volume_mounts_reach_the_pot(tmp_path: Path) -> None:
    double = make_pot_double(tmp_path / "agent" / "pot")
    volume = tmp_path / "shared-data"
    volume.mkdir()
    agent = pot_agent(tmp_path / "agent", double, client={
        "host_volume": {"data": {"path": str(volume), "read_only": True}}})
    agent.start()
    try:
        job_id = run_job(agent, pot_job(
            "volumes", "exec sleep 300",
            group_extra='volume "data" {\n type = "host"\n source = "data"\n read_only = true\n}',
            task_extra='volume_mount {\n volume = "data"\n destination = "/srv/data"\n}'))
        alloc = the_alloc(agent, job_id)
        assert f"{volume} /srv/data ro" in double.fscomp(pot_of(double, alloc["ID"]))
        missing = run_job(agent, pot_job(
            "novolume", "exec sleep 300",
            group_extra='volume "x" {\n type = "host"\n source = "nope"\n}'))
        evals = wait_for(lambda: [e for e in agent.json(f"/v1/job/{missing}/evaluations")
                                  if e.get("FailedTGAllocs")], timeout=20,
                         message="the placement failure")
        metrics = evals[0]["FailedTGAllocs"]["g"]
        assert metrics["ConstraintFiltered"] == {"missing compatible host volumes": 1}
        stop_job(agent, job_id, alloc["ID"])
    finally:
        agent.stop()


def process_alive(pid: int, create_time: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == create_time and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_three_kill_9_restarts_keep_the_same_task_running(tmp_path: Path) -> None:
    double = make_pot_double(tmp_path / "agent" / "pot")
    agent = pot_agent(tmp_path / "agent", double)
    agent.start()
    try:
        job_id = run_job(agent, pot_job(
            "survivor", "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"))
        alloc = the_alloc(agent, job_id)
        name = pot_of(double, alloc["ID"])
        started_at = alloc["TaskStates"]["t"]["StartedAt"]
        wait_for(lambda: "tick 3\n" in logs(agent, alloc["ID"]), timeout=20, message="ticks")
        pot_start = alloc_pot_start_pid(agent, alloc["ID"])
        create_time = psutil.Process(pot_start).create_time()
        for round_ in range(3):
            agent.kill()
            seen = logs_from_disk(agent, alloc["ID"]).count("tick")
            # the task keeps running and logging while the client is down
            wait_for(lambda: logs_from_disk(agent, alloc["ID"]).count("tick") > seen + 3,
                     timeout=20, message=f"ticks while the client is down ({round_})")
            agent.start()
            again = the_alloc(agent, job_id)
            assert again["ID"] == alloc["ID"]
            assert again["TaskStates"]["t"]["StartedAt"] == started_at
            assert again["TaskStates"]["t"]["Restarts"] == 0
            assert process_alive(pot_start, create_time)
            assert double.task_pots() == [name]
            assert double.commands().count("start") == 1
        seen = logs(agent, alloc["ID"]).count("tick")
        wait_for(lambda: logs(agent, alloc["ID"]).count("tick") > seen + 3, timeout=20,
                 message="logs after the restarts")
        stop_job(agent, job_id, alloc["ID"])
        assert double.task_pots() == []
    finally:
        agent.stop()


def test_a_task_that_exits_while_the_client_is_down_is_reported_and_destroyed(
        tmp_path: Path) -> None:
    double = make_pot_double(tmp_path / "agent" / "pot")
    agent = pot_agent(tmp_path / "agent", double)
    agent.start()
    try:
        flag = tmp_path / "finish"
        job_id = run_job(agent, pot_job(
            "finisher", f"echo waiting; while [ ! -e {flag} ]; do sleep 0.1; done; exit 4",
            job_type="batch"))
        alloc = the_alloc(agent, job_id)
        wait_for(lambda: "waiting" in logs(agent, alloc["ID"]), timeout=20,
                 message="the task to run")
        pot_start = alloc_pot_start_pid(agent, alloc["ID"])
        agent.kill()
        flag.write_text("now")
        try:  # the program exits, and `pot start` with it, while no client runs
            psutil.wait_procs([psutil.Process(pot_start)], timeout=20)
        except psutil.NoSuchProcess:
            pass
        agent.start()
        final = the_alloc(agent, job_id, "failed")
        event = terminated(final)
        assert (event["ExitCode"], event["Signal"]) == (4, 0)
        wait_for(lambda: double.task_pots() == [], timeout=20, message="the pot destroyed")
    finally:
        agent.stop()


def alloc_pot_start_pid(agent: AgentProcess, alloc_id: str) -> int:
    """The pid of `pot start`, from the raw_exec supervisor's pid file."""
    runtime = agent.data_dir / "data" / "alloc" / alloc_id / "t" / ".raw_exec"
    pid_file = wait_for(lambda: next(iter(runtime.glob("*.pid.json")), None), timeout=20,
                        message="the supervisor's pid file")
    return int(json.loads(pid_file.read_text())["task_pid"])


def logs_from_disk(agent: AgentProcess, alloc_id: str, task: str = "t") -> str:
    path = agent.data_dir / "data" / "alloc" / alloc_id / "alloc" / "logs" / f"{task}.stdout.0"
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""

