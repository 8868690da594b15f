"""A pot task's exit from how `pot start` ended: every path, without pot or its double."""

from __future__ import annotations

import signal

import pytest

from nomadjail.drivers.base import ExitResult
from nomadjail.pot_driver.exit_status import (
    POT_EXIT_APP_FAILED,
    POT_EXIT_FAILED,
    LastRun,
    from_program_exit,
    killed,
    task_exit,
)

UNKNOWN = LastRun(None, "not asked for")


class Pot:
    """Answers the two questions task_exit may ask, and counts them."""

    def __init__(self, last_run: LastRun = UNKNOWN, gone: bool = False) -> None:
        self._last_run, self._gone = last_run, gone
        self.asked: list[str] = []

    def last_run(self) -> LastRun:
        self.asked.append("last-run-stats")
        return self._last_run

    def gone(self) -> bool:
        self.asked.append("ls")
        return self._gone


def exit_of(start: ExitResult, pot: Pot, *, stop_forced: bool = False,
            errors: tuple[str, ...] = ()) -> ExitResult:
    return task_exit(start, stop_forced=stop_forced, pot_errors=errors,
                     last_run=pot.last_run, pot_gone=pot.gone)


def triple(result: ExitResult) -> tuple[int, int, str]:
    return result.exit_code, result.signal, result.err


@pytest.mark.parametrize(("pot_start", "program", "expected"), [
    (0, 0, (0, 0, "")),  # the program exited 0
    (0, 128 + signal.SIGTERM, (143, signal.SIGTERM, "")),  # someone stopped the pot
    (POT_EXIT_APP_FAILED, 3, (3, 0, "")),  # the program exited non-zero
    (POT_EXIT_APP_FAILED, 128 + signal.SIGKILL, (137, signal.SIGKILL, "")),
])
def test_the_programs_code_comes_from_last_run_stats(pot_start: int, program: int,
                                                      expected: tuple) -> None:
    pot = Pot(LastRun(program))
    result = exit_of(ExitResult(exit_code=pot_start), pot)
    assert triple(result) == expected
    assert result.successful() is (expected == (0, 0, ""))
    assert pot.asked == ["last-run-stats"]


def test_an_application_error_without_its_code_says_why() -> None:
    pot = Pot(LastRun(None, "last-run-stats printed {}"))
    assert triple(exit_of(ExitResult(exit_code=125), pot)) == (
        125, 0, "pot reported an application error but not its exit code "
                "(last-run-stats printed {})")
    assert pot.asked == ["last-run-stats"]  # whether the pot exists does not matter


def test_a_pot_destroyed_from_outside_is_not_a_success() -> None:
    pot = Pot(LastRun(None, "`pot last-run-stats -p p` exited 1: p not found"), gone=True)
    result = exit_of(ExitResult(exit_code=0), pot)
    assert (result.exit_code, result.signal) == (-1, 0) and not result.successful()
    assert result.err == ("`pot start` exited 0 but pot no longer knows how the program "
                          "ended (`pot last-run-stats -p p` exited 1: p not found): the pot "
                          "was destroyed from outside")
    assert pot.asked == ["last-run-stats", "ls"]


def test_unreadable_last_run_stats_of_an_existing_pot_is_unknown_not_destroyed() -> None:
    pot = Pot(LastRun(None, "did not finish within 1s"), gone=False)
    result = exit_of(ExitResult(exit_code=0), pot)
    assert triple(result) == (-1, 0, "exit status unknown: `pot start` exited 0 but its "
                                     "last-run-stats cannot be read: did not finish within 1s")


def test_pot_failing_to_start_the_pot_reports_its_last_three_errors() -> None:
    pot = Pot()
    errors = ("first", "Mount failed", "second", "third")
    assert triple(exit_of(ExitResult(exit_code=POT_EXIT_FAILED), pot, errors=errors)) == (
        1, 0, "pot failed to start: Mount failed; second; third")
    assert triple(exit_of(ExitResult(exit_code=1), pot)) == (1, 0, "pot failed to start")
    assert pot.asked == []


@pytest.mark.parametrize("pot_start", [0, POT_EXIT_APP_FAILED, POT_EXIT_FAILED, 2])
def test_a_task_the_driver_destroyed_is_killed_whatever_pot_start_said(pot_start: int) -> None:
    pot = Pot(LastRun(0))
    result = exit_of(ExitResult(exit_code=pot_start), pot, stop_forced=True,
                     errors=("stopped",))
    assert triple(result) == (128 + signal.SIGKILL, signal.SIGKILL, "") == triple(killed())
    assert pot.asked == []  # no pot command for a task the driver ended


def test_pot_start_itself_killed_or_lost_is_reported_as_such() -> None:
    pot = Pot(LastRun(0))
    assert triple(exit_of(ExitResult(exit_code=137, signal=9), pot, stop_forced=True)) == (
        137, 9, "")
    lost = ExitResult(exit_code=-1, err="lost track of `pot start`: gone")
    assert exit_of(lost, pot, stop_forced=True) == lost
    assert pot.asked == []


@pytest.mark.parametrize(("code", "expected"), [
    (2, (2, 0)), (128, (128, 0)), (129, (129, 1)), (128 + 64, (192, 64)), (193, (193, 0)),
    (255, (255, 0))])
def test_other_codes_are_the_programs_as_sh_reports_them(code: int, expected: tuple) -> None:
    pot = Pot()
    result = exit_of(ExitResult(exit_code=code), pot)
    assert (result.exit_code, result.signal) == expected == (
        from_program_exit(code).exit_code, from_program_exit(code).signal)
    assert pot.asked == []
