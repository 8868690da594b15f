"""Fixtures for client tests: in-memory fake servers and clients sharing one data dir,
and the hook context a task runner hands its hooks.

The fake (``nomadjail.testing.fake_servers``) plays the servers' side of OUR
ServerRPC protocol; the job and allocation builders live there too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from nomadjail.client.allocdir import AllocDir
from nomadjail.client.client import Client
from nomadjail.client.config import ClientConfig
from nomadjail.client.hooks import HookContext
from nomadjail.client.services import ServiceProviders
from nomadjail.drivers.base import Driver
from nomadjail.drivers.mock import MockDriver
from nomadjail.drivers.raw_exec import RawExecDriver
from nomadjail.structs import Allocation, Job, Node, TaskEvent
from nomadjail.testing import mock_alloc, mock_job, mock_node
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

    def make(*, drivers: dict[str, Driver] | None = None,
             services: ServiceProviders | None = None, **config) -> Client:
        if drivers is None:
            drivers = {"raw_exec": RawExecDriver(), "mock_driver": MockDriver()}
        config.setdefault("node_name", "test-node")
        config.setdefault("data_dir", str(tmp_path / "data"))
        config.setdefault("servers", ["127.0.0.1:4647"])
        config.setdefault("network_interface", "lo")
        config.setdefault("update_interval", 0.05)
        client = Client(ClientConfig(**config), rpc=servers, drivers=drivers, watch_wait=0.5,
                        services=services)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown()
    kill_processes_under(tmp_path)


@pytest.fixture
def emitted() -> list[TaskEvent]:
    """The events a ``hook_context`` emitted, in order."""
    return []


@pytest.fixture
def hook_context(tmp_path, emitted) -> Callable[..., HookContext]:
    """Build the context a task runner gives the hooks of task ``web`` of a mock allocation
    (nothing prepared yet: run the hooks, or fill it, to go on)."""

    def make(*, job: Job | None = None, node: Node | None = None,
             alloc: Allocation | None = None, fs_isolation: str = "none") -> HookContext:
        job = job if job is not None else mock_job(job_id="example")
        node = node if node is not None else mock_node(name="node-1")
        alloc = alloc if alloc is not None else mock_alloc(job, node)
        task = job.task_groups[0].tasks[0]
        alloc_dir = AllocDir(str(tmp_path / "alloc"), alloc.id)
        driver = MockDriver(fs_isolation=fs_isolation)
        config = ClientConfig(node_name=node.name, data_dir=str(tmp_path / "data"), servers=[])
        return HookContext(alloc=alloc, task=task, node=node, config=config, driver=driver,
                           capabilities=driver.capabilities(), alloc_dir=alloc_dir,
                           task_dir=alloc_dir.task_dir(task.name), emit=emitted.append)

    return make
