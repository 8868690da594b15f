"""Drains on a real in-process server: the drainer marks allocations batch by batch
as their replacements report health, forces what is left at the deadline, and ends
the drain with Nomad's node event.  A small stand-in plays the clients' part
(reporting allocations running, healthy, stopped); the fake scheduler of conftest
stops what is marked and places what is missing."""

from __future__ import annotations

import pytest

from nomadjail.server import Server
from nomadjail.structs import (
    SECOND,
    ZERO_TIME,
    Allocation,
    AllocClientStatus,
    AllocDeploymentStatus,
    BadRequest,
    DrainStrategy,
    MigrateStrategy,
    Node,
    NotFound,
    parse_rfc3339,
    rfc3339,
)
from nomadjail.testing import mock_job, mock_node, wait_for

HOUR = 3600 * SECOND


@pytest.fixture
def server(make_server, fake_scheduler) -> Server:
    return make_server(**fake_scheduler)


class Clients:
    """What the client agents would report: allocations the server stopped have
    stopped, new ones run, and become healthy when the test says so."""

    def __init__(self, server: Server, nodes: list[Node]):
        self.server = server
        self.nodes = {n.id: n for n in nodes}

    def sync(self, healthy: bool = False) -> int:
        index = self.server.state.latest_index
        for node_id, node in self.nodes.items():
            updates = []
            for alloc in self.server.state.allocs_by_node(node_id):
                if alloc.client_terminal():
                    continue
                if alloc.server_terminal():
                    updates.append(Allocation(id=alloc.id,
                                              client_status=AllocClientStatus.COMPLETE))
                elif alloc.client_status == AllocClientStatus.PENDING or (
                        healthy and alloc.deployment_status is None):
                    updates.append(Allocation(
                        id=alloc.id, client_status=AllocClientStatus.RUNNING,
                        deployment_status=AllocDeploymentStatus(healthy=True) if healthy
                        else None))
            if updates:
                index = self.server.node_update_allocs(node_id, node.secret_id, updates)
        return index


def live(server: Server, job_id: str) -> list[Allocation]:
    return [a for a in server.state.allocs_by_job("default", job_id) if not a.terminal_status()]


def marked(server: Server, node: Node) -> list[Allocation]:
    return [a for a in server.state.allocs_by_node(node.id) if a.desired_transition.migrate]


def drainer_saw(server: Server, index: int) -> None:
    wait_for(lambda: server.leader.drainer.decided_through >= index, timeout=10,
             message=f"the drainer to look at index {index}")


def three_on_one_node(server: Server, max_parallel: int = 1) -> tuple[Node, Node, str]:
    old = mock_node()
    server.node_register(old)
    job = mock_job(count=3)
    job.task_groups[0].migrate = MigrateStrategy(max_parallel=max_parallel)
    server.register_job(job)
    wait_for(lambda: len(live(server, job.id)) == 3, timeout=10, message="3 allocations")
    new = mock_node()
    server.node_register(new)
    return old, new, job.id


def test_one_allocation_at_a_time_each_after_its_replacement_is_healthy(server):
    old, new, job_id = three_on_one_node(server)
    clients = Clients(server, [old, new])
    clients.sync(healthy=True)

    server.drain_node(old.id, DrainStrategy(deadline=HOUR))
    for moved in range(1, 4):
        wait_for(lambda n=moved: len(marked(server, old)) == n, timeout=10,
                 message=f"allocation {moved} marked for migration")
        # Its replacement runs but is not healthy yet: the next one must wait.
        wait_for(lambda n=moved: len([a for a in live(server, job_id)
                                      if a.node_id == new.id]) == n, timeout=10,
                 message=f"replacement {moved} placed")
        drainer_saw(server, clients.sync())
        assert len(marked(server, old)) == moved
        clients.sync(healthy=True)

    node = wait_for(lambda: (n := server.state.node_by_id(old.id)).drain_strategy is None and n,
                    timeout=10, message="the drain to complete")
    assert node.scheduling_eligibility == "ineligible"
    assert (node.events[-1].message, node.events[-1].details) == ("Node drain complete", {})
    assert {a.node_id for a in live(server, job_id)} == {new.id}


def test_max_parallel_moves_that_many_together(server):
    old, new, _ = three_on_one_node(server, max_parallel=2)
    clients = Clients(server, [old, new])
    clients.sync(healthy=True)
    server.drain_node(old.id, DrainStrategy(deadline=HOUR))
    wait_for(lambda: len(marked(server, old)) == 2, timeout=10, message="two marked")
    drainer_saw(server, clients.sync())
    assert len(marked(server, old)) == 2


def test_force_moves_everything_at_once_and_says_the_deadline_ended_it(server):
    old, new, job_id = three_on_one_node(server)
    clients = Clients(server, [old, new])
    clients.sync()  # running, no health: a normal drain could not start
    server.drain_node(old.id, DrainStrategy(deadline=-SECOND))
    node = wait_for(lambda: (n := server.state.node_by_id(old.id)).drain_strategy is None and n,
                    timeout=10, message="the forced drain to complete")
    assert len(marked(server, old)) == 3
    assert node.events[-1].details == {"deadline_reached": "true"}
    wait_for(lambda: {a.node_id for a in live(server, job_id)} == {new.id}, timeout=10,
             message="everything moved")


