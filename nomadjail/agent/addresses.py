"""``host:port`` helpers for the agent and the appliance: see
:mod:`nomadjail.structs.addresses`, where they live so that the server and the
HTTP layer use the same ones."""

from ..structs.addresses import (
    is_ipv6,
    join_host_port,
    normalize,
    raft_address,
    split_host_port,
    split_raft_address,
    url_host,
)

__all__ = ["is_ipv6", "join_host_port", "normalize", "raft_address", "split_host_port",
           "split_raft_address", "url_host"]
