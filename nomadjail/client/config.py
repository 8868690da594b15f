"""What a client agent is told by its configuration (Nomad's ``client { ... }`` block)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..helper.artifact_config import ArtifactConfig
from ..structs import ClientHostVolumeConfig, parse_port_ranges
from .templates.config import TemplateConfig

# Nomad's client defaults.
DEFAULT_MAX_KILL_TIMEOUT = 30.0  # seconds; caps every task's kill_timeout
DEFAULT_FINGERPRINT_INTERVAL = 30.0  # seconds between driver health checks
DEFAULT_GC_MAX_ALLOCS = 50  # terminal allocations kept on disk before the oldest go
DEFAULT_ENV_DENYLIST = (
    "CONSUL_TOKEN", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "NOMAD_TOKEN", "VAULT_TOKEN",
    "CONSUL_LICENSE", "NOMAD_LICENSE", "VAULT_LICENSE",
    "CONSUL_LICENSE_PATH", "NOMAD_LICENSE_PATH", "VAULT_LICENSE_PATH",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_METADATA_URL",
    "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_OAUTH_ACCESS_TOKEN",
)


@dataclass
class ClientConfig:
    node_name: str
    data_dir: str  # state in <data_dir>/client, alloc dirs in <data_dir>/alloc
    servers: list[str]  # rpc addresses "127.0.0.1:4647"
    http_addr: str = ""  # advertised "ip:port" of this agent's HTTP API (Node.HTTPAddr)
    datacenter: str = "dc1"
    region: str = "global"
    node_class: str = ""
    node_pool: str = "default"
    meta: dict[str, str] = field(default_factory=dict)
    network_interface: str = ""  # "" = the interface of the default route / loopback
    reserved_cpu: int = 0  # MHz
    reserved_memory_mb: int = 0
    reserved_ports: str = ""  # "22,80-90"
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000
    options: dict[str, str] = field(default_factory=dict)
    update_interval: float = 0.2  # batch window for alloc status updates to servers
    node_id: str | None = None  # persisted in <data_dir>/client/node-id when None
    # Additions beyond the agreed fields (all with Nomad's defaults):
    max_kill_timeout: float = DEFAULT_MAX_KILL_TIMEOUT
    fingerprint_interval: float = DEFAULT_FINGERPRINT_INTERVAL
    gc_max_allocs: int = DEFAULT_GC_MAX_ALLOCS
    cpu_total_compute: int = 0  # MHz; 0 = cores x detected frequency
    alloc_dir: str = ""  # "" = <data_dir>/alloc
    dev_mode: bool = False  # -dev: allocations are destroyed when the client shuts down
    state_dir: str = ""  # "" = <data_dir>/client
    # client { host_volume "name" { path = "/abs" read_only = false } }
    host_volumes: dict[str, ClientHostVolumeConfig] = field(default_factory=dict)
    # client { template { ... } }: how job templates are rendered
    template: TemplateConfig = field(default_factory=TemplateConfig)
    artifact: ArtifactConfig = field(default_factory=ArtifactConfig)  # client { artifact { } }

    def __post_init__(self) -> None:
        try:
            parse_port_ranges(self.reserved_ports)
        except ValueError as err:
            raise ValueError(f"client reserved ports: {err}") from None
        if not 0 < self.min_dynamic_port <= self.max_dynamic_port <= 65535:
            raise ValueError(f"client dynamic port range {self.min_dynamic_port}-"
                             f"{self.max_dynamic_port} is invalid")
        for name, volume in self.host_volumes.items():
            if not os.path.isabs(volume.path):
                raise ValueError(f'client host_volume "{name}": path must be absolute, got '
                                 f"{volume.path!r}")

    @property
    def alloc_root(self) -> str:
        return self.alloc_dir or os.path.join(self.data_dir, "alloc")

    @property
    def client_dir(self) -> str:
        return self.state_dir or os.path.join(self.data_dir, "client")

    def env_denylist(self) -> set[str]:
        """Host variables tasks never inherit (``options["env.denylist"]`` replaces the list)."""
        raw = self.options.get("env.denylist", self.options.get("env.blacklist"))
        if raw is None:
            return set(DEFAULT_ENV_DENYLIST)
        return {name.strip() for name in raw.split(",") if name.strip()}
