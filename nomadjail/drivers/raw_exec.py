"""The raw_exec driver: run a command as a plain process, no isolation.

A thin driver over the shared :class:`~.supervision.Supervisor`: every task
is launched under a supervisor process in a session of its own, which owns
the task's process group, writes the rotated log files and records the exit
status, so a task outlives a crashed agent with its logs still flowing and
its exit code still knowable (the Supervisor's module doc says how it is
found again after a restart, and after a start the agent did not live to see
the end of).  A raw_exec handle's state is exactly the Supervisor's record of
the task's processes (:attr:`.Supervision.process_state`).

Task config (Nomad's raw_exec keys): ``command`` (required), ``args`` (list
of strings), ``work_dir`` (absolute; default the task directory).  Nomad's
Linux-only keys ``cgroup_v1_override``, ``cgroup_v2_override``,
``oom_score_adj`` and ``denied_envvars`` are accepted; only
``denied_envvars`` has an effect here.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Any

import psutil

from .base import (
    Capabilities,
    DriverError,
    ExecResult,
    ExitResult,
    Fingerprint,
    StartRecord,
    TaskConfig,
    TaskHandle,
    TaskNotFound,
    TaskStats,
    signal_number,
)
from .supervision import (
    SUPERVISOR_START_TIMEOUT,
    SupervisedCommand,
    Supervision,
    SupervisionPlan,
    Supervisor,
)

NAME = "raw_exec"

CONFIG_KEYS = ("command", "args", "work_dir", "denied_envvars", "cgroup_v1_override",
               "cgroup_v2_override", "oom_score_adj")


def find_command(command: str, task_dir: str, env: dict[str, str]) -> str:
    """Nomad's lookup: an absolute path, else ``<task_dir>/local/<cmd>``,
    ``<task_dir>/<cmd>``, else the task's ``$PATH``."""
    if os.path.isabs(command):
        candidates = [command]
    else:
        candidates = [os.path.join(task_dir, "local", command), os.path.join(task_dir, command)]
    for candidate in candidates:
        if os.path.isfile(candidate):
            if not os.access(candidate, os.X_OK):
                raise DriverError(f"command {command!r} ({candidate}) is not executable")
            return candidate
    if not os.path.isabs(command) and "/" not in command:
        found = shutil.which(command, path=env.get("PATH") or os.environ.get("PATH"))
        if found:
            return found
    raise DriverError(f"command {command!r} not found in the task directory "
                      f"({task_dir}/local, {task_dir}) or in $PATH")


def _check_string_list(config: dict[str, Any], key: str, problems: list[str]) -> None:
    value = config.get(key)
    if value is not None and (not isinstance(value, list)
                              or not all(isinstance(v, str) for v in value)):
        problems.append(f"{key!r} must be a list of strings, got {value!r}")


def validate_raw_exec_config(config: dict[str, Any]) -> list[str]:
    """Every problem in a raw_exec ``config`` block, each naming its key."""
    problems: list[str] = []
    for key in config:
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            problems.append(f"unknown key {key!r} in raw_exec config{hint}")
    command = config.get("command")
    if command is None or command == "":
        problems.append("'command' is required")
    elif not isinstance(command, str):
        problems.append(f"'command' must be a string, got {command!r}")
    _check_string_list(config, "args", problems)
    _check_string_list(config, "denied_envvars", problems)
    work_dir = config.get("work_dir")
    if isinstance(work_dir, str) and "${" in work_dir:
        pass  # not interpolated yet (job submission): the client checks it again
    elif work_dir is not None and (not isinstance(work_dir, str)
                                   or not os.path.isabs(work_dir)):
        problems.append(f"'work_dir' must be an absolute path, got {work_dir!r}")
    oom = config.get("oom_score_adj")
    if oom is not None and (isinstance(oom, bool) or not isinstance(oom, int) or oom < 0):
        problems.append(f"'oom_score_adj' must be a non-negative integer, got {oom!r}")
    if config.get("cgroup_v1_override") and config.get("cgroup_v2_override"):
        problems.append("only one of 'cgroup_v1_override' and 'cgroup_v2_override' may be set")
    return problems


