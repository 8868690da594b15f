"""Task events exactly as Nomad builds them: type, fields, ``Details`` and display message.

``nomad alloc status`` prints ``DisplayMessage``; UIs and tests read the typed
fields.  Every builder here fills the same ``Details`` keys Nomad's setters do
(``exit_code``, ``kill_timeout``, ``restart_reason`` ...), and
:func:`display_message` is Nomad's ``PopulateEventDisplayMessage``.
"""

from __future__ import annotations

from ..structs import TaskEvent, TaskEventType, format_duration, now_ns
from ..structs.task_events import display_message


def new_event(kind: str, *, display: str = "") -> TaskEvent:
    return TaskEvent(type=kind, time=now_ns(), display_message=display)


def finish(event: TaskEvent) -> TaskEvent:
    """Fill the display message, as Nomad does when the event is appended."""
    if not event.display_message:
        event.display_message = display_message(event)
    return event


def received() -> TaskEvent:
    return new_event(TaskEventType.RECEIVED)


def setup(message: str) -> TaskEvent:
    event = new_event(TaskEventType.SETUP)
    event.message = message
    event.details["message"] = message
    return event


def started() -> TaskEvent:
    return new_event(TaskEventType.STARTED)


def fails_task(event: TaskEvent) -> TaskEvent:
    event.fails_task = True
    event.details["fails_task"] = "true"
    return event


def driver_failure(error: str) -> TaskEvent:
    event = new_event(TaskEventType.DRIVER_FAILURE)
    event.driver_error = error
    event.details["driver_error"] = error
    return event


def failed_validation(error: str) -> TaskEvent:
    event = new_event(TaskEventType.FAILED_VALIDATION)
    event.validation_error = error
    event.details["validation_error"] = error
    return event


def setup_failure(error: str) -> TaskEvent:
    event = new_event(TaskEventType.SETUP_FAILURE)
    event.setup_error = error
    event.details["setup_error"] = error
    return event


def downloading_artifacts() -> TaskEvent:
    return new_event(TaskEventType.DOWNLOADING_ARTIFACTS)


def artifact_download_failed(error: str) -> TaskEvent:
    event = new_event(TaskEventType.ARTIFACT_DOWNLOAD_FAILED)
    event.download_error = error
    event.details["download_error"] = error
    return event


def hook_failed(hook: str, error: str) -> TaskEvent:
    event = new_event(TaskEventType.HOOK_FAILED)
    event.message = f"{hook}: {error}"
    event.details["message"] = event.message
    return event


def hook_message(hook: str, message: str) -> TaskEvent:
    """A hook's news that is not a failure ("services registered ...")."""
    event = new_event(TaskEventType.HOOK_MESSAGE)
    event.message = f"{hook}: {message}"
    event.details["message"] = event.message
    return event


def terminated(exit_code: int, signal: int, *, oom_killed: bool = False,
               exit_message: str = "") -> TaskEvent:
    event = new_event(TaskEventType.TERMINATED)
    event.exit_code = exit_code
    event.signal = signal
    event.details["exit_code"] = str(exit_code)
    event.details["signal"] = str(signal)
    event.details["oom_killed"] = "true" if oom_killed else "false"
    if exit_message:
        event.message = exit_message
        event.details["exit_message"] = exit_message
    return event


def restarting(delay_ns: int, reason: str) -> TaskEvent:
    event = new_event(TaskEventType.RESTARTING)
    event.start_delay = delay_ns
    event.details["start_delay"] = str(delay_ns)
    event.restart_reason = reason
    event.details["restart_reason"] = reason
    return event


def not_restarting(reason: str) -> TaskEvent:
    event = new_event(TaskEventType.NOT_RESTARTING)
    event.restart_reason = reason
    event.details["restart_reason"] = reason
    return fails_task(event)


def killing(kill_timeout_ns: int, *, reason: str = "") -> TaskEvent:
    event = new_event(TaskEventType.KILLING)
    event.kill_timeout = kill_timeout_ns
    event.details["kill_timeout"] = format_duration(kill_timeout_ns)
    if reason:
        event.kill_reason = reason
        event.details["kill_reason"] = reason
    return event


def killed(kill_error: str = "") -> TaskEvent:
    event = new_event(TaskEventType.KILLED)
    if kill_error:
        event.kill_error = kill_error
        event.details["kill_error"] = kill_error
    return event


def sibling_failed(sibling: str) -> TaskEvent:
    event = new_event(TaskEventType.SIBLING_FAILED)
    event.details["failed_sibling"] = sibling
    return event


def signaling(signal: str) -> TaskEvent:
    """What ``nomad alloc signal`` records: the signal only in Details (as Nomad's
    SetSignalText), so the display reads "Task being sent a signal"."""
    event = new_event(TaskEventType.SIGNALING)
    event.details["signal"] = signal
    return event


def restart_signal(reason: str) -> TaskEvent:
    event = new_event(TaskEventType.RESTART_SIGNAL)
    event.restart_reason = reason
    event.details["restart_reason"] = reason
    return event


def restore_failed(message: str) -> TaskEvent:
    return new_event(TaskEventType.RESTORE_FAILED, display=message)
