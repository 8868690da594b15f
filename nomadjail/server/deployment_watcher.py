"""The deployment watcher (leader only): moves rollouts along and fails the
ones that cannot finish (Nomad's deploymentwatcher).

The state store counts each deployment's placed, healthy and unhealthy
allocations as clients report health, and keeps every group's progress
deadline (``RequireProgressBy``).  On every tick the watcher looks at each
running deployment and its allocations and decides, as Nomad does:

* an allocation turned **unhealthy** -> the deployment **fails** ("Failed
  due to unhealthy allocations") when the group has no progress deadline or
  the allocation may not be rescheduled any more; otherwise it is allowed a
  replacement (``DesiredTransition.Reschedule``) and the rollout goes on
  until the deadline;
* a group's **progress deadline** passed before it had all its healthy
  allocations -- or, while its canaries await promotion, all its healthy
  canaries -> the deployment fails ("Failed due to progress deadline");
* every group with canaries has ``auto_promote`` and all its canaries
  healthy -> the deployment is **promoted**, with an evaluation that rolls
  the update on;
* an allocation turned **healthy** since the scheduler last looked at the job
  -> a ``deployment-watcher`` evaluation, so the scheduler starts the next
  ``max_parallel`` replacements (or, with everything healthy, marks the
  deployment successful -- which makes the job version stable).

A failing group with ``auto_revert`` takes the job back to its latest stable
version, in the same commit as the failure ("Failed due to unhealthy
allocations - rolling back to job version 1"), unless that version has the
job's current specification (reverting would fail the same way).  Operators
fail, pause and promote through :mod:`.deployment_endpoint`, which uses the
same rules (:func:`rollback`, :func:`deployment_eval`).

A paused deployment is left alone until it is resumed (which restarts its
progress clocks).  Each decision is written through raft, with an
evaluation, before the next tick looks again, and what it wrote (a newer
eval, the reschedule mark, the failed status, the promotion) keeps the same
decision from being made twice.  A progress deadline that passed without
failing the deployment (its canaries are healthy and wait for an operator)
is not looked at again until the state changes.
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
    DeploymentState,
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
    rollback: bool = False  # failing, and a failing group wants auto_revert
    promote: bool = False  # every canary is healthy and auto_promote is set
    create_eval: bool = False
    allow_replacements: list[str] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.fail_description or self.promote or self.create_eval
                    or self.allow_replacements)


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


def _awaits_promotion(state: DeploymentState) -> bool:
    return state.desired_canaries != 0 and not state.promoted


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
    """Groups that have every healthy allocation they want, live now (a group
    whose canaries await promotion is not done)."""
    healthy: dict[str, int] = {}
    for alloc in allocs:
        if not alloc.terminal_status() and _health(alloc) is True:
            healthy[alloc.task_group] = healthy.get(alloc.task_group, 0) + 1
    return {name: not _awaits_promotion(state) and healthy.get(name, 0) >= state.desired_total
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


def _deadline_failure(deployment: Deployment) -> tuple[bool, bool]:
    """Nomad's shouldFail: (some group is short of healthy allocations -- of
    healthy canaries while they await promotion --, one of those reverts)."""
    if deployment.status == DeploymentStatus.PAUSED:
        return False, False
    fail = rollback = False
    for state in deployment.task_groups.values():
        want = state.desired_canaries if _awaits_promotion(state) else state.desired_total
        if state.healthy_allocs >= want:
            continue
        fail = True
        rollback = rollback or state.auto_revert
    return fail, rollback


def _auto_promotes(deployment: Deployment, allocs: list[Allocation]) -> bool:
    """Every group with canaries promotes them by itself and has them all
    placed, live and healthy (Nomad's autoPromoteDeployment)."""
    if not deployment.requires_promotion():
        return False
    by_id = {alloc.id: alloc for alloc in allocs}
    wanting = [s for s in deployment.task_groups.values() if s.desired_canaries > 0]
    for state in wanting:
        if not state.auto_promote or len(state.placed_canaries) < state.desired_canaries:
            return False
        healthy = sum(1 for alloc_id in state.placed_canaries
                      if (alloc := by_id.get(alloc_id)) is not None
                      and not alloc.terminal_status() and _health(alloc) is True)
        if healthy < state.desired_canaries:
            return False
    return bool(wanting)


def assess(deployment: Deployment, job: Job | None, allocs: list[Allocation],
           latest_eval: int, now: int) -> WatchDecision:
    """What the watcher should do about ``deployment`` given its allocations
    (Nomad's handleAllocUpdate, autoPromoteDeployment and progress deadline)."""
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
            decision.rollback = (decision.rollback
                                 or deployment.task_groups[alloc.task_group].auto_revert)
    if not decision.fail_description:
        cutoff = progress_cutoff(deployment, allocs)
        if cutoff and now >= cutoff:
            fail, rollback = _deadline_failure(deployment)
            if fail:
                decision.fail_description = DEPLOYMENT_PROGRESS_DEADLINE
                decision.rollback = rollback
    if not decision.fail_description:
        decision.promote = _auto_promotes(deployment, allocs)
    return decision


# -- shared with the deployment endpoint ------------------------------------------
def latest_stable_job(snapshot: StateSnapshot, namespace: str, job_id: str) -> Job | None:
    """The newest version of the job that rolled out completely (or was marked stable)."""
    return next((v for v in snapshot.job_versions(namespace, job_id) if v.stable), None)


def rollback(snapshot: StateSnapshot, current: Job | None, namespace: str, job_id: str,
             description: str) -> tuple[Job | None, str]:
    """(the job to register to go back to the latest stable version, or None;
    the failed deployment's description saying what happened -- Nomad's
    handleRollbackValidity).  A stable version with the specification of
    ``current`` is not gone back to: it would fail again the same way."""
    stable = latest_stable_job(snapshot, namespace, job_id)
    if stable is None:
        return None, f"{description} - no stable job version to auto revert to"
    if current is not None and not current.spec_changed(stable):
        return None, (f"{description} - not rolling back to stable job version "
                      f"{stable.version} as current job has same specification")
    revert = stable.copy()
    revert.stable = False  # a new version: stable once its own rollout completes
    return revert, f"{description} - rolling back to job version {stable.version}"


def deployment_eval(deployment: Deployment, job: Job | None, now: int) -> Evaluation:
    """The evaluation a deployment change asks for (Nomad's getEval)."""
    return Evaluation(
        id=generate_uuid(), namespace=deployment.namespace,
        priority=(job.priority if job else None) or DEFAULT_PRIORITY,
        type=(job.type if job else None) or JobType.SERVICE,
        triggered_by=EvalTrigger.DEPLOYMENT_WATCHER, job_id=deployment.job_id,
        deployment_id=deployment.id, status=EvalStatus.PENDING,
        create_time=now, modify_time=now)


def deployment_job(snapshot: StateSnapshot, deployment: Deployment) -> Job | None:
    """The job version the deployment rolls out (the current job once that
    version is no longer tracked)."""
    return (snapshot.job_by_version(deployment.namespace, deployment.job_id,
                                    deployment.job_version)
            or snapshot.job_by_id(deployment.namespace, deployment.job_id))


def failure(snapshot: StateSnapshot, deployment: Deployment, description: str, *,
            revert: bool, now: int) -> tuple[Any, Job | None]:
    """(the raft request failing ``deployment`` with ``description``, with its
    eval and -- when ``revert`` -- the job going back to its stable version;
    the job reverted to, or None)."""
    job = deployment_job(snapshot, deployment)
    reverted: Job | None = None
    if revert:
        reverted, description = rollback(snapshot, job, deployment.namespace,
                                         deployment.job_id, description)
    update = DeploymentStatusUpdate(deployment_id=deployment.id,
                                    status=DeploymentStatus.FAILED,
                                    status_description=description, updated_at=now)
    ev = deployment_eval(deployment, job, now)
    if reverted is not None:
        return m.DeploymentRevertRequest(deployment_update=update, job=reverted,
                                         submit_time=now, eval=ev), reverted
    return m.DeploymentStatusUpdateRequest(deployment_update=update, eval=ev), None


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
        """Act on one deployment; returns its next progress deadline still to
        come (0: none)."""
        namespace, job_id = deployment.namespace, deployment.job_id
        job = deployment_job(snapshot, deployment)
        allocs = [a for a in snapshot.allocs_by_job(namespace, job_id)
                  if a.deployment_id == deployment.id]
        decision = assess(deployment, job, allocs,
                          latest_eval_index(snapshot, namespace, job_id), now)
        if not decision:
            cutoff = progress_cutoff(deployment, allocs)
            return cutoff if cutoff > now else 0
        ev = deployment_eval(deployment, job, now)
        if decision.fail_description:
            request, _ = failure(snapshot, deployment, decision.fail_description,
                                 revert=decision.rollback, now=now)
            log.info("deployment %s of job %s failed: %s", deployment.id, job_id,
                     request.deployment_update.status_description)
            self.apply(request)
        elif decision.promote:
            log.info("deployment %s of job %s: canaries healthy, promoting", deployment.id,
                     job_id)
            self.apply(m.DeploymentPromoteRequest(deployment_id=deployment.id, all=True,
                                                  promoted_at=now, eval=ev))
        elif decision.allow_replacements:
            self.apply(m.AllocUpdateDesiredTransitionRequest(
                allocs={alloc_id: DesiredTransition(reschedule=True)
                        for alloc_id in decision.allow_replacements},
                evals=[ev]))
        else:
            self.apply(m.EvalUpdateRequest(evals=[ev]))
        return 0  # what was just written changes the state: the next tick looks again
