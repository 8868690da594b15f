"""The task runner's hooks: small steps, each implementing only the phases it needs.

See :mod:`nomadjail.client.hooks.base` for the phases and their contract.
"""

from .base import (
    ExitedHook,
    HookContext,
    HookError,
    PoststartHook,
    PrestartHook,
    StopHook,
    TaskHook,
    UpdateHook,
)
from .env import EnvHook
from .logs import LogsHook
from .task_dir import TaskDirHook
from .validate import ValidateHook
from .volumes import VolumesHook


def default_task_hooks() -> list[TaskHook]:
    """The hooks every task runs, in order (Nomad's order: task dir, env, validate, logs,
    volumes)."""
    return [TaskDirHook(), EnvHook(), ValidateHook(), LogsHook(), VolumesHook()]


__all__ = ["EnvHook", "ExitedHook", "HookContext", "HookError", "LogsHook", "PoststartHook",
           "PrestartHook", "StopHook", "TaskDirHook", "TaskHook", "UpdateHook", "ValidateHook",
           "VolumesHook", "default_task_hooks"]
