"""The reconciler for service and batch jobs: desired state vs. allocations.

A pure function of the job, its allocations, the tainted nodes and ``now``:
for every task group it works out which allocations to stop, which to keep,
which to update in place, which to replace (destructive update, lost node,
drain, failure) and which names still need a placement.  It decides nothing
about nodes -- that is the placement stack's job -- except through the
``update_fn`` callback, which asks whether an allocation can take a new job
version where it is.

The steps per group follow Nomad's ``computeGroup``::

    allocations --classify--> untainted | migrate | lost | ignore
    untainted --reschedule policy--> untainted | reschedule now | later (follow-up eval)
    too many?  --> stop the highest indexes
    job changed? --update_fn--> ignore | in place | destructive (stop + place)
    too few?   --> place missing names (lowest free index first), replacements
                   for rescheduled, lost and migrating allocations
    rolling?   --> at most ``update.max_parallel`` destructive updates at a time

Rolling updates (Nomad's computeUnderProvisionedBy): while a group's update
has a ``max_parallel`` and something must be replaced, each evaluation may
start at most ``max_parallel`` replacements, minus the allocations of the
current deployment that are not yet healthy; an unhealthy one, or a paused
or failed deployment, stops the rollout.  The rest count as "ignore" in the
plan annotations, as in Nomad.  The deployment watcher evaluates the job
again whenever an allocation turns healthy, which starts the next ones.
Failed allocations of an active deployment are replaced only once the
watcher allows it (``DesiredTransition.Reschedule``).

``max_parallel = 0`` means no update strategy: everything at once and no
deployment.  Not yet: canaries, auto-revert, disconnected clients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from enum import StrEnum

from ..structs import (
    Allocation,
    AllocClientStatus,
    Deployment,
    DeploymentState,
    DeploymentStatus,
    DeploymentStatusUpdate,
    DesiredUpdates,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    Job,
    JobType,
    Node,
    TaskGroup,
    UpdateStrategy,
    rfc3339,
)
from .alloc_sets import (
    AllocSet,
    DelayedReschedule,
    alloc_matrix,
    filter_by_rescheduleable,
    filter_by_tainted,
    filter_by_terminal,
    filter_old_terminal_allocs,
    filter_server_terminal_allocs,
)
from .descriptions import (
    ALLOC_LOST,
    ALLOC_MIGRATING,
    ALLOC_NOT_NEEDED,
    ALLOC_RESCHEDULED,
    ALLOC_UPDATING,
    DEPLOYMENT_NEWER_JOB,
    DEPLOYMENT_RUNNING,
    DEPLOYMENT_STOPPED_JOB,
    DEPLOYMENT_SUCCESSFUL,
    RESCHEDULING_FOLLOWUP_EVAL,
)
from .names import AllocNameIndex

# Failed allocations due within this window of each other share a follow-up eval.
BATCHED_FAILED_ALLOC_WINDOW = 5_000_000_000

class UpdateKind(StrEnum):
    """What a new job version means for an existing allocation (``update_fn``)."""

    IGNORE = "ignore"  # nothing to change, or finished work
    IN_PLACE = "in-place"  # the client updates it where it runs
    DESTRUCTIVE = "destructive"  # stop it and place a replacement


# (existing allocation, new job, new group) -> (kind, the updated copy for in-place)
UpdateFn = Callable[[Allocation, Job, TaskGroup], tuple[UpdateKind, Allocation | None]]


@dataclasses.dataclass(slots=True)
class Placement:
    """An allocation to place: a new name, or a replacement for ``previous``."""

    name: str
    group: TaskGroup
    previous: Allocation | None = None
    reschedule: bool = False  # replacing a failed allocation: extend its tracker
    lost: bool = False
    stop_previous: bool = False  # destructive update: stop ``previous`` if placed
    stop_description: str = ""


@dataclasses.dataclass(slots=True)
class Stop:
    alloc: Allocation
    description: str
    client_status: str = ""
    followup_eval_id: str = ""


@dataclasses.dataclass(slots=True)
class ReconcileResult:
    deployment: Deployment | None = None  # newly created, to be put in the plan
    # The deployment this evaluation works within (new or still active), else None:
    # a finished or cancelled deployment is not carried on to the eval or allocations.
    current_deployment: Deployment | None = None
    deployment_updates: list[DeploymentStatusUpdate] = dataclasses.field(default_factory=list)
    place: list[Placement] = dataclasses.field(default_factory=list)
    destructive: list[Placement] = dataclasses.field(default_factory=list)
    in_place: list[Allocation] = dataclasses.field(default_factory=list)
    stop: list[Stop] = dataclasses.field(default_factory=list)
    # Existing allocations changed without a new job version (follow-up eval IDs).
    attribute_updates: list[Allocation] = dataclasses.field(default_factory=list)
    desired_tg_updates: dict[str, DesiredUpdates] = dataclasses.field(default_factory=dict)
    followup_evals: list[Evaluation] = dataclasses.field(default_factory=list)
    name_indexes: dict[str, AllocNameIndex] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class ReconcileInput:
    job: Job | None  # None once the job is purged
    job_id: str
    namespace: str
    batch: bool
    deployment: Deployment | None  # the job's latest deployment (services only)
    allocs: list[Allocation]
    tainted_nodes: dict[str, Node | None]  # node ID -> node (None: node is gone)
    now: int  # ns since the epoch
    eval_id: str
    eval_priority: int
    update_fn: UpdateFn
    new_id: Callable[[], str]


def _update_strategy_empty(strategy: UpdateStrategy | None) -> bool:
    return strategy is None or not strategy.max_parallel


class _Reconciler:
    def __init__(self, given: ReconcileInput):
        self.given = given
        self.job = given.job
        self.result = ReconcileResult()
        self.deployment_old: Deployment | None = None
        self.deployment: Deployment | None = None  # the current one, maybe created here
        self.deployment_paused = False
        self.deployment_failed = False

    # -- entry --------------------------------------------------------------------
    def compute(self) -> ReconcileResult:
        given, job, result = self.given, self.job, self.result
        matrix = alloc_matrix(job, given.allocs)
        self._cancel_unneeded_deployments()
        if job is None or job.stop:
            for group, allocs in matrix.items():
                live = filter_by_terminal(allocs)
                result.desired_tg_updates[group] = DesiredUpdates(stop=len(live))
                result.stop.extend(self._stop_all(live))
            return result
        if self.deployment is not None:
            self.deployment_paused = self.deployment.status in (
                DeploymentStatus.PAUSED, DeploymentStatus.PENDING)
            self.deployment_failed = self.deployment.status == DeploymentStatus.FAILED
        complete = True
        for group, allocs in matrix.items():
            complete = self._compute_group(group, allocs) and complete
        result.current_deployment = self.deployment
        if (self.deployment is not None and self.deployment.active() and complete
                and result.deployment is None):
            result.deployment_updates.append(DeploymentStatusUpdate(
                deployment_id=self.deployment.id, status=DeploymentStatus.SUCCESSFUL,
                status_description=DEPLOYMENT_SUCCESSFUL,
                updated_at=self.given.now))
        return result

    def _cancel_unneeded_deployments(self) -> None:
        job, current = self.job, self.given.deployment
        updates = self.result.deployment_updates
        if job is None or job.stop:
            if current is not None and current.active():
                updates.append(DeploymentStatusUpdate(
                    deployment_id=current.id, status=DeploymentStatus.CANCELLED,
                    status_description=DEPLOYMENT_STOPPED_JOB,
                    updated_at=self.given.now))
            self.deployment_old = current
            return
        if current is None:
            return
        if current.job_create_index != job.create_index or current.job_version != job.version:
            if current.active():
                updates.append(DeploymentStatusUpdate(
                    deployment_id=current.id, status=DeploymentStatus.CANCELLED,
                    status_description=DEPLOYMENT_NEWER_JOB,
                    updated_at=self.given.now))
            self.deployment_old = current
            return
        if current.status == DeploymentStatus.SUCCESSFUL:
            self.deployment_old = current
            return
        self.deployment = current

    # -- one task group -----------------------------------------------------------
    def _compute_group(self, group_name: str, all_allocs: AllocSet) -> bool:
        """Reconcile one group; True when its deployment has nothing left to do."""
        given, result = self.given, self.result
        job = self.job
        assert job is not None
        desired = result.desired_tg_updates[group_name] = DesiredUpdates()
        group = job.lookup_task_group(group_name)
        all_allocs = filter_server_terminal_allocs(all_allocs)
        if group is None or not group.count:
            desired.stop = len(all_allocs)
            result.stop.extend(self._stop_all(all_allocs))
            return True
        count = group.count

        dstate, existing_deployment = self._deployment_state(group)
        if given.batch:
            all_allocs, ignored = filter_old_terminal_allocs(all_allocs, job)
            desired.ignore += len(ignored)
        untainted, migrate, lost, ignored = filter_by_tainted(all_allocs, given.tainted_nodes)
        desired.ignore += len(ignored)

        untainted, reschedule_now, reschedule_later = self._by_reschedulability(untainted)
        _, migrate_now, migrate_later = self._by_reschedulability(migrate)
        reschedule_now.update(migrate_now)
        reschedule_later.extend(migrate_later)
        if reschedule_later:
            self._reschedule_later(reschedule_later, all_allocs, migrate, group_name)

        names = AllocNameIndex(given.job_id, group_name, count,
                               [*untainted.values(), *migrate.values(),
                                *reschedule_now.values(), *lost.values()])
        result.name_indexes[group_name] = names

        untainted = self._compute_stop(group, names, untainted, migrate, lost, desired)
        in_place, destructive = self._compute_updates(untainted, group, desired)
        if not existing_deployment:
            dstate.desired_total += len(destructive) + len(in_place)
        limit = self._compute_limit(group, untainted, destructive, migrate)

        place = self._placements(group, names, untainted, migrate, reschedule_now, lost)
        if not existing_deployment:
            dstate.desired_total += len(place)

        place_ready = not self.deployment_paused and not self.deployment_failed
        failed = {i: a for i, a in reschedule_now.items() if i not in migrate}
        group_place: list[Placement] = []
        if place_ready:
            desired.place += len(place)
            group_place.extend(place)
            for alloc in failed.values():
                result.stop.append(Stop(alloc, ALLOC_RESCHEDULED))
            desired.stop += len(failed)
            # Placements use up the rollout's room first; then the destructive
            # updates, lowest index first, as far as the room goes.
            limit -= min(len(place), limit)
            replace_now = min(len(destructive), limit)
            desired.destructive_update += replace_now
            desired.ignore += len(destructive) - replace_now
            for alloc in sorted(destructive.values(), key=lambda a: a.index)[:replace_now]:
                result.destructive.append(Placement(
                    name=alloc.name, group=group, previous=alloc, stop_previous=True,
                    stop_description=ALLOC_UPDATING))
        else:
            # Paused or failed deployment: only replace what was lost, or what
            # failed outside the failed rollout.
            for placement in place:
                previous = placement.previous
                part_of_failed = (self.deployment_failed and previous is not None
                                  and self.deployment is not None
                                  and previous.deployment_id == self.deployment.id)
                if placement.lost or (placement.reschedule and not part_of_failed):
                    group_place.append(placement)
                    desired.place += 1
                    if placement.reschedule and previous is not None:
                        result.stop.append(Stop(previous, ALLOC_RESCHEDULED))
                        desired.stop += 1
            desired.ignore += len(destructive)

        desired.migrate += len(migrate)
        for alloc in sorted(migrate.values(), key=lambda a: a.index):
            result.stop.append(Stop(alloc, ALLOC_MIGRATING))
            if alloc.id in reschedule_now or (
                    alloc.job is not None and alloc.job.type == JobType.BATCH
                    and alloc.desired_transition.reschedule):
                continue  # the reschedule logic places it
            group_place.append(Placement(name=alloc.name, group=group, previous=alloc))
        if len(group_place) > count:
            group_place = group_place[:count]
            desired.place = count
        result.place.extend(group_place)

        self._create_deployment(group, dstate, existing_deployment, all_allocs,
                                bool(destructive) or bool(in_place))
        complete = not (destructive or in_place or group_place or migrate or reschedule_now
                        or reschedule_later)
        if not complete or self.deployment is None:
            return False
        state = self.deployment.task_groups.get(group_name)
        return state is None or state.healthy_allocs >= state.desired_total

    def _compute_limit(self, group: TaskGroup, untainted: AllocSet, destructive: AllocSet,
                       migrate: AllocSet) -> int:
        """How many allocations this evaluation may replace (Nomad's
        computeUnderProvisionedBy): the group's count when nothing rolls,
        ``max_parallel`` minus the current deployment's allocations that are not
        healthy yet, nothing while one is unhealthy or the deployment is paused
        or failed."""
        count = group.count or 0
        if _update_strategy_empty(group.update) or not (destructive or migrate):
            return count
        assert group.update is not None and group.update.max_parallel is not None
        max_parallel = group.update.max_parallel
        if self.deployment is None:
            return max_parallel
        if self.deployment_paused or self.deployment_failed:
            return 0
        limit = max_parallel
        for alloc in untainted.values():
            if alloc.deployment_id != self.deployment.id:
                continue
            health = alloc.deployment_status.healthy if alloc.deployment_status else None
            if health is False:
                return 0  # an unhealthy allocation halts the rollout
            if health is None:
                limit -= 1
        return max(limit, 0)

    def _stop_all(self, allocs: AllocSet) -> list[Stop]:
        untainted, migrate, lost, _ = filter_by_tainted(allocs, self.given.tainted_nodes)
        stops = [Stop(a, ALLOC_NOT_NEEDED) for a in (*untainted.values(), *migrate.values())]
        stops.extend(Stop(a, ALLOC_LOST, AllocClientStatus.LOST) for a in lost.values())
        return stops

    # -- rescheduling -------------------------------------------------------------
    def _by_reschedulability(self, allocs: AllocSet
                             ) -> tuple[AllocSet, AllocSet, list[DelayedReschedule]]:
        """(untainted, reschedule now, reschedule later with the time)."""
        given = self.given
        return filter_by_rescheduleable(allocs, batch=given.batch, now=given.now,
                                        eval_id=given.eval_id, deployment=self.deployment)

    def _reschedule_later(self, later: list[DelayedReschedule], all_allocs: AllocSet,
                          migrate: AllocSet, group_name: str) -> None:
        """One follow-up eval per 5 s batch of failures; each failed allocation
        records it so later evals do not create another."""
        given, job, result = self.given, self.job, self.result
        assert job is not None
        later.sort(key=lambda item: item[1])
        eval_for: dict[str, str] = {}
        batch_start = -1
        current: Evaluation | None = None
        for alloc, when in later:
            if current is None or when - batch_start >= BATCHED_FAILED_ALLOC_WINDOW:
                batch_start = when
                current = Evaluation(
                    id=given.new_id(), namespace=job.namespace or "", priority=given.eval_priority,
                    type=job.type or "", triggered_by=EvalTrigger.RETRY_FAILED_ALLOC,
                    job_id=job.id, job_modify_index=job.modify_index,
                    status=EvalStatus.PENDING, status_description=RESCHEDULING_FOLLOWUP_EVAL,
                    wait_until=rfc3339(when), create_time=given.now, modify_time=given.now)
                result.followup_evals.append(current)
            eval_for[alloc.id] = current.id
        for alloc, _ in later:
            if alloc.id in migrate:
                continue  # its stop carries nothing to update
            existing = all_allocs.get(alloc.id, alloc)
            result.attribute_updates.append(
                dataclasses.replace(existing, followup_eval_id=eval_for[alloc.id]))
        desired = result.desired_tg_updates[group_name]
        desired.reschedule_later = len(later)

    # -- stops, updates, placements -----------------------------------------------
    def _compute_stop(self, group: TaskGroup, names: AllocNameIndex, untainted: AllocSet,
                      migrate: AllocSet, lost: AllocSet, desired: DesiredUpdates) -> AllocSet:
        """Stop lost allocations and, on scale-down, the highest indexes.
        Returns what remains untainted."""
        result = self.result
        stopped: set[str] = set(lost)
        for alloc in lost.values():
            result.stop.append(Stop(alloc, ALLOC_LOST, AllocClientStatus.LOST))
        remove = len(untainted) + len(migrate) - (group.count or 0)
        if remove > 0:
            working = {i: a for i, a in untainted.items() if not a.server_terminal()}
            if migrate:
                migrating_names = AllocNameIndex(self.given.job_id, group.name, group.count or 0,
                                                 migrate.values()).highest(remove)
                for alloc_id, alloc in sorted(migrate.items(), key=lambda kv: -kv[1].index):
                    if remove <= 0:
                        break
                    if alloc.name in migrating_names:
                        result.stop.append(Stop(alloc, ALLOC_NOT_NEEDED))
                        del migrate[alloc_id]
                        stopped.add(alloc_id)
                        names.unset_index(alloc.index)
                        remove -= 1
            if remove > 0:
                remove_names = names.highest(remove)
                ordered = sorted(working.items(), key=lambda kv: -kv[1].index)
                for alloc_id, alloc in ordered:
                    if remove <= 0:
                        break
                    if alloc.name in remove_names:
                        result.stop.append(Stop(alloc, ALLOC_NOT_NEEDED))
                        stopped.add(alloc_id)
                        del working[alloc_id]
                        remove -= 1
                # Duplicate names can leave some to remove.
                for alloc_id, alloc in sorted(working.items(), key=lambda kv: -kv[1].index):
                    if remove <= 0:
                        break
                    result.stop.append(Stop(alloc, ALLOC_NOT_NEEDED))
                    stopped.add(alloc_id)
                    remove -= 1
        desired.stop += len(stopped)
        return {i: a for i, a in untainted.items() if i not in stopped}

    def _compute_updates(self, untainted: AllocSet, group: TaskGroup, desired: DesiredUpdates
                         ) -> tuple[AllocSet, AllocSet]:
        job = self.job
        assert job is not None
        in_place: AllocSet = {}
        destructive: AllocSet = {}
        for alloc_id, alloc in untainted.items():
            kind, updated = self.given.update_fn(alloc, job, group)
            if kind == UpdateKind.DESTRUCTIVE:
                destructive[alloc_id] = alloc
            elif kind == UpdateKind.IN_PLACE and updated is not None:
                in_place[alloc_id] = updated
            else:
                desired.ignore += 1
        self.result.in_place.extend(in_place.values())
        desired.in_place_update += len(in_place)
        return in_place, destructive

    def _placements(self, group: TaskGroup, names: AllocNameIndex, untainted: AllocSet,
                    migrate: AllocSet, reschedule: AllocSet, lost: AllocSet) -> list[Placement]:
        count = group.count or 0
        place = [Placement(name=a.name, group=group, previous=a, reschedule=True)
                 for a in sorted(reschedule.values(), key=lambda a: a.index)]
        existing = len(untainted) + len(migrate) + len(reschedule)
        for alloc in sorted(lost.values(), key=lambda a: a.index):
            if existing >= count:
                break
            existing += 1
            place.append(Placement(name=alloc.name, group=group, previous=alloc, lost=True))
        if existing < count:
            place.extend(Placement(name=name, group=group) for name in names.next(count - existing))
        return place

    # -- deployments --------------------------------------------------------------
    def _deployment_state(self, group: TaskGroup) -> tuple[DeploymentState, bool]:
        if self.deployment is not None and group.name in self.deployment.task_groups:
            return self.deployment.task_groups[group.name], True
        state = DeploymentState()
        if not _update_strategy_empty(group.update):
            assert group.update is not None
            state.auto_revert = bool(group.update.auto_revert)
            state.auto_promote = bool(group.update.auto_promote)
            state.progress_deadline = group.update.progress_deadline or 0
        return state, False

    def _create_deployment(self, group: TaskGroup, state: DeploymentState, existing: bool,
                           all_allocs: AllocSet, updating_spec: bool) -> None:
        """Track this job version's rollout when it places or updates anything."""
        job = self.job
        assert job is not None
        if existing or self.given.batch or _update_strategy_empty(group.update):
            return
        if state.desired_total == 0:
            return
        had_running = any(a.job is not None and a.job.version == job.version
                          and a.job.create_index == job.create_index
                          for a in all_allocs.values())
        if had_running and not updating_spec:
            return
        if self.deployment is None:
            self.deployment = Deployment(
                id=self.given.new_id(), namespace=job.namespace or "", job_id=job.id,
                job_version=job.version, job_modify_index=job.modify_index,
                job_spec_modify_index=job.job_modify_index, job_create_index=job.create_index,
                status=DeploymentStatus.RUNNING, status_description=DEPLOYMENT_RUNNING,
                create_time=self.given.now, modify_time=self.given.now)
            self.result.deployment = self.deployment
        self.deployment.task_groups[group.name] = state


def reconcile(given: ReconcileInput) -> ReconcileResult:
    """What to stop, update and place for ``given.job`` (see the module doc)."""
    return _Reconciler(given).compute()

