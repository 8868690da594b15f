"""The agent config keys the appliance writes (and Nomad's GC keys): loaded, merged,
and every mistake reported with its file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nomadjail.agent.agent import Agent
from nomadjail.agent.command import config_from_flags, validate
from nomadjail.agent.config_file import ConfigError, load_config_file

APPLIANCE_KEYS = '''
data_dir = "/d"
advertise {
  http = "10.0.0.5"
}
server {
  enabled                 = true
  encrypt                 = "x5Y/Lk3zsH4QnV0mYWJpbWbZ3wOCVvXJkdqZ3Fv7sB0="
  job_gc_interval         = "1m"
  eval_gc_threshold       = "2h"
  batch_eval_gc_threshold = "48h"
  job_gc_threshold        = "8h"
  deployment_gc_threshold = "30m"
  node_gc_threshold       = "12h"
  server_join {
    retry_join = ["10.0.0.6:4648"]
  }
}
consul {
  address             = "10.0.0.2:8500"
  fallback_addresses  = ["10.0.0.3:8500", "[fd00::4]:8500"]
  token               = "secret"
  ssl                 = false
  server_service_name = "nomad-eu"
  client_service_name = "nomad-client-eu"
  tags                = ["eu"]
  auto_advertise      = false
  server_auto_join    = false
  client_auto_join    = false
  timeout             = "2s"
}
ui {
  enabled = false
}
enable_syslog   = true
syslog_facility = "LOCAL5"
remote_syslog {
  address      = "10.0.0.9:514"
  buffer_lines = 500
}
telemetry {
  collection_interval        = "15s"
  publish_allocation_metrics = true
  publish_node_metrics       = true
  prometheus_metrics         = true
  disable_hostname           = true
  use_node_name              = true
}
leave_on_interrupt   = true
leave_on_terminate   = true
disable_update_check = true
'''

APPLIANCE_KEYS_JSON = {
    "data_dir": "/d", "advertise": {"http": "10.0.0.5"},
    "server": {"enabled": True, "encrypt": "x5Y/Lk3zsH4QnV0mYWJpbWbZ3wOCVvXJkdqZ3Fv7sB0=",
               "job_gc_interval": "1m", "eval_gc_threshold": "2h",
               "batch_eval_gc_threshold": "48h", "job_gc_threshold": "8h",
               "deployment_gc_threshold": "30m", "node_gc_threshold": "12h",
               "server_join": {"retry_join": ["10.0.0.6:4648"]}},
    "consul": {"address": "10.0.0.2:8500",
               "fallback_addresses": ["10.0.0.3:8500", "[fd00::4]:8500"], "token": "secret",
               "ssl": False,
               "server_service_name": "nomad-eu", "client_service_name": "nomad-client-eu",
               "tags": ["eu"], "auto_advertise": False, "server_auto_join": False,
               "client_auto_join": False, "timeout": "2s"},
    "ui": {"enabled": False}, "enable_syslog": True, "syslog_facility": "LOCAL5",
    "remote_syslog": {"address": "10.0.0.9:514", "buffer_lines": 500},
    "telemetry": {"collection_interval": "15s", "publish_allocation_metrics": True,
                  "publish_node_metrics": True, "prometheus_metrics": True,
                  "disable_hostname": True, "use_node_name": True},
    "leave_on_interrupt": True, "leave_on_terminate": True, "disable_update_check": True,
}


def configured(tmp_path: Path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return config_from_flags({"config_paths": [str(path)]})


@pytest.mark.parametrize("fmt", ["hcl", "json"])
def test_every_appliance_key_lands_in_the_config(tmp_path, fmt):
    text = APPLIANCE_KEYS if fmt == "hcl" else json.dumps(APPLIANCE_KEYS_JSON)
    config = configured(tmp_path, f"server.{fmt}", text)
    assert validate(config) == []
    s = config.server
    assert (s.gc_interval, s.eval_gc_threshold, s.batch_eval_gc_threshold, s.job_gc_threshold,
            s.deployment_gc_threshold, s.node_gc_threshold) == (
        60.0, 7200.0, 172800.0, 28800.0, 1800.0, 43200.0)
    assert s.server_join == ["10.0.0.6:4648"]
    c = config.consul
    assert c.enabled and (c.address, c.token, c.ssl, c.server_service_name,
                          c.client_service_name, c.tags, c.auto_advertise, c.server_auto_join,
                          c.client_auto_join, c.timeout) == (
        "10.0.0.2:8500", "secret", False, "nomad-eu", "nomad-client-eu", ["eu"], False, False,
        False, 2.0)
    assert c.addresses() == ["10.0.0.2:8500", "10.0.0.3:8500", "[fd00::4]:8500"]
    assert config.ui_enabled is False
    assert (config.enable_syslog, config.syslog_facility) == (True, "LOCAL5")
    assert (config.remote_syslog.address, config.remote_syslog.buffer_lines) == (
        "10.0.0.9:514", 500)
    t = config.telemetry
    assert (t.collection_interval, t.publish_allocation_metrics, t.publish_node_metrics,
            t.prometheus_metrics, t.disable_hostname, t.use_node_name) == (
        15.0, True, True, True, True, True)
    assert config.leave_on_interrupt and config.leave_on_terminate
    assert config.disable_update_check
    assert config.advertise_for("http") == "10.0.0.5:4646"


def test_gc_settings_reach_the_server(tmp_path):
    config = configured(tmp_path, "server.hcl", APPLIANCE_KEYS)
    server_config = Agent._server_config(type("A", (), {"config": config,
                                                        "node_name": "n"})())
    assert (server_config.gc_interval, server_config.eval_gc_threshold,
            server_config.batch_eval_gc_threshold, server_config.job_gc_threshold,
            server_config.deployment_gc_threshold, server_config.node_gc_threshold) == (
        60.0, 7200.0, 172800.0, 28800.0, 1800.0, 43200.0)
    assert server_config.encrypt == "x5Y/Lk3zsH4QnV0mYWJpbWbZ3wOCVvXJkdqZ3Fv7sB0="
    assert server_config.raft_peers == ["10.0.0.6:4648"]


def test_an_empty_consul_block_turns_consul_on_with_nomads_defaults(tmp_path):
    config = configured(tmp_path, "a.hcl", 'consul {\n}\n')
    assert config.consul.enabled and config.consul.address == "127.0.0.1:8500"
    assert configured(tmp_path, "b.hcl", 'region = "x"\n').consul.enabled is False
    assert configured(tmp_path, "c.json", '{"consul": {}}').consul.enabled


def test_blocks_from_several_files_merge_key_by_key(tmp_path):
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "10-server.hcl").write_text('consul {\n  address = "10.0.0.2:8500"\n}\n'
                                        'telemetry {\n  prometheus_metrics = true\n}\n')
    (conf / "20-local.json").write_text(json.dumps(
        {"consul": {"tags": ["x"]}, "telemetry": {"disable_hostname": True}}))
    (conf / ".#30-editing.hcl").write_text("this is an editor's lock file")
    config = config_from_flags({"config_paths": [str(conf)]})
    assert (config.consul.address, config.consul.tags) == ("10.0.0.2:8500", ["x"])
    assert config.telemetry.prometheus_metrics and config.telemetry.disable_hostname


@pytest.mark.parametrize("text, message", [
    ('consul {\n  adress = "x"\n}\n', 'a.hcl:2:3: unknown key "adress" in consul; '
                                      'did you mean "address"?'),
    ('remote_syslog {\n  address = ["10.0.0.9"]\n}\n',
     "a.hcl:2:3: remote_syslog.address: expected a string, got list"),
    ('consul {\n  fallback_addresses = "10.0.0.3"\n}\n',
     "a.hcl:2:3: consul.fallback_addresses: expected a list of strings, got string"),
    ('telemetry {\n  collection_interval = "soon"\n}\n',
     "a.hcl:2:3: telemetry.collection_interval:"),
    ('server {\n  job_gc_threshold = 5\n}\n',
     'a.hcl:2:3: server.job_gc_threshold: expected a duration string such as "10s"'),
    ('enable_syslog = "yes"\n', "a.hcl:1:1: enable_syslog: expected true or false"),
    ('leave_on_terminat = true\n', 'a.hcl:1:1: unknown key "leave_on_terminat"; '
                                   'did you mean "leave_on_terminate"?'),
])
def test_mistakes_are_reported_with_file_and_line(tmp_path, text, message):
    path = tmp_path / "a.hcl"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config_file(str(path))
    assert str(caught.value).startswith(f"{tmp_path}/{message}"), str(caught.value)


@pytest.mark.parametrize("text, problem", [
    ('syslog_facility = "LOCAL9"', "invalid syslog_facility 'LOCAL9'"),
    ('remote_syslog {\n  address = "10.0.0.9:99999"\n}',
     "remote_syslog.address: address '10.0.0.9:99999': port '99999' is not between"),
    ('remote_syslog {\n  buffer_lines = 0\n}', "remote_syslog.buffer_lines must be at least 1"),
])
def test_bad_values_are_refused_before_the_agent_starts(tmp_path, text, problem):
    config = configured(tmp_path, "a.hcl", f'data_dir = "/d"\nserver {{ enabled = true }}\n'
                                           f'{text}\n')
    assert any(p.startswith(problem) for p in validate(config)), validate(config)


def test_a_client_without_servers_may_find_them_through_consul(tmp_path):
    config = configured(tmp_path, "a.hcl", 'data_dir = "/d"\nclient { enabled = true }\n'
                                           'consul {}\n')
    assert validate(config) == []
    config.consul.client_auto_join = False
    assert any("client_auto_join" in p for p in validate(config))
