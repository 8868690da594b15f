"""What the HTTP layer needs from the agent that runs it.

The agent package implements this; tests may pass anything that fits.  The
HTTP layer never builds servers or clients itself, it only asks for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # types only: the HTTP layer is handed these, it never builds them
    from ..client.client import Client
    from ..server.server import Server


class AgentAPI(Protocol):
    region: str
    datacenter: str
    node_name: str
    ui_enabled: bool
    shutting_down: bool  # set when the agent starts stopping: long requests end
    client_waiting_for_servers: bool  # a client still looking for its servers (Consul)

    @property
    def server(self) -> Server | None: ...

    @property
    def client(self) -> Client | None: ...

    def require_server(self) -> Server:
        """The local server; raises Unavailable on a client-only agent."""
        ...

    def require_client(self) -> Client:
        """The local client; raises Unavailable on a server-only agent."""
        ...

    def is_rpc_listener(self, port: int) -> bool:
        """Whether a request that arrived on local ``port`` came in on the rpc port."""
        ...

    def self_info(self) -> dict[str, Any]:
        """The body of GET /v1/agent/self: {"config": ..., "member": ..., "stats": ...}."""
        ...
