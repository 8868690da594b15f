"""The reconciler for service and batch jobs: desired state vs. allocations.

A pure function of the job, its allocations, the tainted nodes and ``now``:
for every task group it works out which allocations to stop, which to keep,
which to update in place, which to replace (destructive update, lost node,
drain, failure) and which names still need a placement.  It decides nothing
about nodes -- that is the placement stack's job -- except through the
``update_fn`` callback, which asks whether an allocation can take a new job
version where it is.  The questions asked of a set of allocations (is it
live, where is its node, may it be rescheduled) are the pure filters of
``alloc_sets.py``.

The steps per group follow Nomad's ``computeGroup``, one method each::

    old canaries --> stop those never to be promoted            (_cancel_unneeded_canaries)
    allocations --classify--> untainted | migrate | lost | ignore
    untainted --reschedule policy--> untainted | reschedule now | later (follow-up eval)
    too many?  --> stop the highest indexes                      (_compute_stop)
    job changed? --update_fn--> ignore | in place | destructive  (_compute_updates)
    too few?   --> missing names (lowest free index first), replacements
                   for rescheduled and lost allocations          (_compute_placements)
    canaries?  --> canaries to place, none else until promoted   (_compute_canaries)
    rolling?   --> how many may be replaced now                  (_compute_limit)
    place      --> the replacements the deployment allows now    (_compute_replacements)
    destructive --> stop + place, as far as the room goes        (_compute_destructive_updates)
    migrate    --> stop + place every draining allocation        (_compute_migrations)

Rolling updates (Nomad's computeUnderProvisionedBy): while a group's update
has a ``max_parallel`` and something must be replaced, each evaluation may
start at most ``max_parallel`` replacements, minus the allocations of the
current deployment that are not yet healthy; an unhealthy one, or a paused
or failed deployment, stops the rollout.  The rest count as "ignore" in the
plan annotations, as in Nomad.  The deployment watcher evaluates the job
again whenever an allocation turns healthy, which starts the next ones.
Failed allocations of an active deployment are replaced only once the
watcher allows it (``DesiredTransition.Reschedule``).

Canaries (``update { canary = N }``, see ``canaries.py``): a destructive
update first places N canaries beside the old allocations and replaces
nothing until the deployment is promoted; promotion keeps the canaries, stops
the allocations whose names they took and rolls on as above.

``max_parallel = 0`` means no update strategy: everything at once and no
deployment.  Not yet: disconnected clients.
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
    rfc3339,
)
from .alloc_sets import (
    AllocSet,
    DelayedReschedule,
    ReschedulableSplit,
    alloc_ids,
    alloc_matrix,
    difference,
    filter_by_deployment,
    filter_by_rescheduleable,
    filter_by_tainted,
    filter_by_terminal,
    filter_old_terminal_allocs,
    filter_server_terminal_allocs,
    highest_first,
    name_order,
)
from .canaries import (
    canaries_to_cancel,
    group_promoted_or_done,
    is_canary,
    is_canarying,
    requires_canaries,
    split_canaries,
)
from .deployments import (
    cancel_unneeded_deployments,
    describe_new,
    initial_group_state,
    new_deployment,
    update_strategy_empty,
)
from .descriptions import (
    ALLOC_LOST,
    ALLOC_MIGRATING,
    ALLOC_NOT_NEEDED,
    ALLOC_RESCHEDULED,
    ALLOC_UPDATING,
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
    canary: bool = False  # a canary of the deployment (or a canary's replacement)
    # While canaries wait for promotion, a replacement for an allocation that is
    # not a canary runs the version the old allocations run, not the new one.
    downgrade: bool = False


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


@dataclasses.dataclass(slots=True)
class _GroupAllocs:
    """Where one group's allocations stand after classification.

    ``_compute_stop`` takes the allocations it stops out of ``untainted`` and
    ``migrate``; every later step sees what remains."""

    all_allocs: AllocSet  # considered at all (server-stopped and batch history left out)
    untainted: AllocSet  # count toward the group where they are
    migrate: AllocSet  # on a draining node: stop and place elsewhere
    lost: AllocSet  # on a node that is gone, down or disconnected
    reschedule_now: AllocSet  # failed: replace in this evaluation
    reschedule_later: list[DelayedReschedule]  # failed: replace at a known time

    def named(self) -> list[Allocation]:
        """The allocations whose names (indexes) are taken."""
        return [*self.untainted.values(), *self.migrate.values(),
                *self.reschedule_now.values(), *self.lost.values()]


class _Reconciler:
    def __init__(self, given: ReconcileInput):
        self.given = given
        self.job = given.job
        self.result = ReconcileResult()
        self.deployment_old: Deployment | None = None
        self.deployment: Deployment | None = None  # the current one, maybe created here
        self.deployment_paused = False
        self.deployment_failed = False
        self.cancel_canaries: set[str] = set()  # canaries never to be promoted

    # -- entry --------------------------------------------------------------------
    def compute(self) -> ReconcileResult:
        given, job, result = self.given, self.job, self.result
        matrix = alloc_matrix(job, given.allocs)
        self.deployment_old, self.deployment, result.deployment_updates = (
            cancel_unneeded_deployments(job, given.deployment, given.now))
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
        self.cancel_canaries = canaries_to_cancel(self.deployment_old, self.deployment)
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
        if result.deployment is not None:
            describe_new(result.deployment)
        return result

    # -- one task group -----------------------------------------------------------
    def _compute_group(self, group_name: str, all_allocs: AllocSet) -> bool:
        """Reconcile one group; True when its deployment has nothing left to do.

        The steps run in the order of the module doc; each reads what the
        ones before it decided."""
        job, result = self.job, self.result
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
        batch = self.given.batch
        if batch:
            all_allocs, history = filter_old_terminal_allocs(all_allocs, job)
            desired.ignore += len(history)
        all_allocs, canaries = self._cancel_unneeded_canaries(all_allocs, desired)
        allocs = self._classify(all_allocs, desired, batch=batch)
        if allocs.reschedule_later:
            self._reschedule_later(group_name, allocs)
        names = AllocNameIndex(self.given.job_id, group_name, count, allocs.named())
        result.name_indexes[group_name] = names

        canarying = is_canarying(dstate)
        self._compute_stop(group, names, allocs, desired, canaries, canarying)
        in_place, destructive = self._compute_updates(group, allocs.untainted, desired)
        if not existing_deployment:
            dstate.desired_total += len(destructive) + len(in_place)
        if canarying:
            allocs.untainted = difference(allocs.untainted, canaries)
        group_place: list[Placement] = []
        needs_canaries = requires_canaries(group, dstate, destructive, canaries)
        if needs_canaries:
            group_place = self._compute_canaries(group, dstate, destructive, canaries, names,
                                                 desired)
        canarying = is_canarying(dstate)
        place = self._compute_placements(group, names, allocs, canarying)
        if not existing_deployment:
            dstate.desired_total += len(place)

        limit = self._compute_limit(group, allocs, destructive, canarying)
        replacements, limit = self._compute_replacements(place, allocs, limit, desired, canarying)
        group_place.extend(replacements)
        self._compute_destructive_updates(group, destructive, limit, desired)
        group_place.extend(self._compute_migrations(group, allocs, desired, canarying))
        if len(group_place) > count:
            group_place = group_place[:count]
            desired.place = count
        result.place.extend(group_place)

        self._create_deployment(group, dstate, existing_deployment, allocs.all_allocs,
                                bool(destructive) or bool(in_place))
        busy = bool(destructive or in_place or group_place or allocs.migrate
                    or allocs.reschedule_now or allocs.reschedule_later or needs_canaries)
        return not busy and self._deployment_complete(group_name)

    def _classify(self, all_allocs: AllocSet, desired: DesiredUpdates, *, batch: bool
                  ) -> _GroupAllocs:
        """Sort the group's allocations by their node and the reschedule policy."""
        given = self.given
        by_node = filter_by_tainted(all_allocs, given.tainted_nodes)
        desired.ignore += len(by_node.ignore)

        def by_policy(allocs: AllocSet) -> ReschedulableSplit:
            return filter_by_rescheduleable(allocs, batch=batch, now=given.now,
                                            eval_id=given.eval_id, deployment=self.deployment)

        staying, migrating = by_policy(by_node.untainted), by_policy(by_node.migrate)
        return _GroupAllocs(
            all_allocs=all_allocs, untainted=staying.untainted, migrate=by_node.migrate,
            lost=by_node.lost, reschedule_now={**staying.now, **migrating.now},
            reschedule_later=[*staying.later, *migrating.later])

    def _stop_all(self, allocs: AllocSet) -> list[Stop]:
        split = filter_by_tainted(allocs, self.given.tainted_nodes)
        stops = [Stop(a, ALLOC_NOT_NEEDED)
                 for a in (*split.untainted.values(), *split.migrate.values())]
        stops.extend(Stop(a, ALLOC_LOST, AllocClientStatus.LOST) for a in split.lost.values())
        return stops

    # -- rescheduling -------------------------------------------------------------
    def _reschedule_later(self, group_name: str, allocs: _GroupAllocs) -> None:
        """One follow-up eval per 5 s batch of failures; each failed allocation
        records it so later evals do not create another."""
        given, job, result = self.given, self.job, self.result
        assert job is not None
        later = sorted(allocs.reschedule_later, key=lambda delayed: delayed.reschedule_time)
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
            if alloc.id in allocs.migrate:
                continue  # its stop carries nothing to update
            existing = allocs.all_allocs.get(alloc.id, alloc)
            result.attribute_updates.append(
                dataclasses.replace(existing, followup_eval_id=eval_for[alloc.id]))
        result.desired_tg_updates[group_name].reschedule_later = len(later)

    # -- stops and updates --------------------------------------------------------
    def _compute_stop(self, group: TaskGroup, names: AllocNameIndex, allocs: _GroupAllocs,
                      desired: DesiredUpdates, canaries: AllocSet, canarying: bool) -> None:
        """Stop lost allocations and, on scale-down, the highest indexes --
        migrating ones first, they would move anyway; never canaries awaiting
        promotion, and once promoted, first the allocations whose names they
        took.  Takes the stopped ones out of ``allocs``."""
        count = group.count or 0
        stops = [Stop(a, ALLOC_LOST, AllocClientStatus.LOST) for a in allocs.lost.values()]
        working = difference(allocs.untainted, canaries) if canarying else dict(allocs.untainted)
        remove = len(working) + len(allocs.migrate) - count
        working = {i: a for i, a in working.items() if not a.server_terminal()}
        if remove > 0 and canaries and not canarying:
            canary_names = {a.name for a in canaries.values()}
            named_alike = [a for a in name_order(difference(working, canaries))
                           if a.name in canary_names][:remove]
            working = difference(working, alloc_ids(named_alike))
            allocs.untainted = difference(allocs.untainted, alloc_ids(named_alike))
            stops.extend(Stop(a, ALLOC_NOT_NEEDED) for a in named_alike)
            remove -= len(named_alike)
        if remove > 0 and allocs.migrate:
            highest = AllocNameIndex(self.given.job_id, group.name, count,
                                     allocs.migrate.values()).highest(remove)
            migrating = highest_first(allocs.migrate, remove, among=highest)
            for alloc in migrating:
                names.unset_index(alloc.index)
            allocs.migrate = difference(allocs.migrate, alloc_ids(migrating))
            stops.extend(Stop(a, ALLOC_NOT_NEEDED) for a in migrating)
            remove -= len(migrating)
        if remove > 0:
            surplus = highest_first(working, remove, among=names.highest(remove))
            # Duplicate names can leave some to remove.
            surplus += highest_first(difference(working, alloc_ids(surplus)), remove - len(surplus))
            allocs.untainted = difference(allocs.untainted, alloc_ids(surplus))
            stops.extend(Stop(a, ALLOC_NOT_NEEDED) for a in surplus)
        self.result.stop.extend(stops)
        desired.stop += len(stops)

    def _compute_updates(self, group: TaskGroup, untainted: AllocSet, desired: DesiredUpdates
                         ) -> tuple[AllocSet, AllocSet]:
        """(updated in place, to replace) by asking ``update_fn`` about each
        allocation; the in-place ones go into the result at once."""
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

    # -- placements -----------------------------------------------------------------
    def _compute_placements(self, group: TaskGroup, names: AllocNameIndex,
                            allocs: _GroupAllocs, canarying: bool) -> list[Placement]:
        """What the group lacks: replacements for failed allocations, then for
        lost ones, then new names -- up to ``count``.  A replacement of a
        canary is a canary; while canaries wait, any other placement keeps the
        old version (``downgrade``)."""
        count = group.count or 0
        place = [Placement(name=a.name, group=group, previous=a, reschedule=True,
                           canary=is_canary(a), downgrade=canarying and not is_canary(a))
                 for a in name_order(allocs.reschedule_now)]
        existing = len(allocs.untainted) + len(allocs.migrate) + len(allocs.reschedule_now)
        for alloc in name_order(allocs.lost):
            if existing >= count:
                break
            existing += 1
            place.append(Placement(name=alloc.name, group=group, previous=alloc, lost=True,
                                   canary=is_canary(alloc),
                                   downgrade=canarying and not is_canary(alloc)))
        if existing < count:
            place.extend(Placement(name=name, group=group, downgrade=canarying)
                         for name in names.next(count - existing))
        return place

    def _compute_canaries(self, group: TaskGroup, dstate: DeploymentState, destructive: AllocSet,
                          canaries: AllocSet, names: AllocNameIndex, desired: DesiredUpdates
                          ) -> list[Placement]:
        """The canaries still to place (none while the deployment is paused or
        failed); records how many the deployment wants."""
        assert group.update is not None
        wanted = dstate.desired_canaries = group.update.canary or 0
        if self.deployment_paused or self.deployment_failed:
            return []
        missing = wanted - len(canaries)
        desired.canary += missing
        return [Placement(name=name, group=group, canary=True)
                for name in names.next_canaries(missing, canaries.values(),
                                                destructive.values())]

    def _compute_limit(self, group: TaskGroup, allocs: _GroupAllocs, destructive: AllocSet,
                       canarying: bool) -> int:
        """How many allocations this evaluation may replace (Nomad's
        computeUnderProvisionedBy): the group's count when nothing rolls,
        ``max_parallel`` minus the current deployment's allocations that are not
        healthy yet, nothing while one is unhealthy, canaries await promotion
        or the deployment is paused or failed."""
        count = group.count or 0
        if update_strategy_empty(group.update) or not (destructive or allocs.migrate):
            return count
        assert group.update is not None and group.update.max_parallel is not None
        max_parallel = group.update.max_parallel
        if self.deployment is None:
            return max_parallel
        if self.deployment_paused or self.deployment_failed or canarying:
            return 0
        in_rollout, _ = filter_by_deployment(allocs.untainted, self.deployment.id)
        limit = max_parallel
        for alloc in in_rollout.values():
            health = alloc.deployment_status.healthy if alloc.deployment_status else None
            if health is False:
                return 0  # an unhealthy allocation halts the rollout
            if health is None:
                limit -= 1
        return max(limit, 0)

    def _compute_replacements(self, place: list[Placement], allocs: _GroupAllocs, limit: int,
                              desired: DesiredUpdates, canarying: bool
                              ) -> tuple[list[Placement], int]:
        """(the placements to make now, the room ``limit`` leaves for destructive
        updates).

        Normally every placement, and each rescheduled allocation is stopped;
        placements use up the rollout's room first.  A paused or failed
        deployment, or one whose canaries await promotion, places only what
        was lost, or what failed outside a failed rollout, and leaves no room
        for destructive updates."""
        result = self.result
        if not self.deployment_paused and not self.deployment_failed and not canarying:
            desired.place += len(place)
            failed = difference(allocs.reschedule_now, allocs.migrate)
            result.stop.extend(Stop(alloc, ALLOC_RESCHEDULED) for alloc in failed.values())
            desired.stop += len(failed)
            return list(place), limit - min(len(place), limit)
        kept: list[Placement] = []
        for placement in place:
            previous = placement.previous
            part_of_failed = (self.deployment_failed and previous is not None
                              and self.deployment is not None
                              and previous.deployment_id == self.deployment.id)
            if placement.lost or (placement.reschedule and not part_of_failed):
                kept.append(placement)
                desired.place += 1
                if placement.reschedule and previous is not None:
                    result.stop.append(Stop(previous, ALLOC_RESCHEDULED))
                    desired.stop += 1
        return kept, 0

    def _compute_destructive_updates(self, group: TaskGroup, destructive: AllocSet, limit: int,
                                     desired: DesiredUpdates) -> None:
        """Replace up to ``limit`` allocations, lowest index first (each is
        stopped only if its replacement finds a node); the rest wait."""
        replace_now = min(len(destructive), limit)
        desired.destructive_update += replace_now
        desired.ignore += len(destructive) - replace_now
        for alloc in name_order(destructive)[:replace_now]:
            self.result.destructive.append(Placement(
                name=alloc.name, group=group, previous=alloc, stop_previous=True,
                stop_description=ALLOC_UPDATING))

    def _compute_migrations(self, group: TaskGroup, allocs: _GroupAllocs,
                            desired: DesiredUpdates, canarying: bool) -> list[Placement]:
        """Stop every migrating allocation; returns their replacements, except
        for those the reschedule logic already places (a canary's replacement
        is a canary; while canaries wait, others keep the old version)."""
        desired.migrate += len(allocs.migrate)
        place: list[Placement] = []
        for alloc in name_order(allocs.migrate):
            self.result.stop.append(Stop(alloc, ALLOC_MIGRATING))
            if alloc.id in allocs.reschedule_now or (
                    alloc.job is not None and alloc.job.type == JobType.BATCH
                    and alloc.desired_transition.reschedule):
                continue  # the reschedule logic places it
            place.append(Placement(name=alloc.name, group=group, previous=alloc,
                                   canary=is_canary(alloc),
                                   downgrade=canarying and not is_canary(alloc)))
        return place

    # -- deployments --------------------------------------------------------------
    def _deployment_state(self, group: TaskGroup) -> tuple[DeploymentState, bool]:
        if self.deployment is not None and group.name in self.deployment.task_groups:
            return self.deployment.task_groups[group.name], True
        return initial_group_state(group), False

    def _create_deployment(self, group: TaskGroup, state: DeploymentState, existing: bool,
                           all_allocs: AllocSet, updating_spec: bool) -> None:
        """Track this job version's rollout when it places or updates anything."""
        job = self.job
        assert job is not None
        if existing or self.given.batch or update_strategy_empty(group.update):
            return
        if state.desired_total == 0:
            return
        had_running = any(a.job is not None and a.job.version == job.version
                          and a.job.create_index == job.create_index
                          for a in all_allocs.values())
        if had_running and not updating_spec:
            return
        if self.deployment is None:
            self.deployment = new_deployment(job, self.given.new_id(), self.given.now)
            self.result.deployment = self.deployment
        self.deployment.task_groups[group.name] = state

    def _deployment_complete(self, group_name: str) -> bool:
        """The current deployment has every allocation of the group healthy,
        and its canaries promoted (False without a deployment: there is
        nothing to complete)."""
        if self.deployment is None:
            return False
        state = self.deployment.task_groups.get(group_name)
        return state is None or group_promoted_or_done(state, state.healthy_allocs)

    # -- canaries -------------------------------------------------------------------
    def _cancel_unneeded_canaries(self, all_allocs: AllocSet, desired: DesiredUpdates
                                  ) -> tuple[AllocSet, AllocSet]:
        """(the group's allocations still considered, the current canaries),
        stopping the canaries ``split_canaries`` says must go.  Only the
        cancelled ones count in the annotations, as in Nomad."""
        split = split_canaries(all_allocs, self.cancel_canaries, self.deployment,
                               self.given.tainted_nodes)
        stop = self.result.stop
        stop.extend(Stop(a, ALLOC_NOT_NEEDED) for a in split.cancelled.values())
        stop.extend(Stop(a, ALLOC_MIGRATING) for a in split.migrating.values())
        stop.extend(Stop(a, ALLOC_LOST, AllocClientStatus.LOST) for a in split.lost.values())
        desired.stop += len(split.cancelled)
        return split.kept, split.canaries


def reconcile(given: ReconcileInput) -> ReconcileResult:
    """What to stop, update and place for ``given.job`` (see the module doc)."""
    return _Reconciler(given).compute()
