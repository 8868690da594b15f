"""Heartbeats: a client that stops heartbeating goes down, its allocations are
marked lost and replaced on another node."""

from __future__ import annotations

from nomadjail.testing import wait_for

from .jobs import FOREVER, shell_job

FAST_HEARTBEATS = {"server": {"heartbeat_grace": "1s", "min_heartbeat_ttl": "1s"}}
RAW_EXEC = {"plugin": {"raw_exec": {"config": {"enabled": True}}}}


def test_lost_node_allocations_are_replaced(agent_factory) -> None:
    server = agent_factory("server", dev=False, client=False, config=FAST_HEARTBEATS)
    server.start(wait_client=False)
    clients = [agent_factory(name, dev=False, server=False, config={
        **RAW_EXEC, "name": name, "client": {"servers": [server.rpc_address]}})
        for name in ("client-a", "client-b")]
    for client in clients:
        client.start()
    wait_for(lambda: sum(n["Status"] == "ready" for n in server.json("/v1/nodes")) == 2,
             timeout=20, message="both clients registered")
    nodes = {n["Name"]: n["ID"] for n in server.json("/v1/nodes")}

    resp = server.request("POST", "/v1/jobs", shell_job("spread", FOREVER, count=2))
    assert resp.status_code == 200, resp.text
    running = wait_for(lambda: (lambda r: r if len(r) == 2 else None)(
        [a for a in server.json("/v1/job/spread/allocations") if a["ClientStatus"] == "running"]),
        timeout=20, message="two allocations running")
    on_a = [a for a in running if a["NodeID"] == nodes["client-a"]]
    assert on_a, "the scheduler spreads the job's allocations over both nodes"

    clients[0].kill()  # client-a crashes: no more heartbeats
    wait_for(lambda: server.json(f"/v1/node/{nodes['client-a']}")["Status"] == "down",
             timeout=20, message="client-a marked down")
    lost = wait_for(lambda: (lambda a: a if a["ClientStatus"] == "lost" else None)(
        server.json(f"/v1/allocation/{on_a[0]['ID']}")), timeout=20, message="alloc lost")
    assert lost["DesiredStatus"] == "stop"
    replacement = wait_for(lambda: [
        a for a in server.json("/v1/job/spread/allocations")
        if a["ClientStatus"] == "running" and a["ID"] not in {r["ID"] for r in running}],
        timeout=20, message="a replacement running on client-b")[0]
    assert replacement["NodeID"] == nodes["client-b"]
    assert replacement["Name"] == on_a[0]["Name"]
    server.request("DELETE", "/v1/job/spread", purge="true")
