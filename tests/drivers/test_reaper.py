"""The reaper waits for supervisor processes nobody else waits for."""

from __future__ import annotations

import signal
import subprocess

from nomadjail.drivers.reaper import Reaper
from nomadjail.testing import wait_for


def test_an_adopted_child_is_reaped_once_it_exits() -> None:
    reaper = Reaper(interval=0.01)
    child = subprocess.Popen(["/bin/sleep", "300"])
    reaper.adopt(child)
    assert reaper.pending() == 1
    child.send_signal(signal.SIGKILL)
    wait_for(lambda: reaper.pending() == 0, message="the child reaped")
    assert child.returncode == -signal.SIGKILL  # polled: not a zombie any more


def test_a_child_that_already_exited_is_not_kept() -> None:
    reaper = Reaper(interval=0.01)
    child = subprocess.Popen(["/bin/true"])
    child.wait()
    reaper.adopt(child)
    assert reaper.pending() == 0
