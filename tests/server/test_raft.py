"""Raft: single-node applies, restarts from the data dir, a three-server cluster."""

from __future__ import annotations

import base64
import os
import threading

import pytest

from nomadjail.server import Server, ServerConfig
from nomadjail.server import messages as m
from nomadjail.server import raft as raft_module
from nomadjail.server.fsm import FSM, MsgType
from nomadjail.server.raft import Raft, RaftError
from nomadjail.state import StateStore
from nomadjail.structs import EvalStatus, NotFound, Unavailable
from nomadjail.testing import free_port, mock_eval, mock_job, mock_node, wait_for


@pytest.fixture
def raft():
    node = Raft(FSM(StateStore()), bind=f"127.0.0.1:{free_port()}")
    node.start()
    yield node
    node.shutdown()


def test_a_single_server_elects_itself_and_applies(raft):
    assert raft.wait_for_leader(5) and raft.is_leader()
    assert raft.leader() == raft.bind
    job = mock_job()
    index, stored = raft.apply(MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(
        job=job, eval=mock_eval(job))))
    assert stored.id == job.id and stored.create_index == index
    assert raft.fsm.store.job_by_id("default", job.id).modify_index == index
    barrier_index, _ = raft.apply(MsgType.BARRIER, m.encode(m.BarrierRequest()))
    assert barrier_index == index + 1


def test_the_fsm_error_is_raised_in_the_caller(raft):
    raft.wait_for_leader(5)
    with pytest.raises(NotFound):
        raft.apply(MsgType.JOB_DEREGISTER, m.encode(m.JobDeregisterRequest(
            namespace="default", job_id="missing")))


def test_concurrent_applies_all_commit_in_some_order(raft):
    raft.wait_for_leader(5)
    indexes: list[int] = []

    def write() -> None:
        for _ in range(20):
            indexes.append(raft.apply(MsgType.BARRIER, "{}")[0])

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(indexes) == list(range(1, 81))


def test_no_applies_once_shut_down(raft):
    raft.wait_for_leader(5)
    raft.shutdown()
    with pytest.raises(Unavailable):
        raft.apply(MsgType.BARRIER, "{}")


def test_a_taken_raft_address_is_a_clear_error(raft):
    other = Raft(FSM(StateStore()), bind=raft.bind)
    with pytest.raises(RaftError, match="cannot bind the raft address"):
        other.start()


def populate(server: Server) -> dict:
    nodes = [mock_node() for _ in range(2)]
    for node in nodes:
        server.node_register(node)
    job = mock_job(count=3)
    result = server.register_job(job)
    wait_for(lambda: len(server.state.allocs_by_job("default", job.id)) == 3
             and server.state.eval_by_id(result.eval_id).status == EvalStatus.COMPLETE,
             timeout=10, message="the job to be placed")
    blocked_job = mock_job(count=1, cpu=100_000)  # fits nowhere: a blocked eval
    server.register_job(blocked_job)
    # A blocked eval, and the eval that made it finished (nothing left in flight).
    wait_for(lambda: sorted(e.status for e in server.state.evals_by_job(
        "default", blocked_job.id)) == [EvalStatus.BLOCKED, EvalStatus.COMPLETE],
        timeout=10, message="a blocked eval")
    return {"job": job, "nodes": nodes}


@pytest.mark.parametrize("final_snapshot", [True, False], ids=["snapshot", "journal-only"])
def test_a_restarted_server_has_everything(tmp_path, make_server, fake_scheduler,
                                           final_snapshot):
    data_dir = str(tmp_path / "data")
    raft_bind = f"127.0.0.1:{free_port()}"
    first = make_server(data_dir=data_dir, raft_bind=raft_bind, **fake_scheduler)
    populate(first)
    before = first.state.tables
    if not final_snapshot:
        # As after a crash: no snapshot on the way down, the journal is replayed.
        first.raft._final_snapshot = lambda sync: None
    first.shutdown()
    assert (tmp_path / "data" / "raft" / "snapshot.json").exists() == final_snapshot

    second = make_server(data_dir=data_dir, raft_bind=raft_bind, **fake_scheduler)
    wait_for(lambda: second.state.latest_index >= before.latest_index, timeout=10,
             message="the log to be replayed")
    after = second.state.tables
    for table in ("jobs", "job_versions", "job_summaries", "nodes", "allocs", "evals",
                  "deployments"):
        assert getattr(after, table) == getattr(before, table), table
    # New writes continue the index sequence instead of reusing it.
    job = mock_job(count=1)
    assert second.register_job(job).index > before.latest_index
    # The blocked eval was restored into the new leader's blocked set.
    assert second.blocked.stats().total_blocked == 1
    # Nodes got the failover TTL, not an immediate "down".
    assert all(n.status == "ready" for n in second.state.nodes())
    assert second.heartbeats.tracked(second.state.nodes()[0].id)


