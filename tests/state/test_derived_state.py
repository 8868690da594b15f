"""What the state store derives on every write: blocked evals canceled by a
successful one, job status, deployment counts and progress deadlines, job
stability, node events."""

from __future__ import annotations

import dataclasses

import pytest

from nomadjail.state import StateStore
from nomadjail.structs import (
    SECOND,
    AllocClientStatus,
    AllocDeploymentStatus,
    AllocDesiredStatus,
    AllocMetric,
    Conflict,
    Deployment,
    DeploymentState,
    DeploymentStatus,
    DeploymentStatusUpdate,
    EvalStatus,
    Job,
    NodeStatus,
    NotFound,
    PlanResult,
    generate_uuid,
    parse_rfc3339,
    rfc3339,
)
from nomadjail.testing import mock_alloc, mock_eval, mock_job, mock_node

T0 = 1_700_000_000 * SECOND


class Writer:
    """The store plus an index counter, as the FSM would drive it."""

    def __init__(self) -> None:
        self.store = StateStore()
        self.index = 0

    def txn(self):  # type: ignore[no-untyped-def]
        self.index += 1
        return self.store.txn(self.index)


@pytest.fixture
def w() -> Writer:
    return Writer()


def job_status(w: Writer, job: Job) -> str:
    stored = w.store.job_by_id("default", job.id)
    assert stored is not None
    return stored.status


# -- blocked evals ------------------------------------------------------------------------
def test_a_successful_eval_cancels_the_jobs_blocked_evals(w: Writer):
    job = mock_job()
    blocked = dataclasses.replace(mock_eval(job), status=EvalStatus.BLOCKED)
    other_job = mock_job()
    unrelated = dataclasses.replace(mock_eval(other_job), status=EvalStatus.BLOCKED)
    with w.txn() as txn:
        txn.upsert_job(job)
        txn.upsert_job(other_job)
        txn.upsert_evals([blocked, unrelated])

    done = dataclasses.replace(mock_eval(job), status=EvalStatus.COMPLETE, modify_time=T0)
    with w.txn() as txn:
        txn.upsert_evals([done])

    canceled = w.store.eval_by_id(blocked.id)
    assert canceled is not None and canceled.status == EvalStatus.CANCELED
    assert canceled.status_description == f'evaluation "{done.id}" successful'
    assert (canceled.modify_index, canceled.modify_time) == (w.index, T0)
    assert w.store.eval_by_id(unrelated.id).status == EvalStatus.BLOCKED
    assert job_status(w, job) == "dead"  # nothing outstanding any more


def test_an_eval_with_placement_failures_leaves_the_blocked_eval(w: Writer):
    job = mock_job()
    blocked = dataclasses.replace(mock_eval(job), status=EvalStatus.BLOCKED)
    with w.txn() as txn:
        txn.upsert_job(job)
        txn.upsert_evals([blocked])
    failed_again = dataclasses.replace(mock_eval(job), status=EvalStatus.COMPLETE,
                                       failed_tg_allocs={"web": AllocMetric(nodes_exhausted=1)})
    with w.txn() as txn:
        txn.upsert_evals([failed_again])
    assert w.store.eval_by_id(blocked.id).status == EvalStatus.BLOCKED
    # The blocked eval finishing itself is no cancellation either.
    with w.txn() as txn:
        txn.upsert_evals([dataclasses.replace(blocked, status=EvalStatus.COMPLETE)])
    assert w.store.eval_by_id(blocked.id).status == EvalStatus.COMPLETE


# -- job status ---------------------------------------------------------------------------
def test_an_unfinished_deployment_keeps_the_job_running(w: Writer):
    job = mock_job()
    with w.txn() as txn:
        txn.upsert_job(job)
        txn.upsert_evals([dataclasses.replace(mock_eval(job), status=EvalStatus.COMPLETE)])
    assert job_status(w, job) == "dead"
    deployment = Deployment(id=generate_uuid(), namespace="default", job_id=job.id,
                            task_groups={"web": DeploymentState(desired_total=1)})
    with w.txn() as txn:
        txn.upsert_deployment(deployment)
    assert job_status(w, job) == "running"
    with w.txn() as txn:
        txn.update_deployment_status(DeploymentStatusUpdate(
            deployment_id=deployment.id, status=DeploymentStatus.CANCELLED))
    assert job_status(w, job) == "dead"


