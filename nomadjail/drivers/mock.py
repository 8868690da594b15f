"""Nomad's ``mock_driver``: a scriptable task with no process behind it.

A mock task is a timer.  Its config says how long it "runs" and how it ends,
so scheduler, client and benchmark tests can exercise every task outcome
without starting real processes (1,000 allocations cost 1,000 timers).

Config keys (Nomad's names and meaning):

=========================  ==================================================
``run_for``                duration the task runs ("0" / absent: exits at once)
``exit_code``              exit code it reports (also when killed, as Nomad)
``exit_signal``            signal number it reports
``exit_err_msg``           error message it reports
``start_error``            ``start_task`` fails with this message
``start_error_recoverable``  ... and the failure may be retried
``start_block_for``        ``start_task`` takes this long
``kill_after``             ``stop_task`` lets the task run this long before it dies
``signal_error``           ``signal_task`` fails with this message
``stdout_string``          written to stdout at start ...
``stdout_repeat``          ... and this many more times ...
``stdout_repeat_duration`` ... this far apart (same three for ``stderr_*``)
=========================  ==================================================

The handle carries the start time and the config, so ``recover_task`` on a
fresh driver (a restarted client) resumes the timer where it was: a task whose
``run_for`` elapsed while the client was down reports its exit at once.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..structs import parse_duration
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
)
from .logrotate import MB, FileRotator

NAME = "mock_driver"

_DURATION_KEYS = ("run_for", "start_block_for", "kill_after", "stdout_repeat_duration",
                  "stderr_repeat_duration")
_INT_KEYS = ("exit_code", "exit_signal", "stdout_repeat", "stderr_repeat")
_STRING_KEYS = ("exit_err_msg", "start_error", "signal_error", "stdout_string", "stderr_string",
                "driver_ip", "driver_port_map", "plugin_exit_after")
_BOOL_KEYS = ("start_error_recoverable", "driver_advertise")
CONFIG_KEYS = (*_DURATION_KEYS, *_INT_KEYS, *_STRING_KEYS, *_BOOL_KEYS, "exec_command")


def _seconds(value: Any) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1e9  # a number is nanoseconds, as on Nomad's wire
    return parse_duration(str(value)) / 1e9


def validate_mock_config(config: dict[str, Any]) -> list[str]:
    problems = []
    for key, value in config.items():
        if key not in CONFIG_KEYS:
            problems.append(f"unknown key {key!r} in mock_driver config")
        elif key in _DURATION_KEYS:
            try:
                if _seconds(value) < 0:
                    problems.append(f"{key!r} must not be negative, got {value!r}")
            except ValueError as err:
                problems.append(f"{key!r}: {err}")
        elif key in _INT_KEYS and (isinstance(value, bool) or not isinstance(value, (int, float))
                                   or int(value) != value):
            problems.append(f"{key!r} must be an integer, got {value!r}")
        elif key in _STRING_KEYS and not isinstance(value, str):
            problems.append(f"{key!r} must be a string, got {value!r}")
        elif key in _BOOL_KEYS and not isinstance(value, bool):
            problems.append(f"{key!r} must be true or false, got {value!r}")
    return problems


@dataclass
class _MockTask:
    task_id: str
    config: dict[str, Any]
    started_mono: float  # time.monotonic() equivalent of the start
    killed: threading.Event = field(default_factory=threading.Event)
    result: ExitResult | None = None
    signals: list[str] = field(default_factory=list)

    def deadline(self) -> float:
        return self.started_mono + _seconds(self.config.get("run_for"))

    def finished(self) -> bool:
        return self.killed.is_set() or time.monotonic() >= self.deadline()

    def exit_result(self) -> ExitResult:
        return ExitResult(exit_code=int(self.config.get("exit_code") or 0),
                          signal=int(self.config.get("exit_signal") or 0),
                          err=str(self.config.get("exit_err_msg") or ""))


class MockDriver:
    """The in-process mock driver.  ``fs_isolation`` is what ``capabilities`` reports."""

    name = NAME

    def __init__(self, *, fs_isolation: str = "none", healthy: bool = True) -> None:
        self.fs_isolation = fs_isolation
        self.healthy = healthy
        self._tasks: dict[str, _MockTask] = {}
        self._lock = threading.Lock()

    def fingerprint(self) -> Fingerprint:
        if not self.healthy:
            return Fingerprint(detected=True, healthy=False, health_description="Unhealthy")
        return Fingerprint(detected=True, healthy=True, health_description="Healthy",
                           attributes={"driver.mock_driver": "true"})

    def capabilities(self) -> Capabilities:
        return Capabilities(send_signals=True, exec=True, fs_isolation=self.fs_isolation)

    def validate_config(self, config: dict[str, Any]) -> list[str]:
        return validate_mock_config(config)

    def _task(self, handle: TaskHandle) -> _MockTask:
        with self._lock:
            task = self._tasks.get(handle.task_id)
        if task is None:
            raise TaskNotFound(f"mock task {handle.task_id!r} is not known to this driver")
        return task

    def start_record(self, cfg: TaskConfig) -> StartRecord:
        return StartRecord(driver=NAME, task_id=cfg.id)

    def recover_start(self, record: StartRecord) -> TaskHandle | None:
        """A mock task lives in the driver's memory: an interrupted start left nothing."""
        return None

    def start_task(self, cfg: TaskConfig) -> TaskHandle:
        problems = self.validate_config(cfg.config)
        if problems:
            raise DriverError("failed driver config validation: " + "; ".join(problems))
        config = dict(cfg.config)
        block = _seconds(config.get("start_block_for"))
        if block:
            time.sleep(block)
        if config.get("start_error"):
            raise DriverError(str(config["start_error"]),
                              recoverable=bool(config.get("start_error_recoverable")))
        task = _MockTask(task_id=cfg.id, config=config, started_mono=time.monotonic())
        with self._lock:
            if cfg.id in self._tasks:
                raise DriverError(f"task with ID {cfg.id!r} already started")
            self._tasks[cfg.id] = task
        self._start_output(task, cfg)
        return TaskHandle(driver=NAME, task_id=cfg.id, started_at=time.time_ns(),
                          state={"config": config, "stdout_path": cfg.stdout_path,
                                 "stderr_path": cfg.stderr_path,
                                 "log_max_files": cfg.log_max_files,
                                 "log_max_file_size_mb": cfg.log_max_file_size_mb})

    def _start_output(self, task: _MockTask, cfg: TaskConfig) -> None:
        for kind, path in (("stdout", cfg.stdout_path), ("stderr", cfg.stderr_path)):
            text = task.config.get(f"{kind}_string") or ""
            if not text or path == os.devnull:
                continue
            rotator = FileRotator(os.path.dirname(path), os.path.basename(path),
                                  max_files=cfg.log_max_files,
                                  max_file_size=cfg.log_max_file_size_mb * MB)
            rotator.write(text.encode())
            repeat = int(task.config.get(f"{kind}_repeat") or 0)
            if repeat <= 0:
                rotator.close()
                continue
            every = _seconds(task.config.get(f"{kind}_repeat_duration"))
            threading.Thread(target=self._repeat_output, name=f"mock-{kind}-{task.task_id}",
                             args=(task, rotator, text.encode(), repeat, every),
                             daemon=True).start()

    @staticmethod
    def _repeat_output(task: _MockTask, rotator: FileRotator, data: bytes, repeat: int,
                       every: float) -> None:
        try:
            for _ in range(repeat):
                if task.killed.wait(every):
                    return
                rotator.write(data)
        finally:
            rotator.close()

    def wait_task(self, handle: TaskHandle) -> ExitResult:
        task = self._task(handle)
        while not task.finished():
            task.killed.wait(max(task.deadline() - time.monotonic(), 0.0))
        task.result = task.exit_result()
        return task.result

    def stop_task(self, handle: TaskHandle, timeout: float, signal: str) -> None:
        task = self._task(handle)
        if task.finished():
            return
        kill_after = _seconds(task.config.get("kill_after"))
        if kill_after:
            time.sleep(min(kill_after, max(task.deadline() - time.monotonic(), 0.0)))
        task.killed.set()

    def destroy_task(self, handle: TaskHandle, force: bool) -> None:
        with self._lock:
            task = self._tasks.get(handle.task_id)
            if task is None:
                return
            if not task.finished() and not force:
                raise DriverError(f"cannot destroy running task {handle.task_id!r}")
            task.killed.set()
            del self._tasks[handle.task_id]

    def recover_task(self, handle: TaskHandle) -> None:
        with self._lock:
            if handle.task_id in self._tasks:
                return
            config = handle.state.get("config")
            if not isinstance(config, dict) or not handle.started_at:
                raise TaskNotFound(f"mock handle for {handle.task_id!r} has no config")
            elapsed = max(time.time_ns() - handle.started_at, 0) / 1e9
            self._tasks[handle.task_id] = _MockTask(task_id=handle.task_id, config=config,
                                                    started_mono=time.monotonic() - elapsed)

    def signal_task(self, handle: TaskHandle, signal: str) -> None:
        task = self._task(handle)
        if task.config.get("signal_error"):
            raise DriverError(str(task.config["signal_error"]))
        task.signals.append(signal)

    def signals_received(self, task_id: str) -> list[str]:
        """The signals ``signal_task`` delivered to a task (tests)."""
        with self._lock:
            task = self._tasks.get(task_id)
        return list(task.signals) if task else []

    def exec_task(self, handle: TaskHandle, cmd: list[str], timeout: float) -> ExecResult:
        task = self._task(handle)
        command = task.config.get("exec_command") or {}
        stdout = str(command.get("stdout_string", "")) if isinstance(command, dict) else ""
        code = int(command.get("exit_code", 0)) if isinstance(command, dict) else 0
        return ExecResult(stdout=stdout.encode(), stderr=b"", exit_code=code)

    def task_stats(self, handle: TaskHandle) -> TaskStats:
        self._task(handle)
        return TaskStats(timestamp=time.time_ns())
