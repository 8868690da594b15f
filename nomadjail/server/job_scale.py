"""Scaling a task group (Nomad's Job.Scale and Job.ScaleStatus), and the
scaling policies stored inside jobs (Nomad's Scaling.ListPolicies/GetPolicy).

A scale is an ordinary registration of the job with one group's count changed:
a new job version and an evaluation, so the scheduler, deployments and job
history treat it exactly like ``job run`` with an edited count.  Everything is
checked before anything is written, with Nomad's messages and status codes.

Not kept (yet): Nomad's scaling *events* (a per-group history of scale
requests); ``Events`` in the status is always empty and a request without a
count (an autoscaler reporting an error or a note) writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..state import StateSnapshot, StateStore
from ..structs import (
    AllocClientStatus,
    AllocDesiredStatus,
    BadRequest,
    EvalTrigger,
    JobType,
    NotFound,
    ScalingPolicy,
    ScalingTarget,
)
from ..structs.scaling import job_policies
from .job_endpoint import JobEndpoint
from .results import JobRegisterResult


@dataclass(slots=True)
class ScalingRequest:
    """Nomad's ScalingRequest body (``POST /v1/job/<id>/scale``)."""

    count: int | None = None
    target: dict[str, str] = field(default_factory=dict)
    message: str = ""
    error: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    policy_override: bool = False
    job_modify_index: int = 0  # > 0: only scale while the job is still at this index


class ScaleEndpoint:
    def __init__(self, store: StateStore, jobs: JobEndpoint):
        self.store = store
        self.jobs = jobs

    def scale(self, namespace: str, job_id: str, request: ScalingRequest) -> JobRegisterResult:
        """Set one group's count through a normal registration (Nomad's Job.Scale)."""
        group_name = request.target.get(ScalingTarget.GROUP, "")
        if not group_name:
            raise BadRequest("missing task group name for scaling action")
        if request.count is not None and request.count < 0:
            raise BadRequest("scaling action count can't be negative")
        if request.error and request.count is not None:
            raise BadRequest("scaling action should not contain count if error is true")
        snapshot = self.store.snapshot()
        job = snapshot.job_by_id(namespace, job_id)
        if job is None:
            raise NotFound(f'job "{job_id}" not found')
        group = job.lookup_task_group(group_name)
        if group is None:
            raise BadRequest(f'task group "{group_name}" specified for scaling does not exist '
                             "in job")
        if job.type == JobType.SYSTEM and request.count is not None and request.count > 1:
            raise BadRequest('jobs of type "system" can only be scaled to 1 or 0')
        if request.count is None:
            return JobRegisterResult(eval_id="", eval_create_index=0,
                                     job_modify_index=job.job_modify_index,
                                     index=snapshot.latest_index)
        policy = group.scaling
        # PolicyOverride is about Sentinel policies, not these bounds (as in Nomad).
        if policy is not None:
            if policy.min is not None and request.count < policy.min:
                raise BadRequest("group count was less than scaling policy minimum: "
                                 f"{request.count} < {policy.min}")
            if policy.max is not None and request.count > policy.max:
                raise BadRequest("group count was greater than scaling policy maximum: "
                                 f"{request.count} > {policy.max}")
        deployment = snapshot.latest_deployment_by_job(namespace, job_id)
        if deployment is not None and deployment.active() \
                and deployment.job_create_index == job.create_index:
            raise BadRequest("job scaling blocked due to active deployment")
        scaled = job.copy()
        target = scaled.lookup_task_group(group_name)
        assert target is not None  # the copy has the group the original has
        target.count = request.count
        scaled.stable = False  # a new version, stable once it rolls out
        enforce = request.job_modify_index or job.job_modify_index
        return self.jobs.register(scaled, enforce_index=enforce,
                                  trigger=EvalTrigger.JOB_SCALING)


def scale_status(snapshot: StateSnapshot, namespace: str, job_id: str) -> dict[str, Any] | None:
    """Nomad's JobScaleStatus: desired counts and what is placed and running
    (None when there is no such job)."""
    job = snapshot.job_by_id(namespace, job_id)
    if job is None:
        return None
    deployment = snapshot.latest_deployment_by_job(namespace, job_id)
    groups: dict[str, dict[str, Any]] = {}
    for group in job.task_groups:
        state = deployment.task_groups.get(group.name) if deployment is not None else None
        groups[group.name] = {
            "Desired": group.count or 0,
            "Placed": state.placed_allocs if state is not None else 0,
            "Running": 0,
            "Healthy": state.healthy_allocs if state is not None else 0,
            "Unhealthy": state.unhealthy_allocs if state is not None else 0,
            "Events": [],
        }
    for alloc in snapshot.allocs_by_job(namespace, job_id):
        status = groups.get(alloc.task_group)
        if status is not None and alloc.desired_status == AllocDesiredStatus.RUN \
                and alloc.client_status == AllocClientStatus.RUNNING:
            status["Running"] += 1
    return {"JobID": job.id, "Namespace": job.namespace,
            "JobCreateIndex": job.create_index, "JobModifyIndex": job.job_modify_index,
            "JobStopped": bool(job.stop), "TaskGroups": groups}


def scaling_policies(snapshot: StateSnapshot, namespace: str | None = None, job_id: str = "",
                     policy_type: str = "") -> list[ScalingPolicy]:
    """Every policy of every stored job (Nomad stores them apart; here they
    live in their job, which is why their indexes are the job's)."""
    out = [policy for job in snapshot.jobs(namespace)
           if not job_id or job.id == job_id for policy in job_policies(job)]
    if policy_type:
        out = [p for p in out if p.type.startswith(policy_type)]
    return sorted(out, key=lambda p: p.id)


def scaling_policy(snapshot: StateSnapshot, policy_id: str) -> ScalingPolicy | None:
    return next((p for p in scaling_policies(snapshot) if p.id == policy_id), None)
