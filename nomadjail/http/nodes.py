"""/v1/nodes and /v1/node/:id/... — list, read, drain, eligibility."""

from __future__ import annotations

import asyncio

import falcon.asgi

from ..server import Table
from ..structs import BadRequest, DrainStrategy, NotFound, from_api, to_api
from .body import read_object
from .query import bool_param, paginate, set_index
from .resource import Resource
from .stubs import node_stub, public_node

NODE_NOT_FOUND = "node not found"


class NodesResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resources = bool_param(req, "resources")
        os_attr = bool_param(req, "os")
        snap, opts = await self.read(req, resp, Table.NODES)
        nodes = paginate(snap.nodes(opts.prefix), opts, resp, lambda n: n.id)
        resp.media = [node_stub(n, resources=resources, os=os_attr) for n in nodes]


class NodeResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     node_id: str) -> None:
        node, _ = await self.read_one(req, resp, Table.NODES,
                                      lambda snap, opts: snap.node_by_id(node_id))
        if node is None:
            raise NotFound(NODE_NOT_FOUND)
        resp.media = public_node(node)


class NodeAllocationsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     node_id: str) -> None:
        snap, opts = await self.read(req, resp, Table.ALLOCS)
        # An unknown node simply has no allocations (Nomad's Node.GetAllocs answers []).
        allocs = sorted(snap.allocs_by_node(node_id), key=lambda a: (-a.create_index, a.id))
        resp.media = [to_api(a) for a in allocs]


class NodeDrainResource(Resource):
    """POST /v1/node/:id/drain {"DrainSpec": {"Deadline": ns, "IgnoreSystemJobs": b} | null,
    "MarkEligible": bool, "Meta": {"k": "v"} | null}."""

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      node_id: str) -> None:
        body = await read_object(req)
        spec = body.get("DrainSpec")
        strategy = from_api(DrainStrategy, spec, "DrainSpec") if spec is not None else None
        meta = body.get("Meta")
        if meta is not None and not isinstance(meta, dict):
            raise BadRequest(f"Meta: expected an object of strings, got {type(meta).__name__}")
        for key, value in (meta or {}).items():
            if not isinstance(value, str):
                raise BadRequest(f"Meta.{key}: expected a string, got {type(value).__name__}")
        server = self.agent.require_server()
        index = await asyncio.to_thread(server.drain_node, node_id, strategy,
                                        mark_eligible=bool(body.get("MarkEligible")),
                                        meta=meta or None)
        set_index(resp, index)
        resp.media = {"NodeModifyIndex": index, "EvalIDs": None, "EvalCreateIndex": 0,
                      "Index": index}

    on_put = on_post


class NodeEligibilityResource(Resource):
    """POST /v1/node/:id/eligibility {"Eligibility": "eligible" | "ineligible"}."""

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
