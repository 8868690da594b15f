"""The task coordinator's gates, driven by task states alone (no runners, no threads)."""

from __future__ import annotations

from nomadjail.client.lifecycle import MAIN, TaskCoordinator, lifecycle_kind
from nomadjail.structs import Task, TaskLifecycle, TaskLifecycleHook, TaskState, TaskStateName

STARTED = "2024-01-01T00:00:00Z"


def task(name: str, hook: str = "", sidecar: bool = False) -> Task:
    return Task(name=name, driver="raw_exec",
                lifecycle=TaskLifecycle(hook=hook, sidecar=sidecar) if hook else None)


def running() -> TaskState:
    return TaskState(state=TaskStateName.RUNNING, started_at=STARTED)


def dead(failed: bool = False) -> TaskState:
    return TaskState(state=TaskStateName.DEAD, failed=failed, started_at=STARTED)


def test_the_kind_is_the_hook_as_an_enum_member():
    assert lifecycle_kind(task("a", "prestart")) is TaskLifecycleHook.PRESTART
    assert lifecycle_kind(task("a", "poststart")) is TaskLifecycleHook.POSTSTART
    assert lifecycle_kind(task("a", "poststop")) is TaskLifecycleHook.POSTSTOP
    assert lifecycle_kind(task("a")) == MAIN == ""
    assert lifecycle_kind(task("a", "whenever")) == MAIN  # unknown hooks run as main tasks


def test_tasks_start_in_nomads_order():
    tasks = [task("init", "prestart"), task("web"), task("warm", "poststart"),
             task("flush", "poststop")]
    coordinator = TaskCoordinator(tasks)
    assert [t.name for t in tasks if coordinator.allowed(t.name)] == ["init"]
    assert coordinator.update({"init": running()}) == []  # not a sidecar: must finish
    assert coordinator.update({"init": dead()}) == ["web"]
    assert coordinator.update({"init": dead(), "web": running()}) == ["warm"]
    assert coordinator.update({"init": dead(), "web": dead(), "warm": running()}) == []
    assert coordinator.update({"init": dead(), "web": dead(), "warm": dead()}) == ["flush"]
    assert all(coordinator.allowed(t.name) for t in tasks)


def test_a_failed_prestart_task_keeps_the_main_tasks_waiting():
    coordinator = TaskCoordinator([task("init", "prestart"), task("web")])
    assert coordinator.update({"init": dead(failed=True)}) == []
    assert not coordinator.allowed("web")


def test_a_prestart_sidecar_only_has_to_run():
    coordinator = TaskCoordinator([task("proxy", "prestart", sidecar=True), task("web")])
    assert coordinator.update({"proxy": running()}) == ["web"]


def test_an_open_gate_stays_open():
    coordinator = TaskCoordinator([task("init", "prestart"), task("web")])
    coordinator.update({"init": dead()})
    assert coordinator.update({"init": TaskState(state=TaskStateName.PENDING)}) == []
    assert coordinator.allowed("web")
