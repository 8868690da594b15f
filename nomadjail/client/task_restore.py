"""What a task runner does with a task its state db remembers, after a client restart
(Nomad's task runner ``Restore``): the decisions, which the runner applies.

* A persisted handle is re-attached (the driver's ``recover_task``), never
  started again.
* A start record left without a handle means the client died inside
  ``start_task``: the driver adopts the task that start launched, or kills
  what it half-started (:meth:`~nomadjail.client.driver_calls.DriverCalls.recover_start`).
* A task that cannot be re-attached is released: its destroy is retried
  until it succeeds (:mod:`~nomadjail.client.pending_destroys`).  Whether it
  may run again before the client has heard from the servers is
  :func:`waits_for_servers`.
"""

from __future__ import annotations

from ..structs import Allocation, JobType, TaskStateName
from .restarts import job_type_of

RESTORE_FAILED = "failed to restore task; will not run until server is contacted"
"""The "Failed Restoring Task" event's message, for a task that waits for the servers."""


def waits_for_servers(state: TaskStateName, alloc: Allocation) -> bool:
    """Whether a task that was lost while the client was down (it could not be
    re-attached) must wait until the client has heard from the servers before it runs
    again.

    It must when it was running and its allocation should still run: while the client
    was away the servers may have given the node up and replaced the allocation on
    another node, and starting it here first could run it twice.  A task that was not
    running resumes as it was; a stopped allocation does not run again anyway; a
    system job's allocation is this node's own and is not replaced elsewhere.
    """
    return (state == TaskStateName.RUNNING and not alloc.terminal_status()
            and job_type_of(alloc) != JobType.SYSTEM)
