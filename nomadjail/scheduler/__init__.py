"""The pure scheduler: an evaluation in, plans and eval updates out.

The server's worker calls :func:`new_scheduler` with a state snapshot and a
planner, then ``process(eval)``; the plan applier re-checks each node of a
plan with :func:`allocs_fit`.  No I/O, no threads, no clock: ``now`` and the
random generator are inputs, so processing is reproducible.  See README.md
in this package for how the parts fit.
"""

from __future__ import annotations

import random

from ..structs import JobType
from .fit import allocs_fit
from .generic import GenericScheduler
from .interfaces import Planner, Scheduler, State
from .system import SystemScheduler

SCHEDULER_TYPES = (JobType.SERVICE, JobType.BATCH, JobType.SYSTEM, JobType.SYSBATCH)


def new_scheduler(eval_type: str, state: State, planner: Planner, *, now: int,
                  rng: random.Random | None = None) -> Scheduler:
    """The scheduler for ``eval_type`` ("service", "batch", "system", "sysbatch").

    ``now`` is the current time in ns since the epoch.  Without ``rng`` the
    random choices (node order, dynamic ports, IDs) are seeded from the eval
    ID and the state's index.  Raises ValueError for an unknown type.
    """
    if eval_type == JobType.SERVICE:
        return GenericScheduler(state, planner, now=now, rng=rng, batch=False)
    if eval_type == JobType.BATCH:
        return GenericScheduler(state, planner, now=now, rng=rng, batch=True)
    if eval_type == JobType.SYSTEM:
        return SystemScheduler(state, planner, now=now, rng=rng, sysbatch=False)
    if eval_type == JobType.SYSBATCH:
        return SystemScheduler(state, planner, now=now, rng=rng, sysbatch=True)
    raise ValueError(f"unknown scheduler type {eval_type!r}: expected one of "
                     f"{', '.join(SCHEDULER_TYPES)}")


__all__ = ["SCHEDULER_TYPES", "Planner", "Scheduler", "State", "allocs_fit", "new_scheduler"]
