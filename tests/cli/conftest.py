"""A scripted Nomad HTTP API (``nomadjail.testing.fake_nomad``) and a CLI runner.

Tests state the answers the "server" gives (``fake.on("GET", "/v1/jobs",
[...])``) and run the CLI in process against them; every request is
recorded so a test can check what the CLI asked for, and where.  Times are
UTC and the clock is frozen at ``NOW`` so "2m ago" is predictable.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner, Result

from nomadjail.cli.main import cli
from nomadjail.cli.meta import CliEnv
from nomadjail.testing.fake_nomad import FakeNomad

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
NOW_NS = int(NOW * 1e9)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterable[None]:
    """Local time is UTC, so printed timestamps are the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def fake() -> FakeNomad:
    return FakeNomad()


@dataclass
class Cli:
    fake: FakeNomad
    environ: dict[str, str] = field(default_factory=dict)
    tty: bool = False

    def __call__(self, *args: str, input: str | None = None) -> Result:
        env = CliEnv(transport_for=self.fake.at, environ=self.environ, now=lambda: NOW,
                     sleep=lambda seconds: None, stdout_isatty=lambda: self.tty)
        return CliRunner().invoke(cli, list(args), obj=env, input=input,
                                  catch_exceptions=False)


@pytest.fixture
def run(fake: FakeNomad) -> Cli:
    return Cli(fake)
