"""``host:port`` strings in agent configs (syslog, Consul addresses)."""

from __future__ import annotations


def split_host_port(address: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port); ValueError quotes it."""
    text = address.strip()
    if not text:
        raise ValueError("address is empty")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":") if rest else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"address {address!r} has no host")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"address {address!r}: port {port_text!r} is not between 1 and 65535")
    return host, int(port_text)
