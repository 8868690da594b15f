"""Driver handles a task runner still has to destroy, retried until the driver succeeds.

When the runner is done with a task it has the driver destroy the handle
(Nomad's ``clearDriverHandle``).  A destroy can fail -- a jail that will not
go away, a busy device -- and a failed destroy must not leak the task.
:class:`PendingDestroys` guarantees:

* One rule for every attempt, first or retried: ``destroy_task(handle,
  force=True)`` returning, or raising :class:`TaskNotFound` (nothing of the
  task is left), means done; any other :class:`DriverError` keeps the handle.
  A handle is kept once, however often it fails (keyed by its task ID).
* A kept handle is persisted before its retries are scheduled, through the
  owner's ``persist`` callback (the task runner writes :meth:`pending` into
  ``LocalTaskState.destroy_pending``); every later change is persisted too.
  ``persist`` reads :meth:`pending` when it writes, so concurrent writes can
  never store an older list last.
* A restarted client loses nothing: the owner hands the persisted handles to
  :meth:`restore` and calls :meth:`start`, and the retries carry on.
* Retries run on one background thread per task, which waits
  :data:`DESTROY_RETRY_FIRST` seconds, then twice as long after every round,
  up to :data:`DESTROY_RETRY_MAX`, and ends when nothing is pending.
* :meth:`shutdown` (client shutdown) stops the retries; what is pending
  stays persisted for the next client.

Locking: this class never calls ``persist`` or the driver while holding its
lock, so the owner may call :meth:`pending` under its own lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from ..drivers.base import Driver, DriverError, TaskHandle, TaskNotFound

log = logging.getLogger(__name__)

# A failed destroy is retried after this long (seconds), doubling up to the maximum.
DESTROY_RETRY_FIRST = 1.0
DESTROY_RETRY_MAX = 60.0


def backoff(first: float, maximum: float) -> Iterator[float]:
    """The waits before each retry round: ``first``, then doubling, capped at ``maximum``."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 2, maximum)


class PendingDestroys:
    """The handles of one task whose destroy failed, and the thread retrying them."""

    def __init__(self, *, driver: Driver, persist: Callable[[], None], alloc_id: str,
                 task: str, first_delay: float | None = None,
                 max_delay: float | None = None) -> None:
        """``first_delay``/``max_delay`` default to the module's values when the retries
        start (so a test may change those for every runner at once)."""
        self._driver = driver
        self._persist = persist
        self._alloc_id = alloc_id
        self._task = task
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._lock = threading.Lock()
        self._handles: list[TaskHandle] = []
        self._retrier: threading.Thread | None = None
        self._stopped = threading.Event()

    def restore(self, handles: Iterable[TaskHandle]) -> None:
        """Take over the handles a previous client left pending (call :meth:`start` next)."""
        with self._lock:
            self._handles = list(handles)

    def pending(self) -> list[TaskHandle]:
        """The handles not destroyed yet (a copy)."""
        with self._lock:
            return list(self._handles)

    def destroy(self, handle: TaskHandle) -> bool:
        """Have the driver destroy ``handle`` now.  True when it is gone; on failure it is
        kept (persisted) and retried in the background."""
        error = self._attempt(handle)
        if error is None:
            return True
        log.error("alloc %s task %s: destroying task %s (pid %d) failed; will retry: %s",
                  self._alloc_id, self._task, handle.task_id, handle.pid, error)
        with self._lock:
            if all(kept.task_id != handle.task_id for kept in self._handles):
                self._handles.append(handle)
        self._persist()
        self.start()
        return False

    def start(self) -> None:
        """Retry what is pending in the background (nothing to do if a retrier runs)."""
        with self._lock:
            if self._stopped.is_set() or not self._handles:
                return
            if self._retrier is not None and self._retrier.is_alive():
                return
            self._retrier = threading.Thread(
                target=self._retry, name=f"destroy-{self._alloc_id[:8]}-{self._task}",
                daemon=True)
            self._retrier.start()

    def shutdown(self) -> None:
        """Stop retrying; the pending handles stay persisted for the next client."""
        self._stopped.set()

    def _attempt(self, handle: TaskHandle) -> DriverError | None:
        """One destroy: None when the task is gone, else the driver's error."""
        try:
            self._driver.destroy_task(handle, True)
        except TaskNotFound:
            return None  # nothing of it is left
        except DriverError as err:
            return err
        return None

    def _retry(self) -> None:
        first = DESTROY_RETRY_FIRST if self._first_delay is None else self._first_delay
        maximum = DESTROY_RETRY_MAX if self._max_delay is None else self._max_delay
        for delay in backoff(first, maximum):
            stopped = self._stopped.wait(delay)
            with self._lock:
                if stopped or not self._handles:
                    self._retrier = None
                    return
                handles = list(self._handles)
            done = set()
            for handle in handles:
                error = self._attempt(handle)
                if error is None:
                    done.add(handle.task_id)
                else:
                    log.warning("alloc %s task %s: destroying task %s (pid %d) failed again: "
                                "%s", self._alloc_id, self._task, handle.task_id, handle.pid,
                                error)
            if done:
                with self._lock:
                    self._handles = [kept for kept in self._handles
                                     if kept.task_id not in done]
                self._persist()
