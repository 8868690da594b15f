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
(both start a comment in resolv.conf).  A ``dns`` block with nothing in it
keeps the image's resolver configuration.
"""

from __future__ import annotations

import ipaddress

from ..structs import DNSConfig

MAX_NAMESERVERS = 3  # FreeBSD's MAXNS
MAX_SEARCH_DOMAINS = 6  # FreeBSD's MAXDNSRCH
_FORBIDDEN = ("#", ";")


def is_empty(dns: DNSConfig | None) -> bool:
    return dns is None or not (dns.servers or dns.searches or dns.options)


def dns_problems(dns: DNSConfig | None) -> list[str]:
    """Every reason ``dns`` cannot become the pot's resolv.conf, each quoting the value."""
    if dns is None:
        return []
    problems = []
    if len(dns.servers) > MAX_NAMESERVERS:
        problems.append(f"dns: {len(dns.servers)} servers {dns.servers!r}, but a pot's "
                        f"resolver uses at most {MAX_NAMESERVERS}")
    for index, server in enumerate(dns.servers):
        if "${" in server:
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
