"""Hook dispatch: per-phase lists in the given order; prestart fatal, the rest logged."""

from __future__ import annotations

import logging

import pytest

from nomadjail.client import events
from nomadjail.client.hooks import HookError, default_task_hooks
from nomadjail.client.task_runner_hooks import HookPhase, TaskHooks
from nomadjail.drivers.base import ExitResult, TaskHandle
from nomadjail.structs import TaskEventType

CALLS: list[str] = []


class Prestart:
    def __init__(self, name: str, error: Exception | None = None) -> None:
        self.name = name
        self.error = error

    def prestart(self, ctx) -> None:
        CALLS.append(f"{self.name}.prestart")
        if self.error is not None:
            raise self.error


class Everything(Prestart):
    """A hook implementing every phase; ``error`` is raised by each."""

    def poststart(self, ctx, handle) -> None:
        CALLS.append(f"{self.name}.poststart:{handle.task_id}")
        self._fail()

    def exited(self, ctx, result) -> None:
        CALLS.append(f"{self.name}.exited:{result.exit_code}")
        self._fail()

    def stop(self, ctx) -> None:
        CALLS.append(f"{self.name}.stop")
        self._fail()

    def update(self, ctx) -> None:
        CALLS.append(f"{self.name}.update")
        self._fail()

    def _fail(self) -> None:
        if self.error is not None:
            raise self.error


class StopOnly:
    name = "stop_only"

    def stop(self, ctx) -> None:
        CALLS.append("stop_only.stop")


@pytest.fixture(autouse=True)
def calls():
    CALLS.clear()
    yield CALLS
    CALLS.clear()


def hooks(*given) -> TaskHooks:
    return TaskHooks(given, alloc_id="alloc-1", task="web")


def test_each_phase_has_the_hooks_implementing_it_in_the_given_order() -> None:
    dispatch = hooks(Prestart("a"), StopOnly(), Everything("b"), Prestart("c"))
    assert dispatch.names(HookPhase.PRESTART) == ["a", "b", "c"]
    assert dispatch.names(HookPhase.POSTSTART) == ["b"]
    assert dispatch.names(HookPhase.EXITED) == ["b"]
    assert dispatch.names(HookPhase.STOP) == ["stop_only", "b"]
    assert dispatch.names(HookPhase.UPDATE) == ["b"]


def test_the_default_hooks_run_in_nomads_order() -> None:
    dispatch = hooks(*default_task_hooks())
    assert dispatch.names(HookPhase.PRESTART) == ["task_dir", "env", "validate", "logs",
                                                 "volumes", "artifacts", "template"]
    # the services hook: registered once the task runs, gone before it is killed
    for phase in (HookPhase.PREKILL, HookPhase.EXITED, HookPhase.UPDATE):
        assert dispatch.names(phase) == ["task_services"]
    # templates: first-render scripts once the task runs; the watcher ends with the runner
    assert dispatch.names(HookPhase.POSTSTART) == ["template", "task_services"]
    assert dispatch.names(HookPhase.STOP) == ["template", "task_services"]


def test_phases_call_their_hooks_with_their_arguments(hook_context, calls) -> None:
    dispatch = hooks(Prestart("a"), Everything("b"), StopOnly())
    ctx = hook_context()
    dispatch.prestart(ctx)
    dispatch.poststart(ctx, TaskHandle(driver="mock_driver", task_id="t1"))
    dispatch.exited(ctx, ExitResult(exit_code=3))
    dispatch.update(ctx)
    dispatch.stop(ctx)
    assert calls == ["a.prestart", "b.prestart", "b.poststart:t1", "b.exited:3", "b.update",
                     "b.stop", "stop_only.stop"]


def test_a_prestart_failure_stops_the_phase_and_emits_its_event(hook_context, emitted,
                                                                calls) -> None:
    event = events.setup_failure("no room")
    failure = HookError("no room", event=event, recoverable=True)
    dispatch = hooks(Prestart("a"), Prestart("b", failure), Prestart("c"))
    with pytest.raises(HookError) as raised:
        dispatch.prestart(hook_context())
    assert raised.value is failure and raised.value.recoverable
    assert calls == ["a.prestart", "b.prestart"]
    assert emitted == [event]


def test_a_prestart_failure_without_an_event_emits_task_hook_failed(hook_context,
                                                                    emitted) -> None:
    dispatch = hooks(Prestart("b", HookError("no luck")))
    with pytest.raises(HookError, match="no luck"):
        dispatch.prestart(hook_context())
    assert [e.type for e in emitted] == [TaskEventType.HOOK_FAILED]
    assert emitted[0].message == "b: no luck"


def test_a_prestart_bug_fails_the_start_unrecoverably_with_its_traceback(
        hook_context, emitted, calls, caplog) -> None:
    bug = KeyError("oops")
    dispatch = hooks(Prestart("a", bug), Prestart("c"))
    with pytest.raises(HookError, match="^a: 'oops'$") as raised:
        dispatch.prestart(hook_context())
    assert raised.value.__cause__ is bug and not raised.value.recoverable
    assert calls == ["a.prestart"]
    assert [(e.type, e.message) for e in emitted] == [(TaskEventType.HOOK_FAILED,
                                                        "a: 'oops'")]
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert logged and logged[0].exc_info is not None
    assert "alloc-1 task web: prestart hook a failed" in logged[0].getMessage()


@pytest.mark.parametrize("error", [HookError("no luck"), RuntimeError("bug")])
def test_other_phases_log_a_failure_and_go_on(hook_context, emitted, calls, caplog,
                                              error) -> None:
    dispatch = hooks(Everything("a", error), Everything("b"))
    ctx = hook_context()
    dispatch.poststart(ctx, TaskHandle(driver="mock_driver", task_id="t1"))
    dispatch.exited(ctx, ExitResult(exit_code=0))
    dispatch.update(ctx)
    dispatch.stop(ctx)
    assert calls == ["a.poststart:t1", "b.poststart:t1", "a.exited:0", "b.exited:0",
                     "a.update", "b.update", "a.stop", "b.stop"]
    assert emitted == []
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert [m.split(": ")[1] for m in messages] == [
        "poststart hook a failed", "exited hook a failed", "update hook a failed",
        "stop hook a failed"]
