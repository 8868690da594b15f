"""The task events of the template manager, with Nomad's types and texts."""

from __future__ import annotations

from ...structs import TaskEvent, TaskEventType
from .. import events


def missing(message: str) -> TaskEvent:
    """``Template``: "Missing: kv.block(app/port), ..." while the first render waits."""
    return events.new_event(TaskEventType.TEMPLATE, display=message)


def restart() -> TaskEvent:
    """``Restart Signaled``: a restart template's output changed."""
    return events.new_event(TaskEventType.RESTART_SIGNAL,
                            display="Template with change_mode restart re-rendered")


def signaling(signal: str) -> TaskEvent:
    """``Signaling``: a signal template's output changed."""
    event = events.new_event(TaskEventType.SIGNALING, display="Template re-rendered")
    event.details["signal"] = signal
    return event


def skipped_signal(signal: str) -> TaskEvent:
    return events.new_event(TaskEventType.HOOK_MESSAGE,
                            display=f"Template skipped signal {signal}: task is not running")


def hook_message(message: str) -> TaskEvent:
    return events.new_event(TaskEventType.HOOK_MESSAGE, display=message)


def hook_failed(message: str) -> TaskEvent:
    return events.new_event(TaskEventType.HOOK_FAILED, display=message)


def killing(message: str) -> TaskEvent:
    """``Killing`` that fails the task: a template could not be rendered or acted on."""
    return events.fails_task(events.new_event(TaskEventType.KILLING, display=message))
