"""The Server facade with a fake scheduler: what each operation writes and triggers."""

from __future__ import annotations

import dataclasses

import pytest

from nomadjail.server import Server
from nomadjail.structs import (
    Allocation,
    BadRequest,
    Conflict,
    DrainStrategy,
    EvalStatus,
    NotFound,
    PermissionDenied,
    ValidationError,
    to_api,
)
from nomadjail.testing import mock_job, mock_node, wait_for


@pytest.fixture
def server(make_server, fake_scheduler) -> Server:
    return make_server(**fake_scheduler)


def live_allocs(server: Server, job_id: str) -> list[Allocation]:
    return [a for a in server.state.allocs_by_job("default", job_id) if not a.terminal_status()]


def placed(server: Server, job_id: str, count: int) -> list[Allocation]:
    wait_for(lambda: len(live_allocs(server, job_id)) == count, timeout=10,
             message=f"{count} live allocations of {job_id}")
    return live_allocs(server, job_id)


def eval_done(server: Server, eval_id: str) -> None:
    wait_for(lambda: (ev := server.state.eval_by_id(eval_id)) and ev.terminal_status(),
             timeout=10, message=f"eval {eval_id} to finish")


def register_nodes(server: Server, count: int = 2, **kwargs) -> list:
    nodes = [mock_node(**kwargs) for _ in range(count)]
    for node in nodes:
        server.node_register(node)
    return nodes


# -- jobs ------------------------------------------------------------------------
def test_register_stores_the_job_with_its_eval_and_allocations_follow(server):
    register_nodes(server)
    job = mock_job(count=3)
    result = server.register_job(job)
    stored = server.state.job_by_id("default", job.id)
    ev = server.state.eval_by_id(result.eval_id)
    assert stored.job_modify_index == result.job_modify_index == result.index
    assert ev.create_index == result.eval_create_index == result.index
    assert ev.triggered_by == "job-register" and ev.type == "service"
    assert len(placed(server, job.id, 3)) == 3
    eval_done(server, result.eval_id)
    assert server.state.eval_by_id(result.eval_id).status == EvalStatus.COMPLETE
    assert result.to_api().keys() >= {"EvalID", "EvalCreateIndex", "JobModifyIndex",
                                      "Warnings", "Index"}


def test_an_invalid_job_changes_nothing(server):
    before = server.state.latest_index
    job = mock_job()
    job.task_groups[0].tasks[0].driver = ""
    job.priority = 1000
    with pytest.raises(ValidationError) as err:
        server.register_job(job)
    assert len(err.value.errors) == 2
    assert "Missing task driver" in str(err.value)
    assert server.state.latest_index == before and server.state.jobs() == []


def test_injected_validators_reject_the_job(make_server, fake_scheduler):
    def no_date(job):
        return [f"task {t.name}: /bin/date is not allowed" for g in job.task_groups
                for t in g.tasks if t.config.get("command") == "/bin/date"]

    server = make_server(job_validators=[no_date], **fake_scheduler)
    with pytest.raises(ValidationError, match="/bin/date is not allowed"):
        server.register_job(mock_job())
    assert server.state.jobs() == []


def test_enforce_index(server):
    job = mock_job()
    with pytest.raises(Conflict, match="job does not exist"):
        server.register_job(job, enforce_index=5)
    first = server.register_job(job, enforce_index=0)
    with pytest.raises(Conflict, match="already exists"):
        server.register_job(job, enforce_index=0)
    with pytest.raises(Conflict, match=f"conflicting job modify index: {first.job_modify_index}"):
        server.register_job(job, enforce_index=first.job_modify_index + 100)
    changed = job.copy()
    changed.task_groups[0].count = 2
    second = server.register_job(changed, enforce_index=first.job_modify_index)
    assert second.job_modify_index > first.job_modify_index


def test_preserve_counts_keeps_the_running_counts(server):
    job = mock_job(count=4)
    server.register_job(job)
    update = job.copy()
    update.task_groups[0].count = 1
    update.meta = {"release": "2"}
    server.register_job(update, preserve_counts=True)
    stored = server.state.job_by_id("default", job.id)
    assert stored.task_groups[0].count == 4 and stored.meta == {"release": "2"}


def test_deregister_stops_the_allocations(server):
    register_nodes(server)
    job = mock_job(count=2)
    server.register_job(job)
    placed(server, job.id, 2)
    result = server.deregister_job("default", job.id)
    ev = server.state.eval_by_id(result.eval_id)
    assert ev.triggered_by == "job-deregister"
    assert server.state.job_by_id("default", job.id).stop is True
    placed(server, job.id, 0)
    stopped = server.state.allocs_by_job("default", job.id)
    assert {a.desired_status for a in stopped} == {"stop"}


