"""Allocation operations: ``alloc stop`` (stop one allocation and replace it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..state import StateStore
from ..structs import (
    DEFAULT_PRIORITY,
    DesiredTransition,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    JobType,
    NotFound,
    generate_uuid,
    now_ns,
)
from . import messages as m
from .results import EvalResult

Apply = Callable[[Any], tuple[int, Any]]


class AllocEndpoint:
    def __init__(self, store: StateStore, apply: Apply, *, clock: Callable[[], int] = now_ns):
        self.store = store
        self.apply = apply
        self.clock = clock

    def stop(self, alloc_id: str) -> EvalResult:
        """Mark the allocation for migration and evaluate its job: the scheduler
        stops it and places a replacement (Nomad's Alloc.Stop)."""
        alloc = self.store.alloc_by_id(alloc_id)
        if alloc is None:
            raise NotFound(f"allocation {alloc_id!r} not found")
        job = alloc.job or self.store.job_by_id(alloc.namespace, alloc.job_id)
        now = self.clock()
        ev = Evaluation(id=generate_uuid(), namespace=alloc.namespace,
                        priority=(job.priority if job else None) or DEFAULT_PRIORITY,
                        type=(job.type if job else None) or JobType.SERVICE,
                        triggered_by=EvalTrigger.ALLOC_STOP, job_id=alloc.job_id,
                        status=EvalStatus.PENDING, create_time=now, modify_time=now)
        index, _ = self.apply(m.AllocUpdateDesiredTransitionRequest(
            allocs={alloc.id: DesiredTransition(migrate=True)}, evals=[ev]))
        return EvalResult(eval_id=ev.id, eval_create_index=index, index=index)
