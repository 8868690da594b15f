"""The scheduler for service and batch jobs (Nomad's GenericScheduler).

One attempt: reconcile the job against its allocations (reconcile.py), turn
the result into plan entries (stops, in-place updates, follow-up markers),
find a node for every placement (stack.py), then submit.  Placements that
find no node are reported on the eval (``FailedTGAllocs``) and handed to ONE
blocked eval, which the server re-runs when capacity appears; a blocked eval
that fails again is re-blocked instead of spawning another.  Failed
allocations not yet due for rescheduling get one delayed follow-up eval.
"""

from __future__ import annotations

import copy
import dataclasses
import random

from ..structs import (
    AllocatedResources,
    AllocatedSharedResources,
    Allocation,
    AllocClientStatus,
    AllocDeploymentStatus,
    AllocDesiredStatus,
    Deployment,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    Job,
    Node,
    PlanAnnotations,
    RescheduleTracker,
    TaskGroup,
    parse_rfc3339,
)
from .alloc_sets import tainted_nodes
from .context import EvalContext
from .descriptions import (
    BLOCKED_EVAL_FAILED_PLACEMENTS,
    BLOCKED_EVAL_MAX_PLAN,
    LAST_RESCHEDULE_FAILED_TO_PLACE,
    LAST_RESCHEDULE_SUCCESS,
)
from .in_place import in_place_update
from .interfaces import Planner, State
from .names import AllocNameIndex, index_from_name
from .planning import (
    PlanningScheduler,
    job_allocs,
    mark_stopped_allocs_lost,
    node_ready,
    ready_nodes,
)
from .reconcile import Placement, ReconcileInput, reconcile
from .reschedule import extend_reschedule_tracker
from .stack import PlacementStack, RankedOption

MAX_SERVICE_ATTEMPTS = 5
MAX_BATCH_ATTEMPTS = 2


