"""The ``config`` block of a ``driver = "pot"`` task: the Go nomad-pot-driver's keys.

::

    config {
      image           = "https://potluck.honeyguide.net/nginx"   # registry base URL
      pot             = "nginx-nomad"                            # image name
      tag             = "1.1.13"                                 # image version
      command         = "nginx"                                  # joined with args: a
      args            = ["-g", "'daemon off;'"]                  # command line for sh
      network_mode    = "public-bridge"                          # or "host", "alias"
      ip              = "10.0.0.50"                              # alias only: the pot's IP
      port_map        = { http = "80" }                          # label = port inside the pot
      copy            = ["local/nginx.conf:/usr/local/etc/nginx/nginx.conf"]
      mount           = ["/data/www:/usr/local/www"]
      mount_read_only = ["/data/certs:/etc/certs"]
      extra_hosts     = ["db:10.0.0.5"]
      attributes      = ["mlock:YES"]
    }

What each key means, and where this driver differs from the Go one:

* ``command`` and ``args`` are joined with spaces into a command *line*, as
  the Go driver does, and the pot's start script runs ``exec <line>``: quotes
  and ``$VAR`` mean what they mean to ``sh``.  Published job files rely on
  it (``args = ["-g", "'daemon off;'"]``); an argument with spaces must carry
  its own quotes (``args = ["-c", "'echo hello'"]``).  ``args`` without
  ``command`` is an error.
* ``host:path`` entries (``copy``, ``mount``, ``mount_read_only``) and
  ``extra_hosts``/``attributes`` are split on the *first* colon only.
  Inside-pot paths must be absolute; mount points and mounted host paths may
  not contain whitespace (pot keeps them in a space-separated file).
  Relative host paths are relative to the task directory (where the driver
  runs pot), so ``local/file`` names a file a template rendered.
* ``network_mode``: ``public-bridge`` (default, ports exported with
  ``port_map``), ``host`` (pot's ``inherit``; also accepted by that name:
  the pot shares the host's network and ``port_map`` is not used) or
  ``alias``: the pot gets its own address on a host interface, given by
  ``ip`` (a nomadjail key; the Go driver cannot run alias pots), in the forms
  ``pot prepare -i`` takes: ``"10.0.0.50"`` (on pot's ``POT_EXTIF``) or
  ``"em0|10.0.0.50"``, or a list of them (IPv4 and IPv6).  Nothing is
  redirected: the task listens on that address, on the ``port_map`` ports,
  which services advertise (``address_mode = "auto"`` or ``"driver"``).
  pot's ``private-bridge`` needs a bridge name the task config has no key
  for, so it is rejected.
* ``port_map`` maps a port label of the task group (``network { port "http"
  {} }``) or of the task's legacy ``resources { network { ... } }`` to the
  port inside the pot: ``"80"``, or ``"udp:53"`` for UDP.  The HCL object
  ``{ http = "80" }`` arrives as a list of one map (Nomad's HCL1 heritage); a
  plain map is accepted too.

* ``attributes`` are ``pot set-attribute`` calls (``"mlock:YES"``), checked
  when the job is submitted as pot would check them (its attribute names and
  value types: boolean, whole number, ``new``/``inherit``/``disable``,
  string).  The attributes the driver sets or relies on are refused
  (:data:`RESERVED_ATTRIBUTES`: ``persistent``, ``no-rc-script``,
  ``prunable``, ``localhost-tunnel``, ``no-etc-hosts``, ``no-tmpfs``, which
  ``pot prepare`` sets, and ``start-at-boot``/``early-start-at-boot``).
* The group network's ``dns`` block becomes the pot's resolv.conf (see
  :mod:`.resolv_conf`); it is checked here too.

Values containing ``${`` are only checked for their shape at job
submission: the client interpolates them before the task starts and checks
the config again then.
"""

from __future__ import annotations

import difflib
import enum
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..structs import Task, TaskGroup
from .naming import task_name_problem
from .resolv_conf import dns_problems

CONFIG_KEYS = ("image", "pot", "tag", "command", "args", "network_mode", "ip", "port_map",
               "copy", "mount", "mount_read_only", "extra_hosts", "attributes")
