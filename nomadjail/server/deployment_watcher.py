"""The deployment watcher (leader only): moves rollouts along and fails the
ones that cannot finish (Nomad's deploymentwatcher).

The state store counts each deployment's placed, healthy and unhealthy
allocations as clients report health, and keeps every group's progress
deadline (``RequireProgressBy``).  On every tick the watcher looks at each
running deployment and its allocations and decides, as Nomad does:

* an allocation turned **healthy** since the scheduler last looked at the job
  -> a ``deployment-watcher`` evaluation, so the scheduler starts the next
  ``max_parallel`` replacements (or, with everything healthy, marks the
  deployment successful -- which makes the job version stable);
* an allocation turned **unhealthy** -> the deployment **fails** ("Failed
  due to unhealthy allocations") when the group has no progress deadline or
  the allocation may not be rescheduled any more; otherwise it is allowed a
  replacement (``DesiredTransition.Reschedule``) and the rollout goes on
  until the deadline;
* a group's **progress deadline** passed before it had all its healthy
  allocations -> the deployment fails ("Failed due to progress deadline").

A failure is written with an evaluation, so the scheduler stops starting
replacements at once.  Each decision is written through raft before the
next tick looks again, and what it wrote (a newer eval, the reschedule mark,
the failed status) keeps the same decision from being made twice.

Out of scope for now: canaries and promotion, auto-revert, pausing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from ..scheduler.reschedule import reschedule_eligible
from ..state import StateSnapshot, StateStore, Table
from ..structs import (
    DEFAULT_PRIORITY,
    Allocation,
    Conflict,
    Deployment,
    DeploymentStatus,
    DeploymentStatusUpdate,
    DesiredTransition,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    Job,
    JobType,
    NotFound,
    generate_uuid,
    now_ns,
    parse_rfc3339,
)
from . import messages as m

log = logging.getLogger(__name__)

Apply = Callable[[Any], tuple[int, Any]]

DEPLOYMENT_UNHEALTHY = "Failed due to unhealthy allocations"
DEPLOYMENT_PROGRESS_DEADLINE = "Failed due to progress deadline"


@dataclasses.dataclass(slots=True)
class WatchDecision:
    """What one look at a deployment calls for."""

    fail_description: str = ""  # non-empty: fail the deployment with this
    create_eval: bool = False
    allow_replacements: list[str] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fail_description or self.create_eval or self.allow_replacements)


def latest_eval_index(snapshot: StateSnapshot, namespace: str, job_id: str) -> int:
    """The newest state any scheduler pass over the job has seen (Nomad's
    jobEvalStatus): an eval's snapshot index, else its create index; canceled
    evals saw nothing."""
    latest = 0
    for ev in snapshot.evals_by_job(namespace, job_id):
        if ev.status == EvalStatus.CANCELED:
            continue
        latest = max(latest, ev.snapshot_index or ev.create_index)
    return latest


def _health(alloc: Allocation) -> bool | None:
    return alloc.deployment_status.healthy if alloc.deployment_status else None


def _fails_early(deployment: Deployment, alloc: Allocation, job: Job | None, now: int) -> bool:
    """An unhealthy allocation that fails the rollout right away: its group has
    no progress deadline to wait for, or it may not be replaced any more."""
    if _health(alloc) is not False:
        return False
    state = deployment.task_groups[alloc.task_group]
    if not state.progress_deadline:
        return True
    if deployment.active():
        with_job = alloc if alloc.job is not None or job is None else dataclasses.replace(
            alloc, job=job)
        return not reschedule_eligible(with_job, now)
    return False


def _groups_done(deployment: Deployment, allocs: list[Allocation]) -> dict[str, bool]:
    """Groups that have every healthy allocation they want, live now."""
    healthy: dict[str, int] = {}
    for alloc in allocs:
        if not alloc.terminal_status() and _health(alloc) is True:
            healthy[alloc.task_group] = healthy.get(alloc.task_group, 0) + 1
    return {name: healthy.get(name, 0) >= state.desired_total
            for name, state in deployment.task_groups.items()}


def progress_cutoff(deployment: Deployment, allocs: list[Allocation]) -> int:
    """The earliest progress deadline of a group still rolling out (ns; 0: none)."""
    done = _groups_done(deployment, allocs)
    cutoff = 0
    for name, state in deployment.task_groups.items():
        deadline = parse_rfc3339(state.require_progress_by)
        if done.get(name) or not deadline:
            continue
        if not cutoff or deadline < cutoff:
            cutoff = deadline
    return cutoff


def _misses_deadline(deployment: Deployment) -> bool:
    """Nomad's shouldFail: some group is short of healthy allocations."""
    if deployment.status == DeploymentStatus.PAUSED:
        return False
    return any(state.healthy_allocs < state.desired_total
               for state in deployment.task_groups.values())


