"""A pot task's exit, from how ``pot start`` ended: pure, so every path is tested without pot.

``pot start`` (a non-persistent pot) blocks while the jailed program runs;
the supervisor records how it ended, and :func:`task_exit` turns that into
the task's exit:

* **0 or 125**: the program's own code is read from ``last-run-stats``
  (128+N is reported as killed by signal N).  pot exits 0 not only when the
  program exited 0 but also when someone else stopped the pot meanwhile (its
  program then typically reports 143, SIGTERM); 125 means the program exited
  non-zero.  Without a readable code: 125 is an application error of unknown
  code; 0 for a pot destroyed from outside is an error saying so; 0 for a pot
  that still exists is "exit status unknown".
* **1**: pot could not start the pot, reported with pot's error messages.
* any other code: the program's status as ``sh`` reports it.
* A task the driver had to destroy (``stop_forced``: stop after the kill
  timeout, ``destroy_task(force=True)`` while it ran) is reported as killed
  by SIGKILL whatever ``pot start`` exited with -- 0 (pot saw its pot
  stopping), 125 (the program died of the stop) or 1 -- so one stop always
  reads the same.
* ``pot start`` itself killed by a signal, or its status lost (an error from
  the supervisor), is reported as such.

The two facts that need pot (the last run's exit code, whether the pot still
exists) are asked through callables, and only on the paths that need them:
a task the driver killed costs no pot command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..drivers.base import ExitResult

POT_EXIT_APP_FAILED = 125  # `pot start`: the program exited non-zero
POT_EXIT_FAILED = 1  # `pot start`: pot could not start the pot
SIGKILL = 9  # the same number on FreeBSD and Linux
_MAX_SIGNAL = 64  # sh reports death by signal N (1..64) as 128+N


@dataclass(frozen=True, slots=True)
class LastRun:
    """What ``pot last-run-stats`` said: the program's exit code, or None and why not."""

    exit_code: int | None
    why_unknown: str = ""


def from_program_exit(code: int) -> ExitResult:
    """The exit status of the jailed program as ``sh`` reports it (128+N: signal N)."""
    if 128 < code <= 128 + _MAX_SIGNAL:
        return ExitResult(exit_code=code, signal=code - 128)
    return ExitResult(exit_code=code)


def killed() -> ExitResult:
    """A task the driver ended by destroying its pot."""
    return ExitResult(exit_code=128 + SIGKILL, signal=SIGKILL)


def task_exit(start: ExitResult, *, stop_forced: bool, pot_errors: Sequence[str],
              last_run: Callable[[], LastRun], pot_gone: Callable[[], bool]) -> ExitResult:
    """The task's exit from ``start``, how ``pot start`` ended (see the module doc).

    ``pot_errors``: pot's error messages from the run, oldest first;
    ``last_run``: asks ``pot last-run-stats``; ``pot_gone``: whether pot no
    longer lists the pot (False when it cannot tell).
    """
    if start.err:
        return start
    if start.signal:  # `pot start` itself was killed
        return ExitResult(exit_code=start.exit_code, signal=start.signal)
    if stop_forced:
        return killed()
    code = start.exit_code
    if code in (0, POT_EXIT_APP_FAILED):
        # 0 is also what `pot start` exits with when someone else stopped the pot: the
        # program's own status is in last-run-stats either way.
        last = last_run()
        if last.exit_code is not None:
            return from_program_exit(last.exit_code)
        why = last.why_unknown
        if code == POT_EXIT_APP_FAILED:
            return ExitResult(exit_code=code, err=f"pot reported an application error "
                                                  f"but not its exit code ({why})")
        if pot_gone():
            return ExitResult(exit_code=-1, err=f"`pot start` exited 0 but pot no longer "
                                                f"knows how the program ended ({why}): the "
                                                "pot was destroyed from outside")
        return ExitResult(exit_code=-1, err=f"exit status unknown: `pot start` exited 0 "
                                            f"but its last-run-stats cannot be read: {why}")
    if code == POT_EXIT_FAILED:
        detail = ": " + "; ".join(pot_errors[-3:]) if pot_errors else ""
        return ExitResult(exit_code=code, err=f"pot failed to start{detail}")
    return from_program_exit(code)
