"""A server agent and a client-only agent: every request works through either.

This is the appliance's layout (a server jail, clients on hosts): the CLI may
point at the server or at a client, and allocation logs live on the client.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

from nomadjail.testing import AgentProcess, wait_for

from .jobs import shell_job

RAW_EXEC = {"plugin": {"raw_exec": {"config": {"enabled": True}}}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("forwarding")
    from nomadjail.testing import make_agent

    server = make_agent(base / "server", dev=False, client=False)
    server.start(wait_client=False)
    client = make_agent(base / "client", dev=False, server=False, config={
        **RAW_EXEC, "name": "worker", "client": {"servers": [server.rpc_address]}})
    try:
        client.start()
        wait_for(lambda: server.json("/v1/nodes"), timeout=20, message="client registered")
        yield server, client
    finally:
        client.stop()
        server.stop()


def test_public_api_through_a_client_agent(cluster) -> None:
    server, client = cluster
    resp = client.request("POST", "/v1/jobs", shell_job("via-client", "echo hi; sleep 300"))
    assert resp.status_code == 200, resp.text
    assert [j["ID"] for j in client.json("/v1/jobs")] == ["via-client"]
    before = int(server.get("/v1/jobs").headers["X-Nomad-Index"])
    assert int(client.get("/v1/jobs").headers["X-Nomad-Index"]) >= before  # relayed header
    assert client.json("/v1/status/leader") == server.json("/v1/status/leader")
    assert client.get("/v1/job/missing").status_code == 404
    client.request("DELETE", "/v1/job/via-client", purge="true")


def test_logs_and_signals_through_the_server(cluster) -> None:
    server, client = cluster
    server.request("POST", "/v1/jobs", shell_job(
        "chatty", 'trap "echo got HUP" HUP; echo "hello from the client"; '
                  'while true; do sleep 0.1; done'))
    alloc = wait_for(lambda: [a for a in server.json("/v1/job/chatty/allocations")
                              if a["ClientStatus"] == "running"], timeout=20,
                     message="alloc running")[0]
    logs = wait_for(lambda: (lambda r: r if r.status_code == 200 and "hello" in r.text else None)(
        server.get(f"/v1/client/fs/logs/{alloc['ID']}", task="t", type="stdout",
                   plain="true")), message="logs through the server")
    assert logs.text.startswith("hello from the client")
    framed = server.get(f"/v1/client/fs/logs/{alloc['ID']}", task="t", type="stdout")
    frame = json.loads(framed.text.splitlines()[0])
    assert base64.b64decode(frame["Data"]).startswith(b"hello")

    signal = server.request("POST", f"/v1/client/allocation/{alloc['ID']}/signal",
                            {"Task": "t", "Signal": "SIGHUP"})
    assert signal.status_code == 200, signal.text
    wait_for(lambda: "got HUP" in server.get(f"/v1/client/fs/logs/{alloc['ID']}", task="t",
                                             type="stdout", plain="true").text,
             message="the signal reached the task")
    server.request("DELETE", "/v1/job/chatty", purge="true")


def test_cli_alloc_logs_against_either_agent(cluster, tmp_path) -> None:
    server, client = cluster
    server.request("POST", "/v1/jobs", shell_job("cli", 'echo "cli sees me"; sleep 300'))
    alloc = wait_for(lambda: [a for a in server.json("/v1/job/cli/allocations")
                              if a["ClientStatus"] == "running"], timeout=20,
                     message="alloc running")[0]
    for agent in (server, client):
        out = wait_for(lambda: (lambda r: r.stdout if "cli sees me" in r.stdout else None)(
            nomadjail(agent, "alloc", "logs", alloc["ID"], "t")), timeout=15,
            message=f"alloc logs via {agent.address}")
        assert "cli sees me" in out
    server.request("DELETE", "/v1/job/cli", purge="true")


def test_unknown_alloc_is_404_everywhere(cluster) -> None:
    server, client = cluster
    for agent in (server, client):
        resp = agent.get("/v1/client/fs/logs/00000000-0000-0000-0000-000000000000",
                         task="t", type="stdout")
        assert resp.status_code == 404 and "Unknown allocation" in resp.text


def nomadjail(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nomadjail", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "NOMAD_ADDR": agent.address})
