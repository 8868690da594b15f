"""A client node as the servers know it: identity, fingerprint, capacity, status.

``secret_id`` authenticates the node's RPCs and is never returned by the
public HTTP API (the codec emits it; the http layer blanks it, as Nomad does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .alloc import ZERO_TIME, parse_rfc3339, rfc3339
from .codec import field
from .consts import DEFAULT_NODE_POOL, SECOND, DrainStatus, NodeEligibility, NodeStatus
from .resources import MAX_DYNAMIC_PORT, MIN_DYNAMIC_PORT, NetworkResource


@dataclass(slots=True)
class NodeCpuResources:
    cpu_shares: int = 0
    total_cpu_cores: int = 0
    reservable_cpu_cores: list[int] = field(default_factory=list)


@dataclass(slots=True)
class NodeMemoryResources:
    memory_mb: int = 0


@dataclass(slots=True)
class NodeDiskResources:
    disk_mb: int = 0


@dataclass(slots=True)
class NodeResources:
    cpu: NodeCpuResources = field(default_factory=NodeCpuResources, key="Cpu")
    memory: NodeMemoryResources = field(default_factory=NodeMemoryResources)
    disk: NodeDiskResources = field(default_factory=NodeDiskResources)
    networks: list[NetworkResource] = field(default_factory=list)
    min_dynamic_port: int = MIN_DYNAMIC_PORT
    max_dynamic_port: int = MAX_DYNAMIC_PORT


@dataclass(slots=True)
class NodeReservedCpuResources:
    cpu_shares: int = 0


@dataclass(slots=True)
class NodeReservedMemoryResources:
    memory_mb: int = 0


@dataclass(slots=True)
class NodeReservedDiskResources:
    disk_mb: int = 0


@dataclass(slots=True)
class NodeReservedNetworkResources:
    reserved_host_ports: str = ""


@dataclass(slots=True)
class NodeReservedResources:
    cpu: NodeReservedCpuResources = field(default_factory=NodeReservedCpuResources, key="Cpu")
    memory: NodeReservedMemoryResources = field(default_factory=NodeReservedMemoryResources)
    disk: NodeReservedDiskResources = field(default_factory=NodeReservedDiskResources)
    networks: NodeReservedNetworkResources = field(default_factory=NodeReservedNetworkResources)


@dataclass(slots=True)
class DriverInfo:
    attributes: dict[str, str] = field(default_factory=dict)
    detected: bool = False
    healthy: bool = False
    health_description: str = ""
    update_time: str = ZERO_TIME


@dataclass(slots=True)
class ClientHostVolumeConfig:
    """A host volume a client offers (``client { host_volume "name" { path read_only } }``)."""

    name: str = ""
    path: str = ""
    read_only: bool = False


@dataclass(slots=True)
class NodeEvent:
    message: str = ""
    subsystem: str = ""
    details: dict[str, str] = field(default_factory=dict)
    timestamp: str = ZERO_TIME
    create_index: int = 0


@dataclass(slots=True)
class DrainStrategy:
    """Nomad embeds DrainSpec, so its fields sit at this level in JSON."""

    deadline: int = 0  # ns; < 0 forces everything off at once (-force), 0 means no deadline
    ignore_system_jobs: bool = False
    force_deadline: str = ZERO_TIME
    started_at: str = ZERO_TIME


@dataclass(slots=True)
class DrainMetadata:
    """The node's last drain (Nomad's Node.LastDrain): when it started and last changed,
    how it ended, and the operator's ``-m``/``-meta`` metadata."""

    started_at: str = ZERO_TIME
    updated_at: str = ZERO_TIME
    status: DrainStatus | Literal[""] = ""
    accessor_id: str = field("", key="AccessorID")
    meta: dict[str, str] | None = None


