"""What a task asks for (Resources, networks, ports) and what it was given
(AllocatedResources), in Nomad's shapes.

Ports: a group ``network`` block lists *reserved* (static) ports with a fixed
``Value`` and *dynamic* ports that the scheduler fills in.  ``To`` is the port
inside the task's network namespace or jail (``-1`` means "same as host").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .codec import field

DEFAULT_CPU_MHZ = 100
DEFAULT_MEMORY_MB = 300
DEFAULT_DISK_MB = 300
DEFAULT_HOST_NETWORK = "default"
MIN_DYNAMIC_PORT = 20000
MAX_DYNAMIC_PORT = 32000


@dataclass(slots=True)
class Port:
    label: str = ""
    value: int = 0
    to: int = 0
    host_network: str = ""
    ignore_collision: bool = False


@dataclass(slots=True)
class DNSConfig:
    servers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


@dataclass(slots=True)
class NetworkResource:
    mode: str = ""
    device: str = ""
    cidr: str = ""
    ip: str = ""
    hostname: str = ""
    mbits: int | None = field(None, key="MBits")
    dns: DNSConfig | None = None
    reserved_ports: list[Port] = field(default_factory=list)
    dynamic_ports: list[Port] = field(default_factory=list)

    def ports(self) -> list[Port]:
        return [*self.reserved_ports, *self.dynamic_ports]


@dataclass(slots=True)
class Resources:
    """A task's request.  ``None`` means "not given"; canonicalize() fills defaults."""

    cpu: int | None = field(None, key="CPU")
    cores: int | None = None
    memory_mb: int | None = None
    memory_max_mb: int | None = None
    disk_mb: int | None = None
    iops: int | None = field(None, key="IOPS")
    networks: list[NetworkResource] = field(default_factory=list)
    devices: list[Any] = field(default_factory=list)

    def canonicalize(self) -> None:
        if self.cores is None and self.cpu is None:
            self.cpu = DEFAULT_CPU_MHZ
        if self.cpu is None:
            self.cpu = 0
        if self.memory_mb is None:
            self.memory_mb = DEFAULT_MEMORY_MB
        if self.cores is None:
            self.cores = 0
        if self.memory_max_mb is None:
            self.memory_max_mb = 0


@dataclass(slots=True)
class PortMapping:
    """One allocated port: host port ``value``, task-side port ``to``."""

    label: str = ""
    value: int = 0
    to: int = 0
    host_ip: str = field("", key="HostIP")


@dataclass(slots=True)
class AllocatedCpuResources:
    cpu_shares: int = 0
    reserved_cores: list[int] = field(default_factory=list)


@dataclass(slots=True)
class AllocatedMemoryResources:
    memory_mb: int = 0
    memory_max_mb: int = 0


@dataclass(slots=True)
class AllocatedTaskResources:
    cpu: AllocatedCpuResources = field(default_factory=AllocatedCpuResources, key="Cpu")
    memory: AllocatedMemoryResources = field(default_factory=AllocatedMemoryResources)
    networks: list[NetworkResource] = field(default_factory=list)


@dataclass(slots=True)
class AllocatedSharedResources:
    disk_mb: int = 0
    networks: list[NetworkResource] = field(default_factory=list)
    ports: list[PortMapping] = field(default_factory=list)


@dataclass(slots=True)
class AllocatedResources:
    tasks: dict[str, AllocatedTaskResources] = field(default_factory=dict)
    shared: AllocatedSharedResources = field(default_factory=AllocatedSharedResources)

    def total_cpu(self) -> int:
        return sum(t.cpu.cpu_shares for t in self.tasks.values())

    def total_memory_mb(self) -> int:
        return sum(t.memory.memory_mb for t in self.tasks.values())

    def host_ports(self) -> list[int]:
        """Every host port this allocation holds (group and task networks)."""
        ports = [p.value for p in self.shared.ports]
        for task in self.tasks.values():
            for net in task.networks:
                ports.extend(p.value for p in net.ports())
        return ports
