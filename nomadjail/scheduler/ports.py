"""Host ports: which a node has in use, and offers for a network ask.

A group ``network`` block asks for static ports (a fixed ``value``) and
dynamic ports (any free port in the node's ``[min_dynamic_port,
max_dynamic_port]``).  The offer is a list of :class:`PortMapping` (label,
host port, ``to``) on the node's host address; ``to = -1`` on a dynamic port
means "the same number inside the task", as in Nomad.  The legacy task-level
``resources { network { ... } }`` gets a whole :class:`NetworkResource` with
its ports filled in, on the node's first network device.

Dynamic ports are drawn from the eval's seeded random generator, so the same
eval always gets the same ports.
"""

from __future__ import annotations

import random

from ..structs import NetworkResource, Node, Port, PortMapping

MAX_VALID_PORT = 65536
# Random probes before falling back to listing every free port.
MAX_RANDOM_PORT_ATTEMPTS = 20
DEFAULT_HOST_NETWORK = "default"


def _network_address(network: NetworkResource) -> str:
    return network.ip or network.cidr.partition("/")[0]


def node_host_address(node: Node) -> str:
    """The address group networks get ports on: the node's first host network."""
    for network in node.node_resources.networks:
        if network.mode in ("", "host"):
            address = _network_address(network)
            if address:
                return address
    return node.attributes.get("unique.network.ip-address", "")


def node_task_network(node: Node) -> NetworkResource | None:
    """The network legacy task-level asks are served from: the first with a device."""
    return next((n for n in node.node_resources.networks if n.device), None)


def dynamic_ports_available(used: set[int], wanted: int, exclude: tuple[int, ...],
                            low: int, high: int) -> bool:
    """Whether ``wanted`` ports in [low, high] are neither used nor excluded."""
    if wanted <= 0:
        return True
    size = high - low + 1
    if len(used) + len(exclude) + wanted <= size // 2:
        return True  # cannot be short: at most half the range is taken
    taken = sum(1 for port in used if low <= port <= high)
    taken += sum(1 for port in exclude if low <= port <= high and port not in used)
    return size - taken >= wanted


def pick_dynamic_port(rng: random.Random, used: set[int], exclude: set[int], low: int,
                      high: int) -> int | None:
    """A free port in [low, high], random; None when there is none."""
    if high < low:
        return None
    for _ in range(MAX_RANDOM_PORT_ATTEMPTS):
        port = rng.randint(low, high)
        if port not in used and port not in exclude:
            return port
    free = [p for p in range(low, high + 1) if p not in used and p not in exclude]
    return rng.choice(free) if free else None


def static_port_conflict(ask: NetworkResource, used: set[int]) -> str:
    """Why the ask's static ports cannot be had ("" when they can)."""
    for port in ask.reserved_ports:
        if port.value < 0 or port.value >= MAX_VALID_PORT:
            return f"invalid port {port.value} (out of range)"
        if port.value in used and not port.ignore_collision:
            return f"reserved port collision {port.label}={port.value}"
    return ""


def assign_group_ports(ask: NetworkResource, address: str, used: set[int], low: int,
                       high: int, rng: random.Random
                       ) -> tuple[list[PortMapping], NetworkResource] | str:
    """Port mappings for a group network ask and the network as the client
    sees it, or the reason none can be made."""
    conflict = static_port_conflict(ask, used)
    if conflict:
        return conflict
    offer = [PortMapping(label=p.label, value=p.value, to=p.to, host_ip=address)
             for p in ask.reserved_ports]
    picked = {p.value for p in ask.reserved_ports}
    dynamic: list[Port] = []
    for port in ask.dynamic_ports:
        value = pick_dynamic_port(rng, used, picked, low, high)
        if value is None:
            return "dynamic port selection failed"
        picked.add(value)
        to = value if port.to == -1 else port.to
        offer.append(PortMapping(label=port.label, value=value, to=to, host_ip=address))
        dynamic.append(_port(port, value, to))
    network = NetworkResource(mode=ask.mode, device=ask.device, cidr=ask.cidr, ip=address,
                              hostname=ask.hostname, mbits=ask.mbits, dns=ask.dns,
                              reserved_ports=[_port(p, p.value, p.to) for p in ask.reserved_ports],
                              dynamic_ports=dynamic)
    return offer, network


def _port(port: Port, value: int, to: int) -> Port:
    # Built directly: dataclasses.replace costs several times more on this path.
    return Port(label=port.label, value=value, to=to, host_network=port.host_network,
                ignore_collision=port.ignore_collision)


def assign_task_network(ask: NetworkResource, device: NetworkResource | None, used: set[int],
                        low: int, high: int, rng: random.Random) -> NetworkResource | str:
    """The legacy task network offer for ``ask`` on ``device``, or why not."""
    if device is None:
        return "no networks available"
    conflict = static_port_conflict(ask, used)
    if conflict:
        return conflict
    picked = {p.value for p in ask.reserved_ports}
    dynamic: list[Port] = []
    for port in ask.dynamic_ports:
        value = pick_dynamic_port(rng, used, picked, low, high)
        if value is None:
            return "dynamic port selection failed"
        picked.add(value)
        dynamic.append(_port(port, value, value if port.to == -1 else port.to))
    return NetworkResource(mode=ask.mode, device=device.device, ip=_network_address(device),
                           mbits=ask.mbits, dns=ask.dns,
                           reserved_ports=[_port(p, p.value, p.to) for p in ask.reserved_ports],
                           dynamic_ports=dynamic)
