"""The agent's configuration: Nomad's agent config keys, defaults and merge rules.

Sources, later ones winning (Nomad's order): built-in defaults, ``-dev``
defaults, every ``-config`` file (a directory contributes its ``*.hcl`` and
``*.json`` files in lexical order), then command-line flags.  Merging is
per key: a later file that sets ``server { enabled = true }`` does not erase
an earlier ``server { bootstrap_expect = 3 }``.
"""

from __future__ import annotations

import dataclasses
import socket
from dataclasses import dataclass, field
from typing import Any

DEFAULT_HTTP_PORT = 4646
DEFAULT_RPC_PORT = 4647
DEFAULT_SERF_PORT = 4648
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF")


@dataclass(slots=True)
class Ports:
    http: int = DEFAULT_HTTP_PORT
    rpc: int = DEFAULT_RPC_PORT
    serf: int = DEFAULT_SERF_PORT


@dataclass(slots=True)
class Addresses:
    """Per-listener bind addresses; empty means ``bind_addr``."""

    http: str = ""
    rpc: str = ""
    serf: str = ""


@dataclass(slots=True)
class ServerSettings:
    enabled: bool = False
    bootstrap_expect: int = 1
    num_schedulers: int = 0  # 0 = one per core
    heartbeat_grace: float = 10.0  # seconds
    min_heartbeat_ttl: float = 10.0
    max_heartbeats_per_second: float = 50.0
    raft_multiplier: int = 1
    encrypt: str = ""
    server_join: list[str] = field(default_factory=list)
    # Garbage collection, seconds (Nomad's job_gc_interval and *_gc_threshold keys).
    gc_interval: float = 300.0
    eval_gc_threshold: float = 3600.0
    batch_eval_gc_threshold: float = 24 * 3600.0
    job_gc_threshold: float = 4 * 3600.0
    deployment_gc_threshold: float = 3600.0
    node_gc_threshold: float = 24 * 3600.0


@dataclass(slots=True)
class ClientSettings:
    enabled: bool = False
    servers: list[str] = field(default_factory=list)
    node_class: str = ""
    node_pool: str = "default"
    meta: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    network_interface: str = ""
    reserved_cpu: int = 0
    reserved_memory: int = 0
    reserved_ports: str = ""
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000
    # host_volume "name" { path read_only } -> {"name": {"path": ..., "read_only": ...}}
    host_volumes: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class ConsulSettings:
    """Nomad's ``consul { ... }`` block.  ``enabled`` is set when the block is
    present: only then does the agent talk to Consul (Nomad always tries; an
    appliance without Consul should not log connection errors forever)."""

    enabled: bool = False
    address: str = "127.0.0.1:8500"  # host:port, or http(s)://host:port
    token: str = ""
    ssl: bool = False
    server_service_name: str = "nomad"
    client_service_name: str = "nomad-client"
    tags: list[str] = field(default_factory=list)
    auto_advertise: bool = True
    server_auto_join: bool = True
    client_auto_join: bool = True
    timeout: float = 5.0  # seconds, per request


@dataclass(slots=True)
class RemoteSyslogSettings:
    """nomadjail's ``remote_syslog { ... }`` block (not in Nomad): the agent's log
    lines also go to a syslog server over TCP, RFC 5424."""

    address: str = ""  # host or host:port (514); empty = off
    buffer_lines: int = 10000  # lines kept while the server is unreachable


@dataclass(slots=True)
class TelemetrySettings:
    """Nomad's ``telemetry { ... }`` block; accepted and reported, used by metrics."""

    collection_interval: float = 1.0  # seconds
    publish_allocation_metrics: bool = False
    publish_node_metrics: bool = False
    prometheus_metrics: bool = False
    disable_hostname: bool = False
    use_node_name: bool = False


@dataclass(slots=True)
class AgentConfig:
    name: str = ""
    region: str = "global"
    datacenter: str = "dc1"
    data_dir: str = ""
    bind_addr: str = "0.0.0.0"
    log_level: str = "INFO"
    ports: Ports = field(default_factory=Ports)
    addresses: Addresses = field(default_factory=Addresses)
    advertise: Addresses = field(default_factory=Addresses)
    server: ServerSettings = field(default_factory=ServerSettings)
    client: ClientSettings = field(default_factory=ClientSettings)
    ui_enabled: bool = True
    # plugin "<driver>" { config { ... } }: per-driver settings, e.g. raw_exec enabled
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)
    dev_mode: bool = False
    import_jobs: str = ""
    consul: ConsulSettings = field(default_factory=ConsulSettings)
    # Logging to syslog: the local syslog socket (Nomad's enable_syslog) and a remote
    # server (nomadjail's remote_syslog); both use syslog_facility.
    enable_syslog: bool = False
    syslog_facility: str = "LOCAL0"
    remote_syslog: RemoteSyslogSettings = field(default_factory=RemoteSyslogSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    # Accepted for Nomad compatibility; a server does not leave the raft
    # configuration on a signal (remove it with `operator raft remove-peer`).
    leave_on_interrupt: bool = False
    leave_on_terminate: bool = False
    disable_update_check: bool = False

    def node_name(self) -> str:
        return self.name or socket.gethostname()

    def bind_for(self, listener: str) -> str:
        return getattr(self.addresses, listener) or self.bind_addr

    def advertise_for(self, listener: str) -> str:
        """The ``ip:port`` others should use to reach a listener (Nomad's advertise)."""
        explicit = getattr(self.advertise, listener)
        port = getattr(self.ports, listener)
        if explicit:
            return explicit if ":" in explicit else f"{explicit}:{port}"
        host = self.bind_for(listener)
        if host in ("0.0.0.0", "::", ""):
            host = _default_ip()
        return f"{host}:{port}"

    def raw_exec_enabled(self) -> bool:
        return self.dev_mode or bool(self.plugins.get("raw_exec", {}).get("enabled"))


def dev_config() -> AgentConfig:
    """What ``-dev`` means: one process, in-memory server, client, raw_exec, UI on loopback."""
    config = AgentConfig(bind_addr="127.0.0.1", dev_mode=True)
    config.server.enabled = True
    config.server.bootstrap_expect = 1
    config.client.enabled = True
    config.plugins["raw_exec"] = {"enabled": True}
    return config


def _default_ip() -> str:
    """The address of the interface with the default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: connect() on UDP sends nothing
            return sock.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def merge(base: Any, overlay: dict[str, Any]) -> Any:
    """``base`` (a config dataclass) with the keys present in ``overlay`` replaced;
    nested dataclasses merge recursively, maps merge key by key, lists replace."""
    changes = {}
    for name, value in overlay.items():
        current = getattr(base, name)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[name] = merge(current, value)
        elif isinstance(current, dict) and isinstance(value, dict):
            merged = dict(current)
            for key, item in value.items():
                if isinstance(merged.get(key), dict) and isinstance(item, dict):
                    merged[key] = {**merged[key], **item}
                else:
                    merged[key] = item
            changes[name] = merged
        else:
            changes[name] = value
    return dataclasses.replace(base, **changes)
