"""An evaluation: a request to reconcile a job's desired and actual state.

Evaluations are created by whatever changes the world (a job registered, a
node went down, an allocation failed), queued in the eval broker, processed
by a scheduler worker exactly once in effect (at-least-once delivery,
idempotent processing), and kept for the operator to inspect.
"""

from __future__ import annotations

from dataclasses import dataclass

from .alloc import ZERO_TIME, AllocMetric
from .codec import field
from .consts import TERMINAL_EVAL_STATUSES, EvalStatus


@dataclass(slots=True)
class Evaluation:
    id: str = ""
    namespace: str = ""
    priority: int = 0
    type: str = ""  # the job type, which picks the scheduler
    triggered_by: str = ""
    job_id: str = ""
    job_modify_index: int = 0
    node_id: str = ""
    node_modify_index: int = 0
    deployment_id: str = ""
    status: EvalStatus = EvalStatus.PENDING
    status_description: str = ""
    wait: int = 0  # ns
    wait_until: str = ZERO_TIME  # RFC 3339; a delayed reschedule runs no earlier
    next_eval: str = ""
    previous_eval: str = ""
    blocked_eval: str = ""
    failed_tg_allocs: dict[str, AllocMetric] = field(default_factory=dict, key="FailedTGAllocs")
    class_eligibility: dict[str, bool] = field(default_factory=dict)
    escaped_computed_class: bool = False
    annotate_plan: bool = False
    queued_allocations: dict[str, int] = field(default_factory=dict)
    snapshot_index: int = 0
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0  # ns since the epoch
    modify_time: int = 0  # ns since the epoch

    def terminal_status(self) -> bool:
        return self.status in TERMINAL_EVAL_STATUSES
