"""The pot's ``/etc/resolv.conf``, from the group network's ``dns`` block.

``pot prepare -d`` takes a mode (``inherit``, ``pot``, ``off``) or
``custom:<file>``: a resolv.conf on the host that pot copies into the pot's
configuration and, at every start, to the pot's ``/etc/resolv.conf``.
Nomad's ``dns { servers searches options }`` maps fully onto such a file::

    nameserver 10.0.0.53        # one line per server
    search consul example.org   # all searches on one line
    options ndots:2 timeout:1   # all options on one line

What FreeBSD's resolver would silently ignore or misread is refused instead,
when the job is submitted: more than :data:`MAX_NAMESERVERS` servers or
:data:`MAX_SEARCH_DOMAINS` search domains, a server that is not an IP address,
and a search domain or option that is empty or holds whitespace or ``#``/``;``
(both start a comment in resolv.conf).  Values may name ``${...}``: the client
interpolates them with the task's environment (as Nomad's
``taskenv.InterpolateNetworks`` does) and the driver checks them again,
strictly, before the pot is made (``dns_problems(..., interpolated=True)``).

As Nomad's ``GenerateDNSMount`` does, a field the block leaves empty is
filled from the host's own resolv.conf (:func:`fill_from_host`): a block with
only ``searches`` still gets the host's nameservers -- without any, the pot's
resolver would ask 127.0.0.1.  A ``dns`` block with nothing in it keeps the
image's resolver configuration.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from ..structs import DNSConfig

MAX_NAMESERVERS = 3  # FreeBSD's MAXNS
MAX_SEARCH_DOMAINS = 6  # FreeBSD's MAXDNSRCH
_FORBIDDEN = ("#", ";")
HOST_RESOLV_CONF = "/etc/resolv.conf"  # where the host's own resolver configuration is


def is_empty(dns: DNSConfig | None) -> bool:
    return dns is None or not (dns.servers or dns.searches or dns.options)


def dns_problems(dns: DNSConfig | None, *, interpolated: bool = False) -> list[str]:
    """Every reason ``dns`` cannot become the pot's resolv.conf, each quoting the value.

    ``interpolated=False`` (at submission): a server naming ``${...}`` is left
    for the client to interpolate; ``True`` (at start): every value must be
    final, so a reference the client could not resolve is refused.
    """
    if dns is None:
        return []
    problems = []
    if len(dns.servers) > MAX_NAMESERVERS:
        problems.append(f"dns: {len(dns.servers)} servers {dns.servers!r}, but a pot's "
                        f"resolver uses at most {MAX_NAMESERVERS}")
    for index, server in enumerate(dns.servers):
        if "${" in server and not interpolated:
            continue  # interpolated by the client
        try:
            ipaddress.ip_address(server)
        except ValueError:
            problems.append(f"dns.servers[{index}] {server!r} is not an IP address")
    if len(dns.searches) > MAX_SEARCH_DOMAINS:
        problems.append(f"dns: {len(dns.searches)} search domains {dns.searches!r}, but a "
                        f"pot's resolver uses at most {MAX_SEARCH_DOMAINS}")
    for key, values in (("searches", dns.searches), ("options", dns.options)):
        for index, value in enumerate(values):
            if (not value or any(ch.isspace() for ch in value)
                    or any(mark in value for mark in _FORBIDDEN)):
                problems.append(f"dns.{key}[{index}] {value!r} must be one word without "
                                "'#' or ';'")
    return problems


def render_resolv_conf(dns: DNSConfig) -> str:
    """The resolv.conf text for a ``dns`` block without :func:`dns_problems`."""
    lines = ["# written by nomadjail from the group network's dns block"]
    lines += [f"nameserver {server}" for server in dns.servers]
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "\n".join(lines) + "\n"


def parse_host_resolv_conf(text: str) -> DNSConfig:
    """What a host's resolv.conf says, read as Nomad reads it (lib/resolvconf): every
    ``nameserver`` that is an IP address, the last ``search`` (or ``domain``) line,
    every ``options`` line.  Cut to what FreeBSD's resolver uses (the first
    :data:`MAX_NAMESERVERS` servers and :data:`MAX_SEARCH_DOMAINS` domains); anything
    after ``#`` or ``;`` on a line is a comment."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split(";", 1)[0].split()
        if len(fields) < 2:
            continue
        if fields[0] == "nameserver":
            try:
                ipaddress.ip_address(fields[1])
            except ValueError:
                continue
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = fields[1:]
        elif fields[0] == "options":
            options += fields[1:]
    return DNSConfig(servers=servers[:MAX_NAMESERVERS], searches=searches[:MAX_SEARCH_DOMAINS],
                     options=options)


def needs_host(dns: DNSConfig | None) -> bool:
    """Whether :func:`fill_from_host` would use the host's resolv.conf for ``dns``."""
    return dns is not None and not is_empty(dns) and not (
        dns.servers and dns.searches and dns.options)


def fill_from_host(dns: DNSConfig, host: DNSConfig) -> DNSConfig:
    """``dns`` with each empty field taken from ``host`` (Nomad's GenerateDNSMount)."""
    return dataclasses.replace(dns, servers=list(dns.servers or host.servers),
                               searches=list(dns.searches or host.searches),
                               options=list(dns.options or host.options))
