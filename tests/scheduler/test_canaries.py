"""Canary deployments in the scheduler: place canaries beside the old allocations,
wait for promotion, then roll on with max_parallel, keeping the canaries."""

from __future__ import annotations

import dataclasses

from nomadjail.state.deployments import plan_promotion
from nomadjail.structs import (
    SECOND,
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    Deployment,
    DeploymentStatus,
    DeploymentStatusUpdate,
    DesiredTransition,
    EvalTrigger,
    Job,
    NodeStatus,
)
from nomadjail.testing import mock_job, mock_node
from nomadjail.testing.scheduler_harness import Harness

from .conftest import NOW


def rolled_out(harness: Harness, *, count: int = 3, canary: int = 1, nodes: int = 3,
               **update: object) -> Job:
    """Version 0 of a job with ``update { canary = … }``, placed, healthy, and its
    first deployment (which needs no canaries: nothing is replaced) successful."""
    harness.upsert_nodes(mock_node() for _ in range(nodes))
    job = mock_job(count=count)
    group = job.task_groups[0]
    assert group.update is not None
    group.update = dataclasses.replace(group.update, max_parallel=1, canary=canary, **update)
    job = harness.upsert_job(job)
    harness.run(job)
    harness.set_health(harness.live_allocs(job))
    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)
    assert deployment(harness, job).status == DeploymentStatus.SUCCESSFUL
    assert deployment(harness, job).task_groups["web"].desired_canaries == 0
    return job


def new_version(harness: Harness, job: Job, release: str = "2") -> Job:
    changed = job.copy()
    changed.task_groups[0].tasks[0].env = {"RELEASE": release}  # a destructive change
    return harness.upsert_job(changed)


def deployment(harness: Harness, job: Job) -> Deployment:
    found = harness.store.latest_deployment_by_job("default", job.id)
    assert found is not None
    return found


def live(harness: Harness, job: Job) -> list[Allocation]:
    return sorted(harness.live_allocs(job), key=lambda a: (a.name, a.create_index))


def versions(harness: Harness, job: Job) -> list[tuple[str, int]]:
    return [(a.name.rsplit(".", 1)[1], a.job.version if a.job else -1)
            for a in live(harness, job)]


def promote(harness: Harness, job: Job, groups: list[str] | None = None) -> list[str]:
    """Promote the job's deployment as the FSM does; returns the refusals."""
    current = deployment(harness, job)
    index = harness.next_index()
    with harness.store.txn(index) as txn:
        allocs = [a for a in txn.allocs_by_job("default", job.id)
                  if a.deployment_id == current.id]
        promotion = plan_promotion(current, allocs, groups=groups, promoted_at=NOW, index=index)
        if promotion.errors:
            return promotion.errors
        txn.upsert_deployment(promotion.deployment)
        for alloc_id, status in promotion.canaries.items():
            txn.set_alloc_deployment_status(alloc_id, status)
    return []


def test_a_destructive_update_places_canaries_beside_the_old_allocations(harness: Harness):
    job = rolled_out(harness)
    old = {a.id for a in harness.live_allocs(job)}
    job = new_version(harness, job)

    harness.run(job, annotate=True)

    assert harness.stopped_allocs() == []
    placed = harness.placed_allocs()
    assert len(placed) == 1
    canary = placed[0]
    assert canary.deployment_status is not None and canary.deployment_status.canary
    assert canary.name == f"{job.id}.web[0]"  # the name of an allocation it will replace
    assert canary.previous_allocation == ""
    desired = harness.plans[-1].annotations.desired_tg_updates["web"]
    assert (desired.canary, desired.ignore, desired.destructive_update) == (1, 3, 0)
    current = deployment(harness, job)
    state = current.task_groups["web"]
    assert (state.desired_canaries, state.desired_total, state.placed_canaries) == (
        1, 3, [canary.id])
    assert current.status == DeploymentStatus.RUNNING
    assert current.status_description == "Deployment is running but requires manual promotion"
    assert {a.id for a in harness.live_allocs(job)} == old | {canary.id}


def test_a_healthy_canary_waits_for_promotion(harness: Harness):
    job = new_version(harness, rolled_out(harness))
    harness.run(job)
    canary = harness.placed_allocs()[0]
    harness.set_health([canary])
    plans = len(harness.plans)

    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)

    assert len(harness.plans) == plans  # nothing to do: no plan at all
    assert deployment(harness, job).status == DeploymentStatus.RUNNING
    assert len(harness.live_allocs(job)) == 4


def test_promotion_keeps_the_canary_and_rolls_on_with_max_parallel(harness: Harness):
    job = new_version(harness, rolled_out(harness))
    harness.run(job)
    canary = harness.placed_allocs()[0]
    harness.set_health([canary])
    assert promote(harness, job) == []
    stored = harness.store.alloc_by_id(canary.id)
    assert stored is not None and stored.deployment_status is not None
    assert stored.deployment_status.canary is False and stored.deployment_status.healthy
    assert deployment(harness, job).status_description == "Deployment is running"

    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)

    stopped = harness.stopped_allocs()
    # The old web[0] (its name taken by the canary) goes, and one more is replaced.
    assert sorted((a.name, a.desired_description) for a in stopped) == [
        (f"{job.id}.web[0]", "alloc not needed due to job update"),
        (f"{job.id}.web[1]", "alloc is being updated due to job update")]
    assert [a.name for a in harness.placed_allocs()] == [f"{job.id}.web[1]"]
    assert canary.id in {a.id for a in harness.live_allocs(job)}

    for _ in range(2):  # each healthy replacement lets the next one go
        harness.set_health([a for a in harness.live_allocs(job)
                            if a.job is not None and a.job.version == job.version])
        harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)
    assert versions(harness, job) == [("web[0]", 1), ("web[1]", 1), ("web[2]", 1)]
    assert live(harness, job)[0].id == canary.id
    assert deployment(harness, job).status == DeploymentStatus.SUCCESSFUL
    job_now = harness.store.job_by_id("default", job.id)
    assert job_now is not None and job_now.stable


