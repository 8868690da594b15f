"""Build the task drivers an agent enables, from its config.

``build_drivers(["raw_exec", "mock"], {"raw_exec": {"enabled": True}})`` returns
``{"raw_exec": RawExecDriver(...), "mock_driver": MockDriver(...)}``, keyed by
the name jobs use in ``task { driver = "..." }``.

Plugin config keys follow Nomad's ``plugin "<name>" { config { ... } }``:
raw_exec reads ``enabled`` (default true here, because naming the driver in
``enabled`` already opts in) and ``denied_envvars``; the mock driver reads
``fs_isolation``.  Other drivers (pot) register a factory with
:func:`register_driver`.

:func:`config_validators` gives servers a job validator that checks the
``config`` block of every task whose driver is known here, at submission, so a
typo fails ``job run`` instead of an allocation.  A driver may also register a
``task_validator``, which sees the task and its group (the pot driver checks
its ``port_map`` labels against the group's ports).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..structs import Job, Task, TaskGroup
from .base import Driver
from .mock import MockDriver, validate_mock_config
from .raw_exec import RawExecDriver, validate_raw_exec_config

DriverFactory = Callable[[Mapping[str, Any]], Driver]
ConfigValidator = Callable[[dict[str, Any]], list[str]]
TaskValidator = Callable[[TaskGroup, Task], list[str]]


def _parse_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
        return value.lower() in ("true", "1")
    raise ValueError(f"{where}: expected true or false, got {value!r}")


def _raw_exec(config: Mapping[str, Any]) -> Driver:
    enabled = _parse_bool(config.get("enabled", True), 'plugin "raw_exec" config.enabled')
    denied = config.get("denied_envvars") or []
    if not isinstance(denied, list) or not all(isinstance(d, str) for d in denied):
        raise ValueError('plugin "raw_exec" config.denied_envvars: expected a list of strings, '
                         f"got {denied!r}")
    return RawExecDriver(enabled=enabled, denied_envvars=denied)


def _mock(config: Mapping[str, Any]) -> Driver:
    return MockDriver(fs_isolation=str(config.get("fs_isolation", "none")))


_FACTORIES: dict[str, tuple[str, DriverFactory]] = {
    "raw_exec": ("raw_exec", _raw_exec),
    "mock": ("mock_driver", _mock),
    "mock_driver": ("mock_driver", _mock),
}
_VALIDATORS: dict[str, ConfigValidator] = {
    "raw_exec": validate_raw_exec_config,
    "mock_driver": validate_mock_config,
}
_TASK_VALIDATORS: dict[str, TaskValidator] = {}


def register_driver(name: str, factory: DriverFactory, *, job_name: str | None = None,
                    validator: ConfigValidator | None = None,
                    task_validator: TaskValidator | None = None) -> None:
    """Make ``name`` buildable; ``job_name`` is the key jobs use (default ``name``);
    ``validator`` checks a task's ``config`` block at job submission, ``task_validator``
    the task within its group."""
    _FACTORIES[name] = (job_name or name, factory)
    if validator is not None:
        _VALIDATORS[job_name or name] = validator
    if task_validator is not None:
        _TASK_VALIDATORS[job_name or name] = task_validator


def validate_job_driver_configs(job: Job) -> list[str]:
    """Every problem in the ``config`` blocks of the job's tasks whose driver is known here
    (tasks of other drivers are left to the clients that have them)."""
    problems = []
    for group in job.task_groups:
        for task in group.tasks:
            validator = _VALIDATORS.get(task.driver)
            if validator is not None:
                for problem in validator(dict(task.config)):
                    problems.append(f'Task "{task.name}" in group "{group.name}": driver '
                                    f'"{task.driver}" config: {problem}')
            task_validator = _TASK_VALIDATORS.get(task.driver)
            if task_validator is not None:
                for problem in task_validator(group, task):
                    problems.append(f'Task "{task.name}" in group "{group.name}": driver '
                                    f'"{task.driver}": {problem}')
    return problems


def config_validators() -> list[Callable[[Job], list[str]]]:
    """The job validators a server applies at submission."""
    return [validate_job_driver_configs]


def known_drivers() -> list[str]:
    return sorted(_FACTORIES)


def build_drivers(enabled: Iterable[str],
                  plugin_config: Mapping[str, Mapping[str, Any]]) -> dict[str, Driver]:
    """The drivers named in ``enabled``, configured from ``plugin_config[name]``.

    Raises ValueError naming an unknown driver or a bad config value.
    """
    drivers: dict[str, Driver] = {}
    for name in enabled:
        entry = _FACTORIES.get(name)
        if entry is None:
            raise ValueError(f"unknown task driver {name!r}; known drivers: "
                             + ", ".join(known_drivers()))
        job_name, factory = entry
        config = plugin_config.get(name) or plugin_config.get(job_name) or {}
        drivers[job_name] = factory(config)
    return drivers
