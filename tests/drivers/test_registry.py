"""build_drivers: enabled names to configured driver instances."""

from __future__ import annotations

import pytest

from nomadjail.drivers.mock import MockDriver
from nomadjail.drivers.raw_exec import RawExecDriver
from nomadjail.drivers.registry import build_drivers


def test_builds_the_enabled_drivers_keyed_by_job_name():
    drivers = build_drivers(["raw_exec", "mock"], {"raw_exec": {"enabled": True}})
    assert set(drivers) == {"raw_exec", "mock_driver"}
    assert isinstance(drivers["raw_exec"], RawExecDriver)
    assert isinstance(drivers["mock_driver"], MockDriver)


def test_plugin_config_can_disable_raw_exec():
    driver = build_drivers(["raw_exec"], {"raw_exec": {"enabled": "false"}})["raw_exec"]
    assert not driver.fingerprint().detected


def test_unknown_driver_and_bad_values_are_named():
    with pytest.raises(ValueError, match="unknown task driver 'docker'"):
        build_drivers(["docker"], {})
    with pytest.raises(ValueError, match='plugin "raw_exec" config.enabled'):
        build_drivers(["raw_exec"], {"raw_exec": {"enabled": "maybe"}})


def test_job_validator_checks_known_drivers_only():
    from nomadjail.drivers.registry import config_validators
    from nomadjail.structs import Task
    from nomadjail.testing import mock_job
    job = mock_job(config={"comand": "/bin/true", "work_dir": "${NOMAD_TASK_DIR}"})
    job.task_groups[0].tasks.append(Task(name="other", driver="docker", config={"x": 1}))
    [validator] = config_validators()
    problems = validator(job)
    assert problems == [
        'Task "web" in group "web": driver "raw_exec" config: unknown key \'comand\' in '
        'raw_exec config; did you mean "command"?',
        'Task "web" in group "web": driver "raw_exec" config: \'command\' is required']
    assert validator(mock_job()) == []
