"""The client side of the agent RPC protocol (``api/rpc.py``), over HTTP with requests.

:class:`HTTPServerRPC` is what a client agent uses to talk to its servers.  It
satisfies ``nomadjail.client.rpc.ServerRPC``.

* **Failover.** Calls go to the current server; a connection error, a timeout
  or a 502/503/504 moves on to the next address.  When every server failed
  the call raises :class:`NoServersError`.  The list grows with the
  ``Servers`` a server returns from ``Node.Register`` / ``Node.UpdateStatus``
  (the configured addresses stay as a fallback).
* **Authentication.** Node-scoped calls carry ``X-Nomad-Token`` = the node's
  SecretID, learnt from the last ``register(node)`` (a client always registers
  before anything else, also after a restart).
* **Errors.** Answers map to the errors of :mod:`nomadjail.structs`: 400
  BadRequest, 403 PermissionDenied, 404 NotFound, 409 Conflict, other
  statuses Unavailable; the plain-text body is the message.
* **Blocking queries.** ``get_client_allocs(node_id, index, wait)`` sends
  ``?index=&wait=`` and allows ``wait`` plus the normal timeout for the answer.

Each thread gets its own ``requests.Session``: the heartbeat, the alloc watcher
and the status updater call concurrently.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Sequence

import requests

from ..structs import (Allocation, BadRequest, Conflict, NomadError, Node, NotFound,
                       PermissionDenied, Unavailable, from_api, to_api)
from ..structs.codec import field
from .rpc import (ALLOC_GET_ALLOCS, NODE_GET_CLIENT_ALLOCS, NODE_REGISTER, NODE_UPDATE_ALLOC,
                  NODE_UPDATE_STATUS, rpc_path)

DEFAULT_TIMEOUT = 10.0  # seconds for one request (plus ``wait`` for blocking queries)
TOKEN_HEADER = "X-Nomad-Token"
_FAILOVER_STATUSES = frozenset({502, 503, 504})


@dataclass(slots=True)
class NodeUpdateResponse:
    """The answer to Node.Register and Node.UpdateStatus."""

    heartbeat_ttl: int = 0  # ns
    index: int = 0
    leader_rpc_addr: str = field("", key="LeaderRPCAddr")
    num_nodes: int = 0
    servers: list[str] = field(default_factory=list)


class NoServersError(Unavailable):
    """No server answered (all refused, timed out or are unreachable)."""


def _error_for(status: int, body: str, method: str) -> NomadError:
    message = body.strip() or f"{method}: HTTP {status}"
    if status == 400:
        return BadRequest(message)
    if status == 403:
        return PermissionDenied(message)
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    return Unavailable(f"{method}: HTTP {status}: {message}")


class HTTPServerRPC:
    """Talk to the servers at ``servers`` ("ip:port" rpc addresses)."""

    def __init__(self, servers: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT,
                 region: str = "") -> None:
        if not servers:
            raise ValueError("HTTPServerRPC needs at least one server address")
        self._seeds = [self._normalise(s) for s in servers]
        self._servers = list(self._seeds)
        self._current = 0
        self._timeout = timeout
        self._region = region
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all_sessions: list[requests.Session] = []
        self._node_id = ""
        self._secret_id = ""

    @staticmethod
    def _normalise(address: str) -> str:
        address = address.strip().rstrip("/")
        if "://" not in address:
            address = "http://" + address
        return address

    def servers(self) -> list[str]:
        """The addresses calls may go to, the current one first (without scheme)."""
        with self._lock:
            ordered = self._servers[self._current:] + self._servers[:self._current]
        return [s.split("://", 1)[1] for s in ordered]

    def set_servers(self, servers: Sequence[str]) -> None:
        """Prefer ``servers`` (learnt from a server); the configured ones stay as fallback."""
        learnt = [self._normalise(s) for s in servers if s]
        merged = list(dict.fromkeys([*learnt, *self._seeds]))
        with self._lock:
            current = self._servers[self._current] if self._servers else ""
            self._servers = merged
            self._current = merged.index(current) if current in merged else 0

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
            with self._lock:
                self._all_sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._all_sessions = self._all_sessions, []
        for session in sessions:
            session.close()

    def _call(self, method: str, *, body: Any = None, params: dict[str, Any] | None = None,
              timeout: float | None = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        token = self._secret_id if token is None else token
        if token:
            headers[TOKEN_HEADER] = token
        params = dict(params or {})
        if self._region:
            params.setdefault("region", self._region)
        with self._lock:
            order = self._servers[self._current:] + self._servers[:self._current]
        failures = []
        for server in order:
            try:
                if body is None:
                    resp = self._session().get(server + rpc_path(method), params=params,
                                               headers=headers, timeout=timeout or self._timeout)
                else:
                    resp = self._session().post(server + rpc_path(method), params=params,
                                                json=body, headers=headers,
                                                timeout=timeout or self._timeout)
            except requests.RequestException as err:
                failures.append(f"{server}: {err.__class__.__name__}: {err}")
                continue
            if resp.status_code in _FAILOVER_STATUSES:
                failures.append(f"{server}: HTTP {resp.status_code}: {resp.text.strip()}")
                continue
            with self._lock:
                if server in self._servers:
                    self._current = self._servers.index(server)
            if resp.status_code >= 400:
                raise _error_for(resp.status_code, resp.text, method)
            try:
                return resp.json() if resp.content else {}
            except ValueError:
                raise Unavailable(f"{method}: {server} answered with invalid JSON: "
                                  f"{resp.text[:200]!r}") from None
        raise NoServersError(f"{method}: no server answered: " + "; ".join(failures))

    def _node_update(self, data: Any) -> NodeUpdateResponse:
        result = from_api(NodeUpdateResponse, data if isinstance(data, dict) else {})
        if result.servers:
            self.set_servers(result.servers)
        return result

    # -- ServerRPC ---------------------------------------------------------------------

    def register(self, node: Node) -> NodeUpdateResponse:
        data = self._call(NODE_REGISTER, body={"Node": to_api(node)}, token=node.secret_id)
        self._node_id, self._secret_id = node.id, node.secret_id
        return self._node_update(data)

    def update_status(self, node_id: str, status: str) -> NodeUpdateResponse:
        data = self._call(NODE_UPDATE_STATUS, body={"NodeID": node_id, "Status": status})
        return self._node_update(data)

    def get_client_allocs(self, node_id: str, index: int, wait: float
                          ) -> tuple[dict[str, int], int]:
        params = {"node_id": node_id, "index": index, "wait": f"{max(int(wait * 1000), 1)}ms"}
        data = self._call(NODE_GET_CLIENT_ALLOCS, params=params,
                          timeout=wait + self._timeout)
        allocs = data.get("Allocs") or {}
        return {str(k): int(v) for k, v in allocs.items()}, int(data.get("Index") or 0)

    def get_allocs(self, alloc_ids: list[str]) -> list[Allocation]:
        data = self._call(ALLOC_GET_ALLOCS, body={"NodeID": self._node_id,
                                                  "AllocIDs": list(alloc_ids)})
        return [from_api(Allocation, a, f"Allocs[{i}]")
                for i, a in enumerate(data.get("Allocs") or [])]

    def update_allocs(self, allocs: list[Allocation]) -> None:
        self._call(NODE_UPDATE_ALLOC, body={"NodeID": self._node_id,
                                            "Alloc": [to_api(a) for a in allocs]})
