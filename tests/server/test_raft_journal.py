"""The raft journal on disk: PySyncObj's format, and a full disk is an error, not a crash."""

from __future__ import annotations

import errno
import logging
import shutil
import subprocess
import sys
import textwrap

import pytest
from pysyncobj.journal import FileJournal

from nomadjail.server import messages as m
from nomadjail.server import raft_journal
from nomadjail.server.fsm import FSM, MsgType
from nomadjail.server.raft import Raft, _RateLimitedLog
from nomadjail.server.raft_journal import JournalFullError, RaftJournal
from nomadjail.state import StateStore
from nomadjail.structs import Unavailable
from nomadjail.testing import free_port

ENTRIES = [(b"\x01first", 1, 1), (b"\x01second" * 50, 2, 1), (b"\x01third", 3, 2)]


def test_it_reads_pysyncobjs_journal_and_pysyncobj_reads_it(tmp_path):
    theirs = FileJournal(str(tmp_path / "theirs"))
    for entry in ENTRIES:
        theirs.add(*entry)
    theirs._destroy()
    mine = RaftJournal(str(tmp_path / "theirs"))
    assert [mine[i] for i in range(len(mine))] == ENTRIES
    mine.add(b"\x01fourth", 4, 2)
    mine._destroy()
    again = FileJournal(str(tmp_path / "theirs"))
    assert [again[i] for i in range(len(again))] == [*ENTRIES, (b"\x01fourth", 4, 2)]
    again._destroy()


def test_entries_survive_reopening_after_truncation_and_compaction(tmp_path):
    path = str(tmp_path / "journal")
    journal = RaftJournal(path)
    for entry in ENTRIES:
        journal.add(*entry)
    journal.deleteEntriesFrom(2)  # a new leader overwrites a conflicting tail
    journal.add(b"\x01other", 3, 3)
    journal.deleteEntriesTo(1)  # log compaction after a snapshot
    journal.setCurrentTerm(3, "127.0.0.1:1")
    journal._destroy()
    reopened = RaftJournal(path)
    assert [reopened[i] for i in range(len(reopened))] == [ENTRIES[1], (b"\x01other", 3, 3)]
    assert (reopened.getCurrentTerm(), reopened.getVotedForNodeId()) == (3, "127.0.0.1:1")
    reopened._destroy()


def test_space_is_reserved_ahead_and_a_full_disk_is_an_error(tmp_path, monkeypatch):
    journal = RaftJournal(str(tmp_path / "journal"), reserve_chunk=4096)
    journal.add(b"\x01cmd", 1, 1)
    reserved = (tmp_path / "journal").stat().st_size
    assert reserved >= 4096

    def disk_full(fd: int, offset: int, length: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(raft_journal, "_preallocate", disk_full)
    journal.add(b"\x01small", 2, 1)  # fits in what was reserved
    with pytest.raises(JournalFullError, match="cannot grow.*No space left on device"):
        journal.reserve(reserved)
    with pytest.raises(JournalFullError):
        journal.add(b"\x01" + bytes(reserved), 3, 1)
    assert len(journal) == 2  # the failed entry is not in the log ...
    assert isinstance(journal.take_write_error(), JournalFullError)  # ... and is reported
    assert journal.take_write_error() is None
    journal._destroy()
    assert len(RaftJournal(str(tmp_path / "journal"))) == 2


def test_apply_refuses_a_write_the_disk_cannot_hold(tmp_path, monkeypatch):
    raft = Raft(FSM(StateStore()), bind=f"127.0.0.1:{free_port()}", data_dir=str(tmp_path))
    raft.start()
    try:
        assert raft.wait_for_leader(10)
        raft.apply(MsgType.BARRIER, "{}")

        def disk_full(fd: int, offset: int, length: int) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(raft_journal, "_preallocate", disk_full)
        big = m.encode(m.ServerMemberRequest(name="x" * (2 << 20), raft_addr="a"))
        with pytest.raises(Unavailable, match="No space left on device.*free disk space"):
            raft.apply(MsgType.SERVER_MEMBER, big, timeout=5)
        monkeypatch.undo()
        index, _ = raft.apply(MsgType.BARRIER, "{}")  # room again: raft carries on
        assert index == raft.fsm.index
    finally:
        raft.shutdown()


CHILD = textwrap.dedent("""
    import sys
    from nomadjail.server import messages as m
    from nomadjail.server.fsm import FSM, MsgType
    from nomadjail.server.raft import Raft
    from nomadjail.state import StateStore
    from nomadjail.structs import Unavailable
    from nomadjail.testing import free_port

    raft = Raft(FSM(StateStore()), bind=f"127.0.0.1:{free_port()}", data_dir=sys.argv[1])
    raft.start()
    assert raft.wait_for_leader(10)
    try:
        for i in range(200):
            raft.apply(MsgType.SERVER_MEMBER, m.encode(m.ServerMemberRequest(
                name="x" * 65536, raft_addr=str(i))), timeout=10)
        print("never full")
    except Unavailable as err:
        print("REFUSED:", err)
    raft.shutdown()
""")


def test_a_really_full_disk_does_not_kill_the_process(tmp_path):
    """A 1 MiB tmpfs in a private mount namespace: PySyncObj's own journal dies
    of SIGBUS here; ours refuses the write that does not fit."""
    unshare = shutil.which("unshare")
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mount = f"mount -t tmpfs -o size=1m tmpfs {mount_point}"
    if unshare is None or subprocess.run([unshare, "--mount", "sh", "-c", mount],
                                         capture_output=True).returncode != 0:
        pytest.skip("needs unshare and the right to mount a tmpfs")
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    done = subprocess.run([unshare, "--mount", "sh", "-c",
                           f'{mount} && exec "$0" "$1" "$2"', sys.executable, str(script),
                           str(mount_point)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "REFUSED:" in done.stdout and "No space left on device" in done.stdout


def test_a_recurring_tick_failure_is_logged_once_per_interval(caplog):
    limited = _RateLimitedLog(interval=3600)
    with caplog.at_level(logging.ERROR, logger="nomadjail.server.raft"):
        for _ in range(5):
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError:
                limited.exception("raft tick failed")
    assert [r.getMessage() for r in caplog.records] == ["raft tick failed"]
    limited.interval = 0
    with caplog.at_level(logging.ERROR, logger="nomadjail.server.raft"):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            limited.exception("raft tick failed")
    assert caplog.records[-1].getMessage() == (
        "raft tick failed (and 4 more times since the last report)")
