"""One start attempt of a supervised command: what it runs, its files, what is persisted.

These are the values :class:`.supervision.Supervisor` works with (import them
from there); this module also reads and writes the files a supervisor process
(:mod:`.supervisor`) shares with the agent, all in
``<task_dir>/.raw_exec/<invocation>.*`` (``<invocation>`` is the last part of
the task id ``<alloc>/<task>/<invocation>``, unique per start attempt):

``spec.json``       the supervisor's instructions (mode 0600: it holds the command's
                    environment, so it is removed when the command is released)
``status.json``     the command's exit status, written by the supervisor
``pid.json``        the supervisor's and the command's pids, written by the supervisor
``supervisor.log``  the supervisor's own stderr
``diverted.log``    output lines an :class:`OutputDiversion` took out of the logs

Everything a client persists (:meth:`SupervisionPlan.to_state`,
:meth:`Supervision.to_state`) is JSON and keeps its keys across versions:
handles and start records saved by an older agent must still be found again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .base import DriverError, ExitResult, TaskConfig
from .logrotate import MB

# The directory inside the task directory that holds the supervisor's files.  Named
# after raw_exec, the first driver that supervised its tasks; kept for every driver so
# that the files of tasks started by earlier versions stay where they were.
RUNTIME_DIR = ".raw_exec"


def state_field(kind: str, state: Mapping[str, Any], key: str, convert: Callable[[Any], Any],
                ) -> Any:
    """``convert(state[key])``; ValueError naming ``kind`` and the missing or bad key."""
    try:
        return convert(state[key])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{kind}: missing or bad {key!r} ({err})") from None


@dataclass(frozen=True, slots=True)
class OutputDiversion:
    """Lines of a supervised tool's output that go to a side file instead of the task's
    logs, depending on the phase of the program the tool runs (the supervisor process's
    module doc says exactly which).  Empty ``start_line``/``end_witness``: that phase
    change never happens (so by default every prefixed line is diverted)."""

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
    """A command to run under a supervisor process as one task's start attempt.

    It runs with exactly ``env``, in ``cwd`` (default: the task directory), as
    ``user`` (default: the agent's user); its output goes to the task's log files
    (minus what ``diversion`` takes out).
    """

    executable: str  # an absolute path (the supervisor runs in another directory)
    args: tuple[str, ...] = ()  # argv[1:]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = ""
    diversion: OutputDiversion | None = None
    user: str = ""
    argv0: str = ""  # argv[0] as the program sees it (default: ``executable``)

    def argv(self) -> list[str]:
        return [self.argv0 or self.executable, *self.args]


@dataclass(frozen=True, slots=True)
class SupervisionPlan:
    """Where supervising a command for task ``task_id`` will leave its traces.

    Made without side effects (:meth:`for_task`); persist it (``to_state``)
    before ``Supervisor.launch``, so that a client that died in between can
    find the command again (``Supervisor.recover_start``).
    """

    task_id: str
    spec_path: str
    status_path: str
    pid_path: str
    diverted_path: str  # where an OutputDiversion writes the diverted lines

    @classmethod
    def for_task(cls, task_dir: str, task_id: str) -> SupervisionPlan:
        base = os.path.join(task_dir, RUNTIME_DIR, _invocation(task_id))
        return cls(task_id=task_id, spec_path=f"{base}.spec.json",
                   status_path=f"{base}.status.json", pid_path=f"{base}.pid.json",
                   diverted_path=f"{base}.diverted.log")

    @property
    def log_path(self) -> str:
        """The supervisor's own stderr (not persisted: only needed while launching)."""
        return os.path.join(os.path.dirname(self.spec_path),
                            f"{_invocation(self.task_id)}.supervisor.log")

    def to_state(self) -> dict[str, str]:
        return {"spec_path": self.spec_path, "status_path": self.status_path,
                "pid_path": self.pid_path, "diverted_path": self.diverted_path}

    @classmethod
    def from_state(cls, task_id: str, state: Mapping[str, Any]) -> SupervisionPlan:
        """Raises ValueError naming the missing or bad key."""
        kind = f"supervision plan of {task_id!r}"
        return cls(task_id=task_id,
                   spec_path=state_field(kind, state, "spec_path", str),
                   status_path=state_field(kind, state, "status_path", str),
                   pid_path=state_field(kind, state, "pid_path", str),
                   diverted_path=str(state.get("diverted_path", "")))


def _invocation(task_id: str) -> str:
    return task_id.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class Supervision:
    """A command running under a supervisor process.  ``to_state`` is JSON-serialisable
    and holds everything needed to find it again after the client died."""

    task_id: str
    pid: int  # the command's pid
    started_at: int  # ns since the epoch
    diverted_path: str  # "" when the command's output is not diverted
    # The supervisor's and the command's pids, start times and files: raw_exec persists
    # exactly this as its handle's state.
    process_state: Mapping[str, Any]

    def to_state(self) -> dict[str, Any]:
        # "raw": the key the pot driver's handles have always used for process_state.
        return {"task_id": self.task_id, "pid": self.pid, "started_at": self.started_at,
                "diverted_path": self.diverted_path, "raw": dict(self.process_state)}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Supervision:
        """Raises ValueError naming the missing or bad key."""
        kind = "supervision state"
        return cls(task_id=state_field(kind, state, "task_id", str),
                   pid=state_field(kind, state, "pid", int),
                   started_at=state_field(kind, state, "started_at", int),
                   diverted_path=str(state.get("diverted_path", "")),
                   process_state=state_field(kind, state, "raw", dict))


def build_spec(plan: SupervisionPlan, cfg: TaskConfig, command: SupervisedCommand,
               ) -> dict[str, Any]:
    """The supervisor process's instructions for running ``command`` as ``cfg``'s task."""
    spec: dict[str, Any] = {
        "executable": command.executable,
        "argv": command.argv(),
        "env": dict(command.env),
        "cwd": command.cwd or cfg.task_dir,
        "user": command.user,
        "log_dir": None if cfg.stdout_path == os.devnull else os.path.dirname(cfg.stdout_path),
        "stdout_name": os.path.basename(cfg.stdout_path),
        "stderr_name": os.path.basename(cfg.stderr_path),
        "max_files": cfg.log_max_files,
        "max_file_size": cfg.log_max_file_size_mb * MB,
        "status_path": plan.status_path,
        "pid_path": plan.pid_path,
    }
    if command.diversion is not None:
        spec["divert"] = command.diversion.spec(plan.diverted_path)
    return spec


def write_spec(plan: SupervisionPlan, spec: Mapping[str, Any]) -> None:
    """Make the runtime directory, clear what an earlier attempt with the same files left,
    and write ``spec`` (mode 0600); DriverError if it cannot be written."""
    os.makedirs(os.path.dirname(plan.spec_path), mode=0o700, exist_ok=True)
    for stale in (plan.status_path, plan.status_path + ".tmp", plan.pid_path):
        if os.path.exists(stale):
            os.unlink(stale)
    try:
        fd = os.open(plan.spec_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as spec_file:
            json.dump(spec, spec_file)
    except OSError as err:
        raise DriverError(f"cannot write the task supervisor's spec {plan.spec_path}: "
                          f"{err}", recoverable=True) from err


def read_spec(spec_path: str) -> dict[str, Any]:
    """The spec a command was launched with; OSError or ValueError if unreadable."""
    with open(spec_path, encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    if not isinstance(spec, dict):
        raise ValueError(f"{spec_path} does not hold a JSON object")
    return spec


def forget_spec(spec_path: str) -> None:
    """Remove a spec (it holds the command's environment); gone already is fine."""
    try:
        os.unlink(spec_path)
    except OSError:
        pass


def read_json(path: str) -> dict[str, Any] | None:
    """A JSON object file written atomically by the supervisor; None if absent or unreadable."""
    try:
        with open(path, encoding="utf-8") as src:
            data = json.load(src)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_status(status_path: str) -> ExitResult | None:
    """The exit status the supervisor recorded; None while there is none yet."""
    try:
        with open(status_path, encoding="utf-8") as status_file:
            status = json.load(status_file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        return ExitResult(exit_code=-1, err=f"unreadable exit status {status_path}: {err}")
    return ExitResult(exit_code=int(status.get("exit_code", 0)),
                      signal=int(status.get("signal", 0)))
