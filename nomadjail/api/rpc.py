"""The agent RPC protocol: what clients (and followers) say to servers on the
``rpc`` port (4647), as HTTP/JSON.

Nomad speaks msgpack-RPC here; nomadjail keeps Nomad's method names and
payload shapes but carries them as JSON over HTTP, so the same Falcon stack
serves both ports and the traffic can be read with curl.

Every request is ``POST /v1/rpc/<Method>`` with a JSON body, except the
blocking reads (``Node.GetClientAllocs``, ``ServiceRegistration.GetService``,
``ServiceRegistration.List``, ``Variables.Read``, ``Variables.List``), each a ``GET``
with ``?index=&wait=``.
Node-scoped calls carry the node's SecretID in the ``X-Nomad-Token`` header;
the server answers 403 if it does not match the registered node.  Errors use
the public API's status codes and plain-text bodies.

=====================  ====================================  ===================================
method                 request body                          response body
=====================  ====================================  ===================================
Node.Register          {"Node": Node}                        {"HeartbeatTTL": ns, "Index": n,
                                                             "LeaderRPCAddr": "ip:4647",
                                                             "NumNodes": n,
                                                             "Servers": ["ip:4647", ...]}
Node.UpdateStatus      {"NodeID": id, "Status": "ready"}     same as Node.Register
(heartbeat)
Node.GetClientAllocs   query: node_id, index, wait           {"Allocs": {alloc ID:
                                                             AllocModifyIndex}, "Index": n}
Alloc.GetAllocs        {"NodeID": id, "AllocIDs": [id, ...]} {"Allocs": [Allocation with Job],
                                                             "Index": n}
Node.UpdateAlloc       {"NodeID": id, "Alloc": [Allocation   {"Index": n}
                       (ID, ClientStatus, ClientDescription,
                       TaskStates, DeploymentStatus,
                       ModifyTime)]}
ServiceRegistration.   {"Services": [ServiceRegistration]}   {"Index": n}
Upsert                 (every NodeID the caller's)
ServiceRegistration.   {"ID": id, "Namespace": ns,           {"Index": n}
DeleteByID             "NodeID": id}
ServiceRegistration.   query: node_id, namespace,            {"Services": [ServiceRegistration],
GetService             service_name, index, wait             "Index": n}
ServiceRegistration.   query: node_id, namespace, index,     {"Services": [{"Namespace": ns,
List                   wait                                  "Services": [{"ServiceName",
                                                             "Tags"}]}], "Index": n}
Variables.Read         query: namespace, path, alloc_id,     {"Data": Variable or null,
(GET, blocking)        task, index, wait                     "Index": n}
Variables.List         query: namespace, prefix, alloc_id,   {"Data": [VariableMetadata],
(GET, blocking)        task, index, wait                     "Index": n}
=====================  ====================================  ===================================

The ``Variables`` calls are a task's reads (templates): the secret must be that of the
node running ``alloc_id``, and only the allocation's implicit paths are served
(``nomad/jobs[/<job>[/<group>[/<task>]]]``; 403 otherwise).

A follower server forwards the same requests, unchanged, to the leader's rpc
address.  A server that cannot serve a call because there is no leader (or it
is not the leader and cannot forward) answers 500 with "No cluster leader" or
a text containing "not leader"; clients try another server.

The request and response bodies are the codec dataclasses of
:mod:`nomadjail.structs.rpc` (re-exported here): both sides build and read them
with ``structs.to_api`` / ``structs.from_api``, so the wire format is written
down once, in the vocabulary every layer may use.
"""

from __future__ import annotations

from ..structs.rpc import (
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
)

__all__ = ["AllocGetAllocsRequest", "AllocGetAllocsResponse", "IndexResponse",
           "NodeClientAllocsResponse", "NodeRegisterRequest", "NodeUpdateAllocRequest",
           "NodeUpdateResponse", "NodeUpdateStatusRequest", "RPC_PREFIX", "METHODS",
           "ServiceRegistrationDeleteByIDRequest", "ServiceRegistrationGetServiceResponse",
           "ServiceRegistrationListResponse", "ServiceRegistrationUpsertRequest",
           "VariablesListResponse", "VariablesReadResponse", "rpc_path", "is_no_leader_error"]

RPC_PREFIX = "/v1/rpc/"

NODE_REGISTER = "Node.Register"
NODE_UPDATE_STATUS = "Node.UpdateStatus"
NODE_GET_CLIENT_ALLOCS = "Node.GetClientAllocs"
ALLOC_GET_ALLOCS = "Alloc.GetAllocs"
NODE_UPDATE_ALLOC = "Node.UpdateAlloc"
SERVICE_REGISTRATION_UPSERT = "ServiceRegistration.Upsert"
SERVICE_REGISTRATION_DELETE_BY_ID = "ServiceRegistration.DeleteByID"
SERVICE_REGISTRATION_GET_SERVICE = "ServiceRegistration.GetService"
SERVICE_REGISTRATION_LIST = "ServiceRegistration.List"
VARIABLES_READ = "Variables.Read"
VARIABLES_LIST = "Variables.List"

METHODS = (NODE_REGISTER, NODE_UPDATE_STATUS, NODE_GET_CLIENT_ALLOCS, ALLOC_GET_ALLOCS,
           NODE_UPDATE_ALLOC, SERVICE_REGISTRATION_UPSERT, SERVICE_REGISTRATION_DELETE_BY_ID,
           SERVICE_REGISTRATION_GET_SERVICE, SERVICE_REGISTRATION_LIST, VARIABLES_READ,
           VARIABLES_LIST)


def rpc_path(method: str) -> str:
    return RPC_PREFIX + method


def is_no_leader_error(status: int, message: str) -> bool:
    """A server's answer that means "ask another server": it has no (or is not the) leader."""
    text = message.lower()
    return status >= 500 and ("no cluster leader" in text or "not leader" in text)
