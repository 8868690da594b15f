"""/v1/evaluations and /v1/evaluation/:id."""

from __future__ import annotations

import falcon.asgi

from ..server import Table
from ..structs import NotFound, to_api
from .query import paginate
from .resource import Resource
from .stubs import alloc_stub

EVAL_NOT_FOUND = "eval not found"


class EvaluationsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        status = req.get_param("status") or ""
        job = req.get_param("job") or ""
        snap, opts = await self.read(req, resp, Table.EVALS)
        namespace = None if opts.all_namespaces else opts.namespace
        evals = [e for e in snap.evals(namespace, opts.prefix)
                 if (not status or e.status == status) and (not job or e.job_id == job)]
        resp.media = [to_api(e) for e in paginate(evals, opts, resp, lambda e: e.id)]


class EvaluationResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     eval_id: str) -> None:
        evaluation, _ = await self.read_one(req, resp, Table.EVALS,
                                            lambda snap, opts: snap.eval_by_id(eval_id))
        if evaluation is None:
            raise NotFound(EVAL_NOT_FOUND)
        resp.media = to_api(evaluation)


class EvaluationAllocationsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     eval_id: str) -> None:
        snap, opts = await self.read(req, resp, Table.ALLOCS)
        resp.media = [alloc_stub(a) for a in snap.allocs_by_eval(eval_id)]
