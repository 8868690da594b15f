"""Every time-typed field the API returns is an RFC 3339 string.

Go clients (the nomad CLI, Terraform's provider) decode these into
``time.Time`` and fail on anything else -- "" included -- so unset times must
be Go's zero time, and readers must treat the zero time as "unset".
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator
from typing import Any

import pytest

from nomadjail.server import Server
from nomadjail.structs import (
    SECOND,
    ZERO_TIME,
    Allocation,
    AllocDeploymentStatus,
    Deployment,
    DrainStrategy,
    Evaluation,
    Node,
    TaskState,
    TaskStateName,
    api_key,
    now_ns,
    parse_rfc3339,
    rfc3339,
    to_api,
)
from nomadjail.testing import mock_job, mock_node, wait_for

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


def time_fields(obj: Any, api: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, JSON value) of every field of ``obj`` typed as a time: a string
    field whose default is Go's zero time."""
    if dataclasses.is_dataclass(obj):
        hints = typing.get_type_hints(type(obj))
        for f in dataclasses.fields(obj):
            key = f.metadata.get("key") or api_key(f.name)
            value, encoded = getattr(obj, f.name), api.get(key)
            if hints[f.name] is str and f.default == ZERO_TIME:
                yield f"{path}.{key}", encoded
            elif value is not None:
                yield from time_fields(value, encoded, f"{path}.{key}")
    elif isinstance(obj, list):
        for i, (item, encoded) in enumerate(zip(obj, api, strict=True)):
            yield from time_fields(item, encoded, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, item in obj.items():
            yield from time_fields(item, api[k], f"{path}[{k!r}]")


def assert_rfc3339(objects: list[Any], what: str) -> int:
    checked = 0
    for obj in objects:
        for path, value in time_fields(obj, to_api(obj), what):
            assert isinstance(value, str) and RFC3339.fullmatch(value), f"{path} = {value!r}"
            parse_rfc3339(value)
            checked += 1
    return checked


def test_defaults_are_gos_zero_time():
    assert Evaluation().wait_until == ZERO_TIME
    assert parse_rfc3339(ZERO_TIME) == 0 and parse_rfc3339("") == 0
    for cls in (Evaluation, Deployment, Allocation, Node):
        assert_rfc3339([cls()], cls.__name__)


@pytest.fixture
def server(make_server) -> Server:
    return make_server()


def test_every_time_the_server_hands_out_is_rfc3339(server):
    nodes = [mock_node() for _ in range(3)]
    for node in nodes:
        server.node_register(node)
    job = mock_job(count=3)
    server.register_job(job)
    allocs = wait_for(lambda: len(a := server.state.allocs_by_job("default", job.id)) == 3 and a,
                      timeout=10, message="placed")
    by_id = {n.id: n for n in nodes}
    now = now_ns()
    for alloc in allocs:
        node = by_id[alloc.node_id]
        server.node_update_allocs(node.id, node.secret_id, [Allocation(
            id=alloc.id, client_status="running",
            task_states={"web": TaskState(state=TaskStateName.RUNNING,
                                          started_at=rfc3339(now))},
            deployment_status=AllocDeploymentStatus(healthy=alloc is not allocs[0],
                                                    timestamp=rfc3339(now)))])
    # A failed allocation gets a delayed follow-up eval (WaitUntil) and the
    # deployment a progress deadline (RequireProgressBy).
    node = by_id[allocs[0].node_id]
    server.node_update_allocs(node.id, node.secret_id, [Allocation(
        id=allocs[0].id, client_status="failed",
        deployment_status=AllocDeploymentStatus(healthy=False, timestamp=rfc3339(now)))])
    wait_for(lambda: server.state.alloc_by_id(allocs[0].id).followup_eval_id, timeout=10,
             message="a delayed follow-up eval")
    server.drain_node(nodes[1].id, DrainStrategy(deadline=3600 * SECOND))

    snapshot = server.state.snapshot()
    deployments = snapshot.deployments()
    assert any(parse_rfc3339(d.task_groups["web"].require_progress_by) for d in deployments)
    assert any(parse_rfc3339(e.wait_until) for e in snapshot.evals())
    checked = (assert_rfc3339(snapshot.evals(), "Evaluation")
               + assert_rfc3339(deployments, "Deployment")
               + assert_rfc3339(snapshot.allocs(), "Allocation")
               + assert_rfc3339(snapshot.nodes(), "Node"))
    assert checked > 20
