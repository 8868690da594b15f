"""check_restart's rule (Nomad's checkwatcher), on a clock the test moves, and script
checks' exit codes."""

from __future__ import annotations

from nomadjail.client.services.check_watcher import CheckWatcher
from nomadjail.client.services.script_checks import ScriptChecks, run_check
from nomadjail.client.services.workload import CheckDefinition
from nomadjail.drivers.base import DriverError, ExecResult
from nomadjail.structs import SECOND, TaskEvent
from nomadjail.structs.services import CheckRestart
from nomadjail.testing import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Task:
    def __init__(self) -> None:
        self.restarts: list[TaskEvent] = []

    def restart_for_check(self, event: TaskEvent) -> None:
        self.restarts.append(event)


def check(check_id: str = "c1", *, limit: int = 3, grace: int = 10 * SECOND,
          ignore_warnings: bool = False) -> CheckDefinition:
    return CheckDefinition(check_id=check_id, name=f"check-{check_id}", service_id="s",
                           type="http", interval=5 * SECOND,
                           check_restart=CheckRestart(limit=limit, grace=grace,
                                                      ignore_warnings=ignore_warnings))


def watcher(statuses: dict[str, str], clock: Clock) -> CheckWatcher:
    return CheckWatcher(lambda: statuses, clock=clock)


def test_a_task_restarts_after_limit_unhealthy_results_once_grace_passed():
    clock, task, statuses = Clock(), Task(), {"c1": "critical"}
    w = watcher(statuses, clock)
    w.watch(check(limit=3), "alloc/web", task)
    w.poll_once()
    clock.now += 9
    w.poll_once()  # still in grace: nothing counts
    clock.now += 2  # grace over: first unhealthy result, the clock starts
    w.poll_once()
    clock.now += 9.9  # (limit - 1) * interval = 10s not yet
    w.poll_once()
    assert task.restarts == []
    clock.now += 0.1
    w.poll_once()
    [event] = task.restarts
    assert event.restart_reason == 'healthcheck: check "check-c1" unhealthy'
    assert w.watching() == set()  # re-armed when the restarted task registers again


def test_a_healthy_result_resets_the_count_and_warnings_can_be_ignored():
    clock, task, statuses = Clock(), Task(), {"c1": "critical", "c2": "warning"}
    w = watcher(statuses, clock)
    w.watch(check("c1", limit=2, grace=0), "alloc/web", task)
    w.watch(check("c2", limit=1, grace=0, ignore_warnings=True), "alloc/web", task)
    w.poll_once()
    statuses["c1"] = "passing"
    clock.now += 5
    w.poll_once()
    statuses["c1"] = "critical"
    clock.now += 4
    w.poll_once()
    assert task.restarts == []  # the passing result started the count over; c2 ignored


def test_one_restart_per_task_however_many_checks_fail():
    clock, task = Clock(), Task()
    w = watcher({"c1": "critical", "c2": "critical"}, clock)
    for check_id in ("c1", "c2"):
        w.watch(check(check_id, limit=1, grace=0), "alloc/web", task)
    w.poll_once()
    assert len(task.restarts) == 1 and w.watching() == set()


def test_nothing_counts_while_the_provider_cannot_tell():
    clock, task = Clock(), Task()
    w = CheckWatcher(lambda: None, clock=clock)
    w.watch(check(limit=1, grace=0), "alloc/web", task)
    w.poll_once()
    assert task.restarts == []


def script(code: int | None) -> CheckDefinition:
    return CheckDefinition(check_id="s1", name="probe", service_id="s", type="script",
                           interval=SECOND, timeout=SECOND, command=("/bin/probe", "-q"))


def test_script_check_exit_codes_map_to_statuses():
    for code, status in ((0, "passing"), (1, "warning"), (2, "critical")):
        result = run_check(script(code), lambda argv, timeout, code=code: ExecResult(
            b"out ", b"err", code))
        assert result == (status, "out err")

    def broken(argv: list[str], timeout: float) -> ExecResult:
        raise DriverError("exec timed out")
    assert run_check(script(0), broken)[0] == "critical"


def test_script_checks_run_on_their_interval_and_report():
    reports: list[tuple[str, str, str]] = []
    runs: list[list[str]] = []

    def run(argv: list[str], timeout: float) -> ExecResult:
        runs.append(argv)
        return ExecResult(b"fine", b"", 0)

    checks = ScriptChecks([script(0)], run, lambda *r: reports.append(r)).start()
    try:
        wait_for(lambda: len(reports) >= 2, timeout=5, message="two runs a second apart")
    finally:
        checks.stop()
    assert runs[0] == ["/bin/probe", "-q"] and reports[0] == ("s1", "passing", "fine")


def test_watching_a_watched_check_again_keeps_its_count():
    """A workload update registers the same checks again: grace and count go on."""
    clock, task = Clock(), Task()
    w = watcher({"c1": "critical"}, clock)
    w.watch(check(limit=2, grace=0), "alloc/web", task)
    w.poll_once()
    clock.now += 4
    w.watch(check(limit=2, grace=0), "alloc/web", task)
    clock.now += 1
    w.poll_once()
    assert len(task.restarts) == 1
