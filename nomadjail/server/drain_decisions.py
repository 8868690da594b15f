"""What the node drainer does next: pure decisions over one state snapshot.

A drain moves a node's allocations elsewhere *without* taking a service
down.  Nomad's rules (``nomad/drainer``), all decided here from a snapshot and
the clock, so they can be tested without servers:

* **service groups move in batches.**  A group may have at most
  ``migrate.max_parallel`` allocations in flight: marked for migration and
  not yet replaced by a healthy one.  The budget is counted over the whole
  group (Nomad's ``handleTaskGroup``)::

      healthy  = live allocations whose health is known (the client set
                 DeploymentStatus.Healthy) and not marked for migration
      to_mark  = healthy - (count - max_parallel)

  so the next batch is marked only once the replacements of the previous
  one have reported health.  A replacement that turned out unhealthy counts
  too, as in Nomad: its health is *known*, and the drain must not hang on
  it (the deadline would end it anyway).
* **batch allocations** are never marked before the deadline: they may
  finish on their own, and the drain waits for them.
* **system allocations go last**: once nothing but system allocations is left
  running, the drain is complete and they are marked in the same step
  (unless ``IgnoreSystemJobs``: then they stay).
* at the **deadline** (at once for ``-force``, never for ``-no-deadline``)
  everything still running is marked (system allocations too, unless ignored)
  and the drain is complete, with the event detail ``deadline_reached``.

Marking is all the drainer does: the job's scheduler then stops each marked
allocation and places its replacement (see ``scheduler/reconcile.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from ..structs import (
    Allocation,
    DrainStrategy,
    Job,
    JobType,
    Node,
    TaskGroup,
    parse_rfc3339,
)

NODE_DRAIN_COMPLETE = "Node drain complete"
DEADLINE_REACHED = "deadline_reached"  # NodeEvent detail key: "true" when the deadline ended it


class DrainView(Protocol):
    """The read-only state the decisions need (a :class:`~nomadjail.state.StateSnapshot`)."""

    def iter_nodes(self) -> Iterator[Node]: ...

    def allocs_by_node(self, node_id: str) -> list[Allocation]: ...

    def allocs_by_job(self, namespace: str, job_id: str) -> list[Allocation]: ...

    def job_by_id(self, namespace: str, job_id: str) -> Job | None: ...


@dataclass(slots=True)
class DrainCompletion:
    """A node whose drain is over: its strategy is cleared with a node event, and
    ``stop_last`` (its system allocations, or at the deadline everything left) is
    marked for migration in the same write."""

    node_id: str
    deadline_reached: bool = False
    stop_last: list[Allocation] = field(default_factory=list)


@dataclass(slots=True)
class DrainDecisions:
    migrate: list[Allocation] = field(default_factory=list)
    """Allocations to mark for migration now (the next batches of service groups)."""
    complete: list[DrainCompletion] = field(default_factory=list)
    next_deadline: int = 0
    """The earliest force deadline (ns) of the drains still going on; 0 if none."""


@dataclass(slots=True)
class GroupDrain:
    drain: list[Allocation] = field(default_factory=list)  # to mark now
    waiting: bool = False  # allocations of the group are still on a draining node


def deadline_reached(strategy: DrainStrategy, now: int) -> bool:
    """Deadline < 0 is ``-force`` (passed at once), 0 is ``-no-deadline`` (never);
    otherwise the server stored the ``ForceDeadline`` when the drain began."""
    if strategy.deadline < 0:
        return True
    if strategy.deadline == 0:
        return False
    deadline = parse_rfc3339(strategy.force_deadline)
    return deadline == 0 or now >= deadline


def job_type_of(alloc: Allocation, view: DrainView) -> str:
    """The type of the job the allocation runs (its own copy, else the stored job)."""
    job = alloc.job or view.job_by_id(alloc.namespace, alloc.job_id)
    return (job.type if job is not None else "") or JobType.SERVICE


def group_drain(group: TaskGroup, allocs: Iterable[Allocation], draining: set[str], *,
                batch: bool = False) -> GroupDrain:
    """Which of a group's allocations to mark now (Nomad's handleTaskGroup).

    ``allocs`` are all the group's allocations (any node, any status);
    ``draining`` the IDs of nodes being drained and not yet past their deadline.
    """
    result = GroupDrain()
    healthy = 0
    drainable: list[Allocation] = []
    for alloc in allocs:
        migrating = bool(alloc.desired_transition.migrate)
        if not batch and not alloc.terminal_status() and not migrating \
                and alloc.deployment_status is not None \
                and alloc.deployment_status.healthy is not None:
            healthy += 1
        if alloc.node_id not in draining or alloc.client_terminal():
            continue
        result.waiting = True
        if not batch and not migrating:
            drainable.append(alloc)
    if batch:
        return result  # batch work is left to finish until the deadline
    max_parallel = group.migrate.max_parallel if group.migrate is not None \
        and group.migrate.max_parallel is not None else 1
    to_mark = min(len(drainable), healthy - ((group.count or 0) - max_parallel))
    if to_mark > 0:
        result.drain = sorted(drainable, key=lambda a: (a.index, a.id))[:to_mark]
    return result


def job_drain(job: Job, allocs: list[Allocation], draining: set[str]) -> GroupDrain:
    """The allocations of ``job`` to mark now, group by group (Nomad's handleJob).

    Only groups with a ``migrate`` block are moved in batches (every service
    group has one after canonicalization); batch groups are only waited for."""
    batch = job.type == JobType.BATCH
    result = GroupDrain()
    for group in job.task_groups:
        if group.migrate is None and not batch:
            continue
        drain = group_drain(group, (a for a in allocs if a.task_group == group.name), draining,
                            batch=batch)
        result.drain.extend(drain.drain)
        result.waiting = result.waiting or drain.waiting
    return result


def node_done(allocs: Iterable[Allocation], view: DrainView) -> bool:
    """Whether everything but system allocations has stopped on the client
    (Nomad's drainingNode.IsDone): a migrating allocation counts until its
    client reports it stopped."""
    return all(a.client_terminal() for a in allocs
               if job_type_of(a, view) != JobType.SYSTEM)


def remaining_allocs(allocs: Iterable[Allocation], ignore_system: bool,
                     view: DrainView) -> list[Allocation]:
    """What is still to be stopped when a drain ends (Nomad's RemainingAllocs),
    less what is already marked."""
    return [a for a in allocs
            if not a.terminal_status() and not a.desired_transition.migrate
            and not (ignore_system and job_type_of(a, view) == JobType.SYSTEM)]


def decide(view: DrainView, now: int) -> DrainDecisions:
    """Everything the drainer should write now, for every draining node."""
    decisions = DrainDecisions()
    draining: dict[str, Node] = {}
    for node in view.iter_nodes():
        strategy = node.drain_strategy
        if strategy is None:
            continue
        if deadline_reached(strategy, now):
            decisions.complete.append(DrainCompletion(
                node.id, deadline_reached=True,
                stop_last=remaining_allocs(view.allocs_by_node(node.id),
                                           strategy.ignore_system_jobs, view)))
            continue
        draining[node.id] = node
        if strategy.deadline > 0:
            deadline = parse_rfc3339(strategy.force_deadline)
            if not decisions.next_deadline or deadline < decisions.next_deadline:
                decisions.next_deadline = deadline

    jobs: dict[tuple[str, str], None] = {}
    for node_id in draining:
        for alloc in view.allocs_by_node(node_id):
            if not alloc.terminal_status() and job_type_of(alloc, view) != JobType.SYSTEM:
                jobs[(alloc.namespace, alloc.job_id)] = None
    for namespace, job_id in sorted(jobs):
        job = view.job_by_id(namespace, job_id)
        if job is None or job.type == JobType.SYSTEM:
            continue  # purged: the scheduler stops its allocations
        decisions.migrate.extend(
            job_drain(job, view.allocs_by_job(namespace, job_id), set(draining)).drain)

    for node_id, node in draining.items():
        allocs = view.allocs_by_node(node_id)
        if node_done(allocs, view):
            assert node.drain_strategy is not None
            decisions.complete.append(DrainCompletion(
                node_id, stop_last=remaining_allocs(
                    allocs, node.drain_strategy.ignore_system_jobs, view)))
    return decisions
