"""Everything one planning attempt shares: the state it reads, the plan it
builds, the clock value and random generator it was given, and each node's
proposed usage.

All changes to the plan go through :class:`EvalContext` so the usage of the
nodes involved stays true: a placement is added to its node's sums, a stop
(or the undoing of one) makes the node's sums be recomputed on next use.
"""

from __future__ import annotations

import random

from ..structs import Allocation, Node, Plan, parse_port_ranges
from .interfaces import State
from .usage import NodeFacts, NodeUsage


def random_uuid(rng: random.Random) -> str:
    """A version 4 UUID drawn from ``rng``: IDs are as reproducible as the eval."""
    text = "%032x" % ((rng.getrandbits(128) & ~(0xF000 << 64) & ~(0xC << 60))
                      | (0x4000 << 64) | (0x8 << 60))
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class EvalContext:
    __slots__ = ("state", "plan", "now", "rng", "usages", "_facts", "_reserved_ports", "placed")

    def __init__(self, state: State, plan: Plan, now: int, rng: random.Random):
        self.state = state
        self.plan = plan
        self.now = now
        self.rng = rng
        # Read-only for callers; changed only through the methods below.
        self.usages: dict[str, NodeUsage] = {}
        self._facts: dict[str, NodeFacts] = {}
        self._reserved_ports: dict[str, frozenset[int]] = {}
        # New allocations in placement order (distinct_property counts them).
        self.placed: list[Allocation] = []

    def new_id(self) -> str:
        return random_uuid(self.rng)

    # -- proposed usage -----------------------------------------------------------
    def usage(self, node: Node) -> NodeUsage:
        """``node``'s live allocations minus the plan's stops plus its placements."""
        usage = self.usages.get(node.id)
        if usage is None:
            usage = self.usages[node.id] = self._build_usage(node)
        return usage

    def _build_usage(self, node: Node) -> NodeUsage:
        node_id = node.id
        facts = self._facts.get(node_id)
        if facts is None:
            facts = self._facts[node_id] = NodeFacts(node, self._reserved(node))
        existing = self.state.allocs_by_node(node_id)
        planned_list = self.plan.node_allocation.get(node_id)
        if not existing and not planned_list:
            return NodeUsage(facts)
        stopping = {a.id for a in self.plan.node_update.get(node_id, ())}
        planned = {a.id: a for a in planned_list or ()}
        live = [a for a in existing
                if a.id not in stopping and a.id not in planned and not a.client_terminal()]
        return NodeUsage(facts, [*live, *planned.values()])

    def _reserved(self, node: Node) -> frozenset[int]:
        spec = node.reserved_resources.networks.reserved_host_ports
        reserved = self._reserved_ports.get(spec)
        if reserved is None:
            try:
                reserved = frozenset(parse_port_ranges(spec))
            except ValueError:
                reserved = frozenset()  # the client validates its own config
            self._reserved_ports[spec] = reserved
        return reserved

    # -- plan edits ---------------------------------------------------------------
    def stop(self, alloc: Allocation, description: str, client_status: str = "",
             followup_eval_id: str = "") -> None:
        self.plan.append_stopped_alloc(alloc, description, client_status, followup_eval_id)
        self.usages.pop(alloc.node_id, None)

    def undo_stop(self, alloc: Allocation) -> None:
        """Take back the most recent stop of ``alloc``."""
        self.plan.pop_update(alloc)
        self.usages.pop(alloc.node_id, None)

    def place(self, alloc: Allocation) -> None:
        """Add a new allocation to the plan."""
        self.plan.append_alloc(alloc)
        self.placed.append(alloc)
        usage = self.usages.get(alloc.node_id)
        if usage is not None:
            usage.add(alloc)

    def update(self, alloc: Allocation) -> None:
        """Add a changed copy of an existing allocation to the plan."""
        self.plan.append_alloc(alloc)
        self.usages.pop(alloc.node_id, None)

    def withdraw_stop(self, alloc: Allocation) -> None:
        """Remove every stop of ``alloc`` from the plan, wherever it sits."""
        updates = self.plan.node_update.get(alloc.node_id)
        if updates:
            updates[:] = [a for a in updates if a.id != alloc.id]
            if not updates:
                del self.plan.node_update[alloc.node_id]
        self.usages.pop(alloc.node_id, None)

    def stopped_copy(self, alloc_id: str, node_id: str) -> Allocation | None:
        """The plan's stop entry for ``alloc_id`` (the plan's own copy, safe to change)."""
        for stopped in self.plan.node_update.get(node_id, ()):
            if stopped.id == alloc_id:
                return stopped
        return None