DEFAULT_NETWORK_MODE = "public-bridge"
# network_mode -> pot's network type (``prepare -N``)
NETWORK_TYPES = {"public-bridge": "public-bridge", "host": "inherit", "inherit": "inherit",
                 "alias": "alias"}
_UNSUPPORTED_NETWORK_MODES = {
    "private-bridge": "pot's private-bridge mode needs a bridge name, which the task config "
                      "cannot give",
}

class AttributeType(enum.Enum):
    """How ``pot set-attribute`` checks a value (``_POT_DEFAULT_<attr>_T`` in common.sh)."""

    BOOL = "bool"  # yes/true/on or no/false/off, any case
    UINT = "uint"  # digits only
    SYSVOPT = "sysvopt"  # new, inherit or disable
    STRING = "string"  # anything on one line


# pot 0.16's set-attribute: _POT_RW_ATTRIBUTES and _POT_JAIL_RW_ATTRIBUTES, with their types.
POT_ATTRIBUTES: dict[str, AttributeType] = {
    "start-at-boot": AttributeType.BOOL, "early-start-at-boot": AttributeType.BOOL,
    "persistent": AttributeType.BOOL, "no-rc-script": AttributeType.BOOL,
    "prunable": AttributeType.BOOL, "localhost-tunnel": AttributeType.BOOL,
    "no-tmpfs": AttributeType.BOOL, "no-etc-hosts": AttributeType.BOOL,
    "enforce_statfs": AttributeType.UINT, "mount": AttributeType.BOOL,
    "fdescfs": AttributeType.BOOL, "linprocfs": AttributeType.BOOL,
    "nullfs": AttributeType.BOOL, "procfs": AttributeType.BOOL, "tmpfs": AttributeType.BOOL,
    "zfs": AttributeType.BOOL, "raw_sockets": AttributeType.BOOL,
    "sysvshm": AttributeType.SYSVOPT, "sysvsem": AttributeType.SYSVOPT,
    "sysvmsg": AttributeType.SYSVOPT, "children": AttributeType.UINT,
    "mlock": AttributeType.BOOL, "devfs_ruleset": AttributeType.UINT,
    "exec_stop": AttributeType.STRING, "stop_timeout": AttributeType.UINT,
}
# Attributes the driver's way of running a task depends on, and why a job may not set them.
# `pot prepare` sets the first six (share/pot/prepare.sh); the boot ones would make the host
# start the task's pot outside Nomad.
RESERVED_ATTRIBUTES: dict[str, str] = {
    "persistent": "the driver runs non-persistent pots: `pot start` must block while the "
                  "task runs (prepare sets it to NO)",
    "no-rc-script": "the task's command and environment are run through pot's start script "
                    "(prepare sets it to YES)",
    "prunable": "the driver destroys the pots it created itself (prepare sets it to YES)",
    "localhost-tunnel": "the port_map redirections are set up by prepare (it sets it to YES)",
    "no-etc-hosts": "the pot's /etc/hosts comes from extra_hosts (prepare sets it to YES)",
    "no-tmpfs": "prepare sets it to YES",
    "start-at-boot": "the task's pot is started by Nomad only, never at the host's boot",
    "early-start-at-boot": "the task's pot is started by Nomad only, never at the host's boot",
}
_BOOL_WORDS = ("yes", "true", "on", "no", "false", "off")
_SYSVOPT_WORDS = ("new", "inherit", "disable")
PORT_PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True, slots=True)
class PortMapping:
    """``port_map`` entry: the port ``inside`` the pot that the label's host port reaches."""

    label: str
    inside: int
    protocol: str = "tcp"


@dataclass(frozen=True, slots=True)
class PathPair:
    """A ``host:pot`` entry of ``copy``/``mount``/``mount_read_only``."""

    host: str
    pot: str


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    value: str


