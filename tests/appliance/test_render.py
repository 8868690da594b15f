"""The rendered server config: every combination the cook writes loads in the agent."""

from __future__ import annotations

import itertools
import shutil
import tomllib
from pathlib import Path

import pytest

from nomadjail.agent.command import config_from_flags, validate
from nomadjail.appliance import Ports, render_server_config, settings_from_environment
from nomadjail.appliance.render import SERVER_TEMPLATE, hcl_literal, templates_dir

REPO = Path(__file__).resolve().parents[2]
BASE = {"NODENAME": "server1", "DATACENTER": "dc1", "IP": "10.0.0.5",
        "CONSULSERVERS": "10.0.0.2,10.0.0.3"}
KEY = "x5Y/Lk3zsH4QnV0mYWJpbWbZ3wOCVvXJkdqZ3Fv7sB0="


def load(tmp_path: Path, text: str):
    config_dir = tmp_path / "etc"
    config_dir.mkdir(exist_ok=True)
    (config_dir / "server.hcl").write_text(text)
    config = config_from_flags({"config_paths": [str(config_dir)]})
    assert validate(config) == []
    return config


@pytest.mark.parametrize("bootstrap, disable_ui, remote_log, gossip_key",
                         list(itertools.product(["1", "3"], [False, True], [False, True],
                                                [False, True])))
def test_rendered_configs_load_in_the_agent(tmp_path, bootstrap, disable_ui, remote_log,
                                            gossip_key):
    env = {**BASE, "BOOTSTRAP": bootstrap}
    if disable_ui:
        env["DISABLEUI"] = "x"
    if remote_log:
        env["REMOTELOG"] = "10.0.0.9"
    if gossip_key:
        env["GOSSIPKEY"] = KEY
    settings = settings_from_environment(env)
    config = load(tmp_path, render_server_config(settings, data_dir="/var/db/nomadjail"))

    assert (config.name, config.datacenter, config.region) == ("server1", "dc1", "global")
    assert config.bind_addr == "10.0.0.5" and config.data_dir == "/var/db/nomadjail"
    assert [config.advertise_for(x) for x in ("http", "rpc", "serf")] == [
        "10.0.0.5:4646", "10.0.0.5:4647", "10.0.0.5:4648"]
    assert config.server.enabled and not config.client.enabled
    assert config.server.bootstrap_expect == int(bootstrap)
    assert config.server.encrypt == (KEY if gossip_key else settings.gossip_key)
    assert config.server.raft_multiplier == 1 and config.server.heartbeat_grace == 10.0
    assert config.server.server_join == []  # peers come from Consul
    consul = config.consul
    assert consul.enabled and consul.address == "10.0.0.2:8500"
    assert consul.addresses() == ["10.0.0.2:8500", "10.0.0.3:8500"]  # every CONSULSERVERS
    assert (consul.server_service_name, consul.client_service_name) == ("nomad",
                                                                        "nomad-client")
    assert consul.auto_advertise and consul.server_auto_join and consul.client_auto_join
    assert config.ui_enabled is not disable_ui
    assert config.enable_syslog and config.syslog_facility == "LOCAL5"
    assert config.remote_syslog.address == ("10.0.0.9:514" if remote_log else "")
    assert config.telemetry.collection_interval == 15.0
    assert config.telemetry.prometheus_metrics and config.telemetry.publish_node_metrics
    assert config.disable_update_check


def test_ports_and_multiplier_reach_the_config(tmp_path):
    settings = settings_from_environment({**BASE, "RAFTMULTIPLIER": "7", "REGION": "west"})
    config = load(tmp_path, render_server_config(settings, data_dir="/d",
                                                 ports=Ports(http=5646, rpc=5647, serf=5648)))
    assert (config.ports.http, config.ports.rpc, config.ports.serf) == (5646, 5647, 5648)
    assert config.server.raft_multiplier == 7 and config.region == "west"


