"""One allocation on this client: its directory, its task runners, its status.

An :class:`AllocRunner` starts one :class:`TaskRunner` per task of the group
and turns their states into the allocation's client status the way Nomad does:

==========  ===================================================================
failed      a task is dead and failed ("Failed tasks")
running     otherwise, a task runs ("Tasks are running")
pending     otherwise, a task has not started ("No tasks have started")
complete    every task is dead, none failed ("All tasks have completed")
==========  ===================================================================

Also as Nomad:

* a failed task kills its live siblings ("Sibling Task Failed"); a dead leader
  task kills the rest ("Leader Task Dead"); when only sidecars remain they are
  killed ("Main Tasks Dead");
* a server-side stop (desired status stop/evict) kills every task, leader
  first, then the others together, sidecars last, each with a "Killing" event;
* the allocation directory stays after the tasks stop (the logs remain) and
  is removed by :meth:`destroy`, when the allocation is garbage collected;
* every change is reported through ``on_update`` as a stripped allocation
  (ID, NodeID, ClientStatus, ClientDescription, TaskStates, DeploymentStatus,
  ModifyTime) for the client's batched ``Node.UpdateAlloc``.

Task state processing runs on whichever thread reported the change; changes
reported while it runs are folded into one more pass, so it never recurses
and never blocks a task runner on a kill.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Literal

from ..drivers.base import Driver
from ..helper.timers import Timers
from ..structs import (
    ZERO_TIME,
    Allocation,
    AllocClientStatus,
    AllocDeploymentStatus,
    BadRequest,
    Node,
    NomadError,
    NotFound,
    TaskEvent,
    TaskEventType,
    TaskState,
    TaskStateName,
    now_ns,
    rfc3339,
)
from . import events
from .allocdir import AllocDir
from .config import ClientConfig
from .health import AllocHealthWatcher
from .lifecycle import TaskCoordinator, is_poststop, is_sidecar
from .services.group_hook import GroupServices
from .services.provider import AllocChecks, ServiceProviders
from .state_db import StateDB
from .task_runner import TaskNotRunning, TaskRunner
from .templates.sources import TemplateBackends

log = logging.getLogger(__name__)


class AllocRunnerError(NomadError):
    """The allocation cannot be run here (unknown task group, missing driver ...)."""


def client_status(states: Mapping[str, TaskState]) -> tuple[AllocClientStatus | Literal[""], str]:
    """Nomad's getClientStatus: the allocation's status from its tasks' states."""
    pending = running = dead = failed = False
    for state in states.values():
        if state.state == TaskStateName.RUNNING:
            running = True
        elif state.state == TaskStateName.PENDING:
            pending = True
        elif state.state == TaskStateName.DEAD:
            if state.failed:
                failed = True
            else:
                dead = True
    if failed:
        return AllocClientStatus.FAILED, "Failed tasks"
    if running:
        return AllocClientStatus.RUNNING, "Tasks are running"
    if pending:
        return AllocClientStatus.PENDING, "No tasks have started"
    if dead:
        return AllocClientStatus.COMPLETE, "All tasks have completed"
    return "", ""


