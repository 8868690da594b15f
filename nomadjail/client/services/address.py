"""Where a service or check is reached: Nomad's ``serviceregistration.GetAddress``.

By ``address_mode``: ``host`` -> the node's address (the scheduler put it in the
allocated port) and the host port; ``driver`` -> the network the driver gave
the task (a pot with its own IP, ``TaskHandle.network``) and the task's own
port; ``auto`` -> ``driver`` when the driver advertises its network, else
``host``; ``alloc`` needs an allocation network nomadjail never reports, so it
fails as Nomad's does without one.  A number instead of a port label is used
as given.  Errors are Nomad's words.
"""

from __future__ import annotations

from ...drivers.base import DriverNetwork
from ...structs import NetworkResource, PortMapping
from ...structs.services import AddressMode


class AddressError(ValueError):
    """No address/port can be worked out (Nomad's GetAddress errors, same words)."""


def _port_number(label: str) -> int | None:
    return int(label) if label.lstrip("-").isdigit() else None


def _legacy_port(networks: list[NetworkResource], label: str) -> tuple[str, int] | None:
    for network in networks:
        for port in network.ports():
            if port.label == label and port.value > 0:
                return network.ip, port.value
    return None


def get_address(address: str, mode: str, label: str, *, ports: list[PortMapping],
                networks: list[NetworkResource],
                driver: DriverNetwork | None) -> tuple[str, int]:
    """Nomad's serviceregistration.GetAddress: ``(ip, port)`` for a service or check.

    An empty ip means "the Consul agent's address" (a numeric port in host mode)."""
    mapped = {p.label: p for p in ports}
    if mode == AddressMode.AUTO:
        if address:
            if not label:
                return address, 0
            if label in mapped:
                return address, mapped[label].value
            number = _port_number(label)
            if number is None:
                raise AddressError(f'invalid port: "{label}": not a valid port mapping or '
                                   "numeric port")
            return address, number
        mode = AddressMode.DRIVER if driver is not None and driver.auto_advertise \
            else AddressMode.HOST
        return get_address("", mode, label, ports=ports, networks=networks, driver=driver)
    if mode == AddressMode.HOST:
        if address:
            raise AddressError('cannot use custom advertise address with "host" address mode')
        if not label:
            return (networks[0].ip, 0) if len(networks) == 1 else ("", 0)
        if label in mapped:
            return mapped[label].host_ip, mapped[label].value
        legacy = _legacy_port(networks, label)
        if legacy is not None:
            return legacy
        number = _port_number(label)
        if number is None:
            raise AddressError(f'invalid port "{label}": port label not found')
        if number <= 0:
            raise AddressError(f'invalid port: "{label}": port must be >0')
        return "", number
    if mode == AddressMode.DRIVER:
        if address:
            raise AddressError('cannot use custom advertise address with "driver" address '
                               "mode")
        if driver is None:
            raise AddressError('cannot use address_mode="driver": no driver network exists')
        if not label:
            return driver.ip, 0
        # The task's own port: the group port's "to", else the driver's port map (pot's
        # port_map), else the port itself.  (Nomad returns "to" even when it is 0.)
        if label in mapped and mapped[label].to > 0:
            return driver.ip, mapped[label].to
        if label in driver.port_map:
            return driver.ip, driver.port_map[label]
        if label in mapped:
            return driver.ip, mapped[label].value
        number = _port_number(label)
        if number is None:
            raise AddressError(f'invalid port label "{label}": port labels in driver '
                               "address_mode must be numeric or in the driver's port map")
        if number <= 0:
            raise AddressError(f'invalid port: "{label}": port must be >0')
        return driver.ip, number
    if mode in (AddressMode.ALLOC, AddressMode.ALLOC_IPV6):
        if address:
            raise AddressError('cannot use custom advertise address with "alloc" address mode')
        raise AddressError('cannot use address_mode="alloc": no allocation network status '
                           "reported")
    raise AddressError(f'invalid address mode "{mode}"')
