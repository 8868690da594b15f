"""Deployment operations an operator asks for: promote, pause and resume, fail,
set allocation health (Nomad's nomad/deployment_endpoint.go and the
deployment watcher's handlers behind it).

Each one checks everything against the current state first and raises before
writing anything -- an unknown deployment is :class:`NotFound` ("deployment
not found"), a finished one or a bad request :class:`BadRequest` with
Nomad's message ("can't promote terminal deployment", ``Task group "web"
has 0/1 healthy allocations``) -- then commits exactly one raft message that
carries the evaluation the change calls for.  Failing a deployment (by hand,
or by marking an allocation unhealthy) reverts its job to the latest stable
version when a group has ``auto_revert``, by the watcher's rules
(:func:`~.deployment_watcher.rollback`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..state import StateSnapshot, StateStore
from ..state.deployments import alloc_health_errors, plan_promotion
from ..structs import (
    BadRequest,
    Deployment,
    DeploymentStatus,
    DeploymentStatusUpdate,
    NotFound,
    now_ns,
)
from ..structs.validate import multierror
from . import messages as m
from .deployment_watcher import DEPLOYMENT_UNHEALTHY, deployment_eval, deployment_job, failure

Apply = Callable[[Any], tuple[int, Any]]

DEPLOYMENT_NOT_FOUND = "deployment not found"
DEPLOYMENT_PAUSED = "Deployment is paused"
DEPLOYMENT_RUNNING = "Deployment is running"
DEPLOYMENT_FAILED_BY_USER = "Deployment marked as failed"


@dataclass(slots=True)
class DeploymentUpdateResult:
    """Nomad's DeploymentUpdateResponse."""

    eval_id: str
    eval_create_index: int
    deployment_modify_index: int
    index: int
    reverted_job_version: int | None = None

    def to_api(self) -> dict[str, Any]:
        return {"EvalID": self.eval_id, "EvalCreateIndex": self.eval_create_index,
                "DeploymentModifyIndex": self.deployment_modify_index,
                "RevertedJobVersion": self.reverted_job_version, "Index": self.index}


class DeploymentEndpoint:
    def __init__(self, store: StateStore, apply: Apply, *, clock: Callable[[], int] = now_ns):
        self.store = store
        self.apply = apply
        self.clock = clock

    def _active(self, deployment_id: str, terminal_error: str
                ) -> tuple[StateSnapshot, Deployment]:
        if not deployment_id:
            raise BadRequest("missing deployment ID")
        snapshot = self.store.snapshot()
        deployment = snapshot.deployment_by_id(deployment_id)
        if deployment is None:
            raise NotFound(DEPLOYMENT_NOT_FOUND)
        if not deployment.active():
            raise BadRequest(terminal_error)
        return snapshot, deployment

    def promote(self, deployment_id: str, *, all_groups: bool, groups: list[str]
                ) -> DeploymentUpdateResult:
        """Promote the canaries of every group (``all_groups``) or of ``groups``."""
        snapshot, deployment = self._active(deployment_id, "can't promote terminal deployment")
        if not all_groups and not groups:
            raise BadRequest("nothing to promote: set All, or list the task groups in Groups")
        allocs = [a for a in snapshot.allocs_by_job(deployment.namespace, deployment.job_id)
                  if a.deployment_id == deployment.id]
        now = self.clock()
        promotion = plan_promotion(deployment, allocs, groups=None if all_groups else groups,
                                   promoted_at=now, index=0)
        if promotion.errors:
            raise BadRequest(multierror(promotion.errors))
        ev = deployment_eval(deployment, deployment_job(snapshot, deployment), now)
        index, _ = self.apply(m.DeploymentPromoteRequest(
            deployment_id=deployment.id, all=all_groups, groups=list(groups),
            promoted_at=now, eval=ev))
        return DeploymentUpdateResult(ev.id, index, index, index)

    def pause(self, deployment_id: str, pause: bool) -> DeploymentUpdateResult:
        """Pause (nothing more is placed) or resume (with an eval, and fresh
        progress deadlines) the deployment."""
        snapshot, deployment = self._active(
            deployment_id, "can't pause terminal deployment" if pause
            else "can't resume terminal deployment")
        now = self.clock()
        status, description = ((DeploymentStatus.PAUSED, DEPLOYMENT_PAUSED) if pause
                               else (DeploymentStatus.RUNNING, DEPLOYMENT_RUNNING))
        ev = None if pause else deployment_eval(deployment, deployment_job(snapshot, deployment),
                                                now)
        index, _ = self.apply(m.DeploymentStatusUpdateRequest(
            deployment_update=DeploymentStatusUpdate(
                deployment_id=deployment.id, status=status, status_description=description,
                updated_at=now),
            eval=ev))
        return DeploymentUpdateResult(ev.id if ev else "", index if ev else 0, index, index)

    def fail(self, deployment_id: str) -> DeploymentUpdateResult:
        """Fail the deployment; a group with ``auto_revert`` reverts the job."""
        snapshot, deployment = self._active(deployment_id, "can't fail terminal deployment")
        revert = any(state.auto_revert for state in deployment.task_groups.values())
        request, reverted = failure(snapshot, deployment, DEPLOYMENT_FAILED_BY_USER,
                                    revert=revert, now=self.clock())
        index, _ = self.apply(request)
        return DeploymentUpdateResult(request.eval.id, index, index, index,
                                      reverted.version if reverted else None)

    def set_alloc_health(self, deployment_id: str, healthy: list[str], unhealthy: list[str]
                         ) -> DeploymentUpdateResult:
        """Mark allocations healthy or unhealthy by hand.  An unhealthy one
        fails the deployment (reverting the job if its group has ``auto_revert``)."""
        if not deployment_id:
            raise BadRequest("missing deployment ID")
        if not healthy and not unhealthy:
            raise BadRequest("must specify at least one healthy/unhealthy allocation ID")
        snapshot, deployment = self._active(
            deployment_id, "can't set health of allocations for a terminal deployment")
        allocs = {i: snapshot.alloc_by_id(i) for i in (*healthy, *unhealthy)}
        errors = alloc_health_errors(deployment, allocs, healthy, unhealthy)
        if errors:
            raise BadRequest(errors[0] if len(errors) == 1 else multierror(errors))
        now = self.clock()
        job = deployment_job(snapshot, deployment)
        update: DeploymentStatusUpdate | None = None
        reverted = None
        if unhealthy:
            revert = any(deployment.task_groups[a.task_group].auto_revert
                         for a in (allocs[i] for i in unhealthy)
                         if a is not None and a.task_group in deployment.task_groups)
            request, reverted = failure(snapshot, deployment, DEPLOYMENT_UNHEALTHY,
                                        revert=revert, now=now)
            update = request.deployment_update
        ev = deployment_eval(deployment, job, now)
        index, _ = self.apply(m.DeploymentAllocHealthRequest(
            deployment_id=deployment.id, healthy_allocation_ids=list(healthy),
            unhealthy_allocation_ids=list(unhealthy), timestamp=now,
            deployment_update=update, job=reverted, eval=ev))
        return DeploymentUpdateResult(ev.id, index, index, index,
                                      reverted.version if reverted else None)

