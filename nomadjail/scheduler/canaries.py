"""Canaries: a destructive update tried on a few allocations before the rest.

With ``update { canary = N }`` a job change that would replace allocations
first places N *canaries* of the new version beside the old allocations,
which keep running.  The deployment then waits: nothing else of the group is
replaced until the canaries are promoted (by an operator, or by the
deployment watcher once every canary is healthy and ``auto_promote`` is set).
After promotion the canaries stay -- each took the name of an allocation it
replaces, and that one is stopped -- and the rolling update goes on with
``max_parallel``.  A deployment that fails, or is superseded by a newer job
version, before promotion has its canaries stopped.

These are the pure questions the reconciler asks about canaries (Nomad's
cancelUnneededCanaries, requiresCanaries and the canary side of
isDeploymentComplete); the reconciler turns the answers into stops and
placements.
"""

from __future__ import annotations

from typing import NamedTuple

from ..structs import Allocation, Deployment, DeploymentState, DeploymentStatus, TaskGroup
from .alloc_sets import AllocSet, TaintedNodes, difference, filter_by_tainted


class CanarySplit(NamedTuple):
    """A group's allocations sorted by what canaries need (:func:`split_canaries`)."""

    kept: AllocSet  # still considered by the reconciler (the canaries included)
    canaries: AllocSet  # the current deployment's canaries, where they run
    cancelled: AllocSet  # canaries never to be promoted: stop
    migrating: AllocSet  # current canaries on a draining node: stop (a new one is placed)
    lost: AllocSet  # current canaries on a lost node: stop as lost


def canaries_to_cancel(old: Deployment | None, current: Deployment | None) -> set[str]:
    """IDs of canaries that will never be promoted: those of an older
    deployment, and of the current one once it failed, unless promoted."""
    ids: set[str] = set()
    doomed = [old] if old is not None else []
    if current is not None and current.status == DeploymentStatus.FAILED:
        doomed.append(current)
    for deployment in doomed:
        for state in deployment.task_groups.values():
            if not state.promoted:
                ids.update(state.placed_canaries)
    return ids


def placed_canaries(allocs: AllocSet, deployment: Deployment | None) -> AllocSet:
    """The allocations of ``allocs`` the current deployment placed as canaries
    (of any of its groups, as Nomad collects them)."""
    if deployment is None:
        return {}
    ids = {alloc_id for state in deployment.task_groups.values()
           for alloc_id in state.placed_canaries}
    return {alloc_id: alloc for alloc_id, alloc in allocs.items() if alloc_id in ids}


def split_canaries(allocs: AllocSet, cancel: set[str], deployment: Deployment | None,
                   tainted: TaintedNodes) -> CanarySplit:
    """Sort out ``allocs`` (one group's) for canaries (Nomad's
    cancelUnneededCanaries): the ``cancel`` ones go, and the current
    deployment's canaries on a draining or lost node go too -- they are not
    moved, a new canary is placed instead."""
    cancelled = {i: a for i, a in allocs.items() if i in cancel}
    kept = difference(allocs, cancelled)
    split = filter_by_tainted(placed_canaries(kept, deployment), tainted)
    return CanarySplit(difference(kept, split.migrate, split.lost), split.untainted,
                       cancelled, split.migrate, split.lost)


def is_canarying(state: DeploymentState | None) -> bool:
    """The group's rollout waits for its canaries to be promoted."""
    return state is not None and state.desired_canaries != 0 and not state.promoted


def requires_canaries(group: TaskGroup, state: DeploymentState | None, destructive: AllocSet,
                      canaries: AllocSet) -> bool:
    """More canaries must be placed: the update replaces allocations, fewer
    canaries than wanted exist and they were not promoted yet."""
    wanted = group.update.canary if group.update is not None else 0
    promoted = state is not None and state.promoted
    return bool(destructive) and len(canaries) < (wanted or 0) and not promoted


def is_canary(alloc: Allocation) -> bool:
    return alloc.deployment_status is not None and alloc.deployment_status.canary


def group_promoted_or_done(state: DeploymentState, healthy: int) -> bool:
    """Nomad's isDeploymentComplete health test for one group: enough healthy
    allocations, and promoted if it had canaries."""
    if healthy < max(state.desired_total, state.desired_canaries):
        return False
    return state.desired_canaries == 0 or state.promoted