def test_promotion_is_refused_until_every_canary_is_healthy(harness: Harness):
    job = new_version(harness, rolled_out(harness, canary=2))
    harness.run(job)
    canaries = harness.placed_allocs()
    assert sorted(a.name for a in canaries) == [f"{job.id}.web[0]", f"{job.id}.web[1]"]
    harness.set_health(canaries[:1])

    assert promote(harness, job) == ['Task group "web" has 1/2 healthy allocations']
    assert promote(harness, job, ["db"]) == [
        f'Task group "db" is not part of deployment "{deployment(harness, job).id}"']
    assert not deployment(harness, job).task_groups["web"].promoted

    harness.set_health(canaries[1:])
    assert promote(harness, job, ["web"]) == []
    assert deployment(harness, job).task_groups["web"].promoted


def test_auto_promote_says_so_in_the_deployment(harness: Harness):
    job = new_version(harness, rolled_out(harness, auto_promote=True))
    harness.run(job)
    assert deployment(harness, job).status_description == (
        "Deployment is running pending automatic promotion")


def test_a_failed_deployment_stops_its_canaries_and_keeps_the_old_allocations(
        harness: Harness):
    job = rolled_out(harness)
    old = {a.id for a in harness.live_allocs(job)}
    job = new_version(harness, job)
    harness.run(job)
    canary = harness.placed_allocs()[0]
    with harness.store.txn(harness.next_index()) as txn:
        txn.update_deployment_status(DeploymentStatusUpdate(
            deployment_id=deployment(harness, job).id, status=DeploymentStatus.FAILED,
            status_description="Failed due to unhealthy allocations", updated_at=NOW))

    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)

    assert [(a.id, a.desired_status) for a in harness.stopped_allocs()] == [
        (canary.id, AllocDesiredStatus.STOP)]
    assert harness.placed_allocs() == []
    assert {a.id for a in harness.live_allocs(job)} == old


def test_a_newer_version_replaces_unpromoted_canaries(harness: Harness):
    job = new_version(harness, rolled_out(harness))
    harness.run(job)
    first = harness.placed_allocs()[0]
    first_deployment = deployment(harness, job)
    job = new_version(harness, job, release="3")

    harness.run(job)

    assert [a.id for a in harness.stopped_allocs()] == [first.id]
    placed = harness.placed_allocs()
    assert len(placed) == 1 and placed[0].deployment_status is not None
    assert placed[0].deployment_status.canary and placed[0].job is not None
    assert placed[0].job.version == job.version
    cancelled = harness.store.deployment_by_id(first_deployment.id)
    assert cancelled is not None and cancelled.status == DeploymentStatus.CANCELLED
    assert deployment(harness, job).id != first_deployment.id


def test_a_lost_old_allocation_is_replaced_with_the_old_version_while_canarying(
        harness: Harness):
    job = rolled_out(harness, count=3, nodes=4)
    job = new_version(harness, job)
    harness.run(job)
    canary = harness.placed_allocs()[0]
    # (Not old web[0]: its name is the canary's, so a replacement would get a new one.)
    victim = next(a for a in harness.live_allocs(job)
                  if a.name != canary.name and a.node_id != canary.node_id)
    harness.update_node(victim.node_id, status=NodeStatus.DOWN)

    harness.run(job, EvalTrigger.NODE_UPDATE)

    assert [(a.id, a.client_status) for a in harness.stopped_allocs()] == [
        (victim.id, AllocClientStatus.LOST)]
    replacement = harness.placed_allocs()[0]
    assert replacement.name == victim.name and replacement.previous_allocation == victim.id
    assert replacement.job is not None and replacement.job.version == 0
    assert replacement.deployment_status is None  # an ordinary allocation, not a canary
    assert replacement.deployment_id != deployment(harness, job).id


def test_a_failed_canary_is_replaced_by_a_canary(harness: Harness):
    job = new_version(harness, rolled_out(harness))
    harness.run(job)
    canary = harness.placed_allocs()[0]
    harness.set_health([canary], healthy=False)  # and failed
    # The deployment watcher allows a replacement.
    with harness.store.txn(harness.next_index()) as txn:
        txn.update_alloc_desired_transition({canary.id: DesiredTransition(reschedule=True)})

    # Once the reschedule policy's delay (30 s for a service) has passed:
    harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC, now=NOW + 31 * SECOND)

    replacement = harness.placed_allocs()[0]
    assert replacement.previous_allocation == canary.id
    assert replacement.deployment_status is not None and replacement.deployment_status.canary
    assert replacement.job is not None and replacement.job.version == job.version
    assert deployment(harness, job).task_groups["web"].placed_canaries == [
        canary.id, replacement.id]
