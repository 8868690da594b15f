"""The client side of the agent RPC protocol (``api/rpc.py``), over the API's transport seam.

:class:`HTTPServerRPC` is what a client agent uses to talk to its servers.  It
satisfies ``nomadjail.client.rpc.ServerRPC``.  Every request goes through a
:class:`~nomadjail.api.Transport` (one per server address and thread,
built by ``transport_factory``; :class:`~nomadjail.api.RequestsTransport`
by default), so tests can run it against fakes or an in-process app.

* **Failover.** Calls go to the preferred server: the leader the last
  ``Node.Register`` / ``Node.UpdateStatus`` answer named (``LeaderRPCAddr``),
  else the server that answered last.  A connection error, a 502/503/504, or
  a 500 saying there is no leader ("No cluster leader", "... not leader")
  moves on to the next address; when every server failed the call raises
  :class:`NoServersError`.  The list grows with the ``Servers`` a server
  returns (the configured addresses stay as a fallback).
* **Authentication.** Node-scoped calls carry ``X-Nomad-Token`` = the node's
  SecretID, learnt from the last ``register(node)`` (a client always registers
  before anything else, also after a restart).
* **Errors.** Answers map to the API's errors (:func:`~nomadjail.api.error_for_status`),
  which are also the :mod:`nomadjail.structs` errors:
  400 BadRequest, 403 PermissionDenied, 404 NotFound, 409 Conflict, 5xx
  Unavailable; the plain-text body is the message.
* **Blocking queries.** ``get_client_allocs(node_id, index, wait)`` sends
  ``?index=&wait=``; the transport allows ``wait`` plus its normal timeout.

Each thread gets its own transports: the heartbeat, the alloc watcher and the
status updater call concurrently.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..structs import (
    DEFAULT_NAMESPACE,
    Allocation,
    Node,
    NodeStatus,
    ServiceRegistration,
    Unavailable,
    from_api,
    to_api,
)
from ..structs.service_registration import ServiceRegistrationListStub
from ..structs.variables import Variable, VariableMetadata
from ._errors import ApiConnectionError, error_for_status
from ._transport import RequestsTransport, Transport
from .rpc import (
    ALLOC_GET_ALLOCS,
    NODE_GET_CLIENT_ALLOCS,
    NODE_REGISTER,
    NODE_UPDATE_ALLOC,
    NODE_UPDATE_STATUS,
    SERVICE_REGISTRATION_DELETE_BY_ID,
    SERVICE_REGISTRATION_GET_SERVICE,
    SERVICE_REGISTRATION_LIST,
    SERVICE_REGISTRATION_UPSERT,
    VARIABLES_LIST,
    VARIABLES_READ,
    AllocGetAllocsRequest,
    AllocGetAllocsResponse,
    IndexResponse,
    NodeClientAllocsResponse,
    NodeRegisterRequest,
    NodeUpdateAllocRequest,
    NodeUpdateResponse,
    NodeUpdateStatusRequest,
    ServiceRegistrationDeleteByIDRequest,
    ServiceRegistrationGetServiceResponse,
    ServiceRegistrationListResponse,
    ServiceRegistrationUpsertRequest,
    VariablesListResponse,
    VariablesReadResponse,
    is_no_leader_error,
    rpc_path,
)

__all__ = ["DEFAULT_TIMEOUT", "HTTPServerRPC", "NoServersError", "NodeUpdateResponse"]

DEFAULT_TIMEOUT = 10.0  # seconds for one request (plus ``wait`` for blocking queries)
TOKEN_HEADER = "X-Nomad-Token"
_FAILOVER_STATUSES = frozenset({502, 503, 504})

TransportFactory = Callable[[str], Transport]
"""Builds the transport for one server address (``http://ip:port``)."""


class NoServersError(Unavailable):
    """No server answered (all refused, timed out, are unreachable or have no leader)."""


def _normalise(address: str) -> str:
    address = address.strip().rstrip("/")
    if "://" not in address:
        address = "http://" + address
    return address


class HTTPServerRPC:
    """Talk to the servers at ``servers`` ("ip:port" rpc addresses)."""

    def __init__(self, servers: Sequence[str], *, timeout: float = DEFAULT_TIMEOUT,
                 region: str = "", transport_factory: TransportFactory | None = None) -> None:
        if not servers:
            raise ValueError("HTTPServerRPC needs at least one server address")
        self._seeds = [_normalise(s) for s in servers]
        self._servers = list(self._seeds)
        self._current = 0
        self._leader = ""  # the leader's address from the last node update, "" if unknown
        self._timeout = timeout
        self._region = region
        self._factory: TransportFactory = transport_factory or (
            lambda address: RequestsTransport(address, timeout=timeout))
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all_transports: list[Transport] = []
        self._node_id = ""
        self._secret_id = ""

    def servers(self) -> list[str]:
        """The addresses calls may go to, in the order they are tried (without scheme)."""
        return [s.split("://", 1)[1] for s in self._order()]

    def set_servers(self, servers: Sequence[str]) -> None:
        """Prefer ``servers`` (learnt from a server); the configured ones stay as fallback."""
        learnt = [_normalise(s) for s in servers if s]
        merged = list(dict.fromkeys([*learnt, *self._seeds]))
        with self._lock:
            current = self._servers[self._current] if self._servers else ""
            self._servers = merged
            self._current = merged.index(current) if current in merged else 0

    def _set_leader(self, leader: str) -> None:
        leader = _normalise(leader) if leader else ""
        with self._lock:
            if leader and leader not in self._servers:
                self._servers.append(leader)
            self._leader = leader

    def _order(self) -> list[str]:
        with self._lock:
            rotation = self._servers[self._current:] + self._servers[:self._current]
            if self._leader in rotation:
                rotation.remove(self._leader)
                rotation.insert(0, self._leader)
            return rotation

    def _transport(self, address: str) -> Transport:
        transports: dict[str, Transport] | None = getattr(self._local, "transports", None)
        if transports is None:
            transports = self._local.transports = {}
        transport = transports.get(address)
        if transport is None:
            transport = transports[address] = self._factory(address)
            with self._lock:
                self._all_transports.append(transport)
        return transport

    def close(self) -> None:
        """Close every transport (may cut a blocking query short)."""
        with self._lock:
            transports, self._all_transports = self._all_transports, []
        for transport in transports:
            close = getattr(transport, "close", None)
            if callable(close):
                close()
        self._local = threading.local()

    def _call(self, method: str, *, body: Any = None, params: dict[str, Any] | None = None,
              token: str | None = None) -> Any:
        headers = {}
        token = self._secret_id if token is None else token
        if token:
            headers[TOKEN_HEADER] = token
        query = {key: str(value) for key, value in (params or {}).items()}
        if self._region:
            query.setdefault("region", self._region)
        http_method = "GET" if body is None else "POST"
        failures = []
        for server in self._order():
            try:
                resp = self._transport(server).request(http_method, rpc_path(method), query,
                                                       body, headers)
            except ApiConnectionError as err:
                failures.append(f"{server}: {err.reason}")
                self._forget_leader(server)
                continue
            raw = resp.read()
            text = raw.decode("utf-8", "replace").strip()
            if resp.status in _FAILOVER_STATUSES or is_no_leader_error(resp.status, text):
                failures.append(f"{server}: HTTP {resp.status}: {text}")
                self._forget_leader(server)
                continue
            with self._lock:
                if server in self._servers:
                    self._current = self._servers.index(server)
            if resp.status >= 400:
                raise error_for_status(resp.status, text or f"{method}: HTTP {resp.status}")
            try:
                return json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise Unavailable(f"{method}: {server} answered with invalid JSON: "
                                  f"{text[:200]!r}") from None
        raise NoServersError(f"{method}: no server answered: " + "; ".join(failures))

    def _forget_leader(self, server: str) -> None:
        with self._lock:
            if self._leader == server:
                self._leader = ""

    def _node_update(self, data: Any) -> NodeUpdateResponse:
        result = from_api(NodeUpdateResponse, data if isinstance(data, dict) else {})
        if result.servers:
            self.set_servers(result.servers)
        self._set_leader(result.leader_rpc_addr)
        return result

    # -- ServerRPC ---------------------------------------------------------------------

    def register(self, node: Node) -> NodeUpdateResponse:
        data = self._call(NODE_REGISTER, body=to_api(NodeRegisterRequest(node=node)),
                          token=node.secret_id)
        self._node_id, self._secret_id = node.id, node.secret_id
        return self._node_update(data)

    def update_status(self, node_id: str, status: str) -> NodeUpdateResponse:
        data = self._call(NODE_UPDATE_STATUS,
                          body=to_api(NodeUpdateStatusRequest(node_id=node_id,
                                                             status=NodeStatus(status))))
        return self._node_update(data)

    def get_client_allocs(self, node_id: str, index: int, wait: float
                          ) -> tuple[dict[str, int], int]:
        params = {"node_id": node_id, "index": index, "wait": f"{max(int(wait * 1000), 1)}ms"}
        data = self._call(NODE_GET_CLIENT_ALLOCS, params=params)
        result = from_api(NodeClientAllocsResponse, data if isinstance(data, dict) else {})
        return result.allocs, result.index

    def get_allocs(self, alloc_ids: list[str]) -> list[Allocation]:
        request = AllocGetAllocsRequest(node_id=self._node_id, alloc_ids=list(alloc_ids))
        data = self._call(ALLOC_GET_ALLOCS, body=to_api(request))
        return from_api(AllocGetAllocsResponse, data if isinstance(data, dict) else {}).allocs

    def update_allocs(self, allocs: list[Allocation]) -> None:
        self._call(NODE_UPDATE_ALLOC,
                   body=to_api(NodeUpdateAllocRequest(node_id=self._node_id, alloc=allocs)))

    # -- Nomad service discovery ----------------------------------------------------------

    def upsert_service_registrations(self, services: list[ServiceRegistration]) -> int:
        """Register (or update) instances of this node's allocations; the raft index.
        An allocation the servers already consider stopped has its instances ignored."""
        data = self._call(SERVICE_REGISTRATION_UPSERT, body=to_api(
            ServiceRegistrationUpsertRequest(services=list(services))))
        return from_api(IndexResponse, data if isinstance(data, dict) else {}).index

    def delete_service_registration(self, reg_id: str,
                                    namespace: str = DEFAULT_NAMESPACE) -> int:
        """Remove one of this node's registrations; NotFound when it is not there (the
        servers may have removed it already, with its stopped allocation)."""
        request = ServiceRegistrationDeleteByIDRequest(id=reg_id, namespace=namespace,
                                                       node_id=self._node_id)
        data = self._call(SERVICE_REGISTRATION_DELETE_BY_ID, body=to_api(request))
        return from_api(IndexResponse, data if isinstance(data, dict) else {}).index

    def _wait_params(self, namespace: str, index: int, wait: float) -> dict[str, Any]:
        params: dict[str, Any] = {"node_id": self._node_id, "namespace": namespace}
        if index:
            params.update(index=index, wait=f"{max(int(wait * 1000), 1)}ms")
        return params

    def get_service_registrations(self, namespace: str, service_name: str, index: int,
                                  wait: float, choose: str = ""
                                  ) -> tuple[list[ServiceRegistration], int]:
        """ServiceRegistration.GetService: the instances of one service (templates'
        nomadService; ``choose`` is ``"<count>|<key>"``); blocks up to ``wait`` seconds
        until the index passes ``index``."""
        params = self._wait_params(namespace, index, wait)
        params["service_name"] = service_name
        if choose:
            params["choose"] = choose
        data = self._call(SERVICE_REGISTRATION_GET_SERVICE, params=params)
        result = from_api(ServiceRegistrationGetServiceResponse,
                          data if isinstance(data, dict) else {})
        return result.services, result.index

    def list_service_registrations(self, namespace: str, index: int, wait: float
                                   ) -> tuple[list[ServiceRegistrationListStub], int]:
        """ServiceRegistration.List: service names and tags of ``namespace`` (templates'
        nomadServices)."""
        data = self._call(SERVICE_REGISTRATION_LIST,
                          params=self._wait_params(namespace, index, wait))
        result = from_api(ServiceRegistrationListResponse,
                          data if isinstance(data, dict) else {})
        return result.services, result.index

    # -- Nomad Variables (a task's reads, for templates) -----------------------------------

    @staticmethod
    def _blocking(params: dict[str, Any], index: int, wait: float) -> dict[str, Any]:
        if index > 0:
            params["index"] = index
            params["wait"] = f"{max(int(wait * 1000), 1)}ms"
        return {key: value for key, value in params.items() if value != ""}

    def read_variable(self, namespace: str, path: str, alloc_id: str, index: int,
                      wait: float, task: str = "") -> tuple[Variable | None, int]:
        """The variable at ``path`` as the task of ``alloc_id`` may read it (None when it
        does not exist) and the index to block on next; PermissionDenied for a path
        outside the task's implicit ones."""
        params = self._blocking({"namespace": namespace or DEFAULT_NAMESPACE, "path": path,
                                 "alloc_id": alloc_id, "task": task}, index, wait)
        data = self._call(VARIABLES_READ, params=params)
        result = from_api(VariablesReadResponse, data if isinstance(data, dict) else {})
        return result.data, result.index

    def list_variables(self, namespace: str, prefix: str, alloc_id: str, index: int,
                       wait: float, task: str = "") -> tuple[list[VariableMetadata], int]:
        """The metadata of the variables under ``prefix`` the task may read."""
        params = self._blocking({"namespace": namespace or DEFAULT_NAMESPACE,
                                 "prefix": prefix, "alloc_id": alloc_id, "task": task},
                                index, wait)
        data = self._call(VARIABLES_LIST, params=params)
        result = from_api(VariablesListResponse, data if isinstance(data, dict) else {})
        return result.data, result.index
