"""The scheduler for system and sysbatch jobs (Nomad's SystemScheduler).

Each missing (node, group) slot from the node reconciler is checked on that
one node: feasible and with room -> placed; filtered by a constraint or a
missing driver -> simply not wanted there (reported only if no node at all
runs the group); exhausted -> the placement failed, and a blocked eval
retries it when the node frees up.  Destructive updates stop the old
allocation and place the new one on the same node.

Not yet: deployments for system jobs, disconnected clients.
"""

from __future__ import annotations

import random

from ..structs import (
    AllocatedResources,
    AllocatedSharedResources,
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    AllocMetric,
    DesiredUpdates,
    EvalTrigger,
    Node,
    PlanAnnotations,
)
from .alloc_sets import tainted_nodes
from .context import EvalContext
from .descriptions import (
    ALLOC_LOST,
    ALLOC_NODE_TAINTED,
    ALLOC_NOT_NEEDED,
    ALLOC_UPDATING,
    BLOCKED_EVAL_FAILED_PLACEMENTS,
)
from .in_place import in_place_update
from .interfaces import Planner, State
from .node_reconcile import NodeAlloc, latest_terminal_by_node, reconcile_nodes
from .planning import (
    SYSTEM_TRIGGERS,
    PlanningScheduler,
    job_allocs,
    mark_stopped_allocs_lost,
    ready_nodes,
)
from .reconcile import UpdateKind
from .stack import PlacementStack

MAX_SYSTEM_ATTEMPTS = 5


