"""A server's raft identity is its advertised serf address; the bind address is only
where it listens (``bind_addr = "0.0.0.0"`` is the usual server config)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nomadjail.agent.agent import Agent
from nomadjail.agent.config import AgentConfig
from nomadjail.testing import free_port, wait_for


@pytest.fixture
def pair(tmp_path) -> Iterator[list[Agent]]:
    serf = [free_port(), free_port()]
    agents = []
    for n in range(2):
        config = AgentConfig(name=f"s{n}", bind_addr="0.0.0.0", data_dir=str(tmp_path / f"s{n}"))
        config.ports.http, config.ports.rpc, config.ports.serf = free_port(), free_port(), serf[n]
        config.advertise.serf = f"127.0.0.1:{serf[n]}"
        config.advertise.rpc = f"127.0.0.1:{config.ports.rpc}"
        config.server.enabled = True
        config.server.bootstrap_expect = 2
        config.server.num_schedulers = 1
        config.server.server_join = [f"127.0.0.1:{serf[1 - n]}"]
        agents.append(Agent(config))
    try:
        for agent in agents:
            agent.start()
        yield agents
    finally:
        for agent in agents:
            agent.shutdown()


def test_servers_bound_to_every_address_know_each_other_by_their_advertised_address(pair):
    def one_leader() -> str:
        leaders = {agent.server.leader_rpc_addr() for agent in pair}
        return leaders.pop() if len(leaders) == 1 and leaders != {""} else ""

    leader = wait_for(one_leader, timeout=30, message="one leader known to both servers")
    assert leader in {agent.config.advertise.rpc for agent in pair}
    members = pair[0].server.members()
    assert sorted((m.addr, m.port) for m in members) == sorted(
        ("127.0.0.1", agent.config.ports.serf) for agent in pair)
    assert "0.0.0.0" not in " ".join(agent.server.raft.address for agent in pair)
