"""Pure deployment changes: what promotion does and refuses, which health
requests are refused."""

from __future__ import annotations

import dataclasses

from nomadjail.state.deployments import alloc_health_errors, plan_promotion
from nomadjail.structs import (
    SECOND,
    AllocClientStatus,
    AllocDeploymentStatus,
    Deployment,
    DeploymentState,
    rfc3339,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node

T0 = 1_700_000_000 * SECOND


def two_groups() -> tuple[Deployment, list]:
    job = mock_job(job_id="web")
    node = mock_node()
    deployment = Deployment(id="d1", job_id="web", task_groups={
        "web": DeploymentState(desired_canaries=1, desired_total=3),
        "api": DeploymentState(desired_canaries=2, desired_total=2,
                               progress_deadline=60 * SECOND, require_progress_by=rfc3339(T0))})
    allocs = []
    for group, healthy in (("web", True), ("api", True), ("api", None)):
        alloc = dataclasses.replace(mock_alloc(job, node), task_group=group, deployment_id="d1",
                                    deployment_status=AllocDeploymentStatus(healthy=healthy,
                                                                            canary=True))
        deployment.task_groups[group].placed_canaries.append(alloc.id)
        allocs.append(alloc)
    return deployment, allocs


def test_promoting_one_group_leaves_the_other_waiting():
    deployment, allocs = two_groups()

    promotion = plan_promotion(deployment, allocs, groups=["web"], promoted_at=T0, index=7)

    assert promotion.errors == []
    assert promotion.deployment.task_groups["web"].promoted
    assert not promotion.deployment.task_groups["api"].promoted
    assert promotion.deployment.requires_promotion()  # "api" still waits
    assert list(promotion.canaries) == [allocs[0].id]
    assert promotion.canaries[allocs[0].id].canary is False
    assert not deployment.task_groups["web"].promoted  # the input is left alone


def test_promoting_all_needs_every_canary_healthy_and_live():
    deployment, allocs = two_groups()
    assert plan_promotion(deployment, allocs, groups=None, promoted_at=T0, index=7).errors == [
        'Task group "api" has 1/2 healthy allocations']
    allocs[2].deployment_status = AllocDeploymentStatus(healthy=True, canary=True)
    allocs[1].client_status = AllocClientStatus.FAILED  # healthy once, now dead
    assert plan_promotion(deployment, allocs, groups=None, promoted_at=T0, index=7).errors == [
        'Task group "api" has 1/2 healthy allocations']
    allocs[1].client_status = AllocClientStatus.RUNNING
    promotion = plan_promotion(deployment, allocs, groups=None, promoted_at=T0, index=7)
    assert promotion.errors == [] and not promotion.deployment.requires_promotion()
    assert promotion.deployment.status_description == "Deployment is running"
    assert promotion.deployment.modify_index == 7
    assert promotion.deployment.task_groups["api"].require_progress_by == rfc3339(
        T0 + 60 * SECOND)  # the progress clock restarts at promotion


def test_health_requests_are_checked_all_at_once():
    deployment, allocs = two_groups()
    stranger = dataclasses.replace(allocs[0], id="other", deployment_id="d0")
    found = {a.id: a for a in [*allocs, stranger]}
    assert alloc_health_errors(deployment, found, [], []) == [
        "must specify at least one healthy/unhealthy allocation ID"]
    assert alloc_health_errors(deployment, {**found, "gone": None},
                               [allocs[0].id, "gone"], [allocs[0].id, "other"]) == [
        f'alloc "{allocs[0].id}" is listed as both healthy and unhealthy',
        'unknown alloc "gone"',
        'alloc "other" is not part of deployment "d1"']
