"""Deployment and migration health: checks-based (the default), task states only, manual;
the deadline and what the tasks are told when it passes."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from nomadjail.client.health import AllocHealthWatcher, health_params
from nomadjail.client.services.provider import AllocChecks, CheckState, ServiceState
from nomadjail.helper.timers import Timers
from nomadjail.structs import (
    SECOND,
    MigrateStrategy,
    TaskEvent,
    TaskState,
    TaskStateName,
    UpdateStrategy,
    now_ns,
    rfc3339,
)
from nomadjail.structs.services import Service, ServiceCheck
from nomadjail.testing import mock_alloc, mock_job, mock_node, wait_for

MS = SECOND // 1000


@pytest.fixture
def timers() -> Iterator[Timers]:
    t = Timers("health-test")
    try:
        yield t
    finally:
        t.stop()


def alloc_with(health_check: str = "checks", *, deployment: bool = True, checks: int = 1,
               min_healthy: int = 200 * MS, deadline: int = 3 * SECOND):
    job = mock_job(job_id="web", count=1)
    group = job.task_groups[0]
    group.update = UpdateStrategy(max_parallel=1, health_check=health_check,
                                  min_healthy_time=min_healthy, healthy_deadline=deadline)
    group.migrate = MigrateStrategy(health_check=health_check, min_healthy_time=min_healthy,
                                    healthy_deadline=deadline)
    group.services = [Service(name="web", port_label="http", checks=[
        ServiceCheck(name=f"c{n}", type="http", path="/", interval=SECOND, timeout=SECOND)
        for n in range(checks)])]
    job.canonicalize()
    alloc = mock_alloc(job, mock_node())
    alloc.deployment_id = "d1" if deployment else ""
    return alloc


class Checks:
    """What the providers report for the allocation's checks."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)
        self.asked = 0

    def __call__(self, alloc_id: str, providers: set[str]) -> AllocChecks:
        self.asked += 1
        return AllocChecks({"group-web": [ServiceState("sid", "web", [
            CheckState(f"c{n}", f"c{n}", status, on_update="require_healthy")
            for n, status in enumerate(self.statuses)])]})


class Result:
    def __init__(self) -> None:
        self.health: list[bool] = []
        self.events: dict[str, TaskEvent] = {}
        self.done = threading.Event()

    def set(self, healthy: bool) -> None:
        self.health.append(healthy)
        self.done.set()

    def emit(self, events: dict[str, TaskEvent]) -> None:
        self.events.update(events)


def running() -> dict[str, TaskState]:
    return {"web": TaskState(state=TaskStateName.RUNNING, started_at=rfc3339(now_ns()))}


def watch(timers: Timers, alloc, checks: Checks) -> Result:
    result = Result()
    watcher = AllocHealthWatcher(timers, result.set, checks=checks, emit=result.emit,
                                 poll_interval=0.05)
    watcher.start(alloc)
    watcher.observe(running(), "running")
    return result


def test_checks_must_pass_before_the_allocation_is_healthy(timers):
    checks = Checks("critical")
    result = watch(timers, alloc_with("checks"), checks)
    wait_for(lambda: checks.asked >= 8, timeout=5, message="several polls")
    assert result.health == []  # tasks running long enough, the check still critical
    checks.statuses = ["passing"]
    assert result.done.wait(5)
    assert result.health == [True]


def test_a_check_must_pass_continuously_for_min_healthy_time(timers):
    checks = Checks("passing")
    result = watch(timers, alloc_with("checks", min_healthy=600 * MS), checks)
    wait_for(lambda: checks.asked >= 3, timeout=5, message="a few polls")
    checks.statuses = ["warning"]  # require_healthy: a warning is not healthy
    wait_for(lambda: checks.asked >= 16, timeout=5, message="more polls")
    assert result.health == []
    checks.statuses = ["passing"]
    assert result.done.wait(5) and result.health == [True]


def test_task_states_ignores_checks(timers):
    checks = Checks("critical")
    result = watch(timers, alloc_with("task_states"), checks)
    assert result.done.wait(5) and result.health == [True]
    assert checks.asked == 0


def test_manual_watches_nothing():
    assert health_params(alloc_with("manual")) is None
    assert health_params(alloc_with("manual", deployment=False)) is None


def test_migrations_use_the_migrate_block_health_check():
    params = health_params(alloc_with("task_states", deployment=False))
    assert params is not None and not params.use_checks
    params = health_params(alloc_with("checks", deployment=False))
    assert params is not None and params.use_checks


def test_the_deadline_makes_it_unhealthy_and_tells_the_tasks_why(timers):
    checks = Checks("critical", "passing")
    result = watch(timers, alloc_with("checks", checks=2, deadline=SECOND), checks)
    assert result.done.wait(5) and result.health == [False]
    event = result.events["web"]
    assert (event.type, event.message) == ("Alloc Unhealthy",
                                           "Services not healthy by deadline: web")


def test_missing_checks_are_not_healthy(timers):
    checks = Checks("passing")  # one registered, two expected
    result = watch(timers, alloc_with("checks", checks=2, deadline=SECOND), checks)
    assert result.done.wait(5) and result.health == [False]
    assert result.events["web"].message == "Only 1 out of 2 checks registered and passing"
