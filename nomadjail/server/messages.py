"""The raft log's vocabulary: message types and their payloads.

Every change to the cluster state is one message in the raft log: a
:class:`MsgType` number and a JSON payload.  The numbers are append-only
(a log written by an older server must replay the same way on a newer one),
so new types go at the end and none is ever renumbered or reused.

Payloads are the request dataclasses below, encoded with the structs codec
(:func:`nomadjail.structs.to_api`): plain JSON with Nomad's PascalCase keys,
never pickled objects, so a journal can be read with ``jq`` and replayed by
any version that knows the type.  Everything a message needs to be applied
deterministically travels inside it -- IDs, timestamps, the evaluations to
create -- because every replica applies it on its own and must reach the
same state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

from ..structs import (
    Allocation,
    Deployment,
    DeploymentStatusUpdate,
    DesiredTransition,
    DrainStrategy,
    Evaluation,
    Job,
    Node,
    NodeEligibility,
    NodeEvent,
    NodeStatus,
    ServiceRegistration,
    from_api,
    to_api,
)
from ..structs.codec import field
from ..structs.keyring import RootKey, RootKeyState
from ..structs.variables import VariableEncrypted, VarOp

IGNORE_UNKNOWN_TYPE_FLAG = 128
"""Set on a message type number (as Nomad's ``IgnoreUnknownTypeFlag``) to tell servers
that predate the type that they may skip it.  A server that meets a type it does not
know *without* this flag stops applying the log (see :class:`~.fsm.FSM`): skipping a
change everyone else applies would make its state silently diverge."""


class MsgType(IntEnum):
    """Append-only: add new types at the end, never renumber.  Numbers stay below
    :data:`IGNORE_UNKNOWN_TYPE_FLAG`; a new type older servers may safely skip (one
    that only adds information they would not use) also goes in :data:`IGNORABLE`."""

    JOB_REGISTER = 0
    JOB_DEREGISTER = 1
    EVAL_UPDATE = 2
    EVAL_DELETE = 3
    APPLY_PLAN_RESULTS = 4
    NODE_REGISTER = 5
    NODE_DEREGISTER = 6
    NODE_UPDATE_STATUS = 7
    NODE_UPDATE_DRAIN = 8
    NODE_UPDATE_ELIGIBILITY = 9
    ALLOC_CLIENT_UPDATE = 10
    ALLOC_UPDATE_DESIRED_TRANSITION = 11
    DEPLOYMENT_STATUS_UPDATE = 12
    BARRIER = 13  # changes nothing; committing it proves every earlier entry is applied
    SERVER_MEMBER = 14  # a server announces its name and addresses to the cluster
    DEPLOYMENT_UPSERT = 15  # a whole deployment; no longer written, still replayed
    JOB_BATCH_DEREGISTER = 16  # garbage collection purges jobs
    DEPLOYMENT_DELETE = 17  # garbage collection removes finished deployments
    SERVICE_REGISTRATION_UPSERT = 18  # a client registers (or updates) service instances
    SERVICE_REGISTRATION_DELETE_BY_ID = 19  # one registration goes (client or operator)
    SERVICE_REGISTRATION_DELETE_BY_NODE_ID = 20  # every registration on a node goes
    DEPLOYMENT_PROMOTION = 21  # canaries promoted, with the eval that rolls on
    DEPLOYMENT_ALLOC_HEALTH = 22  # health set by hand; may fail (and revert) the deployment
    DEPLOYMENT_STATUS_REVERT = 23  # a deployment fails and its job goes back to a stable version
    JOB_STABILITY = 24  # a job version marked (un)stable by hand
    VAR_APPLY = 25  # a variable set, checked-and-set or deleted (sealed: never in the clear)
    ROOT_KEY_UPSERT = 26  # a new root key (or a changed one), replicated to every server
    ROOT_KEY_DELETE = 27  # an unused, inactive root key goes
    ROOT_KEY_STATE = 28  # a root key changes state (rekeying, deprecated)
    VAR_LOCK_RENEW = 29  # a variable lock's holder renews it (changes no table)


IGNORABLE: frozenset[MsgType] = frozenset()
"""The types written with :data:`IGNORE_UNKNOWN_TYPE_FLAG` (see :func:`wire_type`).
Empty: every type so far changes state all servers must share.  A type only ever
joins this set in the version that introduces it."""


def wire_type(msg_type: MsgType) -> int:
    """The number ``msg_type`` is written to the raft log as."""
    return int(msg_type) | IGNORE_UNKNOWN_TYPE_FLAG if msg_type in IGNORABLE else int(msg_type)


def read_type(number: int) -> tuple[MsgType | None, bool]:
    """``(type, ignorable)`` for a number read from the raft log: the type is None
    when this version does not know it; ``ignorable`` says whether the writer marked
    it as safe to skip."""
    ignorable = number >= 0 and bool(number & IGNORE_UNKNOWN_TYPE_FLAG)
    try:
        return MsgType(number & ~IGNORE_UNKNOWN_TYPE_FLAG), ignorable
    except ValueError:
        return None, ignorable


@dataclass(slots=True)
class JobRegisterRequest:
    """A job and the evaluation it triggers, committed together (Nomad does the same,
    so a job is never stored without the eval that schedules it)."""

    job: Job = field(default_factory=Job)
    eval: Evaluation | None = None
    submit_time: int = 0  # ns since the epoch


@dataclass(slots=True)
class JobDeregisterRequest:
    namespace: str = ""
    job_id: str = ""
    purge: bool = False
    submit_time: int = 0  # ns since the epoch
    eval: Evaluation | None = None


@dataclass(slots=True)
class EvalUpdateRequest:
    evals: list[Evaluation] = field(default_factory=list)
    eval_token: str = ""


@dataclass(slots=True)
class EvalDeleteRequest:
    evals: list[str] = field(default_factory=list)
    allocs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ApplyPlanResultsRequest:
    """What the plan applier accepted.  The job travels once in ``job``; the
    allocations carry ``Job: null`` and the FSM attaches the stored version."""

    eval_id: str = ""
    job: Job | None = None
    node_update: dict[str, list[Allocation]] = field(default_factory=dict)
    node_allocation: dict[str, list[Allocation]] = field(default_factory=dict)
    deployment: Deployment | None = None
    deployment_updates: list[DeploymentStatusUpdate] = field(default_factory=list)


@dataclass(slots=True)
class NodeRegisterRequest:
    node: Node = field(default_factory=Node)
    evals: list[Evaluation] = field(default_factory=list)


@dataclass(slots=True)
class NodeDeregisterRequest:
    node_ids: list[str] = field(default_factory=list, key="NodeIDs")


@dataclass(slots=True)
class NodeUpdateStatusRequest:
    node_id: str = ""
    status: NodeStatus | Literal[""] = ""
    updated_at: int = 0  # seconds since the epoch, as Node.StatusUpdatedAt
    node_event: NodeEvent | None = None
    evals: list[Evaluation] = field(default_factory=list)


@dataclass(slots=True)
class NodeUpdateDrainRequest:
    """Start, change or stop draining (the drainer also sends it when a drain is
    complete); ``transitions`` marks allocations for migration in the same commit
    (what must go last), ``evals`` makes the schedulers act on it."""

    node_id: str = ""
    drain_strategy: DrainStrategy | None = None
    mark_eligible: bool = False
    updated_at: int = 0  # seconds since the epoch
    node_event: NodeEvent | None = None
    transitions: dict[str, DesiredTransition] = field(default_factory=dict)
    evals: list[Evaluation] = field(default_factory=list)
    meta: dict[str, str] | None = None  # the operator's drain metadata (LastDrain.Meta)
    drain_completed: bool = False  # the drainer ends it (LastDrain "complete", not "canceled")


@dataclass(slots=True)
class NodeUpdateEligibilityRequest:
    node_id: str = ""
    eligibility: NodeEligibility | Literal[""] = ""
    updated_at: int = 0  # seconds since the epoch
    node_event: NodeEvent | None = None
    evals: list[Evaluation] = field(default_factory=list)


@dataclass(slots=True)
class AllocClientUpdateRequest:
    """A client's report on its allocations, plus the evals it triggers
    (a failed allocation asks its scheduler to reschedule)."""

    alloc: list[Allocation] = field(default_factory=list)
    evals: list[Evaluation] = field(default_factory=list)


@dataclass(slots=True)
class AllocUpdateDesiredTransitionRequest:
    allocs: dict[str, DesiredTransition] = field(default_factory=dict)
    evals: list[Evaluation] = field(default_factory=list)


@dataclass(slots=True)
class DeploymentStatusUpdateRequest:
    deployment_update: DeploymentStatusUpdate = field(default_factory=DeploymentStatusUpdate)
    eval: Evaluation | None = None


@dataclass(slots=True)
class DeploymentPromoteRequest:
    """Promote the canaries of every group (``all``) or of ``groups``; the
    watcher's eval rolls the update on.  ``promoted_at`` restarts the groups'
    progress clocks (Nomad's ApplyDeploymentPromoteRequest)."""

    deployment_id: str = ""
    all: bool = False
    groups: list[str] = field(default_factory=list)
    promoted_at: int = 0  # ns since the epoch
    eval: Evaluation | None = None


@dataclass(slots=True)
class DeploymentAllocHealthRequest:
    """Allocations marked healthy or unhealthy by hand (``health_check =
    "manual"``), in the same commit as the deployment failing and the job
    reverting when an unhealthy one calls for it (Nomad's
    ApplyDeploymentAllocHealthRequest)."""

    deployment_id: str = ""
    healthy_allocation_ids: list[str] = field(default_factory=list)
    unhealthy_allocation_ids: list[str] = field(default_factory=list)
    timestamp: int = 0  # ns since the epoch: the health's timestamp
    deployment_update: DeploymentStatusUpdate | None = None
    job: Job | None = None  # the stable version to go back to (auto_revert)
    eval: Evaluation | None = None


@dataclass(slots=True)
class DeploymentRevertRequest:
    """A failed deployment and the stable job version it reverts to, with the
    eval that schedules it: one commit, so a job is never left half reverted."""

    deployment_update: DeploymentStatusUpdate = field(default_factory=DeploymentStatusUpdate)
    job: Job = field(default_factory=Job)
    submit_time: int = 0  # ns since the epoch
    eval: Evaluation | None = None


@dataclass(slots=True)
class JobStabilityRequest:
    namespace: str = ""
    job_id: str = ""
    job_version: int = 0
    stable: bool = False


@dataclass(slots=True)
class DeploymentUpsertRequest:
    deployment: Deployment = field(default_factory=Deployment)


@dataclass(slots=True)
class NamespacedID:
    id: str = ""
    namespace: str = ""


@dataclass(slots=True)
class JobBatchDeregisterRequest:
    """Purge jobs the garbage collector found dead (no evaluation is created:
    everything of theirs is finished already)."""

    jobs: list[NamespacedID] = field(default_factory=list)


@dataclass(slots=True)
class DeploymentDeleteRequest:
    deployments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ServiceRegistrationUpsertRequest:
    """Service instances a client runs, validated by the endpoint; the FSM skips those
    whose allocation is gone or stopped by the time the message applies."""

    services: list[ServiceRegistration] = field(default_factory=list)


@dataclass(slots=True)
class ServiceRegistrationDeleteByIDRequest:
    """One registration; applying it fails with NotFound when it is not there."""

    namespace: str = ""
    id: str = ""


@dataclass(slots=True)
class ServiceRegistrationDeleteByNodeIDRequest:
    """Every registration on one node (Nomad's type 49).  A node going down removes its
    registrations within the status change itself, as Nomad does since 1.8, so nothing
    writes this now; it is applied for logs and tools that do."""

    node_id: str = ""


@dataclass(slots=True)
class BarrierRequest:
    pass


@dataclass(slots=True)
class ServerMemberRequest:
    """What one server tells the others about itself (Nomad learns it from serf
    gossip; here it is replicated state, so every server can answer
    ``server members`` and map the raft leader to its RPC address)."""

    name: str = ""
    raft_addr: str = ""
    rpc_addr: str = field("", key="RPCAddr")
    region: str = ""
    datacenter: str = ""
    build: str = ""
    bootstrap_expect: int = 0


@dataclass(slots=True)
class VarApplyStateRequest:
    """One variable operation (Nomad's VarApplyStateRequest).  The variable is sealed
    by the endpoint before it enters the log; ``cas_index`` is the ModifyIndex a
    check-and-set expects.  Times travel in the message (the FSM reads no clock)."""

    op: VarOp = VarOp.SET
    var: VariableEncrypted = field(default_factory=VariableEncrypted)
    cas_index: int = 0


@dataclass(slots=True)
class RootKeyUpsertRequest:
    root_key: RootKey = field(default_factory=RootKey)


@dataclass(slots=True)
class RootKeyDeleteRequest:
    key_id: str = field("", key="KeyID")


@dataclass(slots=True)
class RootKeyStateRequest:
    key_id: str = field("", key="KeyID")
    state: RootKeyState = RootKeyState.INACTIVE


@dataclass(slots=True)
class VarLockRenewRequest:
    """The holder of a variable lock renews it.  It changes no table: every server notes
    the renewal (:attr:`~.fsm.FSM.lock_renewals`) and the leader, which times locks out,
    restarts the lock's TTL."""

    namespace: str = ""
    path: str = ""
    lock_id: str = field("", key="LockID")


REQUEST_TYPES: dict[MsgType, type] = {
    MsgType.JOB_REGISTER: JobRegisterRequest,
    MsgType.JOB_DEREGISTER: JobDeregisterRequest,
    MsgType.EVAL_UPDATE: EvalUpdateRequest,
    MsgType.EVAL_DELETE: EvalDeleteRequest,
    MsgType.APPLY_PLAN_RESULTS: ApplyPlanResultsRequest,
    MsgType.NODE_REGISTER: NodeRegisterRequest,
    MsgType.NODE_DEREGISTER: NodeDeregisterRequest,
    MsgType.NODE_UPDATE_STATUS: NodeUpdateStatusRequest,
    MsgType.NODE_UPDATE_DRAIN: NodeUpdateDrainRequest,
    MsgType.NODE_UPDATE_ELIGIBILITY: NodeUpdateEligibilityRequest,
    MsgType.ALLOC_CLIENT_UPDATE: AllocClientUpdateRequest,
    MsgType.ALLOC_UPDATE_DESIRED_TRANSITION: AllocUpdateDesiredTransitionRequest,
    MsgType.DEPLOYMENT_STATUS_UPDATE: DeploymentStatusUpdateRequest,
    MsgType.BARRIER: BarrierRequest,
    MsgType.SERVER_MEMBER: ServerMemberRequest,
    MsgType.DEPLOYMENT_UPSERT: DeploymentUpsertRequest,
    MsgType.JOB_BATCH_DEREGISTER: JobBatchDeregisterRequest,
    MsgType.DEPLOYMENT_DELETE: DeploymentDeleteRequest,
    MsgType.SERVICE_REGISTRATION_UPSERT: ServiceRegistrationUpsertRequest,
    MsgType.SERVICE_REGISTRATION_DELETE_BY_ID: ServiceRegistrationDeleteByIDRequest,
    MsgType.SERVICE_REGISTRATION_DELETE_BY_NODE_ID: ServiceRegistrationDeleteByNodeIDRequest,
    MsgType.DEPLOYMENT_PROMOTION: DeploymentPromoteRequest,
    MsgType.DEPLOYMENT_ALLOC_HEALTH: DeploymentAllocHealthRequest,
    MsgType.DEPLOYMENT_STATUS_REVERT: DeploymentRevertRequest,
    MsgType.JOB_STABILITY: JobStabilityRequest,
    MsgType.VAR_APPLY: VarApplyStateRequest,
    MsgType.ROOT_KEY_UPSERT: RootKeyUpsertRequest,
    MsgType.ROOT_KEY_DELETE: RootKeyDeleteRequest,
    MsgType.ROOT_KEY_STATE: RootKeyStateRequest,
    MsgType.VAR_LOCK_RENEW: VarLockRenewRequest,
}


def encode(request: Any) -> str:
    """The JSON payload for one request dataclass."""
    return json.dumps(to_api(request), separators=(",", ":"))


def decode(msg_type: MsgType, payload: str) -> Any:
    """The request dataclass for ``msg_type`` from its JSON payload."""
    return from_api(REQUEST_TYPES[msg_type], json.loads(payload), msg_type.name)


def message_type_of(request: Any) -> MsgType:
    """The type a request dataclass is sent as."""
    for msg_type, cls in REQUEST_TYPES.items():
        if isinstance(request, cls):
            return msg_type
    raise TypeError(f"{type(request).__name__} is not a raft request")
