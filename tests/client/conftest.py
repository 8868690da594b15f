"""Fixtures for client tests: in-memory fake servers and clients sharing one data dir.

The fake (``nomadjail.testing.fake_servers``) plays the servers' side of OUR
ServerRPC protocol; the job and allocation builders live there too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from nomadjail.client.client import Client
from nomadjail.client.config import ClientConfig
from nomadjail.drivers.base import Driver
from nomadjail.drivers.mock import MockDriver
from nomadjail.drivers.raw_exec import RawExecDriver
from nomadjail.testing.fake_servers import FakeServers
from nomadjail.testing.processes import kill_processes_under


@pytest.fixture
def servers() -> FakeServers:
    return FakeServers()


@pytest.fixture
def make_client(tmp_path, servers) -> Iterator[Callable[..., Client]]:
    """Build (and always shut down) clients sharing one data dir, as restarts do; every
    process left under the test's temp dir is killed afterwards."""
    clients: list[Client] = []

    def make(*, drivers: dict[str, Driver] | None = None, **config) -> Client:
        if drivers is None:
            drivers = {"raw_exec": RawExecDriver(), "mock_driver": MockDriver()}
        config.setdefault("node_name", "test-node")
        config.setdefault("data_dir", str(tmp_path / "data"))
        config.setdefault("servers", ["127.0.0.1:4647"])
        config.setdefault("network_interface", "lo")
        config.setdefault("update_interval", 0.05)
        client = Client(ClientConfig(**config), rpc=servers, drivers=drivers, watch_wait=0.5)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown()
    kill_processes_under(tmp_path)
