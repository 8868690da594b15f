"""The plan applier: commits what still fits, tells the worker to refresh for the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nomadjail.server import messages as m
from nomadjail.server.fsm import FSM, MsgType
from nomadjail.server.plan_apply import PlanApplier, PlanQueue, evaluate_plan
from nomadjail.state import StateStore
from nomadjail.structs import AllocClientStatus, Plan, Unavailable
from nomadjail.testing import mock_alloc, mock_job, mock_node


class Cluster:
    """A store written through a real FSM, and the raft payloads it received."""

    def __init__(self) -> None:
        self.fsm = FSM(StateStore())
        self.payloads: list[tuple[MsgType, str]] = []

    @property
    def store(self) -> StateStore:
        return self.fsm.store

    def apply(self, msg_type: MsgType, payload: str) -> tuple[int, Any]:
        self.payloads.append((msg_type, payload))
        index, result = self.fsm.apply_indexed(msg_type, payload)
        if isinstance(result, Exception):
            raise result
        return index, result

    def write(self, request: Any) -> int:
        return self.apply(m.message_type_of(request), m.encode(request))[0]


def cpu_fit(node, allocs):
    used = sum(a.allocated_resources.total_cpu() for a in allocs if not a.client_terminal())
    return (True, "") if used <= node.node_resources.cpu.cpu_shares else (False, "cpu")


@pytest.fixture
def cluster():
    c = Cluster()
    c.big = mock_node(cpu=4000)
    c.small = mock_node(cpu=1000)
    c.job = mock_job(count=4, cpu=600)
    for node in (c.big, c.small):
        c.write(m.NodeRegisterRequest(node=node))
    c.write(m.JobRegisterRequest(job=c.job))
    return c


def plan_for(c: Cluster, placements: dict[str, int], **fields) -> Plan:
    plan = Plan(eval_id="e1", priority=50, job=c.store.job_by_id("default", c.job.id), **fields)
    index = 0
    for node in (c.big, c.small):
        for _ in range(placements.get(node.id, 0)):
            plan.append_alloc(mock_alloc(c.job, node, index=index))
            index += 1
    return plan


def test_a_plan_that_fits_is_committed_whole(cluster):
    applier = PlanApplier(cluster.store, PlanQueue(), cluster.apply, cpu_fit)
    result = applier.apply(plan_for(cluster, {cluster.big.id: 2, cluster.small.id: 1}))
    assert result.refresh_index == 0
    assert result.full_commit(plan_for(cluster, {cluster.big.id: 2, cluster.small.id: 1}))[0]
    assert len(cluster.store.allocs_by_job("default", cluster.job.id)) == 3
    assert result.alloc_index == cluster.store.latest_index


def test_only_the_fitting_nodes_are_committed(cluster):
    applier = PlanApplier(cluster.store, PlanQueue(), cluster.apply, cpu_fit)
    # 2 x 600 MHz do not fit the 1000 MHz node; the big node's part still commits.
    result = applier.apply(plan_for(cluster, {cluster.big.id: 2, cluster.small.id: 2}))
    assert set(result.node_allocation) == {cluster.big.id}
    assert result.refresh_index > 0
    stored = cluster.store.allocs_by_job("default", cluster.job.id)
    assert {a.node_id for a in stored} == {cluster.big.id} and len(stored) == 2


def test_all_at_once_commits_nothing_unless_everything_fits(cluster):
    applier = PlanApplier(cluster.store, PlanQueue(), cluster.apply, cpu_fit)
    result = applier.apply(plan_for(cluster, {cluster.big.id: 2, cluster.small.id: 2},
                                    all_at_once=True))
    assert result.node_allocation == {} and result.refresh_index > 0
    assert cluster.store.allocs_by_job("default", cluster.job.id) == []


def test_existing_allocations_count_against_the_node(cluster):
    applier = PlanApplier(cluster.store, PlanQueue(), cluster.apply, cpu_fit)
    applier.apply(plan_for(cluster, {cluster.small.id: 1}))
    result = applier.apply(plan_for(cluster, {cluster.small.id: 1}))  # a second worker's plan
    assert result.node_allocation == {} and result.refresh_index > 0


def test_stopping_frees_room_in_the_same_plan(cluster):
    applier = PlanApplier(cluster.store, PlanQueue(), cluster.apply, cpu_fit)
    applier.apply(plan_for(cluster, {cluster.small.id: 1}))
    running = cluster.store.allocs_by_node(cluster.small.id)[0]
    plan = plan_for(cluster, {cluster.small.id: 1})
    plan.append_stopped_alloc(running, "replaced")
    result = applier.apply(plan)
    assert result.refresh_index == 0
    assert cluster.store.alloc_by_id(running.id).desired_status == "stop"


def test_a_down_node_takes_no_new_allocations_but_may_mark_them_lost(cluster):
    applier = PlanApplier(cluster.store, PlanQueue(), cluster.apply, cpu_fit)
    applier.apply(plan_for(cluster, {cluster.big.id: 1}))
    cluster.write(m.NodeUpdateStatusRequest(node_id=cluster.big.id, status="down"))
    result = applier.apply(plan_for(cluster, {cluster.big.id: 1}))
    assert result.node_allocation == {}
    lost = cluster.store.allocs_by_node(cluster.big.id)[0]
    plan = Plan(eval_id="e2", job=cluster.store.job_by_id("default", cluster.job.id))
    plan.append_stopped_alloc(lost, "node is down", client_status=AllocClientStatus.LOST)
    result = applier.apply(plan)
    assert cluster.store.alloc_by_id(lost.id).client_status == AllocClientStatus.LOST


def test_unknown_or_ineligible_nodes_reject_placements(cluster):
    snapshot = cluster.store.snapshot()
    plan = plan_for(cluster, {cluster.big.id: 1})
    alloc = plan.node_allocation.pop(cluster.big.id)[0]
    alloc.node_id = "no-such-node"
    plan.node_allocation["no-such-node"] = [alloc]
    result = evaluate_plan(snapshot, plan, cpu_fit)
    assert result.node_allocation == {} and result.refresh_index > 0
    cluster.write(m.NodeUpdateEligibilityRequest(node_id=cluster.big.id,
                                                 eligibility="ineligible"))
    result = evaluate_plan(cluster.store.snapshot(), plan_for(cluster, {cluster.big.id: 1}),
                           cpu_fit)
    assert result.node_allocation == {}


def test_the_job_travels_once_in_the_raft_message(cluster):
    applier = PlanApplier(cluster.store, PlanQueue(), cluster.apply, cpu_fit)
    applier.apply(plan_for(cluster, {cluster.big.id: 3}))
    msg_type, payload = cluster.payloads[-1]
    assert msg_type == MsgType.APPLY_PLAN_RESULTS
    data = json.loads(payload)
    assert data["Job"]["ID"] == cluster.job.id
    assert all(a["Job"] is None for allocs in data["NodeAllocation"].values() for a in allocs)
    stored = cluster.store.allocs_by_job("default", cluster.job.id)
    assert all(a.job is not None and a.create_time > 0 for a in stored)


def test_the_queue_serves_higher_priority_first_and_fails_plans_when_disabled():
    queue = PlanQueue()
    with pytest.raises(Unavailable):
        queue.enqueue(Plan(eval_id="x"))
    queue.set_enabled(True)
    low = queue.enqueue(Plan(eval_id="low", priority=10))
    high = queue.enqueue(Plan(eval_id="high", priority=90))
    assert queue.dequeue(timeout=0).plan.eval_id == "high"
    queue.set_enabled(False)
    with pytest.raises(Unavailable, match="leadership"):
        low.wait(timeout=1)
    assert high is not None


def test_the_applier_thread_answers_queued_plans(cluster):
    queue = PlanQueue()
    queue.set_enabled(True)
    applier = PlanApplier(cluster.store, queue, cluster.apply, cpu_fit)
    applier.start()
    try:
        pending = queue.enqueue(plan_for(cluster, {cluster.big.id: 1}))
        result = pending.wait(timeout=5)
        assert result.alloc_index > 0 and len(result.node_allocation[cluster.big.id]) == 1
    finally:
        applier.stop()
