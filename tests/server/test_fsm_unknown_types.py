"""Raft entries of a type this version does not know (written by a newer server).

Like Nomad: a type marked ignorable (``IGNORE_UNKNOWN_TYPE_FLAG``) is skipped;
any other stops the FSM, loudly, before it -- the state never silently
diverges from the cluster's -- and the server stops answering as if healthy.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from nomadjail.server import messages as m
from nomadjail.server.fsm import FSM, FSMHalted, MsgType
from nomadjail.server.messages import IGNORE_UNKNOWN_TYPE_FLAG
from nomadjail.state import StateStore
from nomadjail.structs import Unavailable
from nomadjail.testing import free_port, mock_eval, mock_job, mock_node, wait_for

FUTURE_TYPE = 100  # not a MsgType, flag bit clear: what a newer server might write


def register(job_id: str) -> tuple[MsgType, str]:
    job = mock_job(job_id=job_id, count=1)
    return MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(job=job, eval=mock_eval(job)))


def register_without_eval(job_id: str) -> tuple[MsgType, str]:
    return MsgType.JOB_REGISTER, m.encode(m.JobRegisterRequest(job=mock_job(job_id=job_id)))


def started_fsm() -> FSM:
    fsm = FSM(StateStore())
    assert fsm.apply(MsgType.NODE_REGISTER, m.encode(m.NodeRegisterRequest(
        node=mock_node()))) is None
    assert not isinstance(fsm.apply(*register("before")), Exception)
    return fsm


def test_the_message_types_leave_room_for_the_flag() -> None:
    assert all(int(kind) < IGNORE_UNKNOWN_TYPE_FLAG for kind in MsgType)
    assert {m.wire_type(kind) for kind in MsgType} == {int(kind) for kind in MsgType}
    assert m.read_type(int(MsgType.BARRIER)) == (MsgType.BARRIER, False)
    assert m.read_type(int(MsgType.BARRIER) | IGNORE_UNKNOWN_TYPE_FLAG) == (MsgType.BARRIER,
                                                                           True)
    assert m.read_type(FUTURE_TYPE) == (None, False)
    assert m.read_type(FUTURE_TYPE | IGNORE_UNKNOWN_TYPE_FLAG) == (None, True)


def test_an_unknown_type_not_marked_ignorable_halts_the_fsm_before_it(caplog) -> None:
    fsm = started_fsm()
    before, index = fsm.store.tables, fsm.index
    with caplog.at_level(logging.CRITICAL, logger="nomadjail.server.fsm"):
        result = fsm.apply(FUTURE_TYPE, "{}")
    assert isinstance(result, FSMHalted) and isinstance(result, Unavailable)
    assert fsm.halted == str(result)
    assert f"raft message type {FUTURE_TYPE} at index {index + 1} is unknown" in fsm.halted
    assert "upgrade nomadjail" in caplog.text
    # Nothing after it is applied past it, and the state is exactly what it was.
    after = fsm.apply(*register("after"))
    assert isinstance(after, FSMHalted)
    assert fsm.store.job_by_id("default", "after") is None
    assert fsm.store.tables == before and fsm.index == index
    # No snapshot either: it would claim the unapplied entries as applied.
    with pytest.raises(FSMHalted):
        fsm.snapshot()


def test_an_unknown_type_marked_ignorable_is_skipped_and_the_log_moves_on(caplog) -> None:
    fsm = started_fsm()
    before, index = fsm.store.tables, fsm.index
    with caplog.at_level(logging.WARNING, logger="nomadjail.server.fsm"):
        skipped = fsm.apply(FUTURE_TYPE | IGNORE_UNKNOWN_TYPE_FLAG, "{}")
    assert isinstance(skipped, ValueError) and not fsm.halted
    assert "marked ignorable; skipped" in caplog.text
    assert fsm.store.tables == before and fsm.index == index + 1
    assert not isinstance(fsm.apply(*register("after")), Exception)
    assert fsm.store.job_by_id("default", "after").create_index == index + 2


def test_a_known_type_carrying_the_flag_is_applied() -> None:
    fsm = started_fsm()
    msg_type, payload = register("flagged")
    result = fsm.apply(int(msg_type) | IGNORE_UNKNOWN_TYPE_FLAG, payload)
    assert not isinstance(result, Exception)
    assert fsm.store.job_by_id("default", "flagged") is not None


def _write_unknown_entry(server: Any) -> None:
    """Append FUTURE_TYPE to the raft log, as a newer server would."""
    server.raft._consumer.apply_message(FUTURE_TYPE, "{}", callback=lambda *_: None)


def test_a_halted_server_stops_serving_and_keeps_the_entry_for_an_upgrade(
        tmp_path, make_server, fake_scheduler) -> None:
    data_dir = str(tmp_path / "data")
    raft_bind = f"127.0.0.1:{free_port()}"
    server = make_server(data_dir=data_dir, raft_bind=raft_bind, **fake_scheduler)
    # A new leader writes its first root key (the variables keyring): let that land first.
    wait_for(lambda: len(server.state.tables.root_keys) > 0, timeout=10,
             message="the leader's first root key")
    # Straight through raft, without an evaluation: nothing else writes after it.
    server.raft.apply(*register_without_eval("before"))
    before = server.state.tables
    assert server.known_leader()

    _write_unknown_entry(server)

    failure = wait_for(lambda: server.raft.failure, timeout=10,
                       message="raft to stop at the unknown entry")
    assert f"raft message type {FUTURE_TYPE}" in failure
    assert not server.known_leader() and not server.is_leader()
    assert server.raft.leader() == "" and server.leader_rpc_addr() == ""
    wait_for(lambda: not server.leader.established, timeout=10,
             message="the leader duties to stop")
    with pytest.raises(Unavailable, match=f"raft failed: raft message type {FUTURE_TYPE}"):
        server.register_job(mock_job(job_id="after", count=0))
    assert server.state.tables == before
    server.shutdown()

    # Restarted on the same version: the entry was kept (no snapshot past it), so
    # the server halts at the same place again instead of skipping it.
    again = make_server(data_dir=data_dir, raft_bind=raft_bind, wait=False, **fake_scheduler)
    wait_for(lambda: again.raft.failure, timeout=15, message="the replay to halt again")
    assert again.state.job_by_id("default", "before") is not None
    assert again.state.tables == before
    assert not again.known_leader()
