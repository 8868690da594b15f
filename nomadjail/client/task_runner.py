"""One task of one allocation: start it, watch it, restart it per policy, kill it.

A :class:`TaskRunner` owns one thread (:meth:`run`), which follows Nomad's
task runner loop::

    wait for the lifecycle gate
    prestart hooks -> start the driver (or keep the re-attached handle)
        -> poststart hooks -> wait for the exit -> "Terminated" -> exited hooks
    restart policy: "Restarting" (wait the delay, go again) / "Not Restarting"
        (failed) / done / "Killed"
    state dead; stay around until the allocation is done with the task
    stop hooks

Guarantees:

* Events and states are Nomad's: built by :mod:`~nomadjail.client.events`, kept
  by :mod:`~nomadjail.client.task_state` (timestamps, restarts, 10 events).
* Every state change is persisted (task state + the driver handle) before the
  allocation runner hears about it, so a client killed at any moment restarts
  with the truth.
* A task is started at most once per attempt: a handle recovered after a
  client restart is waited on, never started again.  The driver's start
  record is persisted *before* ``start_task`` (a start cannot begin unless it
  is), so a client killed inside ``start_task`` re-attaches to the task that
  start launched, or has the driver kill what was half-started
  (:mod:`~nomadjail.client.task_restore`).
* A task the driver fails to destroy is not forgotten: the destroy is retried
  until it succeeds, after a restart too (:mod:`~nomadjail.client.pending_destroys`).
* :meth:`kill` blocks until the task exited (shutdown_delay, kill_signal, then
  SIGKILL after kill_timeout: :mod:`~nomadjail.client.kill_timing`).
  :meth:`restart` returns once the restart is under way; the kill runs on a
  thread of its own.
* :meth:`shutdown` leaves the task running and stops all writes and
  notifications; a runner thread still parked in the driver's ``wait_task``
  returns quietly when the task ends.
"""

from __future__ import annotations

import enum
import logging
import threading
import uuid
from collections.abc import Callable

from ..drivers.base import (
    Driver,
    DriverError,
    ExitResult,
    StartRecord,
    TaskHandle,
    TaskStats,
)
from ..structs import (
    Allocation,
    BadRequest,
    Node,
    Task,
    TaskEvent,
    TaskState,
    TaskStateName,
    now_ns,
)
from . import events
from .allocdir import AllocDir
from .config import ClientConfig
from .driver_calls import DriverCalls
from .hooks import HookContext, HookError, TaskHook, default_task_hooks
from .kill_timing import TaskKiller
from .lifecycle import alloc_stops_task, is_poststop
from .pending_destroys import PendingDestroys
from .restarts import (
    Decision,
    RestartTracker,
    decision_record,
    job_type_of,
    restartable,
    task_restart_policy,
)
from .services.provider import ServiceProviders
from .state_db import LocalTaskState, StateDB
from .task_config import build_task_config
from .task_restore import RESTORE_FAILED, waits_for_servers
from .task_runner_hooks import TaskHooks
from .task_state import append_event, copy_state, set_state
from .task_store import TaskStore

log = logging.getLogger(__name__)


class TaskNotRunning(BadRequest):
    """A signal, restart or exec for a task that is not running."""


class Outcome(enum.Enum):
    """How the main loop (run, wait, restart) ended."""

    DONE = "done"  # no (more) restarts: the restart policy says so, or the alloc stopped
    KILLED = "killed"  # killed, or the allocation stopped, before the task (re)started
    SHUTDOWN = "shutdown"  # the client shuts down: leave the task as it is


class _Stop(Exception):
    """Internal: the runner was shut down or killed while it waited."""


