"""The client's only way to reach servers: the :class:`ServerRPC` protocol.

``nomadjail.api.rpc_client.HTTPServerRPC`` implements it over HTTP (the rpc
port); tests may pass an in-memory fake.  The methods follow the agent RPC
table in ``nomadjail/api/rpc.py``.

Errors a client reacts to:

* :class:`NoServersError` (an ``Unavailable``) -- nobody answered (or no server
  has a leader): retry later.
* ``NotFound`` / ``PermissionDenied`` from ``update_status`` or
  ``get_client_allocs`` -- the servers do not know this node (or its secret):
  register again.
* any other ``NomadError`` -- log it and retry with backoff.
"""

from __future__ import annotations

from typing import Protocol

from ..api.rpc import NodeUpdateResponse
from ..api.rpc_client import NoServersError
from ..structs import DEFAULT_NAMESPACE, Allocation, Node, ServiceRegistration
from ..structs.service_registration import ServiceRegistrationListStub
from ..structs.variables import Variable, VariableMetadata

__all__ = ["NodeUpdateResponse", "NoServersError", "ServerRPC"]


class ServerRPC(Protocol):
    def register(self, node: Node) -> NodeUpdateResponse:
        """Node.Register.  Also remembers ``node.secret_id`` for later calls."""
        ...

    def update_status(self, node_id: str, status: str) -> NodeUpdateResponse:
        """Node.UpdateStatus: the heartbeat."""
        ...

    def get_client_allocs(self, node_id: str, index: int, wait: float
                          ) -> tuple[dict[str, int], int]:
        """Node.GetClientAllocs: ``({alloc ID: AllocModifyIndex}, index)``, blocking up to
        ``wait`` seconds until the servers' index passes ``index``."""
        ...

    def get_allocs(self, alloc_ids: list[str]) -> list[Allocation]:
        """Alloc.GetAllocs: the full allocations, each with its job."""
        ...

    def update_allocs(self, allocs: list[Allocation]) -> None:
        """Node.UpdateAlloc: client status, task states, deployment health."""
        ...

    def upsert_service_registrations(self, services: list[ServiceRegistration]) -> int:
        """ServiceRegistration.Upsert: instances of this node's allocations (Nomad's own
        service discovery); the raft index.  BadRequest when refused (nothing stored)."""
        ...

    def delete_service_registration(self, reg_id: str,
                                    namespace: str = DEFAULT_NAMESPACE) -> int:
        """ServiceRegistration.DeleteByID: one of this node's instances; NotFound when
        the servers do not have it (any more)."""
        ...

    def get_service_registrations(self, namespace: str, service_name: str, index: int,
                                  wait: float, choose: str = ""
                                  ) -> tuple[list[ServiceRegistration], int]:
        """ServiceRegistration.GetService: ``(instances of the service, index)``, blocking
        up to ``wait`` seconds while the index is ``index`` (0: answer at once);
        ``choose`` ("<count>|<key>") picks instances by rendezvous hashing as Nomad's
        ``?choose=``."""
        ...

    def list_service_registrations(self, namespace: str, index: int, wait: float
                                   ) -> tuple[list[ServiceRegistrationListStub], int]:
        """ServiceRegistration.List: ``(service names and tags per namespace, index)``."""
        ...

    def read_variable(self, namespace: str, path: str, alloc_id: str, index: int,
                      wait: float, task: str = "") -> tuple[Variable | None, int]:
        """Variables.Read for a task of ``alloc_id``: ``(variable or None, index)``,
        blocking up to ``wait`` seconds until the variable's index passes ``index`` (0:
        answer at once).  PermissionDenied for a path the task may not read (only
        ``nomad/jobs[/<job>[/<group>[/<task>]]]``; the task level needs ``task``)."""
        ...

    def list_variables(self, namespace: str, prefix: str, alloc_id: str, index: int,
                       wait: float, task: str = "") -> tuple[list[VariableMetadata], int]:
        """Variables.List for a task of ``alloc_id``: the metadata of the variables under
        ``prefix`` it may read, and the index to block on next."""
        ...