def test_the_deadline_forces_what_is_left(server):
    old, new, _ = three_on_one_node(server)
    clients = Clients(server, [old, new])
    clients.sync()
    server.drain_node(old.id, DrainStrategy(deadline=SECOND))
    assert marked(server, old) == []  # nothing is healthy: nothing may move yet
    node = wait_for(lambda: (n := server.state.node_by_id(old.id)).drain_strategy is None and n,
                    timeout=10, message="the deadline to end the drain")
    assert len(marked(server, old)) == 3
    assert node.events[-1].details == {"deadline_reached": "true"}


def test_drain_updates_record_nomads_events_and_keep_the_start_time(server):
    node = mock_node()
    server.node_register(node)
    server.drain_node(node.id, DrainStrategy(deadline=0, ignore_system_jobs=True))
    first = server.state.node_by_id(node.id)
    assert first.drain_strategy.force_deadline == ZERO_TIME  # -no-deadline
    # An empty node is done at once; drain again with something to wait for.
    wait_for(lambda: server.state.node_by_id(node.id).drain_strategy is None, timeout=10,
             message="the drain of an empty node to complete")
    server.set_node_eligibility(node.id, True)
    job = mock_job(count=1)
    job.task_groups[0].migrate = MigrateStrategy(max_parallel=0)
    server.register_job(job)
    wait_for(lambda: live(server, job.id), timeout=10, message="an allocation")

    server.drain_node(node.id, DrainStrategy(deadline=HOUR))
    started = server.state.node_by_id(node.id).drain_strategy.started_at
    server.drain_node(node.id, DrainStrategy(deadline=2 * HOUR))
    updated = server.state.node_by_id(node.id)
    assert updated.drain_strategy.started_at == started
    assert updated.drain_strategy.deadline == 2 * HOUR
    server.drain_node(node.id, None, mark_eligible=False)
    stopped = server.state.node_by_id(node.id)
    assert stopped.scheduling_eligibility == "ineligible" and stopped.drain_strategy is None
    messages = [e.message for e in stopped.events if e.subsystem == "Drain"]
    assert messages == ["Node drain strategy set", "Node drain complete",
                        "Node drain strategy set", "Node drain strategy updated",
                        "Node drain disabled"]


def test_disabling_a_drain_that_is_not_there_records_nothing(server):
    node = mock_node()
    server.node_register(node)
    server.drain_node(node.id, None, mark_eligible=True)
    assert not [e for e in server.state.node_by_id(node.id).events if e.subsystem == "Drain"]


def test_bad_drain_requests_change_nothing(server):
    node = mock_node()
    server.node_register(node)
    before = server.state.latest_index
    with pytest.raises(NotFound, match="nope"):
        server.drain_node("nope", DrainStrategy(deadline=HOUR))
    with pytest.raises(BadRequest, match="DrainSpec.Deadline: .* out of range"):
        server.drain_node(node.id, DrainStrategy(deadline=2**63))
    assert server.state.latest_index == before


def test_force_deadline_is_the_start_plus_the_deadline(server):
    node = mock_node()
    server.node_register(node)
    job = mock_job(count=1)
    job.task_groups[0].migrate = MigrateStrategy(max_parallel=0)
    server.register_job(job)
    wait_for(lambda: live(server, job.id), timeout=10, message="an allocation")
    server.drain_node(node.id, DrainStrategy(deadline=HOUR))
    strategy = server.state.node_by_id(node.id).drain_strategy
    assert strategy.force_deadline == rfc3339(parse_rfc3339(strategy.started_at) + HOUR)


def test_the_last_drain_keeps_the_operators_metadata_and_how_it_ended(server):
    old, new, _ = three_on_one_node(server)
    clients = Clients(server, [old, new])
    clients.sync()
    server.drain_node(old.id, DrainStrategy(deadline=HOUR), meta={"message": "kernel"})
    draining = server.state.node_by_id(old.id).last_drain
    assert (draining.status, draining.meta) == ("draining", {"message": "kernel"})
    server.drain_node(old.id, None, meta={"message": "kernel", "cancel_message": "later"})
    canceled = server.state.node_by_id(old.id).last_drain
    assert (canceled.status, canceled.started_at) == ("canceled", draining.started_at)
    assert canceled.meta == {"message": "kernel", "cancel_message": "later"}

    server.drain_node(old.id, DrainStrategy(deadline=-SECOND))  # -force: over at once
    done = wait_for(lambda: (n := server.state.node_by_id(old.id)).drain_strategy is None
                    and n.last_drain, timeout=10, message="the forced drain to complete")
    assert done.status == "complete" and done.meta is None
    server.node_register(old)  # a client re-registering keeps what the servers know
    assert server.state.node_by_id(old.id).last_drain == done
