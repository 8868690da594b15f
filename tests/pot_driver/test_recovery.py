"""What an interrupted start left behind: its pot commands still running, odd records."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nomadjail.pot_driver.naming import allocation_tag
from nomadjail.pot_driver.recovery import (
    is_leftover_command,
    leftover_commands,
    readable_pot_name,
    wait_for_leftover_commands,
)
from nomadjail.testing import wait_for
from nomadjail.testing.processes import kill_processes_under

TASK_ID = "4b1d0c1e-alloc/web/1a2b3c4d"
TAG = allocation_tag("4b1d0c1e-alloc", "1a2b3c4d")
NAME = f"web_{TAG}"
POTS = {"pot"}


def test_the_pot_a_state_names_is_read_whatever_else_it_holds() -> None:
    assert readable_pot_name({"pot_name": NAME, "runner": {}}) == NAME
    for state in ({}, {"pot_name": ""}, {"pot_name": f" {NAME}"}, {"pot_name": 3},
                  ["pot_name"], None):
        assert readable_pot_name(state) == ""


@pytest.mark.parametrize("args", [
    ["/usr/local/bin/pot", "prepare", "-p", "img", "-a", TAG, "-n", "web"],
    ["/bin/sh", "/usr/local/bin/pot", "set-env", "-p", NAME, "-E", "A=1"],
    ["/usr/bin/python3", "/tmp/double/pot", "mount-in", "-p", NAME, "-d", "/x", "-m", "/y"],
    ["pot", "destroy", "-p", NAME, "-F"],
])
def test_a_start_step_of_this_pot_is_a_leftover(args: list[str]) -> None:
    assert is_leftover_command(args, pot_names=POTS, name=NAME, tag=TAG)


@pytest.mark.parametrize("args", [
    ["/usr/local/bin/pot", "start", NAME],  # the supervised task: re-attached to
    ["/usr/local/bin/pot", "exec", "-p", NAME, "--", "sh"],  # an operator's command
    ["/usr/local/bin/pot", "prepare", "-a", "other_tag", "-n", "web"],  # another start
    ["/bin/sh", "-c", "echo", "pot", "prepare", NAME],  # pot is not the program run
    ["/usr/local/bin/pot"],  # no verb
    ["/usr/local/bin/potnet", "show", NAME],
])
def test_other_commands_are_not_leftovers(args: list[str]) -> None:
    assert not is_leftover_command(args, pot_names=POTS, name=NAME, tag=TAG)


@pytest.fixture
def fake_pot(tmp_path: Path) -> Iterator[Path]:
    """A ``pot`` that runs until ``<tmp>/finish`` exists (as a slow prepare does), then
    says it finished in ``<tmp>/finished``."""
    path = tmp_path / "pot"
    path.write_text(f"#!/bin/sh\nwhile [ ! -e {tmp_path}/finish ]; do sleep 0.05; done\n"
                    f"echo \"$1\" >> {tmp_path}/finished\n")
    path.chmod(0o755)
    yield path
    kill_processes_under(tmp_path)


def run(pot: Path, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([str(pot), *args])
    wait_for(lambda: any(p.pid == proc.pid for p in leftover_commands(
        NAME, TASK_ID, pot_bin=str(pot))) or args[0] in ("start", "exec"),
        message="the pot command to run")
    return proc


def test_a_leftover_command_is_waited_for_until_it_finishes(fake_pot: Path) -> None:
    prepare = run(fake_pot, "prepare", "-a", TAG, "-n", "web")
    (fake_pot.parent / "finish").touch()
    wait_for_leftover_commands(NAME, TASK_ID, pot_bin=str(fake_pot), timeout=60)
    assert prepare.poll() is not None  # waited for (and reaped: it is our child here)
    assert (fake_pot.parent / "finished").read_text() == "prepare\n"  # not killed


def test_a_leftover_command_still_running_at_the_timeout_is_killed(fake_pot: Path) -> None:
    prepare = run(fake_pot, "prepare", "-a", TAG, "-n", "web")
    starting = run(fake_pot, "start", NAME)
    try:
        wait_for_leftover_commands(NAME, TASK_ID, pot_bin=str(fake_pot), timeout=0.2)
        assert prepare.wait(10) == -9  # killed
        assert starting.poll() is None  # `pot start` is not a leftover: left alone
    finally:
        starting.kill()
        starting.wait()
    assert leftover_commands(NAME, TASK_ID, pot_bin=str(fake_pot)) == []
