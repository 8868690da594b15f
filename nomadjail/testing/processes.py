"""End the processes a test started, by PID, without knowing their PIDs in advance.

Tests start agents, supervisors and tasks under a private temporary
directory; whatever survives the test still names that directory on its
command line or runs inside it.  The agent's own helper finds those and only
those: never a process by name, never this test process itself.
"""

from __future__ import annotations

from pathlib import Path

from ..agent.processes import end_processes_under, processes_under

__all__ = ["kill_processes_under", "processes_under"]


def kill_processes_under(root: str | Path, *, timeout: float = 5.0) -> list[int]:
    """SIGKILL, by PID, every process under ``root``; wait up to ``timeout`` seconds."""
    return end_processes_under(root, grace=0, wait=timeout)
