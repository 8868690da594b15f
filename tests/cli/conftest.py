"""A scripted Nomad HTTP API (``nomadjail.testing.fake_nomad``) and a CLI runner.

Tests state the answers the "server" gives (``fake.on("GET", "/v1/jobs",
[...])``) and run the CLI in process against them; every request is
recorded so a test can check what the CLI asked for, and where.  Times are
UTC and the clock is frozen at ``NOW`` so "2m ago" is predictable.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
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
    sleeps: list[float] = field(default_factory=list)
    """Every pause the command asked for (none is taken)."""

    def __call__(self, *args: str, input: str | None = None) -> Result:
        env = CliEnv(transport_for=self.fake.at, environ=self.environ, now=lambda: NOW,
                     sleep=self.sleeps.append, stdout_isatty=lambda: self.tty)
        return CliRunner().invoke(cli, list(args), obj=env, input=input,
                                  catch_exceptions=False)


@pytest.fixture
def run(fake: FakeNomad) -> Cli:
    return Cli(fake)


_REDRAW = re.compile(r"\x1b\[(\d+)F\x1b\[J")


def screen(output: str, width: int = 80) -> str:
    """What a terminal ``width`` columns wide shows after ``output`` was written to it.

    A stand-in for a terminal that knows only the control sequences the
    CLI's live monitor area sends: "cursor to the start of the line N rows
    up" followed by "clear to the end of the screen".  Rows count the way
    a terminal wraps long lines; colour codes are left in the text.
    """
    lines: list[str] = [""]
    for piece in re.split(r"(\x1b\[\d+F\x1b\[J)", output):
        if not piece:
            continue
        match = _REDRAW.fullmatch(piece)
        if match:
            assert lines[-1] == "", "the area is redrawn from the start of a line"
            rows = int(match.group(1))
            lines.pop()
            while rows > 0:
                line = lines.pop()
                rows -= max(1, math.ceil(len(line) / width))
            assert rows == 0, "the cursor went up into the middle of a wrapped line"
            lines.append("")
            continue
        chunks = piece.split("\n")
        lines[-1] += chunks[0]
        lines.extend(chunks[1:])
    return "\n".join(lines)


@pytest.fixture
def terminal() -> Callable[..., str]:
    """:func:`screen`: what a terminal shows after the output a test captured."""
    return screen
