"""Random JSON bodies sent to the HTTP API in process: a 4xx or a 2xx, never a 500.

A 500 means the server broke on input it should have refused (or accepted);
every bad body must get Nomad's 400 with a message instead.  The app is built
the way ``tests/http/conftest.py`` builds it: ``create_app`` in front of a real
in-memory dev server, driven through falcon's ASGI test client.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import falcon.testing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadjail.agent.agent import Agent
from nomadjail.agent.config import AgentConfig
from nomadjail.structs import to_api
from nomadjail.testing import free_port, mock_job, mock_node

WRITE_ROUTES = [
    ("PUT", "/v1/jobs"),
    ("POST", "/v1/jobs"),
    ("PUT", "/v1/jobs/parse"),
    ("PUT", "/v1/job/fuzz"),
    ("PUT", "/v1/job/fuzz/plan"),
    ("PUT", "/v1/job/fuzz/evaluate"),
    ("PUT", "/v1/validate/job"),
    ("PUT", "/v1/node/{node}/drain"),
    ("PUT", "/v1/node/{node}/eligibility"),
    ("PUT", "/v1/allocation/0b0b0b0b-0000-0000-0000-000000000000/stop"),
    ("POST", "/v1/rpc/Node.UpdateStatus"),
    ("POST", "/v1/rpc/Alloc.GetAllocs"),
    ("POST", "/v1/rpc/Node.UpdateAlloc"),
]

KEYS = ["Job", "ID", "Name", "Type", "TaskGroups", "Tasks", "Count", "Driver", "Config",
        "Resources", "CPU", "MemoryMB", "Datacenters", "Priority", "Constraints", "NodeID",
        "DrainSpec", "Deadline", "Eligibility", "MarkEligible", "Meta", "JobHCL", "Diff",
        "EnforceIndex", "JobModifyIndex", "Status", "AllocIDs", "Alloc", "Update", "Networks",
        "Services", "RestartPolicy", "Periodic", "Namespace", "Region"]
SCALARS = (st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False)
           | st.sampled_from(["", "x", "service", "batch", "system", "raw_exec", "10s", "-1",
                              "eligible", "ready", "*", "job \"j\" {}", "${x}", "\x00"])
           | st.text(max_size=8))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=4),
    max_leaves=15)


def budget(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[falcon.testing.TestClient]:
    from nomadjail.http import create_app

    config = AgentConfig(name="fuzz", bind_addr="127.0.0.1", dev_mode=True,
                         data_dir=str(tmp_path_factory.mktemp("fuzz")))
    config.ports.serf = free_port()
    config.server.enabled = True
    agent = Agent(config)
    agent.start()
    try:
        agent.require_server().node_register(mock_node(name="fuzz-node"))
        yield falcon.testing.TestClient(create_app(agent))
    finally:
        agent.shutdown()


@pytest.fixture(scope="module")
def node_id(api) -> str:
    return api.simulate_get("/v1/nodes").json[0]["ID"]


def send(api: falcon.testing.TestClient, method: str, path: str, body: str) -> None:
    resp = api.simulate_request(method, path, body=body,
                                headers={"Content-Type": "application/json"})
    assert resp.status_code < 500, (f"{method} {path} answered {resp.status_code} "
                                    f"{resp.text[:300]!r} to {body[:300]}")


@budget(300)
@given(st.sampled_from(WRITE_ROUTES), JSON_VALUES)
def test_random_json_bodies(api, node_id, route, body):
    method, path = route
    send(api, method, path.format(node=node_id), json.dumps(body))


def _mutate(document: Any, path: list[Any], value: Any) -> Any:
    """``document`` with the node at ``path`` (indexes taken modulo) replaced by ``value``."""
    if not path or not isinstance(document, (dict, list)) or not document:
        return value
    result = copy.copy(document)
    if isinstance(result, dict):
        key = sorted(result)[path[0] % len(result)]
    else:
        key = path[0] % len(result)
    result[key] = _mutate(result[key], path[1:], value)
    return result


JOB = {"Job": to_api(mock_job(job_id="fuzz"))}


@budget(300)
@given(st.sampled_from([("PUT", "/v1/jobs"), ("PUT", "/v1/job/fuzz/plan"),
                        ("PUT", "/v1/validate/job")]),
       st.lists(st.integers(0, 50), min_size=1, max_size=6), JSON_VALUES)
def test_a_valid_job_with_one_value_replaced(api, route, path, value):
    method, url = route
    send(api, method, url, json.dumps(_mutate(JOB, path, value)))


@budget(100)
@given(st.sampled_from(WRITE_ROUTES), st.binary(max_size=40))
def test_bodies_that_are_not_json(api, node_id, route, body):
    method, path = route
    resp = api.simulate_request(method, path.format(node=node_id), body=body)
    assert resp.status_code < 500, (method, path, resp.status_code, resp.text[:300], body)
