"""Rolling updates on a real server: max_parallel pacing, the deployment
watcher pushing the rollout on, failing it, and a finished rollout's stable job."""

from __future__ import annotations

import dataclasses

import pytest

from nomadjail.server import Server
from nomadjail.server.deployment_watcher import (
    DEPLOYMENT_PROGRESS_DEADLINE,
    DEPLOYMENT_UNHEALTHY,
    assess,
    progress_cutoff,
)
from nomadjail.structs import (
    SECOND,
    Allocation,
    AllocDeploymentStatus,
    Deployment,
    DeploymentState,
    DesiredTransition,
    Job,
    Node,
    UpdateStrategy,
    generate_uuid,
    now_ns,
    parse_rfc3339,
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


def service(count: int, **update: object) -> Job:
    job = mock_job(count=count)
    assert job.task_groups[0].update is not None
    job.task_groups[0].update = dataclasses.replace(job.task_groups[0].update, **update)
    return job


def changed(job: Job, release: str) -> Job:
    new = job.copy()
    new.task_groups[0].tasks[0].env = {"RELEASE": release}  # a destructive change
    return new


def live(server: Server, job: Job) -> list[Allocation]:
    return [a for a in server.state.allocs_by_job("default", job.id)
            if not a.terminal_status()]


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


def test_a_rolling_update_replaces_one_allocation_at_a_time(server, nodes):
    job = service(3, max_parallel=1)
    server.register_job(job)
    first = wait_for(lambda: len(v := live(server, job)) == 3 and v, timeout=10,
                     message="the first version placed")
    report(server, nodes, first)
    wait_for(lambda: deployment_of(server, job).status == "successful", timeout=10,
             message="the first rollout to finish")
    assert server.state.job_by_id("default", job.id).stable

    server.register_job(changed(job, "2"))
    old_ids = {a.id for a in first}
    for step in range(1, 4):
        new = wait_for(lambda: len(n := [a for a in live(server, job)
                                         if a.id not in old_ids]) == step and n,
                       timeout=10, message=f"{step} new allocation(s)")
        # Never more than max_parallel old allocations gone without a healthy successor.
        assert len(live(server, job)) == 3
        rollout = deployment_of(server, job)
        assert rollout.status == "running" and rollout.job_version == 1
        unhealthy = [a for a in new if not (a.deployment_status and a.deployment_status.healthy)]
        assert len(unhealthy) == 1
        report(server, nodes, unhealthy)
    done = wait_for(lambda: (d := deployment_of(server, job)).status == "successful" and d,
                    timeout=10, message="the rollout to finish")
    assert done.task_groups["web"].healthy_allocs == 3
    assert done.task_groups["web"].placed_allocs == 3
    stored = server.state.job_by_id("default", job.id)
    assert stored.version == 1 and stored.stable and stored.status == "running"
    assert [v.stable for v in server.state.job_versions("default", job.id)] == [True, True]
    evals = server.state.evals_by_job("default", job.id)
    assert sum(e.triggered_by == "deployment-watcher" for e in evals) >= 3


def test_plan_shows_the_paced_counts(server, nodes):
    job = service(3, max_parallel=1)
    server.register_job(job)
    report(server, nodes, wait_for(lambda: len(v := live(server, job)) == 3 and v, timeout=10,
                                   message="placed"))
    wait_for(lambda: deployment_of(server, job).status == "successful", timeout=10,
             message="the first rollout to finish")
    plan = server.plan_job(changed(job, "2"))
    web = plan.annotations.desired_tg_updates["web"]
    assert (web.destructive_update, web.ignore, web.place) == (1, 2, 0)


def test_an_unhealthy_allocation_fails_a_rollout_without_progress_deadline(server, nodes):
    job = service(3, max_parallel=1, progress_deadline=0)
    server.register_job(job)
    first = wait_for(lambda: len(v := live(server, job)) == 3 and v, timeout=10,
                     message="placed")
    report(server, nodes, first)
    wait_for(lambda: deployment_of(server, job).status == "successful", timeout=10,
             message="the first rollout to finish")

    server.register_job(changed(job, "2"))
    old_ids = {a.id for a in first}
    (new,) = wait_for(lambda: [a for a in live(server, job) if a.id not in old_ids],
                      timeout=10, message="the first replacement")
    report(server, nodes, [new], healthy=False, status="failed")

    failed = wait_for(lambda: (d := deployment_of(server, job)).status == "failed" and d,
                      timeout=10, message="the rollout to fail")
    assert failed.status_description == DEPLOYMENT_UNHEALTHY
    assert any(e.triggered_by == "deployment-watcher" and e.deployment_id == failed.id
               for e in server.state.evals_by_job("default", job.id))
    # Nothing more of the old version is replaced, and the new version is not stable.
    # (A delayed follow-up for the failed allocation may wait for its reschedule time.)
    wait_for(lambda: all(e.terminal_status() or parse_rfc3339(e.wait_until)
                         for e in server.state.evals_by_job("default", job.id)),
             timeout=10, message="the evals to finish")
    assert len([a for a in live(server, job) if a.id in old_ids]) == 2
    assert not server.state.job_by_id("default", job.id).stable


def test_a_rollout_that_stalls_fails_at_its_progress_deadline(server, nodes):
    job = service(2, max_parallel=1, progress_deadline=SECOND, healthy_deadline=SECOND // 2,
                  min_healthy_time=0)
    server.register_job(job)
    wait_for(lambda: len(live(server, job)) == 2, timeout=10, message="placed")
    # No client ever reports health.
    failed = wait_for(lambda: (d := deployment_of(server, job)).status == "failed" and d,
                      timeout=10, message="the progress deadline to fail the rollout")
    assert failed.status_description == DEPLOYMENT_PROGRESS_DEADLINE
    assert server.state.job_by_id("default", job.id).status == "running"  # allocs still live


# -- the watcher's decisions, as a pure function -----------------------------------------
def watched(progress_deadline: int = 0, **state: int) -> tuple[Deployment, Job, Node]:
    job = mock_job(count=2)
    deployment = Deployment(
        id=generate_uuid(), namespace="default", job_id=job.id,
        task_groups={"web": DeploymentState(desired_total=2,
                                            progress_deadline=progress_deadline, **state)})
    return deployment, job, mock_node()


def member(deployment: Deployment, job: Job, node: Node, healthy: bool | None,
           modify_index: int = 10, **fields: object) -> Allocation:
    alloc = dataclasses.replace(mock_alloc(job, node), deployment_id=deployment.id, **fields)
    if healthy is not None:
        alloc.deployment_status = AllocDeploymentStatus(healthy=healthy,
                                                        modify_index=modify_index)
    return alloc


def test_health_newer_than_the_last_eval_asks_for_an_eval():
    deployment, job, node = watched()
    allocs = [member(deployment, job, node, True, modify_index=10)]
    assert assess(deployment, job, allocs, latest_eval=9, now=T0).create_eval
    assert not assess(deployment, job, allocs, latest_eval=10, now=T0)


def test_unhealthy_fails_at_once_without_a_progress_deadline():
    deployment, job, node = watched(progress_deadline=0)
    decision = assess(deployment, job, [member(deployment, job, node, False)], 0, T0)
    assert decision.fail_description == DEPLOYMENT_UNHEALTHY


def test_unhealthy_with_a_progress_deadline_is_allowed_a_replacement():
    deployment, job, node = watched(progress_deadline=600 * SECOND)
    alloc = member(deployment, job, node, False)
    decision = assess(deployment, job, [alloc], 0, T0)
    assert decision.allow_replacements == [alloc.id] and not decision.fail_description
    marked = dataclasses.replace(alloc, desired_transition=DesiredTransition(reschedule=True))
    assert not assess(deployment, job, [marked], 0, T0)


def test_unhealthy_without_reschedule_attempts_left_fails():
    deployment, job, node = watched(progress_deadline=600 * SECOND)
    policy = job.task_groups[0].reschedule_policy
    assert policy is not None
    job.task_groups[0].reschedule_policy = dataclasses.replace(policy, attempts=0,
                                                               unlimited=False)
    decision = assess(deployment, job, [member(deployment, job, node, False)], 0, T0)
    assert decision.fail_description == DEPLOYMENT_UNHEALTHY


def test_the_progress_deadline_counts_only_groups_still_rolling_out():
    deployment, job, node = watched(progress_deadline=60 * SECOND, healthy_allocs=1)
    deployment.task_groups["web"].require_progress_by = rfc3339(T0)
    allocs = [member(deployment, job, node, True, modify_index=1),
              member(deployment, job, node, None)]
    assert progress_cutoff(deployment, allocs) == T0
    assert not assess(deployment, job, allocs, 5, T0 - 1)
    decision = assess(deployment, job, allocs, 5, T0)
    assert decision.fail_description == DEPLOYMENT_PROGRESS_DEADLINE
    everything_healthy = [member(deployment, job, node, True, modify_index=1)
                          for _ in range(2)]
    assert progress_cutoff(deployment, everything_healthy) == 0


def test_update_strategy_defaults_pace_one_at_a_time():
    job = mock_job()
    assert job.task_groups[0].update == UpdateStrategy(
        stagger=30 * SECOND, max_parallel=1, health_check="checks",
        min_healthy_time=10 * SECOND, healthy_deadline=300 * SECOND,
        progress_deadline=600 * SECOND, canary=0, auto_revert=False, auto_promote=False)
