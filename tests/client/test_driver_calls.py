"""The task runner's driver calls: every failure mapped to what the runner does with it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from nomadjail.client.driver_calls import DriverCalls
from nomadjail.drivers.base import (
    DriverError,
    ExitResult,
    StartRecord,
    TaskHandle,
    TaskNotFound,
    TaskStats,
)
from nomadjail.testing.driver_tasks import make_task_config

HANDLE = TaskHandle(driver="scripted", task_id="a1/web/0001", pid=42)
RECORD = StartRecord(driver="scripted", task_id="a1/web/0001")


class Scripted:
    """A driver whose methods return, or raise, what the test says."""

    name = "scripted"

    def __init__(self, **outcomes: Any) -> None:
        self.outcomes = outcomes
        self.calls: list[str] = []

    def _call(self, method: str) -> Any:
        self.calls.append(method)
        outcome = self.outcomes.get(method)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def start_task(self, cfg):
        return self._call("start_task")

    def recover_start(self, record):
        return self._call("recover_start")

    def wait_task(self, handle):
        return self._call("wait_task")

    def stop_task(self, handle, timeout, signal):
        return self._call("stop_task")

    def task_stats(self, handle):
        return self._call("task_stats")


def calls(**outcomes: Any) -> tuple[DriverCalls, Scripted]:
    driver = Scripted(**outcomes)
    return DriverCalls(driver, driver_name="scripted", alloc_id="a1", task="web"), driver


@pytest.fixture
def cfg(tmp_path):
    return make_task_config(tmp_path, {})


def test_a_start_returns_the_handle(cfg) -> None:
    driver_calls, driver = calls(start_task=HANDLE)
    assert driver_calls.start(cfg, RECORD) is HANDLE
    assert driver.calls == ["start_task"]


def test_a_start_error_is_raised_as_is(cfg) -> None:
    error = DriverError("image not found", recoverable=True)
    driver_calls, driver = calls(start_task=error)
    with pytest.raises(DriverError) as raised:
        driver_calls.start(cfg, RECORD)
    assert raised.value is error and driver.calls == ["start_task"]  # no adoption


def test_a_start_crash_adopts_the_task_the_start_launched(cfg, caplog) -> None:
    driver_calls, driver = calls(start_task=RuntimeError("bug"), recover_start=HANDLE)
    assert driver_calls.start(cfg, RECORD) is HANDLE
    assert driver.calls == ["start_task", "recover_start"]
    crash = caplog.records[0]
    assert crash.exc_info is not None
    assert crash.getMessage() == "alloc a1 task web: driver scripted crashed in start_task"


def test_a_start_crash_with_nothing_to_adopt_is_an_unrecoverable_failure(cfg) -> None:
    driver_calls, _ = calls(start_task=RuntimeError("bug"), recover_start=None)
    with pytest.raises(DriverError, match="^bug$") as raised:
        driver_calls.start(cfg, RECORD)
    assert not raised.value.recoverable and isinstance(raised.value.__cause__, RuntimeError)


def test_a_start_crash_whose_adoption_crashes_reports_the_first_error(cfg, caplog) -> None:
    driver_calls, _ = calls(start_task=RuntimeError("bug"), recover_start=OSError("worse"))
    with pytest.raises(DriverError, match="^bug$"):
        driver_calls.start(cfg, RECORD)
    assert "cannot recover the failed start" in caplog.records[-1].getMessage()


def test_recovering_an_interrupted_start(caplog) -> None:
    caplog.set_level(logging.INFO)
    assert calls(recover_start=HANDLE)[0].recover_start(RECORD) is HANDLE
    assert "re-attached to task a1/web/0001 (pid 42)" in caplog.records[-1].getMessage()
    assert calls(recover_start=None)[0].recover_start(RECORD) is None


def test_an_interrupted_start_the_driver_cannot_recover_is_nothing_to_adopt(caplog) -> None:
    assert calls(recover_start=DriverError("no jail"))[0].recover_start(RECORD) is None
    assert caplog.records[-1].getMessage() == (
        "alloc a1 task web: cannot recover the interrupted start a1/web/0001: no jail")


def test_waiting_never_raises() -> None:
    exited = ExitResult(exit_code=3)
    assert calls(wait_task=exited)[0].wait(HANDLE) is exited
    assert calls()[0].wait(None) == ExitResult(exit_code=-1, err="no task handle")
    assert calls(wait_task=TaskNotFound("gone"))[0].wait(HANDLE) == ExitResult(
        exit_code=-1, err="gone")
    assert calls(wait_task=DriverError("socket closed"))[0].wait(HANDLE) == ExitResult(
        exit_code=-1, err="error waiting for the task: socket closed")


def test_stopping_returns_the_drivers_error() -> None:
    assert calls()[0].stop(HANDLE, 5.0, "SIGINT") == ""
    assert calls(stop_task=TaskNotFound("gone"))[0].stop(HANDLE, 5.0, "SIGINT") == ""
    assert calls(stop_task=DriverError("EPERM"))[0].stop(HANDLE, 5.0, "SIGINT") == "EPERM"


def test_stats_are_none_when_the_driver_cannot_tell() -> None:
    usage = TaskStats(rss_bytes=1024)
    assert calls(task_stats=usage)[0].stats(HANDLE) is usage
    assert calls(task_stats=DriverError("no cgroup"))[0].stats(HANDLE) is None
