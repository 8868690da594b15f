"""The agent RPC endpoints served on the rpc port (see :mod:`nomadjail.api.rpc`).

Clients register, heartbeat, watch their allocations and report task states
here.  Each call is authenticated by the node's SecretID in ``X-Nomad-Token``;
the server checks it.
"""

from __future__ import annotations

import asyncio

import falcon.asgi

from ..api import rpc
from ..state import Table
from ..structs import Allocation, BadRequest, Node, from_api, to_api
from .agent_api import AgentAPI
from .body import read_object
from .query import query_options, set_meta
from .resource import Resource


def _secret(req: falcon.asgi.Request) -> str:
    return req.get_header("X-Nomad-Token") or ""


def _string(body: dict, key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"missing {key}: expected a non-empty string")
    return value


class NodeRegisterRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await read_object(req)
        if body.get("Node") is None:
            raise BadRequest("missing node for client registration")
        node = from_api(Node, body["Node"], "Node")
        server = self.agent.require_server()
        result = await asyncio.to_thread(server.node_register, node)
        resp.media = result.to_api()


class NodeUpdateStatusRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await read_object(req)
        server = self.agent.require_server()
        result = await asyncio.to_thread(server.node_update_status, _string(body, "NodeID"),
                                         _secret(req), _string(body, "Status"))
        resp.media = result.to_api()


class NodeGetClientAllocsRPC(Resource):
    """Blocking: answers when allocations changed past ``index`` or ``wait`` ran out."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        node_id = req.get_param("node_id") or ""
        if not node_id:
            raise BadRequest("missing node_id")
        server = self.agent.require_server()
        opts = query_options(req)
        secret = _secret(req)
        # Authenticate before parking the request.
        await asyncio.to_thread(server.client_allocs, node_id, secret)
        if opts.min_index > 0:
            snap = await server.state.wait_for_async(opts.min_index, (Table.ALLOCS,), opts.wait)
            index = snap.index(Table.ALLOCS)
        else:
            index = server.state.index(Table.ALLOCS)
        allocs = await asyncio.to_thread(server.client_allocs, node_id, secret)
        resp.media = {"Allocs": allocs, "Index": max(index, 1)}
        set_meta(resp, index)


class AllocGetAllocsRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await read_object(req)
        ids = body.get("AllocIDs")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise BadRequest("AllocIDs must be a list of allocation IDs")
        node_id = _string(body, "NodeID")
        server = self.agent.require_server()
        allocs = await asyncio.to_thread(server.get_allocs, node_id, _secret(req), ids)
        resp.media = {"Allocs": [to_api(a) for a in allocs],
                      "Index": server.state.index(Table.ALLOCS)}


class NodeUpdateAllocRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await read_object(req)
        raw = body.get("Alloc")
        if not isinstance(raw, list):
            raise BadRequest("Alloc must be a list of allocations")
        allocs = [from_api(Allocation, a, f"Alloc[{i}]") for i, a in enumerate(raw)]
        server = self.agent.require_server()
        index = await asyncio.to_thread(server.node_update_allocs, _string(body, "NodeID"),
                                        _secret(req), allocs)
        resp.media = {"Index": index}


def add_routes(app: falcon.asgi.App, agent: AgentAPI) -> None:
    app.add_route(rpc.rpc_path(rpc.NODE_REGISTER), NodeRegisterRPC(agent))
    app.add_route(rpc.rpc_path(rpc.NODE_UPDATE_STATUS), NodeUpdateStatusRPC(agent))
    app.add_route(rpc.rpc_path(rpc.NODE_GET_CLIENT_ALLOCS), NodeGetClientAllocsRPC(agent))
    app.add_route(rpc.rpc_path(rpc.ALLOC_GET_ALLOCS), AllocGetAllocsRPC(agent))
    app.add_route(rpc.rpc_path(rpc.NODE_UPDATE_ALLOC), NodeUpdateAllocRPC(agent))
