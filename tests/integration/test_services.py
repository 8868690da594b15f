"""Nomad's native service discovery against a real agent: a client's registrations go in
over the rpc port (authenticated with the node's SecretID, exactly as the client agent
calls it), come out of ``/v1/services`` and the ``nomadjail service`` commands, and go
away when their allocation stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from nomadjail.structs import ServiceRegistration, to_api
from nomadjail.testing import AgentProcess, wait_alloc_status, wait_for

from .jobs import FOREVER, shell_job

JOB = "svc-web"


def cli(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOMAD_ADDR": agent.address, "NOMAD_CLI_NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "nomadjail", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def node_secret(agent: AgentProcess) -> str:
    """What the client agent authenticates its RPCs with (its state dir keeps it)."""
    return (agent.data_dir / "data" / "client" / "secret-id").read_text().strip()


def registration_for(alloc: dict[str, Any]) -> ServiceRegistration:
    port = alloc["AllocatedResources"]["Shared"]["Ports"][0]
    return ServiceRegistration(
        id=f"_nomad-task-{alloc['ID']}-t-{JOB}-http", service_name=JOB,
        namespace=alloc["Namespace"], node_id=alloc["NodeID"], job_id=alloc["JobID"],
        alloc_id=alloc["ID"], tags=["web", f"i{alloc['Name'][-2]}"], address="127.0.0.1",
        port=port["Value"])


def upsert(agent: AgentProcess, secret: str, *regs: ServiceRegistration) -> requests.Response:
    return requests.post(f"http://{agent.rpc_address}/v1/rpc/ServiceRegistration.Upsert",
                         json={"Services": [to_api(r) for r in regs]},
                         headers={"X-Nomad-Token": secret}, timeout=30)


def instances(agent: AgentProcess) -> list[str]:
    return [r["AllocID"] for r in agent.json(f"/v1/service/{JOB}")]


def test_registrations_live_and_die_with_their_allocations(dev_agent: AgentProcess,
                                                           tmp_path: Path) -> None:
    resp = dev_agent.request("POST", "/v1/jobs", shell_job(JOB, FOREVER, count=2))
    assert resp.status_code == 200, resp.text
    allocs = wait_for(lambda: (lambda found: found if len(found) == 2 else None)(
        dev_agent.json(f"/v1/job/{JOB}/allocations")), timeout=30,
        message="both allocations placed")
    allocs = [wait_alloc_status(dev_agent, a["ID"], "running") for a in allocs]
    regs = [registration_for(a) for a in allocs]
    secret = node_secret(dev_agent)
    try:
        refused = upsert(dev_agent, "not-the-secret", *regs)
        assert refused.status_code == 403
        stored = upsert(dev_agent, secret, *regs)
        assert stored.status_code == 200, stored.text
        assert stored.json()["Index"] > 0

        listed = dev_agent.json("/v1/services")
        assert listed == [{"Namespace": "default", "Services": [
            {"ServiceName": JOB, "Tags": ["i0", "i1", "web"]}]}]
        assert sorted(instances(dev_agent)) == sorted(a["ID"] for a in allocs)

        service_list = cli(dev_agent, "service", "list")
        assert service_list.returncode == 0, service_list.stderr
        assert service_list.stdout == ("Service Name  Tags\n"
                                       f"{JOB}       [i0,i1,web]\n")
        info = cli(dev_agent, "service", "info", JOB)
        assert info.returncode == 0, info.stderr
        lines = info.stdout.splitlines()
        assert lines[0].split() == ["Job", "ID", "Address", "Tags", "Node", "ID", "Alloc",
                                    "ID"]
        for reg in regs:
            assert f"127.0.0.1:{reg.port}" in info.stdout and reg.alloc_id[:8] in info.stdout
        paged = cli(dev_agent, "service", "info", "-per-page=1", JOB)
        assert paged.returncode == 0, paged.stderr
        assert "Results have been paginated. To get the next page run:" in paged.stdout
        assert "-page-token=default._nomad-task-" in paged.stdout

        # An allocation that stops takes its instance along at once; the other stays.
        stop = dev_agent.request("POST", f"/v1/allocation/{allocs[0]['ID']}/stop")
        assert stop.status_code == 200, stop.text
        wait_for(lambda: instances(dev_agent) == [allocs[1]["ID"]], timeout=30,
                 message="the stopped allocation's instance to go")

        # An operator removes one by hand; the client registers it again.
        deleted = cli(dev_agent, "service", "delete", JOB, regs[1].id)
        assert (deleted.returncode, deleted.stdout) == (
            0, "Successfully deleted service registration\n"), deleted.stderr
        assert instances(dev_agent) == []
        assert upsert(dev_agent, secret, regs[1]).status_code == 200
        assert instances(dev_agent) == [allocs[1]["ID"]]

        # Stopping the job stops every allocation: nothing stays registered.
        assert dev_agent.request("DELETE", f"/v1/job/{JOB}").status_code == 200
        wait_for(lambda: dev_agent.json("/v1/services") == [], timeout=30,
                 message="every instance of the stopped job to go")
        gone = cli(dev_agent, "service", "info", JOB)
        assert gone.returncode == 1
        assert f'No service registrations with prefix "{JOB}" found' in gone.stderr
    finally:
        dev_agent.request("DELETE", f"/v1/job/{JOB}", purge="true")
