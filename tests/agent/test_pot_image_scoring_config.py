"""The scheduler's pot image-cache boost is on by default and turned off in the agent's
config file: ``server { default_scheduler_config { pot_image_scoring_enabled = false } }``."""

from __future__ import annotations

from pathlib import Path

import pytest

from nomadjail.agent.agent import Agent
from nomadjail.agent.command import config_from_flags
from nomadjail.agent.config_file import ConfigError


def server_config(tmp_path: Path, block: str):
    path = tmp_path / "agent.hcl"
    path.write_text(f'data_dir = "{tmp_path}/data"\nserver {{\n  enabled = true\n{block}}}\n')
    config = config_from_flags({"config_paths": [str(path)]})
    return config, Agent(config)._server_config()


def test_on_by_default_and_off_by_the_config_file(tmp_path: Path) -> None:
    config, server = server_config(tmp_path, "")
    assert config.server.pot_image_scoring is True and server.pot_image_scoring is True
    config, server = server_config(
        tmp_path, "  default_scheduler_config {\n    pot_image_scoring_enabled = false\n  }\n")
    assert config.server.pot_image_scoring is False and server.pot_image_scoring is False


def test_a_value_that_is_not_a_bool_is_refused_with_where(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pot_image_scoring_enabled"):
        server_config(tmp_path, '  default_scheduler_config {\n'
                                '    pot_image_scoring_enabled = "maybe"\n  }\n')


def test_the_servers_schedulers_get_the_flag() -> None:
    from nomadjail.server.config import ServerConfig
    from nomadjail.server.server import _default_scheduler_factory

    for enabled in (True, False):
        factory = _default_scheduler_factory(ServerConfig(node_name="s1",
                                                          pot_image_scoring=enabled))
        # a functools.partial, typed as the plain callable the server keeps
        assert factory.keywords == {"pot_image_scoring": enabled}  # type: ignore[attr-defined]
