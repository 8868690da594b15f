"""What the pot driver needs from the rest of nomadjail, piece by piece.

Agent config -> client config -> node ``HostVolumes`` -> scheduler feasibility ->
the task's mounts; the ``plugin "pot"`` block -> driver settings; and Nomad's
``alloc signal`` command.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from nomadjail.agent.config import AgentConfig, merge
from nomadjail.agent.config_file import ConfigError, load_config_file
from nomadjail.cli.main import cli
from nomadjail.cli.meta import CliEnv
from nomadjail.client.allocdir import AllocDir
from nomadjail.client.config import ClientConfig
from nomadjail.client.fingerprint import fingerprint_node
from nomadjail.client.hooks import HookContext, HookError, VolumesHook
from nomadjail.drivers.mock import MockDriver
from nomadjail.drivers.registry import build_drivers
from nomadjail.http.stubs import alloc_stub
from nomadjail.pot_driver import PotDriver, register, settings_from_plugin_config
from nomadjail.scheduler.asks import group_ask
from nomadjail.scheduler.feasibility import has_host_volumes
from nomadjail.structs import ClientHostVolumeConfig, VolumeMount, VolumeRequest, to_api
from nomadjail.testing import mock_alloc, mock_job, mock_node
from nomadjail.testing.fake_nomad import FakeNomad


def test_host_volumes_travel_from_the_agent_config_to_the_node(tmp_path) -> None:
    config_path = tmp_path / "client.hcl"
    config_path.write_text('client {\n  enabled = true\n  host_volume "data" {\n'
                           f'    path = "{tmp_path}"\n    read_only = true\n  }}\n}}\n')
    agent_config = merge(AgentConfig(), load_config_file(str(config_path)))
    assert agent_config.client.host_volumes == {"data": {"path": str(tmp_path),
                                                         "read_only": True}}
    client_config = ClientConfig(node_name="n", data_dir=str(tmp_path), servers=[],
                                 host_volumes={"data": ClientHostVolumeConfig(
                                     name="data", path=str(tmp_path), read_only=True)})
    node = fingerprint_node(client_config, node_id="id", secret_id="s", drivers={})
    assert to_api(node)["HostVolumes"] == {"data": {"Name": "data", "Path": str(tmp_path),
                                                    "ReadOnly": True}}


def test_host_volume_config_errors_name_the_problem(tmp_path) -> None:
    bad = tmp_path / "bad.hcl"
    bad.write_text('client {\n  host_volume "data" {\n    pth = "/srv"\n  }\n}\n')
    with pytest.raises(ConfigError, match='unknown key "pth" in host_volume "data"; did you '
                                          'mean "path"'):
        load_config_file(str(bad))
    with pytest.raises(ValueError, match='host_volume "data": path must be absolute'):
        ClientConfig(node_name="n", data_dir=str(tmp_path), servers=[], host_volumes={
            "data": ClientHostVolumeConfig(name="data", path="relative")})


def test_feasibility_needs_the_host_volume_and_respects_read_only() -> None:
    node = mock_node()
    node.host_volumes = {"data": ClientHostVolumeConfig(name="data", path="/srv",
                                                        read_only=True)}
    assert has_host_volumes(node, (("data", True),))
    assert not has_host_volumes(node, (("data", False),))  # read-write asked of a ro volume
    assert not has_host_volumes(node, (("other", True),))
    job = mock_job()
    job.task_groups[0].volumes = {"v": VolumeRequest(name="v", type="host", source="data",
                                                     read_only=True)}
    ask = group_ask(job, job.task_groups[0])
    assert ask.host_volumes == (("data", True),) and ask.escapes_class


def _hook_context(tmp_path, node_volumes: dict) -> HookContext:
    job = mock_job()
    group = job.task_groups[0]
    group.volumes = {"v": VolumeRequest(name="v", type="host", source="data")}
    task = group.tasks[0]
    task.volume_mounts = [VolumeMount(volume="v", destination="/srv/data", read_only=True)]
    node = mock_node()
    node.host_volumes = node_volumes
    alloc = mock_alloc(job, node)
    alloc_dir = AllocDir(str(tmp_path), alloc.id)
    config = ClientConfig(node_name="n", data_dir=str(tmp_path), servers=[])
    driver = MockDriver()
    return HookContext(alloc=alloc, task=task, node=node, config=config, driver=driver,
                       capabilities=driver.capabilities(), alloc_dir=alloc_dir,
                       task_dir=alloc_dir.task_dir(task.name), emit=lambda event: None)


def test_volume_mounts_become_task_mounts(tmp_path) -> None:
    ctx = _hook_context(tmp_path, {"data": ClientHostVolumeConfig(name="data", path="/srv")})
    VolumesHook().prestart(ctx)
    assert [(m.host_path, m.task_path, m.readonly) for m in ctx.volume_mounts] == [
        ("/srv", "/srv/data", True)]


def test_a_missing_host_volume_fails_the_start_with_an_event(tmp_path) -> None:
    ctx = _hook_context(tmp_path, {})
    with pytest.raises(HookError, match="no host volume named: data") as failure:
        VolumesHook().prestart(ctx)
    assert failure.value.event is not None and failure.value.event.type == "Setup Failure"


def test_plugin_config_builds_the_driver_and_rejects_typos() -> None:
    register()
    drivers = build_drivers(["pot"], {"pot": {"pot_bin": "/usr/local/bin/pot",
                                              "stats_interval": "5s"}})
    driver = drivers["pot"]
    assert isinstance(driver, PotDriver)
    assert driver.settings.pot_bin == "/usr/local/bin/pot"
    assert driver.settings.stats_interval == 5.0 and not driver.settings.test_only_allow_any_os
    with pytest.raises(ValueError, match='unknown key .pot_binary. in plugin "pot" config; '
                                         'did you mean "pot_bin"'):
        settings_from_plugin_config({"pot_binary": "/x"})
    with pytest.raises(ValueError, match="stats_interval"):
        settings_from_plugin_config({"stats_interval": "soon"})


def test_alloc_signal_command_sends_nomads_request() -> None:
    fake = FakeNomad()
    alloc = mock_alloc(mock_job(), mock_node())
    fake.on("GET", "/v1/allocations", [alloc_stub(alloc)])
    fake.on("GET", f"/v1/allocation/{alloc.id}", to_api(alloc))
    fake.on("POST", f"/v1/client/allocation/{alloc.id}/signal", {})
    env = CliEnv(transport_for=fake.at, environ={}, now=lambda: 0.0,
                 sleep=lambda seconds: None, stdout_isatty=lambda: False)
    task = alloc.job.task_groups[0].tasks[0].name

    def run(*args: str):
        return CliRunner().invoke(cli, ["alloc", "signal", *args], obj=env,
                                  catch_exceptions=False)

    result = run("-s", "SIGHUP", alloc.id[:8], task)
    assert result.exit_code == 0, result.output
    assert fake.last("POST", f"/v1/client/allocation/{alloc.id}/signal").body == {
        "Task": task, "Signal": "SIGHUP"}
    assert run(alloc.id[:8]).exit_code == 0
    assert fake.last("POST", f"/v1/client/allocation/{alloc.id}/signal").body == {
        "Task": "", "Signal": "SIGKILL"}
    missing = run(alloc.id[:8], "nope")
    assert missing.exit_code == 1
    assert "Could not find task named: nope" in missing.output
