"""Random bodies sent to every POST/PUT route in process: a 4xx or a 2xx, never a 500.

A 500 means the server broke on input it should have refused (or accepted);
every bad body -- malformed, too deep, too large, JSON or HCL -- must get
Nomad's 400 with a message instead.  The routes are read from the app's
router, so a route added later is fuzzed without touching this file.  The app
is built the way ``tests/http/conftest.py`` builds it: ``create_app`` in front
of a real in-memory dev server, driven through falcon's ASGI test client.

One 500 is Nomad's own answer and therefore allowed, deterministically: a job
naming a region this cluster has no path to.  Nomad's ``Job.Register`` forwards
to the job's region and ``ErrNoRegionPath`` is not a coded error, so its HTTP
layer (``command/agent/http.go``, ``wrap``) answers 500 "No path to region";
API clients and the existing tests (``test_other_regions_are_refused``) rely on
that.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any

import falcon.asgi
import falcon.testing
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadjail.agent.agent import Agent
from nomadjail.agent.config import AgentConfig
from nomadjail.api.rpc import RPC_PREFIX
from nomadjail.http.body import MAX_BODY_BYTES, MAX_JSON_DEPTH
from nomadjail.structs import to_api
from nomadjail.testing import free_port, mock_job, mock_node

UNKNOWN_ID = "0b0b0b0b-0000-0000-0000-000000000000"
WRITE_METHODS = ("on_post", "on_put")

KEYS = ["Job", "ID", "Name", "Type", "TaskGroups", "Tasks", "Count", "Driver", "Config",
        "Resources", "CPU", "MemoryMB", "Datacenters", "Priority", "Constraints", "NodeID",
        "DrainSpec", "Deadline", "Eligibility", "MarkEligible", "Meta", "JobHCL", "Diff",
        "EnforceIndex", "JobModifyIndex", "Status", "AllocIDs", "Alloc", "Update", "Networks",
        "Services", "RestartPolicy", "Periodic", "Namespace", "Region", "Node", "Signal",
        "Task", "TaskName", "Variables", "Canonicalize", "PreserveCounts"]
SCALARS = (st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False)
           | st.sampled_from(["", "x", "service", "batch", "system", "raw_exec", "10s", "-1",
                              "eligible", "ready", "*", "job \"j\" {}", "${x}", "\x00"])
           | st.text(max_size=8))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=4),
    max_leaves=15)


def _nested(depth: int, opener: str, leaf: str = "1") -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + leaf + closer * depth


# Bodies past the limits: nested deeper than allowed (as the whole body, inside the job,
# or far past what the JSON decoder itself survives), and larger than allowed.
DEEP_BODIES = st.builds(
    lambda depth, opener, wrap: wrap.replace("@", _nested(depth, opener)),
    st.integers(MAX_JSON_DEPTH + 1, 6000), st.sampled_from(["[", '{"a":']),
    st.sampled_from(["@", '{"Job": @}', '{"Job": {"ID": "fuzz", "TaskGroups": [@]}}',
                     '{"Node": {"Meta": @}}', '{"JobHCL": "job \\"x\\" {}", "x": @}']))
LARGE_BODIES = st.builds(
    lambda extra, where: where.replace("@", " " * (MAX_BODY_BYTES + extra)),
    st.integers(1, 4096), st.sampled_from(["{@}", '{"Job": "@"}', "@", '{"JobHCL": "@"}']))
# Job specs that parse as JSON but break the HCL parser: blocks, expressions and
# templates nested deeper than it recurses, and unbalanced ones.
def deep_hcl(depth: int, shape: str) -> str:
    return {
        "blocks": 'job "x" {\n' + "a {\n" * depth + "}\n" * depth + "}\n",
        "groups": 'job "x" {\n' + 'group "g" {\n' * depth + "}\n" * depth + "}\n",
        "list": 'job "x" { meta = { a = ' + "[" * depth + "]" * depth + " } }",
        "parens": 'job "x" { meta = { a = ' + "(" * depth + "1" + ")" * depth + " } }",
        "template": 'job "x" { meta = { a = "${' + "[" * depth + "]" * depth + '}" } }',
        "unclosed": 'job "x" {' + "a {" * depth,
    }[shape]


HCL_BODIES = st.builds(
    lambda depth, shape, variables: json.dumps({"JobHCL": deep_hcl(depth, shape),
                                                "Variables": variables}),
    st.integers(1500, 4000),
    st.sampled_from(["blocks", "groups", "list", "parens", "template", "unclosed"]),
    st.sampled_from(["", "v = 1", "v = " + "[" * 3000]))


def budget(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    config = AgentConfig(name="fuzz", bind_addr="127.0.0.1", dev_mode=True,
                         data_dir=str(tmp_path_factory.mktemp("fuzz")))
    config.ports.serf = free_port()
    config.server.enabled = True
    agent = Agent(config)
    agent.start()
    try:
        agent.require_server().node_register(mock_node(name="fuzz-node"))
        yield agent
    finally:
        agent.shutdown()


@pytest.fixture(scope="module")
def app(agent: Agent) -> falcon.asgi.App:
    from nomadjail.http import create_app

    return create_app(agent)


@pytest.fixture(scope="module")
def api(app: falcon.asgi.App) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(app)


@pytest.fixture(scope="module")
def node_id(api) -> str:
    return api.simulate_get("/v1/nodes").json[0]["ID"]


def write_routes(app: falcon.asgi.App) -> list[tuple[str, str]]:
    """(method, URI template) of every POST/PUT responder the app's router knows.

    Reads falcon's compiled router (private, but the only listing there is).  Job
    paths are one route that dispatches on the last segment (job IDs may contain
    slashes), so its actions are listed through :class:`JobPaths`' own table.
    """
    routes: list[tuple[str, str]] = []
    pending = list(app._router._roots)  # private: see the docstring
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        if node.resource is None:
            continue
        targets = [(node.uri_template, node.resource)]
        actions = getattr(node.resource, "actions", None)
        if isinstance(actions, dict):
            base = node.uri_template.replace("{path:path}", "{path}")
            targets = [(base, node.resource.job),
                       *((f"{base}/{name}", action) for name, action in actions.items())]
        for template, resource in targets:
            routes.extend((method[3:].upper(), template) for method in WRITE_METHODS
                          if hasattr(resource, method))
    return sorted(set(routes))


def test_the_route_listing_finds_the_known_write_routes(app) -> None:
    found = set(write_routes(app))
    assert {("PUT", "/v1/jobs"), ("POST", "/v1/jobs/parse"), ("PUT", "/v1/job/{path}"),
            ("POST", "/v1/job/{path}/plan"), ("PUT", "/v1/node/{node_id}/drain"),
            ("POST", "/v1/client/allocation/{alloc_id}/signal"),
            ("POST", "/v1/rpc/Node.Register"), ("POST", "/v1/rpc/Node.UpdateAlloc")} <= found
    assert not any(method == "POST" and template.endswith("/allocations")
                   for method, template in found)


@pytest.fixture(scope="module")
def routes(app, node_id) -> list[tuple[str, str]]:
    values = {"path": "fuzz", "node_id": node_id}
    return [(method, re.sub(r"\{(\w+)(?::\w+)?\}",
                            lambda m: values.get(m.group(1), UNKNOWN_ID), template))
            for method, template in write_routes(app)]


def foreign_region(body: str) -> str | None:
    """The region a body's job names when it is not this cluster's, else None."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    job = document.get("Job") if isinstance(document, dict) else None
    region = job.get("Region") if isinstance(job, dict) else None
    return region if isinstance(region, str) and region not in ("", "global") else None


