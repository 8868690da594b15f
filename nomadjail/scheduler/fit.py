"""What allocations hold on a node, whether they fit, and how well.

``allocs_fit`` is Nomad's AllocsFit: the plan applier re-checks every node of
a plan with it against the newest state, and the scheduler uses the same
arithmetic while ranking.  ``binpack_score`` is Nomad's ScoreFitBinPack
normalised to [0, 1]: fuller nodes score higher, so allocations pack onto
few nodes and leave others free for large asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ..structs import Allocation, Node
from .ports import MAX_VALID_PORT, node_host_address

# ScoreFitBinPack's range: 20 - (10^free_cpu + 10^free_mem) lies in [0, 18].
BINPACK_MAX_FIT_SCORE = 18.0

DIMENSION_CPU = "cpu"
DIMENSION_MEMORY = "memory"
DIMENSION_DISK = "disk"
DIMENSION_PORT_COLLISION = "network: port collision"
DIMENSION_INVALID_PORT = "network: invalid port"


class Footprint(NamedTuple):
    """The resources one allocation holds: MHz, MB, disk MB and host ports
    as (host IP, port, may collide)."""

    cpu: int
    memory_mb: int
    disk_mb: int
    ports: list[tuple[str, int, bool]]


class Capacity(NamedTuple):
    """What the scheduler may hand out on a node: its resources minus reserved."""

    cpu: int
    memory_mb: int
    disk_mb: int


def node_capacity(node: Node) -> Capacity:
    res, reserved = node.node_resources, node.reserved_resources
    return Capacity(res.cpu.cpu_shares - reserved.cpu.cpu_shares,
                    res.memory.memory_mb - reserved.memory.memory_mb,
                    res.disk.disk_mb - reserved.disk.disk_mb)


def footprint(alloc: Allocation) -> Footprint:
    resources = alloc.allocated_resources
    if resources is None:
        return Footprint(0, 0, 0, [])
    cpu = memory = 0
    ports: list[tuple[str, int, bool]] = []
    for task in resources.tasks.values():
        cpu += task.cpu.cpu_shares
        memory += task.memory.memory_mb
    shared = resources.shared
    if shared.ports:
        ports = [(p.host_ip, p.value, False) for p in shared.ports]
    else:
        # Allocations without port mappings carry their ports in networks.
        for network in shared.networks:
            ports.extend((network.ip, p.value, p.ignore_collision) for p in network.ports())
    for task in resources.tasks.values():
        if task.networks:
            network = task.networks[0]
            ports.extend((network.ip, p.value, p.ignore_collision) for p in network.ports())
    return Footprint(cpu, memory, shared.disk_mb, ports)


def allocs_fit(node: Node, allocs: Sequence[Allocation]) -> tuple[bool, str]:
    """Whether ``allocs`` fit on ``node`` together: (True, "") or (False, the
    exhausted dimension: "cpu", "memory", "disk", "network: port collision",
    "network: invalid port").

    Allocations the client already finished hold nothing and are skipped.
    Ports collide with each other and with the node's reserved host ports.
    """
    capacity = node_capacity(node)
    cpu = memory = disk = 0
    reserved = node.reserved_host_ports()
    default_ip = node_host_address(node)
    used: dict[str, set[int]] = {}
    network_problem = ""
    for alloc in allocs:
        if alloc.client_terminal():
            continue
        held = footprint(alloc)
        cpu += held.cpu
        memory += held.memory_mb
        disk += held.disk_mb
        for ip, port, may_collide in held.ports:
            if port < 0 or port >= MAX_VALID_PORT:
                network_problem = network_problem or DIMENSION_INVALID_PORT
                continue
            taken = used.get(ip or default_ip)
            if taken is None:
                taken = used[ip or default_ip] = set(reserved)
            if port in taken and not may_collide:
                network_problem = network_problem or DIMENSION_PORT_COLLISION
            taken.add(port)
    if cpu > capacity.cpu:
        return False, DIMENSION_CPU
    if memory > capacity.memory_mb:
        return False, DIMENSION_MEMORY
    if disk > capacity.disk_mb:
        return False, DIMENSION_DISK
    if network_problem:
        return False, network_problem
    return True, ""


def binpack_score(capacity: Capacity, cpu_used: int, memory_used: int) -> float:
    """Nomad's ScoreFitBinPack for a node using ``cpu_used``/``memory_used``
    (the new allocation included), normalised to [0, 1]."""
    free_cpu = 1.0 - cpu_used / capacity.cpu if capacity.cpu > 0 else 0.0
    free_memory = 1.0 - memory_used / capacity.memory_mb if capacity.memory_mb > 0 else 0.0
    score = 20.0 - (10.0 ** free_cpu + 10.0 ** free_memory)
    return min(max(score, 0.0), BINPACK_MAX_FIT_SCORE) / BINPACK_MAX_FIT_SCORE
