"""The pot's variables: read from pot's environment.sh, checked one by one."""

from __future__ import annotations

import pytest

from nomadjail.appliance.environment import (
    DEFAULT_GOSSIP_KEY,
    InvalidEnvironment,
    parse_environment_file,
    read_environment,
    settings_from_environment,
)

GOOD = {"NODENAME": "server1", "DATACENTER": "dc1", "IP": "10.0.0.5",
        "CONSULSERVERS": "10.0.0.2"}
KEY_16 = "cGFzc3dvcmQxMjM0NTY3OA=="  # 16 bytes
KEY_32 = "x5Y/Lk3zsH4QnV0mYWJpbWbZ3wOCVvXJkdqZ3Fv7sB0="


def problems(**changes: str | None) -> list[str]:
    env = {**GOOD, **{k: v for k, v in changes.items() if v is not None}}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
    with pytest.raises(InvalidEnvironment) as caught:
        settings_from_environment(env)
    return caught.value.problems


def test_defaults_with_only_the_required_variables():
    settings = settings_from_environment(GOOD)
    assert (settings.node_name, settings.datacenter, settings.ip) == ("server1", "dc1",
                                                                      "10.0.0.5")
    assert settings.consul_servers == ["10.0.0.2:8500"]
    assert (settings.bootstrap, settings.region, settings.raft_multiplier) == (1, "global", 1)
    assert settings.import_jobs is False and settings.ui_enabled is True
    assert settings.remote_log == ""
    assert settings.gossip_key == DEFAULT_GOSSIP_KEY and not settings.gossip_key_given
    assert any("GOSSIPKEY is not set" in w and "public" in w for w in settings.warnings)


def test_every_optional_variable_is_used():
    settings = settings_from_environment({
        **GOOD, "BOOTSTRAP": "3", "REGION": "east", "GOSSIPKEY": KEY_16,
        "REMOTELOG": "10.0.0.9", "IMPORTJOBS": "1", "RAFTMULTIPLIER": "10", "DISABLEUI": "",
        "CONSULSERVERS": "10.0.0.2,10.0.0.3:8501,[fd00::1]:8500"})
    assert settings.bootstrap == 3 and settings.region == "east"
    assert settings.gossip_key == KEY_16 and settings.gossip_key_given
    assert settings.warnings == []
    assert settings.remote_log == "10.0.0.9:514"
    assert settings.import_jobs and settings.raft_multiplier == 10
    assert settings.ui_enabled is False  # DISABLEUI set, even to nothing, turns it off
    assert settings.consul_servers == ["10.0.0.2:8500", "10.0.0.3:8501", "[fd00::1]:8500"]


@pytest.mark.parametrize("size_key", [KEY_16, KEY_32])
def test_gossip_keys_of_16_and_32_bytes_are_accepted(size_key):
    assert settings_from_environment({**GOOD, "GOSSIPKEY": size_key}).gossip_key == size_key


@pytest.mark.parametrize("name", ["NODENAME", "DATACENTER", "IP", "CONSULSERVERS"])
def test_each_required_variable_missing_is_named(name):
    assert problems(**{name: None}) == [
        f"{name} is not set: it is required (pot set-env -E {name}=...)"]


