"""Task lifecycle ordering inside an allocation (Nomad's task coordinator).

============  ==============================================================
task kind     may start when
============  ==============================================================
prestart      at once
main          every prestart task that is not a sidecar finished successfully
              and every prestart sidecar runs
poststart     every main task has started
poststop      every other task is dead
============  ==============================================================

A gate, once open, stays open (a restarted main task does not wait for its
prestart tasks again).  The coordinator keeps its own copy of the task states;
:meth:`TaskCoordinator.allowed` never calls into a task runner, so a runner
may ask while holding its own lock.

What a task's kind means elsewhere is answered here too, so the hook names are
compared in one place: a *sidecar* runs alongside the main tasks (killed last,
restarted even after exit 0); a *poststop* task runs because its allocation
stopped (:func:`alloc_stops_task`), and the alloc runner waits for it.
"""

from __future__ import annotations

import threading
from typing import Literal

from ..structs import (
    ZERO_TIME,
    Allocation,
    Task,
    TaskLifecycle,
    TaskLifecycleHook,
    TaskState,
    TaskStateName,
)

PRESTART = TaskLifecycleHook.PRESTART
POSTSTART = TaskLifecycleHook.POSTSTART
POSTSTOP = TaskLifecycleHook.POSTSTOP
MAIN: Literal[""] = ""  # a main task has no hook (Nomad names no constant for it either)

TaskKind = TaskLifecycleHook | Literal[""]
_HOOKS = {hook.value: hook for hook in TaskLifecycleHook}


def hook_kind(lifecycle: TaskLifecycle | None) -> TaskKind:
    """The kind a ``lifecycle`` block makes of its task; :data:`MAIN` without one (or with
    a hook Nomad does not define)."""
    hook = lifecycle.hook if lifecycle else ""
    return _HOOKS.get(hook, MAIN)


def lifecycle_kind(task: Task) -> TaskKind:
    """The task's lifecycle hook; :data:`MAIN` when it has none (or one Nomad does not
    define)."""
    return hook_kind(task.lifecycle)


def is_sidecar(task: Task) -> bool:
    """The task's lifecycle block says ``sidecar``: it keeps running beside the main tasks."""
    return bool(task.lifecycle and task.lifecycle.sidecar)


def is_poststop(task: Task) -> bool:
    return lifecycle_kind(task) == POSTSTOP


def alloc_stops_task(alloc: Allocation, task: Task) -> bool:
    """Whether ``alloc`` no longer lets ``task`` (re)start: the client is done with the
    allocation, or the servers stopped it -- except for a poststop task, which runs
    *because* they did."""
    if alloc.client_terminal():
        return True
    return not is_poststop(task) and alloc.server_terminal()


class TaskCoordinator:
    def __init__(self, tasks: list[Task]) -> None:
        self._kind = {t.name: lifecycle_kind(t) for t in tasks}
        self._sidecar = {t.name: is_sidecar(t) for t in tasks}
        self._lock = threading.Lock()
        self._open: set[str] = {name for name, kind in self._kind.items() if kind == PRESTART}

    def allowed(self, task: str) -> bool:
        with self._lock:
            return task in self._open

    def update(self, states: dict[str, TaskState]) -> list[str]:
        """Take the latest task states; returns the tasks whose gate just opened."""
        def of(kind: TaskKind) -> list[str]:
            return [name for name, k in self._kind.items() if k == kind]

        def state(name: str) -> TaskState:
            return states.get(name) or TaskState()

        prestart_done = all(
            (state(n).state == TaskStateName.RUNNING) if self._sidecar[n]
            else (state(n).state == TaskStateName.DEAD and not state(n).failed)
            for n in of(PRESTART))
        mains = of(MAIN)
        main_started = all(state(n).started_at != ZERO_TIME for n in mains)
        others_dead = all(state(n).state == TaskStateName.DEAD
                          for n, k in self._kind.items() if k != POSTSTOP)
        opened = []
        with self._lock:
            for kind, ready in ((MAIN, prestart_done), (POSTSTART, prestart_done and main_started),
                                (POSTSTOP, others_dead)):
                if not ready:
                    continue
                for name in of(kind):
                    if name not in self._open:
                        self._open.add(name)
                        opened.append(name)
        return opened