class AllocRunner:
    def __init__(self, alloc: Allocation, *, config: ClientConfig, drivers: Mapping[str, Driver],
                 node: Callable[[], Node], state_db: StateDB, timers: Timers,
                 on_update: Callable[[Allocation], None],
                 servers_contacted: threading.Event | None = None,
                 services: ServiceProviders | None = None,
                 template_backends: TemplateBackends | None = None) -> None:
        group = alloc.lookup_task_group()
        if group is None:
            raise AllocRunnerError(f"task group {alloc.task_group!r} not found in job "
                                   f"{alloc.job_id!r} of allocation {alloc.id}")
        self.id = alloc.id
        self._alloc = alloc
        self._config = config
        self._db = state_db
        self._on_update = on_update
        self._node = node
        self.alloc_dir = AllocDir(config.alloc_root, alloc.id)
        self._lock = threading.Lock()
        self._deployment_status: AllocDeploymentStatus | None = (
            copy.deepcopy(alloc.deployment_status) if alloc.deployment_status else None)
        self._coordinator = TaskCoordinator(group.tasks)
        self._services = services
        self._group_services = GroupServices(providers=services, node=node,
                                             region=config.region, restarter=self,
                                             emit=self._emit_to_all)
        self._health = AllocHealthWatcher(timers, self._set_health, checks=self._alloc_checks,
                                          emit=self._emit_health_events)
        self._processing = False
        self._dirty = False
        self._flag_lock = threading.Lock()
        self._killing = False
        self._destroyed = False
        self._shutdown = False
        self.tasks: dict[str, TaskRunner] = {}
        for task in group.tasks:
            driver = drivers.get(task.driver)
            if driver is None:
                raise AllocRunnerError(
                    f'failed to create task runner for task "{task.name}": driver '
                    f'"{task.driver}" is not enabled on this client (enabled: '
                    f'{", ".join(sorted(drivers)) or "none"})')
            self.tasks[task.name] = TaskRunner(
                alloc=alloc, task=task, alloc_dir=self.alloc_dir, driver=driver, node=node,
                config=config, state_db=state_db, on_state_change=self.task_state_updated,
                start_gate=functools.partial(self._coordinator.allowed, task.name),
                servers_contacted=servers_contacted, services=services,
                template_backends=template_backends)

    # -- read side ---------------------------------------------------------------------

    @property
    def alloc(self) -> Allocation:
        """The latest server version of the allocation (task states not included)."""
        with self._lock:
            return self._alloc

    def task_states(self) -> dict[str, TaskState]:
        return {name: tr.task_state() for name, tr in self.tasks.items()}

    def client_alloc(self) -> Allocation:
        """The client's side of the allocation, as sent to the servers."""
        states = self.task_states()
        with self._lock:
            alloc = self._alloc
            status, description = client_status(states)
            deployment = copy.deepcopy(self._deployment_status)
        update = Allocation(id=alloc.id, node_id=alloc.node_id, namespace=alloc.namespace,
                            job_id=alloc.job_id, task_group=alloc.task_group,
                            client_status=status or AllocClientStatus.PENDING,
                            client_description=description, task_states=states,
                            deployment_status=deployment, modify_time=now_ns())
        if update.client_terminal():
            if (status == AllocClientStatus.FAILED and alloc.deployment_id
                    and (deployment is None or deployment.healthy is None)):
                update.deployment_status = AllocDeploymentStatus(healthy=False,
                                                                 timestamp=rfc3339(now_ns()))
            now = rfc3339(now_ns())
            for name in self.tasks:
                state = update.task_states.setdefault(name, TaskState())
                if state.finished_at == ZERO_TIME:
                    state.finished_at = now
        return update

    def is_client_terminal(self) -> bool:
        return self.client_alloc().client_terminal()

    def done(self) -> bool:
        """Every task runner finished."""
        return all(tr.done() for tr in self.tasks.values())

    def wait_done(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for tr in self.tasks.values():
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not tr.wait_done(remaining):
                return False
        return True

    # -- lifecycle ---------------------------------------------------------------------

    def restore(self) -> None:
        """Load persisted health and task states and re-attach to running tasks."""
        status = self._db.get_deployment_status(self.id)
        if status is not None:
            with self._lock:
                self._deployment_status = status
        for runner in self.tasks.values():
            runner.restore()

    def run(self) -> None:
        """Build the allocation directory and start the task runners (returns at once)."""
        alloc = self.alloc
        if not alloc.terminal_status():
            try:
                self.alloc_dir.build()
            except OSError as err:
                message = f"failed to setup alloc: failed to build alloc directory: {err}"
                log.error("alloc %s: %s", self.id, message)
                for runner in self.tasks.values():
                    runner.emit_event(events.fails_task(events.setup_failure(message)))
                    runner.kill(wait=False)
        self._coordinator.update(self.task_states())
        if not alloc.terminal_status():
            self._group_services.register(alloc)
        if not alloc.terminal_status() and not self._has_health():
            self._health.start(alloc)
        for runner in self.tasks.values():
            runner.start()
        self.task_state_updated()

    def _has_health(self) -> bool:
        with self._lock:
            return (self._deployment_status is not None
                    and self._deployment_status.healthy is not None)

    def _set_health(self, healthy: bool) -> None:
        with self._lock:
            if self._shutdown or self._destroyed:
                return
            old = self._deployment_status or AllocDeploymentStatus()
            self._deployment_status = AllocDeploymentStatus(
                healthy=healthy, timestamp=rfc3339(now_ns()), canary=old.canary,
                modify_index=old.modify_index)
            status = copy.deepcopy(self._deployment_status)
        try:
            self._db.put_deployment_status(self.id, status)
        except OSError as err:
            log.error("alloc %s: cannot persist deployment health: %s", self.id, err)
        self.task_state_updated()

    def update(self, alloc: Allocation) -> None:
        """A newer server version of the allocation (desired stop, new job version ...)."""
        with self._lock:
            old = self._alloc
            if alloc.alloc_modify_index < old.alloc_modify_index or self._destroyed:
                return
            self._alloc = alloc
            if alloc.deployment_id != old.deployment_id:
                self._deployment_status = None
            elif alloc.deployment_status is not None and self._deployment_status is not None:
                # Canary and ModifyIndex are the server's; keep our health.
                self._deployment_status.canary = alloc.deployment_status.canary
                self._deployment_status.modify_index = alloc.deployment_status.modify_index
        stopping = not old.terminal_status() and alloc.terminal_status()
        try:
            self._db.put_allocation(alloc)
        except OSError as err:
            log.error("alloc %s: cannot persist the allocation: %s", self.id, err)
        for runner in self.tasks.values():
            runner.update(alloc)
        if stopping:
            self._group_services.deregister()
            self._health.stop()
            threading.Thread(target=self.kill_tasks, name=f"stop-{self.id[:8]}",
                             daemon=True).start()
        else:
            self._group_services.update(alloc)
            if alloc.deployment_id != old.deployment_id and not self._has_health():
                self._health.start(alloc)
                self.task_state_updated()

    # -- task state processing ---------------------------------------------------------

    def task_state_updated(self) -> None:
        """A task runner's state changed (any thread may call; never blocks on a kill)."""
        with self._flag_lock:
            self._dirty = True
            if self._processing:
                return
            self._processing = True
        while True:
            with self._flag_lock:
                if not self._dirty:
                    self._processing = False
                    return
                self._dirty = False
            try:
                self._process_states()
            except Exception:  # noqa: BLE001 - keep reporting; the next change retries
                log.exception("alloc %s: processing task states failed", self.id)

    def _process_states(self) -> None:
        if self._shutdown:
            return
        states = self.task_states()
        kill_event: TaskEvent | None = None
        live: list[TaskRunner] = []
        for name, runner in self.tasks.items():
            if is_poststop(runner.task):
                continue
            state = states[name]
            if state.state != TaskStateName.DEAD:
                live.append(runner)
                continue
            if state.failed:
                if kill_event is None:
                    kill_event = events.sibling_failed(name)
            elif runner.is_leader:
                kill_event = events.new_event(TaskEventType.LEADER_DEAD)
        if live:
            has_sidecars = any(is_sidecar(tr.task) for tr in self.tasks.values())
            if kill_event is None and has_sidecars and all(is_sidecar(tr.task) for tr in live):
                kill_event = events.new_event(TaskEventType.MAIN_DEAD)
            if kill_event is not None:
                with self._lock:
                    start_kill = not self._killing
                    self._killing = True
                if start_kill:
                    threading.Thread(target=self._kill_for, args=(kill_event, live),
                                     name=f"kill-{self.id[:8]}", daemon=True).start()
        else:
            # Nothing left to run: the group's services go, and dead runners waiting for
            # a restart finish.
            self._group_services.deregister()
            for runner in self.tasks.values():
                if not is_poststop(runner.task) and not runner.done():
                    runner.kill(wait=False)
        for name in self._coordinator.update(states):
            self.tasks[name].wake()
        update = self.client_alloc()
        self._health.observe(states, update.client_status)
        self._on_update(update)

    def _kill_for(self, event: TaskEvent, live: list[TaskRunner]) -> None:
        for runner in live:
            runner.emit_event(copy.deepcopy(event))
        self.kill_tasks()

    def kill_tasks(self) -> None:
        """Kill every task (leader first, then the rest together, sidecars last); blocks.
        The group's services are deregistered first."""
        with self._lock:
            self._killing = True
        self._group_services.deregister()

        def kill(runner: TaskRunner) -> None:
            state = runner.task_state()
            event = None
            if state.finished_at == ZERO_TIME and state.state != TaskStateName.DEAD:
                event = events.killing(int(runner.kill_timeout() * 1e9))
            runner.kill(event)

        def kill_all(runners: list[TaskRunner]) -> None:
            threads = [threading.Thread(target=kill, args=(r,), daemon=True) for r in runners]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        runners = list(self.tasks.values())
        leaders = [r for r in runners if r.is_leader]
        kill_all(leaders[:1])
        kill_all([r for r in runners if not r.is_leader and not is_poststop(r.task)
                  and not is_sidecar(r.task)])
        kill_all([r for r in runners
                  if is_sidecar(r.task) and not r.is_leader and not is_poststop(r.task)])
        # Poststop tasks run now (their gate opens as the others die); wait for them.
        for runner in runners:
            if is_poststop(runner.task):
                runner.wait_done()

    def destroy(self) -> None:
        """Garbage collect: kill what runs, remove the directory and the local state."""
        with self._lock:
            if self._destroyed:
                return
        self.kill_tasks()
        self.wait_done()
        with self._lock:
            self._destroyed = True
        self._health.stop()
        self._group_services.deregister()
        self.alloc_dir.destroy()
        self._db.delete_allocation(self.id)

    def shutdown(self) -> None:
        """Client shutdown: stop the runners, leave the tasks running."""
        self._shutdown = True
        self._health.stop()
        for runner in self.tasks.values():
            runner.shutdown()

    # -- services and health -------------------------------------------------------------

    def _emit_to_all(self, event: TaskEvent) -> None:
        """An event about the group's services: every task shows it."""
        for runner in self.tasks.values():
            runner.emit_event(copy.deepcopy(event))

    def _emit_health_events(self, by_task: dict[str, TaskEvent]) -> None:
        for name, event in by_task.items():
            runner = self.tasks.get(name)
            if runner is not None:
                runner.emit_event(event)

    def _alloc_checks(self, alloc_id: str, providers: set[str]) -> AllocChecks | None:
        if self._services is None:
            return None
        return self._services.alloc_checks(alloc_id, providers)

    def restart_for_check(self, event: TaskEvent) -> None:
        """check_restart of a group service: restart the running tasks, as failures."""
        for runner in self.tasks.values():
            runner.restart_for_check(copy.deepcopy(event))

    # -- operator actions --------------------------------------------------------------

    def _runner(self, task: str) -> TaskRunner:
        runner = self.tasks.get(task)
        if runner is None:
            raise NotFound(f'task "{task}" not found in allocation {self.id}')
        return runner

    def signal(self, task: str | None, signal: str) -> None:
        if task:
            self._runner(task).signal(signal)
            return
        errors = []
        for name, runner in self.tasks.items():
            try:
                runner.signal(signal)
            except NomadError as err:
                errors.append(f"Failed to signal task: {name}, err: {err}")
        if errors:
            raise TaskNotRunning("; ".join(errors))

    def restart(self, task: str | None, *, all_tasks: bool = False) -> None:
        """Restart one task, the running ones, or (``all_tasks``) all of them.

        Returns once every restart is under way (see :meth:`TaskRunner.restart`);
        a request that cannot be honoured raises at once.
        """
        if all_tasks and task:
            raise BadRequest("task name cannot be set when restarting all tasks")
        if self.alloc.terminal_status() or self.is_client_terminal():
            raise BadRequest(f"restart of an alloc that should not run: {self.id}")
        if task:
            self._runner(task).restart(events.restart_signal("User requested task to restart"))
            return
        reason = ("User requested all tasks to restart" if all_tasks
                  else "User requested running tasks to restart")
        errors = []
        for name, runner in self.tasks.items():
            try:
                runner.restart(events.restart_signal(reason), force=all_tasks)
            except TaskNotRunning:
                pass
            except NomadError as err:
                errors.append(f"failed to restart task {name}: {err}")
        if errors:
            raise BadRequest("; ".join(errors))

    def stats(self, task: str | None = None) -> dict:
        """Nomad's AllocResourceUsage for the running tasks (or one task)."""
        if task:
            self._runner(task)
        total_mem = _memory_stats(0, 0)
        total_cpu = _cpu_stats(0.0, 0.0)
        tasks: dict[str, dict] = {}
        latest = 0
        for name, runner in self.tasks.items():
            if task and name != task:
                continue
            usage = runner.stats()
            if usage is None:
                continue
            memory = _memory_stats(usage.rss_bytes, usage.swap_bytes)
            cpu = _cpu_stats(usage.cpu_percent, usage.cpu_total_ticks)
            tasks[name] = {"ResourceUsage": {"MemoryStats": memory, "CpuStats": cpu,
                                             "DeviceStats": []},
                           "Timestamp": usage.timestamp, "Pids": None}
            for key in ("RSS", "Swap"):
                total_mem[key] += memory[key]
            for key in ("Percent", "TotalTicks"):
                total_cpu[key] += cpu[key]
            latest = max(latest, usage.timestamp)
        return {"ResourceUsage": {"MemoryStats": total_mem, "CpuStats": total_cpu,
                                  "DeviceStats": []},
                "Tasks": tasks, "Timestamp": latest}


def _memory_stats(rss: int, swap: int) -> dict:
    return {"RSS": rss, "Cache": 0, "Swap": swap, "MappedFile": 0, "Usage": 0, "MaxUsage": 0,
            "KernelUsage": 0, "KernelMaxUsage": 0, "Measured": ["RSS", "Swap"]}


def _cpu_stats(percent: float, ticks: float) -> dict:
    return {"SystemMode": 0.0, "UserMode": 0.0, "TotalTicks": ticks, "ThrottledPeriods": 0,
            "ThrottledTime": 0, "Percent": percent, "Measured": ["Percent", "Total Ticks"]}
