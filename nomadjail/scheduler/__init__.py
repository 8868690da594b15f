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
                  rng: random.Random | None = None, pot_image_scoring: bool = True
                  ) -> Scheduler:
    """The scheduler for ``eval_type`` ("service", "batch", "system", "sysbatch").

    ``now`` is the current time in ns since the epoch.  Without ``rng`` the
    random choices (node order, dynamic ports, IDs) are seeded from the eval
    ID and the state's index.  ``pot_image_scoring``: boost nodes that hold a
    pot task's image (pot_images.py; the server's scheduler configuration).
    Raises ValueError for an unknown type.
    """
    if eval_type in (JobType.SERVICE, JobType.BATCH):
        return GenericScheduler(state, planner, now=now, rng=rng,
                                batch=eval_type == JobType.BATCH,
                                pot_image_scoring=pot_image_scoring)
    if eval_type in (JobType.SYSTEM, JobType.SYSBATCH):
        return SystemScheduler(state, planner, now=now, rng=rng,
                               sysbatch=eval_type == JobType.SYSBATCH,
                               pot_image_scoring=pot_image_scoring)
    raise ValueError(f"unknown scheduler type {eval_type!r}: expected one of "
                     f"{', '.join(SCHEDULER_TYPES)}")


__all__ = ["SCHEDULER_TYPES", "Planner", "Scheduler", "State", "allocs_fit", "new_scheduler"]
