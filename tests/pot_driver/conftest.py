"""Fixtures for the pot driver tests: a private pot test double and a driver using it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from nomadjail.drivers.base import TaskConfig
from nomadjail.pot_driver import PotDriver, PotDriverSettings
from nomadjail.testing.driver_tasks import make_task_config
from nomadjail.testing.processes import kill_processes_under

from .double import PotDouble, make_pot_double


@pytest.fixture
def pot_double(tmp_path: Path) -> Iterator[PotDouble]:
    """A private pot installation; every process left under the test's temp dir (pot
    commands, jailed programs, supervisors) is killed afterwards, by PID."""
    yield make_pot_double(tmp_path / "pot")
    kill_processes_under(tmp_path)


@pytest.fixture
def pot_driver(pot_double: PotDouble) -> PotDriver:
    return PotDriver(PotDriverSettings(pot_bin=str(pot_double.bin), test_only_allow_any_os=True,
                                       destroy_timeout=20.0))


def pot_task_config(base: Path, config: dict | None = None, **kwargs) -> TaskConfig:
    """A pot task (image nginx-only 1.0) running ``command``; see make_task_config."""
    full = {"image": "https://pot-registry.example.org/registry/", "pot": "nginx-only",
            "tag": "1.0", **(config or {})}
    return make_task_config(base, full, **kwargs)


@pytest.fixture
def task_config(tmp_path: Path) -> Callable[..., TaskConfig]:
    """``task_config({"command": ...}, name="web", env=None)`` in a private alloc dir."""
    return partial(pot_task_config, tmp_path / "allocs")
