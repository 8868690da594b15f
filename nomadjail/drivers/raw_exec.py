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
  and ``wait_task`` polls for the status file;
* a start the agent did not live to see the end of (killed inside
  ``start_task``) is found again from its :class:`StartRecord`: the
  supervisor's pid file names the task once it runs, so
  ``recover_start`` re-attaches to it, or kills whatever the supervisor
  left half-started (its whole session), so a task never runs twice and is
  never leaked.

Other drivers run their tool under the same supervisor through a small typed
API (:meth:`RawExecDriver.supervise` and its companions): the pot driver runs
``pot start`` that way, with :class:`OutputDiversion` keeping pot's own
messages out of the task's logs.

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
import logging
import os
import selectors
import shutil
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
from .logrotate import MB

log = logging.getLogger(__name__)

NAME = "raw_exec"
# How long start_task waits for the supervisor to report the task started.
SUPERVISOR_START_TIMEOUT = 30.0
# How long stop_task waits for a task to die after SIGKILL.
KILL_GRACE = 15.0
# The directory inside the task directory that holds the supervisor's files.
RUNTIME_DIR = ".raw_exec"
# How often the reaper looks for supervisors that exited.
REAP_INTERVAL = 0.2

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


class _Reaper:
    """Waits for the supervisors nobody else waits for any more.

    A supervisor is a child of the agent: unless someone waits for it, it
    lingers as a zombie after it exited, and its ``Popen`` object, dropped
    while the child runs, is a leak Python warns about.  ``destroy_task``
    hands over a supervisor that outlived its grace period, and a driver that
    is garbage collected hands over all of its own; one thread (started on
    demand, gone when there is nothing left) polls them until they exited.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen] = []
        self._thread: threading.Thread | None = None

    def adopt(self, proc: subprocess.Popen) -> None:
        if proc.poll() is not None:
            return
        with self._lock:
            self._procs.append(proc)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="raw_exec-reaper",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(REAP_INTERVAL)
            with self._lock:
                self._procs = [proc for proc in self._procs if proc.poll() is None]
                if not self._procs:
                    self._thread = None
                    return


_REAPER = _Reaper()


def _adopt_supervisors(tasks: dict[str, _RawTask]) -> None:
    """A driver went away: its children still running go to the reaper."""
    for task in list(tasks.values()):
        if task.supervisor is not None:
            _REAPER.adopt(task.supervisor)


@dataclass(frozen=True, slots=True)
class _InvocationFiles:
    """The supervisor's files for one start attempt, in ``<task_dir>/.raw_exec/``."""

    spec_path: str  # the supervisor's instructions (holds the task's environment)
    status_path: str  # the task's exit status, written by the supervisor
    pid_path: str  # the supervisor's and the task's pids, written by the supervisor
    log_path: str  # the supervisor's own stderr
    diverted_path: str  # output lines taken out of the logs (``divert_prefixes``)

    @classmethod
    def for_task(cls, task_dir: str, task_id: str) -> _InvocationFiles:
        runtime_dir = os.path.join(task_dir, RUNTIME_DIR)
        invocation = task_id.rsplit("/", 1)[-1]
        base = os.path.join(runtime_dir, invocation)
        return cls(spec_path=f"{base}.spec.json", status_path=f"{base}.status.json",
                   pid_path=f"{base}.pid.json", log_path=f"{base}.supervisor.log",
                   diverted_path=f"{base}.diverted.log")


@dataclass(frozen=True, slots=True)
class OutputDiversion:
    """Lines of a supervised tool's output that go to a side file instead of the task's
    logs, depending on the phase of the program the tool runs (the supervisor's module doc
    says exactly which).  Empty ``start_line``/``end_witness``: that phase change never
    happens (so by default every prefixed line is diverted)."""

    prefixes: tuple[str, ...]  # what the tool's own messages start with
    start_line: str = ""  # the exact line the tool prints just before the program starts
    running_lines: tuple[str, ...] = ()  # exact lines (prefixed or not) the tool may print
    # while the program runs
    end_witness: str = ""  # a file the tool writes the moment the program has ended: from
    # then on prefixed lines and bare lines fully matching ended_pattern are the tool's
    ended_pattern: str = ""  # a regular expression (see above)

    def spec(self, path: str) -> dict[str, Any]:
        """The supervisor's ``spec["divert"]``, diverting into ``path``."""
        return {"path": path, "prefixes": list(self.prefixes), "start_line": self.start_line,
                "running_lines": list(self.running_lines), "end_witness": self.end_witness,
                "ended_pattern": self.ended_pattern}


