"""The raw_exec driver: run a command as a plain process, no isolation.

Every task is started through a small supervisor process
(``nomadjail.drivers.supervisor``) in a session of its own, which owns the
task's process group, writes the rotated log files and records the exit status
in a file.  That is what lets a task outlive a crashed agent with its logs
still flowing and its exit code still knowable:

* while the agent that started the task lives, ``wait_task`` reaps the
  supervisor (our child) and reads the status file it left;
* after a restart, ``recover_task`` finds the supervisor and the task again by
  pid *and* start time (so a recycled pid is never mistaken for the task),
  and ``wait_task`` polls for the status file.

Task config (Nomad's raw_exec keys): ``command`` (required), ``args`` (list
of strings), ``work_dir`` (absolute; default the task directory).  Nomad's
Linux-only keys ``cgroup_v1_override``, ``cgroup_v2_override``,
``oom_score_adj`` and ``denied_envvars`` are accepted; only
``denied_envvars`` has an effect here.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
import selectors
import shutil
import signal as signals
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .base import (Capabilities, DriverError, ExecResult, ExitResult, Fingerprint, TaskConfig,
                   TaskHandle, TaskNotFound, TaskStats, signal_number)
from .logrotate import MB

NAME = "raw_exec"
# How long start_task waits for the supervisor to report the task started.
SUPERVISOR_START_TIMEOUT = 30.0
# How long stop_task waits for a task to die after SIGKILL.
KILL_GRACE = 15.0
# The directory inside the task directory that holds the supervisor's files.
RUNTIME_DIR = ".raw_exec"

CONFIG_KEYS = ("command", "args", "work_dir", "denied_envvars", "cgroup_v1_override",
               "cgroup_v2_override", "oom_score_adj")

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def _process_matches(pid: int, create_time: float) -> psutil.Process | None:
    """The live process ``pid`` if it is the one started at ``create_time``."""
    if pid <= 0:
        return None
    try:
        proc = psutil.Process(pid)
        if create_time and abs(proc.create_time() - create_time) > 0.05:
            return None  # the pid was recycled by an unrelated process
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _create_time(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0


@dataclass
class _RawTask:
    """What this driver instance knows about one task it started or recovered."""

    task_id: str
    task_pid: int
    task_create_time: float
    supervisor_pid: int
    supervisor_create_time: float
    status_path: str
    spec_path: str
    supervisor: subprocess.Popen | None = None  # set only when we are its parent
    result: ExitResult | None = None
    wait_lock: threading.Lock = field(default_factory=threading.Lock)
    last_cpu_sample: tuple[float, float] | None = None  # (cpu seconds, monotonic time)

    def read_status(self) -> ExitResult | None:
        try:
            with open(self.status_path, encoding="utf-8") as status_file:
                status = json.load(status_file)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            return ExitResult(exit_code=-1, err=f"unreadable exit status {self.status_path}: "
                                                f"{err}")
        return ExitResult(exit_code=int(status.get("exit_code", 0)),
                          signal=int(status.get("signal", 0)))

    def supervisor_alive(self) -> bool:
        if self.supervisor is not None:
            return self.supervisor.poll() is None
        return _process_matches(self.supervisor_pid, self.supervisor_create_time) is not None

    def task_process(self) -> psutil.Process | None:
        if not self.task_create_time:
            return None  # it had exited before its start time could be read
        return _process_matches(self.task_pid, self.task_create_time)

    def exited(self) -> bool:
        if self.result is not None or os.path.exists(self.status_path):
            return True
        return not self.supervisor_alive() and self.task_process() is None

    def signal_group(self, signum: int) -> None:
        """Signal the task's process group, unless the task has been reaped already
        (then its pid, and so the group id, may belong to someone else)."""
        if os.path.exists(self.status_path) or self.task_pid <= 0:
            return
        try:
            os.killpg(self.task_pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


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
    ``plugin "raw_exec" { config { enabled = true } }``: undetected, refuses tasks."""

    name = NAME

    def __init__(self, *, enabled: bool = True, denied_envvars: list[str] | None = None,
                 python: str = sys.executable) -> None:
        self.enabled = enabled
        self.denied_envvars = list(denied_envvars or [])
        self._python = python
        self._tasks: dict[str, _RawTask] = {}
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

    # -- lifecycle ---------------------------------------------------------------------

    def _task(self, handle: TaskHandle) -> _RawTask:
        with self._lock:
            task = self._tasks.get(handle.task_id)
        if task is None:
            raise TaskNotFound(f"raw_exec task {handle.task_id!r} is not known to this driver")
        return task

    def _task_env(self, cfg: TaskConfig, config: dict[str, Any]) -> dict[str, str]:
        denied = self.denied_envvars + list(config.get("denied_envvars") or [])
        return {k: v for k, v in cfg.env.items()
                if not any(fnmatch.fnmatchcase(k, pattern) for pattern in denied)}

    def start_task(self, cfg: TaskConfig) -> TaskHandle:
        if not self.enabled:
            raise DriverError("raw_exec is disabled")
        with self._lock:
            if cfg.id in self._tasks:
                raise DriverError(f"task with ID {cfg.id!r} already started")
        problems = self.validate_config(cfg.config)
        if problems:
            raise DriverError("failed driver config validation: " + "; ".join(problems))
        env = self._task_env(cfg, cfg.config)
        command = cfg.config["command"]
        executable = find_command(command, cfg.task_dir, env)
        runtime_dir = os.path.join(cfg.task_dir, RUNTIME_DIR)
        os.makedirs(runtime_dir, mode=0o700, exist_ok=True)
        invocation = cfg.id.rsplit("/", 1)[-1]
        spec_path = os.path.join(runtime_dir, f"{invocation}.spec.json")
        status_path = os.path.join(runtime_dir, f"{invocation}.status.json")
        log_path = os.path.join(runtime_dir, f"{invocation}.supervisor.log")
        for stale in (status_path, status_path + ".tmp"):
            if os.path.exists(stale):
                os.unlink(stale)
        spec = {
            "executable": executable,
            "argv": [command, *[str(a) for a in cfg.config.get("args") or []]],
            "env": env,
            "cwd": cfg.config.get("work_dir") or cfg.task_dir,
            "user": cfg.user,
            "log_dir": (None if cfg.stdout_path == os.devnull
                        else os.path.dirname(cfg.stdout_path)),
            "stdout_name": os.path.basename(cfg.stdout_path),
            "stderr_name": os.path.basename(cfg.stderr_path),
            "max_files": cfg.log_max_files,
            "max_file_size": cfg.log_max_file_size_mb * MB,
            "status_path": status_path,
        }
        fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as spec_file:
            json.dump(spec, spec_file)
        supervisor_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                          "PYTHONPATH": _PACKAGE_ROOT, "PYTHONDONTWRITEBYTECODE": "1"}
        with open(log_path, "ab") as log_file:
            try:
                proc = subprocess.Popen(
                    [self._python, "-m", "nomadjail.drivers.supervisor", spec_path],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file,
                    close_fds=True, start_new_session=True, env=supervisor_env)
            except OSError as err:
                raise DriverError(f"failed to start the task supervisor: {err}") from err
        started_at = time.time_ns()
        message = self._read_announcement(proc, log_path)
        if "error" in message:
            proc.wait()
            raise DriverError(str(message["error"]))
        task_pid = int(message["pid"])
        task = _RawTask(task_id=cfg.id, task_pid=task_pid,
                        task_create_time=_create_time(task_pid), supervisor_pid=proc.pid,
                        supervisor_create_time=_create_time(proc.pid), status_path=status_path,
                        spec_path=spec_path, supervisor=proc)
        with self._lock:
            self._tasks[cfg.id] = task
        return TaskHandle(driver=NAME, task_id=cfg.id, started_at=started_at, pid=task_pid,
                          state={"supervisor_pid": task.supervisor_pid,
                                 "supervisor_create_time": task.supervisor_create_time,
                                 "task_pid": task_pid, "task_pgid": task_pid,
                                 "task_create_time": task.task_create_time,
                                 "status_path": status_path, "spec_path": spec_path})

    def _read_announcement(self, proc: subprocess.Popen, log_path: str) -> dict[str, Any]:
        """The supervisor's one JSON line: the task's pid, or why it did not start."""
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        try:
            ready = selector.select(timeout=SUPERVISOR_START_TIMEOUT)
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
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        try:
            with open(log_path, encoding="utf-8", errors="replace") as log_file:
                detail = log_file.read()[-2000:].strip()
        except OSError:
            detail = ""
        raise DriverError("the task supervisor did not report a started task"
                          + (f": {detail}" if detail else f" (see {log_path})"))

    def wait_task(self, handle: TaskHandle) -> ExitResult:
        task = self._task(handle)
        with task.wait_lock:
            if task.result is not None:
                return task.result
            if task.supervisor is not None:
                task.supervisor.wait()
                result = task.read_status() or ExitResult(
                    exit_code=-1, err="the task supervisor exited without recording an "
                                      "exit status")
            else:
                result = self._poll_for_exit(task)
            task.result = result
            return result

    def _poll_for_exit(self, task: _RawTask) -> ExitResult:
        delay = 0.02
        while True:
            status = task.read_status()
            if status is not None:
                return status
            if not task.supervisor_alive():
                status = task.read_status()  # written just before it exited?
                if status is not None:
                    return status
                if task.task_process() is None:
                    return ExitResult(exit_code=-1, err="the task supervisor died; the "
                                                        "task's exit status is unknown")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def stop_task(self, handle: TaskHandle, timeout: float, signal: str) -> None:
        task = self._task(handle)
        if task.exited():
            return
        try:
            signum = signal_number(signal)
        except ValueError as err:
            raise DriverError(str(err)) from None
        task.signal_group(signum)
        if self._wait_exited(task, timeout):
            return
        task.signal_group(signals.SIGKILL)
        if not self._wait_exited(task, KILL_GRACE):
            raise DriverError(f"task {handle.task_id!r} did not exit {KILL_GRACE:.0f}s "
                              "after SIGKILL")

    @staticmethod
    def _wait_exited(task: _RawTask, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not task.exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def destroy_task(self, handle: TaskHandle, force: bool) -> None:
        with self._lock:
            task = self._tasks.get(handle.task_id)
        if task is None:
            task = self._task_from_handle(handle)
        if not task.exited():
            if not force:
                raise DriverError(f"cannot destroy running task {handle.task_id!r}")
            task.signal_group(signals.SIGKILL)
            # Let the supervisor reap the task and record its status; kill it only if stuck.
            if not self._wait_exited(task, KILL_GRACE):
                supervisor = _process_matches(task.supervisor_pid, task.supervisor_create_time)
                if supervisor is not None:
                    try:
                        supervisor.kill()
                    except psutil.Error:
                        pass
        if task.supervisor is not None:
            try:
                task.supervisor.wait(timeout=KILL_GRACE)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.unlink(task.spec_path)  # it holds the task's environment
        except OSError:
            pass
        with self._lock:
            self._tasks.pop(handle.task_id, None)

    @staticmethod
    def _task_from_handle(handle: TaskHandle) -> _RawTask:
        state = handle.state
        try:
            return _RawTask(task_id=handle.task_id, task_pid=int(state["task_pid"]),
                            task_create_time=float(state.get("task_create_time", 0.0)),
                            supervisor_pid=int(state["supervisor_pid"]),
                            supervisor_create_time=float(state.get("supervisor_create_time",
                                                                   0.0)),
                            status_path=str(state["status_path"]),
                            spec_path=str(state.get("spec_path", "")))
        except (KeyError, TypeError, ValueError) as err:
            raise TaskNotFound(f"raw_exec handle for {handle.task_id!r} is malformed: "
                               f"missing or bad {err}") from None

    def recover_task(self, handle: TaskHandle) -> None:
        with self._lock:
            if handle.task_id in self._tasks:
                return
        task = self._task_from_handle(handle)
        if (not os.path.exists(task.status_path) and not task.supervisor_alive()
                and task.task_process() is None):
            raise TaskNotFound(f"raw_exec task {handle.task_id!r} is gone: supervisor pid "
                               f"{task.supervisor_pid} and task pid {task.task_pid} no longer "
                               "run and no exit status was recorded")
        with self._lock:
            self._tasks.setdefault(handle.task_id, task)

    # -- while running -----------------------------------------------------------------

    def signal_task(self, handle: TaskHandle, signal: str) -> None:
        task = self._task(handle)
        try:
            signum = signal_number(signal)
        except ValueError as err:
            raise DriverError(str(err)) from None
        proc = task.task_process()
        if proc is None or os.path.exists(task.status_path):
            raise DriverError(f"task {handle.task_id!r} is not running")
        try:
            proc.send_signal(signum)
        except psutil.Error as err:
            raise DriverError(f"failed to signal task {handle.task_id!r}: {err}") from err

    def exec_task(self, handle: TaskHandle, cmd: list[str], timeout: float) -> ExecResult:
        task = self._task(handle)
        if not cmd:
            raise DriverError("exec needs a command")
        try:
            with open(task.spec_path, encoding="utf-8") as spec_file:
                spec = json.load(spec_file)
        except (OSError, ValueError) as err:
            raise DriverError(f"cannot exec in task {handle.task_id!r}: {err}") from err
        try:
            done = subprocess.run(cmd, env=spec["env"], cwd=spec["cwd"],
                                  stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DriverError(f"exec {cmd[0]!r} timed out after {timeout}s") from None
        except OSError as err:
            raise DriverError(f"exec {cmd[0]!r} failed: {err}") from err
        return ExecResult(stdout=done.stdout, stderr=done.stderr, exit_code=done.returncode)

    def task_stats(self, handle: TaskHandle) -> TaskStats:
        task = self._task(handle)
        now = time.time_ns()
        proc = task.task_process()
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
        if task.last_cpu_sample is None:
            elapsed = max(time.time() - (task.task_create_time or time.time()), 1e-3)
            percent = 100.0 * cpu_seconds / elapsed
        else:
            last_cpu, last_time = task.last_cpu_sample
            percent = 100.0 * max(cpu_seconds - last_cpu, 0.0) / max(sample_time - last_time,
                                                                       1e-3)
        task.last_cpu_sample = (cpu_seconds, sample_time)
        return TaskStats(rss_bytes=rss, cpu_percent=percent,
                         cpu_total_ticks=percent / 100.0 * self._mhz_per_core, timestamp=now)
