"""The server tunables an agent's config file sets and a server runs with, and
their defaults (Nomad's, ``nomad/config.go``): written here once.

Two dataclasses carry them: the agent's ``server { ... }`` block
(:class:`nomadjail.agent.config.ServerSettings`) and what a server is started
with (:class:`nomadjail.server.config.ServerConfig`).  Both *embed*
:class:`ServerTunables` the way a Go struct embeds another -- they inherit it,
so its fields are their own: ``server { job_gc_threshold = "8h" }`` still lands
on ``settings.job_gc_threshold`` and ``ServerConfig(gc_interval=0.2)`` still
works, while the defaults exist in this one place.  The fields are keyword-only,
so a class embedding them keeps its own required fields first.

Why here and not in ``server/``: the agent reads its config before it builds a
server, and ``nomadjail.agent.config`` must stay cheap to import, but importing
anything under ``nomadjail.server`` runs the package's ``__init__``, which loads
the whole server (it doubled that import's time once).  ``server/`` may not
import ``agent/``.  ``helper/`` is the floor both may import, standard library
only.

Durations are seconds (floats), as in both configs, not the API's nanoseconds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

_MINUTE = 60.0  # seconds (not the nanoseconds of nomadjail.structs.MINUTE)
_HOUR = 60 * _MINUTE


@dataclass(slots=True, kw_only=True)
class ServerTunables:
    """Garbage collection and heartbeat settings (Nomad's names, seconds)."""

    # Garbage collection: how often the leader collects (Nomad's job_gc_interval),
    # and how long an object must have been finished before it goes.
    gc_interval: float = 5 * _MINUTE
    eval_gc_threshold: float = _HOUR
    batch_eval_gc_threshold: float = 24 * _HOUR
    job_gc_threshold: float = 4 * _HOUR
    deployment_gc_threshold: float = _HOUR
    node_gc_threshold: float = 24 * _HOUR
    # Client heartbeats: the TTL handed out never drops below min_heartbeat_ttl and
    # grows so the leader sees at most max_heartbeats_per_second; a node is down
    # heartbeat_grace after its TTL ran out.
    min_heartbeat_ttl: float = 10.0
    heartbeat_grace: float = 10.0
    max_heartbeats_per_second: float = 50.0

    def tunables(self) -> dict[str, Any]:
        """Just the tunables of this object (which may embed them in something larger),
        by field name: what one embedding class passes to another's constructor."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(ServerTunables)}