class TaskRunner:
    def __init__(self, *, alloc: Allocation, task: Task, alloc_dir: AllocDir, driver: Driver,
                 node: Callable[[], Node], config: ClientConfig, state_db: StateDB,
                 on_state_change: Callable[[], None],
                 start_gate: Callable[[], bool] = lambda: True,
                 servers_contacted: threading.Event | None = None,
                 hooks: list[TaskHook] | None = None,
                 services: ServiceProviders | None = None) -> None:
        self.alloc_id = alloc.id
        self.name = task.name
        self._alloc = alloc
        self._task = task
        self._alloc_dir = alloc_dir
        self._driver = driver
        self._node = node
        self._config = config
        self._store = TaskStore(state_db, alloc_id=alloc.id, task=task.name)
        self._on_state_change = on_state_change
        self._start_gate = start_gate
        self._servers_contacted = servers_contacted
        self._services = services
        self._hooks = TaskHooks(hooks if hooks is not None else default_task_hooks(),
                                alloc_id=alloc.id, task=task.name)
        self._calls = DriverCalls(driver, driver_name=task.driver, alloc_id=alloc.id,
                                  task=task.name)
        self._killer = TaskKiller(self._calls, emit=self.emit_event,
                                  max_kill_timeout=config.max_kill_timeout,
                                  prekill=self._prekill)
        self._capabilities = driver.capabilities()
        job_type = job_type_of(alloc)
        self._tracker = RestartTracker(task_restart_policy(task, job_type), job_type,
                                       task.lifecycle)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._state = TaskState()
        self._local = LocalTaskState(restart_interval_start=self._tracker.interval_start)
        self._handle: TaskHandle | None = None
        self._restart_kill_for: TaskHandle | None = None  # a restart's kill is under way
        self._destroys = PendingDestroys(driver=driver, persist=self._persist_local,
                                         alloc_id=alloc.id, task=task.name)
        self._starting = False
        self._kill_requested = False
        self._restart_requested = False
        self._shutdown = False
        self._wait_on_servers = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx: HookContext | None = None
        append_event(self._state, events.received())

    # -- read side ---------------------------------------------------------------------

    @property
    def task(self) -> Task:
        return self._task

    @property
    def is_leader(self) -> bool:
        return self._task.leader

    def task_state(self) -> TaskState:
        """A copy of the task's state, safe to hand to other threads."""
        with self._lock:
            return copy_state(self._state)

    def handle(self) -> TaskHandle | None:
        with self._lock:
            return self._handle

    def done(self) -> bool:
        """The runner's thread finished (the task is dead and settled, or shut down)."""
        return self._done.is_set()

    def wait_done(self, timeout: float | None = None) -> bool:
        """Wait for the runner's thread; True at once if it was never started."""
        if self._thread is None:
            return True
        return self._done.wait(timeout)

    # -- persistence and events --------------------------------------------------------

    def _persist_state_locked(self) -> None:
        if not self._shutdown:
            self._store.put_state(self._state)

    def _persist_local_locked(self, *, strict: bool = False) -> None:
        """Store the local state; ``strict`` raises the OSError instead of logging it."""
        if self._shutdown:
            return
        self._local.restart_count = self._tracker.count
        self._local.restart_interval_start = self._tracker.interval_start
        self._local.handle = self._handle
        self._local.destroy_pending = self._destroys.pending()
        self._store.put_local(self._local, strict=strict)

    def _persist_local(self) -> None:
        with self._lock:
            self._persist_local_locked()

    def _notify(self) -> None:
        if not self._shutdown:
            self._on_state_change()

    def emit_event(self, event: TaskEvent) -> None:
        """Append an event (the state does not change), persist it and tell the alloc runner."""
        with self._lock:
            if self._shutdown:
                return
            append_event(self._state, event)
            self._persist_state_locked()
        self._notify()

    def update_state(self, state: TaskStateName, event: TaskEvent | None = None) -> None:
        with self._lock:
            if self._shutdown:
                return
            if event is not None:
                append_event(self._state, event)
            set_state(self._state, state, now_ns())
            self._persist_state_locked()
        self._notify()

    # -- restore -----------------------------------------------------------------------

    def restore(self) -> None:
        """Load the persisted state and re-attach to the task if it still exists (after a
        client restart, before :meth:`run`)."""
        local, state = self._store.load()
        if state is not None:
            self._state = state
        if local is not None:
            self._local = local
            self._destroys.restore(local.destroy_pending)
            self._tracker.restore(local.restart_count, local.restart_interval_start)
        handle = self._local.handle
        if handle is None and self._local.start_record is not None:
            # The client died inside start_task: adopt the task it launched, if any.
            handle = self._calls.recover_start(self._local.start_record)
            with self._lock:
                self._local.start_record = None
                self._handle = handle
                self._persist_local_locked()
        if handle is None:
            return
        try:
            self._driver.recover_task(handle)
        except DriverError as err:
            self._lost_on_restore(handle, err)
            return
        with self._lock:
            self._handle = handle

    def _lost_on_restore(self, handle: TaskHandle, err: DriverError) -> None:
        """The persisted task cannot be re-attached: release it and decide what next."""
        if self._state.state == TaskStateName.RUNNING:
            log.warning("alloc %s task %s: cannot re-attach to task %s (pid %d): %s; "
                        "cleaning up", self.alloc_id, self.name, handle.task_id, handle.pid, err)
        self._destroys.destroy(handle)
        with self._lock:
            self._handle = None
            self._persist_local_locked()
        if waits_for_servers(self._state.state, self._alloc):
            self._wait_on_servers = True
            self.update_state(TaskStateName.PENDING, events.restore_failed(RESTORE_FAILED))

    def pending_destroys(self) -> list[TaskHandle]:
        """Tasks the driver has not managed to destroy yet (retried in the background), as
        last persisted: once this is empty, the state db says so too."""
        with self._lock:
            return list(self._local.destroy_pending)

    # -- the run loop ------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"task-{self.alloc_id[:8]}-"
                                                              f"{self.name}", daemon=True)
        self._thread.start()
        self._destroys.start()  # destroys a previous client left pending

    def run(self) -> None:
        try:
            self._run()
        except Exception:  # noqa: BLE001 - a runner must never die silently
            log.exception("alloc %s task %s: task runner crashed", self.alloc_id, self.name)
            if not self._shutdown:
                self.update_state(TaskStateName.DEAD, events.fails_task(
                    events.setup_failure("internal error in the task runner; see the agent "
                                         "log")))
        finally:
            self._done.set()

    def _wait_until(self, ready: Callable[[], bool], timeout: float | None = None) -> bool:
        """Wait for ``ready`` (checked under the lock).  Raises _Stop on shutdown or kill;
        returns False on timeout."""
        with self._cond:
            deadline_ok = self._cond.wait_for(
                lambda: self._shutdown or self._kill_requested or ready(), timeout)
            if self._shutdown or self._kill_requested:
                raise _Stop()
            return bool(deadline_ok)

    def _run(self) -> None:
        dead = self._state.state == TaskStateName.DEAD
        if dead:
            self._clear_handle()
            self._notify()
            if self._local.run_complete:
                self._hooks.stop(self._context())
                return
        if self._wait_on_servers and self._servers_contacted is not None:
            try:
                self._wait_until(self._servers_contacted.is_set)
            except _Stop:
                if self._shutdown:
                    return
        self._notify()
        while True:
            if not dead:
                if self._main_loop() is Outcome.SHUTDOWN:
                    return
                self._finish_handle()
                self.update_state(TaskStateName.DEAD)
            if is_poststop(self._task):
                break
            # Dead: stay until the allocation is done, or a restart is requested.
            with self._cond:
                self._cond.wait_for(lambda: self._shutdown or self._kill_requested
                                    or self._restart_requested)
                if self._shutdown:
                    return
                if self._kill_requested:
                    break
                self._restart_requested = False
            restart, _ = self._should_restart()
            if restart:
                dead = False
        with self._lock:
            self._local.run_complete = True
            self._persist_local_locked()
        self._hooks.stop(self._context())

    def _main_loop(self) -> Outcome:
        """Run, wait and restart until the task is done."""
        while not alloc_stops_task(self._alloc, self._task):
            try:
                self._wait_until(self._start_gate)
            except _Stop:
                return self._stopped_outcome()
            started = False
            try:
                self._hooks.prestart(self._context())
                with self._lock:
                    self._persist_local_locked()  # hook state (e.g. the task dir is built)
                if self._shutdown:
                    return Outcome.SHUTDOWN
                if self._kill_requested or alloc_stops_task(self._alloc, self._task):
                    return Outcome.KILLED
                started = self._run_driver()
            except HookError as err:
                log.error("alloc %s task %s: prestart failed: %s", self.alloc_id, self.name, err)
                self._tracker.set_start_error(err)
            except DriverError as err:
                log.error("alloc %s task %s: driver failed to start the task: %s",
                          self.alloc_id, self.name, err)
                self._tracker.set_start_error(err)
            except _Stop:
                return self._stopped_outcome()
            if started:
                handle = self.handle()
                if handle is not None:
                    self._hooks.poststart(self._context(), handle)
                result = self._calls.wait(self.handle())
                if self._shutdown:
                    return Outcome.SHUTDOWN
                self._tracker.set_exit_result(result)
                self._exited(result)
            restart, delay = self._should_restart()
            if not restart:
                return Outcome.DONE
            try:
                self._wait_until(lambda: False, timeout=delay)
            except _Stop:
                return self._stopped_outcome()
        return Outcome.DONE

    def _stopped_outcome(self) -> Outcome:
        """Why a wait ended with :class:`_Stop`."""
        return Outcome.SHUTDOWN if self._shutdown else Outcome.KILLED

    def _should_restart(self) -> tuple[bool, float]:
        """Ask the restart policy, record its answer; True (and the delay) to run again."""
        decision, delay = self._tracker.decide()
        with self._lock:
            self._persist_local_locked()
        state, event = decision_record(decision, delay, self._tracker.reason, self._killer.error)
        if state is not None:
            self.update_state(state, event)
        elif event is not None:
            self.emit_event(event)
        return decision == Decision.RESTART, delay

    # -- phases ------------------------------------------------------------------------

    def _context(self) -> HookContext:
        if self._ctx is None:
            self._ctx = HookContext(alloc=self._alloc, task=self._task, node=self._node(),
                                    config=self._config, driver=self._driver,
                                    capabilities=self._capabilities, alloc_dir=self._alloc_dir,
                                    task_dir=self._alloc_dir.task_dir(self.name),
                                    emit=self.emit_event, hook_state=self._local.hook_state,
                                    services=self._services, restarter=self,
                                    cancelled=lambda: self._kill_requested or self._shutdown)
        else:
            self._ctx.alloc, self._ctx.task, self._ctx.node = (self._alloc, self._task,
                                                               self._node())
        return self._ctx

    def _run_driver(self) -> bool:
        """Start the task (or keep a re-attached one).  True when it runs."""
        if self.handle() is not None:
            # Re-attached after a restart: running again, but no new event (as Nomad),
            # unless the client died before it recorded the start.
            with self._lock:
                never_started = self._state.state != TaskStateName.RUNNING
            self.update_state(TaskStateName.RUNNING, events.started() if never_started else None)
            return True
        cfg = build_task_config(self._context(), attempt=uuid.uuid4().hex[:8])
        record = self._driver.start_record(cfg)
        self._record_start(record)
        try:
            handle = self._calls.start(cfg, record)
        except DriverError as err:
            with self._lock:
                self._starting = False
                self._local.start_record = None
                self._persist_local_locked()
            self.emit_event(events.driver_failure(str(err)))
            raise
        with self._lock:
            self._handle = handle
            self._starting = False
            self._local.start_record = None
            killed_meanwhile = self._kill_requested
            self._persist_local_locked()
        self.update_state(TaskStateName.RUNNING, events.started())
        if killed_meanwhile:
            self._killer.kill(handle, self._task, self._alloc)
        return True

    def _record_start(self, record: StartRecord) -> None:
        """Persist the start record and mark the start as begun; a start that cannot be
        recorded does not begin (a recoverable DriverError, with its event)."""
        with self._lock:
            if self._shutdown or self._kill_requested:
                raise _Stop()
            self._local.start_record = record
            try:
                self._persist_local_locked(strict=True)
            except OSError as err:
                self._local.start_record = None
                failure = DriverError(f"cannot record the start of the task in the state db: "
                                      f"{err}", recoverable=True)
            else:
                self._starting = True
                return
        self.emit_event(events.driver_failure(str(failure)))
        raise failure

    def _clear_handle(self) -> None:
        """Forget the handle and let the driver release the task (Nomad's clearDriverHandle)."""
        with self._cond:
            handle, self._handle = self._handle, None
            if handle is not None:
                self._persist_local_locked()
            self._cond.notify_all()
        if handle is not None:
            self._destroys.destroy(handle)

    def _finish_handle(self) -> None:
        """A handle left after the main loop (a re-attached task of a stopped alloc): kill it."""
        handle = self.handle()
        if handle is None:
            return
        self._tracker.set_killed()
        self._killer.kill(handle, self._task, self._alloc)
        self._exited(self._calls.wait(self.handle()))

    def _exited(self, result: ExitResult) -> None:
        """The task ended: record how, release its handle, run the exited hooks."""
        self.emit_event(events.terminated(result.exit_code, result.signal,
                                          oom_killed=result.oom_killed,
                                          exit_message=result.err))
        self._clear_handle()
        self._hooks.exited(self._context(), result)

    # -- control (other threads) -------------------------------------------------------

    def kill_timeout(self) -> float:
        return self._killer.timeout(self._task)

    def kill(self, event: TaskEvent | None = None, *, wait: bool = True,
             timeout: float | None = None) -> None:
        """Stop the task for good (no restart).  ``event`` (e.g. "Killing") is recorded
        first.  With ``wait``, returns once the runner is done."""
        with self._cond:
            if self._done.is_set():
                return
            first = not self._kill_requested
            self._kill_requested = True
            handle = self._handle if not self._starting else None
            self._cond.notify_all()
        if event is not None:
            self.emit_event(event)
        if first and handle is not None:
            self._tracker.set_killed()
            self._killer.kill(handle, self._task, self._alloc)
        if wait:
            self.wait_done(timeout)

    def restart(self, event: TaskEvent, *, failure: bool = False, force: bool = False) -> None:
        """Restart the task now (Nomad's Restart / ForceRestart).

        Returns once the restart is under way: ``event`` is recorded and the
        kill (kill_signal, then SIGKILL after kill_timeout) runs on a thread of
        its own; the runner starts the task again when it exited.  Raises
        :class:`TaskNotRunning` at once when the task is pending, or dead
        (unless ``force`` and the runner still waits in its dead state).
        """
        state = self.task_state().state
        if not restartable(state, force=force, settled=self._local.run_complete or self.done()):
            raise TaskNotRunning(f"task {self.name!r} is not running")
        self.emit_event(event)
        self._tracker.set_restart_triggered(failure)
        with self._cond:
            if state == TaskStateName.DEAD:
                self._restart_requested = True
                self._cond.notify_all()
            handle = self._handle
            if handle is None or self._restart_kill_for is handle:
                return  # nothing runs, or its kill is already under way
            self._restart_kill_for = handle
        threading.Thread(target=self._kill_for_restart, args=(handle,),
                         name=f"restart-{self.alloc_id[:8]}-{self.name}", daemon=True).start()

    def _kill_for_restart(self, handle: TaskHandle) -> None:
        try:
            self._killer.kill(handle, self._task, self._alloc)
        finally:
            with self._lock:
                if self._restart_kill_for is handle:
                    self._restart_kill_for = None

    def _prekill(self) -> None:
        """Before a kill: the prekill hooks (services are deregistered first)."""
        if self._ctx is not None:
            self._hooks.prekill(self._context())

    def restart_for_check(self, event: TaskEvent) -> None:
        """check_restart: restart after an unhealthy check, counted as a failure by the
        restart policy (Nomad's checkwatcher restarts)."""
        try:
            self.restart(event, failure=True)
        except TaskNotRunning:
            pass  # not running any more: nothing to restart

    def stats(self) -> TaskStats | None:
        """The driver's resource usage of the running task, or None."""
        handle = self.handle()
        return self._calls.stats(handle) if handle is not None else None

    def signal(self, signal: str) -> None:
        handle = self.handle()
        if handle is None:
            raise TaskNotRunning(f"task {self.name!r} is not running")
        self.emit_event(events.signaling(signal))
        try:
            self._driver.signal_task(handle, signal)
        except DriverError as err:
            raise TaskNotRunning(f"task {self.name!r}: {err}") from err

    def update(self, alloc: Allocation) -> None:
        """The server sent a new version of the allocation."""
        group = alloc.lookup_task_group()
        task = group.lookup_task(self.name) if group is not None else None
        if task is None:
            self.kill(events.fails_task(events.killed()), wait=False)
            return
        with self._cond:
            self._alloc = alloc
            self._task = task
            self._cond.notify_all()
        if alloc.desired_transition.no_shutdown_delay:
            self._killer.skip_delay()
        self._tracker.set_policy(task_restart_policy(task, job_type_of(alloc)))
        if not alloc.terminal_status() and self._ctx is not None:
            self._hooks.update(self._context())

    def wake(self) -> None:
        """Re-check the start gate (the lifecycle coordinator calls this)."""
        with self._cond:
            self._cond.notify_all()

    def shutdown(self) -> None:
        """Stop this runner without touching the task (client shutdown)."""
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()
        self._destroys.shutdown()

