"""The task runner's calls into its driver, each with what a failure means, in one place.

A driver can fail in three ways: a :class:`DriverError` (the runtime said
no; the message is for the user), :class:`TaskNotFound` (the task is gone)
or any other exception (a bug in the driver).  The task runner must turn
each into a task outcome and never die of one; for the calls below,
:class:`DriverCalls` decides which:

=====================  =================================================================
call                   failure means
=====================  =================================================================
:meth:`start`          DriverError: the start failed (raised, for the restart policy).
                       A crash: the driver is asked whether the start launched the task
                       anyway (``recover_start``) and that task is adopted; if not, the
                       crash is raised as an unrecoverable DriverError.  Never a task
                       launched and forgotten.
:meth:`recover_start`  (after a client restart) DriverError: nothing to adopt (None).
:meth:`wait`           never raises: a lost task or a failed wait is an exit with code -1
                       and the reason in ``err``, so the restart policy decides.
:meth:`stop`           TaskNotFound: the task is already stopped.  DriverError: returned
                       (logged) for the "Killed" event.
:meth:`stats`          None: no usage to report.
=====================  =================================================================

Log lines name the allocation and the task (``alloc <id> task <name>: ...``).
"""

from __future__ import annotations

import logging

from ..drivers.base import (
    Driver,
    DriverError,
    ExitResult,
    StartRecord,
    TaskConfig,
    TaskHandle,
    TaskNotFound,
    TaskStats,
)

log = logging.getLogger(__name__)


class DriverCalls:
    """One task's driver, called with the task runner's failure policy."""

    def __init__(self, driver: Driver, *, driver_name: str, alloc_id: str, task: str) -> None:
        """``driver_name`` is the task's ``driver`` (for log lines)."""
        self.driver = driver
        self._driver_name = driver_name
        self._alloc_id = alloc_id
        self._task = task

    def start(self, cfg: TaskConfig, record: StartRecord) -> TaskHandle:
        """Start the task of ``cfg`` whose start ``record`` the caller persisted."""
        try:
            return self.driver.start_task(cfg)
        except DriverError:
            raise
        except Exception as err:  # noqa: BLE001 - a driver bug is a driver failure
            log.exception("alloc %s task %s: driver %s crashed in start_task", self._alloc_id,
                          self._task, self._driver_name)
            handle = self._adopt_after_crash(record)
            if handle is None:
                raise DriverError(str(err)) from err
            return handle

    def _adopt_after_crash(self, record: StartRecord) -> TaskHandle | None:
        """start_task crashed: ask the driver whether it launched the task anyway."""
        try:
            return self.driver.recover_start(record)
        except Exception:  # noqa: BLE001 - the driver is broken; report the first error
            log.exception("alloc %s task %s: driver %s cannot recover the failed start",
                          self._alloc_id, self._task, self._driver_name)
            return None

    def recover_start(self, record: StartRecord) -> TaskHandle | None:
        """The client died inside ``start_task``: the task that start launched, if any."""
        try:
            handle = self.driver.recover_start(record)
        except DriverError as err:
            log.error("alloc %s task %s: cannot recover the interrupted start %s: %s",
                      self._alloc_id, self._task, record.task_id, err)
            return None
        if handle is not None:
            log.info("alloc %s task %s: re-attached to task %s (pid %d), started just before "
                     "the client stopped", self._alloc_id, self._task, handle.task_id,
                     handle.pid)
        return handle

    def wait(self, handle: TaskHandle | None) -> ExitResult:
        """Block until the task exits; how it ended (never raises a driver error)."""
        if handle is None:
            return ExitResult(exit_code=-1, err="no task handle")
        try:
            return self.driver.wait_task(handle)
        except TaskNotFound as err:
            return ExitResult(exit_code=-1, err=str(err))
        except DriverError as err:
            return ExitResult(exit_code=-1, err=f"error waiting for the task: {err}")

    def stop(self, handle: TaskHandle, timeout: float, signal: str) -> str:
        """kill ``signal``, wait ``timeout``, force (the driver does the steps); the
        driver's error, or "" once the task is stopped."""
        try:
            self.driver.stop_task(handle, timeout, signal)
        except TaskNotFound:
            return ""
        except DriverError as err:
            log.error("alloc %s task %s: failed to kill the task: %s", self._alloc_id,
                      self._task, err)
            return str(err)
        return ""

    def stats(self, handle: TaskHandle) -> TaskStats | None:
        """The task's resource usage, or None when the driver cannot tell."""
        try:
            return self.driver.task_stats(handle)
        except DriverError:
            return None
