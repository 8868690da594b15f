"""Agent configuration: every config key in HCL and JSON, merge order, located errors."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nomadjail.agent.agent import Agent
from nomadjail.agent.command import config_from_flags
from nomadjail.agent.config import AgentConfig, merge
from nomadjail.agent.config_file import ConfigError, load_config_file, load_config_paths
from nomadjail.helper.server_tunables import ServerTunables

EVERY_KEY_HCL = '''
name        = "node-a"
region      = "eu"
datacenter  = "dc7"
data_dir    = "/var/lib/nomadjail"
bind_addr   = "10.0.0.5"
log_level   = "DEBUG"

ports {
  http = 5646
  rpc  = 5647
  serf = 5648
}
addresses {
  http = "127.0.0.1"
  rpc  = "10.0.0.6"
  serf = "10.0.0.7"
}
advertise {
  http = "1.2.3.4"
  rpc  = "1.2.3.5:9999"
  serf = "1.2.3.6"
}

server {
  enabled                   = true
  bootstrap_expect          = 3
  num_schedulers            = 2
  heartbeat_grace           = "20s"
  min_heartbeat_ttl         = "15s"
  max_heartbeats_per_second = 12.5
  raft_multiplier           = 4
  encrypt                   = "c2VjcmV0"
  server_join {
    retry_join = ["10.0.0.1", "10.0.0.2"]
  }
}

client {
  enabled           = true
  servers           = ["10.0.0.1:4647"]
  node_class        = "large"
  node_pool         = "gpu"
  network_interface = "em0"
  min_dynamic_port  = 21000
  max_dynamic_port  = 22000
  meta {
    rack = "r1"
  }
  options = {
    "driver.allowlist" = "raw_exec"
  }
  reserved {
    cpu            = 250
    memory         = 128
    reserved_ports = "22,80-81"
  }
}

ui {
  enabled = false
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}
'''

EVERY_KEY_JSON = {
    "name": "node-a", "region": "eu", "datacenter": "dc7", "data_dir": "/var/lib/nomadjail",
    "bind_addr": "10.0.0.5", "log_level": "DEBUG",
    "ports": {"http": 5646, "rpc": 5647, "serf": 5648},
    "addresses": {"http": "127.0.0.1", "rpc": "10.0.0.6", "serf": "10.0.0.7"},
    "advertise": {"http": "1.2.3.4", "rpc": "1.2.3.5:9999", "serf": "1.2.3.6"},
    "server": {"enabled": True, "bootstrap_expect": 3, "num_schedulers": 2,
               "heartbeat_grace": "20s", "min_heartbeat_ttl": "15s",
               "max_heartbeats_per_second": 12.5, "raft_multiplier": 4,
               "encrypt": "c2VjcmV0", "server_join": {"retry_join": ["10.0.0.1", "10.0.0.2"]}},
    "client": {"enabled": True, "servers": ["10.0.0.1:4647"], "node_class": "large",
               "node_pool": "gpu", "network_interface": "em0", "min_dynamic_port": 21000,
               "max_dynamic_port": 22000, "meta": {"rack": "r1"},
               "options": {"driver.allowlist": "raw_exec"},
               "reserved": {"cpu": 250, "memory": 128, "reserved_ports": "22,80-81"}},
    "ui": {"enabled": False},
    "plugin": {"raw_exec": {"config": {"enabled": True}}},
}


def write(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)
    return str(path)


def configured(*paths: str, **flags) -> AgentConfig:
    return config_from_flags({"config_paths": list(paths), **flags})


@pytest.mark.parametrize("fmt", ["hcl", "json"])
def test_every_key_lands_where_nomad_puts_it(tmp_path, fmt):
    text = EVERY_KEY_HCL if fmt == "hcl" else json.dumps(EVERY_KEY_JSON)
    config = configured(write(tmp_path, f"agent.{fmt}", text))
    assert (config.name, config.region, config.datacenter, config.data_dir, config.bind_addr,
            config.log_level) == ("node-a", "eu", "dc7", "/var/lib/nomadjail", "10.0.0.5",
                                  "DEBUG")
    assert (config.ports.http, config.ports.rpc, config.ports.serf) == (5646, 5647, 5648)
    assert config.bind_for("http") == "127.0.0.1" and config.bind_for("serf") == "10.0.0.7"
    assert config.advertise_for("http") == "1.2.3.4:5646"
    assert config.advertise_for("rpc") == "1.2.3.5:9999"
    server = config.server
    assert (server.enabled, server.bootstrap_expect, server.num_schedulers,
            server.heartbeat_grace, server.min_heartbeat_ttl, server.max_heartbeats_per_second,
            server.raft_multiplier, server.encrypt, server.server_join) == (
        True, 3, 2, 20.0, 15.0, 12.5, 4, "c2VjcmV0", ["10.0.0.1", "10.0.0.2"])
    client = config.client
    assert (client.enabled, client.servers, client.node_class, client.node_pool,
            client.network_interface, client.min_dynamic_port, client.max_dynamic_port,
            client.meta, client.options, client.reserved_cpu, client.reserved_memory,
            client.reserved_ports) == (
        True, ["10.0.0.1:4647"], "large", "gpu", "em0", 21000, 22000, {"rack": "r1"},
        {"driver.allowlist": "raw_exec"}, 250, 128, "22,80-81")
    assert config.ui_enabled is False
    assert config.plugins == {"raw_exec": {"enabled": True}} and config.raw_exec_enabled()


def test_hcl_and_json_give_the_same_config(tmp_path):
    assert configured(write(tmp_path, "a.hcl", EVERY_KEY_HCL)) == \
        configured(write(tmp_path, "a.json", json.dumps(EVERY_KEY_JSON)))


def test_later_files_win_key_by_key_without_erasing_blocks(tmp_path):
    first = write(tmp_path, "first.hcl", 'server {\n  bootstrap_expect = 3\n}\n'
                                          'client {\n  meta {\n    rack = "r1"\n  }\n}\n')
    second = write(tmp_path, "second.json", json.dumps(
        {"server": {"enabled": True}, "client": {"meta": {"zone": "z"}}, "region": "eu"}))
    config = configured(first, second)
    assert (config.server.enabled, config.server.bootstrap_expect) == (True, 3)
    assert config.client.meta == {"rack": "r1", "zone": "z"}  # maps merge key by key
    assert config.region == "eu"


MERGE_FIRST = '''
client {
  servers = ["a:4647", "b:4647"]
  meta {
    rack = "r1"
    zone = "z1"
  }
  options = {
    "driver.allowlist" = "raw_exec"
  }
  host_volume "www" {
    path      = "/srv/www"
    read_only = true
  }
}
server {
  server_join {
    retry_join = ["10.0.0.1"]
  }
}
consul {
  tags = ["one"]
}
plugin "raw_exec" {
  config {
    enabled        = true
    denied_envvars = ["SECRET"]
  }
}
'''


def test_lists_and_maps_merge_by_nomads_rules(tmp_path):
    """Nomad's Config.Merge: client.servers and consul.tags append; server_join
    replaces unless the later list is empty; meta/options merge key by key; a host
    volume or plugin of the same name is replaced whole."""
    first = write(tmp_path, "a.hcl", MERGE_FIRST)
    second = write(tmp_path, "b.json", json.dumps({
        "client": {"servers": ["c:4647"], "meta": {"zone": "z2"},
                   "host_volume": {"www": {"path": "/data/www"}}},
        "server": {"server_join": {"retry_join": []}},
        "consul": {"tags": ["two"]},
        "plugin": {"raw_exec": {"config": {"enabled": False}}}}))
    config = configured(first, second)
    assert config.client.servers == ["a:4647", "b:4647", "c:4647"]
    assert config.client.meta == {"rack": "r1", "zone": "z2"}
    assert config.client.options == {"driver.allowlist": "raw_exec"}
    assert config.client.host_volumes == {"www": {"path": "/data/www"}}  # read_only gone
    assert config.server.server_join == ["10.0.0.1"]  # an empty list changes nothing
    assert config.consul.tags == ["one", "two"]
    assert config.plugins["raw_exec"] == {"enabled": False}  # denied_envvars gone

    third = write(tmp_path, "c.hcl", 'server {\n  server_join {\n    retry_join = ["10.0.0.9"]'
                                     '\n  }\n}\n')
    assert configured(first, second, third).server.server_join == ["10.0.0.9"]


def test_a_directory_contributes_its_files_in_name_order(tmp_path):
    conf = tmp_path / "conf.d"
    conf.mkdir()
    write(conf, "20-region.json", json.dumps({"region": "second", "datacenter": "dc2"}))
    write(conf, "10-region.hcl", 'region = "first"\nname = "n1"\n')
    write(conf, "30-dc.hcl", 'datacenter = "dc3"\n')
    write(conf, "99-ignored.txt", "not a config file")
    (conf / "40-not-a-file.hcl").mkdir()
    overlays = load_config_paths([str(conf)])
    assert overlays == [{"region": "first", "name": "n1"},
                        {"region": "second", "datacenter": "dc2"},
                        {"datacenter": "dc3"}]
    config = configured(str(conf))
    assert (config.region, config.datacenter, config.name) == ("second", "dc3", "n1")


def test_paths_are_applied_in_the_order_given(tmp_path):
    a = write(tmp_path, "a.hcl", 'region = "a"\n')
    b = write(tmp_path, "b.hcl", 'region = "b"\n')
    assert configured(a, b).region == "b"
    assert configured(b, a).region == "a"


def test_flags_win_over_files_and_dev_comes_first(tmp_path):
    path = write(tmp_path, "a.hcl", 'region = "file"\ndatacenter = "file-dc"\n'
                                    'client {\n  servers = ["file:4647"]\n}\n'
                                    'plugin "raw_exec" {\n  config {\n    enabled = false\n'
                                    '  }\n}\n')
    config = configured(path, dev=True, region="flag", servers="a:4647, b:4647,",
                        data_dir="/flag", bind="127.0.0.2", node="flag-node", dc="",
                        log_level="WARN", bootstrap_expect=3)
    assert config.dev_mode and config.server.enabled and config.client.enabled  # from -dev
    assert config.plugins["raw_exec"] == {"enabled": False}  # the file beat -dev
    assert config.region == "flag" and config.datacenter == "file-dc"  # empty flag: unset
    assert config.client.servers == ["file:4647", "a:4647", "b:4647"]  # appended, as Nomad
    assert (config.data_dir, config.bind_addr, config.name, config.log_level) == (
        "/flag", "127.0.0.2", "flag-node", "WARN")
    assert config.server.bootstrap_expect == 3


def test_server_and_client_flags_switch_roles_on():
    config = config_from_flags({"server": True, "client": True})
    assert config.server.enabled and config.client.enabled
    assert not config_from_flags({}).server.enabled


def test_a_later_file_cannot_switch_a_role_off(tmp_path):
    """Nomad's Merge: ``if b.Enabled { result.Enabled = true }`` -- once a file
    enables the server or the client, a later ``enabled = false`` keeps it on."""
    on = write(tmp_path, "10-on.hcl", 'server {\n  enabled = true\n}\n'
                                      'client {\n  enabled = true\n}\n')
    off = write(tmp_path, "20-off.json", json.dumps(
        {"server": {"enabled": False}, "client": {"enabled": False}}))
    config = configured(on, off)
    assert config.server.enabled and config.client.enabled
    config = configured(off, on)
    assert config.server.enabled and config.client.enabled
    assert not configured(off).server.enabled


def test_merge_leaves_the_base_untouched():
    base = AgentConfig()
    merged = merge(base, {"server": {"enabled": True}, "plugins": {"raw_exec": {"a": 1}},
                          "client": {"servers": ["a"]}})
    assert merged.server.enabled and not base.server.enabled
    assert base.plugins == {} and base.client.servers == []
    again = merge(merged, {"plugins": {"raw_exec": {"b": 2}, "mock": {}},
                           "client": {"servers": ["b"]}})
    assert again.plugins == {"raw_exec": {"b": 2}, "mock": {}}  # Nomad: config replaced
    assert merged.plugins == {"raw_exec": {"a": 1}} and merged.client.servers == ["a"]
    assert again.client.servers == ["a", "b"]
    # An empty block names the plugin but keeps what an earlier file said.
    assert merge(again, {"plugins": {"raw_exec": {}}}).plugins["raw_exec"] == {"b": 2}


POTLUCK_STYLE = '''
name = 1234
server {
  enabled                   = "true"
  bootstrap_expect          = "3"
  raft_multiplier           = "0x2"
  num_schedulers            = 2.0
  max_heartbeats_per_second = "12.5"
}
ports {
  http = "5646"
}
ui {
  enabled = 0
}
telemetry {
  prometheus_metrics = "TRUE"
  disable_hostname   = "1"
}
leave_on_terminate = "false"
'''


@pytest.mark.parametrize("fmt", ["hcl", "json"])
def test_numbers_and_bools_may_be_strings_as_in_nomads_hcl1_decoder(tmp_path, fmt):
    """potluck writes bootstrap_expect = "%%bootstrap%%": Nomad (HCL1) reads numeric
    strings as numbers, "true"/"false"/1/0 as bools and numbers as strings."""
    if fmt == "hcl":
        path = write(tmp_path, "agent.hcl", POTLUCK_STYLE)
    else:
        path = write(tmp_path, "agent.json", json.dumps({
            "name": 1234, "server": {"enabled": "true", "bootstrap_expect": "3",
                                     "raft_multiplier": "0x2", "num_schedulers": 2.0,
                                     "max_heartbeats_per_second": "12.5"},
            "ports": {"http": "5646"}, "ui": {"enabled": 0},
            "telemetry": {"prometheus_metrics": "TRUE", "disable_hostname": "1"},
            "leave_on_terminate": "false"}))
    config = configured(path)
    assert config.name == "1234"
    assert (config.server.enabled, config.server.bootstrap_expect, config.server.raft_multiplier,
            config.server.num_schedulers, config.server.max_heartbeats_per_second) == (
        True, 3, 2, 2, 12.5)
    assert config.ports.http == 5646 and config.ui_enabled is False
    assert config.telemetry.prometheus_metrics and config.telemetry.disable_hostname
    assert config.leave_on_terminate is False


# -- errors name the file and the place -------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ('server {\n  enabeld = true\n}\n',
     ':2:3: unknown key "enabeld" in server; did you mean "enabled"?'),
    ('regoin = "eu"\n', ':1:1: unknown key "regoin"; did you mean "region"?'),
    ('ports {\n  http = "http"\n}\n', ':2:3: ports.http: expected a whole number, got '
                                      'string "http"'),
    ('server {\n  bootstrap_expect = "3.5"\n}\n', ':2:3: server.bootstrap_expect: expected a '
                                                 'whole number, got string "3.5"'),
    ('server {\n  raft_multiplier = 2.5\n}\n', ':2:3: server.raft_multiplier: expected a '
                                              'whole number, got number 2.5'),
    ('ui {\n  enabled = "yes"\n}\n', ':2:3: ui.enabled: expected true or false'),
    ('ui {\n  enabled = 2\n}\n', ':2:3: ui.enabled: expected true or false'),
    ('server {\n  max_heartbeats_per_second = "fast"\n}\n',
     ':2:3: server.max_heartbeats_per_second: expected a number, got string "fast"'),
    ('name = ["a"]\n', ':1:1: name: expected a string, got list'),
    ('ports {\n  http = 70000\n}\n', ':2:3: ports.http: port 70000 is not between 1 and 65535'),
    ('server {\n  enabled = "yes"\n}\n', ':2:3: server.enabled: expected true or false'),
    ('server {\n  heartbeat_grace = "soon"\n}\n', ':2:3: server.heartbeat_grace:'),
    ('client {\n  servers = "a:4647"\n}\n', ':2:3: client.servers: expected a list of '
                                            'strings'),
    ('region {\n}\n', ':1:1: region: expected a value, got a block'),
    ('server = true\n', ':1:1: server: expected a block, got bool'),
    ('plugin {\n}\n', ':1:1: plugin: expected a block with one label'),
    ('plugin "raw_exec" {\n  confg {}\n}\n',
     ':2:3: unknown key "confg" in plugin "raw_exec"; did you mean "config"?'),
])
def test_hcl_errors_name_file_line_and_column(tmp_path, text, message):
    path = write(tmp_path, "agent.hcl", text)
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value).startswith(path + ":")
    assert message in str(err.value)


@pytest.mark.parametrize("data, message", [
    ({"server": {"enabeld": True}}, 'unknown key "enabeld" in server; did you mean "enabled"?'),
    ({"ports": {"rpc": True}}, "ports.rpc: expected a whole number, got bool true"),
    ({"ports": {"rpc": "4647x"}}, 'ports.rpc: expected a whole number, got string "4647x"'),
    ({"server": {"enabled": "on"}}, 'server.enabled: expected true or false'),
    ({"client": {"reserved": {"cpu": "lots"}}}, 'client.reserved.cpu: expected a whole number'),
    ({"plugin": {"raw_exec": []}}, "plugin.raw_exec: expected a JSON object, got list"),
    ([1, 2], "expected a JSON object, got list"),
])
def test_json_errors_name_the_file_and_key_path(tmp_path, data, message):
    path = write(tmp_path, "agent.json", json.dumps(data))
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value).startswith(path + ":")
    assert message in str(err.value)


def test_invalid_hcl_is_a_config_error_naming_line_and_column(tmp_path):
    path = write(tmp_path, "agent.hcl", 'server {\n  enabled = true\n')
    with pytest.raises(ConfigError, match=r"agent\.hcl:3:1"):
        load_config_file(path)


def test_invalid_json_names_line_and_column(tmp_path):
    path = write(tmp_path, "agent.json", '{\n  "region": "eu",\n}\n')
    with pytest.raises(ConfigError, match=r"agent\.json:3:1: invalid JSON"):
        load_config_file(path)


def test_missing_paths_and_other_suffixes_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_paths([str(tmp_path / "nope.hcl")])
    with pytest.raises(ConfigError, match="must end in .hcl or .json"):
        load_config_file(write(tmp_path, "agent.yaml", "region: eu\n"))


def test_one_bad_file_loads_nothing(tmp_path):
    good = write(tmp_path, "a.hcl", 'region = "eu"\n')
    bad = write(tmp_path, "b.hcl", 'regoin = "eu"\n')
    with pytest.raises(ConfigError, match="b.hcl:1:1"):
        configured(good, bad)


def test_every_tunable_of_the_server_block_reaches_the_server() -> None:
    config = AgentConfig()
    values = {f.name: float(n + 1) for n, f in enumerate(dataclasses.fields(ServerTunables))}
    config.server = dataclasses.replace(config.server, enabled=True, **values)
    agent = type("A", (), {"config": config, "node_name": "n"})()
    assert Agent._server_config(agent).tunables() == values


def test_importing_the_agent_config_loads_neither_server_nor_client() -> None:
    """The reason the tunables live in helper/: nomadjail.server's __init__ loads the
    whole server (and doubled the import time of the agent config once)."""
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, nomadjail.agent.config; "
         "print(' '.join(sorted(m for m in sys.modules if m.startswith('nomadjail'))))"],
        check=True, capture_output=True, text=True).stdout.split()
    assert "nomadjail.helper.server_tunables" in loaded
    packages = {m.split(".")[1] for m in loaded if "." in m}
    assert not packages & {"server", "client", "http"}, sorted(packages)


def test_the_client_template_block(tmp_path):
    """Nomad's client template parameters (and nomadjail's watch_interval) reach the
    client's template config; without the block, Nomad's defaults."""
    config = configured(write(tmp_path, "a.hcl", '''
client {
  enabled = true
  template {
    disable_file_sandbox = true
    function_denylist    = ["plugin"]
    max_stale            = "10s"
    block_query_wait     = "90s"
    watch_interval       = "500ms"
  }
}
'''))
    assert (config.client.template_disable_file_sandbox, config.client.template_function_denylist,
            config.client.template_max_stale, config.client.template_block_query_wait,
            config.client.template_watch_interval) == (True, ["plugin"], 10.0, 90.0, 0.5)
    defaults = configured(write(tmp_path, "b.hcl", "client {\n  enabled = true\n}\n"))
    assert defaults.client.template_function_denylist == ["plugin", "writeToFile"]
    assert defaults.client.template_disable_file_sandbox is False


def test_a_bad_template_block_value_names_the_key(tmp_path):
    path = write(tmp_path, "a.hcl", 'client {\n  template {\n    watch_interval = "soon"\n'
                                    '  }\n}\n')
    with pytest.raises(ConfigError, match="watch_interval"):
        configured(path)
