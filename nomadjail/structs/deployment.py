"""A deployment tracks one version of a service job rolling out.

The scheduler creates one when a job version places or replaces allocations
under an ``update`` strategy; the state store counts its allocations' health
per group, and the servers' deployment watcher moves it along (promoting
canaries, failing it, reverting the job).
"""

from __future__ import annotations

from dataclasses import dataclass

from .alloc import ZERO_TIME
from .codec import field
from .consts import DeploymentStatus


@dataclass(slots=True)
class DeploymentState:
    auto_revert: bool = False
    auto_promote: bool = False
    progress_deadline: int = 0  # ns
    require_progress_by: str = ZERO_TIME
    promoted: bool = False
    placed_canaries: list[str] = field(default_factory=list)
    desired_canaries: int = 0
    desired_total: int = 0
    placed_allocs: int = 0
    healthy_allocs: int = 0
    unhealthy_allocs: int = 0


@dataclass(slots=True)
class Deployment:
    id: str = ""
    namespace: str = ""
    job_id: str = ""
    job_version: int = 0
    job_modify_index: int = 0
    job_spec_modify_index: int = 0
    job_create_index: int = 0
    is_multiregion: bool = False
    task_groups: dict[str, DeploymentState] = field(default_factory=dict)
    status: DeploymentStatus = DeploymentStatus.RUNNING
    status_description: str = ""
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0  # ns since the epoch
    modify_time: int = 0  # ns since the epoch; garbage collection ages deployments by it

    def requires_promotion(self) -> bool:
        """Running, with a group whose canaries wait for promotion (Nomad's RequiresPromotion)."""
        return self.status == DeploymentStatus.RUNNING and any(
            state.desired_canaries > 0 and not state.promoted
            for state in self.task_groups.values())

    def has_auto_promote(self) -> bool:
        """Running, and every group with canaries promotes them by itself."""
        return self.status == DeploymentStatus.RUNNING and bool(self.task_groups) and all(
            state.auto_promote for state in self.task_groups.values()
            if state.desired_canaries > 0)

    def active(self) -> bool:
        return self.status in (DeploymentStatus.RUNNING, DeploymentStatus.PAUSED,
                               DeploymentStatus.PENDING, DeploymentStatus.BLOCKED,
                               DeploymentStatus.UNBLOCKING, DeploymentStatus.INITIALIZING)