@dataclass(frozen=True, slots=True)
class SupervisedCommand:
    """A command another driver runs under the raw_exec supervisor as one of its tasks.

    It runs as the agent's user, with exactly ``env`` and in ``cwd`` (default: the task
    directory); its output goes to the task's log files like a raw_exec task's.
    """

    executable: str  # an absolute path
    args: tuple[str, ...] = ()  # argv[1:]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = ""
    diversion: OutputDiversion | None = None


def _state_field(kind: str, state: Mapping[str, Any], key: str, convert: Any) -> Any:
    try:
        return convert(state[key])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{kind}: missing or bad {key!r} ({err})") from None


@dataclass(frozen=True, slots=True)
class SupervisionPlan:
    """Where supervising a command for task ``task_id`` will leave its traces.

    Made without side effects; persist it (``to_state``) before
    :meth:`RawExecDriver.supervise`, so that a client that died in between
    can find the command again (:meth:`RawExecDriver.recover_supervision`).
    """

    task_id: str
    spec_path: str
    status_path: str
    pid_path: str
    diverted_path: str  # where an OutputDiversion writes the diverted lines

    def to_state(self) -> dict[str, str]:
        return {"spec_path": self.spec_path, "status_path": self.status_path,
                "pid_path": self.pid_path, "diverted_path": self.diverted_path}

    @classmethod
    def from_state(cls, task_id: str, state: Mapping[str, Any]) -> SupervisionPlan:
        """Raises ValueError naming the missing or bad key."""
        kind = f"supervision plan of {task_id!r}"
        return cls(task_id=task_id,
                   spec_path=_state_field(kind, state, "spec_path", str),
                   status_path=_state_field(kind, state, "status_path", str),
                   pid_path=_state_field(kind, state, "pid_path", str),
                   diverted_path=str(state.get("diverted_path", "")))


