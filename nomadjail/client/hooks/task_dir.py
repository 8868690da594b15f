"""Build the task's directory (``<alloc>/<task>/{local,secrets,tmp}``) once."""

from __future__ import annotations

from ...structs import TaskEventType
from .. import events
from .base import HookContext, HookError

DONE_KEY = "done"


class TaskDirHook:
    """Emits "Task Setup: Building Task Directory" the first time only (as Nomad); the
    directories are re-created quietly if they vanished."""

    name = "task_dir"

    def prestart(self, ctx: HookContext) -> None:
        state = ctx.hook_state.setdefault(self.name, {})
        first = state.get(DONE_KEY) != "true"
        if first:
            ctx.emit(events.setup(TaskEventType.BUILDING_TASK_DIR))
        try:
            ctx.alloc_dir.build()
            ctx.alloc_dir.build_task(ctx.task.name)
        except OSError as err:
            message = f"failed to build task directory for {ctx.task.name!r}: {err}"
            raise HookError(message, event=events.setup_failure(message)) from err
        state[DONE_KEY] = "true"