def send(agent: Agent, api: falcon.testing.TestClient, method: str, path: str,
         body: str | bytes, *, content_type: str | None = "application/json"
         ) -> falcon.testing.Result:
    # RPC routes answer only on the rpc listener (ListenerSeparation).
    port = agent.config.ports.rpc if path.startswith(RPC_PREFIX) else None
    headers = {"Content-Type": content_type} if content_type else {}
    resp = api.simulate_request(method, path, body=body, headers=headers, port=port)
    text = body if isinstance(body, str) else body.decode(errors="replace")
    region = foreign_region(text)
    if region is not None and resp.status_code == 500 \
            and resp.text.startswith(f"No path to region: {region!r}"):
        return resp  # Nomad's answer too (see the module docstring)
    assert resp.status_code < 500, (f"{method} {path} answered {resp.status_code} "
                                    f"{resp.text[:300]!r} to {text[:300]}")
    return resp


@budget(300)
@given(st.data(), JSON_VALUES)
def test_random_json_bodies(agent, api, routes, data, body):
    method, path = data.draw(st.sampled_from(routes))
    send(agent, api, method, path, json.dumps(body))


@budget(60)
@given(st.data(), DEEP_BODIES)
def test_bodies_nested_too_deeply(agent, api, routes, data, body):
    method, path = data.draw(st.sampled_from(routes))
    resp = send(agent, api, method, path, body)
    # Routes that never read a body (evaluate, stop) may answer anything but a 5xx.
    assert resp.status_code != 400 or "nested too deeply" in resp.text, resp.text


@budget(20)
@given(st.data(), LARGE_BODIES)
def test_bodies_too_large(agent, api, routes, data, body):
    method, path = data.draw(st.sampled_from(routes))
    resp = send(agent, api, method, path, body)
    assert resp.status_code != 400 or "too large" in resp.text, resp.text


@budget(40)
@given(st.sampled_from([("POST", "/v1/jobs/parse"), ("PUT", "/v1/jobs/parse")]), HCL_BODIES)
def test_job_specs_that_break_the_hcl_parser(agent, api, route, body):
    resp = send(agent, api, *route, body)
    # Deep parentheses are still a job the parser reads; everything else is refused.
    assert resp.status_code == 200 or resp.text.startswith("Failed to parse job"), resp.text


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
def test_a_valid_job_with_one_value_replaced(agent, api, route, path, value):
    method, url = route
    send(agent, api, method, url, json.dumps(_mutate(JOB, path, value)))


@pytest.mark.parametrize("region", ["x", "mars"])
def test_a_job_for_a_region_without_a_path_is_nomads_500(agent, api, region) -> None:
    """What hypothesis found flaky before: deterministic now, and Nomad's answer."""
    body = json.dumps({"Job": {**JOB["Job"], "Region": region}})
    resp = send(agent, api, "PUT", "/v1/jobs", body)
    assert resp.status_code == 500 and resp.text.startswith(f"No path to region: {region!r}")


@budget(100)
@given(st.data(), st.binary(max_size=40))
def test_bodies_that_are_not_json(agent, api, routes, data, body):
    method, path = data.draw(st.sampled_from(routes))
    send(agent, api, method, path, body, content_type=None)
