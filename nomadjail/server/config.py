"""What a server is told at start: identity, addresses, raft peers and tunables.

The agent fills this from its config file and flags (``server { ... }`` block,
``-dev``); defaults are Nomad's.  Durations are seconds here (floats), not
the nanoseconds of the API.  Every default is written once: the garbage
collection and heartbeat tunables, which the agent's config file sets too,
come embedded from :class:`~nomadjail.helper.server_tunables.ServerTunables`;
the eval broker's are the constants of :mod:`.eval_broker`, whose constructor
defaults they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..helper.server_tunables import ServerTunables
from ..structs import Job
from .eval_broker import (
    DEFAULT_DELIVERY_LIMIT,
    DEFAULT_INITIAL_NACK_DELAY,
    DEFAULT_NACK_TIMEOUT,
    DEFAULT_SUBSEQUENT_NACK_DELAY,
)

# The Nomad version this server speaks (reported in `server members` and to clients).
NOMAD_COMPAT_VERSION = "1.9.0"


@dataclass
class ServerConfig(ServerTunables):
    node_name: str
    region: str = "global"
    datacenter: str = "dc1"
    data_dir: str | None = None            # None = in-memory (dev mode)
    rpc_advertise: str = "127.0.0.1:4647"  # what /v1/status/leader and peers report
    raft_bind: str = "127.0.0.1:4648"      # where raft listens (may be 0.0.0.0:4648)
    raft_advertise: str = ""               # this server's raft identity, as its peers
    #                                        know it ("" = raft_bind); PySyncObj's spelling
    raft_peers: list[str] = field(default_factory=list)   # other servers' raft addresses
    bootstrap_expect: int = 1
    raft_multiplier: int = 1
    num_schedulers: int = 2
    pot_image_scoring: bool = True         # the schedulers boost nodes holding pot images
    failover_heartbeat_ttl: float = 300.0  # every node's TTL when a new leader takes over
    encrypt: str | None = None             # gossip key (base64); also encrypts raft traffic
    job_validators: list[Callable[[Job], list[str]]] = field(default_factory=list)
    # Eval broker (Nomad's defaults; tests shrink them).
    eval_nack_timeout: float = DEFAULT_NACK_TIMEOUT
    eval_delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    eval_initial_nack_delay: float = DEFAULT_INITIAL_NACK_DELAY
    eval_subsequent_nack_delay: float = DEFAULT_SUBSEQUENT_NACK_DELAY
    # A failed eval's follow-up waits this long plus up to failed_followup_jitter
    # (Nomad's EvalFailedFollowupBaselineDelay and EvalFailedFollowupDelayRange).
    failed_followup_delay: float = 60.0
    failed_followup_jitter: float = 300.0
    build: str = NOMAD_COMPAT_VERSION
