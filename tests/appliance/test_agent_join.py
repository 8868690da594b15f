"""A server that finds its peers in Consul, in process: the stand-in that answers
meanwhile, the switch to the real server, the peers saved for a restart, and the
ways a server must refuse to start rather than lead a cluster of its own."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import falcon.testing
import pytest

from nomadjail.agent.agent import Agent
from nomadjail.agent.command import validate
from nomadjail.agent.config import AgentConfig
from nomadjail.http import create_app
from nomadjail.server.raft import RaftError
from nomadjail.testing import free_port, mock_job, wait_for

from ..doubles.consul import ConsulDouble

PEER = "127.0.0.9:4648"  # a second server that never answers: no leader, ever


def joining_config(data_dir: Path, consul: ConsulDouble, *, expect: int = 2) -> AgentConfig:
    config = AgentConfig(name="s1", bind_addr="127.0.0.1", data_dir=str(data_dir))
    config.ports.http, config.ports.rpc, config.ports.serf = free_port(), free_port(), free_port()
    config.server.enabled = True
    config.server.bootstrap_expect = expect
    config.server.num_schedulers = 1
    config.consul.enabled = True
    config.consul.address = consul.address
    config.consul.timeout = 1.0
    return config


def register_peer(consul: ConsulDouble) -> None:
    host, port = PEER.split(":")
    consul.register({"Name": "nomad", "ID": "peer-serf", "Address": host, "Port": int(port),
                     "Tags": ["serf"]})


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    """Agents a test starts; every one is shut down at the end."""
    started: list[Agent] = []
    try:
        yield started
    finally:
        for agent in started:
            agent.shutdown()


def start(agents: list[Agent], config: AgentConfig, **kwargs) -> Agent:
    agent = Agent(config, **kwargs)
    agents.append(agent)
    agent.start()
    return agent


def test_a_parked_stale_query_follows_the_real_server_and_the_api_stays_responsive(
        tmp_path, consul_double, agents):
    agent = start(agents, joining_config(tmp_path / "data", consul_double))
    stand_in = agent.server
    assert stand_in is not None and not stand_in.raft.status()  # raft not started yet

    async def scenario() -> None:
        async with falcon.testing.ASGIConductor(create_app(agent)) as api:
            parked = asyncio.create_task(api.simulate_get(
                "/v1/job/web", params={"stale": "true", "index": "5", "wait": "60s"}))
            while not stand_in.state._watch._async_waiters:  # parked on the stand-in
                await asyncio.sleep(0.01)
            register_peer(consul_double)
            while agent.server is stand_in:
                await asyncio.sleep(0.02)
            # The stand-in's store is closed now.  Other requests are still answered
            # while the parked query goes on waiting (it used to spin on the event
            # loop until its wait ran out, freezing the whole API).
            leader = await api.simulate_get("/v1/status/leader")
            assert leader.status_code == 200 and leader.json == ""
            assert not parked.done()
            # ... on the real server: a change there answers it.
            with agent.server.state.txn(10) as txn:
                txn.upsert_job(mock_job(job_id="web", count=1))
            answer = await parked
            assert answer.status_code == 200 and answer.json["ID"] == "web"
            assert answer.headers["X-Nomad-Index"] == "10"

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_restarted_server_rejoins_its_saved_peers_without_waiting_for_consul(
        tmp_path, consul_double, agents):
    config = joining_config(tmp_path / "data", consul_double)
    first = start(agents, config)
    register_peer(consul_double)
    wait_for(lambda: first.server.raft.status(), timeout=30,
             message="the real server started with the peer found in Consul")
    saved = tmp_path / "data" / "server" / "peers.json"
    assert json.loads(saved.read_text()) == {"Peers": [PEER]}
    first.shutdown()
    assert "_nomad-server-s1-serf" not in consul_double.services  # deregistered
    consul_double.deregister("peer-serf")  # the other server is down too: Consul lists none

    assert validate(config) == []
    second = start(agents, joining_config(tmp_path / "data", consul_double))
    assert second.server.raft.status()  # started at once, not waiting for Consul
    api = falcon.testing.TestClient(create_app(second))
    rpc = second.config.ports.rpc
    assert sorted(api.simulate_get("/v1/status/peers").json) == [f"127.0.0.1:{rpc}",
                                                                 f"127.0.0.9:{rpc}"]


def test_a_wiped_data_dir_bootstraps_through_consul_again(tmp_path, consul_double, agents):
    data = tmp_path / "data"
    (data / "server").mkdir(parents=True)
    (data / "server" / "peers.json").write_text(json.dumps({"Peers": [PEER]}))  # no raft
    agent = start(agents, joining_config(data, consul_double))
    assert not agent.server.raft.status()  # a stand-in: waiting for Consul


def test_bootstrap_expect_without_a_way_to_find_the_others_is_refused(tmp_path, agents):
    config = AgentConfig(name="lonely", bind_addr="127.0.0.1", data_dir=str(tmp_path))
    config.server.enabled = True
    config.server.bootstrap_expect = 3
    problems = validate(config)
    assert len(problems) == 1
    assert "server.bootstrap_expect = 3" in problems[0]
    assert "server_join" in problems[0] and "consul" in problems[0]
    config.ports.serf = free_port()
    with pytest.raises(RaftError, match="bootstrap_expect = 3"):
        start(agents, config)
    assert not agents[0].server.raft.status() and not agents[0].server.is_leader()
    config.server.server_join = [f"127.0.0.1:{free_port()}"]  # one of the two others
    with pytest.raises(RaftError, match="knows 1 other server"):
        start(agents, config)
    config.server.bootstrap_expect = 2  # now the list is complete
    assert validate(config) == []
    assert start(agents, config).server.raft.status()


def test_a_taken_raft_port_stops_a_consul_joining_server_at_start(tmp_path, consul_double,
                                                                  agents):
    config = joining_config(tmp_path / "data", consul_double)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", config.ports.serf))
        taken.listen()
        with pytest.raises(RaftError, match="raft address"):
            start(agents, config)


def test_on_fatal_is_told_when_the_real_server_cannot_start(tmp_path, consul_double, agents):
    data = tmp_path / "data"
    data.mkdir()
    (data / "server").write_text("not a directory")  # the raft dir cannot be made
    told: list[str] = []
    start(agents, joining_config(data, consul_double), on_fatal=told.append)
    register_peer(consul_double)
    wait_for(lambda: told, timeout=30, message="on_fatal called")
    assert told[0].startswith(f"cannot start the server with peers {PEER}")


def test_shutdown_while_waiting_for_peers_ends_the_wait(tmp_path, consul_double, agents):
    agent = start(agents, joining_config(tmp_path / "data", consul_double))
    stand_in = agent.server
    wait_for(lambda: "_nomad-server-s1-serf" in consul_double.services,
             message="the server registered while it waits")
    agent.shutdown()
    assert not [t for t in threading.enumerate() if t.name == "consul-join"]
    assert agent.server is stand_in and not stand_in.raft.status()  # never started
    assert consul_double.services == {}
    register_peer(consul_double)  # too late: nothing starts


def test_a_client_only_agent_serves_its_api_while_it_looks_for_servers(tmp_path,
                                                                       consul_double, agents):
    config = AgentConfig(name="worker", bind_addr="127.0.0.1", data_dir=str(tmp_path / "d"))
    config.ports.http, config.ports.rpc = free_port(), free_port()
    config.client.enabled = True
    config.consul.enabled = True
    config.consul.address = consul_double.address
    agent = start(agents, config)  # returns although no server is listed
    api = falcon.testing.TestClient(create_app(agent))
    health = api.simulate_get("/v1/agent/health")
    assert health.status_code == 500
    assert health.json == {"client": {"ok": False, "message": "No known servers"}}
    assert api.simulate_get("/v1/agent/servers").status_code == 500
    consul_double.register({"Name": "nomad", "ID": "server-rpc", "Address": "127.0.0.9",
                            "Port": 4647, "Tags": ["rpc"]})
    wait_for(lambda: agent.client is not None, timeout=30,
             message="the client started once a server was listed")
    assert api.simulate_get("/v1/agent/servers").json == ["127.0.0.9:4647"]
