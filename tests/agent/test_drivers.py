"""Which task drivers a client has: pot without a plugin block (Nomad's built-in
drivers need none), unless disabled there; raw_exec only when enabled."""

from __future__ import annotations

from pathlib import Path

import pytest

from nomadjail.agent.agent import Agent
from nomadjail.agent.command import config_from_flags

# The README's client config for a FreeBSD host: no plugin block at all.
README_CLIENT = '''
datacenter = "dc1"
data_dir   = "{data_dir}"
client {{
  enabled = true
  servers = ["127.0.0.1:1"]
}}
'''


def client_agent(tmp_path: Path, extra: str = "") -> Agent:
    path = tmp_path / "client.hcl"
    path.write_text(README_CLIENT.format(data_dir=tmp_path / "data") + extra)
    return Agent(config_from_flags({"config_paths": [str(path)]}))


def test_a_client_without_plugin_blocks_has_the_pot_driver_and_no_raw_exec(tmp_path):
    drivers = client_agent(tmp_path).client.node().drivers
    assert set(drivers) == {"pot"}
    # Off FreeBSD (this test machine) it is there but undetected, and says why.
    assert drivers["pot"].detected is False and drivers["pot"].healthy is False
    assert "FreeBSD" in drivers["pot"].health_description


def test_the_pot_driver_can_be_switched_off_and_raw_exec_on(tmp_path):
    agent = client_agent(tmp_path, '''
plugin "pot" {
  config {
    enabled = false
  }
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}
''')
    assert set(agent.client.node().drivers) == {"raw_exec"}


@pytest.mark.parametrize("plugins, dev, expected", [
    ({}, False, ["pot"]),
    ({}, True, ["raw_exec", "pot"]),  # -dev enables raw_exec
    ({"raw_exec": {}}, False, ["pot"]),  # named but not enabled: still off (Nomad)
    ({"raw_exec": {"enabled": True}}, False, ["raw_exec", "pot"]),
    ({"raw_exec": {"enabled": "false"}}, True, ["pot"]),  # the file beats -dev
    ({"pot": {"enabled": False}}, False, []),
    ({"pot": {"enabled": "false"}}, False, []),
    ({"pot": {"pot_bin": "/usr/local/bin/pot"}}, False, ["pot"]),
    ({"mock_driver": {}}, False, ["pot", "mock_driver"]),
    ({"mock_driver": {"enabled": False}}, False, ["pot"]),
])
def test_enabled_drivers(plugins, dev, expected):
    from nomadjail.agent.config import AgentConfig, dev_config, merge

    base = dev_config() if dev else AgentConfig()
    assert merge(base, {"plugins": plugins}).enabled_drivers() == expected
