"""Task configs for driver tests: a private alloc dir layout and shell-script tasks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..drivers.base import TaskConfig, TaskResources
from ..structs import generate_uuid


def shell_config(script: str) -> dict[str, Any]:
    """A raw_exec ``config`` block running ``/bin/sh -c script``."""
    return {"command": "/bin/sh", "args": ["-c", script]}


def make_task_config(base: str | Path, config: dict[str, Any], *, name: str = "web",
                     env: dict[str, str] | None = None, max_files: int = 10,
                     max_file_size_mb: int = 10) -> TaskConfig:
    """A TaskConfig for a fresh allocation under ``base``, laid out as the client does
    (``<alloc>/<task>/local``, ``<alloc>/alloc/logs``), with ``PATH`` in its env."""
    alloc_id = generate_uuid()
    alloc_dir = Path(base) / alloc_id
    task_dir = alloc_dir / name
    logs = alloc_dir / "alloc" / "logs"
    for path in (task_dir / "local", logs):
        path.mkdir(parents=True, exist_ok=True)
    task_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}
    return TaskConfig(id=f"{alloc_id}/{name}/{generate_uuid()[:8]}", alloc_id=alloc_id,
                      namespace="default", job_id="job", job_name="job", group_name="group",
                      name=name, node_id="node", node_name="node", env=task_env,
                      config=config, resources=TaskResources(), user="",
                      alloc_dir=str(alloc_dir), task_dir=str(task_dir),
                      stdout_path=str(logs / f"{name}.stdout"),
                      stderr_path=str(logs / f"{name}.stderr"), log_max_files=max_files,
                      log_max_file_size_mb=max_file_size_mb)