class RawExecDriver:
    """Nomad's ``raw_exec``.  ``enabled=False`` mirrors an agent without
    ``plugin "raw_exec" { config { enabled = true } }``: undetected, refuses tasks.

    ``supervisor`` is the executor the tasks run under; without one the driver
    makes its own from ``python`` and ``start_timeout``.
    """

    name = NAME

    def __init__(self, *, enabled: bool = True, denied_envvars: list[str] | None = None,
                 python: str = sys.executable,
                 start_timeout: float = SUPERVISOR_START_TIMEOUT,
                 supervisor: Supervisor | None = None) -> None:
        self.enabled = enabled
        self.denied_envvars = list(denied_envvars or [])
        self._supervisor = supervisor or Supervisor(python=python, start_timeout=start_timeout)
        # task id -> (cpu seconds, monotonic time) of the last stats sample
        self._cpu_samples: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        freq = psutil.cpu_freq() if hasattr(psutil, "cpu_freq") else None
        self._mhz_per_core = float(freq.max or freq.current) if freq else 0.0

    # -- node facing -------------------------------------------------------------------

    def fingerprint(self) -> Fingerprint:
        if not self.enabled:
            return Fingerprint(detected=False, healthy=False, health_description="disabled")
        return Fingerprint(detected=True, healthy=True, health_description="Healthy",
                           attributes={"driver.raw_exec": "true"})

    def capabilities(self) -> Capabilities:
        return Capabilities(send_signals=True, exec=True, fs_isolation="none")

    def validate_config(self, config: dict[str, Any]) -> list[str]:
        return validate_raw_exec_config(config)

    # -- handles -----------------------------------------------------------------------

    @staticmethod
    def _handle(supervision: Supervision) -> TaskHandle:
        return TaskHandle(driver=NAME, task_id=supervision.task_id,
                          started_at=supervision.started_at, pid=supervision.pid,
                          state=dict(supervision.process_state))

    @staticmethod
    def _as_supervision(handle: TaskHandle) -> Supervision:
        return Supervision(task_id=handle.task_id, pid=handle.pid,
                           started_at=handle.started_at, diverted_path="",
                           process_state=handle.state)

    def _supervision(self, handle: TaskHandle) -> Supervision:
        """The supervised task of ``handle``, which this driver must be following."""
        if not self._supervisor.follows(handle.task_id):
            raise TaskNotFound(f"raw_exec task {handle.task_id!r} is not known to this driver")
        return self._as_supervision(handle)

    # -- lifecycle ---------------------------------------------------------------------

    def _task_env(self, cfg: TaskConfig, config: dict[str, Any]) -> dict[str, str]:
        denied = self.denied_envvars + list(config.get("denied_envvars") or [])
        return {k: v for k, v in cfg.env.items()
                if not any(fnmatch.fnmatchcase(k, pattern) for pattern in denied)}

    def start_record(self, cfg: TaskConfig) -> StartRecord:
        return StartRecord(driver=NAME, task_id=cfg.id,
                           state=self._supervisor.plan(cfg).to_state())

    def start_task(self, cfg: TaskConfig) -> TaskHandle:
        if not self.enabled:
            raise DriverError("raw_exec is disabled")
        problems = self.validate_config(cfg.config)
        if problems:
            raise DriverError("failed driver config validation: " + "; ".join(problems))
        env = self._task_env(cfg, cfg.config)
        command = cfg.config["command"]
        executable = os.path.abspath(find_command(command, cfg.task_dir, env))
        supervision = self._supervisor.launch(cfg, SupervisedCommand(
            executable=executable, argv0=command,
            args=tuple(str(a) for a in cfg.config.get("args") or []), env=env,
            cwd=cfg.config.get("work_dir") or cfg.task_dir, user=cfg.user))
        return self._handle(supervision)

    def wait_task(self, handle: TaskHandle) -> ExitResult:
        return self._supervisor.wait(self._supervision(handle))

    def stop_task(self, handle: TaskHandle, timeout: float, signal: str) -> None:
        supervision = self._supervision(handle)
        if self._supervisor.exited(supervision):
            return
        try:
            signum = signal_number(signal)
        except ValueError as err:
            raise DriverError(str(err)) from None
        self._supervisor.kill(supervision, signal=signum, timeout=timeout)

    def destroy_task(self, handle: TaskHandle, force: bool) -> None:
        try:
            self._supervisor.release(self._as_supervision(handle), force=force)
        except TaskNotFound as err:  # a handle this driver cannot read
            raise TaskNotFound(f"{NAME} {err}") from None
        with self._lock:
            self._cpu_samples.pop(handle.task_id, None)

    def recover_task(self, handle: TaskHandle) -> None:
        try:
            self._supervisor.recover(self._as_supervision(handle))
        except TaskNotFound as err:
            raise TaskNotFound(f"{NAME} {err}") from None

    def recover_start(self, record: StartRecord) -> TaskHandle | None:
        """Re-attach to the task an interrupted ``start_task`` launched, or clean up
        (:meth:`.Supervisor.recover_start`)."""
        try:
            plan = SupervisionPlan.from_state(record.task_id, record.state)
        except ValueError as err:
            raise DriverError(f"raw_exec start record for {record.task_id!r} is malformed: "
                              f"{err}") from None
        supervision = self._supervisor.recover_start(plan)
        return None if supervision is None else self._handle(supervision)

    # -- while running -----------------------------------------------------------------

    def signal_task(self, handle: TaskHandle, signal: str) -> None:
        supervision = self._supervision(handle)
        try:
            signum = signal_number(signal)
        except ValueError as err:
            raise DriverError(str(err)) from None
        self._supervisor.signal(supervision, signum)

    def exec_task(self, handle: TaskHandle, cmd: list[str], timeout: float) -> ExecResult:
        supervision = self._supervision(handle)
        if not cmd:
            raise DriverError("exec needs a command")
        try:
            context = self._supervisor.context(supervision)
        except (OSError, ValueError) as err:
            raise DriverError(f"cannot exec in task {handle.task_id!r}: {err}") from err
        try:
            done = subprocess.run(cmd, env=context.env, cwd=context.cwd,
                                  stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DriverError(f"exec {cmd[0]!r} timed out after {timeout}s") from None
        except OSError as err:
            raise DriverError(f"exec {cmd[0]!r} failed: {err}") from err
        return ExecResult(stdout=done.stdout, stderr=done.stderr, exit_code=done.returncode)

    def task_stats(self, handle: TaskHandle) -> TaskStats:
        """Memory and CPU of the task's process tree; the CPU percentage is over the time
        since the previous sample (since the task started, for the first)."""
        supervision = self._supervision(handle)
        now = time.time_ns()
        proc = self._supervisor.process(supervision)
        if proc is None:
            return TaskStats(timestamp=now)
        rss = 0
        cpu_seconds = 0.0
        try:
            members = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            members = [proc]
        for member in members:
            try:
                with member.oneshot():
                    rss += member.memory_info().rss
                    times = member.cpu_times()
                    cpu_seconds += times.user + times.system
            except psutil.Error:
                continue
        sample_time = time.monotonic()
        with self._lock:
            last = self._cpu_samples.get(handle.task_id)
            self._cpu_samples[handle.task_id] = (cpu_seconds, sample_time)
        if last is None:
            try:
                started = proc.create_time()
            except psutil.Error:
                started = time.time()
            percent = 100.0 * cpu_seconds / max(time.time() - started, 1e-3)
        else:
            last_cpu, last_time = last
            percent = 100.0 * max(cpu_seconds - last_cpu, 0.0) / max(sample_time - last_time,
                                                                       1e-3)
        return TaskStats(rss_bytes=rss, cpu_percent=percent,
                         cpu_total_ticks=percent / 100.0 * self._mhz_per_core, timestamp=now)
