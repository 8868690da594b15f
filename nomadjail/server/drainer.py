"""The node drainer (leader only): finishes drains that have run their course.

Starting a drain already marks the node's service allocations for migration
(see :func:`.node_endpoint.migrations_for_drain`).  On every tick the drainer
looks at each draining node and

* once its force deadline has passed, marks what is left (batch
  allocations too) for migration;
* once nothing but system allocations is left running, ends the drain: the
  drain strategy is cleared and the node stays ineligible, as in Nomad
  ("Node drain complete").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..state import StateStore
from ..structs import SECOND, JobType, NodeEvent, now_ns, parse_rfc3339, rfc3339
from . import messages as m
from .node_endpoint import migrations_for_drain

Apply = Callable[[Any], tuple[int, Any]]


class NodeDrainer:
    def __init__(self, store: StateStore, apply: Apply, *, clock: Callable[[], int] = now_ns):
        self.store = store
        self.apply = apply
        self.clock = clock

    def tick(self) -> None:
        snapshot = self.store.snapshot()
        now = self.clock()
        for node in snapshot.nodes():
            strategy = node.drain_strategy
            if strategy is None:
                continue
            remaining = []
            for alloc in snapshot.allocs_by_node(node.id):
                if alloc.terminal_status():
                    continue
                job = alloc.job or snapshot.job_by_id(alloc.namespace, alloc.job_id)
                if job is not None and job.type in (JobType.SYSTEM, JobType.SYSBATCH):
                    continue
                remaining.append(alloc)
            if not remaining:
                self.apply(m.NodeUpdateDrainRequest(
                    node_id=node.id, drain_strategy=None, mark_eligible=False,
                    updated_at=now // SECOND,
                    node_event=NodeEvent(message="Node drain complete", subsystem="Drain",
                                         timestamp=rfc3339(now))))
                continue
            deadline = parse_rfc3339(strategy.force_deadline)
            if deadline and now >= deadline:
                transitions, evals = migrations_for_drain(snapshot, node, strategy, force=True,
                                                          now=now)
                if transitions:
                    self.apply(m.AllocUpdateDesiredTransitionRequest(allocs=transitions,
                                                                     evals=evals))
