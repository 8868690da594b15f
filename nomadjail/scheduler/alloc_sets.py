"""Sets of allocations and the pure filters the reconciler sorts them with.

Nomad's ``allocSet`` (scheduler/reconciler/allocs.go, filters.go): a task
group's allocations keyed by ID, and functions that split such a set by one
question each -- is it still live, where does its node stand, may it be
rescheduled, does it belong to this deployment.  Every filter returns NEW
sets and leaves its input alone, so the reconciler can ask several questions
of the same set, and every filter keeps its input's order (allocations are
visited in the order the set was built), so a plan comes out the same for the
same inputs.  Nothing here reads a clock: ``now`` is an argument.

How a live allocation is classified (:func:`filter_by_tainted`), first
match wins::

    terminal (server stopped it)        -> ignore
    terminal (finished on the client)   -> untainted (it still counts)
    node disconnected                   -> lost   (no ``disconnect`` block yet)
    marked for migration (drain)        -> migrate
    node not tainted, or ready again    -> untainted
    node gone or down                   -> lost
    otherwise (draining, not migrating) -> untainted
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from typing import NamedTuple

from ..structs import (
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    Deployment,
    Job,
    JobType,
    Node,
    NodeStatus,
)
from .reschedule import last_reschedule_failed, next_reschedule_time, ran_successfully

# A reschedule due within this long of now happens now (absorbs clock drift).
RESCHEDULE_WINDOW = 1_000_000_000

AllocSet = dict[str, Allocation]  # alloc ID -> allocation
AllocMatrix = dict[str, AllocSet]  # task group name -> its allocations
TaintedNodes = Mapping[str, Node | None]  # node ID -> node (None: the node is gone)


class TaintedSplit(NamedTuple):
    """A set split by where its allocations' nodes stand (:func:`filter_by_tainted`)."""

    untainted: AllocSet
    migrate: AllocSet
    lost: AllocSet
    ignore: AllocSet


class DelayedReschedule(NamedTuple):
    """A failed allocation that may be replaced, but not before ``reschedule_time``
    (ns since the epoch): it gets a follow-up evaluation at that time."""

    alloc: Allocation
    reschedule_time: int


class ReschedulableSplit(NamedTuple):
    """A set split by the reschedule policy (:func:`filter_by_rescheduleable`)."""

    untainted: AllocSet
    now: AllocSet
    later: list[DelayedReschedule]


# -- building and combining sets ------------------------------------------------------
def alloc_matrix(job: Job | None, allocs: Iterable[Allocation]) -> AllocMatrix:
    """Each group's allocations: the job's groups first, in the job's order
    (empty when they have none yet), then groups only allocations still name
    (removed from the job); within a group by allocation ID.  A fixed order
    keeps the reconciler's output reproducible."""
    matrix: AllocMatrix = {}
    if job is not None:
        for task_group in job.task_groups:
            matrix[task_group.name] = {}
    for alloc in sorted(allocs, key=lambda a: (a.task_group, a.id)):
        matrix.setdefault(alloc.task_group, {})[alloc.id] = alloc
    return matrix


def difference(allocs: AllocSet, *others: Container[str]) -> AllocSet:
    """``allocs`` without the IDs in any of ``others`` (sets or ID collections)."""
    return {i: a for i, a in allocs.items() if not any(i in other for other in others)}


def alloc_ids(allocs: Iterable[Allocation]) -> set[str]:
    return {alloc.id for alloc in allocs}


def name_order(allocs: AllocSet) -> list[Allocation]:
    """The allocations by name index, lowest first (ties keep the set's order)."""
    return sorted(allocs.values(), key=lambda a: a.index)


def highest_first(allocs: AllocSet, n: int, among: Container[str] | None = None
                  ) -> list[Allocation]:
    """Up to ``n`` allocations, highest name index first (ties keep the set's
    order); only those named in ``among`` when it is given.  Scale-downs
    remove these."""
    picked: list[Allocation] = []
    for alloc in sorted(allocs.values(), key=lambda a: -a.index):
        if len(picked) >= n:
            break
        if among is None or alloc.name in among:
            picked.append(alloc)
    return picked


# -- filters ----------------------------------------------------------------------
def filter_by_terminal(allocs: AllocSet) -> AllocSet:
    """The allocations that still hold resources (neither stopped nor finished)."""
    return {i: a for i, a in allocs.items() if not a.terminal_status()}


def filter_server_terminal_allocs(allocs: AllocSet) -> AllocSet:
    """Without the allocations the server already stopped -- except batch ones
    not marked for rescheduling: finished batch work stays done and must still
    count, or a completed allocation would be placed again."""
    kept: AllocSet = {}
    for alloc_id, alloc in allocs.items():
        job_type = alloc.job.type if alloc.job is not None else None
        if not alloc.server_terminal() or (job_type == JobType.BATCH
                                           and not alloc.desired_transition.reschedule):
            kept[alloc_id] = alloc
    return kept


def filter_old_terminal_allocs(allocs: AllocSet, job: Job) -> tuple[AllocSet, AllocSet]:
    """(the rest, finished allocations of an older version of ``job``).

    For batch jobs: work an older version finished is history and must
    neither count toward the new version nor be replaced."""
    keep: AllocSet = {}
    ignore: AllocSet = {}
    for alloc_id, alloc in allocs.items():
        old_job = alloc.job
        older = old_job is not None and (old_job.version < job.version
                                         or old_job.create_index < job.create_index)
        (ignore if older and alloc.terminal_status() else keep)[alloc_id] = alloc
    return keep, ignore


