"""/v1/allocations, /v1/allocation/:id and the client-side alloc actions."""

from __future__ import annotations

import asyncio

import falcon.asgi

from ..server import Table
from ..structs import BadRequest, NotFound
from ..structs.check_result import check_result_json
from .body import read_object
from .query import bool_param, paginate, set_index
from .resource import Resource
from .stubs import alloc_stub, public_alloc

ALLOC_NOT_FOUND = "alloc not found"


class AllocationsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resources = bool_param(req, "resources")
        task_states = bool_param(req, "task_states", default=True)
        snap, opts = await self.read(req, resp, Table.ALLOCS)
        namespace = None if opts.all_namespaces else opts.namespace
        allocs = paginate(snap.allocs(namespace, opts.prefix), opts, resp, lambda a: a.id)
        resp.media = [alloc_stub(a, resources=resources, task_states=task_states)
                      for a in allocs]


class AllocationResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     alloc_id: str) -> None:
        alloc, _ = await self.read_one(req, resp, Table.ALLOCS,
                                       lambda snap, opts: snap.alloc_by_id(alloc_id))
        if alloc is None:
            raise NotFound(ALLOC_NOT_FOUND)
        resp.media = public_alloc(alloc)


class AllocationStopResource(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      alloc_id: str) -> None:
        server = self.agent.require_server()
        result = await asyncio.to_thread(server.stop_alloc, alloc_id)
        set_index(resp, result.index)
        resp.media = {"EvalID": result.eval_id, "Index": result.index}

    on_put = on_post


class ClientAllocSignalResource(Resource):
    """POST /v1/client/allocation/:id/signal {"Task": "...", "Signal": "SIGHUP"}."""

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      alloc_id: str) -> None:
        body = await read_object(req, required=False)
        signal = body.get("Signal") or "SIGKILL"
        task = body.get("Task") or None
        if not isinstance(signal, str) or (task is not None and not isinstance(task, str)):
            raise BadRequest("Signal and Task must be strings")
        client = await self.client_for(req, resp, alloc_id, body)
        if client is None:
            return
        await asyncio.to_thread(client.signal_task, alloc_id, task, signal)
        resp.media = {}

    on_put = on_post


class ClientAllocRestartResource(Resource):
    """POST /v1/client/allocation/:id/restart {"TaskName": "..."}."""

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      alloc_id: str) -> None:
        body = await read_object(req, required=False)
        task = body.get("TaskName") or None
        client = await self.client_for(req, resp, alloc_id, body)
        if client is None:
            return
        await asyncio.to_thread(client.restart_alloc, alloc_id, task)
        resp.media = {}

    on_put = on_post


class ClientAllocStatsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     alloc_id: str) -> None:
        client = await self.client_for(req, resp, alloc_id)
        if client is None:
            return
        resp.media = await asyncio.to_thread(client.alloc_stats, alloc_id)


class ClientAllocGCResource(Resource):
    """GET /v1/client/allocation/:id/gc: destroy a (terminal) allocation's directory now."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     alloc_id: str) -> None:
        client = await self.client_for(req, resp, alloc_id)
        if client is None:
            return
        await asyncio.to_thread(client.gc_alloc, alloc_id)
        resp.media = {}


class ClientAllocChecksResource(Resource):
    """GET /v1/client/allocation/:id/checks: the latest result of each of the
    allocation's Nomad service checks, by check ID (answered by the client that runs
    it; ``{}`` when it has none)."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     alloc_id: str) -> None:
        client = await self.client_for(req, resp, alloc_id)
        if client is None:
            return
        results = await asyncio.to_thread(client.alloc_checks, alloc_id)
        resp.media = {check_id: check_result_json(result)
                      for check_id, result in results.items()}
