"""Build the task's environment and interpolate its driver config and args."""

from __future__ import annotations

from ..taskenv import build_task_env
from .base import HookContext


class EnvHook:
    """Rebuilt before every start: ports or meta may have changed with an update."""

    name = "env"

    def prestart(self, ctx: HookContext) -> None:
        ctx.env = build_task_env(alloc=ctx.alloc, task=ctx.task, node=ctx.node,
                                 region=ctx.config.region, task_dir=ctx.task_dir,
                                 fs_isolation=ctx.capabilities.fs_isolation,
                                 env_denylist=ctx.config.env_denylist())
        ctx.driver_config = ctx.env.interpolate(dict(ctx.task.config))
