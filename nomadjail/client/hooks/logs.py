"""Where the task's stdout/stderr go: ``alloc/logs/<task>.stdout.N`` (Nomad's logmon)."""

from __future__ import annotations

import os

from .base import HookContext


class LogsHook:
    """Sets the log paths and rotation limits from the task's ``logs`` block.

    With ``logs { disabled = true }`` the paths are ``os.devnull``: drivers
    discard the output.
    """

    name = "logs"

    def prestart(self, ctx: HookContext) -> None:
        log_config = ctx.task.log_config
        os.makedirs(ctx.task_dir.log_dir, exist_ok=True)
        if log_config is not None and log_config.disabled:
            ctx.stdout_path = ctx.stderr_path = os.devnull
        else:
            ctx.stdout_path = os.path.join(ctx.task_dir.log_dir, f"{ctx.task.name}.stdout")
            ctx.stderr_path = os.path.join(ctx.task_dir.log_dir, f"{ctx.task.name}.stderr")
        if log_config is not None:
            ctx.log_max_files = log_config.max_files or 10
            ctx.log_max_file_size_mb = log_config.max_file_size_mb or 10
