"""Scheduler tests run against a Harness: real state store, recording planner."""

from __future__ import annotations

import pytest

from nomadjail.structs import SECOND
from nomadjail.testing.scheduler_harness import Harness

# A fixed "now" keeps reschedule timing exact.
NOW = 1_700_000_000 * SECOND


@pytest.fixture
def harness() -> Harness:
    return Harness(now=NOW)
