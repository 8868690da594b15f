"""The deployment watcher (leader only): turns allocation health into a
deployment outcome, so ``job run`` can report "Deployment ... successful".

On every tick, for each running deployment it counts, per task group, the
allocations placed for it and how many the clients reported healthy or
unhealthy (``Allocation.deployment_status``), then writes the new counts and
status through raft:

* any unhealthy allocation -> ``failed`` ("Failed due to unhealthy allocations");
* every group has ``desired_total`` healthy allocations -> ``successful``
  ("Deployment completed successfully");
* otherwise it stays ``running`` with updated counts.

Cancelling deployments of older job versions is the scheduler's job (its
reconciler does it when a new version is placed).  Not yet here: canaries,
auto-revert, auto-promote and the progress deadline.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ..state import StateStore
from ..structs import Allocation, Deployment, DeploymentStatus
from . import messages as m

Apply = Callable[[Any], tuple[int, Any]]

DEPLOYMENT_SUCCESSFUL = "Deployment completed successfully"
DEPLOYMENT_UNHEALTHY = "Failed due to unhealthy allocations"


def assess(deployment: Deployment, allocs: list[Allocation]) -> Deployment:
    """The deployment with counts and status recomputed from its allocations."""
    groups = {name: dataclasses.replace(state, placed_allocs=0, healthy_allocs=0,
                                        unhealthy_allocs=0)
              for name, state in deployment.task_groups.items()}
    for alloc in allocs:
        state = groups.get(alloc.task_group)
        if state is None or alloc.deployment_id != deployment.id:
            continue
        state.placed_allocs += 1
        health = alloc.deployment_status.healthy if alloc.deployment_status else None
        if health is True:
            state.healthy_allocs += 1
        elif health is False:
            state.unhealthy_allocs += 1
    status, description = deployment.status, deployment.status_description
    if any(g.unhealthy_allocs for g in groups.values()):
        status, description = DeploymentStatus.FAILED, DEPLOYMENT_UNHEALTHY
    elif groups and all(g.healthy_allocs >= g.desired_total for g in groups.values()):
        status, description = DeploymentStatus.SUCCESSFUL, DEPLOYMENT_SUCCESSFUL
    return dataclasses.replace(deployment, task_groups=groups, status=status,
                               status_description=description)


class DeploymentWatcher:
    def __init__(self, store: StateStore, apply: Apply):
        self.store = store
        self.apply = apply

    def tick(self) -> None:
        snapshot = self.store.snapshot()
        for deployment in snapshot.deployments():
            if deployment.status != DeploymentStatus.RUNNING:
                continue
            allocs = snapshot.allocs_by_job(deployment.namespace, deployment.job_id)
            updated = assess(deployment, allocs)
            if (updated.status != deployment.status
                    or updated.task_groups != deployment.task_groups):
                self.apply(m.DeploymentUpsertRequest(deployment=updated))
