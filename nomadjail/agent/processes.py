"""Finding and ending the processes an agent started (task supervisors and tasks).

Every one of them runs inside the agent's data dir or names it on its command
line, so they can be found by that path -- and then ended by PID, never by
name.  The dev agent uses this when its worker dies; tests use it to clean up.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import psutil


def processes_under(root: str | Path) -> list[psutil.Process]:
    """Live processes whose command line mentions ``root`` or whose cwd is inside it."""
    root = os.path.realpath(str(root))
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            cwd = proc.info.get("cwd") or ""
        except (psutil.Error, TypeError):
            continue
        if proc.pid == os.getpid():
            continue
        if root in cmdline or cwd == root or cwd.startswith(root.rstrip(os.sep) + os.sep):
            found.append(proc)
    return found


def end_processes_under(root: str | Path, *, grace: float = 5.0,
                        wait: float = 5.0) -> list[int]:
    """SIGTERM every process under ``root`` and SIGKILL those still there after
    ``grace`` seconds (``grace=0``: SIGKILL at once); returns their PIDs."""
    victims = processes_under(root)
    first = signal.SIGTERM if grace > 0 else signal.SIGKILL
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(first)
    _, alive = psutil.wait_procs(victims, timeout=grace if grace > 0 else wait)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=wait)
    return [proc.pid for proc in victims]