def test_a_three_server_cluster_replicates_and_forwards(make_server, fake_scheduler):
    binds = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    servers = [make_server(raft_bind=bind, raft_peers=[b for b in binds if b != bind],
                           bootstrap_expect=3, wait=False, **fake_scheduler)
               for bind in binds]
    for server in servers:
        assert server.wait_for_leader(15)
    wait_for(lambda: sum(s.is_leader() for s in servers) == 1, timeout=15,
             message="exactly one leader")
    leader = next(s for s in servers if s.is_leader())
    follower = next(s for s in servers if not s.is_leader())
    names = wait_for(lambda: len(ms := follower.members()) == 3 and all(
        not m.name.startswith("127.") for m in ms) and ms, timeout=10,
        message="every server to announce itself")
    assert {m.name for m in names} == {f"{s.config.node_name}.global" for s in servers}
    assert {s.leader_rpc_addr() for s in servers} == {leader.config.rpc_advertise}
    assert sorted(follower.peers()) == sorted(s.config.rpc_advertise for s in servers)
    # A write made on a follower is forwarded by raft and seen everywhere.
    job = mock_job(count=1)
    result = follower.register_job(job)
    wait_for(lambda: all(s.state.job_by_id("default", job.id) is not None for s in servers),
             timeout=10, message="the job on every server")
    assert {s.state.eval_by_id(result.eval_id).create_index for s in servers} == {result.index}
    # Heartbeats belong to the leader.
    with pytest.raises(Unavailable):
        follower.node_register(mock_node())
    assert all(m.status == "alive" for m in leader.members())


def test_server_config_defaults_match_nomad():
    config = ServerConfig(node_name="s")
    assert (config.min_heartbeat_ttl, config.heartbeat_grace,
            config.max_heartbeats_per_second) == (10.0, 10.0, 50.0)
    assert config.rpc_advertise.endswith(":4647") and config.raft_bind.endswith(":4648")


def test_an_unreadable_snapshot_stops_raft_instead_of_starting_empty(tmp_path):
    raft_dir = tmp_path / "raft"
    raft_dir.mkdir()
    (raft_dir / "snapshot.json").write_text("{not json")
    node = Raft(FSM(StateStore()), bind=f"127.0.0.1:{free_port()}", data_dir=str(tmp_path))
    node.start()
    try:
        wait_for(lambda: node.failure, timeout=5, message="raft to notice the bad snapshot")
        assert "snapshot.json" in node.failure
        with pytest.raises(Unavailable, match="cannot restore the raft snapshot"):
            node.apply(MsgType.BARRIER, "{}")
    finally:
        node.shutdown()


def gossip_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_servers_sharing_the_encrypt_key_form_a_cluster_and_others_cannot_join():
    key = gossip_key()
    binds = [f"127.0.0.1:{free_port()}" for _ in range(3)]
    keys = [key, key, gossip_key()]
    nodes = [Raft(FSM(StateStore()), bind=bind, peers=[b for b in binds if b != bind],
                  password=secret) for bind, secret in zip(binds, keys, strict=True)]
    for node in nodes:
        node.start()
    try:
        leader = wait_for(lambda: next((n for n in nodes[:2] if n.is_leader()), None),
                          timeout=15, message="the two servers sharing the key to elect")
        index, _ = leader.apply(MsgType.BARRIER, "{}")
        wait_for(lambda: nodes[0].fsm.index >= index and nodes[1].fsm.index >= index,
                 timeout=10, message="the write on both servers")
        assert [leader.connected(b) for b in binds] == [True, True, False]
        assert nodes[2].leader() == "" and nodes[2].fsm.index == 0
    finally:
        for node in nodes:
            node.shutdown()


@pytest.mark.parametrize("key, problem", [
    ("not base64!", "not valid base64"),
    (base64.b64encode(b"short").decode(), "decodes to 5 bytes"),
])
def test_an_unusable_encrypt_key_stops_the_server_from_starting(key, problem):
    with pytest.raises(RaftError, match=f"encrypt: .*{problem}"):
        Raft(FSM(StateStore()), bind=f"127.0.0.1:{free_port()}", password=key)


def test_encryption_without_the_cryptography_package_is_refused(monkeypatch):
    monkeypatch.setattr(raft_module, "HAS_CRYPTO", False)
    with pytest.raises(RaftError, match="encrypt is set.*'cryptography' package"):
        Raft(FSM(StateStore()), bind=f"127.0.0.1:{free_port()}", password=gossip_key())
