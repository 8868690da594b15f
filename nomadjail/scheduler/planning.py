"""The attempt loop every scheduler shares, and the helpers around it.

Processing an eval is a loop of attempts: read the state, build a plan,
submit it.  The plan applier commits what still fits; if something did not
(another worker's plan won the race) it hands back a newer state and the
scheduler plans the remainder against it.  An attempt that commits something
resets the count; too many fruitless attempts fail the eval (Nomad:
"maximum attempts reached").
"""

from __future__ import annotations

import abc
import dataclasses
import random
from collections.abc import Iterable

from ..structs import (
    DEFAULT_NODE_POOL,
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    AllocMetric,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    Job,
    Node,
    NodeStatus,
    Plan,
    PlanAnnotations,
    PlanResult,
)
from .constraints import datacenter_matcher
from .context import EvalContext, random_uuid
from .descriptions import ALLOC_LOST
from .interfaces import Planner, State

NODE_POOL_ALL = "all"

# Triggers the service and batch schedulers accept (Nomad's list).
GENERIC_TRIGGERS = frozenset({
    EvalTrigger.JOB_REGISTER, EvalTrigger.JOB_DEREGISTER, EvalTrigger.NODE_DRAIN,
    EvalTrigger.NODE_UPDATE, EvalTrigger.ALLOC_STOP, EvalTrigger.ROLLING_UPDATE,
    EvalTrigger.QUEUED_ALLOCS, EvalTrigger.PERIODIC_JOB, EvalTrigger.MAX_PLAN_ATTEMPTS,
    EvalTrigger.DEPLOYMENT_WATCHER, EvalTrigger.RETRY_FAILED_ALLOC,
    EvalTrigger.FAILED_FOLLOW_UP, EvalTrigger.PREEMPTION, EvalTrigger.JOB_SCALING,
    EvalTrigger.RECONNECT, "alloc-reschedule", "max-disconnect-timeout",
})
# Triggers the system and sysbatch schedulers accept.
SYSTEM_TRIGGERS = frozenset({
    EvalTrigger.JOB_REGISTER, EvalTrigger.NODE_UPDATE, EvalTrigger.FAILED_FOLLOW_UP,
    EvalTrigger.JOB_DEREGISTER, EvalTrigger.ROLLING_UPDATE, EvalTrigger.PREEMPTION,
    EvalTrigger.DEPLOYMENT_WATCHER, EvalTrigger.NODE_DRAIN, EvalTrigger.ALLOC_STOP,
    EvalTrigger.QUEUED_ALLOCS, EvalTrigger.JOB_SCALING, EvalTrigger.RECONNECT,
})


def progress_made(result: PlanResult | None) -> bool:
    return result is not None and bool(result.node_update or result.node_allocation
                                       or result.deployment is not None
                                       or result.deployment_updates)


def node_ready(node: Node) -> bool:
    """Ready, eligible and not draining: new allocations may go there."""
    return node.ready() and node.drain_strategy is None


def ready_nodes(state: State, job: Job) -> tuple[list[Node], dict[str, int], set[str]]:
    """(ready nodes in the job's datacenters and pool, sorted by ID, how many per
    datacenter, IDs of every node that is not ready).

    Sorted because the state's iteration order varies between processes (string
    hashing), and the seeded shuffle must start from the same list everywhere.
    """
    in_datacenter = datacenter_matcher(job.datacenters)
    pool = job.node_pool or DEFAULT_NODE_POOL
    nodes: list[Node] = []
    by_datacenter: dict[str, int] = {}
    not_ready: set[str] = set()
    for node in state.iter_nodes():
        if pool != NODE_POOL_ALL and node.node_pool != pool:
            continue
        if not node_ready(node):
            not_ready.add(node.id)
            continue
        if in_datacenter(node.datacenter):
            nodes.append(node)
            by_datacenter[node.datacenter] = by_datacenter.get(node.datacenter, 0) + 1
    nodes.sort(key=_node_id)
    return nodes, by_datacenter, not_ready


def _node_id(node: Node) -> str:
    return node.id


def job_allocs(state: State, namespace: str, job_id: str) -> list[Allocation]:
    """The job's allocations in a stable order (by ID), whatever the state's."""
    allocs = state.allocs_by_job(namespace, job_id)
    allocs.sort(key=_alloc_id)
    return allocs


def _alloc_id(alloc: Allocation) -> str:
    return alloc.id


def mark_stopped_allocs_lost(ctx: EvalContext, tainted: dict[str, Node | None],
                             allocs: Iterable[Allocation]) -> None:
    """Allocations already told to stop but still running on a node that is now
    down (or gone) will never report back: record them as lost."""
    for alloc in allocs:
        if alloc.node_id not in tainted:
            continue
        node = tainted[alloc.node_id]
        if node is not None and node.status != NodeStatus.DOWN:
            continue
        if (alloc.desired_status in (AllocDesiredStatus.STOP, AllocDesiredStatus.EVICT)
                and alloc.client_status in (AllocClientStatus.RUNNING,
                                            AllocClientStatus.PENDING)):
            ctx.stop(alloc, ALLOC_LOST, AllocClientStatus.LOST)


