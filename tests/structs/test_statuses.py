"""Status fields decode to the enums of structs/consts.py and encode back unchanged.

The wire stays Nomad's (plain strings); inside, a status is an enum member, and a
value Nomad does not define is refused with a 400 naming the field and the values
allowed, never stored and never a 500.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import pytest

from nomadjail.structs import (
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    BadRequest,
    DecodeError,
    Deployment,
    DeploymentStatus,
    DeploymentStatusUpdate,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    Job,
    JobStatus,
    JobType,
    Node,
    NodeEligibility,
    NodeStatus,
    TaskLifecycleHook,
    TaskState,
    TaskStateName,
    from_api,
    to_api,
)
from nomadjail.structs.rpc import NodeUpdateAllocRequest, NodeUpdateStatusRequest
from nomadjail.testing import mock_alloc, mock_eval, mock_job, mock_node

# (struct, JSON key, attribute, enum): every status field and the enum it is typed with.
STATUS_FIELDS = [
    (Allocation, "ClientStatus", "client_status", AllocClientStatus),
    (Allocation, "DesiredStatus", "desired_status", AllocDesiredStatus),
    (TaskState, "State", "state", TaskStateName),
    (Node, "Status", "status", NodeStatus),
    (Node, "SchedulingEligibility", "scheduling_eligibility", NodeEligibility),
    (Evaluation, "Status", "status", EvalStatus),
    (Deployment, "Status", "status", DeploymentStatus),
    (Job, "Status", "status", JobStatus),
    (DeploymentStatusUpdate, "Status", "status", DeploymentStatus),
    (NodeUpdateStatusRequest, "Status", "status", NodeStatus),
]
IDS = [f"{cls.__name__}.{key}" for cls, key, _, _ in STATUS_FIELDS]
ENUM_FIELDS = [(cls, key, enum) for cls, key, _, enum in STATUS_FIELDS]
# Fields where "" (Go's zero value) means "not set (yet)" and decodes as itself.
MAY_BE_EMPTY = {(Job, "Status"), (Node, "Status"), (Node, "SchedulingEligibility"),
                (DeploymentStatusUpdate, "Status"), (NodeUpdateStatusRequest, "Status")}

# Every value hashicorp/nomad's nomad/structs defines for these (alloc.go, eval.go,
# deployment.go, structs.go).
NOMAD_VALUES: dict[type[StrEnum], set[str]] = {
    AllocDesiredStatus: {"run", "stop", "evict"},
    AllocClientStatus: {"pending", "running", "complete", "failed", "lost", "unknown"},
    EvalStatus: {"blocked", "pending", "complete", "failed", "canceled"},
    DeploymentStatus: {"running", "paused", "failed", "successful", "cancelled",
                       "initializing", "pending", "blocked", "unblocking"},
    JobStatus: {"pending", "running", "dead"},
    NodeStatus: {"initializing", "ready", "down", "disconnected"},
    NodeEligibility: {"eligible", "ineligible"},
    TaskStateName: {"pending", "running", "dead"},
    TaskLifecycleHook: {"prestart", "poststart", "poststop"},
    JobType: {"service", "batch", "system", "sysbatch"},  # and "_core", internal to Nomad
    EvalTrigger: {"job-register", "job-deregister", "periodic-job", "node-drain",
                  "node-update", "alloc-stop", "scheduled", "rolling-update",
                  "deployment-watcher", "failed-follow-up", "max-plan-attempts",
                  "alloc-failure", "queued-allocs", "preemption", "job-scaling",
                  "max-disconnect-timeout", "reconnect", "alloc-reschedule"},
}


@pytest.mark.parametrize("enum", NOMAD_VALUES, ids=lambda enum: enum.__name__)
def test_every_value_nomad_defines_is_a_member(enum: type[StrEnum]) -> None:
    assert {member.value for member in enum} == NOMAD_VALUES[enum]


@pytest.mark.parametrize("cls, key, attr, enum", STATUS_FIELDS, ids=IDS)
def test_each_status_decodes_to_its_member(cls: type, key: str, attr: str,
                                           enum: type[StrEnum]) -> None:
    for member in enum:
        decoded = getattr(from_api(cls, {key: member.value}), attr)
        assert decoded is member
        assert to_api(from_api(cls, {key: member.value}))[key] == member.value


@pytest.mark.parametrize("cls, key, enum", ENUM_FIELDS, ids=IDS)
def test_an_unknown_status_is_a_400_naming_the_field_and_the_values(
        cls: type, key: str, enum: type[StrEnum]) -> None:
    with pytest.raises(DecodeError) as err:
        from_api(cls, {key: "exploded"})
    assert isinstance(err.value, BadRequest)  # the http layer answers 400
    assert err.value.path == f"{cls.__name__}.{key}"
    message = str(err.value)
    assert message.startswith(f"{cls.__name__}.{key}: unknown value 'exploded', expected one of")
    assert all(f'"{member.value}"' in message for member in enum)


@pytest.mark.parametrize("cls, key, enum", ENUM_FIELDS, ids=IDS)
def test_the_empty_string_only_where_it_means_not_set(cls: type, key: str,
                                                      enum: type[StrEnum]) -> None:
    if (cls, key) in MAY_BE_EMPTY:
        assert to_api(from_api(cls, {key: ""}))[key] == ""
    else:
        with pytest.raises(DecodeError, match=f'{key}: unknown value '):
            from_api(cls, {key: ""})


def test_a_status_must_be_a_string() -> None:
    with pytest.raises(DecodeError, match=r"^Allocation.ClientStatus: expected a string, got 3$"):
        from_api(Allocation, {"ClientStatus": 3})


def test_null_keeps_the_default_as_for_any_field() -> None:
    assert from_api(Allocation, {"ClientStatus": None}).client_status is AllocClientStatus.PENDING


def test_the_path_reaches_into_nested_statuses() -> None:
    body = {"NodeID": "n1", "Alloc": [{"ID": "a", "ClientStatus": "running"},
                                       {"ID": "b", "TaskStates": {"web": {"State": "asleep"}}}]}
    with pytest.raises(DecodeError) as err:
        from_api(NodeUpdateAllocRequest, body, "Node.UpdateAlloc")
    assert err.value.path == "Node.UpdateAlloc.Alloc[1].TaskStates['web'].State"
    assert str(err.value).endswith('expected one of "pending", "running" or "dead"')


def _documents() -> list[tuple[type, dict[str, Any]]]:
    job = mock_job(count=2)
    job.status = JobStatus.RUNNING
    node = mock_node()
    node.status, node.scheduling_eligibility = NodeStatus.READY, NodeEligibility.INELIGIBLE
    alloc = mock_alloc(job, node, client_status=AllocClientStatus.RUNNING)
    alloc.desired_status = AllocDesiredStatus.STOP
    alloc.task_states = {"web": TaskState(state=TaskStateName.DEAD, failed=True)}
    evaluation = mock_eval(job)
    evaluation.status = EvalStatus.BLOCKED
    deployment = Deployment(id="d1", job_id=job.id, status=DeploymentStatus.PAUSED)
    return [(Job, to_api(job)), (Node, to_api(node)), (Allocation, to_api(alloc)),
            (Evaluation, to_api(evaluation)), (Deployment, to_api(deployment))]


@pytest.mark.parametrize("cls, data", _documents(), ids=["Job", "Node", "Allocation",
                                                         "Evaluation", "Deployment"])
def test_json_round_trips_byte_for_byte(cls: type, data: dict[str, Any]) -> None:
    text = json.dumps(data, sort_keys=True)
    again = json.dumps(to_api(from_api(cls, json.loads(text))), sort_keys=True)
    assert again == text


def test_members_encode_as_plain_strings() -> None:
    data = to_api(Allocation(client_status=AllocClientStatus.LOST,
                             task_states={"t": TaskState(state=TaskStateName.RUNNING)}))
    assert type(data["ClientStatus"]) is str and data["ClientStatus"] == "lost"
    assert type(data["DesiredStatus"]) is str
    assert type(data["TaskStates"]["t"]["State"]) is str


def test_a_status_reads_as_its_wire_string() -> None:
    """Messages quote statuses with !r; decoded or not, they read as before."""
    decoded = from_api(Evaluation, {"Status": "blocked"}).status
    assert repr(decoded) == "'blocked'" and f"{decoded}" == "blocked"
    assert f"{EvalStatus.PENDING!r}" == "'pending'"
    assert decoded == "blocked" and hash(decoded) == hash("blocked")
