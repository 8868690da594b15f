"""What a scheduler wants changed, and what the plan applier committed.

A scheduler never writes state.  It returns a Plan: allocations to stop or
update per node (``node_update``), allocations to place or update in place per
node (``node_allocation``), and a deployment.  The single plan applier
re-checks every node's part against the newest state and commits what still
fits; the :class:`PlanResult` says what was committed, so the scheduler can
refresh and retry the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from .alloc import Allocation
from .codec import field
from .consts import AllocClientStatus, AllocDesiredStatus, DeploymentStatus
from .deployment import Deployment
from .job import Job


@dataclass(slots=True)
class DesiredUpdates:
    """Per task group counts shown by ``job plan`` (Nomad's DesiredTGUpdates)."""

    ignore: int = 0
    place: int = 0
    migrate: int = 0
    stop: int = 0
    in_place_update: int = 0
    destructive_update: int = 0
    canary: int = 0
    preemptions: int = 0
    reschedule_now: int = 0
    reschedule_later: int = 0


@dataclass(slots=True)
class PlanAnnotations:
    desired_tg_updates: dict[str, DesiredUpdates] = field(default_factory=dict,
                                                          key="DesiredTGUpdates")
    # nomadjail's own (Nomad's clients ignore keys they do not know): per task group
    # running pot images, how many of its new placements land on nodes that already hold
    # every image (see nomadjail.scheduler.pot_images).
    pot_image_cached: dict[str, int] = field(default_factory=dict,
                                             key="NomadjailPotImageCached")


@dataclass(slots=True)
class DeploymentStatusUpdate:
    deployment_id: str = ""
    status: DeploymentStatus | Literal[""] = ""
    status_description: str = ""
    updated_at: int = 0  # ns since the epoch; becomes the deployment's ModifyTime


@dataclass(slots=True)
class Plan:
    eval_id: str = ""
    priority: int = 0
    all_at_once: bool = False
    job: Job | None = None
    node_update: dict[str, list[Allocation]] = field(default_factory=dict)
    node_allocation: dict[str, list[Allocation]] = field(default_factory=dict)
    annotations: PlanAnnotations | None = None
    deployment: Deployment | None = None
    deployment_updates: list[DeploymentStatusUpdate] = field(default_factory=list)
    snapshot_index: int = 0

    def append_stopped_alloc(self, alloc: Allocation, description: str,
                             client_status: str = "", followup_eval_id: str = "") -> None:
        """Ask for ``alloc`` to stop; a copy carries the change, the original is untouched.

        ``client_status``, when given, must be an :class:`AllocClientStatus` value
        (``lost`` for an allocation on a down node); "" keeps the allocation's."""
        stopped = replace(alloc, job=None, desired_status=AllocDesiredStatus.STOP,
                          desired_description=description)
        if client_status:
            stopped.client_status = AllocClientStatus(client_status)
        if followup_eval_id:
            stopped.followup_eval_id = followup_eval_id
        self.node_update.setdefault(alloc.node_id, []).append(stopped)

    def append_alloc(self, alloc: Allocation) -> None:
        self.node_allocation.setdefault(alloc.node_id, []).append(alloc)

    def pop_update(self, alloc: Allocation) -> None:
        """Undo the last append_stopped_alloc for ``alloc`` (an in-place update won)."""
        updates = self.node_update.get(alloc.node_id, [])
        if updates and updates[-1].id == alloc.id:
            updates.pop()
            if not updates:
                del self.node_update[alloc.node_id]

    def is_no_op(self) -> bool:
        return (not self.node_update and not self.node_allocation and self.deployment is None
                and not self.deployment_updates)


@dataclass(slots=True)
class PlanResult:
    node_update: dict[str, list[Allocation]] = field(default_factory=dict)
    node_allocation: dict[str, list[Allocation]] = field(default_factory=dict)
    deployment: Deployment | None = None
    deployment_updates: list[DeploymentStatusUpdate] = field(default_factory=list)
    refresh_index: int = 0  # >0: part of the plan did not fit; refresh past this index
    alloc_index: int = 0  # the index the committed part was written at

    def full_commit(self, plan: Plan) -> tuple[bool, int, int]:
        """(everything committed?, allocations expected, allocations committed)."""
        expected = sum(len(a) for a in plan.node_allocation.values())
        actual = sum(len(a) for a in self.node_allocation.values())
        return expected == actual, expected, actual