def test_purge_removes_the_job_and_stopping_a_missing_job_is_a_no_op(server):
    job = mock_job(count=1)
    server.register_job(job)
    result = server.deregister_job("default", job.id, purge=True)
    assert result.eval_id and server.state.job_by_id("default", job.id) is None
    nothing = server.deregister_job("default", "never-existed")
    assert nothing.eval_id == "" and nothing.eval_create_index == 0


def test_evaluate_job_creates_a_new_eval(server):
    job = mock_job(count=1)
    server.register_job(job)
    result = server.evaluate_job("default", job.id)
    assert server.state.eval_by_id(result.eval_id).job_id == job.id
    with pytest.raises(NotFound):
        server.evaluate_job("default", "nope")


def test_plan_writes_nothing(server):
    register_nodes(server)
    job = mock_job(count=2)
    before = server.state.latest_index
    result = server.plan_job(job, diff=True)
    assert server.state.latest_index == before and server.state.jobs() == []
    assert result.job_modify_index == 0 and result.diff["Type"] == "Added"
    assert result.index == before
    assert result.to_api()["Diff"]["ID"] == job.id


# -- blocked evals and capacity ------------------------------------------------------
def test_a_job_without_capacity_blocks_until_a_node_arrives(server):
    job = mock_job(count=2)
    result = server.register_job(job)
    eval_done(server, result.eval_id)
    blocked = wait_for(lambda: [e for e in server.state.evals_by_job("default", job.id)
                                if e.status == EvalStatus.BLOCKED], timeout=10,
                       message="a blocked eval")
    assert blocked[0].previous_eval == result.eval_id
    register_nodes(server, 1)
    assert len(placed(server, job.id, 2)) == 2


# -- allocations -----------------------------------------------------------------
def test_stop_alloc_replaces_it(server):
    register_nodes(server)
    job = mock_job(count=1)
    server.register_job(job)
    [alloc] = placed(server, job.id, 1)
    result = server.stop_alloc(alloc.id)
    assert server.state.eval_by_id(result.eval_id).triggered_by == "alloc-stop"
    replacement = wait_for(lambda: [a for a in live_allocs(server, job.id) if a.id != alloc.id],
                           timeout=10, message="a replacement")
    assert replacement[0].name == alloc.name
    assert server.state.alloc_by_id(alloc.id).desired_status == "stop"
    with pytest.raises(NotFound):
        server.stop_alloc("no-such-alloc")


# -- client RPCs ---------------------------------------------------------------------
def test_client_rpcs_need_the_node_secret(server):
    [node] = register_nodes(server, 1)
    with pytest.raises(PermissionDenied):
        server.node_update_status(node.id, "wrong", "ready")
    with pytest.raises(PermissionDenied):
        server.client_allocs(node.id, "")
    impostor = dataclasses.replace(node, secret_id="another-secret")
    with pytest.raises(PermissionDenied):
        server.node_register(impostor)
    with pytest.raises(NotFound):
        server.node_update_status("unknown-node", "x", "ready")
    assert server.node_update_status(node.id, node.secret_id, "ready").heartbeat_ttl > 0


def test_registration_validates_and_answers_like_nomad(server):
    bad = mock_node()
    bad.secret_id = ""
    bad.datacenter = ""
    with pytest.raises(BadRequest, match="missing datacenter.*missing node secret ID"):
        server.node_register(bad)
    node = mock_node()
    node.status = ""
    response = server.node_register(node)
    stored = server.state.node_by_id(node.id)
    assert stored.status == "ready" and stored.computed_class.startswith("v1:")
    api = to_api(response)
    assert api["NumNodes"] == 1 and api["LeaderRPCAddr"] == server.config.rpc_advertise
    assert api["Servers"] == [server.config.rpc_advertise]
    assert server.config.min_heartbeat_ttl * 1e9 <= api["HeartbeatTTL"]


def test_client_reads_its_allocations(server):
    [node] = register_nodes(server, 1)
    job = mock_job(count=2)
    server.register_job(job)
    allocs = placed(server, job.id, 2)
    index_by_id = server.client_allocs(node.id, node.secret_id)
    assert index_by_id == {a.id: a.alloc_modify_index for a in allocs}
    fetched = server.get_allocs(node.id, node.secret_id, [allocs[1].id, "gone", allocs[0].id])
    assert [a.id for a in fetched] == [allocs[1].id, allocs[0].id]
    assert all(a.job is not None for a in fetched)