def last_drain_after(node: Node, drain: DrainStrategy | None, *, updated_at: int,
                     meta: dict[str, str] | None, completed: bool) -> DrainMetadata | None:
    """``node.last_drain`` once its drain strategy becomes ``drain`` at ``updated_at``
    (seconds), as Nomad's state store keeps it: a new record when a drain starts, the
    same one updated while it runs, and its end (complete, or canceled by the operator);
    ``meta`` replaces the stored metadata only when given."""
    if node.drain_strategy is None and drain is None:
        return node.last_drain  # not a drain operation
    when = rfc3339(updated_at * SECOND)
    if node.drain_strategy is None or node.last_drain is None:
        # (a drain going on without a record: one started before records were kept)
        started = when if node.drain_strategy is None else rfc3339(
            parse_rfc3339(node.drain_strategy.started_at) // SECOND * SECOND)
        record = DrainMetadata(started_at=started, meta=meta)
    else:
        record = DrainMetadata(started_at=node.last_drain.started_at,
                               accessor_id=node.last_drain.accessor_id,
                               meta=dict(node.last_drain.meta) if node.last_drain.meta
                               is not None else None)
    record.updated_at = when
    if meta:
        record.meta = dict(meta)
    if drain is not None:
        record.status = DrainStatus.DRAINING
    else:
        record.status = DrainStatus.COMPLETE if completed else DrainStatus.CANCELED
    return record


@dataclass(slots=True)
class Node:
    id: str = ""
    secret_id: str = ""
    datacenter: str = "dc1"
    name: str = ""
    http_addr: str = ""
    tls_enabled: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    node_resources: NodeResources = field(default_factory=NodeResources)
    reserved_resources: NodeReservedResources = field(default_factory=NodeReservedResources)
    links: dict[str, str] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    node_class: str = ""
    node_pool: str = DEFAULT_NODE_POOL
    computed_class: str = ""
    drain: bool = False
    drain_strategy: DrainStrategy | None = None
    last_drain: DrainMetadata | None = None
    # "" is Go's zero value ("not given"), which Nomad accepts on registration.
    scheduling_eligibility: NodeEligibility | Literal[""] = NodeEligibility.ELIGIBLE
    status: NodeStatus | Literal[""] = NodeStatus.INITIALIZING
    status_description: str = ""
    status_updated_at: int = 0  # seconds since the epoch, as Nomad
    events: list[NodeEvent] = field(default_factory=list)
    drivers: dict[str, DriverInfo] = field(default_factory=dict)
    host_volumes: dict[str, ClientHostVolumeConfig] = field(default_factory=dict)
    create_index: int = 0
    modify_index: int = 0

    def ready(self) -> bool:
        """Ready, eligible and not draining: the scheduler may place here."""
        return (self.status == NodeStatus.READY and not self.drain
                and self.scheduling_eligibility == NodeEligibility.ELIGIBLE)

    def terminal_status(self) -> bool:
        return self.status == NodeStatus.DOWN

    @property
    def address(self) -> str:
        return self.attributes.get("unique.network.ip-address", "")

    def comparable_capacity(self) -> tuple[int, int]:
        """CPU MHz and memory MB the scheduler may hand out on this node."""
        res, reserved = self.node_resources, self.reserved_resources
        return (res.cpu.cpu_shares - reserved.cpu.cpu_shares,
                res.memory.memory_mb - reserved.memory.memory_mb)

    def reserved_host_ports(self) -> set[int]:
        """Ports listed in ``client { reserved { reserved_ports = "22,80-90" } }``."""
        return parse_port_ranges(self.reserved_resources.networks.reserved_host_ports)


def parse_port_ranges(spec: str) -> set[int]:
    """``"22,80,8000-8010"`` -> the set of ports; raises ValueError naming the bad part."""
    ports: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"invalid port range {part!r} in {spec!r}") from None
        if not 0 < first <= last <= 65535:
            raise ValueError(f"invalid port range {part!r} in {spec!r}")
        ports.update(range(first, last + 1))
    return ports
