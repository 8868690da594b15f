"""``provider = "nomad"`` end to end on real agent processes: the client registers its
services through the servers and runs their checks itself.

A potluck-style job (group service with an http check) is listed by ``/v1/services`` and
``nomadjail service info`` at the node's address and port, its check passes and is shown
by ``alloc checks``; an instance whose check fails shows it in ``alloc checks`` and
``alloc status``; ``job stop`` removes the registrations; the same job on the pot double
(``public-bridge``) registers the mapped host port; a canary whose check fails is
reverted by ``auto_revert`` while ``job run`` follows it; a client killed with ``kill -9``
comes back with exactly the registrations it had.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from nomadjail.testing import AgentProcess, make_agent, wait_for

from ..pot_driver.double import make_pot_double

PYTHON = json.dumps(sys.executable)


def web_job(job_id: str, *, path: str = "/", count: int = 1, update: str = "",
            release: str = "1") -> str:
    """A potluck-style job on raw_exec: a group service with an http check on the
    group's dynamic port, served by Python's http.server."""
    return f"""
job "{job_id}" {{
  datacenters = ["dc1"]
  group "web" {{
    count = {count}
    {update}
    network {{
      port "http" {{}}
    }}
    service {{
      provider = "nomad"
      name     = "{job_id}"
      port     = "http"
      tags     = ["traefik.enable=true", "web"]
      check {{
        name     = "alive"
        type     = "http"
        path     = "{path}"
        interval = "1s"
        timeout  = "1s"
      }}
    }}
    task "server" {{
      driver = "raw_exec"
      config {{
        command = {PYTHON}
        args    = ["-m", "http.server", "--bind", "127.0.0.1", "${{NOMAD_PORT_http}}"]
      }}
      env {{
        RELEASE = "{release}"
      }}
      kill_timeout = "2s"
      resources {{
        cpu    = 20
        memory = 32
      }}
    }}
  }}
}}
"""


# The pot double runs the pot's command on the host, where pot's redirection would
# deliver the traffic on FreeBSD: the server listens on the mapped host port.
POT_SERVER = f"exec {shlex.quote(sys.executable)} -m http.server --bind 127.0.0.1 " \
             "$NOMAD_HOST_PORT_http"
POT_JOB = f"""
job "nginx" {{
  datacenters = ["dc1"]
  group "web" {{
    network {{
      port "http" {{}}
    }}
    service {{
      provider = "nomad"
      name     = "nginx-www"
      port     = "http"
      tags     = ["traefik.enable=true"]
      check {{
        type     = "http"
        name     = "nginx-alive"
        path     = "/"
        interval = "1s"
        timeout  = "1s"
      }}
    }}
    task "nginx" {{
      driver = "pot"
      config {{
        image        = "https://potluck.example.org/registry/"
        pot          = "nginx-only"
        tag          = "1.0"
        command      = "/bin/sh"
        args         = ["-c", {json.dumps(shlex.quote(POT_SERVER))}]
        port_map     = {{ http = "80" }}
        network_mode = "public-bridge"
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}
"""


def cli(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOMAD_ADDR": agent.address, "NOMAD_CLI_NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "nomadjail", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def submit(agent: AgentProcess, hcl: str) -> None:
    parsed = agent.request("POST", "/v1/jobs/parse", {"JobHCL": hcl, "Canonicalize": True})
    assert parsed.status_code == 200, parsed.text
    registered = agent.request("POST", "/v1/jobs", {"Job": parsed.json()})
    assert registered.status_code == 200, registered.text


def running(agent: AgentProcess, job_id: str, count: int = 1) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        found = [agent.json(f"/v1/allocation/{a['ID']}")
                 for a in agent.json(f"/v1/job/{job_id}/allocations")
                 if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"]
        return found if len(found) == count else None
    return wait_for(check, timeout=60, message=f"{count} allocation(s) of {job_id} running")


def instances(agent: AgentProcess, name: str) -> list[dict[str, Any]]:
    return agent.json(f"/v1/service/{name}")


def checks(agent: AgentProcess, alloc_id: str) -> dict[str, dict[str, Any]]:
    return agent.json(f"/v1/client/allocation/{alloc_id}/checks")


def the_check(agent: AgentProcess, alloc_id: str, status: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        found = list(checks(agent, alloc_id).values())
        return found[0] if len(found) == 1 and found[0]["Status"] == status else None
    return wait_for(check, timeout=30, message=f"the check of {alloc_id[:8]} {status}")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    base = tmp_path_factory.mktemp("nomad-services")
    pot = make_pot_double(base / "pot")
    process = make_agent(base / "agent", config={
        "client": {"network_interface": "lo"},
        "plugin": {"pot": {"config": {"pot_bin": str(pot.bin),
                                      "test_only_allow_any_os": True}}}})
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def purge(agent: AgentProcess) -> Iterator[Any]:
    created: list[str] = []
    yield created.append
    for job_id in created:
        agent.request("DELETE", f"/v1/job/{job_id}", purge="true")


def test_a_service_is_listed_its_check_passes_and_job_stop_removes_it(agent, purge):
    purge("www")
    submit(agent, web_job("www"))
    [alloc] = running(agent, "www")
    port = alloc["AllocatedResources"]["Shared"]["Ports"][0]["Value"]
    [reg] = wait_for(lambda: instances(agent, "www"), timeout=30, message="registered")
    assert (reg["ID"], reg["Address"], reg["Port"], reg["Tags"], reg["AllocID"],
            reg["NodeID"], reg["Datacenter"]) == (
        f"_nomad-task-{alloc['ID']}-group-web-www-http", "127.0.0.1", port,
        ["traefik.enable=true", "web"], alloc["ID"], alloc["NodeID"], "dc1")
    assert agent.json("/v1/services") == [{"Namespace": "default", "Services": [
        {"ServiceName": "www", "Tags": ["traefik.enable=true", "web"]}]}]
    info = cli(agent, "service", "info", "www")
    assert info.returncode == 0, info.stderr
    assert f"127.0.0.1:{port}" in info.stdout and alloc["ID"][:8] in info.stdout

    result = the_check(agent, alloc["ID"], "success")
    assert {k: result[k] for k in ("Mode", "StatusCode", "Output", "Group", "Service",
                                   "Check")} == {
        "Mode": "healthiness", "StatusCode": 200, "Output": "nomad: http ok",
        "Group": "www.web[0]", "Service": "www", "Check": "alive"}
    assert "Task" not in result  # a group service's check
    shown = cli(agent, "alloc", "checks", alloc["ID"][:8])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Status of 1 Nomad Service Checks\n\n")
    assert re.search(r"^Status\s+= success$", shown.stdout, re.M)
    assert re.search(r"^Task\s+= \(group\)$", shown.stdout, re.M)

    unknown = agent.get("/v1/client/allocation/00000000-0000-0000-0000-000000000000/checks")
    assert unknown.status_code == 404 and "Unknown allocation" in unknown.text

    stopped = agent.request("DELETE", "/v1/job/www")
    assert stopped.status_code == 200, stopped.text
    wait_for(lambda: instances(agent, "www") == [], timeout=30,
             message="the registration gone with job stop")
    assert agent.json("/v1/services") == []


def test_an_instance_whose_check_fails_shows_it(agent, purge):
    purge("broken")
    submit(agent, web_job("broken", path="/missing"))
    [alloc] = running(agent, "broken")
    failed = the_check(agent, alloc["ID"], "failure")
    assert failed["StatusCode"] == 404
    shown = cli(agent, "alloc", "checks", alloc["ID"])
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^Status\s+= failure$", shown.stdout, re.M)
    assert re.search(r"^StatusCode\s+= 404$", shown.stdout, re.M)
    status = cli(agent, "alloc", "status", alloc["ID"])
    assert status.returncode == 0, status.stderr
    section = status.stdout.split("Nomad Service Checks:\n", 1)[1].splitlines()
    assert section[0].split() == ["Service", "Task", "Name", "Mode", "Status"]
    assert section[1].split() == ["broken", "(group)", "alive", "healthiness", "failure"]
    # Registered all the same: Nomad's service list does not filter on checks.
    assert [r["AllocID"] for r in instances(agent, "broken")] == [alloc["ID"]]


def test_a_pot_job_on_a_public_bridge_registers_the_mapped_port(agent, purge):
    purge("nginx")
    submit(agent, POT_JOB)
    [alloc] = running(agent, "nginx")
    [port] = alloc["AllocatedResources"]["Shared"]["Ports"]
    [reg] = wait_for(lambda: instances(agent, "nginx-www"), timeout=30, message="registered")
    assert (reg["Address"], reg["Port"]) == ("127.0.0.1", port["Value"])
    the_check(agent, alloc["ID"], "success")
    assert agent.request("DELETE", "/v1/job/nginx").status_code == 200
    wait_for(lambda: instances(agent, "nginx-www") == [], timeout=30,
             message="deregistered with job stop")


UPDATE = """
    update {{
      max_parallel      = 1
      canary            = 1
      health_check      = "checks"
      min_healthy_time  = "1s"
      healthy_deadline  = "{healthy}"
      progress_deadline = "{progress}"
      auto_revert       = true
    }}"""


def test_a_canary_whose_check_fails_is_reverted(agent, purge, tmp_path):
    purge("shop")
    good = tmp_path / "good.nomad"
    good.write_text(web_job("shop", update=UPDATE.format(healthy="60s", progress="0s")))
    first = cli(agent, "job", "run", str(good))
    assert first.returncode == 0, first.stdout + first.stderr
    [stable] = running(agent, "shop")
    assert agent.json("/v1/job/shop/deployment")["Status"] == "successful"

    bad = tmp_path / "bad.nomad"
    # The deadline leaves the canary's task time to start on a loaded 2-core machine, so it
    # fails for its check ("Services not healthy"), not for being slow ("Task not running").
    bad.write_text(web_job("shop", path="/missing", release="2",
                           update=UPDATE.format(healthy="15s", progress="20s")))
    update = cli(agent, "job", "run", str(bad))
    assert update.returncode == 1, update.stdout + update.stderr
    assert "rolling back to job version 0" in update.stdout

    deployments = agent.json("/v1/job/shop/deployments")
    [failed] = [d for d in deployments if d["JobVersion"] == 1]
    assert failed["Status"] == "failed"
    job = wait_for(lambda: (lambda j: j if j["Version"] == 2 else None)(
        agent.json("/v1/job/shop")), timeout=30, message="the revert to version 0 as version 2")
    assert job["TaskGroups"][0]["Services"][0]["Checks"][0]["Path"] == "/"
    [canary] = [a for a in agent.json("/v1/job/shop/allocations") if a["JobVersion"] == 1]
    events = agent.json(f"/v1/allocation/{canary['ID']}")["TaskStates"]["server"]["Events"]
    assert [e["DisplayMessage"] for e in events if e["Type"] == "Alloc Unhealthy"] == [
        "Services not healthy by deadline: shop"]
    # The stable allocation was never replaced, and it is still the registered one.
    assert [a["ID"] for a in running(agent, "shop")] == [stable["ID"]]
    wait_for(lambda: [r["AllocID"] for r in instances(agent, "shop")] == [stable["ID"]],
             timeout=30, message="only the stable instance registered")


def test_a_killed_client_comes_back_with_the_same_registrations(agent_factory):
    """A server and a client-only agent, as on a FreeBSD host: the client is killed with
    ``kill -9`` while its services are registered; the server keeps them, the restarted
    client re-attaches and registers the same IDs again, nothing doubles.  The checks are
    read through the server, which forwards to the client."""
    server = agent_factory("server", dev=False, client=False)
    server.start(wait_client=False)
    client = agent_factory("client", dev=False, server=False, config={
        "client": {"servers": [server.rpc_address], "network_interface": "lo"},
        "plugin": {"raw_exec": {"config": {"enabled": True}}}})
    client.start()
    wait_for(lambda: server.json("/v1/nodes"), timeout=30, message="the client registered")
    submit(server, web_job("many", count=5))
    allocs = running(server, "many", count=5)

    def registered() -> dict[str, tuple[str, int, str]] | None:
        found = instances(server, "many")
        return {r["ID"]: (r["Address"], r["Port"], r["AllocID"]) for r in found} \
            if len(found) == 5 else None
    before = wait_for(registered, timeout=30, message="5 registrations")
    assert {alloc for _, _, alloc in before.values()} == {a["ID"] for a in allocs}
    record = client.data_dir / "data" / "client" / "nomad_services.json"
    assert set(json.loads(record.read_text())["Registrations"]) == set(before)
    log_size = len(client.log())

    client.kill()
    assert registered() == before  # the servers keep them while the client is away
    client.start()
    wait_for(lambda: {a["ID"] for a in running(server, "many", count=5)} ==
             {a["ID"] for a in allocs}, timeout=30,
             message="the same 5 allocations running (re-attached)")
    for alloc in allocs:
        the_check(server, alloc["ID"], "success")  # forwarded to the client
    after = [r["ID"] for r in instances(server, "many")]
    assert len(after) == len(set(after)) == 5 and set(after) == set(before)
    assert registered() == before
    assert set(json.loads(record.read_text())["Registrations"]) == set(before)
    # The restored workloads waited for the node's registration: no refused attempt.
    assert "failed to update Nomad service registrations" not in client.log()[log_size:]
    shown = cli(server, "alloc", "checks", allocs[0]["ID"])
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^Status\s+= success$", shown.stdout, re.M)
