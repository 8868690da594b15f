"""How writes to allocations move a deployment along (Nomad's updateDeploymentWithAlloc
and updateDeploymentStatusImpl), as pure functions of the objects and the raft index.

A deployment's per-group counts are kept by the state store, in the same
transaction as the allocation change that causes them, so every replica
derives the same counts from the same log and nobody has to recount:

* an allocation newly placed for the deployment (or moved into it by an
  in-place update) counts as *placed*, and the first one starts the group's
  progress clock: ``RequireProgressBy = alloc.ModifyTime + progress_deadline``;
* the first health a client reports counts it *healthy* or *unhealthy*;
  healthy -> unhealthy moves it over; each healthy report moves the progress
  clock forward to ``health timestamp + progress_deadline``.

* a canary placed for the deployment is recorded in its group's
  ``PlacedCanaries``;
* promoting a deployment (:func:`plan_promotion`) marks its groups promoted,
  restarts their progress clocks and turns its healthy canaries into
  ordinary allocations -- refused unless every group has all its canaries
  healthy.

Every time used here travels in the raft message (allocation modify times,
the client's health timestamp, a status update's ``UpdatedAt``, the
promotion's ``PromotedAt``): nothing reads the clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from ..structs import (
    Allocation,
    AllocDeploymentStatus,
    Deployment,
    DeploymentStatus,
    DeploymentStatusUpdate,
    parse_rfc3339,
    rfc3339,
)

# Nomad's DeploymentStatusDescriptionRunning: a promoted deployment is just running.
DEPLOYMENT_RUNNING = "Deployment is running"


def _unset(time_text: str) -> bool:
    """Go's zero time (or nothing): cheaper than parsing, on the per-alloc path."""
    return not time_text or time_text.startswith("0001-01-01")


def copy_deployment(deployment: Deployment, index: int, modify_time: int) -> Deployment:
    """A copy safe to change, group states included, stamped with ``index``."""
    return dataclasses.replace(
        deployment, modify_index=index, modify_time=modify_time or deployment.modify_time,
        task_groups={name: dataclasses.replace(state, placed_canaries=list(state.placed_canaries))
                     for name, state in deployment.task_groups.items()})


def health_delta(alloc: Allocation, existing: Allocation | None) -> tuple[int, int, int]:
    """(placed, healthy, unhealthy) changes ``alloc`` makes to its deployment's group."""
    if existing is None or existing.deployment_id != alloc.deployment_id:
        return 1, 0, 0
    before = existing.deployment_status.healthy if existing.deployment_status else None
    after = alloc.deployment_status.healthy if alloc.deployment_status else None
    if after is None:
        return 0, 0, 0
    if before is None:
        return (0, 1, 0) if after else (0, 0, 1)
    if before and not after:
        return 0, -1, 1
    return 0, 0, 0


def account_alloc(deployment: Deployment, alloc: Allocation, existing: Allocation | None,
                  index: int, *, copied: bool) -> Deployment | None:
    """The deployment after ``alloc`` replaced ``existing``; None when nothing changed.

    ``copied`` says ``deployment`` is already this transaction's own copy (so
    several allocations of one plan update one copy instead of one each).
    """
    if alloc.task_group not in deployment.task_groups:
        return None  # the group is not part of this rollout
    placed, healthy, unhealthy = health_delta(alloc, existing)
    if not (placed or healthy or unhealthy):
        return None
    if not copied:
        deployment = copy_deployment(deployment, index, alloc.modify_time)
    else:
        deployment.modify_time = alloc.modify_time or deployment.modify_time
    state = deployment.task_groups[alloc.task_group]
    state.placed_allocs += placed
    state.healthy_allocs += healthy
    state.unhealthy_allocs += unhealthy
    status = alloc.deployment_status
    if status is not None and status.canary and alloc.id not in state.placed_canaries:
        state.placed_canaries.append(alloc.id)
    if state.progress_deadline:
        if placed and _unset(state.require_progress_by):
            # Modify time rather than create time: an in-place update can move an
            # existing allocation into a new deployment.
            state.require_progress_by = rfc3339(alloc.modify_time + state.progress_deadline)
        elif healthy > 0 and alloc.deployment_status is not None:
            moved = parse_rfc3339(alloc.deployment_status.timestamp) + state.progress_deadline
            if moved > parse_rfc3339(state.require_progress_by):
                state.require_progress_by = rfc3339(moved)
    return deployment


