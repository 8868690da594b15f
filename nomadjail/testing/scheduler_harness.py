"""A scheduler test harness, like Nomad's ``scheduler/tests/testing.go``.

:class:`Harness` owns a real in-memory :class:`StateStore` and is the
scheduler's :class:`Planner`: plans are re-checked node by node with
``allocs_fit`` (as the server's plan applier does), the part that fits is
committed through ``txn.upsert_plan_results`` and the rest is reported as a
partial commit with a refreshed state.  Everything the scheduler hands over
is recorded (``plans``, ``results``, ``evals``, ``create_evals``,
``reblock_evals``) so tests assert on what a user would see.

    h = Harness()
    nodes = [h.upsert_node(mock_node()) for _ in range(10)]
    job = h.upsert_job(mock_job(count=10))
    h.run(job)  # or h.process(mock_eval(job))
    assert len(h.placed_allocs()) == 10
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from typing import Any

from ..scheduler import allocs_fit, new_scheduler
from ..scheduler.interfaces import State
from ..state import StateSnapshot, StateStore
from ..structs import (
    Allocation,
    AllocClientStatus,
    AllocDeploymentStatus,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    Job,
    Node,
    NodeStatus,
    Plan,
    PlanResult,
    now_ns,
    rfc3339,
)
from .mock import mock_eval


class Harness:
    """Real state, recording planner.  ``reject_plans`` makes every plan commit
    nothing (Nomad's RejectPlan), to exercise the retry limit."""

    def __init__(self, store: StateStore | None = None, *, now: int | None = None):
        self.store = store or StateStore()
        self._index = self.store.latest_index
        self.now = now  # None: the real clock at each process()
        self.reject_plans = False
        self.pot_image_scoring = True  # the server's scheduler configuration flag
        self.plans: list[Plan] = []
        self.results: list[PlanResult] = []
        self.evals: list[Evaluation] = []
        self.create_evals: list[Evaluation] = []
        self.reblock_evals: list[Evaluation] = []

    # -- state setup --------------------------------------------------------------
    def next_index(self) -> int:
        self._index = max(self._index, self.store.latest_index) + 1
        return self._index

    def snapshot(self) -> StateSnapshot:
        return self.store.snapshot()

    def upsert_node(self, node: Node) -> Node:
        with self.store.txn(self.next_index()) as txn:
            return txn.upsert_node(node)

    def upsert_nodes(self, nodes: Iterable[Node]) -> list[Node]:
        with self.store.txn(self.next_index()) as txn:
            return [txn.upsert_node(node) for node in nodes]

    def update_node(self, node_id: str, **changes: object) -> Node:
        with self.store.txn(self.next_index()) as txn:
            node = txn.update_node(node_id, **changes)
        assert node is not None, f"no node {node_id!r} in the harness state"
        return node

    def upsert_job(self, job: Job) -> Job:
        with self.store.txn(self.next_index()) as txn:
            return txn.upsert_job(job)

    def upsert_allocs(self, allocs: Iterable[Allocation]) -> None:
        with self.store.txn(self.next_index()) as txn:
            txn.upsert_allocs(list(allocs))

    def update_allocs_from_client(self, allocs: Iterable[Allocation]) -> None:
        with self.store.txn(self.next_index()) as txn:
            txn.update_allocs_from_client(list(allocs))

    def upsert_evals(self, evals: Iterable[Evaluation]) -> None:
        with self.store.txn(self.next_index()) as txn:
            txn.upsert_evals(list(evals))

    # -- running the scheduler ----------------------------------------------------
    def process(self, evaluation: Evaluation, *, now: int | None = None,
                rng: random.Random | None = None) -> None:
        """Run the scheduler for ``evaluation`` against the current state."""
        when = now if now is not None else (self.now if self.now is not None else now_ns())
        scheduler = new_scheduler(evaluation.type, self.snapshot(), self, now=when, rng=rng,
                                  pot_image_scoring=self.pot_image_scoring)
        scheduler.process(evaluation)

    def run(self, job: Job, trigger: str = EvalTrigger.JOB_REGISTER, *, annotate: bool = False,
            now: int | None = None, rng: random.Random | None = None) -> Evaluation:
        """Process a fresh eval for ``job``; returns the eval as the scheduler left it
        (the last ``update_eval``, or the reblocked eval)."""
        evaluation = mock_eval(job, trigger=trigger)
        evaluation.annotate_plan = annotate
        evals_before = len(self.evals)
        self.process(evaluation, now=now, rng=rng)
        assert len(self.evals) > evals_before, "the scheduler did not update the eval"
        return self.evals[-1]

    # -- Planner ------------------------------------------------------------------
    def submit_plan(self, plan: Plan) -> tuple[PlanResult, State | None]:
        self.plans.append(plan)
        snapshot = self.store.snapshot()
        result = PlanResult(deployment=plan.deployment,
                            deployment_updates=list(plan.deployment_updates))
        partial = self.reject_plans
        if not self.reject_plans:
            for node_id in {*plan.node_update, *plan.node_allocation}:
                if self._node_fits(snapshot, plan, node_id):
                    if node_id in plan.node_update:
                        result.node_update[node_id] = plan.node_update[node_id]
                    if node_id in plan.node_allocation:
                        result.node_allocation[node_id] = plan.node_allocation[node_id]
                else:
                    partial = True
        if partial and (plan.all_at_once or self.reject_plans):
            result = PlanResult()
        index = self.next_index()
        with self.store.txn(index) as txn:
            txn.upsert_plan_results(result)
        result.alloc_index = index
        if partial:
            result.refresh_index = index
        self.results.append(result)
        return result, (self.store.snapshot() if partial else None)

    @staticmethod
    def _node_fits(state: StateSnapshot, plan: Plan, node_id: str) -> bool:
        """The plan applier's per-node check (Nomad's evaluateNodePlan)."""
        placing = plan.node_allocation.get(node_id, [])
        if not placing:
            return True  # only stops: always fine
        node = state.node_by_id(node_id)
        if node is None or node.status != NodeStatus.READY:
            return False
        replaced = {a.id for a in plan.node_update.get(node_id, ())} | {a.id for a in placing}
        proposed = [a for a in state.allocs_by_node(node_id)
                    if a.id not in replaced and not a.terminal_status()]
        fits, _ = allocs_fit(node, [*proposed, *placing])
        return fits

    def update_eval(self, evaluation: Evaluation) -> None:
        self.evals.append(evaluation)
        self.upsert_evals([evaluation])

    def create_eval(self, evaluation: Evaluation) -> None:
        self.create_evals.append(evaluation)
        self.upsert_evals([evaluation])

    def reblock_eval(self, evaluation: Evaluation) -> None:
        stored = self.store.eval_by_id(evaluation.id)
        assert stored is not None, f"reblocked eval {evaluation.id} does not exist"
        assert stored.status == EvalStatus.BLOCKED, (
            f"reblocked eval {evaluation.id} is {stored.status!r}, not blocked")
        self.reblock_evals.append(evaluation)
        self.upsert_evals([evaluation])

    # -- reading results ----------------------------------------------------------
    def placed_allocs(self, plan_number: int = -1) -> list[Allocation]:
        """The new or updated allocations of one recorded plan (the last by default)."""
        plan = self.plans[plan_number]
        return [a for allocs in plan.node_allocation.values() for a in allocs]

    def stopped_allocs(self, plan_number: int = -1) -> list[Allocation]:
        plan = self.plans[plan_number]
        return [a for allocs in plan.node_update.values() for a in allocs]

    def live_allocs(self, job: Job) -> list[Allocation]:
        """The job's allocations in state the server still wants running."""
        return [a for a in self.store.allocs_by_job(job.namespace or "default", job.id)
                if not a.server_terminal()]

    def set_client_status(self, allocs: Iterable[Allocation], status: str, **fields: Any
                          ) -> None:
        """Report ``status`` for ``allocs`` as their client would."""
        self.update_allocs_from_client(
            dataclasses.replace(a, client_status=AllocClientStatus(status), **fields)
            for a in allocs)

    def set_health(self, allocs: Iterable[Allocation], healthy: bool = True, *,
                   client_status: str = "") -> None:
        """Report ``allocs`` (un)healthy for their deployment, as the client's
        health watcher would: healthy ones running, unhealthy ones failed unless
        ``client_status`` says otherwise."""
        when = rfc3339(self.now if self.now is not None else now_ns())
        status = client_status or (AllocClientStatus.RUNNING if healthy
                                   else AllocClientStatus.FAILED)
        self.set_client_status(
            allocs, status,
            deployment_status=AllocDeploymentStatus(healthy=healthy, timestamp=when))
