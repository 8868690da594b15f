"""What the reconciler decides about a job's deployment, as pure functions of
the job, the group and ``now`` (Nomad's cancelUnneededServiceDeployments,
initializeDeploymentState, NewDeployment and the status the reconciler sets).

A job version gets a deployment when it places or replaces allocations under
an ``update`` strategy with ``max_parallel > 0``; the deployment of an older
version (or of a job that was stopped) is cancelled, and a finished one is
only remembered -- its unpromoted canaries are stopped (``canaries.py``).
"""

from __future__ import annotations

from typing import NamedTuple

from ..structs import (
    Deployment,
    DeploymentState,
    DeploymentStatus,
    DeploymentStatusUpdate,
    Job,
    TaskGroup,
    UpdateStrategy,
)
from .descriptions import (
    DEPLOYMENT_NEWER_JOB,
    DEPLOYMENT_RUNNING,
    DEPLOYMENT_RUNNING_AUTO_PROMOTION,
    DEPLOYMENT_RUNNING_NEEDS_PROMOTION,
    DEPLOYMENT_STOPPED_JOB,
)


class DeploymentSplit(NamedTuple):
    """The job's latest deployment sorted out (:func:`cancel_unneeded_deployments`)."""

    old: Deployment | None  # of an older version, a stopped job, or finished
    current: Deployment | None  # the one this version goes on rolling out with
    updates: list[DeploymentStatusUpdate]  # cancellations


def update_strategy_empty(strategy: UpdateStrategy | None) -> bool:
    """No rolling update: everything at once and no deployment (``max_parallel = 0``)."""
    return strategy is None or not strategy.max_parallel


def cancel_unneeded_deployments(job: Job | None, latest: Deployment | None, now: int
                                ) -> DeploymentSplit:
    """Cancel ``latest`` when the job is stopped or gone or has a newer
    version; a successful one is no longer current."""
    if job is None or job.stop:
        updates = []
        if latest is not None and latest.active():
            updates.append(DeploymentStatusUpdate(
                deployment_id=latest.id, status=DeploymentStatus.CANCELLED,
                status_description=DEPLOYMENT_STOPPED_JOB, updated_at=now))
        return DeploymentSplit(latest, None, updates)
    if latest is None:
        return DeploymentSplit(None, None, [])
    if latest.job_create_index != job.create_index or latest.job_version != job.version:
        updates = []
        if latest.active():
            updates.append(DeploymentStatusUpdate(
                deployment_id=latest.id, status=DeploymentStatus.CANCELLED,
                status_description=DEPLOYMENT_NEWER_JOB, updated_at=now))
        return DeploymentSplit(latest, None, updates)
    if latest.status == DeploymentStatus.SUCCESSFUL:
        return DeploymentSplit(latest, None, [])
    return DeploymentSplit(None, latest, [])


def initial_group_state(group: TaskGroup) -> DeploymentState:
    """A group's state in a new deployment, from its update strategy."""
    state = DeploymentState()
    if not update_strategy_empty(group.update):
        assert group.update is not None
        state.auto_revert = bool(group.update.auto_revert)
        state.auto_promote = bool(group.update.auto_promote)
        state.progress_deadline = group.update.progress_deadline or 0
    return state


def new_deployment(job: Job, deployment_id: str, now: int) -> Deployment:
    return Deployment(
        id=deployment_id, namespace=job.namespace or "", job_id=job.id,
        job_version=job.version, job_modify_index=job.modify_index,
        job_spec_modify_index=job.job_modify_index, job_create_index=job.create_index,
        status=DeploymentStatus.RUNNING, status_description=DEPLOYMENT_RUNNING,
        create_time=now, modify_time=now)


def describe_new(deployment: Deployment) -> None:
    """A new deployment whose canaries await promotion says who promotes them."""
    if deployment.requires_promotion():
        deployment.status_description = (DEPLOYMENT_RUNNING_AUTO_PROMOTION
                                          if deployment.has_auto_promote()
                                          else DEPLOYMENT_RUNNING_NEEDS_PROMOTION)