def test_a_stopped_job_is_dead_once_nothing_runs(w: Writer):
    job, node = mock_job(count=1), mock_node()
    alloc = mock_alloc(job, node)
    with w.txn() as txn:
        txn.upsert_node(node)
        txn.upsert_job(job)
        txn.upsert_allocs([alloc])
    assert job_status(w, job) == "running"
    stopped = job.copy()
    stopped.stop = True
    with w.txn() as txn:
        txn.upsert_job(stopped)
    assert job_status(w, job) == "running"  # its allocation still runs
    with w.txn() as txn:
        txn.upsert_allocs([dataclasses.replace(alloc, desired_status=AllocDesiredStatus.STOP)])
    assert job_status(w, job) == "dead"
    never_ran = mock_job()
    never_ran.stop = True
    with w.txn() as txn:
        txn.upsert_job(never_ran)
    assert job_status(w, never_ran) == "dead"  # not "pending": nothing will ever run


def test_a_job_whose_evals_were_collected_is_dead(w: Writer):
    job = mock_job()
    ev = dataclasses.replace(mock_eval(job), status=EvalStatus.COMPLETE)
    with w.txn() as txn:
        txn.upsert_job(job)
        txn.upsert_evals([ev])
    with w.txn() as txn:
        txn.delete_evals([ev.id])
    assert w.store.evals_by_job("default", job.id) == []
    assert job_status(w, job) == "dead"


# -- deployments --------------------------------------------------------------------------
def rollout(w: Writer, progress_deadline: int = 600 * SECOND, count: int = 2
            ) -> tuple[Job, Deployment, list]:
    job, node = mock_job(count=count), mock_node()
    with w.txn() as txn:
        txn.upsert_node(node)
        job = txn.upsert_job(job)
    deployment = Deployment(
        id=generate_uuid(), namespace="default", job_id=job.id, job_version=job.version,
        task_groups={"web": DeploymentState(desired_total=count,
                                            progress_deadline=progress_deadline)})
    allocs = [dataclasses.replace(mock_alloc(job, node, index=i), deployment_id=deployment.id,
                                  modify_time=T0) for i in range(count)]
    with w.txn() as txn:
        txn.upsert_plan_results(PlanResult(deployment=deployment,
                                           node_allocation={node.id: allocs}))
    return job, deployment, allocs


def report(w: Writer, alloc, healthy: bool, at: int) -> None:  # type: ignore[no-untyped-def]
    with w.txn() as txn:
        txn.update_allocs_from_client([dataclasses.replace(
            alloc, client_status=AllocClientStatus.RUNNING,
            deployment_status=AllocDeploymentStatus(healthy=healthy, timestamp=rfc3339(at)))])


def group_state(w: Writer, deployment: Deployment) -> DeploymentState:
    stored = w.store.deployment_by_id(deployment.id)
    assert stored is not None
    return stored.task_groups["web"]


def test_placements_start_the_progress_clock_and_health_is_counted(w: Writer):
    _, deployment, allocs = rollout(w)
    state = group_state(w, deployment)
    assert state.placed_allocs == 2 and state.healthy_allocs == 0
    assert parse_rfc3339(state.require_progress_by) == T0 + 600 * SECOND

    report(w, allocs[0], True, T0 + 30 * SECOND)
    state = group_state(w, deployment)
    assert (state.healthy_allocs, state.unhealthy_allocs) == (1, 0)
    # Each healthy allocation moves the deadline forward.
    assert parse_rfc3339(state.require_progress_by) == T0 + 630 * SECOND
    stored = w.store.alloc_by_id(allocs[0].id)
    assert stored.deployment_status.modify_index == w.index

    report(w, allocs[0], True, T0 + 40 * SECOND)  # the same health again: no change
    assert group_state(w, deployment).healthy_allocs == 1

    report(w, allocs[0], False, T0 + 50 * SECOND)  # healthy -> unhealthy moves it over
    report(w, allocs[1], False, T0 + 50 * SECOND)
    state = group_state(w, deployment)
    assert (state.healthy_allocs, state.unhealthy_allocs) == (0, 2)


