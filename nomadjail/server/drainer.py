"""The node drainer (leader only): carries out drains, batch by batch.

Starting a drain only records the node's drain strategy (see
:meth:`.node_endpoint.NodeEndpoint.drain`); everything after is done here,
as Nomad's ``nomad/drainer`` does it.  Each tick takes a snapshot and lets
:func:`.drain_decisions.decide` say what to write:

* the next allocations to **mark for migration** -- one raft write with an
  evaluation per job, so its scheduler stops them and places replacements;
* the drains that are **complete** -- per node, one write that clears the
  strategy (the node stays ineligible), adds the ``Node drain complete``
  event and marks what must go last (system allocations; at the deadline,
  everything left).

Ticks come from the leader's housekeeping loop, every few hundred
milliseconds; a tick does nothing unless the nodes, allocations or jobs
changed since the last decision or a force deadline has come.  What a
tick writes is visible to the next one (the marks, the cleared strategy), so
a decision is never carried out twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..state import StateStore, Table
from ..structs import (
    DEFAULT_PRIORITY,
    SECOND,
    Allocation,
    DesiredTransition,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    JobType,
    NodeEvent,
    generate_uuid,
    now_ns,
    rfc3339,
)
from . import messages as m
from .drain_decisions import DEADLINE_REACHED, NODE_DRAIN_COMPLETE, DrainCompletion, decide

log = logging.getLogger(__name__)

Apply = Callable[[Any], tuple[int, Any]]

NODE_EVENT_DRAIN = "Drain"  # Nomad's NodeEventSubsystemDrain


class NodeDrainer:
    def __init__(self, store: StateStore, apply: Apply, *, clock: Callable[[], int] = now_ns):
        self.store = store
        self.apply = apply
        self.clock = clock
        self._decided_at: tuple[int, ...] | None = None  # table indexes of the last decision
        self._next_deadline = 0

    @property
    def decided_through(self) -> int:
        """The allocations index the last decision saw (0: none since the last reset)."""
        return self._decided_at[1] if self._decided_at is not None else 0

    def reset(self) -> None:
        """Forget what was decided (a new leader term): the next tick decides afresh."""
        self._decided_at = None
        self._next_deadline = 0

    def tick(self) -> None:
        snapshot = self.store.snapshot()
        now = self.clock()
        seen = (snapshot.index(Table.NODES), snapshot.index(Table.ALLOCS),
                snapshot.index(Table.JOBS))
        deadline_due = bool(self._next_deadline) and now >= self._next_deadline
        if seen == self._decided_at and not deadline_due:
            return
        decisions = decide(snapshot, now)
        if decisions.migrate:
            transitions, evals = mark_for_migration(decisions.migrate, now)
            log.info("drain: marking %d allocation(s) for migration", len(transitions))
            self.apply(m.AllocUpdateDesiredTransitionRequest(allocs=transitions, evals=evals))
        for done in decisions.complete:
            self.apply(completion_request(done, now))
            log.info("node %s: drain complete%s", done.node_id,
                     " (deadline reached)" if done.deadline_reached else "")
        self._decided_at = seen
        self._next_deadline = decisions.next_deadline


def mark_for_migration(allocs: list[Allocation], now: int
                       ) -> tuple[dict[str, DesiredTransition], list[Evaluation]]:
    """The desired transitions for ``allocs`` and one ``node-drain`` eval per job."""
    transitions: dict[str, DesiredTransition] = {}
    evals: dict[tuple[str, str], Evaluation] = {}
    for alloc in allocs:
        transitions[alloc.id] = DesiredTransition(migrate=True)
        key = (alloc.namespace, alloc.job_id)
        if key in evals:
            continue
        job = alloc.job
        evals[key] = Evaluation(
            id=generate_uuid(), namespace=alloc.namespace,
            priority=(job.priority if job is not None else None) or DEFAULT_PRIORITY,
            type=(job.type if job is not None else None) or JobType.SERVICE,
            triggered_by=EvalTrigger.NODE_DRAIN, job_id=alloc.job_id,
            status=EvalStatus.PENDING, create_time=now, modify_time=now)
    return transitions, list(evals.values())


def completion_request(done: DrainCompletion, now: int) -> m.NodeUpdateDrainRequest:
    """Clear the node's drain strategy; it stays ineligible, as in Nomad."""
    details = {DEADLINE_REACHED: "true"} if done.deadline_reached else {}
    transitions, evals = mark_for_migration(done.stop_last, now)
    return m.NodeUpdateDrainRequest(
        node_id=done.node_id, drain_strategy=None, mark_eligible=False, drain_completed=True,
        updated_at=now // SECOND, transitions=transitions, evals=evals,
        node_event=NodeEvent(message=NODE_DRAIN_COMPLETE, subsystem=NODE_EVENT_DRAIN,
                             details=details, timestamp=rfc3339(now)))
