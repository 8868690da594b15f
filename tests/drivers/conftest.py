"""Fixtures for driver tests: task configs in a private alloc dir, and cleanup by PID."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import pytest

from nomadjail.drivers.base import TaskConfig
from nomadjail.testing.driver_tasks import make_task_config
from nomadjail.testing.processes import kill_processes_under


@pytest.fixture
def task_config(tmp_path) -> Iterator[Callable[..., TaskConfig]]:
    """``task_config(config, name="web", env=None, max_files=10, max_file_size_mb=10)``;
    every process left under the test's temp dir is killed afterwards."""
    yield partial(make_task_config, tmp_path)
    kill_processes_under(tmp_path)
