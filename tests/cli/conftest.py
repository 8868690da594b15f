"""A scripted Nomad HTTP API (through the client's transport seam) and a CLI runner.

Tests state the answers the "server" gives (``fake.on("GET", "/v1/jobs",
[...])``) and run the CLI in process against them; every request is
recorded so a test can check what the CLI asked for.  Times are UTC and the
clock is frozen at ``NOW`` so "2m ago" is predictable.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import pytest
from click.testing import CliRunner, Result

from nomadjail.api import ApiResponse
from nomadjail.cli.main import cli
from nomadjail.cli.meta import CliEnv

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
NOW_NS = int(NOW * 1e9)


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    index: int = 1
    raw: bytes | None = None
    chunks: list[bytes] | None = None


Handler = Callable[[Request], Answer]


@dataclass
class FakeNomad:
    """Routes ``(method, path)`` to scripted answers; unknown routes answer 404."""

    routes: dict[tuple[str, str], list[Answer] | Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    Answer = Answer  # for handlers written in test modules

    def on(self, method: str, path: str, *bodies: Any, status: int = 200, index: int = 1,
           text: str | None = None) -> None:
        """Answer with ``bodies`` in turn (the last one repeats); ``text`` sends plain text."""
        if text is not None:
            answers = [Answer(status=status, raw=text.encode(), index=index)]
        else:
            answers = [Answer(status=status, body=b, index=index) for b in (bodies or (None,))]
        self.routes[(method, path)] = answers

    def handle(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def stream(self, path: str, chunks: Iterable[bytes], status: int = 200) -> None:
        self.routes[("GET", path)] = [Answer(status=status, chunks=list(chunks))]

    def request(self, method: str, path: str, params: Mapping[str, str] | None,
                json_body: Any, headers: Mapping[str, str],
                stream: bool = False) -> ApiResponse:
        req = Request(method, path, dict(params or {}), json_body, dict(headers))
        self.requests.append(req)
        route = self.routes.get((method, path))
        if route is None:
            return ApiResponse(404, {}, b"Invalid URL path")
        if callable(route):
            answer = route(req)
        else:
            answer = route.pop(0) if len(route) > 1 else route[0]
        headers_out = {"X-Nomad-Index": str(answer.index), "X-Nomad-KnownLeader": "true",
                       "X-Nomad-LastContact": "0"}
        if answer.chunks is not None:
            return ApiResponse(answer.status, headers_out, iter(answer.chunks))
        body = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
        return ApiResponse(answer.status, headers_out, body)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def last(self, method: str, path: str) -> Request:
        return [r for r in self.requests if r.method == method and r.path == path][-1]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterable[None]:
    """Local time is UTC, so printed timestamps are the same on every machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def fake() -> FakeNomad:
    return FakeNomad()


@dataclass
class Cli:
    fake: FakeNomad
    environ: dict[str, str] = field(default_factory=dict)
    tty: bool = False

    def __call__(self, *args: str, input: str | None = None) -> Result:
        env = CliEnv(transport=self.fake, environ=self.environ, now=lambda: NOW,
                     sleep=lambda seconds: None, stdout_isatty=lambda: self.tty)
        return CliRunner().invoke(cli, list(args), obj=env, input=input,
                                  catch_exceptions=False)


@pytest.fixture
def run(fake: FakeNomad) -> Cli:
    return Cli(fake)


# --------------------------------------------------------------------------- API shapes
# Nomad's list stubs, built from nomadjail.testing objects (fields as in api/*.go).


def job_stub(job: Any) -> dict[str, Any]:
    from nomadjail.structs import to_api
    return {"ID": job.id, "ParentID": "", "Name": job.name, "Namespace": job.namespace,
            "Datacenters": job.datacenters, "NodePool": job.node_pool, "Type": job.type,
            "Priority": job.priority, "Periodic": False, "ParameterizedJob": False,
            "Stop": job.stop, "Status": job.status, "StatusDescription": "",
            "JobSummary": to_api({"JobID": job.id, "Namespace": job.namespace}),
            "CreateIndex": job.create_index, "ModifyIndex": job.modify_index,
            "JobModifyIndex": job.job_modify_index, "SubmitTime": job.submit_time}


def alloc_stub(alloc: Any) -> dict[str, Any]:
    from nomadjail.structs import to_api
    return {"ID": alloc.id, "EvalID": alloc.eval_id, "Name": alloc.name,
            "Namespace": alloc.namespace, "NodeID": alloc.node_id, "NodeName": alloc.node_name,
            "JobID": alloc.job_id, "JobType": alloc.job.type if alloc.job else "",
            "JobVersion": alloc.job.version if alloc.job else 0, "TaskGroup": alloc.task_group,
            "DesiredStatus": alloc.desired_status,
            "DesiredDescription": alloc.desired_description,
            "ClientStatus": alloc.client_status, "ClientDescription": alloc.client_description,
            "TaskStates": to_api(alloc.task_states), "FollowupEvalID": alloc.followup_eval_id,
            "CreateIndex": alloc.create_index, "ModifyIndex": alloc.modify_index,
            "CreateTime": alloc.create_time, "ModifyTime": alloc.modify_time}


def node_stub(node: Any) -> dict[str, Any]:
    return {"Address": "127.0.0.1", "ID": node.id, "Datacenter": node.datacenter,
            "Name": node.name, "NodeClass": node.node_class, "NodePool": node.node_pool,
            "Version": "1.9.0", "Drain": node.drain_strategy is not None,
            "SchedulingEligibility": node.scheduling_eligibility, "Status": node.status,
            "CreateIndex": node.create_index, "ModifyIndex": node.modify_index}


@pytest.fixture
def shapes() -> Any:
    """The stub builders above, for test modules (conftest is not importable by name)."""
    from types import SimpleNamespace
    return SimpleNamespace(job_stub=job_stub, alloc_stub=alloc_stub, node_stub=node_stub)