def test_a_plan_does_not_undo_health_reported_meanwhile(w: Writer):
    _, deployment, allocs = rollout(w)
    report(w, allocs[0], True, T0)
    # A plan made before the report stops the allocation with its old copy.
    with w.txn() as txn:
        txn.upsert_allocs([dataclasses.replace(allocs[0], desired_status=AllocDesiredStatus.STOP)])
    stored = w.store.alloc_by_id(allocs[0].id)
    assert stored.deployment_status is not None and stored.deployment_status.healthy is True
    assert group_state(w, deployment).healthy_allocs == 1


def test_a_successful_deployment_makes_its_job_version_stable(w: Writer):
    job, deployment, _ = rollout(w)
    assert not w.store.job_by_id("default", job.id).stable
    with w.txn() as txn:
        txn.upsert_plan_results(PlanResult(deployment_updates=[DeploymentStatusUpdate(
            deployment_id=deployment.id, status=DeploymentStatus.SUCCESSFUL,
            status_description="Deployment completed successfully", updated_at=T0)]))
    stored = w.store.job_by_id("default", job.id)
    assert stored.stable and stored.modify_index == w.index
    assert w.store.job_by_version("default", job.id, job.version).stable
    assert w.store.deployment_by_id(deployment.id).modify_time == T0


def test_status_updates_of_finished_or_unknown_deployments(w: Writer):
    _, deployment, _ = rollout(w)
    with w.txn() as txn:
        txn.update_deployment_status(DeploymentStatusUpdate(
            deployment_id=deployment.id, status=DeploymentStatus.FAILED))
    with pytest.raises(Conflict, match="terminal status"):
        with w.txn() as txn:
            txn.update_deployment_status(DeploymentStatusUpdate(
                deployment_id=deployment.id, status=DeploymentStatus.SUCCESSFUL))
    with pytest.raises(NotFound):
        with w.txn() as txn:
            txn.update_deployment_status(DeploymentStatusUpdate(deployment_id="nope"))
    # A plan carrying a stale update commits the rest and drops the update.
    with w.txn() as txn:
        txn.upsert_plan_results(PlanResult(deployment_updates=[DeploymentStatusUpdate(
            deployment_id=deployment.id, status=DeploymentStatus.SUCCESSFUL)]))
    assert w.store.deployment_by_id(deployment.id).status == DeploymentStatus.FAILED


def test_resuming_a_deployment_restarts_its_progress_clock(w: Writer):
    _, deployment, _ = rollout(w)
    with w.txn() as txn:
        txn.update_deployment_status(DeploymentStatusUpdate(
            deployment_id=deployment.id, status=DeploymentStatus.RUNNING,
            updated_at=T0 + 3600 * SECOND))
    assert (parse_rfc3339(group_state(w, deployment).require_progress_by)
            == T0 + 4200 * SECOND)


def test_deleting_deployments(w: Writer):
    job, deployment, _ = rollout(w)
    with w.txn() as txn:
        txn.delete_deployments([deployment.id, "unknown"])
    assert w.store.deployment_by_id(deployment.id) is None
    assert w.store.deployments_by_job("default", job.id) == []


# -- node events --------------------------------------------------------------------------
def test_node_registration_and_return_from_down_are_node_events(w: Writer):
    node = dataclasses.replace(mock_node(), status_updated_at=T0 // SECOND)
    with w.txn() as txn:
        txn.upsert_node(node)
    (event,) = w.store.node_by_id(node.id).events
    assert (event.message, event.subsystem) == ("Node registered", "Cluster")
    assert event.timestamp == rfc3339(T0) and event.create_index == w.index

    with w.txn() as txn:
        txn.update_node(node.id, status=NodeStatus.DOWN)
    with w.txn() as txn:
        txn.upsert_node(dataclasses.replace(node, status=NodeStatus.READY))
    events = w.store.node_by_id(node.id).events
    assert [e.message for e in events] == ["Node registered", "Node re-registered"]

    with w.txn() as txn:  # re-registering while up adds nothing
        txn.upsert_node(dataclasses.replace(node, status=NodeStatus.READY))
    assert len(w.store.node_by_id(node.id).events) == 2