class GenericScheduler(PlanningScheduler):
    def __init__(self, state: State, planner: Planner, *, now: int,
                 rng: random.Random | None = None, batch: bool,
                 pot_image_scoring: bool = True):
        super().__init__(state, planner, now=now, rng=rng, pot_image_scoring=pot_image_scoring)
        self.batch = batch
        self.max_attempts = MAX_BATCH_ATTEMPTS if batch else MAX_SERVICE_ATTEMPTS
        self.deployment: Deployment | None = None
        self.stack: PlacementStack | None = None

    # -- one attempt --------------------------------------------------------------
    def _attempt(self) -> bool:
        ctx = self._start_attempt()
        ev, job = self.eval, self.job
        self.deployment = None
        if not self.batch:
            # Copied: the reconciler records new groups on it.
            self.deployment = copy.deepcopy(self.state.latest_deployment_by_job(ev.namespace,
                                                                                ev.job_id))
        self.stack = PlacementStack(ctx, batch=self.batch, pot_images=self.pot_image_scoring)
        if job is not None and not self.job_stopped:
            self.stack.set_job(job)

        followups = self._compute_job_allocs(ctx)
        self.deployment_id = self.deployment.id if self.deployment is not None else ""

        wait_until = parse_rfc3339(ev.wait_until)
        if (ev.status != EvalStatus.BLOCKED and self.failed_tg_allocs and self.blocked is None
                and (not followups or self.now > wait_until)):
            self._create_blocked_eval(plan_failure=False)
        if ctx.plan.is_no_op() and not ev.annotate_plan:
            return True
        if followups and not wait_until:
            for followup in followups:
                followup.previous_eval = ev.id
                self.eval.next_eval = followup.id
                self.planner.create_eval(followup)
        return self._submit_attempt(ctx)

    def _compute_job_allocs(self, ctx: EvalContext) -> list[Evaluation]:
        """Reconcile and fill the plan; returns the delayed follow-up evals wanted."""
        ev, job, state = self.eval, self.job, self.state
        stack = self.stack
        assert stack is not None
        allocs = job_allocs(state, ev.namespace, ev.job_id)
        tainted = tainted_nodes(state.node_by_id, allocs)
        mark_stopped_allocs_lost(ctx, tainted, allocs)
        result = reconcile(ReconcileInput(
            job=job, job_id=ev.job_id, namespace=ev.namespace, batch=self.batch,
            deployment=self.deployment, allocs=allocs, tainted_nodes=tainted, now=self.now,
            eval_id=ev.id, eval_priority=ev.priority,
            update_fn=lambda alloc, new_job, group: in_place_update(ctx, stack, ev.id, alloc,
                                                                    new_job, group),
            new_id=self.new_id))
        self.annotations = PlanAnnotations(desired_tg_updates=result.desired_tg_updates)
        plan = ctx.plan
        plan.deployment = result.deployment
        plan.deployment_updates = result.deployment_updates
        self.deployment = result.current_deployment
        for stop in result.stop:
            ctx.stop(stop.alloc, stop.description, stop.client_status, stop.followup_eval_id)
        deployment_id = self.deployment.id if self.deployment is not None else ""
        for updated in result.in_place:
            if updated.deployment_id != deployment_id:
                updated.deployment_id = deployment_id
                updated.deployment_status = None
            ctx.update(updated)
        for updated in result.attribute_updates:
            ctx.update(updated)
        if not result.place and not result.destructive:
            if job is not None:
                self.queued = {group.name: 0 for group in job.task_groups}
            return result.followup_evals
        for placement in (*result.place, *result.destructive):
            self.queued[placement.group.name] = self.queued.get(placement.group.name, 0) + 1
        self._compute_placements(ctx, result.destructive, result.place, result.name_indexes)
        return result.followup_evals

    # -- placements ---------------------------------------------------------------
    def _compute_placements(self, ctx: EvalContext, destructive: list[Placement],
                            place: list[Placement], names: dict[str, AllocNameIndex]) -> None:
        ev, job, stack = self.eval, self.job, self.stack
        assert job is not None and stack is not None
        nodes, by_datacenter, _ = ready_nodes(self.state, job)
        stack.set_nodes(nodes, seed=f"{ev.id}/{self.state.latest_index}")
        deployment_id = (self.deployment.id if self.deployment is not None
                         and self.deployment.active() else "")
        disk_by_group: dict[str, int] = {}
        # Destructive updates first: their stops free resources for the rest.
        for missing in (*destructive, *place):
            group, alloc_job, alloc_deployment_id = missing.group, job, deployment_id
            downgraded = self._downgraded_job(missing) if missing.downgrade else None
            if downgraded is not None:
                alloc_deployment_id, alloc_job = downgraded
                group = alloc_job.lookup_task_group(group.name) or group
            failed = self.failed_tg_allocs.get(group.name)
            if failed is not None:
                failed.coalesced_failures += 1
                continue
            previous = missing.previous
            if missing.stop_previous and previous is not None:
                ctx.stop(previous, missing.stop_description)
            stack.set_job(alloc_job)
            option = stack.select(group, penalty_nodes=_penalty_nodes(previous),
                                  preferred=self._preferred_node(missing))
            stack.set_job(job)
            metrics = stack.metrics
            metrics.nodes_available = by_datacenter
            metrics.nodes_in_pool = len(nodes)
            if option is None:
                self.failed_tg_allocs[group.name] = metrics
                if missing.stop_previous and previous is not None:
                    ctx.undo_stop(previous)
                if previous is not None and missing.reschedule:
                    self._mark_failed_to_reschedule(ctx, previous)
                continue
            name = missing.name
            name_index = names[group.name]
            index = index_from_name(name)
            if name_index.is_duplicate(index):
                name = name_index.next(1)[0]
                name_index.unset_index(index)
            disk = disk_by_group.get(group.name)
            if disk is None:
                disk = disk_by_group[group.name] = (
                    (group.ephemeral_disk.size_mb or 0) if group.ephemeral_disk else 0)
            alloc = Allocation(
                id=ctx.new_id(), namespace=job.namespace or "", eval_id=ev.id, name=name,
                node_id=option.node.id, node_name=option.node.name, job_id=job.id, job=alloc_job,
                task_group=group.name, metrics=metrics, deployment_id=alloc_deployment_id,
                allocated_resources=AllocatedResources(
                    tasks=option.task_resources,
                    shared=AllocatedSharedResources(disk_mb=disk,
                                                    networks=option.shared_networks,
                                                    ports=option.shared_ports)),
                desired_status=AllocDesiredStatus.RUN, client_status=AllocClientStatus.PENDING,
                create_time=self.now, modify_time=self.now)
            if missing.canary and self.deployment is not None:
                alloc.deployment_status = AllocDeploymentStatus(canary=True)
            if previous is not None:
                alloc.previous_allocation = previous.id
                if missing.reschedule:
                    extend_reschedule_tracker(alloc, previous, self.now)
                self._link_replacement(ctx, previous, alloc, missing.reschedule)
            ctx.place(alloc)
            self._count_cached_image(group, option)

    def _count_cached_image(self, group: TaskGroup, option: RankedOption) -> None:
        """``job plan``'s per-group count of placements on nodes holding the image."""
        stack = self.stack
        if self.annotations is None or stack is None or not stack.images(group)[0]:
            return
        cached = self.annotations.pot_image_cached
        cached[group.name] = cached.get(group.name, 0) + (option.pot_image == 1.0)

    def _link_replacement(self, ctx: EvalContext, previous: Allocation, replacement: Allocation,
                          rescheduled: bool) -> None:
        """Point the stopped allocation at its replacement (what Nomad's state
        store does on commit), noting a successful reschedule."""
        stopped = ctx.stopped_copy(previous.id, previous.node_id)
        if stopped is None:
            return
        stopped.next_allocation = replacement.id
        if rescheduled:
            tracker = stopped.reschedule_tracker
            stopped.reschedule_tracker = RescheduleTracker(
                events=list(tracker.events) if tracker else [],
                last_reschedule=LAST_RESCHEDULE_SUCCESS)

    def _mark_failed_to_reschedule(self, ctx: EvalContext, previous: Allocation) -> None:
        """No node for a failed allocation's replacement: keep it (not stopped) and
        note the failure so the blocked eval retries without losing its history."""
        tracker = previous.reschedule_tracker
        updated = dataclasses.replace(previous, reschedule_tracker=RescheduleTracker(
            events=list(tracker.events) if tracker else [],
            last_reschedule=LAST_RESCHEDULE_FAILED_TO_PLACE))
        ctx.withdraw_stop(previous)
        planned = ctx.plan.node_allocation.get(previous.node_id, [])
        for i, alloc in enumerate(planned):
            if alloc.id == previous.id:
                planned[i] = updated
                return
        ctx.update(updated)

    def _downgraded_job(self, missing: Placement) -> tuple[str, Job] | None:
        """(deployment ID, job) of the version a placement runs while the
        group's canaries await promotion (Nomad's downgradedJobForPlacement):
        the newest version whose deployment of the group was promoted or had
        no canaries, else the replaced allocation's version if it rolled out
        without a deployment.  None: use the current job."""
        job, state = self.job, self.state
        assert job is not None
        namespace, name = job.namespace or "", missing.group.name
        previous = missing.previous
        min_version = previous.job.version if previous is not None and previous.job else 0
        found: tuple[str, Job | None] | None = None
        deployments = [d for d in state.deployments_by_job(namespace, job.id)
                       if d.job_create_index == job.create_index]
        for deployment in sorted(deployments, key=lambda d: -d.job_version):
            group_state = deployment.task_groups.get(name)
            if group_state is not None and (group_state.promoted
                                            or group_state.desired_canaries == 0):
                found = (deployment.id, state.job_by_version(namespace, job.id,
                                                             deployment.job_version))
                break
        if found is None and previous is not None and previous.job is not None:
            group = previous.job.lookup_task_group(name)
            if group is not None and (group.update is None or not group.update.max_parallel):
                found = ("", state.job_by_version(namespace, job.id, previous.job.version))
        if found is None:
            return None
        deployment_id, old = found
        if old is None or old.version < min_version or old.lookup_task_group(name) is None:
            return None
        return deployment_id, old

    def _preferred_node(self, missing: Placement) -> Node | None:
        """The previous node, for groups whose ephemeral disk is sticky or migrates."""
        previous, job = missing.previous, self.job
        if previous is None or previous.job is None or job is None:
            return None
        if (previous.job.node_pool != job.node_pool
                or previous.job.datacenters != job.datacenters):
            return None
        disk = missing.group.ephemeral_disk
        if disk is None or not (disk.sticky or disk.migrate):
            return None
        node = self.state.node_by_id(previous.node_id)
        return node if node is not None and node_ready(node) else None

    # -- outcome ------------------------------------------------------------------
    def _create_blocked_eval(self, *, plan_failure: bool) -> None:
        feasibility = self.stack.feasibility if self.stack is not None else None
        escaped = feasibility is None or feasibility.escaped
        classes = feasibility.class_eligibility() if feasibility is not None else {}
        if plan_failure:
            trigger, description = EvalTrigger.MAX_PLAN_ATTEMPTS, BLOCKED_EVAL_MAX_PLAN
        else:
            trigger, description = EvalTrigger.QUEUED_ALLOCS, BLOCKED_EVAL_FAILED_PLACEMENTS
        self.blocked = self.blocked_eval(escaped=escaped, class_eligibility=classes,
                                         trigger=trigger, description=description)
        self.planner.create_eval(self.blocked)

    def _finish(self) -> None:
        if self.eval.status == EvalStatus.BLOCKED and self.failed_tg_allocs:
            # Still cannot place everything: back to the blocked set, same eval.
            feasibility = self.stack.feasibility if self.stack is not None else None
            escaped = feasibility is None or feasibility.escaped
            self.planner.reblock_eval(dataclasses.replace(
                self.eval, escaped_computed_class=escaped,
                class_eligibility={} if escaped or feasibility is None
                else feasibility.class_eligibility(),
                failed_tg_allocs=dict(self.failed_tg_allocs),
                queued_allocations=dict(self.queued), modify_time=self.now))
            return
        super()._finish()

    def _give_up(self, description: str) -> None:
        self._create_blocked_eval(plan_failure=True)
        super()._give_up(description)


def _penalty_nodes(previous: Allocation | None) -> frozenset[str]:
    """Nodes a replacement should avoid: where the allocation (and its
    predecessors) failed."""
    if previous is None:
        return frozenset()
    nodes: set[str] = set()
    if previous.client_status == AllocClientStatus.FAILED:
        nodes.add(previous.node_id)
    if previous.reschedule_tracker is not None:
        nodes.update(e.prev_node_id for e in previous.reschedule_tracker.events)
    return frozenset(nodes)


