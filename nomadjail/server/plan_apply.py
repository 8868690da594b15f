"""The plan queue and the single plan applier.

Scheduler workers plan in parallel, each against its own snapshot, so two
of them may hand out the same CPU.  Every plan therefore passes through one
applier thread, which re-checks it against the newest state and commits
only what still fits.  Serialising here -- rather than locking the
schedulers -- is Nomad's optimistic concurrency: conflicts are rare and
cheap to retry, and the schedulers never wait on each other.

For each node a plan touches, the node's part fits when the node exists and
is ready (a down or disconnected node only accepts allocations being marked
lost or unknown), and the node's non-terminal allocations, minus those the
plan stops or replaces, plus those it places, pass ``allocs_fit``.  Parts
that only stop allocations always fit.  A node's part is committed whole or
not at all (an ``all_at_once`` plan: the whole plan or nothing).  When
something did not fit the result carries ``refresh_index`` so the worker
refreshes its snapshot and the scheduler retries the rest.

The committed part is one ``ApplyPlanResults`` raft message that carries the
job once; allocations go without their embedded copy of it.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from ..state import StateSnapshot, StateStore, Table
from ..structs import (
    Allocation,
    AllocClientStatus,
    Node,
    NodeEligibility,
    NodeStatus,
    Plan,
    PlanResult,
    Unavailable,
    now_ns,
)
from . import messages as m
from .background_loop import BackgroundLoop
from .messages import MsgType

log = logging.getLogger(__name__)

AllocsFit = Callable[[Node, list[Allocation]], tuple[bool, str]]
RaftApply = Callable[[MsgType, str], tuple[int, Any]]


class PendingPlan:
    """A submitted plan and, once applied, its result (a small future)."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self._done = threading.Event()
        self._result: PlanResult | None = None
        self._error: BaseException | None = None

    def respond(self, result: PlanResult | None, error: BaseException | None = None) -> None:
        self._result, self._error = result, error
        self._done.set()

    def wait(self, timeout: float | None = None) -> PlanResult:
        """The applier's answer; raises its error, or Unavailable on timeout."""
        if not self._done.wait(timeout):
            raise Unavailable(f"timed out waiting for the plan of eval {self.plan.eval_id} "
                              "to be applied")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class PlanQueue:
    """Plans waiting for the applier, highest priority first (leader only)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[int, int, PendingPlan]] = []
        self._seq = itertools.count()
        self._enabled = False

    @property
    def enabled(self) -> bool:
        return self._enabled

    def set_enabled(self, enabled: bool) -> None:
        """Disabling fails every waiting plan: only the leader may apply plans."""
        with self._cond:
            self._enabled = enabled
            dropped = [] if enabled else [entry[2] for entry in self._heap]
            if not enabled:
                self._heap.clear()
            self._cond.notify_all()
        for pending in dropped:
            pending.respond(None, Unavailable("plan rejected: this server lost leadership"))

    def enqueue(self, plan: Plan) -> PendingPlan:
        pending = PendingPlan(plan)
        with self._cond:
            if not self._enabled:
                raise Unavailable("plan queue is disabled: this server is not the leader")
            heapq.heappush(self._heap, (-plan.priority, next(self._seq), pending))
            self._cond.notify()
        return pending

    def dequeue(self, timeout: float) -> PendingPlan | None:
        with self._cond:
            if not self._heap:
                self._cond.wait(timeout)
            if not self._heap or not self._enabled:
                return None
            return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        with self._cond:
            return len(self._heap)


def evaluate_node_plan(snapshot: StateSnapshot, plan: Plan, node_id: str,
                       allocs_fit: AllocsFit) -> tuple[bool, str]:
    """Whether ``plan``'s part for ``node_id`` fits the node in ``snapshot``."""
    placing = plan.node_allocation.get(node_id) or []
    if not placing:
        return True, ""  # only stops: removing things always fits
    node = snapshot.node_by_id(node_id)
    if node is None:
        return False, "node does not exist"
    if node.status == NodeStatus.DOWN:
        if all(a.client_status == AllocClientStatus.LOST for a in placing):
            return True, ""
        return False, "node is down and contains invalid updates"
    if node.status == NodeStatus.DISCONNECTED:
        if all(a.client_status == AllocClientStatus.UNKNOWN for a in placing):
            return True, ""
        return False, "node is disconnected and contains invalid updates"
    if node.status != NodeStatus.READY:
        return False, "node is not ready for placements"
    existing = [a for a in snapshot.allocs_by_node(node_id) if not a.terminal_status()]
    existing_ids = {a.id for a in existing}
    if all(a.id in existing_ids for a in placing):
        return True, ""  # in-place updates only: fine even on an ineligible node
    if node.scheduling_eligibility == NodeEligibility.INELIGIBLE:
        return False, "node is not eligible"
    removed = {a.id for a in plan.node_update.get(node_id) or []}
    removed.update(a.id for a in placing)
    proposed = [a for a in existing if a.id not in removed] + list(placing)
    return allocs_fit(node, proposed)


