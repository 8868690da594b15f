"""Where a pot task can be reached, for the services that advertise it (Nomad's
``DriverNetwork``, returned with the task handle).

=================  ======================================================================
network_mode       what the driver reports
=================  ======================================================================
``public-bridge``  None: the pot sits behind the host's redirections, so services use the
                   node's address and the group's mapped host port
``host``           None: the pot shares the host's addresses
``alias``          the pot's own address and the ``port_map`` ports inside it, with
                   ``auto_advertise`` (``address_mode = "auto"`` picks it)
=================  ======================================================================

The alias address is the one pot reports (``pot info -p <pot> -E``, whose
``_POT_IP`` is the first address of the pot's network stack), not the task
config's text: ``em0|10.0.0.50`` and a list of IPv4 and IPv6 addresses are
pot's to interpret.  The network is persisted with the handle; a start record
keeps what is known before the pot exists (:func:`network_plan`), so a start
interrupted by a client restart still gets its network back.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from ..drivers.base import DriverError, DriverNetwork
from . import argv as pot_argv
from .pot_cli import PotCLI
from .task_config import PotTaskConfig


def parse_info_env(lines: Iterable[str]) -> dict[str, str]:
    """``export KEY=VALUE`` lines of ``pot info -E`` as a dict (other lines ignored)."""
    found = {}
    for line in lines:
        text = line.strip()
        if not text.startswith("export "):
            continue
        key, eq, value = text[len("export "):].partition("=")
        if eq and key:
            found[key] = value
    return found


def network_plan(config: PotTaskConfig) -> DriverNetwork | None:
    """The task's network as far as the config tells (no address yet); None when the task
    uses the node's network."""
    if config.network_type != "alias":
        return None
    return DriverNetwork(ip="", auto_advertise=True,
                         port_map={m.label: m.inside for m in config.port_map if m.inside})


def pot_address(cli: PotCLI, name: str, *, cwd: str | None = None) -> str:
    """The address pot gives pot ``name``; DriverError when pot does not say."""
    result = cli.run(pot_argv.info_env(name), cwd=cwd)
    if not result.ok:
        raise DriverError(f"cannot read the address of pot {name}: {result.describe()}")
    address = parse_info_env(result.output).get("_POT_IP", "")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise DriverError(f"pot {name}: `pot info -E` reports no usable address "
                          f"(_POT_IP={address!r})") from None
    return address


def task_network(cli: PotCLI, name: str, config: PotTaskConfig, *,
                 cwd: str | None = None) -> DriverNetwork | None:
    """The network of a prepared pot (see the module's table)."""
    plan = network_plan(config)
    if plan is None:
        return None
    plan.ip = pot_address(cli, name, cwd=cwd)
    return plan


def first_address(addresses: Iterable[str]) -> str:
    """What pot would report first for these ``-i`` values on its default (ipv4) stack:
    the first IPv4 address, else the first address; "" if none is one."""
    parsed = []
    for entry in addresses:
        text = entry.split("|")[1] if "|" in entry else entry
        try:
            parsed.append(ipaddress.ip_address(text))
        except ValueError:
            continue
    ordered = [a for a in parsed if a.version == 4] + [a for a in parsed if a.version == 6]
    return str(ordered[0]) if ordered else ""


def network_to_state(network: DriverNetwork | None) -> dict[str, Any] | None:
    if network is None:
        return None
    return {"ip": network.ip, "port_map": dict(network.port_map),
            "auto_advertise": network.auto_advertise}


def network_from_state(state: Any) -> DriverNetwork | None:
    """ValueError when ``state`` is not what :func:`network_to_state` wrote."""
    if state is None:
        return None
    if not isinstance(state, Mapping):
        raise ValueError(f"network {state!r}")
    port_map = state.get("port_map") or {}
    if not isinstance(port_map, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) for k, v in port_map.items()):
        raise ValueError(f"network port_map {port_map!r}")
    return DriverNetwork(ip=str(state.get("ip") or ""), port_map=dict(port_map),
                         auto_advertise=bool(state.get("auto_advertise")))
