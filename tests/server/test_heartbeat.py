"""Heartbeats: TTLs, and a silent node goes down and loses its allocations."""

from __future__ import annotations

import threading

import pytest

from nomadjail.server.heartbeat import Heartbeats, NotLeaderForHeartbeats, rate_scaled_interval
from nomadjail.structs import NodeStatus, Unavailable
from nomadjail.testing import mock_job, mock_node, wait_for


def test_ttl_grows_with_the_cluster_but_never_below_the_minimum():
    assert rate_scaled_interval(50.0, 10.0, 100) == 10.0
    assert rate_scaled_interval(50.0, 10.0, 5000) == 100.0
    assert rate_scaled_interval(0.0, 10.0, 5000) == 10.0


@pytest.fixture
def heartbeats():
    expired: list[str] = []
    hb = Heartbeats(min_ttl=0.1, grace=0.1, max_per_second=50.0, failover_ttl=30.0,
                    on_expire=expired.append)
    hb.expired = expired
    yield hb
    hb.close()


def test_only_the_leader_tracks_heartbeats(heartbeats):
    with pytest.raises(NotLeaderForHeartbeats):
        heartbeats.reset("n1")
    assert isinstance(NotLeaderForHeartbeats(), Unavailable)


def test_a_node_that_stops_beating_expires(heartbeats):
    heartbeats.set_enabled(True)
    ttl = heartbeats.reset("n1")
    assert 0.1 <= ttl < 0.2  # the minimum plus up to as much stagger
    wait_for(lambda: heartbeats.expired == ["n1"], timeout=5, message="n1 to expire")
    assert not heartbeats.tracked("n1")


def test_beating_keeps_a_node_alive_and_clear_stops_tracking(heartbeats):
    heartbeats.set_enabled(True)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(0.02):
            heartbeats.reset("alive")

    heartbeats.reset("alive")
    heartbeats.reset("cleared")
    heartbeats.clear("cleared")
    heartbeats.reset("silent")
    thread = threading.Thread(target=beat)
    thread.start()
    try:
        wait_for(lambda: "silent" in heartbeats.expired, timeout=5, message="silent to expire")
        assert heartbeats.tracked("alive") and "alive" not in heartbeats.expired
        assert "cleared" not in heartbeats.expired
    finally:
        stop.set()
        thread.join()


def test_a_new_leader_gives_every_node_the_failover_ttl(heartbeats):
    heartbeats.set_enabled(True)
    heartbeats.reset_all(["a", "b"])
    assert heartbeats.remaining("a") > 20 and heartbeats.remaining("b") > 20
    heartbeats.set_enabled(False)
    assert not heartbeats.tracked("a")


def test_a_silent_node_goes_down_and_its_allocations_are_replaced(make_server, fake_scheduler):
    server = make_server(min_heartbeat_ttl=0.2, heartbeat_grace=0.2, **fake_scheduler)
    silent, steady = mock_node(), mock_node()
    for node in (silent, steady):
        server.node_register(node)
    stop = threading.Event()

    def beat() -> None:  # the steady node's client keeps sending heartbeats
        while not stop.wait(0.05):
            server.node_update_status(steady.id, steady.secret_id, NodeStatus.READY)

    thread = threading.Thread(target=beat)
    thread.start()
    try:
        job = mock_job(count=4)
        server.register_job(job)
        wait_for(lambda: len(server.state.allocs_by_node(silent.id)) == 2, timeout=10,
                 message="allocations on the silent node")
        # TTL <= 0.4 s, plus 0.2 s grace: the node is down well within the deadline.
        wait_for(lambda: server.state.node_by_id(silent.id).status == NodeStatus.DOWN,
                 timeout=5, message="the silent node to be marked down")
        down = server.state.node_by_id(silent.id)
        assert down.events[-1].message == "Node heartbeat missed"
        node_evals = [e for e in server.state.evals_by_job("default", job.id)
                      if e.triggered_by == "node-update"]
        assert [e.node_id for e in node_evals] == [silent.id]
        wait_for(lambda: all(a.client_status == "lost"
                             for a in server.state.allocs_by_node(silent.id)), timeout=10,
                 message="the silent node's allocations to be lost")
        live = wait_for(lambda: len(ls := [a for a in server.state.allocs_by_job("default",
                                                                                job.id)
                                           if not a.terminal_status()]) == 4 and ls,
                        timeout=10, message="four live allocations again")
        assert {a.node_id for a in live} == {steady.id}
        assert server.state.node_by_id(steady.id).status == NodeStatus.READY
    finally:
        stop.set()
        thread.join()


def test_a_heartbeat_after_going_down_brings_the_node_back(make_server, fake_scheduler):
    server = make_server(min_heartbeat_ttl=0.1, heartbeat_grace=0.1, **fake_scheduler)
    node = mock_node()
    server.node_register(node)
    wait_for(lambda: server.state.node_by_id(node.id).status == NodeStatus.DOWN, timeout=5,
             message="the node to be marked down")
    assert not server.heartbeats.tracked(node.id)
    response = server.node_update_status(node.id, node.secret_id, NodeStatus.READY)
    assert response.heartbeat_ttl > 0
    back = server.state.node_by_id(node.id)
    assert back.status == NodeStatus.READY
    assert back.events[-1].message == "Node reregistered by heartbeat"
