"""A potluck-style pot job -- a group ``service`` with an http ``check`` on a
``public-bridge`` port -- on a real agent with the pot test double as pot and the Consul
double as Consul: registered with the node's address, the mapped host port, its tags and
its check; the check passes; ``job stop`` deregisters it."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nomadjail.testing import AgentProcess, make_agent, wait_for

from ..doubles.consul import ConsulDouble
from ..pot_driver.double import PotDouble, make_pot_double

# The pot double runs a pot's command on the host, without pf's redirections: the
# server listens on the host port, where pot's redirection would deliver the traffic
# on FreeBSD (it listens on port 80 inside the pot there).
SERVER = f"exec {shlex.quote(sys.executable)} -m http.server --bind 127.0.0.1 " \
         "$NOMAD_HOST_PORT_http"

POTLUCK_JOB = f"""
job "nginx" {{
  datacenters = ["dc1"]
  group "web" {{
    network {{
      port "http" {{}}
    }}
    service {{
      name = "nginx-www"
      port = "http"
      tags = ["traefik.enable=true", "traefik.http.routers.www.rule=Host(`www.example.org`)"]
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
        args         = ["-c", {json.dumps(shlex.quote(SERVER))}]
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


@pytest.fixture
def consul() -> Iterator[ConsulDouble]:
    double = ConsulDouble().start()
    try:
        yield double
    finally:
        double.close()


@pytest.fixture
def pot(tmp_path: Path) -> PotDouble:
    return make_pot_double(tmp_path / "pot")


def test_a_potluck_pot_job_registers_passes_and_deregisters(tmp_path, pot, consul) -> None:
    agent: AgentProcess = make_agent(tmp_path / "agent", dev=False, config={
        "plugin": {"pot": {"config": {"pot_bin": str(pot.bin),
                                      "test_only_allow_any_os": True}}},
        "consul": {"address": consul.address, "auto_advertise": False},
        "client": {"network_interface": "lo"}})
    agent.start()
    try:
        parsed = agent.request("POST", "/v1/jobs/parse", {"JobHCL": POTLUCK_JOB,
                                                          "Canonicalize": True})
        assert parsed.status_code == 200, parsed.text
        registered = agent.request("POST", "/v1/jobs", {"Job": parsed.json()})
        assert registered.status_code == 200, registered.text

        def running() -> dict | None:
            found = [a for a in agent.json("/v1/job/nginx/allocations")
                     if a["ClientStatus"] == "running"]
            return agent.json(f"/v1/allocation/{found[0]['ID']}") if found else None
        alloc = wait_for(running, timeout=60, message="the pot running")
        [port] = alloc["AllocatedResources"]["Shared"]["Ports"]
        sid = f"_nomad-task-{alloc['ID']}-group-web-nginx-www-http"
        service = wait_for(lambda: consul.services.get(sid), timeout=30,
                           message="the service in Consul")
        assert (service["Service"], service["Address"], service["Port"]) == (
            "nginx-www", "127.0.0.1", port["Value"])
        assert service["Tags"][0] == "traefik.enable=true"
        [check] = [c for c in consul.agent_checks().values() if c["ServiceID"] == sid]
        assert check["Name"] == "nginx-alive"
        wait_for(lambda: consul.check_status(check["CheckID"]) == "passing", timeout=30,
                 message="the http check passing")

        assert agent.request("DELETE", "/v1/job/nginx").status_code == 200
        wait_for(lambda: sid not in consul.services, timeout=30,
                 message="deregistered with job stop")
    finally:
        agent.stop()
