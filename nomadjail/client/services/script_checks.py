"""Script checks: the client runs them in the task and reports each result.

Consul cannot run a command inside a task, so a ``type = "script"`` check is
registered as a TTL check (interval + 31s, Nomad's buffer) and the client runs
it, as Nomad's script check hook does: every ``interval`` the command runs
through the driver's exec (inside the pot for pot tasks) with the check's
``timeout``; exit 0 is ``passing``, 1 ``warning``, anything else -- or a
command that cannot run or times out -- ``critical``, with the command's output
(trimmed to 4 KiB, Consul's limit) as the check's output.  Results are reported
through the provider's ``update_ttl``.

One thread per task runs all of its script checks; :meth:`ScriptChecks.stop`
ends it (before the task is killed, and when it exited).
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable

from ...drivers.base import DriverError, ExecResult
from ...structs.services import CheckStatus
from .workload import CheckDefinition

log = logging.getLogger(__name__)

OUTPUT_LIMIT = 4096

Exec = Callable[[list[str], float], ExecResult]  # (argv, timeout) -> result
Report = Callable[[str, str, str], None]  # (check id, status, output)


def status_of(exit_code: int) -> str:
    """Nagios' convention, as Nomad's script checks use it."""
    if exit_code == 0:
        return CheckStatus.PASSING
    if exit_code == 1:
        return CheckStatus.WARNING
    return CheckStatus.CRITICAL


def run_check(check: CheckDefinition, run: Exec) -> tuple[str, str]:
    """Run one script check once: (status, output)."""
    try:
        result = run(list(check.command), check.timeout / 1e9 or 30.0)
    except DriverError as err:
        return CheckStatus.CRITICAL, f"script check {check.name!r} could not run: {err}"
    output = (result.stdout + result.stderr).decode(errors="replace")[:OUTPUT_LIMIT]
    return status_of(result.exit_code), output


class ScriptChecks:
    def __init__(self, checks: list[CheckDefinition], run: Exec, report: Report, *,
                 name: str = "script-checks",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._checks = list(checks)
        self._run = run
        self._report = report
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> ScriptChecks:
        if self._checks:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _loop(self) -> None:
        now = self._clock()
        due = [(now, n) for n in range(len(self._checks))]  # first run at once
        heapq.heapify(due)
        while due and not self._stop.is_set():
            when, n = heapq.heappop(due)
            if self._stop.wait(max(0.0, when - self._clock())):
                return
            check = self._checks[n]
            status, output = run_check(check, self._run)
            if self._stop.is_set():
                return
            try:
                self._report(check.check_id, status, output)
            except Exception:  # noqa: BLE001 - keep running the checks
                log.exception("reporting script check %r failed", check.name)
            heapq.heappush(due, (self._clock() + max(check.interval / 1e9, 1.0), n))
