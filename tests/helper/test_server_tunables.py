"""One source for the GC and heartbeat defaults: the agent's server block and the
server's config both embed ServerTunables."""

from __future__ import annotations

import dataclasses

from nomadjail.agent.config import ServerSettings
from nomadjail.helper.server_tunables import ServerTunables
from nomadjail.server import ServerConfig

TUNABLES = [f.name for f in dataclasses.fields(ServerTunables)]


def test_the_defaults_are_nomads() -> None:
    t = ServerTunables()
    assert (t.gc_interval, t.eval_gc_threshold, t.batch_eval_gc_threshold, t.job_gc_threshold,
            t.deployment_gc_threshold, t.node_gc_threshold) == (
        300.0, 3600.0, 86400.0, 14400.0, 3600.0, 86400.0)
    assert (t.min_heartbeat_ttl, t.heartbeat_grace, t.max_heartbeats_per_second) == (
        10.0, 10.0, 50.0)


def test_agent_and_server_configs_embed_the_same_fields_and_defaults() -> None:
    settings, config = ServerSettings(), ServerConfig(node_name="s")
    assert isinstance(settings, ServerTunables) and isinstance(config, ServerTunables)
    assert settings.tunables() == config.tunables() == ServerTunables().tunables()
    assert sorted(settings.tunables()) == sorted(TUNABLES)


def test_embedding_keeps_the_flat_keyword_names_and_own_required_fields_first() -> None:
    config = ServerConfig("s", gc_interval=0.2, heartbeat_grace=1.0)
    assert (config.node_name, config.gc_interval, config.heartbeat_grace) == ("s", 0.2, 1.0)
    assert dataclasses.replace(config, node_gc_threshold=5.0).node_gc_threshold == 5.0


def test_tunables_are_just_the_embedded_fields_with_the_objects_values() -> None:
    settings = ServerSettings(enabled=True, job_gc_threshold=7.0, min_heartbeat_ttl=3.0)
    tunables = settings.tunables()
    assert "enabled" not in tunables
    assert (tunables["job_gc_threshold"], tunables["min_heartbeat_ttl"]) == (7.0, 3.0)
    assert ServerConfig(node_name="s", **tunables).tunables() == tunables