@dataclass(slots=True)
class PotTaskConfig:
    """A validated task config (build it with :func:`parse_pot_config`)."""

    image: str
    pot: str
    tag: str
    command: str = ""
    args: list[str] = field(default_factory=list)
    network_mode: str = DEFAULT_NETWORK_MODE
    addresses: list[str] = field(default_factory=list)  # `ip`: alias only, `-i` values
    port_map: list[PortMapping] = field(default_factory=list)
    copy: list[PathPair] = field(default_factory=list)
    mount: list[PathPair] = field(default_factory=list)
    mount_read_only: list[PathPair] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list)

    @property
    def network_type(self) -> str:
        """pot's name for the network mode (``host`` is pot's ``inherit``)."""
        return NETWORK_TYPES[self.network_mode]

    @property
    def exports_ports(self) -> bool:
        """Whether pot redirects host ports to the pot (a bridged pot); an alias pot is
        reached on its own address, an inherit pot on the host's."""
        return self.network_type not in ("inherit", "alias")


class PotConfigError(ValueError):
    """The task config has problems; ``problems`` lists each one, naming its key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _interpolated_later(value: str) -> bool:
    return "${" in value


def _string(config: Mapping[str, Any], key: str, problems: list[str], *,
            required: bool = False) -> str:
    value = config.get(key)
    if value is None or value == "":
        if required:
            problems.append(f"{key!r} is required")
        return ""
    if not isinstance(value, str):
        problems.append(f"{key!r} must be a string, got {value!r}")
        return ""
    if "\n" in value or "\x00" in value:
        problems.append(f"{key!r} must be one line, got {value!r}")
        return ""
    return value


def _string_list(config: Mapping[str, Any], key: str, problems: list[str]) -> list[str]:
    value = config.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append(f"{key!r} must be a list of strings, got {value!r}")
        return []
    good = []
    for index, item in enumerate(value):
        if "\n" in item or "\x00" in item:
            problems.append(f"{key}[{index}] {item!r} must be one line")
        else:
            good.append(item)
    return good


def _split_first_colon(key: str, index: int, entry: str, shape: str,
                       problems: list[str]) -> tuple[str, str] | None:
    left, colon, right = entry.partition(":")
    if not colon:
        problems.append(f'{key}[{index}] {entry!r}: expected "{shape}" (no ":" found)')
        return None
    return left, right


def _path_pairs(config: Mapping[str, Any], key: str, problems: list[str], *,
                mounted: bool) -> list[PathPair]:
    pairs = []
    for index, entry in enumerate(_string_list(config, key, problems)):
        split = _split_first_colon(key, index, entry, "host_path:pot_path", problems)
        if split is None:
            continue
        host, inside = split
        where = f"{key}[{index}] {entry!r}"
        if not host:
            problems.append(f"{where}: the host path is empty")
            continue
        if not _interpolated_later(inside):
            if not inside.startswith("/"):
                problems.append(f"{where}: the path inside the pot {inside!r} must be absolute")
                continue
            if mounted and inside.rstrip("/") == "":
                problems.append(f"{where}: / is not a valid mount point")
                continue
        if mounted and any(ch.isspace() for ch in host + inside):
            problems.append(f"{where}: mounted paths cannot contain whitespace")
            continue
        pairs.append(PathPair(host=host, pot=inside))
    return pairs


def _port_value(label: str, raw: Any, problems: list[str]) -> PortMapping | None:
    where = f"port_map label {label!r}"
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        problems.append(f"{where}: expected a port number as a string, got {raw!r}")
        return None
    text = str(raw).strip()
    protocol = "tcp"
    for candidate in PORT_PROTOCOLS:
        if text.startswith(candidate + ":"):
            protocol, text = candidate, text[len(candidate) + 1:]
            break
    if _interpolated_later(text):
        return PortMapping(label=label, inside=0, protocol=protocol)
    if not text.isdigit() or not 0 < int(text) <= 65535:
        problems.append(f'{where}: {raw!r} is not a port number (1-65535, optionally "udp:" '
                        'or "tcp:" first)')
        return None
    return PortMapping(label=label, inside=int(text), protocol=protocol)


def _port_map(config: Mapping[str, Any], problems: list[str]) -> list[PortMapping]:
    raw = config.get("port_map")
    if raw is None:
        return []
    maps: list[Any] = raw if isinstance(raw, list) else [raw]
    mappings: dict[str, PortMapping] = {}
    for item in maps:
        if not isinstance(item, Mapping):
            problems.append("'port_map' must be a map of port labels to ports, such as "
                            f'{{ http = "80" }}, got {raw!r}')
            return []
        for label, value in item.items():
            if not isinstance(label, str) or not label:
                problems.append(f"port_map: invalid port label {label!r}")
                continue
            mapping = _port_value(label, value, problems)
            if mapping is not None:
                mappings[label] = mapping
    return list(mappings.values())


def _extra_hosts(config: Mapping[str, Any], problems: list[str]) -> list[str]:
    hosts = []
    for index, entry in enumerate(_string_list(config, "extra_hosts", problems)):
        split = _split_first_colon("extra_hosts", index, entry, "hostname:ip", problems)
        if split is None:
            continue
        hostname, address = split
        where = f"extra_hosts[{index}] {entry!r}"
        if not hostname or not address:
            problems.append(f"{where}: both the host name and the IP address are required")
            continue
        if any(ch.isspace() for ch in hostname):
            problems.append(f"{where}: the host name cannot contain whitespace")
            continue
        if not _interpolated_later(address):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                problems.append(f"{where}: {address!r} is not an IP address")
                continue
        hosts.append(entry)
    return hosts


def _attributes(config: Mapping[str, Any], problems: list[str]) -> list[Attribute]:
    attributes = []
    for index, entry in enumerate(_string_list(config, "attributes", problems)):
        split = _split_first_colon("attributes", index, entry, "attribute:value", problems)
        if split is None:
            continue
        name, value = split
        where = f"attributes[{index}] {entry!r}"
        if name in RESERVED_ATTRIBUTES:
            problems.append(f"{where}: the pot driver sets {name!r} itself and relies on it: "
                            f"{RESERVED_ATTRIBUTES[name]}")
            continue
        if name not in POT_ATTRIBUTES:
            choices = [a for a in POT_ATTRIBUTES if a not in RESERVED_ATTRIBUTES]
            close = difflib.get_close_matches(name, choices, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            problems.append(f"{where}: {name!r} is not a pot attribute (see `pot help "
                            f"set-attribute`){hint}")
            continue
        if not value:
            problems.append(f"{where}: the value is empty")
            continue
        problem = _attribute_value_problem(name, value)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        attributes.append(Attribute(name=name, value=value))
    return attributes


def _attribute_value_problem(name: str, value: str) -> str:
    """Why ``pot set-attribute -A name -V value`` would refuse ``value`` ("" if it would not)."""
    if _interpolated_later(value):
        return ""
    kind = POT_ATTRIBUTES[name]
    if kind is AttributeType.BOOL and value.lower() not in _BOOL_WORDS:
        return (f"{name!r} is a boolean attribute: {value!r} is not one of "
                + ", ".join(_BOOL_WORDS) + " (any case)")
    if kind is AttributeType.UINT and not (value.isascii() and value.isdigit()):
        return f"{name!r} takes a whole number (digits only), got {value!r}"
    if kind is AttributeType.SYSVOPT and value not in _SYSVOPT_WORDS:
        return f"{name!r} must be one of " + ", ".join(_SYSVOPT_WORDS) + f", got {value!r}"
    return ""


def _network_mode(config: Mapping[str, Any], problems: list[str]) -> str:
    mode = _string(config, "network_mode", problems) or DEFAULT_NETWORK_MODE
    if mode in NETWORK_TYPES:
        return mode
    reason = _UNSUPPORTED_NETWORK_MODES.get(mode)
    supported = ", ".join(f'"{m}"' for m in NETWORK_TYPES)
    problems.append(f"network_mode {mode!r} is not supported"
                    + (f" ({reason})" if reason else "") + f"; use one of {supported}")
    return DEFAULT_NETWORK_MODE


_NIC = re.compile(r"[A-Za-z][A-Za-z0-9_.]*")


def _addresses(config: Mapping[str, Any], mode: str, problems: list[str]) -> list[str]:
    """``ip``: required by ``alias``, meaningless otherwise; each entry as ``pot prepare
    -i`` takes it for an alias pot (``address`` or ``interface|address``)."""
    raw = config.get("ip")
    if raw is None or raw == "" or raw == []:
        if mode == "alias":
            problems.append('network_mode "alias" needs \'ip\': the pot\'s own address on a '
                            'host interface, such as "10.0.0.50" or "em0|10.0.0.50"')
        return []
    if mode != "alias":
        problems.append(f"'ip' is only used with network_mode \"alias\" (a {mode!r} pot "
                        + ("shares the host's addresses)" if NETWORK_TYPES.get(mode) == "inherit"
                           else "gets its address from pot)"))
        return []
    entries = [raw] if isinstance(raw, str) else raw
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        problems.append(f"'ip' must be an address or a list of addresses, got {raw!r}")
        return []
    good = []
    for index, entry in enumerate(entries):
        where = f"ip {entry!r}" if isinstance(raw, str) else f"ip[{index}] {entry!r}"
        nic, bar, address = entry.partition("|")
        if not bar:
            nic, address = "", entry
        if _interpolated_later(entry):
            if any(ch.isspace() for ch in entry):
                problems.append(f"{where}: cannot contain whitespace")
                continue
            good.append(entry)
            continue
        if bar and not _NIC.fullmatch(nic):
            problems.append(f"{where}: {nic!r} is not a network interface name")
            continue
        if address == "auto":
            problems.append(f'{where}: "auto" is for bridged pots; an alias pot needs a real '
                            "IP address")
            continue
        try:
            ipaddress.ip_address(address)
        except ValueError:
            problems.append(f"{where}: {address!r} is not an IP address")
            continue
        good.append(entry)
    return good


def parse_pot_config(config: Mapping[str, Any]) -> PotTaskConfig:
    """The task config, validated; raises :class:`PotConfigError` listing every problem."""
    problems: list[str] = []
    for key in config:
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(str(key), CONFIG_KEYS, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            problems.append(f"unknown key {key!r} in pot config{hint}")
    network_mode = _network_mode(config, problems)
    parsed = PotTaskConfig(
        image=_string(config, "image", problems, required=True),
        pot=_string(config, "pot", problems, required=True),
        tag=_string(config, "tag", problems, required=True),
        command=_string(config, "command", problems),
        args=_string_list(config, "args", problems),
        network_mode=network_mode,
        addresses=_addresses(config, network_mode, problems),
        port_map=_port_map(config, problems),
        copy=_path_pairs(config, "copy", problems, mounted=False),
        mount=_path_pairs(config, "mount", problems, mounted=True),
        mount_read_only=_path_pairs(config, "mount_read_only", problems, mounted=True),
        extra_hosts=_extra_hosts(config, problems),
        attributes=_attributes(config, problems),
    )
    if parsed.args and not parsed.command:
        problems.append(f"'args' {parsed.args!r} is set but 'command' is empty: args are "
                        "appended to the command")
    if problems:
        raise PotConfigError(problems)
    return parsed


def validate_pot_config(config: dict[str, Any]) -> list[str]:
    """Every problem in a pot task's ``config`` block, each naming its key."""
    try:
        parse_pot_config(config)
    except PotConfigError as err:
        return err.problems
    return []