def with_status(deployment: Deployment, update: DeploymentStatusUpdate,
                index: int) -> Deployment:
    """The deployment with ``update``'s status applied.  A running or paused
    deployment gets a fresh progress deadline from ``update.updated_at``
    (resuming a paused rollout must not fail it at once)."""
    updated = copy_deployment(deployment, index, update.updated_at)
    updated.status = update.status or updated.status
    updated.status_description = update.status_description
    if update.updated_at and update.status in (DeploymentStatus.RUNNING,
                                               DeploymentStatus.PAUSED):
        for state in updated.task_groups.values():
            if state.progress_deadline:
                state.require_progress_by = rfc3339(update.updated_at
                                                    + state.progress_deadline)
    return updated


@dataclasses.dataclass(slots=True)
class Promotion:
    """What promoting a deployment changes (:func:`plan_promotion`)."""

    deployment: Deployment  # the promoted copy
    canaries: dict[str, AllocDeploymentStatus]  # alloc ID -> its status, no longer a canary
    errors: list[str]  # non-empty: the promotion is refused, nothing changes


def plan_promotion(deployment: Deployment, allocs: Iterable[Allocation], *,
                   groups: list[str] | None, promoted_at: int, index: int) -> Promotion:
    """Promote ``groups`` (None: all of them) of ``deployment``, given its
    allocations (Nomad's UpdateDeploymentPromotion).

    Every promoted group with canaries must have as many healthy, live canaries
    as it wants (``Task group "web" has 0/1 healthy allocations``); a group the
    deployment does not know is an error too."""
    errors = [f'Task group "{name}" is not part of deployment "{deployment.id}"'
              for name in groups or () if name not in deployment.task_groups]
    chosen = set(deployment.task_groups) if groups is None else set(groups)
    canary_ids = {alloc_id for state in deployment.task_groups.values()
                  for alloc_id in state.placed_canaries}
    healthy: dict[str, int] = {}
    promotable: dict[str, AllocDeploymentStatus] = {}
    for alloc in allocs:
        status = alloc.deployment_status
        if (alloc.id not in canary_ids or alloc.task_group not in chosen
                or alloc.terminal_status() or status is None or status.healthy is not True):
            continue
        healthy[alloc.task_group] = healthy.get(alloc.task_group, 0) + 1
        promotable[alloc.id] = dataclasses.replace(status, canary=False)
    for name in sorted(chosen & set(deployment.task_groups)):
        need = deployment.task_groups[name].desired_canaries
        if need and healthy.get(name, 0) < need:
            errors.append(f'Task group "{name}" has {healthy.get(name, 0)}/{need} healthy '
                          "allocations")
    promoted = copy_deployment(deployment, index, promoted_at)
    for name in chosen & set(promoted.task_groups):
        state = promoted.task_groups[name]
        if state.progress_deadline and not _unset(state.require_progress_by):
            state.require_progress_by = rfc3339(promoted_at + state.progress_deadline)
        state.promoted = True
    if not promoted.requires_promotion() and promoted.status == DeploymentStatus.RUNNING:
        promoted.status_description = DEPLOYMENT_RUNNING
    return Promotion(promoted, promotable, errors)


def alloc_health_errors(deployment: Deployment, allocs: Mapping[str, Allocation | None],
                        healthy: list[str], unhealthy: list[str]) -> list[str]:
    """Why the health of these allocations cannot be set for ``deployment``
    (Nomad's UpdateDeploymentAllocHealth checks), every problem at once;
    ``allocs`` maps each ID to the stored allocation, None when unknown."""
    errors = []
    if not healthy and not unhealthy:
        errors.append("must specify at least one healthy/unhealthy allocation ID")
    for alloc_id in sorted(set(healthy) & set(unhealthy)):
        errors.append(f'alloc "{alloc_id}" is listed as both healthy and unhealthy')
    for alloc_id in dict.fromkeys([*healthy, *unhealthy]):
        alloc = allocs.get(alloc_id)
        if alloc is None:
            errors.append(f'unknown alloc "{alloc_id}"')
        elif alloc.deployment_id != deployment.id:
            errors.append(f'alloc "{alloc_id}" is not part of deployment "{deployment.id}"')
    return errors