@pytest.mark.parametrize("name, value, message", [
    ("NODENAME", "web server", "NODENAME='web server': must be 1-63 letters, digits"),
    ("NODENAME", '"; evil = "x', "NODENAME='\"; evil = \"x': must be"),
    ("DATACENTER", "dc/1", "DATACENTER='dc/1': must be 1-63 letters"),
    ("REGION", "-east", "REGION='-east': must be 1-63 letters"),
    ("IP", "10.0.0.300", "IP='10.0.0.300': must be an IPv4 or IPv6 address"),
    ("IP", "jail.example", "IP='jail.example': must be an IPv4 or IPv6 address"),
    ("CONSULSERVERS", "10.0.0.2, 10.0.0.3",
     "CONSULSERVERS='10.0.0.2, 10.0.0.3': must be a comma-separated list of addresses "
     "without spaces"),
    ("CONSULSERVERS", "10.0.0.2,,10.0.0.3",
     "CONSULSERVERS='10.0.0.2,,10.0.0.3': '' is not an address"),
    ("CONSULSERVERS", "consul.local", "CONSULSERVERS='consul.local': 'consul.local' is not"),
    ("CONSULSERVERS", "10.0.0.2:99999", "CONSULSERVERS='10.0.0.2:99999': '10.0.0.2:99999'"),
    ("BOOTSTRAP", "2", "BOOTSTRAP='2': must be 1, 3 or 5"),
    ("BOOTSTRAP", "three", "BOOTSTRAP='three': must be 1, 3 or 5"),
    ("RAFTMULTIPLIER", "0", "RAFTMULTIPLIER='0': must be a whole number from 1 to 10"),
    ("RAFTMULTIPLIER", "11", "RAFTMULTIPLIER='11': must be a whole number from 1 to 10"),
    ("RAFTMULTIPLIER", "1.5", "RAFTMULTIPLIER='1.5': must be a whole number from 1 to 10"),
    ("IMPORTJOBS", "yes", "IMPORTJOBS='yes': must be 0 or 1"),
    ("GOSSIPKEY", "not base64!", "GOSSIPKEY='not base64!': must be base64 of 16 or 32 "
                                 "bytes (it is not base64)"),
    ("GOSSIPKEY", "c2VjcmV0", "GOSSIPKEY='c2VjcmV0': must be base64 of 16 or 32 bytes "
                              "(it decodes to 6 bytes)"),
    ("REMOTELOG", "logs.example:514", "REMOTELOG='logs.example:514': must be the address"),
    ("RETRYJOIN", "10.0.0.6, 10.0.0.7", "RETRYJOIN='10.0.0.6, 10.0.0.7': must be a "
                                        "comma-separated list of addresses without spaces"),
    ("RETRYJOIN", "server2", "RETRYJOIN='server2': 'server2' is not an address"),
    ("RETRYJOIN", "10.0.0.6", "RETRYJOIN='10.0.0.6': must list the 0 other server(s) of a "
                              "cluster of BOOTSTRAP=1, found 1 (leave it unset for a single "
                              "server)"),
])
def test_each_invalid_variable_is_rejected_with_its_value_and_rule(name, value, message):
    found = problems(**{name: value})
    assert len(found) == 1, found
    assert found[0].startswith(message), found[0]


def test_retryjoin_lists_the_other_servers_and_may_include_this_one():
    settings = settings_from_environment({**GOOD, "BOOTSTRAP": "3",
                                          "RETRYJOIN": "10.0.0.5,10.0.0.6,10.0.0.7:5648"})
    assert settings.retry_join == ["10.0.0.6:4648", "10.0.0.7:5648"]
    found = problems(BOOTSTRAP="5", RETRYJOIN="10.0.0.6,10.0.0.7")
    assert found == ["RETRYJOIN='10.0.0.6,10.0.0.7': must list the 4 other server(s) of a "
                     "cluster of BOOTSTRAP=5, found 2"]
    assert settings_from_environment(GOOD).retry_join == []  # unset: peers from Consul


def test_ipv6_addresses_are_normalised_and_bracketed_before_a_port():
    settings = settings_from_environment({
        **GOOD, "IP": "FD00:0::5", "CONSULSERVERS": "fd00::2,[fd00::3]:8501",
        "REMOTELOG": "[fd00::9]", "BOOTSTRAP": "3", "RETRYJOIN": "fd00::5,fd00::6,fd00::7"})
    assert settings.ip == "fd00::5"
    assert settings.consul_servers == ["[fd00::2]:8500", "[fd00::3]:8501"]
    assert settings.remote_log == "[fd00::9]:514"
    assert settings.retry_join == ["[fd00::6]:4648", "[fd00::7]:4648"]


def test_all_problems_are_reported_at_once():
    found = problems(NODENAME=None, IP="x", BOOTSTRAP="4", IMPORTJOBS="2")
    assert [p.split("=")[0].split(" ")[0] for p in found] == [
        "NODENAME", "IP", "BOOTSTRAP", "IMPORTJOBS"]


def test_pots_environment_file_is_read_with_shell_quoting():
    text = ('export "NODENAME=server1"\n'
            'export "DATACENTER=my \\"dc\\""\n'
            'export _POT_NAME=nomadjail-server_1\n'
            'export _POT_IP_LIST=_POT_IP_0\\ _POT_IP_1\n'
            '# a comment\n'
            'echo not an export\n'
            'export "UNBALANCED\n')
    assert parse_environment_file(text) == {
        "NODENAME": "server1", "DATACENTER": 'my "dc"', "_POT_NAME": "nomadjail-server_1",
        "_POT_IP_LIST": "_POT_IP_0 _POT_IP_1"}


def test_the_file_wins_over_the_process_environment(tmp_path):
    env_file = tmp_path / "environment.sh"
    env_file.write_text('export "IP=10.0.0.7"\n')
    merged = read_environment({"IP": "10.0.0.1", "NODENAME": "a"}, env_file)
    assert merged == {"IP": "10.0.0.7", "NODENAME": "a"}
    assert read_environment({"IP": "1"}, tmp_path / "missing.sh") == {"IP": "1"}
