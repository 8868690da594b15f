"""How a task event reads to a person (Nomad's ``PopulateEventDisplayMessage``).

The client fills ``TaskEvent.display_message`` with this when it records an
event; the CLI and UI fall back to it for events that arrive without one.
"""

from __future__ import annotations

from .alloc import TaskEvent
from .consts import TaskEventType
from .durations import format_duration

REASON_WITHIN_POLICY = "Restart within policy"


def display_message(event: TaskEvent) -> str:
    """The human description of an event (Nomad's PopulateEventDisplayMessage)."""
    kind = event.type
    if kind == TaskEventType.SETUP:
        return event.message
    if kind == TaskEventType.STARTED:
        return "Task started by client"
    if kind == TaskEventType.RECEIVED:
        return "Task received by client"
    if kind == TaskEventType.FAILED_VALIDATION:
        return event.validation_error or "Validation of task failed"
    if kind == TaskEventType.SETUP_FAILURE:
        return event.setup_error or "Task setup failed"
    if kind == TaskEventType.DRIVER_FAILURE:
        return event.driver_error or "Failed to start task"
    if kind == TaskEventType.KILLING:
        if event.kill_reason:
            return event.kill_reason
        if event.kill_timeout:
            return (f"Sent interrupt. Waiting {format_duration(event.kill_timeout)} "
                    "before force killing")
        return "Sent interrupt"
    if kind == TaskEventType.KILLED:
        return event.kill_error or "Task successfully killed"
    if kind == TaskEventType.TERMINATED:
        parts = [f"Exit Code: {event.exit_code}"]
        if event.signal:
            parts.append(f"Signal: {event.signal}")
        if event.message:
            parts.append(f'Exit Message: "{event.message}"')
        return ", ".join(parts)
    if kind == TaskEventType.RESTARTING:
        delay = f"Task restarting in {format_duration(event.start_delay)}"
        if event.restart_reason and event.restart_reason != REASON_WITHIN_POLICY:
            return f"{event.restart_reason} - {delay}"
        return delay
    if kind == TaskEventType.NOT_RESTARTING:
        return event.restart_reason or "Task exceeded restart policy"
    if kind == TaskEventType.SIBLING_FAILED:
        failed = event.details.get("failed_sibling", "")
        return f'Task\'s sibling "{failed}" failed' if failed else "Task's sibling failed"
    if kind == TaskEventType.SIGNALING:
        sig, reason = event.task_signal, event.task_signal_reason
        if not sig and not reason:
            return "Task being sent a signal"
        if not sig:
            return reason
        if not reason:
            return f"Task being sent signal {sig}"
        return f"Task being sent signal {sig}: {reason}"
    if kind == TaskEventType.RESTART_SIGNAL:
        return event.restart_reason or "Task signaled to restart"
    if kind == TaskEventType.DOWNLOADING_ARTIFACTS:
        return "Client is downloading artifacts"
    if kind == TaskEventType.ARTIFACT_DOWNLOAD_FAILED:
        return event.download_error or "Failed to download artifacts"
    if kind == TaskEventType.DRIVER_MESSAGE:
        return event.driver_message
    if kind == TaskEventType.LEADER_DEAD:
        return "Leader Task in Group dead"
    if kind == TaskEventType.MAIN_DEAD:
        return "Main tasks in the group died"
    if kind == TaskEventType.CLIENT_RECONNECTED:
        return "Client reconnected"
    return event.message