def test_server_join_is_rendered_and_filled_from_retryjoin(tmp_path):
    """issue 4 names server_join among the keys: it is always there (empty: the
    peers come from Consul) and RETRYJOIN fills it; the agent takes the entries
    as its raft peers, port 4648 by default."""
    empty = render_server_config(settings_from_environment(BASE), data_dir="/d")
    assert "server_join {\n    retry_join = []\n  }" in empty
    assert load(tmp_path, empty).server.server_join == []
    settings = settings_from_environment({**BASE, "BOOTSTRAP": "3",
                                          "RETRYJOIN": "10.0.0.6,10.0.0.7:5648"})
    config = load(tmp_path, render_server_config(settings, data_dir="/d"))
    assert config.server.server_join == ["10.0.0.6:4648", "10.0.0.7:5648"]
    assert config.raft_peers() == ["10.0.0.6:4648", "10.0.0.7:5648"]


def test_one_consul_server_renders_no_fallback_key(tmp_path):
    settings = settings_from_environment({**BASE, "CONSULSERVERS": "10.0.0.2:8501"})
    text = render_server_config(settings, data_dir="/d")
    assert "fallback_addresses" not in text
    assert load(tmp_path, text).consul.addresses() == ["10.0.0.2:8501"]


def test_an_ipv6_jail_renders_a_config_that_binds_and_advertises_it(tmp_path):
    settings = settings_from_environment({**BASE, "IP": "fd00::5",
                                          "CONSULSERVERS": "fd00::2,[fd00::3]:8501"})
    config = load(tmp_path, render_server_config(settings, data_dir="/d"))
    assert config.bind_address("http") == "[fd00::5]:4646"
    assert config.advertise_for("rpc") == "[fd00::5]:4647"
    assert config.raft_bind() == "fd00::5:4648"  # PySyncObj's spelling: no brackets
    assert config.consul.addresses() == ["[fd00::2]:8500", "[fd00::3]:8501"]


def test_a_second_file_in_the_directory_overrides_the_rendered_one(tmp_path):
    """The cook owns server.hcl; an operator's own file next to it wins key by key."""
    settings = settings_from_environment(BASE)
    load(tmp_path, render_server_config(settings, data_dir="/d"))
    (tmp_path / "etc/zz-local.hcl").write_text('log_level = "DEBUG"\nserver {\n'
                                               '  raft_multiplier = 3\n}\n')
    config = config_from_flags({"config_paths": [str(tmp_path / "etc")]})
    assert config.log_level == "DEBUG" and config.server.raft_multiplier == 3
    assert config.server.bootstrap_expect == 1 and config.consul.enabled  # kept


@pytest.mark.parametrize("value, literal", [
    ("plain", '"plain"'),
    ('quote " and \\', '"quote \\" and \\\\"'),
    ("${var.x} and %{ if }", '"$${var.x} and %%{ if }"'),
    (True, "true"), (3, "3"), (["a", "b"], '["a", "b"]'),
])
def test_values_become_hcl_literals_that_cannot_escape(tmp_path, value, literal):
    assert hcl_literal(value) == literal
    if isinstance(value, str):
        config = load(tmp_path, f"name = {hcl_literal(value)}\ndata_dir = \"/d\"\n"
                                "server { enabled = true }\n")
        assert config.name == value


def test_templates_are_found_in_a_wheel_and_in_the_source_tree(tmp_path):
    assert templates_dir() == REPO / "templates"
    package = tmp_path / "site-packages/nomadjail"
    (package / "templates").mkdir(parents=True)
    shutil.copy(REPO / "templates" / SERVER_TEMPLATE, package / "templates")
    assert templates_dir(package) == package / "templates"
    with pytest.raises(FileNotFoundError, match="is nomadjail installed completely"):
        templates_dir(tmp_path / "elsewhere/nomadjail")


def test_the_wheel_ships_the_templates_and_rc_scripts():
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    assert build["targets"]["wheel"]["force-include"] == {
        "templates": "nomadjail/templates", "rc.d": "nomadjail/rc.d"}
