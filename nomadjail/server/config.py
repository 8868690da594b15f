"""What a server is told at start: identity, addresses, raft peers and tunables.

The agent fills this from its config file and flags (``server { ... }`` block,
``-dev``); defaults are Nomad's.  Durations are seconds here (floats), not
the nanoseconds of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..structs import Job

# The Nomad version this server speaks (reported in `server members` and to clients).
NOMAD_COMPAT_VERSION = "1.9.0"


@dataclass
class ServerConfig:
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
    min_heartbeat_ttl: float = 10.0        # seconds
    heartbeat_grace: float = 10.0
    max_heartbeats_per_second: float = 50.0
    failover_heartbeat_ttl: float = 300.0
    encrypt: str | None = None             # gossip key (base64); also encrypts raft traffic
    job_validators: list[Callable[[Job], list[str]]] = field(default_factory=list)
    # Eval broker (Nomad's defaults; tests shrink them).
    eval_nack_timeout: float = 60.0
    eval_delivery_limit: int = 3
    eval_initial_nack_delay: float = 1.0
    eval_subsequent_nack_delay: float = 20.0
    # A failed eval's follow-up waits this long plus up to failed_followup_jitter.
    failed_followup_delay: float = 60.0
    failed_followup_jitter: float = 300.0
    # Garbage collection (Nomad's defaults): how often the leader collects, and
    # how old finished objects must be before they go.
    gc_interval: float = 300.0
    eval_gc_threshold: float = 3600.0
    batch_eval_gc_threshold: float = 24 * 3600.0
    job_gc_threshold: float = 4 * 3600.0
    deployment_gc_threshold: float = 3600.0
    node_gc_threshold: float = 24 * 3600.0
    build: str = NOMAD_COMPAT_VERSION
