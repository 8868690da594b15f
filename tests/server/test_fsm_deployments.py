"""The FSM's deployment messages (types 21-24): promotion, manual health, failing
with a revert, job stability -- deterministic on every replica, all or nothing,
and kept by snapshots."""

from __future__ import annotations

from nomadjail.server import messages as m
from nomadjail.server.fsm import FSM, MsgType
from nomadjail.state import StateStore
from nomadjail.structs import (
    SECOND,
    AllocDeploymentStatus,
    Conflict,
    Deployment,
    DeploymentState,
    DeploymentStatus,
    DeploymentStatusUpdate,
    EvalTrigger,
    NotFound,
    parse_rfc3339,
    to_api,
)
from nomadjail.testing import mock_alloc, mock_eval, mock_job, mock_node

T0 = 1_700_000_000 * SECOND


def canary_world() -> tuple[list[tuple[MsgType, str]], dict]:
    """A job at version 1, stable version 0, and a deployment with one canary placed."""
    node = mock_node()
    v0 = mock_job(job_id="web", count=2)
    v1 = v0.copy()
    v1.task_groups[0].tasks[0].env = {"RELEASE": "2"}
    deployment = Deployment(
        id="d1", namespace="default", job_id="web", job_version=1,
        status_description="Deployment is running but requires manual promotion",
        task_groups={"web": DeploymentState(desired_canaries=1, desired_total=2,
                                            auto_revert=True, progress_deadline=60 * SECOND)})
    canary = mock_alloc(v1, node, index=0)
    canary.deployment_id = "d1"
    canary.deployment_status = AllocDeploymentStatus(canary=True)
    canary.job = None
    log = [
        (MsgType.NODE_REGISTER, m.encode(m.NodeRegisterRequest(node=node))),
        (MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(job=v0))),
        (MsgType.JOB_STABILITY, m.encode(m.JobStabilityRequest(
            namespace="default", job_id="web", job_version=0, stable=True))),
        (MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(job=v1))),
        (MsgType.APPLY_PLAN_RESULTS, m.encode(m.ApplyPlanResultsRequest(
            job=v1, deployment=deployment, node_allocation={node.id: [canary]}))),
    ]
    return log, {"canary": canary, "v0": v0, "v1": v1}


def replay(log: list[tuple[MsgType, str]]) -> FSM:
    fsm = FSM(StateStore())
    for msg_type, payload in log:
        result = fsm.apply(msg_type, payload)
        assert not isinstance(result, Exception), result
    return fsm


def health(*, healthy: list[str] = (), unhealthy: list[str] = (), **fields: object
           ) -> tuple[MsgType, str]:
    return MsgType.DEPLOYMENT_ALLOC_HEALTH, m.encode(m.DeploymentAllocHealthRequest(
        deployment_id="d1", healthy_allocation_ids=list(healthy),
        unhealthy_allocation_ids=list(unhealthy), timestamp=T0, **fields))


def promotion() -> tuple[MsgType, str]:
    ev = mock_eval(mock_job(job_id="web"), trigger=EvalTrigger.DEPLOYMENT_WATCHER)
    return MsgType.DEPLOYMENT_PROMOTION, m.encode(m.DeploymentPromoteRequest(
        deployment_id="d1", all=True, promoted_at=T0, eval=ev))


def test_placing_a_canary_records_it_in_the_deployment():
    log, objs = canary_world()
    fsm = replay(log)
    state = fsm.store.deployment_by_id("d1").task_groups["web"]
    assert (state.placed_canaries, state.placed_allocs) == ([objs["canary"].id], 1)
    assert fsm.store.job_by_version("default", "web", 0).stable