def _port_labels(group: TaskGroup, task: Task) -> set[str]:
    labels: set[str] = set()
    networks: Iterable[Any] = list(group.networks)
    if task.resources is not None:
        networks = [*networks, *task.resources.networks]
    for network in networks:
        labels.update(port.label for port in network.ports())
    return labels


def validate_pot_task(group: TaskGroup, task: Task) -> list[str]:
    """What only the job can tell: the task's name makes a pot name, the group's ``dns``
    block makes a resolv.conf, and every ``port_map`` label is a port the group (or the
    task's legacy network) defines."""
    problems = []
    name_problem = task_name_problem(task.name)
    if name_problem:
        problems.append(name_problem)
    if group.networks:
        problems += [f'group "{group.name}" network {problem}'
                     for problem in dns_problems(group.networks[0].dns)]
    labels = _port_labels(group, task)
    for mapping in _port_map(task.config, []):  # (malformed entries: validate_pot_config)
        if mapping.label not in labels:
            defined = ", ".join(f'"{label}"' for label in sorted(labels)) or "none"
            problems.append(f'port_map label "{mapping.label}" is not defined by any port of '
                            f'group "{group.name}" (network {{ port "{mapping.label}" {{}} }}) '
                            f"or of the task's resources; defined ports: {defined}")
    return problems
