"""/v1/nodes and /v1/node/:id/... — list, read, drain, eligibility."""

from __future__ import annotations

import asyncio

import falcon.asgi

from ..state import Table
from ..structs import BadRequest, DrainStrategy, NotFound, from_api, to_api
from .agent_api import AgentAPI
from .body import read_object
from .query import blocking_snapshot, bool_param, query_options, set_index, set_meta
from .stubs import node_stub, public_node

NODE_NOT_FOUND = "node not found"


class NodesResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        resources = bool_param(req, "resources")
        os_attr = bool_param(req, "os")
        snap = await blocking_snapshot(server.state, opts, (Table.NODES,))
        resp.media = [node_stub(n, resources=resources, os=os_attr)
                      for n in snap.nodes(opts.prefix)]
        set_meta(resp, snap.index(Table.NODES))


class NodeResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     node_id: str) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        snap = await blocking_snapshot(server.state, opts, (Table.NODES,))
        node = snap.node_by_id(node_id)
        set_meta(resp, snap.index(Table.NODES))
        if node is None:
            raise NotFound(NODE_NOT_FOUND)
        resp.media = public_node(node)


class NodeAllocationsResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     node_id: str) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        snap = await blocking_snapshot(server.state, opts, (Table.ALLOCS,))
        if snap.node_by_id(node_id) is None:
            raise NotFound(NODE_NOT_FOUND)
        allocs = sorted(snap.allocs_by_node(node_id), key=lambda a: (-a.create_index, a.id))
        resp.media = [to_api(a) for a in allocs]
        set_meta(resp, snap.index(Table.ALLOCS))


class NodeDrainResource:
    """POST /v1/node/:id/drain {"DrainSpec": {"Deadline": ns, "IgnoreSystemJobs": b} | null,
    "MarkEligible": bool}."""

    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      node_id: str) -> None:
        body = await read_object(req)
        spec = body.get("DrainSpec")
        strategy = from_api(DrainStrategy, spec, "DrainSpec") if spec is not None else None
        server = self.agent.require_server()
        index = await asyncio.to_thread(server.drain_node, node_id, strategy,
                                        mark_eligible=bool(body.get("MarkEligible")))
        set_index(resp, index)
        resp.media = {"NodeModifyIndex": index, "EvalIDs": None, "EvalCreateIndex": 0,
                      "Index": index}

    on_put = on_post


class NodeEligibilityResource:
    """POST /v1/node/:id/eligibility {"Eligibility": "eligible" | "ineligible"}."""

    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      node_id: str) -> None:
        body = await read_object(req)
        eligibility = body.get("Eligibility")
        if eligibility not in ("eligible", "ineligible"):
            raise BadRequest(f"invalid scheduling eligibility {eligibility!r}: expected "
                             "\"eligible\" or \"ineligible\"")
        server = self.agent.require_server()
        index = await asyncio.to_thread(server.set_node_eligibility, node_id,
                                        eligibility == "eligible")
        set_index(resp, index)
        resp.media = {"NodeModifyIndex": index, "EvalIDs": None, "EvalCreateIndex": 0,
                      "Index": index}

    on_put = on_post
