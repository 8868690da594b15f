"""Fixtures for driver tests: task configs in a private alloc dir, and cleanup by PID."""

from __future__ import annotations

import os
import signal
import sys
from types import SimpleNamespace
from typing import Iterator

import psutil
import pytest

from nomadjail.drivers.base import TaskConfig, TaskResources
from nomadjail.structs import generate_uuid


def kill_processes_under(root: str) -> None:
    """SIGKILL, by PID, every process whose command line or cwd mentions ``root``."""
    victims = []
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            cwd = proc.info.get("cwd") or ""
        except (psutil.Error, TypeError):
            continue
        if proc.pid != os.getpid() and (root in cmdline or cwd.startswith(root)):
            victims.append(proc)
    for proc in victims:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.Error:
            pass
    psutil.wait_procs(victims, timeout=5)


@pytest.fixture
def task_config(tmp_path) -> Iterator:
    """``task_config(config, name="web", env=None, max_files=10, max_file_size_mb=10)``."""

    def make(config: dict, *, name: str = "web", env: dict | None = None,
             max_files: int = 10, max_file_size_mb: int = 10) -> TaskConfig:
        alloc_id = generate_uuid()
        alloc_dir = tmp_path / alloc_id
        task_dir = alloc_dir / name
        logs = alloc_dir / "alloc" / "logs"
        for path in (task_dir / "local", logs):
            path.mkdir(parents=True, exist_ok=True)
        base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        base_env.update(env or {})
        return TaskConfig(id=f"{alloc_id}/{name}/{generate_uuid()[:8]}", alloc_id=alloc_id,
                          namespace="default", job_id="job", job_name="job", group_name="group",
                          name=name, node_id="node", node_name="node", env=base_env,
                          config=config, resources=TaskResources(), user="",
                          alloc_dir=str(alloc_dir), task_dir=str(task_dir),
                          stdout_path=str(logs / f"{name}.stdout"),
                          stderr_path=str(logs / f"{name}.stderr"), log_max_files=max_files,
                          log_max_file_size_mb=max_file_size_mb)

    yield make
    kill_processes_under(str(tmp_path))


@pytest.fixture
def sh() -> SimpleNamespace:
    """Shell snippets as raw_exec configs."""
    def script(text: str) -> dict:
        return {"command": "/bin/sh", "args": ["-c", text]}
    return SimpleNamespace(script=script, python=sys.executable)