def evaluate_plan(snapshot: StateSnapshot, plan: Plan, allocs_fit: AllocsFit) -> PlanResult:
    """The part of ``plan`` that fits ``snapshot`` (not committed yet)."""
    result = PlanResult(deployment=plan.deployment,
                        deployment_updates=list(plan.deployment_updates))
    partial = False
    for node_id in sorted(set(plan.node_update) | set(plan.node_allocation)):
        fits, reason = evaluate_node_plan(snapshot, plan, node_id, allocs_fit)
        if not fits:
            log.debug("plan for eval %s: node %s does not fit: %s", plan.eval_id, node_id,
                      reason)
            partial = True
            if plan.all_at_once:
                result.node_update, result.node_allocation = {}, {}
                break
            continue
        if plan.node_update.get(node_id):
            result.node_update[node_id] = list(plan.node_update[node_id])
        if plan.node_allocation.get(node_id):
            result.node_allocation[node_id] = list(plan.node_allocation[node_id])
    if partial:
        result.refresh_index = max(snapshot.index(Table.NODES, Table.ALLOCS),
                                   snapshot.latest_index, 1)
        if not result.node_allocation and plan.deployment is not None \
                and snapshot.deployment_by_id(plan.deployment.id) is None:
            result.deployment = None  # do not create a deployment with nothing in it
    return result


def plan_results_request(snapshot: StateSnapshot, plan: Plan, result: PlanResult,
                         now: int) -> m.ApplyPlanResultsRequest:
    """The raft message committing ``result``: timestamps set, job sent once."""
    job = plan.job

    def lean(alloc: Allocation, is_new: bool) -> Allocation:
        keep_job = alloc.job
        if keep_job is not None and job is not None and keep_job.id == job.id \
                and keep_job.version == job.version:
            keep_job = None
        return dataclasses.replace(
            alloc, job=keep_job,
            create_time=(alloc.create_time or now) if is_new else alloc.create_time,
            modify_time=now)

    node_allocation = {
        node_id: [lean(a, snapshot.alloc_by_id(a.id) is None) for a in allocs]
        for node_id, allocs in result.node_allocation.items()}
    node_update = {node_id: [dataclasses.replace(a, job=None, modify_time=now) for a in allocs]
                   for node_id, allocs in result.node_update.items()}
    return m.ApplyPlanResultsRequest(eval_id=plan.eval_id, job=job, node_update=node_update,
                                     node_allocation=node_allocation,
                                     deployment=result.deployment,
                                     deployment_updates=result.deployment_updates)


class PlanApplier:
    """The one thread that evaluates and commits plans, in queue order."""

    def __init__(self, store: StateStore, queue: PlanQueue, raft_apply: RaftApply,
                 allocs_fit: AllocsFit, clock: Callable[[], int] = now_ns):
        self.store = store
        self.queue = queue
        self.raft_apply = raft_apply
        self.allocs_fit = allocs_fit
        self.clock = clock
        self._loop = BackgroundLoop("plan-applier", self._step)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _step(self) -> None:
        """Apply the next plan, if one comes within 0.2 s, and answer its worker."""
        pending = self.queue.dequeue(timeout=0.2)
        if pending is None:
            return
        try:
            pending.respond(self.apply(pending.plan))
        except Exception as err:  # noqa: BLE001 - the worker gets the error
            if not isinstance(err, Unavailable):
                log.exception("applying the plan of eval %s failed", pending.plan.eval_id)
            pending.respond(None, err)

    def apply(self, plan: Plan) -> PlanResult:
        """Evaluate ``plan`` against the newest state and commit what fits."""
        snapshot = self.store.snapshot()
        result = evaluate_plan(snapshot, plan, self.allocs_fit)
        if not result.node_update and not result.node_allocation and result.deployment is None \
                and not result.deployment_updates:
            result.alloc_index = snapshot.latest_index
            return result
        request = plan_results_request(snapshot, plan, result, self.clock())
        index, _ = self.raft_apply(MsgType.APPLY_PLAN_RESULTS, m.encode(request))
        result.alloc_index = index
        return result
