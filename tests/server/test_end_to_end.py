"""The server with the real scheduler: jobs placed, stopped, rescheduled, replaced."""

from __future__ import annotations

import threading

import pytest

from nomadjail.server import Server
from nomadjail.structs import (
    Allocation,
    AllocDeploymentStatus,
    EvalStatus,
    NodeStatus,
    now_ns,
    parse_rfc3339,
    rfc3339,
)
from nomadjail.testing import mock_job, mock_node, mock_system_job, wait_for


@pytest.fixture
def server(make_server) -> Server:
    return make_server()  # nomadjail.scheduler's new_scheduler and allocs_fit


@pytest.fixture
def nodes(server):
    registered = [mock_node() for _ in range(3)]
    for node in registered:
        server.node_register(node)
    return registered


def live(server: Server, job_id: str) -> list[Allocation]:
    return [a for a in server.state.allocs_by_job("default", job_id) if not a.terminal_status()]


def wait_live(server: Server, job_id: str, count: int) -> list[Allocation]:
    wait_for(lambda: len(live(server, job_id)) == count, timeout=10,
             message=f"{count} live allocations of {job_id}")
    return live(server, job_id)


def test_a_registered_job_gets_its_allocations(server, nodes):
    job = mock_job(count=3)
    result = server.register_job(job)
    allocs = wait_live(server, job.id, 3)
    assert {a.node_id for a in allocs} <= {n.id for n in nodes}
    assert sorted(a.name for a in allocs) == [f"{job.id}.web[{i}]" for i in range(3)]
    assert all(a.eval_id == result.eval_id and a.job.version == 0 for a in allocs)
    assert all(a.allocated_resources.total_cpu() == 500 for a in allocs)
    wait_for(lambda: server.state.eval_by_id(result.eval_id).status == EvalStatus.COMPLETE,
             timeout=10, message="the eval to complete")
    summary = server.state.job_summary("default", job.id)
    assert summary.summary["web"].starting == 3


def test_stopping_a_job_stops_every_allocation(server, nodes):
    job = mock_job(count=3)
    server.register_job(job)
    wait_live(server, job.id, 3)
    server.deregister_job("default", job.id)
    wait_live(server, job.id, 0)
    assert {a.desired_status for a in server.state.allocs_by_job("default", job.id)} == {"stop"}
    wait_for(lambda: server.state.job_by_id("default", job.id).status == "dead", timeout=10,
             message="the job to be dead")


def test_a_failed_allocation_is_rescheduled_later(server, nodes):
    job = mock_job(count=2)
    server.register_job(job)
    alloc = wait_live(server, job.id, 2)[0]
    node = next(n for n in nodes if n.id == alloc.node_id)
    # As a client reports a failure inside a rollout: failed, and unhealthy.
    server.node_update_allocs(node.id, node.secret_id, [Allocation(
        id=alloc.id, client_status="failed",
        deployment_status=AllocDeploymentStatus(healthy=False, timestamp=rfc3339(now_ns())))])
    # The deployment watcher allows the replacement (the group has a progress
    # deadline and the policy has attempts left), and the scheduler, following
    # the policy's delay, asks for a delayed follow-up eval.
    followup_id = wait_for(lambda: server.state.alloc_by_id(alloc.id).followup_eval_id,
                           timeout=10, message="a delayed follow-up eval")
    assert server.state.alloc_by_id(alloc.id).desired_transition.reschedule is True
    followup = server.state.eval_by_id(followup_id)
    assert followup.status == EvalStatus.PENDING and followup.triggered_by == "alloc-failure"
    assert parse_rfc3339(followup.wait_until) > followup.create_time
    deployment = server.state.latest_deployment_by_job("default", job.id)
    assert deployment.status == "running"
    assert deployment.task_groups["web"].unhealthy_allocs == 1


