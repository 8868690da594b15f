"""The FSM: deterministic application of raft messages, snapshots that hold everything."""

from __future__ import annotations

import json

import pytest

from nomadjail.server import messages as m
from nomadjail.server.fsm import FSM, MsgType
from nomadjail.server.snapshot_codec import SnapshotError
from nomadjail.state import StateStore, Table
from nomadjail.structs import (
    Allocation,
    AllocClientStatus,
    Conflict,
    Deployment,
    DeploymentStatus,
    DeploymentStatusUpdate,
    DesiredTransition,
    EvalStatus,
    NotFound,
)
from nomadjail.testing import mock_alloc, mock_eval, mock_job, mock_node


def log_of_a_small_cluster() -> tuple[list[tuple[MsgType, str]], dict]:
    """A realistic raft log: nodes, a job with its eval, a plan, client updates."""
    nodes = [mock_node() for _ in range(2)]
    job = mock_job(count=2)
    ev = mock_eval(job)
    allocs = [mock_alloc(job, nodes[i], index=i) for i in range(2)]
    for alloc in allocs:
        alloc.eval_id = ev.id
        alloc.job = None  # the plan payload carries the job once
    log = [(MsgType.NODE_REGISTER, m.encode(m.NodeRegisterRequest(node=n))) for n in nodes]
    log.append((MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(job=job, eval=ev,
                                                                    submit_time=123))))
    log.append((MsgType.APPLY_PLAN_RESULTS, m.encode(m.ApplyPlanResultsRequest(
        eval_id=ev.id, job=job, node_allocation={a.node_id: [a] for a in allocs}))))
    done = [Allocation(id=allocs[0].id, client_status=AllocClientStatus.RUNNING)]
    log.append((MsgType.ALLOC_CLIENT_UPDATE, m.encode(m.AllocClientUpdateRequest(alloc=done))))
    log.append((MsgType.ALLOC_UPDATE_DESIRED_TRANSITION, m.encode(
        m.AllocUpdateDesiredTransitionRequest(allocs={allocs[1].id:
                                                      DesiredTransition(migrate=True)}))))
    log.append((MsgType.NODE_UPDATE_STATUS, m.encode(m.NodeUpdateStatusRequest(
        node_id=nodes[1].id, status="down", updated_at=99))))
    return log, {"job": job, "nodes": nodes, "allocs": allocs, "eval": ev}


def replay(log: list[tuple[MsgType, str]]) -> FSM:
    fsm = FSM(StateStore())
    for msg_type, payload in log:
        result = fsm.apply(msg_type, payload)
        assert not isinstance(result, Exception), result
    return fsm


def test_same_messages_give_the_same_state_and_indexes():
    log, _ = log_of_a_small_cluster()
    first, second = replay(log), replay(log)
    assert first.index == second.index == len(log)
    assert first.store.tables == second.store.tables
    assert first.snapshot() == second.snapshot()


def test_objects_carry_the_index_of_the_message_that_wrote_them():
    log, objs = log_of_a_small_cluster()
    fsm = replay(log)
    job = fsm.store.job_by_id("default", objs["job"].id)
    assert job.create_index == 3 and job.submit_time == 123
    ev = fsm.store.eval_by_id(objs["eval"].id)
    assert ev.create_index == 3 and ev.job_modify_index == 3
    alloc = fsm.store.alloc_by_id(objs["allocs"][0].id)
    assert alloc.create_index == 4 and alloc.modify_index == 5
    assert alloc.client_status == "running"
    assert fsm.store.alloc_by_id(objs["allocs"][1].id).desired_transition.migrate is True
    assert fsm.store.node_by_id(objs["nodes"][1].id).status == "down"
    assert fsm.store.index(Table.NODES) == 7


def test_plan_allocations_get_the_stored_job_attached():
    log, objs = log_of_a_small_cluster()
    fsm = replay(log)
    allocs = [fsm.store.alloc_by_id(a.id) for a in objs["allocs"]]
    stored_job = fsm.store.job_by_id("default", objs["job"].id)
    assert all(a.job is not None and a.job.id == stored_job.id for a in allocs)
    # one shared object, not a decoded copy per allocation
    assert allocs[0].job is allocs[1].job


