"""Consul: registration with potluck's tags, retries while Consul is down,
deregistration on shutdown, and servers/clients finding each other through it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests

from nomadjail.agent.config import AgentConfig
from nomadjail.agent.consul import (
    ConsulRegistrar,
    agent_services,
    auto_join_target,
    consul_client,
    discover_peers,
)
from nomadjail.testing import free_port, make_agent, wait_for

from ..doubles.consul import ConsulDouble


def server_config(consul_address: str, **consul: object) -> AgentConfig:
    config = AgentConfig(name="jail1", datacenter="lab", bind_addr="10.0.0.5")
    config.server.enabled = True
    config.consul.enabled = True
    config.consul.address = consul_address
    for key, value in consul.items():
        setattr(config.consul, key, value)
    return config


def test_a_server_registers_three_listeners_with_potluck_tags_on_http():
    services = {s.service_id: s for s in agent_services(server_config("127.0.0.1:8500"))}
    assert set(services) == {"_nomad-server-jail1-http", "_nomad-server-jail1-rpc",
                             "_nomad-server-jail1-serf"}
    http = services["_nomad-server-jail1-http"]
    assert (http.name, http.address, http.port) == ("nomad", "10.0.0.5", 4646)
    assert http.tags == ["http", "_app=nomadserver", "_service=nomad",
                         "_hostname=jail1.lab.consul"]
    assert http.check["HTTP"] == "http://10.0.0.5:4646/v1/agent/health?type=server"
    assert services["_nomad-server-jail1-serf"].tags == ["serf"]
    assert services["_nomad-server-jail1-rpc"].port == 4647


def test_a_client_registers_as_nomad_client_and_config_tags_are_added():
    config = server_config("127.0.0.1:8500", tags=["rack-1"])
    config.server.enabled, config.client.enabled = False, True
    (client,) = agent_services(config)
    assert (client.service_id, client.name, client.port) == ("_nomad-client-jail1-http",
                                                             "nomad-client", 4646)
    assert client.tags == ["http", "_app=nomadclient", "_service=nomad-client",
                           "_hostname=jail1.lab.consul", "rack-1"]


def test_nothing_is_registered_without_a_consul_block_or_auto_advertise():
    config = server_config("127.0.0.1:8500")
    config.consul.enabled = False
    assert agent_services(config) == []
    assert agent_services(server_config("127.0.0.1:8500", auto_advertise=False)) == []


def test_registrar_registers_deregisters_and_repairs(consul_double):
    config = server_config(consul_double.address)
    registrar = ConsulRegistrar(agent_services(config), consul_client(config.consul),
                                recheck_interval=0.1)
    registrar.start()
    try:
        wait_for(lambda: len(consul_double.services) == 3, message="three registrations")
        # A restarted Consul agent forgets services registered over its API.
        consul_double.deregister("_nomad-server-jail1-rpc")
        wait_for(lambda: "_nomad-server-jail1-rpc" in consul_double.services,
                 message="the lost registration restored")
    finally:
        registrar.stop()
    assert consul_double.services == {}
    assert sorted([e for e in consul_double.events if e[0] == "deregister"][-3:]) == [
        ("deregister", sid) for sid in ("_nomad-server-jail1-http", "_nomad-server-jail1-rpc",
                                        "_nomad-server-jail1-serf")]


def test_registrar_retries_until_consul_is_up_and_never_blocks():
    port = free_port()
    config = server_config(f"127.0.0.1:{port}", timeout=1.0)
    registrar = ConsulRegistrar(agent_services(config), consul_client(config.consul),
                                retry_min=0.05, retry_max=0.2)
    registrar.start()  # returns at once although nobody listens
    double = None
    try:
        assert registrar.registered == set()
        double = ConsulDouble(port=port).start()
        wait_for(lambda: len(double.services) == 3, timeout=20,
                 message="registration once Consul is up")
    finally:
        registrar.stop(timeout=5)
        if double is not None:
            double.close()


def test_when_the_first_consul_is_down_the_next_address_is_used(consul_double):
    """CONSULSERVERS=a,b with a down: registration, discovery and deregistration all
    go to b, and b stays in use once it has answered."""
    config = server_config(f"127.0.0.1:{free_port()}", timeout=1.0)  # nobody listens
    config.consul.fallback_addresses = [consul_double.address]
    api = consul_client(config.consul)
    registrar = ConsulRegistrar(agent_services(config), api, retry_min=0.05, retry_max=0.2)
    registrar.start()
    try:
        wait_for(lambda: len(consul_double.services) == 3, timeout=20,
                 message="the registrations at the second Consul")
        consul_double.register({"Name": "nomad", "ID": "b", "Address": "10.0.0.6",
                                "Port": 4648, "Tags": ["serf"]})
        assert discover_peers(api, service="nomad", tag="serf", myself="10.0.0.5:4648",
                              expect=2, timeout=10, interval=0.05) == ["10.0.0.6:4648"]
        assert api.http.base_uri == f"http://{consul_double.address}"
    finally:
        registrar.stop()
    assert set(consul_double.services) == {"b"}  # ours deregistered there too


def test_answers_are_not_retried_elsewhere_and_no_answer_at_all_is_an_error(consul_double):
    config = server_config(consul_double.address, timeout=1.0)
    config.consul.fallback_addresses = [f"127.0.0.1:{free_port()}"]
    api = consul_client(config.consul)
    # A 404 is an answer: it is not asked of the next address.
    assert api.agent.service.deregister("no-such-service") is False
    assert api.http.base_uri == f"http://{consul_double.address}"
    nobody = server_config(f"127.0.0.1:{free_port()}", timeout=1.0)
    nobody.consul.fallback_addresses = [f"127.0.0.1:{free_port()}"]
    with pytest.raises(Exception) as caught:
        consul_client(nobody.consul).agent.services()
    assert "Connection refused" in str(caught.value) or "connect" in str(caught.value).lower()


def test_the_config_address_wins_over_consul_http_addr(consul_double, monkeypatch):
    monkeypatch.setenv("CONSUL_HTTP_ADDR", "127.0.0.1:1")
    client = consul_client(server_config(f"http://{consul_double.address}").consul)
    assert client.status.leader() == "127.0.0.1:8300"


def test_discover_peers_waits_for_the_expected_count(consul_double):
    api = consul_client(server_config(consul_double.address).consul)
    consul_double.register({"Name": "nomad", "ID": "a", "Address": "10.0.0.6", "Port": 4648,
                            "Tags": ["serf"]})
    assert discover_peers(api, service="nomad", tag="serf", myself="10.0.0.5:4648", expect=3,
                          timeout=0.2, interval=0.05) == []  # only two of three
    found: list[list[str]] = []
    waiter = threading.Thread(target=lambda: found.append(discover_peers(
        api, service="nomad", tag="serf", myself="10.0.0.5:4648", expect=3, interval=0.05)))
    waiter.start()
    consul_double.register({"Name": "nomad", "ID": "b", "Address": "10.0.0.7", "Port": 4648,
                            "Tags": ["serf"]})
    consul_double.register({"Name": "nomad", "ID": "c", "Address": "10.0.0.8", "Port": 4647,
                            "Tags": ["rpc"]})  # another tag: not a raft peer
    waiter.join(10)
    assert found == [["10.0.0.6:4648", "10.0.0.7:4648"]]


def test_discovery_stops_when_asked(consul_double):
    api = consul_client(server_config(consul_double.address).consul)
    stop = threading.Event()
    stop.set()
    assert discover_peers(api, service="nomad", tag="serf", myself="x:1", expect=3,
                          stop=stop) == []


def test_auto_join_applies_only_without_configured_peers():
    config = server_config("127.0.0.1:8500")
    assert auto_join_target(config) is None  # bootstrap_expect 1: nobody to wait for
    config.server.bootstrap_expect = 3
    assert auto_join_target(config) == ("nomad", "serf", 3)
    config.server.server_join = ["10.0.0.6:4648"]
    assert auto_join_target(config) is None
    config.server.enabled, config.client.enabled = False, True
    assert auto_join_target(config) == ("nomad", "rpc", 1)
    config.consul.client_auto_join = False
    assert auto_join_target(config) is None


def consul_agent(base: Path, name: str, consul: ConsulDouble, **config: object):
    return make_agent(base / name, dev=False, client=False, config={
        "name": name, "consul": {"address": consul.address}, **config})


def test_three_servers_form_a_cluster_through_consul(tmp_path, consul_double):
    """BOOTSTRAP=3 as the appliance renders it: no retry_join, peers from Consul."""
    agents = [consul_agent(tmp_path, f"server{n}", consul_double,
                           server={"enabled": True, "bootstrap_expect": 3})
              for n in range(3)]
    starters = [threading.Thread(target=a.start, kwargs={"wait_client": False, "timeout": 60})
                for a in agents]
    try:
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join(90)
        leaders = {a.json("/v1/status/leader") for a in agents}
        assert len(leaders) == 1 and leaders != {""}
        assert sorted(a.json("/v1/status/peers") for a in agents)[0] == sorted(
            f"127.0.0.1:{a.rpc_port}" for a in agents)
        serf = consul_double.catalog("nomad", "serf")
        assert sorted(e["ServicePort"] for e in serf) == sorted(a.serf_port for a in agents)
    finally:
        for agent in agents:
            agent.stop()
    assert consul_double.services == {}  # all deregistered


def test_a_client_finds_its_server_through_consul(tmp_path, consul_double):
    server = consul_agent(tmp_path, "server", consul_double)
    server.start(wait_client=False)
    client = make_agent(tmp_path / "client", dev=False, server=False, config={
        "name": "worker", "consul": {"address": consul_double.address},
        "plugin": {"raw_exec": {"config": {"enabled": True}}}})
    try:
        client.start(timeout=60)
        wait_for(lambda: [n for n in server.json("/v1/nodes") if n["Status"] == "ready"],
                 timeout=30, message="the client registered with the server")
        assert "_nomad-client-worker-http" in consul_double.services
        assert consul_double.services["_nomad-client-worker-http"]["Service"] == "nomad-client"
    finally:
        client.stop()
        server.stop()
    assert consul_double.services == {}


@pytest.mark.parametrize("address", ["127.0.0.1:notaport", ":8500"])
def test_a_bad_consul_address_is_a_config_error(tmp_path, address):
    from nomadjail.agent.command import validate

    config = server_config(address)
    config.data_dir = str(tmp_path)
    assert [p for p in validate(config) if p.startswith("consul.address:")]
    config = server_config("127.0.0.1:8500")
    config.data_dir = str(tmp_path)
    config.consul.fallback_addresses = ["10.0.0.3:8500", address]
    problems = validate(config)
    assert len(problems) == 1 and problems[0].startswith("consul.fallback_addresses[1]:")


class StuckConsul:
    """A Consul API whose requests hang until ``release`` is set (unreachable
    addresses, each costing its whole timeout)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls: list[tuple[str, str]] = []
        self.agent = self
        self.service = self
        self.catalog = self

    def _hang(self, verb: str, service_id: str) -> None:
        self.calls.append((verb, service_id))
        self.release.wait(60)
        if verb == "register" and service_id.endswith("-http"):
            return
        raise requests.ConnectionError("unreachable")

    def register(self, name, service_id, **kwargs) -> None:
        self._hang("register", service_id)

    def deregister(self, service_id) -> None:
        self._hang("deregister", service_id)

    def services(self) -> dict:
        return {}


def test_stopping_is_bounded_however_many_services_and_addresses_hang():
    api = StuckConsul()
    registrar = ConsulRegistrar(agent_services(server_config("127.0.0.1:8500")), api)
    registrar.registered = {s.service_id for s in registrar.services}  # all registered
    try:
        registrar.stop(timeout=0.5)  # returns although every deregistration hangs
        assert not api.release.is_set()
        assert sorted(api.calls) == [("deregister", f"_nomad-server-jail1-{listener}")
                                     for listener in ("http", "rpc", "serf")]  # in parallel
    finally:
        api.release.set()


def test_a_registration_pass_stops_between_services_when_stopping():
    api = StuckConsul()
    registrar = ConsulRegistrar(agent_services(server_config("127.0.0.1:8500")), api)
    registrar.start()
    try:
        wait_for(lambda: api.calls, message="the first registration under way")
        stopper = threading.Thread(target=registrar.stop, kwargs={"timeout": 30})
        stopper.start()
        api.release.set()  # the first registration answers; no other is attempted
        stopper.join(30)
        assert not stopper.is_alive()
        assert [verb for verb, _ in api.calls].count("register") == 1
    finally:
        api.release.set()
