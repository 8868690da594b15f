"""/v1/allocations, /v1/allocation/:id and the client-side alloc actions."""

from __future__ import annotations

import asyncio

import falcon.asgi

from ..state import Table
from ..structs import BadRequest, NotFound
from .agent_api import AgentAPI
from .body import read_object
from .query import blocking_snapshot, bool_param, query_options, set_index, set_meta
from .stubs import alloc_stub, public_alloc

ALLOC_NOT_FOUND = "alloc not found"


class AllocationsResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        resources = bool_param(req, "resources")
        task_states = bool_param(req, "task_states", default=True)
        snap = await blocking_snapshot(server.state, opts, (Table.ALLOCS,))
        namespace = None if opts.all_namespaces else opts.namespace
        resp.media = [alloc_stub(a, resources=resources, task_states=task_states)
                      for a in snap.allocs(namespace, opts.prefix)]
        set_meta(resp, snap.index(Table.ALLOCS))


class AllocationResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     alloc_id: str) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        snap = await blocking_snapshot(server.state, opts, (Table.ALLOCS,))
        alloc = snap.alloc_by_id(alloc_id)
        set_meta(resp, snap.index(Table.ALLOCS))
        if alloc is None:
            raise NotFound(ALLOC_NOT_FOUND)
        resp.media = public_alloc(alloc)


class AllocationStopResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      alloc_id: str) -> None:
        server = self.agent.require_server()
        result = await asyncio.to_thread(server.stop_alloc, alloc_id)
        set_index(resp, result.index)
        resp.media = {"EvalID": result.eval_id, "Index": result.index}

    on_put = on_post


class ClientAllocSignalResource:
    """POST /v1/client/allocation/:id/signal {"Task": "...", "Signal": "SIGHUP"}."""

    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      alloc_id: str) -> None:
        body = await read_object(req, required=False)
        signal = body.get("Signal") or "SIGKILL"
        task = body.get("Task") or None
        if not isinstance(signal, str) or (task is not None and not isinstance(task, str)):
            raise BadRequest("Signal and Task must be strings")
        client = self.agent.require_client()
        await asyncio.to_thread(client.signal_task, alloc_id, task, signal)
        resp.media = {}

    on_put = on_post


class ClientAllocRestartResource:
    """POST /v1/client/allocation/:id/restart {"TaskName": "..."}."""

    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      alloc_id: str) -> None:
        body = await read_object(req, required=False)
        task = body.get("TaskName") or None
        client = self.agent.require_client()
        await asyncio.to_thread(client.restart_alloc, alloc_id, task)
        resp.media = {}

    on_put = on_post


class ClientAllocStatsResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     alloc_id: str) -> None:
        client = self.agent.require_client()
        resp.media = await asyncio.to_thread(client.alloc_stats, alloc_id)