def assess(deployment: Deployment, job: Job | None, allocs: list[Allocation],
           latest_eval: int, now: int) -> WatchDecision:
    """What the watcher should do about ``deployment`` given its allocations
    (Nomad's handleAllocUpdate and progress deadline check)."""
    decision = WatchDecision()
    for alloc in allocs:
        if alloc.deployment_id != deployment.id or alloc.task_group not in deployment.task_groups:
            continue
        fail = _fails_early(deployment, alloc, job, now)
        if (_health(alloc) is False and not fail and deployment.active()
                and not alloc.desired_transition.reschedule):
            decision.allow_replacements.append(alloc.id)
            continue
        status = alloc.deployment_status
        if _health(alloc) is True and status is not None and status.modify_index > latest_eval:
            decision.create_eval = True
        if fail:
            decision.fail_description = DEPLOYMENT_UNHEALTHY
    if not decision.fail_description:
        cutoff = progress_cutoff(deployment, allocs)
        if cutoff and now >= cutoff and _misses_deadline(deployment):
            decision.fail_description = DEPLOYMENT_PROGRESS_DEADLINE
    return decision


class DeploymentWatcher:
    """Looks at the running deployments when the state changed or a progress
    deadline came due -- not on every tick, so idle rollouts cost nothing."""

    def __init__(self, store: StateStore, apply: Apply, *, clock: Callable[[], int] = now_ns):
        self.store = store
        self.apply = apply
        self.clock = clock
        self._seen_index = -1
        self._next_deadline = 0  # ns; 0: none pending

    def tick(self) -> None:
        snapshot = self.store.snapshot()
        now = self.clock()
        index = snapshot.index(Table.ALLOCS, Table.EVALS, Table.DEPLOYMENTS, Table.JOBS)
        if index == self._seen_index and not (self._next_deadline
                                              and now >= self._next_deadline):
            return
        next_deadline = 0
        for deployment in snapshot.iter_deployments():
            if deployment.status != DeploymentStatus.RUNNING:
                continue
            try:
                cutoff = self._watch(snapshot, deployment, now)
            except (NotFound, Conflict) as err:
                # The deployment finished or went away since the snapshot.
                log.debug("deployment %s: %s", deployment.id, err)
                continue
            if cutoff and (not next_deadline or cutoff < next_deadline):
                next_deadline = cutoff
        self._seen_index, self._next_deadline = index, next_deadline

    def _watch(self, snapshot: StateSnapshot, deployment: Deployment, now: int) -> int:
        """Act on one deployment; returns its next progress deadline (0: none)."""
        namespace, job_id = deployment.namespace, deployment.job_id
        job = (snapshot.job_by_version(namespace, job_id, deployment.job_version)
               or snapshot.job_by_id(namespace, job_id))
        allocs = [a for a in snapshot.allocs_by_job(namespace, job_id)
                  if a.deployment_id == deployment.id]
        decision = assess(deployment, job, allocs,
                          latest_eval_index(snapshot, namespace, job_id), now)
        if not decision:
            return progress_cutoff(deployment, allocs)
        ev = self._eval(deployment, job, now)
        if decision.fail_description:
            log.info("deployment %s of job %s failed: %s", deployment.id, job_id,
                     decision.fail_description)
            self.apply(m.DeploymentStatusUpdateRequest(
                deployment_update=DeploymentStatusUpdate(
                    deployment_id=deployment.id, status=DeploymentStatus.FAILED,
                    status_description=decision.fail_description, updated_at=now),
                eval=ev))
        elif decision.allow_replacements:
            self.apply(m.AllocUpdateDesiredTransitionRequest(
                allocs={alloc_id: DesiredTransition(reschedule=True)
                        for alloc_id in decision.allow_replacements},
                evals=[ev]))
        else:
            self.apply(m.EvalUpdateRequest(evals=[ev]))
        return 0  # what was just written changes the state: the next tick looks again

    @staticmethod
    def _eval(deployment: Deployment, job: Job | None, now: int) -> Evaluation:
        return Evaluation(
            id=generate_uuid(), namespace=deployment.namespace,
            priority=(job.priority if job else None) or DEFAULT_PRIORITY,
            type=(job.type if job else None) or JobType.SERVICE,
            triggered_by=EvalTrigger.DEPLOYMENT_WATCHER, job_id=deployment.job_id,
            deployment_id=deployment.id, status=EvalStatus.PENDING,
            create_time=now, modify_time=now)
