"""What one node holds while an eval is being planned.

Nomad recomputes a node's "proposed allocations" (live allocations, minus
those the plan stops, plus those it places) every time it ranks the node.
:class:`NodeUsage` keeps the sums instead -- CPU, memory, disk, host ports
per address and how many allocations of each job and group sit there -- and
the eval context updates it as placements are added, so ranking a node
costs a few comparisons however many allocations it runs.  What does not
change during an eval (capacity, addresses, port range) is worked out once
per node in :class:`NodeFacts`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..structs import Allocation, NetworkResource, Node
from .fit import footprint
from .ports import MAX_VALID_PORT, node_host_address, node_task_network

GroupKey = tuple[str, str, str]  # namespace, job ID, task group
JobKey = tuple[str, str]  # namespace, job ID

_NOTHING: dict = {}  # never written to: replaced by a real dict before the first write


class NodeFacts:
    """A node's capacity (resources minus reserved), addresses and port range."""

    __slots__ = ("node", "cpu", "memory_mb", "disk_mb", "host_address", "min_port",
                 "max_port", "roomy_ports", "reserved_ports", "_task_network")

    def __init__(self, node: Node, reserved_ports: frozenset[int]):
        resources, reserved = node.node_resources, node.reserved_resources
        self.node = node
        self.cpu = resources.cpu.cpu_shares - reserved.cpu.cpu_shares
        self.memory_mb = resources.memory.memory_mb - reserved.memory.memory_mb
        self.disk_mb = resources.disk.disk_mb - reserved.disk.disk_mb
        self.host_address = node_host_address(node)
        self.min_port, self.max_port = resources.min_dynamic_port, resources.max_dynamic_port
        # While fewer ports than this are taken on an address, dynamic ports are
        # certainly available (at most half the dynamic range can be in use).
        self.roomy_ports = (self.max_port - self.min_port + 1) // 2
        self.reserved_ports = reserved_ports
        self._task_network: tuple[NetworkResource | None, str] | None = None

    @property
    def task_network(self) -> NetworkResource | None:
        """The network legacy task-level asks get their ports on."""
        return self._task_network_and_address()[0]

    @property
    def task_address(self) -> str:
        return self._task_network_and_address()[1]

    def _task_network_and_address(self) -> tuple[NetworkResource | None, str]:
        if self._task_network is None:
            network = node_task_network(self.node)
            address = (network.ip or network.cidr.partition("/")[0]) if network else ""
            self._task_network = (network, address)
        return self._task_network


class NodeUsage:
    """Resources in use on a node by the allocations it is given, kept current
    with :meth:`add`.  ``collision`` records that those allocations already
    fight over a port, which makes the node unusable until fixed."""

    __slots__ = ("facts", "cpu", "memory_mb", "disk_mb", "collision", "by_group", "by_job",
                 "ports")

    def __init__(self, facts: NodeFacts, allocs: Iterable[Allocation] = ()):
        self.facts = facts
        self.cpu = self.memory_mb = self.disk_mb = 0
        self.collision = False
        # Shared empty maps until the first allocation: most nodes visited by a
        # big eval hold nothing of the job, and these are built per node.
        self.by_group: dict[GroupKey, int] = _NOTHING
        self.by_job: dict[JobKey, int] = _NOTHING
        # Address -> host ports in use there; read-only for callers.
        self.ports: dict[str, set[int]] = _NOTHING
        for alloc in allocs:
            self.add(alloc)

    def ports_on(self, address: str) -> set[int]:
        """Host ports in use on ``address`` (node-reserved ports included).
        The set is live: callers must not change it."""
        ports = self.ports.get(address)
        if ports is None:
            if self.ports is _NOTHING:
                self.ports = {}
            ports = self.ports[address] = set(self.facts.reserved_ports)
        return ports

    def add(self, alloc: Allocation) -> None:
        if self.by_group is _NOTHING:
            self.by_group, self.by_job = {}, {}
        held = footprint(alloc)
        self.cpu += held.cpu
        self.memory_mb += held.memory_mb
        self.disk_mb += held.disk_mb
        for address, port, may_collide in held.ports:
            taken = self.ports_on(address or self.facts.host_address)
            if (port in taken and not may_collide) or not 0 <= port < MAX_VALID_PORT:
                self.collision = True
            taken.add(port)
        group_key = (alloc.namespace, alloc.job_id, alloc.task_group)
        self.by_group[group_key] = self.by_group.get(group_key, 0) + 1
        job_key = (alloc.namespace, alloc.job_id)
        self.by_job[job_key] = self.by_job.get(job_key, 0) + 1
