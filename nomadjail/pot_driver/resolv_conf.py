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
filled from the host's own resolv.conf (:func:`resolver_config`,
:func:`fill_from_host`): a block with only ``searches`` still gets the host's
nameservers -- without any, the pot's resolver would ask 127.0.0.1.  A
``dns`` block with nothing in it keeps the image's resolver configuration.

``pot clone`` copies the image's own ``conf/resolv.conf`` over the one from
``prepare -d custom:<file>``; :func:`reassert_resolv_conf` puts the job's
back after ``prepare``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
from dataclasses import dataclass

from ..drivers.base import DriverError
from ..structs import DNSConfig
from .task_files import write_file

log = logging.getLogger("nomadjail.pot_driver")

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


def resolver_config(dns: DNSConfig | None, host_path: str) -> DNSConfig | None:
    """The task's dns block (already interpolated by the client) with what it leaves
    empty filled from the host's resolv.conf at ``host_path``, as Nomad's
    GenerateDNSMount does.

    Without servers of its own and without a readable host file the pot would
    get no nameserver at all (its resolver would ask 127.0.0.1): that is a
    DriverError.  Missing searches or options are only left empty.
    """
    if dns is None or not needs_host(dns):
        return dns
    try:
        with open(host_path, encoding="utf-8", errors="replace") as src:
            host = parse_host_resolv_conf(src.read())
    except OSError as err:
        if not dns.servers:
            raise DriverError(f"the group network's dns block names no servers and the "
                              f"host's {host_path} cannot be read for them: {err}") from None
        log.debug("host resolv.conf %s unreadable (%s): the dns block's empty fields "
                  "stay empty", host_path, err)
        return dns
    if not dns.servers and not host.servers:
        raise DriverError(f"the group network's dns block names no servers and the "
                          f"host's {host_path} names none either")
    return fill_from_host(dns, host)


@dataclass(frozen=True, slots=True)
class ResolvConfFile:
    """The pot's resolv.conf from the task's dns block: the host file handed to
    ``prepare -d custom:<path>`` and its text; no path: the image's setting is kept."""

    path: str = ""
    text: str = ""


def pot_resolv_conf(dns: DNSConfig | None, path: str) -> ResolvConfFile:
    """The file to write at ``path`` for ``dns`` (a checked, host-filled block)."""
    if dns is None or is_empty(dns):
        return ResolvConfFile()
    return ResolvConfFile(path=path, text=render_resolv_conf(dns))


def reassert_resolv_conf(conf_dir: str, name: str, text: str) -> None:
    """Make ``text`` the resolv.conf pot installs at the start of pot ``name``, whose
    configuration directory is ``conf_dir``.

    ``pot clone`` first copies ``prepare -d custom:<file>`` into the pot's
    ``conf/resolv.conf`` and then, if the image has one, the image's own
    ``conf/resolv.conf`` over it (share/pot/clone.sh, ``_cj_conf``): the job's
    dns block would silently lose.  pot has no command to set it afterwards,
    so the driver writes the file pot itself copies to the pot's
    ``/etc/resolv.conf`` at every start.
    """
    path = os.path.join(conf_dir, "resolv.conf")
    try:
        with open(path, encoding="utf-8", errors="replace") as src:
            current: str | None = src.read()
    except OSError:
        current = None
    if current == text:
        return
    log.warning("pot %s: the image's resolv.conf replaced the one from the job's dns "
                "block; restoring the job's", name)
    write_file(path, text, 0o644)
