"""The executor the task drivers share: launching supervisor processes and following them.

Not to be confused with :mod:`.supervisor`, the small stdlib-only *process*
(``python -m nomadjail.drivers.supervisor``) that runs next to each command,
owns its process group, writes its rotated logs and records its exit status.
This module is the agent-side *library* that starts those processes and
follows them: as Nomad's drivers share one executor, raw_exec runs its tasks
through a :class:`Supervisor` and the pot driver runs ``pot start`` through
one.

The life of one supervised command (one start attempt of task ``task_id``)::

    plan(cfg) -> SupervisionPlan       no side effects; the client persists it first
    launch(cfg, command) -> Supervision    returns once the command runs
    wait(s) -> ExitResult              blocks until it exited
    kill(s, signal=, timeout=)         signal its process group, wait, SIGKILL the group
    release(s, force=)                 kill it (force), reap the supervisor, drop its files
    recover(s)                         after a client restart: follow it again
    recover_start(plan) -> Supervision | None   after the client died inside launch

What it guarantees (a command outlives a crashed agent, logs still flowing,
exit code still knowable):

* while the agent that launched the command lives, :meth:`Supervisor.wait`
  reaps the supervisor (its child) and reads the status file it left;
* after a restart, :meth:`Supervisor.recover` finds the supervisor and the
  command again by pid *and* start time (a recycled pid is never mistaken for
  them), and :meth:`Supervisor.wait` polls for the status file;
* a launch the agent did not live to see the end of is found again from its
  :class:`SupervisionPlan`: the supervisor's pid file names the command once
  it runs, so :meth:`Supervisor.recover_start` re-attaches to it, or kills
  whatever the supervisor left half-started (its whole session), so a command
  never runs twice and is never leaked.

Signals go to the command's process group (its pid), never to the
supervisor's session while the supervisor lives: the supervisor must survive
to record the exit status.  The whole session is killed only when the
supervisor is gone or stuck (:mod:`.process_session`).
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal as signals
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .base import DriverError, ExitResult, TaskConfig, TaskNotFound
from .invocation import (
    OutputDiversion,
    SupervisedCommand,
    Supervision,
    SupervisionPlan,
    build_spec,
    forget_spec,
    read_json,
    read_spec,
    read_status,
    write_spec,
)
from .process_session import (
    create_time,
    find_supervisor,
    group_leader_create_time,
    kill_session,
    process_matches,
)
from .reaper import REAPER

__all__ = ["KILL_GRACE", "SUPERVISOR_START_TIMEOUT", "CommandContext", "OutputDiversion",
           "SupervisedCommand", "Supervision", "SupervisionPlan", "Supervisor"]

log = logging.getLogger(__name__)

# How long launch waits for the supervisor to report the command started.
SUPERVISOR_START_TIMEOUT = 30.0
# How long kill and release wait for a command to die after SIGKILL.
KILL_GRACE = 15.0

# The supervisor process imports nomadjail from here, whatever the agent's cwd.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(eq=False)
class _Followed:
    """What a Supervisor knows about one command it launched or recovered."""

    task_id: str
    task_pid: int
    task_create_time: float  # 0.0: it had exited before its start time could be read
    supervisor_pid: int
    supervisor_create_time: float
    status_path: str
    spec_path: str
    supervisor: subprocess.Popen | None = None  # set only when we are its parent
    result: ExitResult | None = None
    wait_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_state(cls, task_id: str, state: Mapping[str, Any]) -> _Followed:
        try:
            return cls(task_id=task_id, task_pid=int(state["task_pid"]),
                       task_create_time=float(state.get("task_create_time", 0.0)),
                       supervisor_pid=int(state["supervisor_pid"]),
                       supervisor_create_time=float(state.get("supervisor_create_time", 0.0)),
                       status_path=str(state["status_path"]),
                       spec_path=str(state.get("spec_path", "")))
        except (KeyError, TypeError, ValueError) as err:
            raise TaskNotFound(f"handle for {task_id!r} is malformed: missing or bad "
                               f"{err}") from None

    def state(self) -> dict[str, Any]:
        """:attr:`Supervision.process_state` (raw_exec's handle state): keys never change."""
        return {"supervisor_pid": self.supervisor_pid,
                "supervisor_create_time": self.supervisor_create_time,
                "task_pid": self.task_pid, "task_pgid": self.task_pid,
                "task_create_time": self.task_create_time,
                "status_path": self.status_path, "spec_path": self.spec_path}

    def read_status(self) -> ExitResult | None:
        return read_status(self.status_path)

    def supervisor_alive(self) -> bool:
        if self.supervisor is not None:
            return self.supervisor.poll() is None
        return process_matches(self.supervisor_pid, self.supervisor_create_time) is not None

    def task_process(self) -> psutil.Process | None:
        if not self.task_create_time:
            return None
        return process_matches(self.task_pid, self.task_create_time)

    def exited(self) -> bool:
        if self.result is not None or os.path.exists(self.status_path):
            return True
        return not self.supervisor_alive() and self.task_process() is None

    def signal_group(self, signum: int) -> None:
        """Signal the command's process group, unless the command has been reaped already
        (then its pid, and so the group id, may belong to someone else)."""
        if os.path.exists(self.status_path) or self.task_pid <= 0:
            return
        try:
            os.killpg(self.task_pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


def _hand_to_reaper(followed: dict[str, _Followed]) -> None:
    """A Supervisor went away: its children still running go to the reaper."""
    for item in list(followed.values()):
        if item.supervisor is not None:
            REAPER.adopt(item.supervisor)


@dataclass(frozen=True, slots=True)
class CommandContext:
    """The environment and working directory a supervised command was launched with."""

    env: dict[str, str]
    cwd: str


class Supervisor:
    """Launches commands under supervisor processes and follows them (see the module doc).

    Commands are known by their task id; one Supervisor follows any number of
    them, for any driver.  ``python`` runs the supervisor processes.
    """

    def __init__(self, *, python: str = sys.executable,
                 start_timeout: float = SUPERVISOR_START_TIMEOUT,
                 kill_grace: float = KILL_GRACE) -> None:
        self._python = python
        self._start_timeout = start_timeout
        self._kill_grace = kill_grace
        self._followed: dict[str, _Followed] = {}
        self._lock = threading.Lock()
        finalizer = weakref.finalize(self, _hand_to_reaper, self._followed)
        finalizer.atexit = False  # at interpreter exit nobody needs reaping

    # -- launching ---------------------------------------------------------------------

    @staticmethod
    def plan(cfg: TaskConfig) -> SupervisionPlan:
        """Where :meth:`launch` for ``cfg`` will leave its traces; no side effects."""
        return SupervisionPlan.for_task(cfg.task_dir, cfg.id)

    def launch(self, cfg: TaskConfig, command: SupervisedCommand) -> Supervision:
        """Run ``command`` as task ``cfg.id`` under a supervisor of its own: it outlives the
        agent, its output goes to ``cfg``'s log files (minus what ``command.diversion``
        takes out) and its exit status is recorded.  Returns once the supervisor reported
        the command started; raises DriverError if it did not start."""
        if not os.path.isabs(command.executable):
            raise DriverError(f"supervised command {command.executable!r} must be an "
                              "absolute path")
        with self._lock:
            if cfg.id in self._followed:
                raise DriverError(f"task with ID {cfg.id!r} already started")
        plan = self.plan(cfg)
        write_spec(plan, build_spec(plan, cfg, command))
        supervisor_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                          "PYTHONPATH": _PACKAGE_ROOT, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            with open(plan.log_path, "ab") as log_file:
                proc = subprocess.Popen(
                    [self._python, "-m", "nomadjail.drivers.supervisor", plan.spec_path],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file,
                    close_fds=True, start_new_session=True, env=supervisor_env)
        except OSError as err:
            raise DriverError(f"failed to start the task supervisor: {err}") from err
        started_at = time.time_ns()
        message = self._read_announcement(proc, plan.log_path)
        if "error" in message:
            proc.wait()
            raise DriverError(str(message["error"]))
        task_pid = int(message["pid"])
        followed = _Followed(task_id=cfg.id, task_pid=task_pid,
                             task_create_time=create_time(task_pid), supervisor_pid=proc.pid,
                             supervisor_create_time=create_time(proc.pid),
                             status_path=plan.status_path, spec_path=plan.spec_path,
                             supervisor=proc)
        with self._lock:
            self._followed[cfg.id] = followed
        return Supervision(task_id=cfg.id, pid=task_pid, started_at=started_at,
                           diverted_path=plan.diverted_path if command.diversion else "",
                           process_state=followed.state())

    def _read_announcement(self, proc: subprocess.Popen, log_path: str) -> dict[str, Any]:
        """The supervisor's one JSON line: the command's pid, or why it did not start."""
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        try:
            ready = selector.select(timeout=self._start_timeout)
            line = proc.stdout.readline() if ready else b""
        finally:
            selector.close()
            proc.stdout.close()
        try:
            message = json.loads(line)
            if isinstance(message, dict) and ("pid" in message or "error" in message):
                return message
        except ValueError:
            pass
        # It may have started the command before it got stuck: end its whole session.
        supervisor = None
        if proc.poll() is None:
            try:
                supervisor = psutil.Process(proc.pid)
            except psutil.Error:
                pass
        kill_session(supervisor, proc.pid, self._kill_grace)
        proc.wait()
        try:
            with open(log_path, encoding="utf-8", errors="replace") as log_file:
                detail = log_file.read()[-2000:].strip()
        except OSError:
            detail = ""
        raise DriverError("the task supervisor did not report a started task"
                          + (f": {detail}" if detail else f" (see {log_path})"))

    # -- following ---------------------------------------------------------------------

    def follows(self, task_id: str) -> bool:
        """Whether this Supervisor launched or recovered the command of ``task_id``."""
        with self._lock:
            return task_id in self._followed

    def _get(self, supervision: Supervision) -> _Followed:
        with self._lock:
            followed = self._followed.get(supervision.task_id)
        if followed is None:
            raise TaskNotFound(f"task {supervision.task_id!r} is not followed by this "
                               "supervisor")
        return followed

    def wait(self, supervision: Supervision) -> ExitResult:
        """Block until the command exited: its exit code, or the signal that killed it."""
        followed = self._get(supervision)
        with followed.wait_lock:
            if followed.result is not None:
                return followed.result
            if followed.supervisor is not None:
                followed.supervisor.wait()
                result = followed.read_status() or ExitResult(
                    exit_code=-1, err="the task supervisor exited without recording an "
                                      "exit status")
            else:
                result = self._poll_for_exit(followed)
            followed.result = result
            return result

    @staticmethod
    def _poll_for_exit(followed: _Followed) -> ExitResult:
        delay = 0.02
        while True:
            status = followed.read_status()
            if status is not None:
                return status
            if not followed.supervisor_alive():
                status = followed.read_status()  # written just before it exited?
                if status is not None:
                    return status
                if followed.task_process() is None:
                    return ExitResult(exit_code=-1, err="the task supervisor died; the "
                                                        "task's exit status is unknown")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def exited(self, supervision: Supervision) -> bool:
        """Whether the command is no longer running (it may not be reaped yet)."""
        return self._get(supervision).exited()

    def process(self, supervision: Supervision) -> psutil.Process | None:
        """The command's process while it runs (for its resource usage), else None."""
        return self._get(supervision).task_process()

    def context(self, supervision: Supervision) -> CommandContext:
        """The environment and directory the command was launched with (to run another
        command beside it); OSError or ValueError once its spec cannot be read."""
        spec = read_spec(self._get(supervision).spec_path)
        return CommandContext(env=spec["env"], cwd=spec["cwd"])

    # -- signalling and ending ---------------------------------------------------------

    def signal(self, supervision: Supervision, signum: int) -> None:
        """Send ``signum`` to the command's own process (not its group)."""
        followed = self._get(supervision)
        proc = followed.task_process()
        if proc is None or os.path.exists(followed.status_path):
            raise DriverError(f"task {supervision.task_id!r} is not running")
        try:
            proc.send_signal(signum)
        except psutil.Error as err:
            raise DriverError(f"failed to signal task {supervision.task_id!r}: "
                              f"{err}") from err

    def kill(self, supervision: Supervision, *, signal: int = signals.SIGKILL,
             timeout: float = 0.0) -> None:
        """``signal`` to the command's process group, up to ``timeout`` seconds for it to
        exit, then SIGKILL to the group; DriverError if it still runs after the kill
        grace.  The supervisor itself is left to record the exit status."""
        followed = self._get(supervision)
        if followed.exited():
            return
        followed.signal_group(signal)
        if self._wait_exited(followed, timeout):
            return
        followed.signal_group(signals.SIGKILL)
        if not self._wait_exited(followed, self._kill_grace):
            raise DriverError(f"task {supervision.task_id!r} did not exit "
                              f"{self._kill_grace:.0f}s after SIGKILL")

    @staticmethod
    def _wait_exited(followed: _Followed, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not followed.exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def release(self, supervision: Supervision, *, force: bool = True) -> None:
        """Let go of the command: kill it if it still runs (only with ``force``; else
        DriverError), reap its supervisor, remove its spec (it holds the environment)
        and forget it.  Idempotent, and works for a command this Supervisor does not
        follow (TaskNotFound only when its state is malformed)."""
        with self._lock:
            followed = self._followed.get(supervision.task_id)
        if followed is None:
            followed = _Followed.from_state(supervision.task_id, supervision.process_state)
        if not followed.exited():
            if not force:
                raise DriverError(f"cannot destroy running task {supervision.task_id!r}")
            followed.signal_group(signals.SIGKILL)
            # Let the supervisor reap the command and record its status; kill it if stuck.
            if not self._wait_exited(followed, self._kill_grace):
                stuck = process_matches(followed.supervisor_pid,
                                        followed.supervisor_create_time)
                if stuck is not None:
                    try:
                        stuck.kill()
                    except psutil.Error:
                        pass
        if followed.supervisor is not None:
            try:
                followed.supervisor.wait(timeout=self._kill_grace)
            except subprocess.TimeoutExpired:
                REAPER.adopt(followed.supervisor)
        forget_spec(followed.spec_path)
        with self._lock:
            self._followed.pop(supervision.task_id, None)

    # -- recovery ----------------------------------------------------------------------

    def recover(self, supervision: Supervision) -> None:
        """After a client restart: follow the command again (its exit included, even if it
        exited meanwhile); TaskNotFound if nothing of it is left to follow."""
        with self._lock:
            if supervision.task_id in self._followed:
                return
        followed = _Followed.from_state(supervision.task_id, supervision.process_state)
        if (not os.path.exists(followed.status_path) and not followed.supervisor_alive()
                and followed.task_process() is None):
            raise TaskNotFound(f"task {supervision.task_id!r} is gone: supervisor pid "
                               f"{followed.supervisor_pid} and task pid {followed.task_pid} "
                               "no longer run and no exit status was recorded")
        with self._lock:
            self._followed.setdefault(supervision.task_id, followed)

    def recover_start(self, plan: SupervisionPlan) -> Supervision | None:
        """After the client died between persisting ``plan`` and :meth:`launch` returning:
        the command that launch started, followed again, or None once nothing of that
        launch runs any more.

        A supervisor still starting is given the start timeout to report the
        command in its pid file; one that does not is killed with its session.
        """
        deadline = time.monotonic() + self._start_timeout
        while True:
            pids = read_json(plan.pid_path) or {}
            supervisor_pid = int(pids.get("supervisor_pid") or 0)
            supervisor = find_supervisor(plan.spec_path, supervisor_pid)
            if pids.get("task_pid"):
                return self._recover_launched(plan, pids, supervisor)
            if supervisor is None:
                # Not launched, or the supervisor died before it started the command.
                kill_session(None, supervisor_pid, self._kill_grace)
                forget_spec(plan.spec_path)
                return None
            if time.monotonic() >= deadline:
                log.warning("interrupted start of %s: supervisor pid %d did not report the "
                            "task within %.1fs; killing its session", plan.task_id,
                            supervisor.pid, self._start_timeout)
                kill_session(supervisor, supervisor.pid, self._kill_grace)
                forget_spec(plan.spec_path)
                return None
            time.sleep(0.02)

    def _recover_launched(self, plan: SupervisionPlan, pids: dict[str, Any],
                          supervisor: psutil.Process | None) -> Supervision | None:
        supervisor_pid = int(pids["supervisor_pid"])
        task_pid = int(pids["task_pid"])
        followed = _Followed(
            task_id=plan.task_id, task_pid=task_pid,
            task_create_time=group_leader_create_time(task_pid, supervisor_pid),
            supervisor_pid=supervisor_pid,
            supervisor_create_time=create_time(supervisor.pid) if supervisor else 0.0,
            status_path=plan.status_path, spec_path=plan.spec_path)
        supervision = Supervision(task_id=plan.task_id, pid=task_pid,
                                  started_at=int(pids.get("started_at") or time.time_ns()),
                                  diverted_path=plan.diverted_path,
                                  process_state=followed.state())
        try:
            self.recover(supervision)
        except TaskNotFound:
            kill_session(supervisor, supervisor_pid, self._kill_grace)
            forget_spec(plan.spec_path)
            return None
        return supervision
