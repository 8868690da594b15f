"""Consul without a ``consul`` block: the client's provider points at 127.0.0.1:8500, as
Nomad's does, but stays off the wire until a job has a Consul service, and a Consul that
does not answer while nothing is registered fills no log."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from nomadjail.agent.config import AgentConfig
from nomadjail.agent.consul import client_service_providers
from nomadjail.client.services import ConsulServiceProvider, WorkloadServices
from nomadjail.client.services.consul_agent import ConsulUnreachable
from nomadjail.structs import PortMapping
from nomadjail.structs.services import Service
from nomadjail.testing import wait_for


class Unreachable:
    """A Consul agent nothing answers for; counts the attempts."""

    address = "127.0.0.1:8500"

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.calls += 1
        raise ConsulUnreachable("list services: connection refused")

    services = checks = register_service = deregister_service = _fail
    register_check = deregister_check = update_ttl = _fail


def workload() -> WorkloadServices:
    return WorkloadServices(
        alloc_id=str(uuid.uuid4()), job_id="shop", group="web", task="", namespace="default",
        node_id="n", datacenter="dc1",
        services=[Service(name="web", port_label="http", provider="consul",
                          address_mode="host")],
        ports=[PortMapping(label="http", value=25000, host_ip="127.0.0.1")])


def test_without_a_consul_block_the_client_uses_the_default_address_lazily():
    providers = client_service_providers(AgentConfig())
    provider = providers.provider("consul")
    assert isinstance(provider, ConsulServiceProvider)
    assert provider.agent.address == "127.0.0.1:8500"
    assert not provider.engaged
    configured = AgentConfig()
    configured.consul.enabled = True
    configured.consul.address = "10.0.0.2:8500"
    eager = client_service_providers(configured).provider("consul")
    assert isinstance(eager, ConsulServiceProvider) and eager.engaged
    assert eager.agent.address == "10.0.0.2:8500"


def test_a_lazy_provider_talks_to_consul_only_once_a_workload_comes():
    agent = Unreachable()
    provider = ConsulServiceProvider(agent, lazy=True, retry_min=0.05, retry_max=0.1)
    provider.restored([])
    provider.start("node-1")
    try:
        assert provider.alloc_checks("nothing") is None  # cannot tell: nothing read yet
        provider.shutdown()
        assert agent.calls == 0
    finally:
        provider.shutdown()
    engaged = ConsulServiceProvider(agent, lazy=True, retry_min=0.05, retry_max=0.1)
    engaged.start("node-1")
    try:
        engaged.register_workload(workload())
        wait_for(lambda: agent.calls > 0, timeout=10, message="Consul asked")
    finally:
        engaged.shutdown()


def test_an_unreachable_consul_with_nothing_to_register_is_logged_quietly(caplog):
    agent = Unreachable()
    provider = ConsulServiceProvider(agent, retry_min=0.05, retry_max=0.1)
    caplog.set_level(logging.DEBUG, logger="nomadjail.client.services.consul")
    provider.start("node-1")
    try:
        wait_for(lambda: provider.failures >= 3, timeout=10, message="three failed syncs")
    finally:
        provider.shutdown()
    records = [r for r in caplog.records if r.name == "nomadjail.client.services.consul"]
    assert records and all(r.levelno == logging.DEBUG for r in records)
