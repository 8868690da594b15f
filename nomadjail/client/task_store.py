"""One task's records in the client's state db, written with the task runner's failure
policy, in one place (as :mod:`~nomadjail.client.driver_calls` is for its driver calls).

The runner writes the task's :class:`TaskState` and :class:`LocalTaskState`
whole, on every change, before the allocation runner hears of it.  A write can
fail (a full disk, a read-only data dir); what that means:

* By default the failure is logged and the runner carries on: the task keeps
  running, and since every write replaces the whole record, the next one
  that succeeds stores the truth again.  Stopping the task because its
  bookkeeping could not be written would do more harm than a stale record.
* A ``strict`` write raises the :class:`OSError`: the runner uses it for the
  start record, which must be stored *before* a start may begin: a client
  that died during a start the db does not know of would leak the task, or
  start it a second time.

Log lines name the allocation and the task (``alloc <id> task <name>: ...``).
"""

from __future__ import annotations

import logging

from ..structs import TaskState
from .state_db import LocalTaskState, StateDB

log = logging.getLogger(__name__)


class TaskStore:
    """The state db, seen from one task runner."""

    def __init__(self, db: StateDB, *, alloc_id: str, task: str) -> None:
        self._db = db
        self._alloc_id = alloc_id
        self._task = task

    def load(self) -> tuple[LocalTaskState | None, TaskState | None]:
        """What a previous client stored for the task (None where it stored nothing)."""
        return self._db.get_task_state(self._alloc_id, self._task)

    def put_state(self, state: TaskState) -> None:
        """Store the state the servers see; a failure is logged."""
        try:
            self._db.put_task_state(self._alloc_id, self._task, state)
        except OSError as err:
            log.error("alloc %s task %s: cannot persist task state: %s", self._alloc_id,
                      self._task, err)

    def put_local(self, local: LocalTaskState, *, strict: bool = False) -> None:
        """Store the local state; ``strict`` raises the OSError instead of logging it."""
        try:
            self._db.put_task_local_state(self._alloc_id, self._task, local)
        except OSError as err:
            if strict:
                raise
            log.error("alloc %s task %s: cannot persist the task handle: %s", self._alloc_id,
                      self._task, err)