def test_allocations_of_a_node_that_went_down_are_replaced(make_server):
    server = make_server(min_heartbeat_ttl=0.3, heartbeat_grace=0.3)
    silent, steady = mock_node(), [mock_node(), mock_node()]
    for node in (silent, *steady):
        server.node_register(node)
    stop = threading.Event()

    def beat() -> None:  # the steady nodes' clients keep sending heartbeats
        while not stop.wait(0.05):
            for node in steady:
                server.node_update_status(node.id, node.secret_id, NodeStatus.READY)

    thread = threading.Thread(target=beat)
    thread.start()
    try:
        job = mock_job(count=5, cpu=1000, memory_mb=64)  # at most 4 fit one node
        server.register_job(job)
        wait_live(server, job.id, 5)
        wait_for(lambda: server.state.node_by_id(silent.id).status == NodeStatus.DOWN,
                 timeout=10, message="the silent node to go down")
        steady_ids = {n.id for n in steady}
        wait_for(lambda: len(live(server, job.id)) == 5
                 and {a.node_id for a in live(server, job.id)} <= steady_ids, timeout=10,
                 message="every allocation to run on the steady nodes")
        lost = server.state.allocs_by_node(silent.id)
        assert lost and all(a.client_status == "lost" for a in lost)
    finally:
        stop.set()
        thread.join()


def test_plan_shows_what_would_happen_and_writes_nothing(server, nodes):
    job = mock_job(count=2)
    before = server.state.latest_index
    plan = server.plan_job(job, diff=True)
    assert plan.annotations.desired_tg_updates["web"].place == 2
    assert plan.failed_tg_allocs == {}
    assert plan.diff["TaskGroups"][0]["Updates"] == {"create": 2}
    assert server.state.latest_index == before
    too_big = mock_job(count=1, cpu=1_000_000)
    plan = server.plan_job(too_big)
    assert "web" in plan.failed_tg_allocs
    assert plan.to_api()["FailedTGAllocs"]["web"]["NodesEvaluated"] >= 1


def test_a_job_blocked_for_capacity_runs_when_a_big_node_joins(server, nodes):
    job = mock_job(count=1, cpu=10_000)
    server.register_job(job)
    wait_for(lambda: any(e.status == EvalStatus.BLOCKED
                         for e in server.state.evals_by_job("default", job.id)),
             timeout=10, message="a blocked eval")
    big = mock_node(cpu=20_000)
    server.node_register(big)
    [alloc] = wait_live(server, job.id, 1)
    assert alloc.node_id == big.id


def test_a_system_job_runs_on_every_node_including_new_ones(server, nodes):
    job = mock_system_job()
    server.register_job(job)
    allocs = wait_live(server, job.id, 3)
    assert {a.node_id for a in allocs} == {n.id for n in nodes}
    newcomer = mock_node()
    server.node_register(newcomer)
    allocs = wait_live(server, job.id, 4)
    assert newcomer.id in {a.node_id for a in allocs}


def test_stopping_a_job_that_could_not_be_placed_cancels_its_blocked_eval(server, nodes):
    job = mock_job(count=1, cpu=1_000_000)  # fits nowhere
    server.register_job(job)
    blocked = wait_for(lambda: [e for e in server.state.evals_by_job("default", job.id)
                                if e.status == EvalStatus.BLOCKED], timeout=10,
                       message="a blocked eval")[0]
    wait_for(lambda: server.blocked.stats().total_blocked == 1, timeout=10,
             message="the blocked eval to be tracked")

    stop = server.deregister_job("default", job.id)

    wait_for(lambda: server.state.eval_by_id(blocked.id).status == EvalStatus.CANCELED,
             timeout=10, message="the blocked eval to be canceled")
    canceled = server.state.eval_by_id(blocked.id)
    assert canceled.status_description == f'evaluation "{stop.eval_id}" successful'
    wait_for(lambda: server.state.job_by_id("default", job.id).status == "dead", timeout=10,
             message="the job to be dead")
    assert server.blocked.stats().total_blocked == 0
    # A node with room joining later does not bring the stopped job back.
    server.node_register(mock_node(cpu=2_000_000))
    assert server.blocked.stats().total_blocked == 0
    assert live(server, job.id) == []


def test_a_node_gets_nomads_events_for_registration_and_missed_heartbeats(make_server):
    server = make_server(min_heartbeat_ttl=0.2, heartbeat_grace=0.2)
    node = mock_node()
    server.node_register(node)
    wait_for(lambda: server.state.node_by_id(node.id).status == NodeStatus.DOWN, timeout=10,
             message="the node to miss its heartbeat")
    server.node_register(node)
    events = server.state.node_by_id(node.id).events
    assert [(e.subsystem, e.message) for e in events] == [
        ("Cluster", "Node registered"), ("Cluster", "Node heartbeat missed"),
        ("Cluster", "Node re-registered")]
    assert all(parse_rfc3339(e.timestamp) > 0 for e in events)
