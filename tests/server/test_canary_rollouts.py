"""Canary rollouts on a real server: the deployment watcher auto-promotes
healthy canaries, auto-reverts a failed version to the last stable one, leaves
a paused deployment alone, and holds canaries to the progress deadline."""

from __future__ import annotations

import dataclasses

import pytest

from nomadjail.server import Server
from nomadjail.server.deployment_watcher import (
    DEPLOYMENT_PROGRESS_DEADLINE,
    DeploymentWatcher,
    assess,
    rollback,
)
from nomadjail.state import StateStore
from nomadjail.structs import (
    SECOND,
    Allocation,
    AllocDeploymentStatus,
    Deployment,
    DeploymentState,
    DeploymentStatus,
    Job,
    Node,
    generate_uuid,
    now_ns,
    rfc3339,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node, wait_for

T0 = 1_700_000_000 * SECOND


@pytest.fixture
def server(make_server) -> Server:
    return make_server()  # the real scheduler


@pytest.fixture
def nodes(server: Server) -> list[Node]:
    registered = [mock_node() for _ in range(3)]
    for node in registered:
        server.node_register(node)
    return registered


def canary_service(count: int = 2, release: str = "1", **update: object) -> Job:
    job = mock_job(job_id="canaries", count=count, cpu=100, memory_mb=64)
    group = job.task_groups[0]
    assert group.update is not None
    group.update = dataclasses.replace(group.update, max_parallel=1, canary=1, **update)
    group.tasks[0].env = {"RELEASE": release}
    return job


def live(server: Server, job: Job) -> list[Allocation]:
    return [a for a in server.state.allocs_by_job("default", job.id) if not a.terminal_status()]


def report(server: Server, nodes: list[Node], allocs: list[Allocation], *,
           healthy: bool = True, status: str = "running") -> None:
    """What the allocations' clients report once health is decided."""
    by_id = {n.id: n for n in nodes}
    for alloc in allocs:
        node = by_id[alloc.node_id]
        server.node_update_allocs(node.id, node.secret_id, [Allocation(
            id=alloc.id, client_status=status,
            deployment_status=AllocDeploymentStatus(healthy=healthy,
                                                    timestamp=rfc3339(now_ns())))])


def deployment_of(server: Server, job: Job) -> Deployment:
    deployment = server.state.latest_deployment_by_job("default", job.id)
    assert deployment is not None
    return deployment


def rolled_out(server: Server, nodes: list[Node], job: Job) -> None:
    """Register ``job`` and report its allocations healthy until its deployment succeeds."""
    server.register_job(job)

    def step() -> bool:
        current = server.state.job_by_id("default", job.id)
        deployment = server.state.latest_deployment_by_job("default", job.id)
        if current is None or deployment is None or deployment.job_version != current.version:
            return False
        if deployment.status == DeploymentStatus.SUCCESSFUL:
            return True
        report(server, nodes, [a for a in live(server, job) if a.deployment_id == deployment.id
                               and not (a.deployment_status and a.deployment_status.healthy)])
        return False

    wait_for(step, timeout=15, message=f"job {job.id} rolled out")


def canary_of(server: Server, job: Job, version: int) -> Allocation:
    return wait_for(lambda: next((a for a in live(server, job)
                                  if a.deployment_status and a.deployment_status.canary
                                  and a.job and a.job.version == version), None),
                    timeout=10, message=f"the canary of version {version}")


def test_healthy_canaries_are_promoted_automatically(server, nodes):
    rolled_out(server, nodes, canary_service(auto_promote=True))
    job = canary_service(release="2", auto_promote=True)
    server.register_job(job)
    canary = canary_of(server, job, 1)
    assert deployment_of(server, job).status_description == (
        "Deployment is running pending automatic promotion")

    report(server, nodes, [canary])

    promoted = wait_for(lambda: (d := deployment_of(server, job)).task_groups["web"].promoted
                        and d, timeout=10, message="the automatic promotion")
    assert promoted.status_description == "Deployment is running"
    rolled_out(server, nodes, job)
    assert sorted(a.job.version for a in live(server, job)) == [1, 1]  # type: ignore[union-attr]
    assert canary.id in {a.id for a in live(server, job)}


def test_an_unhealthy_canary_reverts_the_job_to_its_stable_version(server, nodes):
    rolled_out(server, nodes, canary_service(auto_revert=True, progress_deadline=0))
    old = {a.id for a in live(server, canary_service())}
    job = canary_service(release="broken", auto_revert=True, progress_deadline=0)
    server.register_job(job)
    canary = canary_of(server, job, 1)

    report(server, nodes, [canary], healthy=False, status="failed")

    failed = wait_for(lambda: (d := server.state.deployment_by_id(canary.deployment_id))
                      and d.status == "failed" and d,
                      timeout=10, message="the canary deployment to fail")
    assert failed.status_description == ("Failed due to unhealthy allocations - rolling back "
                                         "to job version 0")
    reverted = server.state.job_by_id("default", job.id)
    assert reverted is not None and reverted.version == 2 and not reverted.stable
    assert reverted.task_groups[0].tasks[0].env == {"RELEASE": "1"}
    # Version 2 is version 0 again: the old allocations are updated in place, and stay.
    rolled_out(server, nodes, reverted)
    assert {a.id for a in live(server, job)} == old


def test_a_paused_deployment_is_left_alone_at_its_progress_deadline():
    store = StateStore()
    job = mock_job(count=1)
    deployment = Deployment(
        id=generate_uuid(), namespace="default", job_id=job.id, status=DeploymentStatus.PAUSED,
        task_groups={"web": DeploymentState(desired_total=1, progress_deadline=SECOND,
                                            require_progress_by=rfc3339(T0))})
    with store.txn(1) as txn:
        txn.upsert_job(job)
        txn.upsert_deployment(deployment)
    applied: list[object] = []
    watcher = DeploymentWatcher(store, lambda request: applied.append(request) or (2, None),
                                clock=lambda: T0 + 60 * SECOND)

    watcher.tick()

    assert applied == []
    running = dataclasses.replace(deployment, status=DeploymentStatus.RUNNING)
    assert assess(running, job, [], 0, T0 + 60 * SECOND).fail_description == (
        DEPLOYMENT_PROGRESS_DEADLINE)


def canary_deployment(healthy_allocs: int, *, auto_promote: bool = False,
                      auto_revert: bool = False) -> tuple[Deployment, Job, Node]:
    job = mock_job(count=2)
    deployment = Deployment(
        id=generate_uuid(), namespace="default", job_id=job.id,
        task_groups={"web": DeploymentState(
            desired_total=2, desired_canaries=1, healthy_allocs=healthy_allocs,
            progress_deadline=60 * SECOND, require_progress_by=rfc3339(T0),
            auto_promote=auto_promote, auto_revert=auto_revert)})
    return deployment, job, mock_node()


def canary(deployment: Deployment, job: Job, node: Node, healthy: bool | None) -> Allocation:
    alloc = dataclasses.replace(mock_alloc(job, node), deployment_id=deployment.id,
                                deployment_status=AllocDeploymentStatus(healthy=healthy,
                                                                        canary=True))
    deployment.task_groups["web"].placed_canaries.append(alloc.id)
    return alloc


def test_canaries_awaiting_promotion_are_held_to_the_progress_deadline():
    deployment, job, node = canary_deployment(healthy_allocs=0, auto_revert=True)
    allocs = [canary(deployment, job, node, None)]
    decision = assess(deployment, job, allocs, 0, T0)
    assert decision.fail_description == DEPLOYMENT_PROGRESS_DEADLINE and decision.rollback

    # Healthy canaries waiting for an operator do not fail the deployment.
    deployment, job, node = canary_deployment(healthy_allocs=1)
    allocs = [canary(deployment, job, node, True)]
    assert not assess(deployment, job, allocs, latest_eval=100, now=T0)


def test_auto_promote_waits_for_every_canary_and_every_group():
    deployment, job, node = canary_deployment(healthy_allocs=0, auto_promote=True)
    waiting = canary(deployment, job, node, None)
    assert not assess(deployment, job, [waiting], 100, T0 - 1).promote
    healthy = dataclasses.replace(waiting, deployment_status=AllocDeploymentStatus(
        healthy=True, canary=True))
    assert assess(deployment, job, [healthy], 100, T0 - 1).promote

    deployment.task_groups["api"] = DeploymentState(desired_canaries=1, auto_promote=False)
    assert not assess(deployment, job, [healthy], 100, T0 - 1).promote


def test_rollback_targets_the_latest_stable_version_with_another_spec():
    store = StateStore()
    v0 = mock_job(job_id="rb", count=1)
    with store.txn(1) as txn:
        txn.upsert_job(v0)
        txn.set_job_stability("default", "rb", 0, True)
    v1 = v0.copy()
    v1.task_groups[0].tasks[0].env = {"RELEASE": "2"}
    with store.txn(2) as txn:
        current = txn.upsert_job(v1)

    target, description = rollback(store.snapshot(), current, "default", "rb", "Failed")
    assert target is not None and target.version == 0 and not target.stable
    assert description == "Failed - rolling back to job version 0"

    back = v0.copy()
    with store.txn(3) as txn:
        same_as_stable = txn.upsert_job(back)
    assert same_as_stable.version == 2
    target, description = rollback(store.snapshot(), same_as_stable, "default", "rb", "Failed")
    assert target is None
    assert description == ("Failed - not rolling back to stable job version 0 as current job "
                           "has same specification")

    with store.txn(4) as txn:
        txn.set_job_stability("default", "rb", 0, False)
    target, description = rollback(store.snapshot(), same_as_stable, "default", "rb", "Failed")
    assert (target, description) == (None,
                                     "Failed - no stable job version to auto revert to")
