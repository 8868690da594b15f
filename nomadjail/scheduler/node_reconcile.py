"""The reconciler for system and sysbatch jobs: one allocation per node.

A system job wants each of its task groups on every ready node of its
datacenters and pool that passes its constraints; the allocation for group
``g`` on any node is named ``job.g[0]``.  This pure diff compares, node by
node, what runs with what should: place where missing, stop where no longer
wanted, update where the job changed, and treat allocations on down or gone
nodes as lost.  (Feasibility is checked later, while placing.)
"""

from __future__ import annotations

import dataclasses

from ..structs import Allocation, Job, Node, NodeStatus, TaskGroup, alloc_name
from .reschedule import ran_successfully


@dataclasses.dataclass(slots=True)
class NodeAlloc:
    """One (node, group) slot: its name, group and current allocation, if any."""

    name: str
    group: TaskGroup | None
    node_id: str
    alloc: Allocation | None = None


@dataclasses.dataclass(slots=True)
class NodeReconcileResult:
    place: list[NodeAlloc] = dataclasses.field(default_factory=list)
    update: list[NodeAlloc] = dataclasses.field(default_factory=list)
    migrate: list[NodeAlloc] = dataclasses.field(default_factory=list)
    stop: list[NodeAlloc] = dataclasses.field(default_factory=list)
    lost: list[NodeAlloc] = dataclasses.field(default_factory=list)
    ignore: list[NodeAlloc] = dataclasses.field(default_factory=list)


def latest_terminal_by_node(allocs: list[Allocation]) -> dict[tuple[str, str], Allocation]:
    """The newest finished allocation per (node, name)."""
    latest: dict[tuple[str, str], Allocation] = {}
    for alloc in allocs:
        key = (alloc.node_id, alloc.name)
        known = latest.get(key)
        if known is None or alloc.create_index > known.create_index:
            latest[key] = alloc
    return latest


def _job_changed(job: Job, alloc: Allocation) -> bool:
    return alloc.job is None or alloc.job.job_modify_index != job.job_modify_index


def reconcile_nodes(job: Job | None, ready: list[Node], not_ready: set[str],
                    tainted: dict[str, Node | None], live: list[Allocation],
                    terminal: dict[tuple[str, str], Allocation], *,
                    sysbatch: bool) -> NodeReconcileResult:
    required: dict[str, TaskGroup] = {}
    if job is not None and not job.stop:
        required = {alloc_name(job.id, g.name, 0): g for g in job.task_groups}
    by_node: dict[str, list[Allocation]] = {}
    for alloc in live:
        by_node.setdefault(alloc.node_id, []).append(alloc)
    eligible = {node.id for node in ready}
    for node in ready:
        by_node.setdefault(node.id, [])
    result = NodeReconcileResult()
    for node_id, allocs in by_node.items():
        existing: set[str] = set()
        for alloc in allocs:
            existing.add(alloc.name)
            group = required.get(alloc.name)
            slot = NodeAlloc(alloc.name, group, node_id, alloc)
            if group is None or job is None:
                result.stop.append(slot)
            elif alloc.desired_transition.migrate:
                result.migrate.append(slot)
            elif node_id in tainted:
                tainted_node = tainted[node_id]
                if sysbatch and ran_successfully(alloc):
                    result.ignore.append(slot)
                elif tainted_node is None or tainted_node.status in (NodeStatus.DOWN,
                                                                     NodeStatus.DISCONNECTED):
                    result.lost.append(slot)
                else:
                    result.ignore.append(slot)  # draining: the drainer migrates it
            elif node_id in not_ready:
                (result.stop if _job_changed(job, alloc) else result.ignore).append(slot)
            elif node_id not in eligible:
                result.stop.append(slot)  # left the job's datacenters or pool
            elif _job_changed(job, alloc):
                result.update.append(slot)
            else:
                result.ignore.append(slot)
        assert job is not None or not required
        for name, group in required.items():
            if name in existing:
                continue
            finished = terminal.get((node_id, name))
            if sysbatch and finished is not None:
                # Batch work done on this node is not redone unless the job changed.
                assert job is not None
                slot = NodeAlloc(name, group, node_id, finished)
                (result.update if _job_changed(job, finished) else result.ignore).append(slot)
                continue
            if node_id in tainted or node_id not in eligible:
                continue
            result.place.append(NodeAlloc(name, group, node_id, finished))
    return result
