"""Fixtures every test directory may use: real agents as subprocesses.

``dev_agent`` is one ``nomadjail agent -dev`` per test module, on free
loopback ports; tests purge the jobs they create.  ``agent_factory`` starts
fresh agents with custom config for tests that restart, kill or reconfigure
them.  Both end the agent and every process it started, by PID.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nomadjail.testing import AgentProcess, make_agent


@pytest.fixture(scope="module")
def dev_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    agent = make_agent(tmp_path_factory.mktemp("dev-agent"))
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def agent_factory(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    started: list[AgentProcess] = []

    def factory(name: str = "agent", **kwargs) -> AgentProcess:
        agent = make_agent(tmp_path / name, **kwargs)
        started.append(agent)
        return agent

    try:
        yield factory
    finally:
        for agent in started:
            agent.stop()