def test_promotion_of_a_healthy_canary_on_every_replica():
    log, objs = canary_world()
    canary_id = objs["canary"].id
    log += [health(healthy=[canary_id]), promotion()]

    first, second = replay(log), replay(log)

    assert to_api(first.snapshot()) == to_api(second.snapshot())
    deployment = first.store.deployment_by_id("d1")
    state = deployment.task_groups["web"]
    assert state.promoted and state.healthy_allocs == 1
    assert deployment.status_description == "Deployment is running"
    assert parse_rfc3339(state.require_progress_by) == T0 + 60 * SECOND
    promoted = first.store.alloc_by_id(canary_id)
    assert promoted.deployment_status.canary is False and promoted.deployment_status.healthy
    assert promoted.alloc_modify_index == first.index  # the client hears of it
    evals = first.store.evals_by_job("default", "web")
    assert [e.triggered_by for e in evals] == ["deployment-watcher"]


def test_a_promotion_that_no_longer_fits_changes_nothing():
    log, objs = canary_world()
    fsm = replay(log)
    before = fsm.snapshot()

    refused = fsm.apply(*promotion())

    assert isinstance(refused, Conflict)
    assert str(refused) == 'Task group "web" has 0/1 healthy allocations'
    after = fsm.snapshot()
    assert after.pop("FSMIndex") == before.pop("FSMIndex") + 1  # the log moved on
    assert after == before


def test_an_unhealthy_allocation_fails_and_reverts_in_one_commit():
    log, objs = canary_world()
    fsm = replay(log)
    revert = objs["v0"].copy()
    update = DeploymentStatusUpdate(
        deployment_id="d1", status=DeploymentStatus.FAILED, updated_at=T0,
        status_description=("Failed due to unhealthy allocations - rolling back to job "
                            "version 0"))

    result = fsm.apply(*health(unhealthy=[objs["canary"].id], deployment_update=update,
                               job=revert))

    assert result is None
    assert fsm.store.deployment_by_id("d1").status == DeploymentStatus.FAILED
    assert fsm.store.deployment_by_id("d1").task_groups["web"].unhealthy_allocs == 1
    job = fsm.store.job_by_id("default", "web")
    assert job.version == 2 and job.task_groups[0].tasks[0].env == objs["v0"].task_groups[
        0].tasks[0].env


def test_health_for_an_unknown_allocation_changes_nothing():
    log, _ = canary_world()
    fsm = replay(log)
    before = fsm.store.deployment_by_id("d1")

    refused = fsm.apply(*health(healthy=["nope"]))

    assert isinstance(refused, Conflict) and 'unknown alloc "nope"' in str(refused)
    assert fsm.store.deployment_by_id("d1") == before


def test_a_revert_fails_the_deployment_and_registers_the_stable_version():
    log, objs = canary_world()
    fsm = replay(log)
    update = DeploymentStatusUpdate(deployment_id="d1", status=DeploymentStatus.FAILED,
                                    status_description="Failed", updated_at=T0)

    fsm.apply(MsgType.DEPLOYMENT_STATUS_REVERT, m.encode(m.DeploymentRevertRequest(
        deployment_update=update, job=objs["v0"], submit_time=T0,
        eval=mock_eval(objs["v0"]))))

    assert fsm.store.deployment_by_id("d1").status == DeploymentStatus.FAILED
    job = fsm.store.job_by_id("default", "web")
    assert (job.version, job.submit_time) == (2, T0)
    assert len(fsm.store.evals_by_job("default", "web")) == 1


def test_stability_of_an_unknown_version_is_not_found():
    log, _ = canary_world()
    fsm = replay(log)
    missing = fsm.apply(MsgType.JOB_STABILITY, m.encode(m.JobStabilityRequest(
        namespace="default", job_id="web", job_version=9, stable=True)))
    assert isinstance(missing, NotFound)


def test_snapshots_keep_canaries_and_promotion():
    log, objs = canary_world()
    fsm = replay([*log, health(healthy=[objs["canary"].id]), promotion()])
    restored = FSM(StateStore())
    restored.restore_json(fsm.snapshot_json())
    assert restored.store.deployment_by_id("d1") == fsm.store.deployment_by_id("d1")
    assert restored.store.alloc_by_id(objs["canary"].id) == fsm.store.alloc_by_id(
        objs["canary"].id)
