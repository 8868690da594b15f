"""What the server's operations return, with Nomad's JSON shape.

Each result's :meth:`to_api` gives the body Nomad's HTTP API (or agent RPC)
answers with, so the HTTP layer only serialises it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..structs import ZERO_TIME, AllocMetric, Evaluation, PlanAnnotations, to_api


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


@dataclass(slots=True)
class NodeUpdateResponse:
    """The answer to a client's register or heartbeat (Node.Register / Node.UpdateStatus)."""

    heartbeat_ttl: int  # ns; 0 when the node is down
    index: int
    leader_rpc_addr: str
    servers: list[str]
    num_nodes: int
    eval_ids: list[str] = field(default_factory=list)
    eval_create_index: int = 0
    node_modify_index: int = 0

    def to_api(self) -> dict[str, Any]:
        return {"HeartbeatTTL": self.heartbeat_ttl, "Index": self.index,
                "LeaderRPCAddr": self.leader_rpc_addr, "NumNodes": self.num_nodes,
                "Servers": list(self.servers), "EvalIDs": list(self.eval_ids),
                "EvalCreateIndex": self.eval_create_index,
                "NodeModifyIndex": self.node_modify_index}


@dataclass(slots=True)
class Member:
    """One server as ``nomad server members`` and /v1/agent/members show it."""

    name: str  # "<node name>.<region>"
    addr: str
    port: int
    status: str = "alive"
    tags: dict[str, str] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {"Name": self.name, "Addr": self.addr, "Port": self.port,
                "Status": self.status, "Tags": dict(self.tags),
                "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
                "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4}