def filter_by_deployment(allocs: AllocSet, deployment_id: str) -> tuple[AllocSet, AllocSet]:
    """(allocations of deployment ``deployment_id``, the others)."""
    match: AllocSet = {}
    other: AllocSet = {}
    for alloc_id, alloc in allocs.items():
        (match if alloc.deployment_id == deployment_id else other)[alloc_id] = alloc
    return match, other


def filter_by_tainted(allocs: AllocSet, tainted: TaintedNodes) -> TaintedSplit:
    """Split by the allocation's own state and its node's (table in the module doc).

    ``tainted`` holds only the nodes that are gone (None), down, disconnected
    or draining (see :func:`tainted_nodes`); an allocation whose node is not
    in it runs where it should."""
    split = TaintedSplit({}, {}, {}, {})
    for alloc_id, alloc in allocs.items():
        if alloc.terminal_status():
            (split.ignore if alloc.server_terminal() else split.untainted)[alloc_id] = alloc
            continue
        node_tainted = alloc.node_id in tainted
        node = tainted.get(alloc.node_id)
        if node is not None and node.status == NodeStatus.DISCONNECTED:
            split.lost[alloc_id] = alloc  # no disconnect block support yet: lost at once
        elif alloc.desired_transition.migrate:
            split.migrate[alloc_id] = alloc
        elif not node_tainted or (node is not None and node.status == NodeStatus.READY):
            split.untainted[alloc_id] = alloc
        elif node is None or node.terminal_status():
            split.lost[alloc_id] = alloc
        else:
            split.untainted[alloc_id] = alloc
    return split


def should_filter(alloc: Allocation, batch: bool) -> tuple[bool, bool]:
    """(the allocation counts toward its group as it is, ignore it altogether).

    Neither means: it failed and is a candidate for rescheduling.  A batch
    allocation that finished successfully counts (its work is done); a service
    one that completed or was lost does not (a service must keep running), and
    one the server stopped is ignored unless its replacement found no node."""
    if batch:
        if alloc.desired_transition.reschedule:
            return False, False
        if alloc.server_terminal():
            stopped = alloc.desired_status == AllocDesiredStatus.STOP
            if stopped and ran_successfully(alloc):
                return True, False
            if stopped and last_reschedule_failed(alloc):
                return False, False
            return False, True
        if alloc.client_status == AllocClientStatus.FAILED:
            return False, False
        return True, False
    if alloc.server_terminal():
        return False, not last_reschedule_failed(alloc)
    if alloc.client_status in (AllocClientStatus.COMPLETE, AllocClientStatus.LOST):
        return False, True  # a service must keep running: replace, don't count
    return False, False


def filter_by_rescheduleable(allocs: AllocSet, *, batch: bool, now: int, eval_id: str,
                             deployment: Deployment | None) -> ReschedulableSplit:
    """Split by the group's reschedule policy at ``now``.

    ``untainted`` counts toward the group as it is (running, finished batch
    work, or failed but not replaceable yet); ``now`` is to be replaced in this
    evaluation; ``later`` (also in ``untainted``) may be replaced at a known
    time and has no follow-up evaluation yet.  A failure inside ``deployment``
    while it runs waits for the deployment watcher, which either marks it for
    rescheduling or fails the rollout.  Allocations already replaced, and ones
    :func:`should_filter` ignores, are left out."""
    split = ReschedulableSplit({}, {}, [])
    for alloc_id, alloc in allocs.items():
        if alloc.next_allocation and alloc.terminal_status():
            continue  # already replaced
        is_untainted, ignore = should_filter(alloc, batch)
        if is_untainted:
            split.untainted[alloc_id] = alloc
            continue
        if ignore:
            continue
        if (deployment is not None and alloc.deployment_id == deployment.id
                and deployment.active() and not alloc.desired_transition.reschedule):
            split.untainted[alloc_id] = alloc
            continue
        when, eligible = next_reschedule_time(alloc)
        force = bool(alloc.desired_transition.force_reschedule) and alloc.client_terminal()
        if force or (eligible and (alloc.followup_eval_id == eval_id
                                   or when - now <= RESCHEDULE_WINDOW)):
            split.now[alloc_id] = alloc
            continue
        split.untainted[alloc_id] = alloc
        if eligible and not alloc.followup_eval_id:
            split.later.append(DelayedReschedule(alloc, when))
    return split


# -- the nodes that taint allocations ---------------------------------------------------
def tainted_nodes(nodes_by_id: Callable[[str], Node | None], allocs: Iterable[Allocation]
                  ) -> dict[str, Node | None]:
    """Nodes of ``allocs`` that are gone (None), down, disconnected or draining:
    the input :func:`filter_by_tainted` classifies against."""
    tainted: dict[str, Node | None] = {}
    seen: set[str] = set()
    for alloc in allocs:
        if alloc.node_id in seen:
            continue
        seen.add(alloc.node_id)
        node = nodes_by_id(alloc.node_id)
        if node is None:
            tainted[alloc.node_id] = None
        elif (node.status in (NodeStatus.DOWN, NodeStatus.DISCONNECTED)
              or node.drain_strategy is not None or node.drain):
            tainted[alloc.node_id] = node
    return tainted
