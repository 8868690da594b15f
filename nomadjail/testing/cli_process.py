"""Run the ``nomadjail`` command as a user does: a subprocess talking to a real agent.

:func:`run_cli` runs one command to its end (``python -m nomadjail ...``
with ``NOMAD_ADDR`` pointing at the agent, colours off) and returns its
exit status and output.  :class:`BackgroundCli` starts one and lets the test
act on the cluster while it runs -- for the commands that follow a
deployment only someone else can move on (manual health, a paused
rollout).  A command still running when its time is up is killed by its
PID and the test fails with what it printed so far, so a hung command never
hangs the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from .agent_process import AgentProcess

COMMAND_TIMEOUT = 120.0
"""Seconds a command may run before the test fails (it is killed)."""


def cli_env(agent: AgentProcess) -> dict[str, str]:
    """The environment of a user whose CLI talks to ``agent``, without colours."""
    return {**os.environ, "NOMAD_ADDR": agent.address, "NOMAD_CLI_NO_COLOR": "1"}


def _command(args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "nomadjail", *args]


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def run_cli(agent: AgentProcess, *args: str, cwd: Path,
            timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``nomadjail <args>`` against ``agent`` in ``cwd`` and wait for it."""
    try:
        return subprocess.run(_command(args), cwd=cwd, env=cli_env(agent),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:  # subprocess.run has killed the child
        raise AssertionError(f"`nomadjail {' '.join(args)}` still running after {timeout}s; "
                             f"its output so far:\n{_text(err.stdout)}{_text(err.stderr)}"
                             ) from None


class BackgroundCli:
    """``nomadjail <args>`` running while the test goes on; a context manager.

    Its output goes to temporary files, not pipes, so a chatty command never
    blocks on a full pipe while the test is busy elsewhere.  :meth:`result`
    waits for it to end.  Leaving the ``with`` block kills it (by its PID) if
    it still runs, so a failing test leaves no command behind.
    """

    def __init__(self, agent: AgentProcess, *args: str, cwd: Path):
        self.args = args
        self._stdout = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        self.proc = subprocess.Popen(_command(args), cwd=cwd, env=cli_env(agent),
                                     stdout=self._stdout, stderr=self._stderr)

    def _output(self) -> tuple[str, str]:
        texts = []
        for file in (self._stdout, self._stderr):
            file.seek(0)
            texts.append(file.read())
        return texts[0], texts[1]

    def result(self, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Its exit status and output once it ended (fails the test after ``timeout``)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            stdout, stderr = self._output()
            raise AssertionError(f"`nomadjail {' '.join(self.args)}` still running after "
                                 f"{timeout}s; its output so far:\n{stdout}{stderr}") from None
        stdout, stderr = self._output()
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, stdout, stderr)

    def __enter__(self) -> BackgroundCli:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stdout.close()
        self._stderr.close()
