"""The mock driver: timers instead of processes, scriptable outcomes, recovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from nomadjail.drivers.base import DriverError
from nomadjail.drivers.mock import MockDriver
from nomadjail.testing import wait_for


def test_runs_for_the_configured_time_and_exits_as_told(task_config):
    driver = MockDriver()
    handle = driver.start_task(task_config({"run_for": "50ms", "exit_code": 3,
                                            "exit_signal": 9}))
    result = driver.wait_task(handle)
    assert (result.exit_code, result.signal) == (3, 9)


def test_stop_kills_after_kill_after(task_config):
    driver = MockDriver()
    # An hour-long task: if stop waited for it to end by itself, the test would hang.
    handle = driver.start_task(task_config({"run_for": "1h", "kill_after": "10ms"}))
    driver.stop_task(handle, 3600.0, "SIGINT")
    assert driver.wait_task(handle).exit_code == 0


def test_start_error_is_recoverable_only_when_configured(task_config):
    driver = MockDriver()
    with pytest.raises(DriverError) as err:
        driver.start_task(task_config({"start_error": "boom", "start_error_recoverable": True}))
    assert err.value.recoverable and str(err.value) == "boom"
    with pytest.raises(DriverError) as err:
        driver.start_task(task_config({"start_error": "boom"}))
    assert not err.value.recoverable


def test_stdout_string_is_written_to_the_log(task_config):
    cfg = task_config({"stdout_string": "hello\n", "stdout_repeat": 2,
                       "stdout_repeat_duration": "10ms", "run_for": "200ms"})
    driver = MockDriver()
    driver.wait_task(driver.start_task(cfg))
    log = Path(cfg.stdout_path + ".0")
    wait_for(lambda: log.read_text() == "hello\n" * 3, timeout=5,
             message="the string and its two repeats in the log")


def test_a_new_driver_recovers_the_timer(task_config):
    handle = MockDriver().start_task(task_config({"run_for": "100ms", "exit_code": 2}))
    driver = MockDriver()
    driver.recover_task(handle)
    assert driver.wait_task(handle).exit_code == 2


def test_validate_config_names_bad_keys():
    problems = MockDriver().validate_config({"run_for": "soon", "exit_code": "x", "what": 1})
    text = "\n".join(problems)
    assert "'run_for'" in text and "'exit_code' must be an integer" in text
    assert "unknown key 'what'" in text


def test_signals_are_recorded_or_fail_as_configured(task_config):
    driver = MockDriver()
    handle = driver.start_task(task_config({"run_for": "10s"}))
    driver.signal_task(handle, "SIGHUP")
    assert driver.signals_received(handle.task_id) == ["SIGHUP"]
    failing = driver.start_task(task_config({"run_for": "10s", "signal_error": "nope"}))
    with pytest.raises(DriverError, match="nope"):
        driver.signal_task(failing, "SIGHUP")
    driver.destroy_task(handle, True)
    driver.destroy_task(failing, True)
