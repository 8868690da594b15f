"""The agent RPC's request and response bodies (see :mod:`nomadjail.api.rpc` for
the methods and paths).  Plain codec dataclasses, so the server that answers,
the HTTP layer that carries them and the client that calls share one definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .alloc import Allocation
from .codec import field
from .consts import NodeStatus
from .node import Node
from .service_registration import ServiceRegistration, ServiceRegistrationListStub
from .variables import Variable, VariableMetadata


@dataclass(slots=True)
class NodeRegisterRequest:
    """Node.Register."""

    node: Node | None = None


@dataclass(slots=True)
class NodeUpdateStatusRequest:
    """Node.UpdateStatus (the heartbeat)."""

    node_id: str = ""
    status: NodeStatus | Literal[""] = ""  # "": missing, which the server refuses


@dataclass(slots=True)
class NodeUpdateResponse:
    """The answer to Node.Register and Node.UpdateStatus."""

    heartbeat_ttl: int = 0  # ns; 0 when the node is down
    index: int = 0
    leader_rpc_addr: str = field("", key="LeaderRPCAddr")  # "ip:port", "" if unknown
    num_nodes: int = 0
    servers: list[str] = field(default_factory=list)  # rpc addresses "ip:port"
    eval_ids: list[str] = field(default_factory=list)
    eval_create_index: int = 0
    node_modify_index: int = 0


@dataclass(slots=True)
class NodeClientAllocsResponse:
    """The answer to Node.GetClientAllocs: ``{alloc ID: AllocModifyIndex}``."""

    allocs: dict[str, int] = field(default_factory=dict)
    index: int = 0


@dataclass(slots=True)
class AllocGetAllocsRequest:
    """Alloc.GetAllocs."""

    node_id: str = ""
    alloc_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AllocGetAllocsResponse:
    allocs: list[Allocation] = field(default_factory=list)
    index: int = 0


@dataclass(slots=True)
class NodeUpdateAllocRequest:
    """Node.UpdateAlloc: each allocation carries ID, ClientStatus, ClientDescription,
    TaskStates, DeploymentStatus and ModifyTime."""

    node_id: str = ""
    alloc: list[Allocation] = field(default_factory=list)


@dataclass(slots=True)
class IndexResponse:
    """The answer to Node.UpdateAlloc."""

    index: int = 0


@dataclass(slots=True)
class ServiceRegistrationUpsertRequest:
    """ServiceRegistration.Upsert: instances of the calling node's allocations (every
    ``NodeID`` is the caller's; the secret in ``X-Nomad-Token`` proves it)."""

    services: list[ServiceRegistration] = field(default_factory=list)


@dataclass(slots=True)
class ServiceRegistrationDeleteByIDRequest:
    """ServiceRegistration.DeleteByID: one of the calling node's registrations."""

    id: str = ""
    namespace: str = ""  # "" means "default"
    node_id: str = ""  # the caller, as in every node-scoped call


@dataclass(slots=True)
class VariablesReadResponse:
    """Variables.Read: the variable in the clear (null when it does not exist) and the
    index to block on next (its ModifyIndex, or the table's when it is missing)."""

    data: Variable | None = None
    index: int = 0


@dataclass(slots=True)
class VariablesListResponse:
    """Variables.List: the metadata of the variables the workload may read."""

    data: list[VariableMetadata] = field(default_factory=list)
    index: int = 0


@dataclass(slots=True)
class ServiceRegistrationGetServiceResponse:
    """The answer to ServiceRegistration.GetService: the instances of one service."""

    services: list[ServiceRegistration] = field(default_factory=list)
    index: int = 0


@dataclass(slots=True)
class ServiceRegistrationListResponse:
    """The answer to ServiceRegistration.List: service names and tags per namespace."""

    services: list[ServiceRegistrationListStub] = field(default_factory=list)
    index: int = 0