@dataclass(frozen=True, slots=True)
class Supervision:
    """A command running under the supervisor for another driver.  ``to_state`` is
    JSON-serialisable and holds everything needed to find it again after the client died."""

    task_id: str
    pid: int  # the command's pid
    started_at: int  # ns since the epoch
    diverted_path: str
    raw_state: Mapping[str, Any]  # raw_exec's own record of the processes and files

    def to_state(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "pid": self.pid, "started_at": self.started_at,
                "diverted_path": self.diverted_path, "raw": dict(self.raw_state)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Supervision:
        """Raises ValueError naming the missing or bad key."""
        kind = "supervision state"
        return cls(task_id=_state_field(kind, state, "task_id", str),
                   pid=_state_field(kind, state, "pid", int),
                   started_at=_state_field(kind, state, "started_at", int),
                   diverted_path=str(state.get("diverted_path", "")),
                   raw_state=_state_field(kind, state, "raw", dict))

    def _handle(self) -> TaskHandle:
        return TaskHandle(driver=NAME, task_id=self.task_id, started_at=self.started_at,
                          pid=self.pid, state=dict(self.raw_state))


def _read_json(path: str) -> dict[str, Any] | None:
    """A JSON object file written atomically by the supervisor; None if absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as src:
            data = json.load(src)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _find_supervisor(spec_path: str, supervisor_pid: int) -> psutil.Process | None:
    """The live supervisor started with ``spec_path``: its command line names the spec,
    which is unique to one start attempt, so a recycled pid is never mistaken for it."""
    candidates: list[psutil.Process] = []
    if supervisor_pid > 0:
        try:
            candidates.append(psutil.Process(supervisor_pid))
        except psutil.Error:
            pass
    else:
        candidates = list(psutil.process_iter())
    for proc in candidates:
        try:
            if spec_path in proc.cmdline() and proc.status() != psutil.STATUS_ZOMBIE:
                return proc
        except psutil.Error:
            continue
    return None


def _kill_session(supervisor: psutil.Process | None, session_id: int) -> None:
    """SIGKILL a supervisor and every process of its session (the task's group included).

    The supervisor leads its own session, so the task and its children keep
    the supervisor's pid as their session id even after it died.  ``session_id``
    is used only if no *other* process now holds that pid (a recycled pid leads
    a different session, and that one is left alone).
    """
    if supervisor is not None:
        try:
            supervisor.kill()
            supervisor.wait(KILL_GRACE)
        except psutil.Error:
            pass
    elif session_id > 0:
        try:
            if psutil.Process(session_id).status() != psutil.STATUS_ZOMBIE:
                return  # the pid belongs to another process now: not our session
        except psutil.Error:
            pass  # the leader is gone; its session's members keep its id
    if session_id <= 0:
        return
    members = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and os.getsid(proc.pid) == session_id:
                members.append(proc)
        except (OSError, psutil.Error):
            continue
    for proc in members:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(members, timeout=KILL_GRACE)


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
    ``plugin "raw_exec" { config { enabled = true } }``: undetected, refuses tasks
    (the supervision API for other drivers works regardless).
    """

    name = NAME

    def __init__(self, *, enabled: bool = True, denied_envvars: list[str] | None = None,
                 python: str = sys.executable,
                 start_timeout: float = SUPERVISOR_START_TIMEOUT) -> None:
        self.enabled = enabled
        self.denied_envvars = list(denied_envvars or [])
        self._python = python
        self._start_timeout = start_timeout
        self._tasks: dict[str, _RawTask] = {}
        self._lock = threading.Lock()
        finalizer = weakref.finalize(self, _adopt_supervisors, self._tasks)
        finalizer.atexit = False  # at interpreter exit nobody needs reaping
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

    def start_record(self, cfg: TaskConfig) -> StartRecord:
        files = _InvocationFiles.for_task(cfg.task_dir, cfg.id)
        return StartRecord(driver=NAME, task_id=cfg.id, state={
            "spec_path": files.spec_path, "status_path": files.status_path,
            "pid_path": files.pid_path})

    def start_task(self, cfg: TaskConfig) -> TaskHandle:
        if not self.enabled:
            raise DriverError("raw_exec is disabled")
        problems = self.validate_config(cfg.config)
        if problems:
            raise DriverError("failed driver config validation: " + "; ".join(problems))
        env = self._task_env(cfg, cfg.config)
        command = cfg.config["command"]
        executable = find_command(command, cfg.task_dir, env)
        return self._launch(cfg, executable=executable,
                            argv=[command, *[str(a) for a in cfg.config.get("args") or []]],
                            env=env, cwd=cfg.config.get("work_dir") or cfg.task_dir,
                            user=cfg.user, diversion=None)

    def _launch(self, cfg: TaskConfig, *, executable: str, argv: list[str],
                env: Mapping[str, str], cwd: str, user: str,
                diversion: OutputDiversion | None) -> TaskHandle:
        """Start ``argv`` under a new supervisor as task ``cfg.id``; returns once the
        supervisor reported the command started (or raises DriverError)."""
        with self._lock:
            if cfg.id in self._tasks:
                raise DriverError(f"task with ID {cfg.id!r} already started")
        files = _InvocationFiles.for_task(cfg.task_dir, cfg.id)
        os.makedirs(os.path.dirname(files.spec_path), mode=0o700, exist_ok=True)
        for stale in (files.status_path, files.status_path + ".tmp", files.pid_path):
            if os.path.exists(stale):
                os.unlink(stale)
        spec: dict[str, Any] = {
            "executable": executable,
            "argv": list(argv),
            "env": dict(env),
            "cwd": cwd,
            "user": user,
            "log_dir": (None if cfg.stdout_path == os.devnull
                        else os.path.dirname(cfg.stdout_path)),
            "stdout_name": os.path.basename(cfg.stdout_path),
            "stderr_name": os.path.basename(cfg.stderr_path),
            "max_files": cfg.log_max_files,
            "max_file_size": cfg.log_max_file_size_mb * MB,
            "status_path": files.status_path,
            "pid_path": files.pid_path,
        }
        if diversion is not None:
            spec["divert"] = diversion.spec(files.diverted_path)
        try:
            fd = os.open(files.spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as spec_file:
                json.dump(spec, spec_file)
        except OSError as err:
            raise DriverError(f"cannot write the task supervisor's spec {files.spec_path}: "
                              f"{err}", recoverable=True) from err
        supervisor_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                          "PYTHONPATH": _PACKAGE_ROOT, "PYTHONDONTWRITEBYTECODE": "1"}
        try:
            with open(files.log_path, "ab") as log_file:
                proc = subprocess.Popen(
                    [self._python, "-m", "nomadjail.drivers.supervisor", files.spec_path],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file,
                    close_fds=True, start_new_session=True, env=supervisor_env)
        except OSError as err:
            raise DriverError(f"failed to start the task supervisor: {err}") from err
        started_at = time.time_ns()
        message = self._read_announcement(proc, files.log_path)
        if "error" in message:
            proc.wait()
            raise DriverError(str(message["error"]))
        task_pid = int(message["pid"])
        task = _RawTask(task_id=cfg.id, task_pid=task_pid,
                        task_create_time=_create_time(task_pid), supervisor_pid=proc.pid,
                        supervisor_create_time=_create_time(proc.pid),
                        status_path=files.status_path, spec_path=files.spec_path,
                        supervisor=proc)
        with self._lock:
            self._tasks[cfg.id] = task
        return self._handle(task, started_at)

    @staticmethod
    def _handle(task: _RawTask, started_at: int) -> TaskHandle:
        return TaskHandle(driver=NAME, task_id=task.task_id, started_at=started_at,
                          pid=task.task_pid,
                          state={"supervisor_pid": task.supervisor_pid,
                                 "supervisor_create_time": task.supervisor_create_time,
                                 "task_pid": task.task_pid, "task_pgid": task.task_pid,
                                 "task_create_time": task.task_create_time,
                                 "status_path": task.status_path,
                                 "spec_path": task.spec_path})

    def recover_start(self, record: StartRecord) -> TaskHandle | None:
        """Re-attach to the task an interrupted ``start_task`` launched, or clean up.

        A supervisor still starting is given ``start_timeout`` to report the
        task in its pid file; one that does not is killed with its session.
        """
        try:
            spec_path = str(record.state["spec_path"])
            status_path = str(record.state["status_path"])
            pid_path = str(record.state["pid_path"])
        except (KeyError, TypeError) as err:
            raise DriverError(f"raw_exec start record for {record.task_id!r} is malformed: "
                              f"missing {err}") from None
        deadline = time.monotonic() + self._start_timeout
        while True:
            pids = _read_json(pid_path) or {}
            supervisor_pid = int(pids.get("supervisor_pid") or 0)
            supervisor = _find_supervisor(spec_path, supervisor_pid)
            if pids.get("task_pid"):
                return self._recover_started(record.task_id, pids, supervisor, spec_path,
                                             status_path)
            if supervisor is None:
                # Not launched, or the supervisor died before it started the task.
                _kill_session(None, supervisor_pid)
                self._forget_start(spec_path)
                return None
            if time.monotonic() >= deadline:
                log.warning("interrupted start of %s: supervisor pid %d did not report the "
                            "task within %.1fs; killing its session", record.task_id,
                            supervisor.pid, self._start_timeout)
                _kill_session(supervisor, supervisor.pid)
                self._forget_start(spec_path)
                return None
            time.sleep(0.02)

    def _recover_started(self, task_id: str, pids: dict[str, Any],
                         supervisor: psutil.Process | None, spec_path: str,
                         status_path: str) -> TaskHandle | None:
        supervisor_pid = int(pids["supervisor_pid"])
        task_pid = int(pids["task_pid"])
        started_at = int(pids.get("started_at") or time.time_ns())
        task = _RawTask(task_id=task_id, task_pid=task_pid,
                        task_create_time=self._task_create_time(task_pid, supervisor_pid),
                        supervisor_pid=supervisor_pid,
                        supervisor_create_time=(_create_time(supervisor.pid)
                                                if supervisor is not None else 0.0),
                        status_path=status_path, spec_path=spec_path)
        handle = self._handle(task, started_at)
        try:
            self.recover_task(handle)
        except TaskNotFound:
            _kill_session(supervisor, supervisor_pid)
            self._forget_start(spec_path)
            return None
        return handle

    @staticmethod
    def _task_create_time(task_pid: int, supervisor_pid: int) -> float:
        """The task's start time if ``task_pid`` is still our task: the leader of its own
        process group inside the supervisor's session (0.0 if it is gone)."""
        try:
            if os.getpgid(task_pid) == task_pid and os.getsid(task_pid) == supervisor_pid:
                return _create_time(task_pid)
        except OSError:
            pass
        return 0.0

    @staticmethod
    def _forget_start(spec_path: str) -> None:
        try:
            os.unlink(spec_path)  # it holds the task's environment
        except OSError:
            pass

    def _read_announcement(self, proc: subprocess.Popen, log_path: str) -> dict[str, Any]:
        """The supervisor's one JSON line: the task's pid, or why it did not start."""
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
        # It may have started the task before it got stuck: end its whole session.
        supervisor = None
        if proc.poll() is None:
            try:
                supervisor = psutil.Process(proc.pid)
            except psutil.Error:
                pass
        _kill_session(supervisor, proc.pid)
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
                _REAPER.adopt(task.supervisor)
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

    # -- supervising a command for another driver --------------------------------------

    def plan_supervision(self, cfg: TaskConfig) -> SupervisionPlan:
        """Where :meth:`supervise` for ``cfg`` will leave its traces; no side effects."""
        files = _InvocationFiles.for_task(cfg.task_dir, cfg.id)
        return SupervisionPlan(task_id=cfg.id, spec_path=files.spec_path,
                               status_path=files.status_path, pid_path=files.pid_path,
                               diverted_path=files.diverted_path)

    def supervise(self, cfg: TaskConfig, command: SupervisedCommand) -> Supervision:
        """Run ``command`` as task ``cfg.id`` under a supervisor of its own: it outlives the
        agent, its output goes to ``cfg``'s log files (minus what ``command.diversion``
        takes out) and its exit status is recorded.  Raises DriverError if it did not start."""
        if not os.path.isabs(command.executable):
            raise DriverError(f"supervised command {command.executable!r} must be an "
                              "absolute path")
        handle = self._launch(cfg, executable=command.executable,
                              argv=[command.executable, *command.args], env=command.env,
                              cwd=command.cwd or cfg.task_dir, user="",
                              diversion=command.diversion)
        diverted_path = _InvocationFiles.for_task(cfg.task_dir, cfg.id).diverted_path
        return self._supervision(handle, diverted_path if command.diversion else "")

    @staticmethod
    def _supervision(handle: TaskHandle, diverted_path: str) -> Supervision:
        return Supervision(task_id=handle.task_id, pid=handle.pid,
                           started_at=handle.started_at, diverted_path=diverted_path,
                           raw_state=dict(handle.state))

    def wait_supervised(self, supervision: Supervision) -> ExitResult:
        """Block until the command exited: its exit code, or the signal that killed it."""
        return self.wait_task(supervision._handle())

    def kill_supervised(self, supervision: Supervision) -> None:
        """SIGKILL the command's process group now and wait for it to be gone."""
        self.stop_task(supervision._handle(), 0.0, "SIGKILL")

    def reattach_supervised(self, supervision: Supervision) -> None:
        """After a client restart: follow the command again (its exit included, even if it
        exited meanwhile); raises TaskNotFound if nothing of it is left to follow."""
        self.recover_task(supervision._handle())

    def release_supervised(self, supervision: Supervision) -> None:
        """Kill the command if it still runs and forget it (idempotent)."""
        try:
            self.destroy_task(supervision._handle(), True)
        except TaskNotFound:
            pass

    def recover_supervision(self, plan: SupervisionPlan) -> Supervision | None:
        """After the client died between persisting ``plan`` and :meth:`supervise`
        returning: the command that start launched, re-attached, or None once nothing of
        that start runs any more (a half-started supervisor is killed)."""
        handle = self.recover_start(StartRecord(driver=NAME, task_id=plan.task_id, state={
            "spec_path": plan.spec_path, "status_path": plan.status_path,
            "pid_path": plan.pid_path}))
        return None if handle is None else self._supervision(handle, plan.diverted_path)