def test_snapshot_restore_round_trip_keeps_everything():
    log, objs = log_of_a_small_cluster()
    fsm = replay(log)
    text = fsm.snapshot_json()
    restored = FSM(StateStore())
    restored.restore_json(text)
    assert restored.index == fsm.index
    assert restored.store.tables == fsm.store.tables
    assert restored.snapshot() == fsm.snapshot()
    # Both continue identically.
    follow_up = (MsgType.EVAL_UPDATE, m.encode(m.EvalUpdateRequest(evals=[mock_eval(objs["job"])])))
    fsm.apply(*follow_up)
    restored.apply(*follow_up)
    assert restored.store.tables == fsm.store.tables


def test_snapshot_writes_a_job_once_however_many_allocations_embed_it():
    node, job = mock_node(cpu=100_000, memory_mb=100_000), mock_job(count=50)
    allocs = [mock_alloc(job, node, index=i) for i in range(50)]
    for alloc in allocs:
        alloc.job = None
    fsm = replay([(MsgType.NODE_REGISTER, m.encode(m.NodeRegisterRequest(node=node))),
                  (MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(job=job))),
                  (MsgType.APPLY_PLAN_RESULTS, m.encode(m.ApplyPlanResultsRequest(
                      job=job, node_allocation={node.id: allocs})))])
    pool = json.loads(fsm.snapshot_json())["JobPool"]
    # the stored job, and the version the allocations share (status differs)
    assert len(pool) <= 2


def test_a_failing_message_changes_nothing_but_the_log_moves_on():
    log, objs = log_of_a_small_cluster()
    fsm = replay(log)
    before = fsm.store.tables
    result = fsm.apply(MsgType.JOB_DEREGISTER, m.encode(
        m.JobDeregisterRequest(namespace="default", job_id="no-such-job")))
    assert isinstance(result, NotFound)
    assert fsm.store.tables == before
    assert fsm.index == len(log) + 1
    garbage = fsm.apply(MsgType.JOB_REGISTER, '{"Job": {"TaskGroups": "not a list"}}')
    assert isinstance(garbage, Exception)
    unknown = fsm.apply(999, "{}")
    assert isinstance(unknown, ValueError)
    assert fsm.store.tables == before and fsm.index == len(log) + 3


def test_deregister_stops_as_a_new_version_and_purge_removes_the_job():
    log, objs = log_of_a_small_cluster()
    fsm = replay(log)
    job_id = objs["job"].id
    stop_eval = mock_eval(objs["job"], trigger="job-deregister")
    fsm.apply(MsgType.JOB_DEREGISTER, m.encode(m.JobDeregisterRequest(
        namespace="default", job_id=job_id, eval=stop_eval)))
    stopped = fsm.store.job_by_id("default", job_id)
    assert stopped.stop is True and stopped.version == 1
    assert fsm.store.eval_by_id(stop_eval.id).status == EvalStatus.PENDING
    fsm.apply(MsgType.JOB_DEREGISTER, m.encode(m.JobDeregisterRequest(
        namespace="default", job_id=job_id, purge=True)))
    assert fsm.store.job_by_id("default", job_id) is None
    assert len(fsm.store.allocs_by_job("default", job_id)) == 2  # left for the GC


class RecordingListener:
    def __init__(self) -> None:
        self.evals: list = []
        self.capacity: list = []

    def evals_upserted(self, evals):
        self.evals.extend(evals)

    def capacity_changed(self, computed_class, node_id, index):
        self.capacity.append((node_id, index))