class PlanningScheduler(abc.ABC):
    """Base for the schedulers: the attempt loop and the eval bookkeeping.

    Subclasses implement :meth:`_attempt` (plan and submit once; True when
    done), starting it with :meth:`_start_attempt`, and may refine
    :meth:`_finish` and :meth:`_give_up`.
    """

    max_attempts = 5
    triggers: frozenset[str] = GENERIC_TRIGGERS

    def __init__(self, state: State, planner: Planner, *, now: int,
                 rng: random.Random | None = None, pot_image_scoring: bool = True):
        self.state = state
        self.planner = planner
        self.pot_image_scoring = pot_image_scoring  # see pot_images.py
        self.now = now
        self._given_rng = rng
        self.rng = rng or random.Random(0)
        self.eval = Evaluation()
        self.plan_result: PlanResult | None = None
        self.failed_tg_allocs: dict[str, AllocMetric] = {}
        self.queued: dict[str, int] = {}
        self.deployment_id = ""
        self.blocked: Evaluation | None = None
        self.job: Job | None = None
        self.annotations: PlanAnnotations | None = None

    def new_id(self) -> str:
        return random_uuid(self.rng)

    def process(self, evaluation: Evaluation) -> None:
        # The caller's eval stays untouched; outcomes go out through the planner.
        self.eval = dataclasses.replace(evaluation)
        if self._given_rng is None:
            # Deterministic for one eval at one state, and different once anything
            # from an earlier (redelivered) attempt at this eval was committed.
            self.rng = random.Random(f"{evaluation.id}/{self.state.latest_index}")
        if evaluation.triggered_by not in self.triggers:
            self.set_status(EvalStatus.FAILED, f"scheduler cannot handle "
                                               f"'{evaluation.triggered_by}' evaluation reason")
            return
        attempts = 0
        while attempts < self.max_attempts:
            if self._attempt():
                self._finish()
                return
            attempts = 0 if progress_made(self.plan_result) else attempts + 1
        self._give_up(f"maximum attempts reached ({self.max_attempts})")

    @abc.abstractmethod
    def _attempt(self) -> bool:
        """One try at computing and submitting a plan; True when the eval is done."""

    def _start_attempt(self) -> EvalContext:
        """What every attempt starts from: the job as the current state has it,
        no queued or failed placements yet, and an empty plan for the eval."""
        ev, state = self.eval, self.state
        job = self.job = state.job_by_id(ev.namespace, ev.job_id)
        self.queued = {}
        self.failed_tg_allocs = {}
        plan = Plan(eval_id=ev.id, priority=ev.priority, job=job,
                    all_at_once=bool(job and job.all_at_once), snapshot_index=state.latest_index)
        return EvalContext(state, plan, self.now, self.rng)

    @property
    def job_stopped(self) -> bool:
        """The job is gone (purged) or stopped: everything of it must stop."""
        return self.job is None or self.job.stop

    def _submit_attempt(self, ctx: EvalContext) -> bool:
        """Submit the attempt's plan (skipped when empty, unless the eval only
        asks for annotations); True when everything in it was committed."""
        if ctx.plan.is_no_op() and not self.eval.annotate_plan:
            return True
        if self.eval.annotate_plan:
            ctx.plan.annotations = self.annotations
        done, _ = self.submit(ctx)
        return done

    def _finish(self) -> None:
        self.set_status(EvalStatus.COMPLETE, "")

    def _give_up(self, description: str) -> None:
        self.set_status(EvalStatus.FAILED, description)

    def submit(self, ctx: EvalContext) -> tuple[bool, State | None]:
        """Submit the plan; (everything committed, newer state to retry against)."""
        result, newer = self.planner.submit_plan(ctx.plan)
        self.plan_result = result
        placed = {a.id for a in ctx.placed}
        for allocs in result.node_allocation.values():
            for alloc in allocs:
                if alloc.id in placed and alloc.task_group in self.queued:
                    self.queued[alloc.task_group] -= 1
        if newer is not None:
            self.state = newer
            return False, newer
        full, _, _ = result.full_commit(ctx.plan)
        return full, None

    def set_status(self, status: EvalStatus, description: str) -> None:
        update = dataclasses.replace(
            self.eval, status=status, status_description=description,
            deployment_id=self.deployment_id, failed_tg_allocs=dict(self.failed_tg_allocs),
            queued_allocations=dict(self.queued), modify_time=self.now)
        if self.blocked is not None:
            update.blocked_eval = self.blocked.id
        self.planner.update_eval(update)

    def blocked_eval(self, *, escaped: bool, class_eligibility: dict[str, bool],
                     trigger: str, description: str, node_id: str = "") -> Evaluation:
        """A blocked eval that retries this eval's failed placements when the
        cluster changes (Nomad's CreateBlockedEval)."""
        ev = self.eval
        return Evaluation(
            id=self.new_id(), namespace=ev.namespace, priority=ev.priority, type=ev.type,
            triggered_by=trigger, job_id=ev.job_id, job_modify_index=ev.job_modify_index,
            node_id=node_id, status=EvalStatus.BLOCKED, status_description=description,
            previous_eval=ev.id, failed_tg_allocs=dict(self.failed_tg_allocs),
            class_eligibility={} if escaped else class_eligibility,
            escaped_computed_class=escaped, create_time=self.now, modify_time=self.now)
