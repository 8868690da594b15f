"""Can an allocation take a new job version where it runs?

Yes when nothing destructive changed (see task_changes.py), its node still
belongs to the job's datacenters and pool, and the node has room for the new
resources once the allocation's current ones are discounted.  The updated
copy keeps its node, its ports and its networks: only what may change in
place (CPU, memory, the job version) is recomputed.
"""

from __future__ import annotations

import dataclasses

from ..structs import AllocatedResources, AllocatedSharedResources, Allocation, Job, TaskGroup
from .constraints import datacenter_matcher
from .context import EvalContext
from .descriptions import ALLOC_IN_PLACE
from .reconcile import UpdateKind
from .stack import PlacementStack
from .task_changes import destructive_change

NODE_POOL_ALL = "all"


def in_place_update(ctx: EvalContext, stack: PlacementStack, eval_id: str,
                    existing: Allocation, job: Job, group: TaskGroup
                    ) -> tuple[UpdateKind, Allocation | None]:
    """(UpdateKind, the updated copy when the kind is in-place)."""
    old_job = existing.job
    if old_job is not None and old_job.job_modify_index == job.job_modify_index:
        return UpdateKind.IGNORE, None
    if old_job is None or destructive_change(old_job, job, group.name):
        return UpdateKind.DESTRUCTIVE, None
    if existing.terminal_status():
        return UpdateKind.IGNORE, None  # finished work: nothing to tell the client
    node = ctx.state.node_by_id(existing.node_id)
    if node is None or not datacenter_matcher(job.datacenters)(node.datacenter):
        return UpdateKind.DESTRUCTIVE, None
    if job.node_pool not in (NODE_POOL_ALL, node.node_pool):
        return UpdateKind.DESTRUCTIVE, None
    # Discount the allocation's current resources while checking the new ones.
    ctx.stop(existing, ALLOC_IN_PLACE)
    option = stack.select_on(node, group)
    ctx.undo_stop(existing)
    if option is None:
        return UpdateKind.DESTRUCTIVE, None
    old_resources = existing.allocated_resources or AllocatedResources()
    for task_name, resources in option.task_resources.items():
        old_task = old_resources.tasks.get(task_name)
        resources.networks = list(old_task.networks) if old_task is not None else []
    disk = (group.ephemeral_disk.size_mb or 0) if group.ephemeral_disk else 0
    updated = dataclasses.replace(
        existing, eval_id=eval_id, job=job,
        allocated_resources=AllocatedResources(
            tasks=option.task_resources,
            shared=AllocatedSharedResources(disk_mb=disk,
                                            networks=list(old_resources.shared.networks),
                                            ports=list(old_resources.shared.ports))),
        metrics=existing.metrics, modify_time=ctx.now)
    return UpdateKind.IN_PLACE, updated
