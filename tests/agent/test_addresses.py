"""host:port with IPv6: one helper, brackets wherever a port follows or a URL is
built, none where PySyncObj wants its own spelling."""

from __future__ import annotations

import pytest

from nomadjail.agent.addresses import join_host_port, raft_address, split_host_port, url_host
from nomadjail.agent.config import AgentConfig
from nomadjail.agent.consul import agent_services, consul_client


@pytest.mark.parametrize("address, host, port", [
    ("10.0.0.5", "10.0.0.5", 99),
    ("10.0.0.5:4646", "10.0.0.5", 4646),
    ("fd00::5", "fd00::5", 99),  # a bare IPv6 address has no port
    ("::1", "::1", 99),
    ("[fd00::5]", "fd00::5", 99),
    ("[fd00::5]:4646", "fd00::5", 4646),
    ("consul.example:8500", "consul.example", 8500),
])
def test_split_host_port(address, host, port):
    assert split_host_port(address, 99) == (host, port)


@pytest.mark.parametrize("address, message", [
    ("", "address is empty"),
    (":4646", "has no host"),
    ("10.0.0.5:", "ends with ':' but has no port"),
    ("[fd00::5]:", "ends with ':' but has no port"),
    ("[fd00::5", "expected [ipv6] or [ipv6]:port"),
    ("[fd00::5]4646", "expected [ipv6] or [ipv6]:port"),
    ("10.0.0.5:0", "port '0' is not between 1 and 65535"),
    ("10.0.0.5:http", "port 'http' is not between 1 and 65535"),
])
def test_bad_addresses_are_quoted(address, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        split_host_port(address, 99)


def test_join_and_raft_spellings():
    assert join_host_port("10.0.0.5", 4646) == "10.0.0.5:4646"
    assert join_host_port("fd00::5", 4646) == "[fd00::5]:4646"
    assert join_host_port("[fd00::5]", 4646) == "[fd00::5]:4646"
    assert url_host("fd00::5") == "[fd00::5]" and url_host("10.0.0.5") == "10.0.0.5"
    assert raft_address("fd00::5", 4648) == "fd00::5:4648"  # PySyncObj splits at the last ':'
    assert raft_address("[fd00::5]", 4648) == "fd00::5:4648"


def ipv6_config(**advertise: str) -> AgentConfig:
    config = AgentConfig(name="six", bind_addr="fd00::5")
    config.server.enabled = True
    for listener, value in advertise.items():
        setattr(config.advertise, listener, value)
    return config


def test_an_ipv6_bind_address_gives_bracketed_listeners_and_a_bare_raft_address():
    config = ipv6_config()
    assert config.bind_address("http") == "[fd00::5]:4646"
    assert config.advertise_for("rpc") == "[fd00::5]:4647"
    assert config.raft_bind() == "fd00::5:4648"
    config.server.server_join = ["fd00::6", "[fd00::7]:5648", "10.0.0.8"]
    assert config.raft_peers() == ["fd00::6:4648", "fd00::7:5648", "10.0.0.8:4648"]


@pytest.mark.parametrize("value, expected", [
    ("fd00::9", "[fd00::9]:4647"),  # a bare IPv6 advertise address has no port
    ("[fd00::9]:9999", "[fd00::9]:9999"),
    ("10.0.0.9", "10.0.0.9:4647"),
    ("10.0.0.9:9999", "10.0.0.9:9999"),
])
def test_explicit_advertise_addresses(value, expected):
    assert ipv6_config(rpc=value).advertise_for("rpc") == expected


def test_gunicorn_binds_the_bracketed_addresses():
    from nomadjail.agent.gunicorn_app import AgentApplication

    app = AgentApplication(ipv6_config())
    assert app.cfg.bind == ["[fd00::5]:4646", "[fd00::5]:4647"]


def test_consul_sees_bare_addresses_and_bracketed_check_urls():
    config = ipv6_config()
    config.consul.enabled = True
    services = {s.service_id: s for s in agent_services(config)}
    http = services["_nomad-server-six-http"]
    assert (http.address, http.port) == ("fd00::5", 4646)
    assert http.check["HTTP"] == "http://[fd00::5]:4646/v1/agent/health?type=server"
    assert services["_nomad-server-six-serf"].check["TCP"] == "[fd00::5]:4648"


def test_the_consul_client_puts_ipv6_hosts_in_brackets():
    config = ipv6_config()
    config.consul.address = "[fd00::2]:8500"
    config.consul.fallback_addresses = ["fd00::3", "https://[fd00::4]:8501"]
    client = consul_client(config.consul)
    assert [c.base_uri for c in client.http.clients] == [
        "http://[fd00::2]:8500", "http://[fd00::3]:8500", "https://[fd00::4]:8501"]
