"""Hook dispatch for a task runner: which hooks run in a phase, in what order, and what a
failure means (Nomad's ``task_runner_hooks.go``).

The phases and what a hook may rely on are in :mod:`nomadjail.client.hooks.base`.
:class:`TaskHooks` guarantees:

* The hooks are sorted into one list per phase once, when the runner is set
  up -- a hook's phases are the methods it has, and they do not change -- so
  a phase calls exactly the hooks implementing it, in the order given
  (:func:`~nomadjail.client.hooks.default_task_hooks`: task dir, env,
  validate, logs, volumes).
* ``prestart`` is fatal: the first hook that fails stops the phase, its
  event (the :class:`HookError`'s own, else "Task hook failed") is emitted
  through ``ctx.emit``, and a :class:`HookError` reaches the caller for the
  restart policy.  A hook raising anything else has a bug: it is logged with
  its traceback and reported as an unrecoverable :class:`HookError`.
* The other phases never fail the task: a failing hook is logged (with the
  traceback for a bug) and the next hook runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Protocol, TypeVar

from ..drivers.base import ExitResult, TaskHandle
from . import events
from .hooks import (
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

log = logging.getLogger(__name__)


class HookPhase(StrEnum):
    """When the task runner calls a hook (the name of the hook's method)."""

    PRESTART = "prestart"
    POSTSTART = "poststart"
    PREKILL = "prekill"
    EXITED = "exited"
    STOP = "stop"
    UPDATE = "update"


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_HookT = TypeVar("_HookT", bound=_Named)


class TaskHooks:
    """The hooks of one task, by phase."""

    def __init__(self, hooks: Iterable[TaskHook], *, alloc_id: str, task: str) -> None:
        hooks = list(hooks)
        self._alloc_id = alloc_id
        self._task = task
        self._prestart = [hook for hook in hooks if isinstance(hook, PrestartHook)]
        self._poststart = [hook for hook in hooks if isinstance(hook, PoststartHook)]
        self._prekill = [hook for hook in hooks if isinstance(hook, PrekillHook)]
        self._exited = [hook for hook in hooks if isinstance(hook, ExitedHook)]
        self._stop = [hook for hook in hooks if isinstance(hook, StopHook)]
        self._update = [hook for hook in hooks if isinstance(hook, UpdateHook)]

    def names(self, phase: HookPhase) -> list[str]:
        """The hooks ``phase`` calls, in order."""
        hooks: dict[HookPhase, Sequence[_Named]] = {
            HookPhase.PRESTART: self._prestart, HookPhase.POSTSTART: self._poststart,
            HookPhase.PREKILL: self._prekill,
            HookPhase.EXITED: self._exited, HookPhase.STOP: self._stop,
            HookPhase.UPDATE: self._update}
        return [hook.name for hook in hooks[phase]]

    def prestart(self, ctx: HookContext) -> None:
        """Before each start attempt; raises :class:`HookError` when a hook failed."""
        self._run(HookPhase.PRESTART, self._prestart, lambda hook: hook.prestart(ctx), ctx,
                  fatal=True)

    def poststart(self, ctx: HookContext, handle: TaskHandle) -> None:
        self._run(HookPhase.POSTSTART, self._poststart,
                  lambda hook: hook.poststart(ctx, handle), ctx)

    def prekill(self, ctx: HookContext) -> None:
        self._run(HookPhase.PREKILL, self._prekill, lambda hook: hook.prekill(ctx), ctx)

    def exited(self, ctx: HookContext, result: ExitResult) -> None:
        self._run(HookPhase.EXITED, self._exited, lambda hook: hook.exited(ctx, result), ctx)

    def stop(self, ctx: HookContext) -> None:
        self._run(HookPhase.STOP, self._stop, lambda hook: hook.stop(ctx), ctx)

    def update(self, ctx: HookContext) -> None:
        self._run(HookPhase.UPDATE, self._update, lambda hook: hook.update(ctx), ctx)

    def _run(self, phase: HookPhase, hooks: Sequence[_HookT], call: Callable[[_HookT], None],
             ctx: HookContext, *, fatal: bool = False) -> None:
        for hook in hooks:
            try:
                call(hook)
            except HookError as err:
                if fatal:
                    ctx.emit(err.event or events.hook_failed(hook.name, str(err)))
                    raise
                log.error("alloc %s task %s: %s hook %s failed: %s", self._alloc_id,
                          self._task, phase, hook.name, err)
            except Exception as err:  # noqa: BLE001 - a hook bug fails the start, visibly
                log.exception("alloc %s task %s: %s hook %s failed", self._alloc_id,
                              self._task, phase, hook.name)
                if fatal:
                    ctx.emit(events.hook_failed(hook.name, str(err)))
                    raise HookError(f"{hook.name}: {err}") from err
