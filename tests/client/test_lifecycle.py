"""The task coordinator's gates, driven by task states alone (no runners, no threads)."""

from __future__ import annotations

from nomadjail.client.lifecycle import (
    MAIN,
    TaskCoordinator,
    alloc_stops_task,
    hook_kind,
    is_poststop,
    is_sidecar,
    lifecycle_kind,
)
from nomadjail.structs import (
    AllocClientStatus,
    AllocDesiredStatus,
    Task,
    TaskLifecycle,
    TaskLifecycleHook,
    TaskState,
    TaskStateName,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node

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


def test_the_kind_of_a_lifecycle_block():
    assert hook_kind(None) == MAIN
    assert hook_kind(TaskLifecycle(hook="poststart", sidecar=True)) is TaskLifecycleHook.POSTSTART
    assert hook_kind(TaskLifecycle(hook="")) == MAIN


def test_sidecars_and_poststop_tasks():
    assert is_sidecar(task("proxy", "prestart", sidecar=True))
    assert not is_sidecar(task("init", "prestart")) and not is_sidecar(task("web"))
    assert is_poststop(task("flush", "poststop"))
    assert not is_poststop(task("web")) and not is_poststop(task("init", "prestart"))


def test_a_stopped_allocation_stops_every_task_but_poststop_ones():
    alloc = mock_alloc(mock_job(), mock_node())
    web, flush = task("web"), task("flush", "poststop")
    assert not alloc_stops_task(alloc, web) and not alloc_stops_task(alloc, flush)
    alloc.desired_status = AllocDesiredStatus.STOP  # the servers stopped it
    assert alloc_stops_task(alloc, web)
    assert not alloc_stops_task(alloc, flush)  # runs because of the stop


def test_a_client_terminal_allocation_stops_every_task():
    alloc = mock_alloc(mock_job(), mock_node(), client_status=AllocClientStatus.FAILED)
    assert alloc_stops_task(alloc, task("web"))
    assert alloc_stops_task(alloc, task("flush", "poststop"))


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
