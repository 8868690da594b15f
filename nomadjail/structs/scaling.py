"""A task group's ``scaling`` block: the bounds an autoscaler (or ``job scale``)
may move the group's count between, plus a free-form policy for the autoscaler.

Nomad keeps these as ScalingPolicy objects with an ID that survives new job
versions, so an autoscaler can follow one policy while the job changes; the
server assigns the ID at registration (:func:`carry_policy_ids`), because
every raft replica must store the same one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .codec import field


class ScalingPolicyType(StrEnum):
    HORIZONTAL = "horizontal"


class ScalingTarget(StrEnum):
    """The keys of a policy's ``Target`` map (Nomad's ``ScalingTarget*``)."""

    NAMESPACE = "Namespace"
    JOB = "Job"
    GROUP = "Group"


class _Group(Protocol):
    """What a policy needs of its task group (kept structural: TaskGroup imports us)."""

    name: str
    count: int | None
    scaling: ScalingPolicy | None


class _Job(Protocol):
    id: str
    namespace: str | None
    create_index: int
    job_modify_index: int

    @property
    def task_groups(self) -> Sequence[_Group]: ...

    def lookup_task_group(self, name: str) -> _Group | None: ...


@dataclass(slots=True)
class ScalingPolicy:
    id: str = ""
    type: str = ""
    target: dict[str, str] = field(default_factory=dict)
    # Nomad's API leaves Min nil until canonicalized, and Max must be given.
    min: int | None = None
    max: int | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    enabled: bool | None = None
    create_index: int = 0
    modify_index: int = 0

    def canonicalize(self, namespace: str, job_id: str, group: _Group) -> None:
        """Nomad's defaults: enabled, horizontal, ``min`` = the group's count,
        and a target naming the group the policy belongs to."""
        if self.enabled is None:
            self.enabled = True
        if not self.type:
            self.type = ScalingPolicyType.HORIZONTAL
        if self.min is None:
            self.min = group.count or 0
        self.target = {ScalingTarget.NAMESPACE: namespace, ScalingTarget.JOB: job_id,
                       ScalingTarget.GROUP: group.name}

    def list_stub(self) -> dict[str, Any]:
        """Nomad's ScalingPolicyListStub, as ``/v1/scaling/policies`` lists it."""
        return {"ID": self.id, "Enabled": self.enabled, "Type": self.type,
                "Target": dict(self.target), "CreateIndex": self.create_index,
                "ModifyIndex": self.modify_index}


def scaling_errors(group: _Group) -> Iterable[str]:
    """Nomad's ScalingPolicy.Validate and TaskGroup.validateScalingPolicy messages."""
    policy = group.scaling
    if policy is None:
        return
    if policy.type and policy.type != ScalingPolicyType.HORIZONTAL:
        yield f'Scaling policy invalid: unsupported scaling policy type "{policy.type}"'
        return
    if policy.max is None:
        yield "Scaling policy invalid: maximum count must be specified"
        return
    low = policy.min if policy.min is not None else 0
    if policy.max < 0:
        yield "Scaling policy invalid: maximum count must not be less than zero"
    if low < 0:
        yield "Scaling policy invalid: minimum count must not be less than zero"
    if policy.max < low:
        yield "Scaling policy invalid: maximum count must not be less than minimum count"
    count = group.count if group.count is not None else 1
    if count < low:
        yield ("Scaling policy invalid: task group count must not be less than minimum "
               "count in scaling policy")
    if policy.max < count:
        yield ("Scaling policy invalid: task group count must not be greater than maximum "
               "count in scaling policy")


def canonicalize_scaling(job: _Job) -> None:
    for group in job.task_groups:
        if group.scaling is not None:
            group.scaling.canonicalize(job.namespace or "", job.id, group)


def carry_policy_ids(job: _Job, existing: _Job | None, new_id: Callable[[], str]) -> None:
    """Give each policy of ``job`` the ID its group's policy had in ``existing``,
    or a fresh one from ``new_id()`` (Nomad keeps IDs across job versions)."""
    for group in job.task_groups:
        if group.scaling is None or group.scaling.id:
            continue
        previous = existing.lookup_task_group(group.name) if existing is not None else None
        if previous is not None and previous.scaling is not None and previous.scaling.id:
            group.scaling.id = previous.scaling.id
        else:
            group.scaling.id = new_id()


def job_policies(job: _Job) -> list[ScalingPolicy]:
    """The job's policies with the job's indexes (Nomad indexes each policy; a
    policy changes exactly when its job is registered, so the job's are used)."""
    out = []
    for group in job.task_groups:
        if group.scaling is None:
            continue
        out.append(dataclasses.replace(group.scaling, create_index=job.create_index,
                                       modify_index=job.job_modify_index))
    return out
