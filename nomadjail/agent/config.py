"""The agent's configuration: Nomad's agent config keys, defaults and merge rules.

Sources, later ones winning (Nomad's order): built-in defaults, ``-dev``
defaults, every ``-config`` file (a directory contributes its ``*.hcl`` and
``*.json`` files in lexical order), then command-line flags.  Merging is
per key: a later file that sets ``server { enabled = true }`` does not erase
an earlier ``server { bootstrap_expect = 3 }``.  Lists and maps follow
Nomad's ``Config.Merge`` (``command/agent/config.go``), declared per field
with :class:`MergeRule`:

==========================  ===============================================
``server.enabled``          true wins: a later file cannot turn a role off
``client.enabled``          (Nomad's ``if b.Enabled { result.Enabled = true }``)
``client.servers``          appended (every file's servers are kept)
``consul.tags``             appended
``server.server_join``      replaced, unless the later list is empty
``client.meta``/``options`` merged key by key, later values winning
``client.host_volume``      by name: a later volume replaces the earlier
``plugin "<name>"``         by name: a later non-empty config replaces the
                            earlier one whole (not key by key)
other lists                 replaced
==========================  ===============================================
"""

from __future__ import annotations

import dataclasses
import enum
import socket
from dataclasses import dataclass, field
from typing import Any

from ..helper.artifact_config import ArtifactConfig
from ..helper.server_tunables import ServerTunables
from .addresses import join_host_port, raft_address, split_host_port

DEFAULT_HTTP_PORT = 4646
DEFAULT_RPC_PORT = 4647
DEFAULT_SERF_PORT = 4648
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF")
DEFAULT_CONSUL_PORT = 8500
# Task drivers every client has unless disabled in their plugin block (Nomad's
# built-in drivers), and those that run only when enabled there.
BUILT_IN_DRIVERS = ("pot",)
OPT_IN_DRIVERS = ("raw_exec",)


class MergeRule(enum.StrEnum):
    """How a later config file's value combines with an earlier one (see the module
    docstring); a field's rule is in its ``metadata["merge"]``."""

    REPLACE = "replace"  # the later value wins (values, and lists by default)
    APPEND = "append"  # lists: the later entries follow the earlier ones
    REPLACE_UNLESS_EMPTY = "replace-unless-empty"  # lists: an empty later list keeps the earlier
    MERGE_KEYS = "merge-keys"  # maps: key by key, later values winning (maps by default)
    REPLACE_ENTRIES = "replace-entries"  # maps of named blocks: a later non-empty block
    # replaces the earlier block of that name whole
    TRUE_WINS = "true-wins"  # flags: once true, a later false does not turn it off


def _rule(rule: MergeRule) -> dict[str, MergeRule]:
    return {"merge": rule}


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
class ServerSettings(ServerTunables):
    """Nomad's ``server { ... }`` block.  The garbage collection and heartbeat keys
    (``job_gc_interval``, ``*_gc_threshold``, ``heartbeat_grace`` ...) and their
    defaults come embedded from :class:`~nomadjail.helper.server_tunables.ServerTunables`,
    which the server's own config embeds too."""

    enabled: bool = field(default=False, metadata=_rule(MergeRule.TRUE_WINS))
    bootstrap_expect: int = 1
    num_schedulers: int = 0  # 0 = one per core
    # default_scheduler_config { pot_image_scoring_enabled = ... }: prefer nodes that hold
    # a pot task's image (nomadjail's own scheduler option)
    pot_image_scoring: bool = True
    raft_multiplier: int = 1
    encrypt: str = ""
    # server_join { retry_join = [...] }: other servers' raft addresses (port 4648 if none)
    server_join: list[str] = field(default_factory=list,
                                   metadata=_rule(MergeRule.REPLACE_UNLESS_EMPTY))


