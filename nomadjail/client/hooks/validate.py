"""Check the interpolated driver config and the environment before starting."""

from __future__ import annotations

from .. import events
from .base import HookContext, HookError


class ValidateHook:
    """Fails the start, unrecoverably, with a "Failed Validation" event naming each
    problem (the driver's ``validate_config`` names the offending keys)."""

    name = "validate"

    def prestart(self, ctx: HookContext) -> None:
        problems = list(ctx.driver.validate_config(ctx.driver_config))
        for key in ctx.task.env:
            if not key or "=" in key or "\x00" in key:
                problems.append(f"invalid environment variable name {key!r} in task "
                                f"{ctx.task.name!r}")
        if problems:
            message = "; ".join(problems)
            raise HookError(message, event=events.failed_validation(message))
