"""Node operations: the client RPCs (register, heartbeat, allocation updates and
reads) and the operator's drain and eligibility switches.

Client RPCs authenticate with the node's SecretID: the first registration
records it, and every later call for that node must present the same one
(``PermissionDenied`` otherwise).  Heartbeat timers live on the leader, so
registration and heartbeats are refused elsewhere with
:class:`~nomadjail.server.heartbeat.NotLeaderForHeartbeats` (an
``Unavailable``): the caller retries against the leader.

Evaluations for a node (Nomad's createNodeEvals) are created in the same
raft message as the node change that triggers them: one per job with
allocations on the node that still matter, plus one per system job that
should run there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from ..scheduler.constraints import datacenter_matcher
from ..scheduler.planning import NODE_POOL_ALL
from ..state import NODE_EVENT_CLUSTER, StateSnapshot, StateStore
from ..structs import (
    DEFAULT_NAMESPACE,
    DEFAULT_NODE_POOL,
    DEFAULT_PRIORITY,
    SECOND,
    ZERO_TIME,
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    BadRequest,
    DrainStrategy,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    JobType,
    Node,
    NodeEligibility,
    NodeEvent,
    NodeStatus,
    NotFound,
    PermissionDenied,
    generate_uuid,
    now_ns,
    rfc3339,
)
from . import messages as m
from .heartbeat import Heartbeats, NotLeaderForHeartbeats
from .results import NodeUpdateResponse

Apply = Callable[[Any], tuple[int, Any]]

_VALID_STATUSES = frozenset(NodeStatus)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # Go's time.Duration
_VALID_CLIENT_STATUSES = frozenset(AllocClientStatus)


def computed_node_class(node: Node) -> str:
    """Nomad's ComputedClass: a hash of everything that makes nodes
    interchangeable for scheduling (datacenter, class, pool, drivers, and
    attributes and meta except ``unique.*``).  Blocked evals use it to tell
    which capacity changes might help them."""
    def shared(values: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in sorted(values.items()) if not k.startswith("unique.")}

    material = json.dumps([node.datacenter, node.node_class, node.node_pool,
                           shared(node.attributes), shared(node.meta),
                           sorted(d for d, info in node.drivers.items() if info.healthy)],
                          separators=(",", ":"))
    digest = int.from_bytes(hashlib.blake2b(material.encode(), digest_size=8).digest(), "big")
    return f"v1:{digest}"


def node_in_datacenters(node: Node, datacenters: list[str]) -> bool:
    """Whether ``node`` is in one of ``datacenters``, matched exactly as the
    scheduler matches them (``*`` is the only wildcard, as in Nomad)."""
    return datacenter_matcher(datacenters)(node.datacenter)


def create_node_evals(snapshot: StateSnapshot, node: Node, now: int,
                      trigger: str = EvalTrigger.NODE_UPDATE) -> list[Evaluation]:
    """Evaluations for what a change of ``node`` may affect (Nomad's createNodeEvals)."""
    evals: list[Evaluation] = []
    seen: set[tuple[str, str]] = set()

    def add(namespace: str, job_id: str, priority: int, job_type: str) -> None:
        seen.add((namespace, job_id))
        evals.append(Evaluation(
            id=generate_uuid(), namespace=namespace, priority=priority, type=job_type,
            triggered_by=trigger, job_id=job_id, node_id=node.id,
            node_modify_index=node.modify_index, status=EvalStatus.PENDING,
            create_time=now, modify_time=now))

    for alloc in snapshot.allocs_by_node(node.id):
        key = (alloc.namespace, alloc.job_id)
        if key in seen:
            continue
        job = alloc.job or snapshot.job_by_id(*key)
        if job is None:
            continue
        if job.type == JobType.SERVICE:
            if alloc.server_terminal() and alloc.client_terminal():
                continue
        elif job.type == JobType.BATCH:
            if alloc.client_terminal():
                continue
        else:
            continue  # system and sysbatch jobs are covered below
        add(alloc.namespace, alloc.job_id, job.priority or DEFAULT_PRIORITY,
            job.type or JobType.SERVICE)
    for job in snapshot.jobs():
        if job.type != JobType.SYSTEM or job.stop:
            continue
        if (job.namespace or "", job.id) in seen:
            continue
        if (job.node_pool or DEFAULT_NODE_POOL) not in (NODE_POOL_ALL, node.node_pool):
            continue
        if not node_in_datacenters(node, job.datacenters):
            continue
        add(job.namespace or DEFAULT_NAMESPACE, job.id, job.priority or DEFAULT_PRIORITY, job.type)
    return evals


class NodeEndpoint:
    def __init__(self, store: StateStore, apply: Apply, heartbeats: Heartbeats, *,
                 leader_rpc_addr: Callable[[], str], servers: Callable[[], list[str]],
                 clock: Callable[[], int] = now_ns):
        self.store = store
        self.apply = apply
        self.heartbeats = heartbeats
        self._leader_rpc_addr = leader_rpc_addr
        self._servers = servers
        self.clock = clock

    # -- helpers -----------------------------------------------------------------
    def _response(self, ttl_seconds: float, index: int, evals: Sequence[Evaluation] = (),
                  node_modify_index: int = 0) -> NodeUpdateResponse:
        return NodeUpdateResponse(
            heartbeat_ttl=int(ttl_seconds * 1e9), index=index,
            leader_rpc_addr=self._leader_rpc_addr(), servers=self._servers(),
            num_nodes=self.store.node_count(), eval_ids=[e.id for e in evals],
            eval_create_index=index if evals else 0, node_modify_index=node_modify_index)

    def authenticate(self, node_id: str, secret_id: str) -> Node:
        """The registered node, if ``secret_id`` is its secret."""
        if not node_id:
            raise BadRequest("missing node ID")
        node = self.store.node_by_id(node_id)
        if node is None:
            raise NotFound(f"node {node_id!r} not found")
        if not secret_id or secret_id != node.secret_id:
            raise PermissionDenied(f"Permission denied: wrong secret for node {node_id}")
        return node

    def _require_heartbeats(self) -> None:
        if not self.heartbeats.enabled:
            raise NotLeaderForHeartbeats()

    # -- register ----------------------------------------------------------------
    def register(self, node: Node) -> NodeUpdateResponse:
        if node is None:
            raise BadRequest("missing node for client registration")
        errors = []
        if not node.id:
            errors.append("missing node ID for client registration")
        if not node.datacenter:
            errors.append("missing datacenter for client registration")
        if not node.name:
            errors.append("missing node name for client registration")
        if not node.attributes:
            errors.append("missing attributes for client registration")
        if not node.secret_id:
            errors.append("missing node secret ID for client registration")
        if node.status and node.status not in _VALID_STATUSES:
            errors.append(f"invalid status for node: {node.status!r}")
        if errors:
            raise BadRequest("; ".join(errors))
        self._require_heartbeats()
        existing = self.store.node_by_id(node.id)
        if existing is not None and existing.secret_id != node.secret_id:
            raise PermissionDenied(f"node secret ID does not match the one node {node.id} "
                                   "registered with")
        now = self.clock()
        node = dataclasses.replace(node, status=node.status or NodeStatus.READY,
                                   status_updated_at=now // SECOND)
        if not node.computed_class:
            node.computed_class = computed_node_class(node)
        if not node.node_pool:
            node.node_pool = DEFAULT_NODE_POOL
        becomes_ready = node.status == NodeStatus.READY and (
            existing is None or existing.status != NodeStatus.READY)
        evals = create_node_evals(self.store.snapshot(), node, now) if becomes_ready else []
        index, _ = self.apply(m.NodeRegisterRequest(node=node, evals=evals))
        ttl = 0.0
        if node.status != NodeStatus.DOWN:
            ttl = self.heartbeats.reset(node.id)
        return self._response(ttl, index, evals, node_modify_index=index)

    # -- heartbeat / status ------------------------------------------------------
    def update_status(self, node_id: str, secret_id: str, status: str, *,
                      authenticated: bool = False) -> NodeUpdateResponse:
        """A client heartbeat (status unchanged) or status change.  The server
        itself marks a node down with ``authenticated=True``."""
        node = self.store.node_by_id(node_id) if authenticated \
            else self.authenticate(node_id, secret_id)
        if node is None:
            raise NotFound(f"node {node_id!r} not found")
        if status not in _VALID_STATUSES:
            raise BadRequest(f"invalid status for node: {status!r}")
        self._require_heartbeats()
        index = self.store.latest_index
        evals: list[Evaluation] = []
        if node.status != status:
            now = self.clock()
            event = None
            if status == NodeStatus.DOWN:
                event = NodeEvent(message="Node heartbeat missed", subsystem=NODE_EVENT_CLUSTER,
                                  timestamp=rfc3339(now))
            elif node.status == NodeStatus.DOWN:
                event = NodeEvent(message="Node reregistered by heartbeat",
                                  subsystem=NODE_EVENT_CLUSTER,
                                  timestamp=rfc3339(now))
            if status == NodeStatus.DOWN or (status == NodeStatus.READY
                                             and node.status != NodeStatus.READY):
                transitioned = dataclasses.replace(node, status=NodeStatus(status))
                evals = create_node_evals(self.store.snapshot(), transitioned, now)
            index, _ = self.apply(m.NodeUpdateStatusRequest(
                node_id=node_id, status=NodeStatus(status), updated_at=now // SECOND,
                node_event=event, evals=evals))
        if status == NodeStatus.DOWN:
            self.heartbeats.clear(node_id)
            ttl = 0.0
        else:
            ttl = self.heartbeats.reset(node_id)
        return self._response(ttl, index, evals)

    def invalidate_heartbeat(self, node_id: str) -> None:
        """The node's TTL ran out: mark it down (its allocations get replaced)."""
        node = self.store.node_by_id(node_id)
        if node is None or node.status == NodeStatus.DOWN:
            return
        self.update_status(node_id, "", NodeStatus.DOWN, authenticated=True)

    def deregister(self, node_ids: list[str]) -> int:
        """Forget nodes (``node purge``); their allocations are left to the GC."""
        if not node_ids:
            raise BadRequest("must specify at least one node to deregister")
        for node_id in node_ids:
            if self.store.node_by_id(node_id) is None:
                raise NotFound(f"node {node_id!r} not found")
        index, _ = self.apply(m.NodeDeregisterRequest(node_ids=list(node_ids)))
        for node_id in node_ids:
            self.heartbeats.clear(node_id)
        return index

    # -- allocations -------------------------------------------------------------
    def update_allocs(self, node_id: str, secret_id: str, allocs: list[Allocation]) -> int:
        """What the client reports about its allocations.  A newly failed
        allocation gets an ``alloc-failure`` eval (one per job) unless its job
        was stopped, so the scheduler reschedules it."""
        self.authenticate(node_id, secret_id)
        if not allocs:
            raise BadRequest("must update at least one allocation")
        for alloc in allocs:
            if alloc.client_status not in _VALID_CLIENT_STATUSES:
                raise BadRequest(f"allocation {alloc.id}: invalid client status "
                                 f"{alloc.client_status!r}")
        snapshot = self.store.snapshot()
        now = self.clock()
        updates: list[Allocation] = []
        evals: list[Evaluation] = []
        failed_jobs: set[tuple[str, str]] = set()
        for alloc in allocs:
            existing = snapshot.alloc_by_id(alloc.id)
            if existing is None or existing.node_id != node_id:
                continue  # garbage collected, or not this node's to report
            updates.append(Allocation(
                id=alloc.id, namespace=existing.namespace, job_id=existing.job_id,
                node_id=node_id, task_group=existing.task_group,
                client_status=alloc.client_status, client_description=alloc.client_description,
                task_states=alloc.task_states, deployment_status=alloc.deployment_status,
                modify_time=alloc.modify_time or now))
            key = (existing.namespace, existing.job_id)
            if alloc.client_status != AllocClientStatus.FAILED \
                    or existing.client_status == AllocClientStatus.FAILED \
                    or existing.desired_status != AllocDesiredStatus.RUN \
                    or existing.followup_eval_id or key in failed_jobs:
                continue
            job = snapshot.job_by_id(*key)
            if job is None or job.stop:
                continue
            failed_jobs.add(key)
            evals.append(Evaluation(
                id=generate_uuid(), namespace=existing.namespace,
                priority=job.priority or DEFAULT_PRIORITY,
                type=job.type or JobType.SERVICE, triggered_by=EvalTrigger.RETRY_FAILED_ALLOC,
                job_id=existing.job_id, job_modify_index=job.modify_index,
                status=EvalStatus.PENDING, create_time=now, modify_time=now))
        if not updates:
            return snapshot.latest_index
        index, _ = self.apply(m.AllocClientUpdateRequest(alloc=updates, evals=evals))
        return index

    def client_allocs(self, node_id: str, secret_id: str) -> dict[str, int]:
        """Every allocation on the node -> the index of its last server-side change."""
        self.authenticate(node_id, secret_id)
        return {a.id: a.alloc_modify_index for a in self.store.allocs_by_node(node_id)}

    def get_allocs(self, node_id: str, secret_id: str, alloc_ids: list[str]) -> list[Allocation]:
        """The named allocations that exist, in the order asked."""
        self.authenticate(node_id, secret_id)
        snapshot = self.store.snapshot()
        found = (snapshot.alloc_by_id(alloc_id) for alloc_id in alloc_ids)
        return [a for a in found if a is not None]

    # -- drain and eligibility ---------------------------------------------------
    def drain(self, node_id: str, strategy: DrainStrategy | None, *,
              mark_eligible: bool = False, meta: dict[str, str] | None = None) -> int:
        """Start or change a drain, or stop it (``strategy=None``; eligible again
        only with ``mark_eligible``).  Deadline < 0 forces everything off at once,
        0 means no deadline (Nomad's DrainSpec).

        Only the strategy is written; the leader's drainer
        (:mod:`.drainer`) marks the allocations, batch by batch, from then on.
        Changing a drain keeps its start time; the deadline counts from now.
        ``meta`` (``node drain -m/-meta``) is kept in the node's ``LastDrain``."""
        snapshot = self.store.snapshot()
        node = snapshot.node_by_id(node_id)
        if node is None:
            raise NotFound(f"node {node_id!r} not found")
        now = self.clock()
        evals: list[Evaluation] = []
        if strategy is not None:
            if not INT64_MIN <= strategy.deadline <= INT64_MAX:
                raise BadRequest(f"DrainSpec.Deadline: {strategy.deadline} is out of range "
                                 "for a duration in nanoseconds (a 64-bit integer)")
            started = node.drain_strategy.started_at if node.drain_strategy is not None \
                else rfc3339(now)
            force_deadline = rfc3339(now + strategy.deadline) if strategy.deadline > 0 \
                else ZERO_TIME
            strategy = dataclasses.replace(strategy, started_at=started,
                                           force_deadline=force_deadline)
        message = drain_event_message(node.drain_strategy is not None, strategy is not None)
        event = None if message is None else NodeEvent(message=message, subsystem="Drain",
                                                       timestamp=rfc3339(now))
        if strategy is None and mark_eligible \
                and node.scheduling_eligibility == NodeEligibility.INELIGIBLE:
            evals = create_node_evals(snapshot, node, now)
        index, _ = self.apply(m.NodeUpdateDrainRequest(
            node_id=node_id, drain_strategy=strategy, mark_eligible=mark_eligible,
            updated_at=now // SECOND, node_event=event, evals=evals, meta=meta or None))
        return index

    def set_eligibility(self, node_id: str, eligible: bool) -> int:
        node = self.store.node_by_id(node_id)
        if node is None:
            raise NotFound(f"node {node_id!r} not found")
        if eligible and node.drain_strategy is not None:
            raise BadRequest("can not set node's scheduling eligibility to eligible while it "
                             "is draining")
        eligibility = NodeEligibility.ELIGIBLE if eligible else NodeEligibility.INELIGIBLE
        if node.scheduling_eligibility == eligibility:
            return self.store.latest_index
        now = self.clock()
        evals = create_node_evals(self.store.snapshot(), node, now) if eligible else []
        message = ("Node marked as eligible for scheduling" if eligible
                   else "Node marked as ineligible for scheduling")
        index, _ = self.apply(m.NodeUpdateEligibilityRequest(
            node_id=node_id, eligibility=eligibility, updated_at=now // SECOND,
            node_event=NodeEvent(message=message, subsystem=NODE_EVENT_CLUSTER,
                                 timestamp=rfc3339(now)),
            evals=evals))
        return index



def drain_event_message(was_draining: bool, draining: bool) -> str | None:
    """The node event a drain update records (Nomad's NodeDrainEvent* messages)."""
    if draining:
        return "Node drain strategy updated" if was_draining else "Node drain strategy set"
    return "Node drain disabled" if was_draining else None