def test_listener_hears_about_stored_evals_and_capacity():
    listener = RecordingListener()
    fsm = FSM(StateStore(), listener)
    node = mock_node()
    fsm.apply(MsgType.NODE_REGISTER, m.encode(m.NodeRegisterRequest(node=node)))
    job = mock_job(count=1)
    ev = mock_eval(job)
    fsm.apply(MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(job=job, eval=ev)))
    assert [e.id for e in listener.evals] == [ev.id]
    assert listener.evals[0].modify_index == 2  # the stored version, index stamped
    alloc = mock_alloc(job, node)
    fsm.apply(MsgType.APPLY_PLAN_RESULTS, m.encode(m.ApplyPlanResultsRequest(
        job=job, node_allocation={node.id: [alloc]})))
    listener.capacity.clear()
    fsm.apply(MsgType.ALLOC_CLIENT_UPDATE, m.encode(m.AllocClientUpdateRequest(
        alloc=[Allocation(id=alloc.id, client_status=AllocClientStatus.COMPLETE)])))
    assert listener.capacity == [(node.id, 4)]


def test_listener_errors_do_not_stop_the_fsm():
    class Broken:
        def evals_upserted(self, evals):
            raise RuntimeError("boom")

        def capacity_changed(self, computed_class, node_id, index):
            raise RuntimeError("boom")

    fsm = FSM(StateStore(), Broken())
    job = mock_job()
    result = fsm.apply(MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(job=job,
                                                                           eval=mock_eval(job))))
    assert not isinstance(result, Exception)
    assert fsm.store.job_by_id("default", job.id) is not None


def test_restore_rejects_an_unknown_snapshot_version():
    fsm = FSM(StateStore())
    with pytest.raises(SnapshotError, match="version"):
        fsm.restore({"Version": 42})


def test_server_member_announcements_survive_snapshots():
    fsm = FSM(StateStore())
    fsm.apply(MsgType.SERVER_MEMBER, m.encode(m.ServerMemberRequest(
        name="s1", raft_addr="10.0.0.1:4648", rpc_addr="10.0.0.1:4647")))
    restored = FSM(StateStore())
    restored.restore(fsm.snapshot())
    assert restored.servers["10.0.0.1:4648"].rpc_addr == "10.0.0.1:4647"


def test_garbage_collection_messages_purge_jobs_and_delete_deployments():
    fsm = FSM(StateStore())
    job = mock_job(count=1)
    fsm.apply(MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(job=job, eval=mock_eval(job))))
    deployment = Deployment(id="d1", namespace="default", job_id=job.id,
                            status=DeploymentStatus.SUCCESSFUL)
    fsm.apply(MsgType.DEPLOYMENT_UPSERT, m.encode(m.DeploymentUpsertRequest(
        deployment=deployment)))
    assert fsm.store.job_by_id("default", job.id).stable  # a successful rollout
    fsm.apply(MsgType.JOB_BATCH_DEREGISTER, m.encode(m.JobBatchDeregisterRequest(
        jobs=[m.NamespacedID(id=job.id, namespace="default")])))
    fsm.apply(MsgType.DEPLOYMENT_DELETE, m.encode(m.DeploymentDeleteRequest(
        deployments=["d1"])))
    assert fsm.store.job_by_id("default", job.id) is None
    assert fsm.store.deployment_by_id("d1") is None
    assert fsm.store.evals_by_job("default", job.id)  # evals go with their own message


def test_a_status_update_for_a_finished_deployment_is_refused_and_changes_nothing():
    fsm = FSM(StateStore())
    deployment = Deployment(id="d1", namespace="default", job_id="web",
                            status=DeploymentStatus.FAILED)
    fsm.apply(MsgType.DEPLOYMENT_UPSERT, m.encode(m.DeploymentUpsertRequest(
        deployment=deployment)))
    before = fsm.store.latest_index
    error = fsm.apply(MsgType.DEPLOYMENT_STATUS_UPDATE, m.encode(m.DeploymentStatusUpdateRequest(
        deployment_update=DeploymentStatusUpdate(deployment_id="d1",
                                                 status=DeploymentStatus.SUCCESSFUL),
        eval=mock_eval(mock_job()))))
    assert isinstance(error, Conflict)
    assert fsm.store.deployment_by_id("d1").status == DeploymentStatus.FAILED
    assert fsm.store.latest_index == before  # the eval was not stored either