def test_a_failed_allocation_triggers_a_reschedule_eval(server):
    [node] = register_nodes(server, 1)
    job = mock_job(count=1)
    server.register_job(job)
    [alloc] = placed(server, job.id, 1)
    index = server.node_update_allocs(node.id, node.secret_id, [Allocation(
        id=alloc.id, client_status="failed", client_description="exit 1")])
    stored = server.state.alloc_by_id(alloc.id)
    assert stored.client_status == "failed" and stored.modify_index == index
    retries = [e for e in server.state.evals_by_job("default", job.id)
               if e.triggered_by == "alloc-failure"]
    assert len(retries) == 1
    # A second report of the same failure creates no second eval.
    server.node_update_allocs(node.id, node.secret_id, [Allocation(id=alloc.id,
                                                                   client_status="failed")])
    assert len([e for e in server.state.evals_by_job("default", job.id)
                if e.triggered_by == "alloc-failure"]) == 1


def test_no_reschedule_eval_for_a_stopped_job(server):
    [node] = register_nodes(server, 1)
    job = mock_job(count=1)
    server.register_job(job)
    [alloc] = placed(server, job.id, 1)
    server.deregister_job("default", job.id)
    server.node_update_allocs(node.id, node.secret_id, [Allocation(id=alloc.id,
                                                                   client_status="failed")])
    assert not [e for e in server.state.evals_by_job("default", job.id)
                if e.triggered_by == "alloc-failure"]


def test_bad_client_status_is_rejected(server):
    [node] = register_nodes(server, 1)
    with pytest.raises(BadRequest, match="invalid client status 'exploded'"):
        server.node_update_allocs(node.id, node.secret_id, [Allocation(id="x",
                                                                       client_status="exploded")])


# -- drain and eligibility -------------------------------------------------------------
def test_eligibility_toggle(server):
    [node] = register_nodes(server, 1)
    server.set_node_eligibility(node.id, False)
    assert server.state.node_by_id(node.id).scheduling_eligibility == "ineligible"
    server.set_node_eligibility(node.id, True)
    assert server.state.node_by_id(node.id).scheduling_eligibility == "eligible"
    server.drain_node(node.id, DrainStrategy(deadline=0))
    with pytest.raises(BadRequest, match="while it is draining"):
        server.set_node_eligibility(node.id, True)
    server.drain_node(node.id, None, mark_eligible=True)
    assert server.state.node_by_id(node.id).scheduling_eligibility == "eligible"
    with pytest.raises(NotFound):
        server.set_node_eligibility("nope", True)


# -- failures in scheduling ------------------------------------------------------------
def test_a_failing_scheduler_gets_the_eval_again_then_gives_up(make_server, fake_scheduler,
                                                               fake_scheduler_class):
    fake_scheduler_class.fail_with = RuntimeError("scheduler bug")
    server = make_server(eval_initial_nack_delay=0.0, eval_subsequent_nack_delay=0.0,
                         eval_delivery_limit=2, failed_followup_delay=3600,
                         failed_followup_jitter=0, **fake_scheduler)
    result = server.register_job(mock_job(count=1))
    failed = wait_for(lambda: (ev := server.state.eval_by_id(result.eval_id))
                      and ev.status == EvalStatus.FAILED and ev, timeout=10,
                      message="the eval to be marked failed")
    assert fake_scheduler_class.calls.count(result.eval_id) == 2
    assert "delivery limit (2)" in failed.status_description
    followup = server.state.eval_by_id(failed.next_eval)
    assert followup.triggered_by == "failed-follow-up" and followup.wait == 3600 * 10**9
    assert followup.status == EvalStatus.PENDING


# -- cluster status --------------------------------------------------------------------
def test_status_of_a_single_server(server):
    assert server.is_leader()
    assert server.leader_rpc_addr() == server.config.rpc_advertise
    assert server.peers() == [server.config.rpc_advertise]
    [member] = wait_for(lambda: (ms := server.members()) and ms[0].name.startswith("server")
                        and ms, timeout=5, message="the member list")
    assert member.name == f"{server.config.node_name}.global"
    assert member.status == "alive" and member.tags["role"] == "nomad"
    assert member.to_api()["Tags"]["region"] == "global"


def test_ipv6_peers_and_members_are_spelt_as_nomad_does():
    """Raft addresses are PySyncObj's ``fd00::6:4648``; RPC addresses go out in the
    network form (``[fd00::6]:4647``), member addresses bare."""
    from nomadjail.server.config import ServerConfig

    server = Server(ServerConfig(node_name="six", rpc_advertise="[fd00::5]:4647",
                                 raft_bind=":::4648", raft_advertise="fd00::5:4648",
                                 raft_peers=["fd00::6:4648", "fd00::7:4648"],
                                 bootstrap_expect=3, num_schedulers=0))
    assert server.peers() == ["[fd00::5]:4647", "[fd00::6]:4647", "[fd00::7]:4647"]
    assert sorted((m.addr, m.port, m.tags["rpc_addr"], m.tags["port"])
                  for m in server.members()) == [
        ("fd00::5", 4648, "fd00::5", "4647"), ("fd00::6", 4648, "fd00::6", "4647"),
        ("fd00::7", 4648, "fd00::7", "4647")]
