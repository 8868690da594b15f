"""The HTTP app in process, in front of a real in-memory server (no client).

Requests go through falcon's ASGI test client, so every route, error mapping
and header is exercised without sockets or subprocesses.  Nodes are
registered through the server's RPC facade, as a client would.
"""

from __future__ import annotations

from collections.abc import Iterator

import falcon.testing
import pytest

from nomadjail.agent.agent import Agent
from nomadjail.agent.config import AgentConfig
from nomadjail.testing import free_port, mock_node


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    config = AgentConfig(name="http-test", bind_addr="127.0.0.1", dev_mode=True,
                         data_dir=str(tmp_path_factory.mktemp("http")))
    config.ports.serf = free_port()
    config.server.enabled = True
    agent = Agent(config)
    agent.start()
    try:
        yield agent
    finally:
        agent.shutdown()


@pytest.fixture(scope="module")
def api(agent: Agent) -> falcon.testing.TestClient:
    from nomadjail.http import create_app

    return falcon.testing.TestClient(create_app(agent))


@pytest.fixture(scope="module")
def nodes(agent: Agent):
    registered = [mock_node(name=f"node-{i}") for i in range(3)]
    for node in registered:
        agent.require_server().node_register(node)
    return registered
