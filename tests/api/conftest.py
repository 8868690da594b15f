"""Fixtures for the API client tests: a scripted Nomad HTTP API behind the transport seam."""

from __future__ import annotations

import pytest

from nomadjail.testing.fake_nomad import FakeNomad


@pytest.fixture
def fake() -> FakeNomad:
    return FakeNomad()
