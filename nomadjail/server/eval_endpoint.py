"""Evaluation writes the leader makes on its own behalf: canceling evals made
redundant by newer ones, and giving up on evals that kept failing.

(The scheduler's own eval writes -- update, create, reblock -- go through its
worker; see :mod:`.worker`.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..structs import EvalStatus, EvalTrigger, Evaluation, generate_uuid, now_ns
from . import messages as m

Apply = Callable[[Any], tuple[int, Any]]

CANCELED_BY_NEWER = "canceled after more recent eval was processed"
DUPLICATE_BLOCKED = "existing blocked evaluation exists for job"


class EvalEndpoint:
    def __init__(self, apply: Apply, *, clock: Callable[[], int] = now_ns):
        self.apply = apply
        self.clock = clock

    def cancel(self, evals: list[Evaluation], description: str) -> int:
        """Mark ``evals`` canceled (one raft message); returns its index."""
        now = self.clock()
        canceled = [dataclasses.replace(ev, status=EvalStatus.CANCELED,
                                        status_description=description, modify_time=now)
                    for ev in evals if not ev.terminal_status()]
        if not canceled:
            return 0
        index, _ = self.apply(m.EvalUpdateRequest(evals=canceled))
        return index

    def fail_with_followup(self, ev: Evaluation, delivery_limit: int,
                           wait_seconds: float) -> Evaluation:
        """Mark ``ev`` failed after ``delivery_limit`` deliveries and create the
        follow-up eval that tries its job again after ``wait_seconds``."""
        now = self.clock()
        followup = Evaluation(
            id=generate_uuid(), namespace=ev.namespace, priority=ev.priority, type=ev.type,
            triggered_by=EvalTrigger.FAILED_FOLLOW_UP, job_id=ev.job_id,
            status=EvalStatus.PENDING, wait=int(wait_seconds * 1e9), previous_eval=ev.id,
            create_time=now, modify_time=now)
        failed = dataclasses.replace(
            ev, status=EvalStatus.FAILED, next_eval=followup.id, modify_time=now,
            status_description=f"evaluation reached delivery limit ({delivery_limit})")
        self.apply(m.EvalUpdateRequest(evals=[failed, followup]))
        return followup