class SystemScheduler(PlanningScheduler):
    max_attempts = MAX_SYSTEM_ATTEMPTS
    triggers = SYSTEM_TRIGGERS

    def __init__(self, state: State, planner: Planner, *, now: int,
                 rng: random.Random | None = None, sysbatch: bool,
                 pot_image_scoring: bool = True):
        super().__init__(state, planner, now=now, rng=rng, pot_image_scoring=pot_image_scoring)
        self.sysbatch = sysbatch

    def _attempt(self) -> bool:
        ctx = self._start_attempt()
        ev, state, job = self.eval, self.state, self.job
        stopped = self.job_stopped
        nodes: list[Node] = []
        by_datacenter: dict[str, int] = {}
        not_ready: set[str] = set()
        if job is not None and not stopped:
            nodes, by_datacenter, not_ready = ready_nodes(state, job)
        stack = PlacementStack(ctx, system=True, pot_images=self.pot_image_scoring)
        if job is not None and not stopped:
            stack.set_job(job)

        allocs = job_allocs(state, ev.namespace, ev.job_id)
        tainted = tainted_nodes(state.node_by_id, allocs)
        mark_stopped_allocs_lost(ctx, tainted, allocs)
        live = [a for a in allocs if not a.terminal_status()]
        terminal = latest_terminal_by_node([a for a in allocs if a.terminal_status()])
        diff = reconcile_nodes(job, nodes, not_ready, tainted, live, terminal,
                               sysbatch=self.sysbatch)

        desired: dict[str, DesiredUpdates] = {}

        def count(slot: NodeAlloc, field: str) -> None:
            name = slot.group.name if slot.group is not None else (
                slot.alloc.task_group if slot.alloc is not None else "")
            updates = desired.setdefault(name, DesiredUpdates())
            setattr(updates, field, getattr(updates, field) + 1)

        for slot in diff.stop:
            assert slot.alloc is not None
            ctx.stop(slot.alloc, ALLOC_NOT_NEEDED)
            count(slot, "stop")
        for slot in diff.migrate:
            assert slot.alloc is not None
            ctx.stop(slot.alloc, ALLOC_NODE_TAINTED)
            count(slot, "migrate")
        for slot in diff.lost:
            assert slot.alloc is not None
            ctx.stop(slot.alloc, ALLOC_LOST, AllocClientStatus.LOST)
            count(slot, "stop")
        for slot in diff.ignore:
            count(slot, "ignore")
        has_allocs: set[str] = {s.group.name for s in diff.ignore if s.group is not None}
        replace: list[NodeAlloc] = []
        for slot in diff.update:
            assert slot.alloc is not None and slot.group is not None and job is not None
            kind, updated = in_place_update(ctx, stack, ev.id, slot.alloc, job, slot.group)
            if kind == UpdateKind.DESTRUCTIVE:
                replace.append(slot)
                count(slot, "destructive_update")
                continue
            if updated is not None:
                ctx.update(updated)
            has_allocs.add(slot.group.name)
            count(slot, "in_place_update")
        for slot in replace:
            assert slot.alloc is not None
            ctx.stop(slot.alloc, ALLOC_UPDATING)
        if job is not None and not stopped:
            self.queued = {group.name: 0 for group in job.task_groups}
        placements = [*diff.place, *replace]
        for slot in placements:
            if slot.group is not None:
                self.queued[slot.group.name] = self.queued.get(slot.group.name, 0) + 1
        placed = self._place(ctx, stack, placements, nodes, by_datacenter, has_allocs)
        for name, number in placed.items():
            desired.setdefault(name, DesiredUpdates()).place += number
        self.annotations = PlanAnnotations(desired_tg_updates=desired)
        return self._submit_attempt(ctx)

    def _place(self, ctx: EvalContext, stack: PlacementStack, slots: list[NodeAlloc],
               nodes: list[Node], by_datacenter: dict[str, int], has_allocs: set[str]
               ) -> dict[str, int]:
        """Place each slot on its node; returns how many were placed per group."""
        job = self.job
        assert job is not None or not slots
        node_by_id = {node.id: node for node in nodes}
        filtered: dict[str, AllocMetric] = {}
        placed: dict[str, int] = {}
        for slot in slots:
            group = slot.group
            node = node_by_id.get(slot.node_id)
            if group is None or node is None or job is None:
                continue
            option = stack.select_on(node, group)
            metrics = stack.metrics
            if option is None:
                if metrics.nodes_filtered:
                    # Not wanted here (constraint, driver...): only a failure if no
                    # node runs the group at all.
                    self.queued[group.name] -= 1
                    filtered[group.name] = _merge_filtered(filtered.get(group.name), metrics)
                    if self.queued[group.name] <= 0 and group.name not in has_allocs:
                        self.failed_tg_allocs[group.name] = filtered[group.name]
                    continue
                failed = self.failed_tg_allocs.get(group.name)
                if failed is not None:
                    failed.coalesced_failures += 1
                    continue
                metrics.nodes_available = by_datacenter
                metrics.nodes_in_pool = len(nodes)
                self.failed_tg_allocs[group.name] = metrics
                self._block_on(node)
                continue
            metrics.nodes_available = by_datacenter
            metrics.nodes_in_pool = len(nodes)
            disk = (group.ephemeral_disk.size_mb or 0) if group.ephemeral_disk else 0
            alloc = Allocation(
                id=ctx.new_id(), namespace=job.namespace or "", eval_id=self.eval.id,
                name=slot.name, node_id=node.id, node_name=node.name, job_id=job.id, job=job,
                task_group=group.name, metrics=metrics,
                allocated_resources=AllocatedResources(
                    tasks=option.task_resources,
                    shared=AllocatedSharedResources(disk_mb=disk, networks=option.shared_networks,
                                                    ports=option.shared_ports)),
                desired_status=AllocDesiredStatus.RUN, client_status=AllocClientStatus.PENDING,
                create_time=self.now, modify_time=self.now)
            if slot.alloc is not None and slot.alloc.id:
                alloc.previous_allocation = slot.alloc.id
                stopped = ctx.stopped_copy(slot.alloc.id, slot.alloc.node_id)
                if stopped is not None:
                    stopped.next_allocation = alloc.id
            ctx.place(alloc)
            placed[group.name] = placed.get(group.name, 0) + 1
        return placed

    def _block_on(self, node: Node) -> None:
        """A blocked eval retries the placement once the node has room."""
        blocked = self.blocked_eval(escaped=True, class_eligibility={},
                                    trigger=EvalTrigger.QUEUED_ALLOCS,
                                    description=BLOCKED_EVAL_FAILED_PLACEMENTS, node_id=node.id)
        self.planner.create_eval(blocked)


def _merge_filtered(total: AllocMetric | None, more: AllocMetric) -> AllocMetric:
    if total is None:
        return AllocMetric(nodes_evaluated=more.nodes_evaluated,
                           nodes_filtered=more.nodes_filtered,
                           class_filtered=dict(more.class_filtered),
                           constraint_filtered=dict(more.constraint_filtered))
    total.nodes_evaluated += more.nodes_evaluated
    total.nodes_filtered += more.nodes_filtered
    for key, value in more.class_filtered.items():
        total.class_filtered[key] = total.class_filtered.get(key, 0) + value
    for key, value in more.constraint_filtered.items():
        total.constraint_filtered[key] = total.constraint_filtered.get(key, 0) + value
    return total