@dataclass(slots=True)
class ClientSettings:
    enabled: bool = field(default=False, metadata=_rule(MergeRule.TRUE_WINS))
    servers: list[str] = field(default_factory=list, metadata=_rule(MergeRule.APPEND))
    node_class: str = ""
    node_pool: str = "default"
    meta: dict[str, str] = field(default_factory=dict, metadata=_rule(MergeRule.MERGE_KEYS))
    options: dict[str, str] = field(default_factory=dict, metadata=_rule(MergeRule.MERGE_KEYS))
    network_interface: str = ""
    reserved_cpu: int = 0
    reserved_memory: int = 0
    reserved_ports: str = ""
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000
    # host_volume "name" { path read_only } -> {"name": {"path": ..., "read_only": ...}}
    host_volumes: dict[str, dict[str, Any]] = field(
        default_factory=dict, metadata=_rule(MergeRule.REPLACE_ENTRIES))
    # template { ... }: how job templates are rendered (seconds for the durations)
    template_disable_file_sandbox: bool = False
    template_function_denylist: list[str] = field(
        default_factory=lambda: ["plugin", "writeToFile"])
    template_max_stale: float = 87600 * 3600.0
    template_block_query_wait: float = 300.0
    template_watch_interval: float = 2.0  # nomadjail's own: the poll of template `file` data
    artifact: ArtifactConfig = field(default_factory=ArtifactConfig)  # artifact { ... }


@dataclass(slots=True)
class ConsulSettings:
    """Nomad's ``consul { ... }`` block.  ``enabled`` is set when the block is
    present: only then does the agent register itself in Consul or find its peers
    there (Nomad always tries; an appliance without Consul should not log connection
    errors forever).  The client's ``provider = "consul"`` services go to ``address``
    either way -- 127.0.0.1:8500 without a block, as in Nomad -- but without one the
    client stays off the wire until a job has such a service.

    ``fallback_addresses`` is nomadjail's own key (not in Nomad, whose agent
    talks to one local Consul agent): more Consul addresses, tried in turn
    when the one in use does not answer.  The appliance has no Consul agent
    in the jail and talks to the ``CONSULSERVERS`` directly, so it needs them all.
    """

    enabled: bool = False
    address: str = "127.0.0.1:8500"  # host:port, or http(s)://host:port
    fallback_addresses: list[str] = field(default_factory=list)
    token: str = ""
    auth: str = ""  # "user:password" for HTTP basic auth
    ssl: bool = False
    verify_ssl: bool = True
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    share_ssl: bool = True  # Connect's: accepted, nomadjail has no Connect
    server_service_name: str = "nomad"
    server_http_check_name: str = "Nomad Server HTTP Check"
    server_serf_check_name: str = "Nomad Server Serf Check"
    server_rpc_check_name: str = "Nomad Server RPC Check"
    client_service_name: str = "nomad-client"
    client_http_check_name: str = "Nomad Client HTTP Check"
    tags: list[str] = field(default_factory=list, metadata=_rule(MergeRule.APPEND))
    auto_advertise: bool = True
    checks_use_advertise: bool = False  # the agent's own checks use advertised addresses
    server_auto_join: bool = True
    client_auto_join: bool = True
    allow_unauthenticated: bool = True
    timeout: float = 5.0  # seconds, per request

    def addresses(self) -> list[str]:
        """``address`` first, then the fallbacks: the order they are tried in."""
        return [self.address, *(a for a in self.fallback_addresses if a != self.address)]


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
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict,
                                               metadata=_rule(MergeRule.REPLACE_ENTRIES))
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
        """The host (no port, IPv6 without brackets) a listener binds to."""
        return (getattr(self.addresses, listener) or self.bind_addr).strip("[]")

    def bind_address(self, listener: str) -> str:
        """``host:port`` a listener binds to (``[v6]:port`` for IPv6)."""
        return join_host_port(self.bind_for(listener), getattr(self.ports, listener))

    def advertise_host_port(self, listener: str) -> tuple[str, int]:
        """(host, port) others should use to reach a listener (Nomad's advertise);
        the host without brackets."""
        port = getattr(self.ports, listener)
        explicit = getattr(self.advertise, listener)
        if explicit:
            return split_host_port(explicit, port)
        host = self.bind_for(listener)
        if host in ("0.0.0.0", "::", ""):
            host = _default_ip()
        return host, port

    def advertise_for(self, listener: str) -> str:
        """The ``ip:port`` (``[v6]:port``) others should use to reach a listener."""
        return join_host_port(*self.advertise_host_port(listener))

    def raft_bind(self) -> str:
        """This server's raft node address, in PySyncObj's spelling."""
        return raft_address(self.bind_for("serf"), self.ports.serf)

    def raft_advertise(self) -> str:
        """The raft node address other servers know this one by (PySyncObj's spelling)."""
        return raft_address(*self.advertise_host_port("serf"))

    def raft_peers(self) -> list[str]:
        """``server_join`` entries as raft node addresses (Nomad's default port 4648)."""
        return [raft_address(*split_host_port(peer, DEFAULT_SERF_PORT))
                for peer in self.server.server_join]

    def raw_exec_enabled(self) -> bool:
        """raw_exec runs anything as the agent's user, so it is off unless enabled
        (Nomad's rule); ``-dev`` enables it."""
        setting = self.plugins.get("raw_exec", {}).get("enabled")
        if setting is None:
            return self.dev_mode
        return _plugin_flag(setting)

    def enabled_drivers(self) -> list[str]:
        """The task drivers a client builds, in this order: raw_exec when enabled
        (see :meth:`raw_exec_enabled`); the built-in drivers (``pot``) unless their
        block says ``plugin "pot" { config { enabled = false } }`` -- like Nomad's
        built-in drivers they need no block, and report themselves undetected where
        they cannot work; then every other driver named in a ``plugin`` block and
        not disabled there."""
        names = ["raw_exec"] if self.raw_exec_enabled() else []
        for name in (*BUILT_IN_DRIVERS, *self.plugins):
            if name in names or name in OPT_IN_DRIVERS:
                continue
            if _plugin_flag(self.plugins.get(name, {}).get("enabled", True)):
                names.append(name)
        return names


