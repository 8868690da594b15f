"""``host:port`` strings, the one place that knows IPv6 needs brackets.

Two spellings exist, on purpose:

- :func:`join_host_port` / :func:`split_host_port` -- the network form (Go's
  ``net.JoinHostPort``): ``10.0.0.5:4646``, ``[fd00::5]:4646``.  Everything a
  person, a URL, gunicorn's ``bind``, Consul or syslog reads uses it.
- :func:`raft_address` -- PySyncObj's node identity: ``host:port`` with the
  host *never* bracketed (PySyncObj splits at the last colon and hands the
  host to the resolver as is), e.g. ``fd00::5:4648``.  Only raft uses it.

A bare IPv6 address (``fd00::5``, more than one colon, no brackets) is a host
without a port, as in Nomad's config files.

It lives in ``structs`` (plain helpers, no I/O) so that the server, the HTTP
layer and the agent spell addresses the same way.
"""

from __future__ import annotations

import ipaddress


def is_ipv6(host: str) -> bool:
    """Whether ``host`` (without brackets) is an IPv6 address."""
    try:
        return isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address)
    except ValueError:
        return ":" in host


def url_host(host: str) -> str:
    """``host`` as it goes into a URL or before ``:port``: IPv6 in brackets."""
    host = host.strip("[]")
    return f"[{host}]" if is_ipv6(host) else host


def join_host_port(host: str, port: int) -> str:
    """``10.0.0.5:4646`` or ``[fd00::5]:4646``."""
    return f"{url_host(host)}:{port}"


def raft_address(host: str, port: int) -> str:
    """PySyncObj's spelling of a raft node: ``host:port``, IPv6 without brackets."""
    return f"{host.strip('[]')}:{port}"


def split_raft_address(address: str) -> tuple[str, int]:
    """(host, port) of a raft node address (:func:`raft_address`'s spelling, or the
    network form): the port after the last colon, the host without brackets;
    port 0 when there is none."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return address.strip("[]"), 0
    return host.strip("[]"), int(port)


def split_host_port(address: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``v6``, ``[v6]`` or ``[v6]:port`` -> (host, port),
    the host without brackets; ValueError quotes the address."""
    text = address.strip()
    if not text:
        raise ValueError("address is empty")
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError(f"address {address!r}: expected [ipv6] or [ipv6]:port")
        port_text = rest[1:]
        if rest and not port_text:
            raise ValueError(f"address {address!r} ends with ':' but has no port")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text:
            raise ValueError(f"address {address!r} ends with ':' but has no port")
    else:
        host, port_text = text, ""  # a name, an IPv4 address or a bare IPv6 address
    if not host:
        raise ValueError(f"address {address!r} has no host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"address {address!r}: port {port_text!r} is not between 1 and 65535")
    return host, int(port_text)


def normalize(address: str, default_port: int) -> str:
    """``address`` in the network form with its port (``default_port`` if it had none)."""
    return join_host_port(*split_host_port(address, default_port))
