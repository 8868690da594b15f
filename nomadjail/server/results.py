"""What the server's operations return, with Nomad's JSON shape.

Each result's :meth:`to_api` gives the body Nomad's HTTP API (or agent RPC)
answers with, so the HTTP layer only serialises it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..structs import ZERO_TIME, AllocMetric, Evaluation, PlanAnnotations, to_api
from ..structs.rpc import NodeUpdateResponse  # the RPC answer, shared with clients

__all__ = ["EvalResult", "JobPlanResult", "JobRegisterResult", "Member", "MemberStatus",
           "NodeUpdateResponse"]


@dataclass(slots=True)
class JobRegisterResult:
    eval_id: str
    eval_create_index: int
    job_modify_index: int
    index: int
    warnings: str = ""

    def to_api(self) -> dict[str, Any]:
        return {"EvalID": self.eval_id, "EvalCreateIndex": self.eval_create_index,
                "JobModifyIndex": self.job_modify_index, "Warnings": self.warnings,
                "Index": self.index}


@dataclass(slots=True)
class EvalResult:
    """An operation that created one evaluation (job stop, force evaluate, alloc stop).
    ``eval_id`` is "" when nothing needed evaluating (stopping a job that is gone)."""

    eval_id: str
    eval_create_index: int
    index: int
    job_modify_index: int = 0

    def to_api(self) -> dict[str, Any]:
        return {"EvalID": self.eval_id, "EvalCreateIndex": self.eval_create_index,
                "JobModifyIndex": self.job_modify_index, "Index": self.index}


@dataclass(slots=True)
class JobPlanResult:
    annotations: PlanAnnotations
    failed_tg_allocs: dict[str, AllocMetric]
    job_modify_index: int
    created_evals: list[Evaluation]
    warnings: str
    index: int
    diff: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        return {"Annotations": to_api(self.annotations),
                "FailedTGAllocs": {name: to_api(metric)
                                   for name, metric in self.failed_tg_allocs.items()} or None,
                "JobModifyIndex": self.job_modify_index,
                "CreatedEvals": [to_api(ev) for ev in self.created_evals] or None,
                "Diff": self.diff, "NextPeriodicLaunch": ZERO_TIME,
                "Warnings": self.warnings, "Index": self.index}


class MemberStatus(StrEnum):
    """Serf's member statuses, as ``nomad server members`` prints them."""

    ALIVE = "alive"
    FAILED = "failed"
    LEFT = "left"


@dataclass(slots=True)
class Member:
    """One server as ``nomad server members`` and /v1/agent/members show it."""

    name: str  # "<node name>.<region>"
    addr: str
    port: int
    status: str = MemberStatus.ALIVE
    tags: dict[str, str] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {"Name": self.name, "Addr": self.addr, "Port": self.port,
                "Status": self.status, "Tags": dict(self.tags),
                "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
                "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4}