def dev_config() -> AgentConfig:
    """What ``-dev`` means: one process, in-memory server, client, raw_exec, UI on loopback."""
    config = AgentConfig(bind_addr="127.0.0.1", dev_mode=True)
    config.server.enabled = True
    config.server.bootstrap_expect = 1
    config.client.enabled = True
    config.plugins["raw_exec"] = {"enabled": True}
    return config


def _plugin_flag(value: Any) -> bool:
    """A plugin's ``enabled``: true/false, or the strings and numbers HCL turns into them.
    Anything else counts as true here; the driver's own config check rejects it."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0")
    return value is not False and value != 0


def _default_ip() -> str:
    """The address of the interface with the default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET-1: connect() on UDP sends nothing
            return sock.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def merge(base: Any, overlay: dict[str, Any]) -> Any:
    """``base`` (a config dataclass) with the keys present in ``overlay`` merged in
    by each field's :class:`MergeRule`; nested dataclasses merge recursively.
    ``base`` is left untouched."""
    rules = {f.name: f.metadata.get("merge") for f in dataclasses.fields(base)}
    changes = {}
    for name, value in overlay.items():
        current = getattr(base, name)
        if dataclasses.is_dataclass(current) and isinstance(value, dict):
            changes[name] = merge(current, value)
        else:
            changes[name] = _merge_value(current, value, rules.get(name))
    return dataclasses.replace(base, **changes)


def _merge_value(current: Any, value: Any, rule: MergeRule | None) -> Any:
    if rule is MergeRule.TRUE_WINS:
        return bool(current) or bool(value)
    if isinstance(current, list) and isinstance(value, list):
        if rule is MergeRule.APPEND:
            return [*current, *value]
        if rule is MergeRule.REPLACE_UNLESS_EMPTY and not value:
            return list(current)
        return list(value)
    if isinstance(current, dict) and isinstance(value, dict):
        merged = dict(current)
        for key, item in value.items():
            if rule is MergeRule.REPLACE_ENTRIES and not item and key in merged:
                continue  # an empty block names the entry but changes nothing
            merged[key] = dict(item) if isinstance(item, dict) else item
        return merged
    return value
