"""The task runner's hooks: small steps, each implementing only the phases it needs.

See :mod:`nomadjail.client.hooks.base` for the phases and their contract.
"""

from ..artifacts.hook import ArtifactHook
from ..templates.hook import TemplateHook
from .base import (
    ExitedHook,
    HookContext,
    HookError,
    PoststartHook,
    PrekillHook,
    PrestartHook,
    StopHook,
    TaskHook,
    UpdateHook,
)
from .env import EnvHook
from .logs import LogsHook
from .services import TaskServicesHook
from .task_dir import TaskDirHook
from .validate import ValidateHook
from .volumes import VolumesHook


def default_task_hooks() -> list[TaskHook]:
    """The hooks every task runs, in order (Nomad's order: task dir, env, validate, logs,
    volumes, artifacts, templates, then the services registered once the task runs)."""
    return [TaskDirHook(), EnvHook(), ValidateHook(), LogsHook(), VolumesHook(),
            ArtifactHook(), TemplateHook(), TaskServicesHook()]


__all__ = ["ArtifactHook", "EnvHook", "ExitedHook", "HookContext", "HookError", "LogsHook",
           "PoststartHook", "PrekillHook", "PrestartHook", "StopHook", "TaskDirHook", "TaskHook",
           "TaskServicesHook", "TemplateHook", "UpdateHook", "ValidateHook", "VolumesHook",
           "default_task_hooks"]
