"""/v1/evaluations and /v1/evaluation/:id."""

from __future__ import annotations

import falcon.asgi

from ..state import Table
from ..structs import NotFound, to_api
from .agent_api import AgentAPI
from .query import blocking_snapshot, query_options, set_meta
from .stubs import alloc_stub

EVAL_NOT_FOUND = "eval not found"


class EvaluationsResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        status = req.get_param("status") or ""
        job = req.get_param("job") or ""
        snap = await blocking_snapshot(server.state, opts, (Table.EVALS,))
        namespace = None if opts.all_namespaces else opts.namespace
        resp.media = [to_api(e) for e in snap.evals(namespace, opts.prefix)
                      if (not status or e.status == status) and (not job or e.job_id == job)]
        set_meta(resp, snap.index(Table.EVALS))


class EvaluationResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     eval_id: str) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        snap = await blocking_snapshot(server.state, opts, (Table.EVALS,))
        evaluation = snap.eval_by_id(eval_id)
        set_meta(resp, snap.index(Table.EVALS))
        if evaluation is None:
            raise NotFound(EVAL_NOT_FOUND)
        resp.media = to_api(evaluation)


class EvaluationAllocationsResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     eval_id: str) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        snap = await blocking_snapshot(server.state, opts, (Table.ALLOCS,))
        resp.media = [alloc_stub(a) for a in snap.allocs_by_eval(eval_id)]
        set_meta(resp, snap.index(Table.ALLOCS))
