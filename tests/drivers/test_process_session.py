"""Finding and killing a supervised command's processes by pid and identity, never another's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from nomadjail.drivers.process_session import (
    create_time,
    find_supervisor,
    group_leader_create_time,
    kill_session,
    process_matches,
)
from nomadjail.testing import wait_for
from nomadjail.testing.processes import kill_processes_under

# A session leader (as a supervisor is) with a child in its own process group (as the
# supervised command is) and a grandchild in that group; it prints their pids.
SESSION = textwrap.dedent("""
    import subprocess, sys, time
    child = subprocess.Popen(["/bin/sh", "-c", "sleep 300 & echo $!; wait"],
                             stdout=subprocess.PIPE, text=True, process_group=0)
    print(child.pid, child.stdout.readline().strip(), flush=True)
    time.sleep(300)
""")


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def session(tmp_path: Path):
    """``(leader Popen, command pid, grandchild pid)``; everything killed afterwards."""
    marker = tmp_path / "session-marker"  # names the tmp dir on the command lines
    leader = subprocess.Popen([sys.executable, "-c", SESSION, str(marker)],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert leader.stdout is not None
    command, grandchild = (int(pid) for pid in leader.stdout.readline().split())
    started = {pid: create_time(pid) for pid in (command, grandchild)}
    yield leader, command, grandchild
    leader.stdout.close()
    if leader.poll() is None:
        leader.kill()
    leader.wait()
    for pid, when in started.items():  # by pid, but only if the pid is still theirs
        proc = process_matches(pid, when)
        if proc is not None:
            proc.kill()
    kill_processes_under(tmp_path)


def test_a_process_matches_only_with_its_own_start_time() -> None:
    me = os.getpid()
    assert process_matches(me, create_time(me)) is not None
    assert process_matches(me, 0.0) is not None  # no start time recorded: any live process
    assert process_matches(me, create_time(me) - 10) is None  # a recycled pid
    assert process_matches(0, 0.0) is None and create_time(2 ** 22 + 11) == 0.0


def test_a_zombie_does_not_match() -> None:
    child = subprocess.Popen(["/bin/true"])
    started = create_time(child.pid)
    wait_for(lambda: gone(child.pid), message="the child to exit")  # not reaped yet
    assert process_matches(child.pid, started) is None
    child.wait()


def test_the_command_is_known_by_its_group_and_session(session) -> None:
    leader, command, grandchild = session
    assert group_leader_create_time(command, leader.pid) == create_time(command)
    assert group_leader_create_time(grandchild, leader.pid) == 0.0  # not a group leader
    assert group_leader_create_time(command, os.getpid()) == 0.0  # another session
    assert group_leader_create_time(2 ** 22 + 11, leader.pid) == 0.0


def test_a_supervisor_is_found_by_the_spec_on_its_command_line(tmp_path: Path) -> None:
    spec = str(tmp_path / "x.spec.json")
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", spec])
    try:
        # Popen returns once execve closed the close-on-exec pipe, which Linux does just
        # before it sets up the new argv: until then /proc/<pid>/cmdline reads empty.
        wait_for(lambda: psutil.Process(proc.pid).cmdline(), message="the child's argv")
        found = find_supervisor(spec, proc.pid)
        assert found is not None and found.pid == proc.pid
        scanned = find_supervisor(spec, 0)  # pid unknown: every process is looked at
        assert scanned is not None and scanned.pid == proc.pid
        assert find_supervisor(spec, os.getpid()) is None  # that pid runs something else
        assert find_supervisor(str(tmp_path / "other.spec.json"), 0) is None
    finally:
        proc.kill()
        proc.wait()


def test_killing_a_session_kills_every_group_in_it(session) -> None:
    leader, command, grandchild = session
    kill_session(psutil.Process(leader.pid), leader.pid, grace=10)
    for pid in (leader.pid, command, grandchild):
        wait_for(lambda: gone(pid), message=f"pid {pid} killed")


def test_the_members_of_a_session_whose_leader_died_are_still_killed(session) -> None:
    leader, command, grandchild = session
    os.kill(leader.pid, signal.SIGKILL)  # as `kill -9 <supervisor pid>` does
    leader.wait()
    kill_session(None, leader.pid, grace=10)
    for pid in (command, grandchild):
        wait_for(lambda: gone(pid), message=f"pid {pid} killed")


def test_a_session_id_held_by_another_live_process_is_left_alone(session) -> None:
    leader, command, grandchild = session
    # The pid names a live process that is not the supervisor: the session is not ours.
    kill_session(None, leader.pid, grace=10)
    assert not any(gone(pid) for pid in (leader.pid, command, grandchild))
