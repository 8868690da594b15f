"""The agent RPC endpoints served on the rpc port (see :mod:`nomadjail.api.rpc`).

Clients register, heartbeat, watch their allocations, report task states and
register the instances of their ``provider = "nomad"`` services here.  Each
call is authenticated by the node's SecretID in ``X-Nomad-Token``; the server
checks it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import falcon.asgi

from ..api import rpc
from ..server import Server, Table
from ..server.heartbeat import NotLeaderForHeartbeats
from ..server.service_registration_endpoint import choose, list_services, parse_choose
from ..server.variables_endpoint import WorkloadIdentity
from ..structs import DEFAULT_NAMESPACE, BadRequest, Unavailable, from_api, to_api
from ..structs.rpc import (
    AllocGetAllocsRequest,
    AllocGetAllocsResponse,
    IndexResponse,
    NodeClientAllocsResponse,
    NodeRegisterRequest,
    NodeUpdateAllocRequest,
    NodeUpdateStatusRequest,
    ServiceRegistrationDeleteByIDRequest,
    ServiceRegistrationGetServiceResponse,
    ServiceRegistrationListResponse,
    ServiceRegistrationUpsertRequest,
    VariablesListResponse,
    VariablesReadResponse,
)
from .agent_api import AgentAPI
from .body import read_object
from .forward import proxy
from .query import blocking_snapshot, query_options, set_meta
from .resource import Resource

T = TypeVar("T")

# Client RPCs run on threads of their own: a burst of slow API calls (a restart waiting
# out a kill timeout, a big plan) must never delay heartbeats until nodes are marked down.
RPC_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="rpc")


async def _call(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(RPC_THREADS, functools.partial(
        fn, *args))


def _secret(req: falcon.asgi.Request) -> str:
    return req.get_header("X-Nomad-Token") or ""


def _required(value: str, key: str) -> str:
    if not value:
        raise BadRequest(f"missing {key}: expected a non-empty string")
    return value


async def _on_leader(req: falcon.asgi.Request, resp: falcon.asgi.Response, body: dict,
                     server: Server, call: Callable[[], Any]) -> None:
    """Run a leader-only RPC here, or pass it to the leader when this server follows
    (heartbeat timers live on the leader)."""
    try:
        resp.media = to_api(await _call(call))
    except NotLeaderForHeartbeats:
        leader = server.leader_rpc_addr()
        if not leader:
            raise Unavailable("No cluster leader") from None
        await proxy(req, resp, leader, body=body)


class NodeRegisterRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await read_object(req)
        request = from_api(NodeRegisterRequest, body, rpc.NODE_REGISTER)
        if request.node is None:
            raise BadRequest("missing node for client registration")
        node = request.node
        server = self.agent.require_server()
        await _on_leader(req, resp, body, server, lambda: server.node_register(node))


class NodeUpdateStatusRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await read_object(req)
        request = from_api(NodeUpdateStatusRequest, body, rpc.NODE_UPDATE_STATUS)
        node_id = _required(request.node_id, "NodeID")
        status = _required(request.status, "Status")
        secret = _secret(req)
        server = self.agent.require_server()
        await _on_leader(req, resp, body, server,
                         lambda: server.node_update_status(node_id, secret, status))


class NodeGetClientAllocsRPC(Resource):
    """Blocking: answers when allocations changed past ``index`` or ``wait`` ran out."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        node_id = _required(req.get_param("node_id") or "", "node_id")
        server = self.agent.require_server()
        opts = query_options(req)
        secret = _secret(req)
        # Authenticate before parking the request.
        await _call(server.client_allocs, node_id, secret)
        snap = await blocking_snapshot(server.state, opts, (Table.ALLOCS,))
        index = snap.index(Table.ALLOCS)
        allocs = await _call(server.client_allocs, node_id, secret)
        resp.media = to_api(NodeClientAllocsResponse(allocs=allocs, index=max(index, 1)))
        set_meta(resp, index)


class AllocGetAllocsRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        request = from_api(AllocGetAllocsRequest, await read_object(req), rpc.ALLOC_GET_ALLOCS)
        node_id = _required(request.node_id, "NodeID")
        server = self.agent.require_server()
        allocs = await _call(server.get_allocs, node_id, _secret(req), request.alloc_ids)
        resp.media = to_api(AllocGetAllocsResponse(allocs=allocs,
                                                   index=server.state.index(Table.ALLOCS)))


class NodeUpdateAllocRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        request = from_api(NodeUpdateAllocRequest, await read_object(req), rpc.NODE_UPDATE_ALLOC)
        node_id = _required(request.node_id, "NodeID")
        server = self.agent.require_server()
        index = await _call(server.node_update_allocs, node_id, _secret(req), request.alloc)
        resp.media = to_api(IndexResponse(index=index))


class ServiceRegistrationUpsertRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        request = from_api(ServiceRegistrationUpsertRequest, await read_object(req),
                           rpc.SERVICE_REGISTRATION_UPSERT)
        server = self.agent.require_server()
        index = await _call(server.upsert_service_registrations, _secret(req),
                            request.services)
        resp.media = to_api(IndexResponse(index=index))


class ServiceRegistrationDeleteByIDRPC(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        request = from_api(ServiceRegistrationDeleteByIDRequest, await read_object(req),
                           rpc.SERVICE_REGISTRATION_DELETE_BY_ID)
        node_id = _required(request.node_id, "NodeID")
        reg_id = _required(request.id, "ID")
        server = self.agent.require_server()
        index = await _call(server.delete_service_registration_for_node, node_id,
                            _secret(req), request.namespace, reg_id)
        resp.media = to_api(IndexResponse(index=index))


class ServiceRegistrationGetServiceRPC(Resource):
    """Blocking: a service's instances, for templates' nomadService on a client."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        node_id = _required(req.get_param("node_id") or "", "node_id")
        name = _required(req.get_param("service_name") or "", "service_name")
        picked = req.get_param("choose") or ""
        if picked:
            parse_choose(picked)  # refuse a malformed one before waiting
        server = self.agent.require_server()
        opts = query_options(req)
        namespace = req.get_param("namespace") or DEFAULT_NAMESPACE
        await _call(server.authenticate_node, node_id, _secret(req))
        snap = await blocking_snapshot(server.state, opts, (Table.SERVICE_REGISTRATIONS,))
        index = max(snap.index(Table.SERVICE_REGISTRATIONS), 1)
        found = sorted(snap.service_registrations.by_service(namespace, name),
                       key=lambda reg: reg.id)
        if picked:
            found = choose(found, picked)
        resp.media = to_api(ServiceRegistrationGetServiceResponse(services=found, index=index))
        set_meta(resp, index)


class ServiceRegistrationListRPC(Resource):
    """Blocking: service names and tags, for templates' nomadServices on a client."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        node_id = _required(req.get_param("node_id") or "", "node_id")
        server = self.agent.require_server()
        opts = query_options(req)
        namespace = req.get_param("namespace") or DEFAULT_NAMESPACE
        await _call(server.authenticate_node, node_id, _secret(req))
        snap = await blocking_snapshot(server.state, opts, (Table.SERVICE_REGISTRATIONS,))
        index = max(snap.index(Table.SERVICE_REGISTRATIONS), 1)
        resp.media = to_api(ServiceRegistrationListResponse(
            services=list_services(snap, namespace), index=index))
        set_meta(resp, index)


class _WorkloadVariables(Resource):
    """Shared by Variables.Read and Variables.List: authenticate the node that runs the
    allocation, check the path, then (maybe) block."""

    async def _identify(self, req: falcon.asgi.Request, path: str | None = None
                        ) -> tuple[Server, WorkloadIdentity, str]:
        server = self.agent.require_server()
        alloc_id = _required(req.get_param("alloc_id") or "", "alloc_id")
        namespace = req.get_param("namespace") or DEFAULT_NAMESPACE
        who = await _call(server.variables.workload, _secret(req), alloc_id,
                          req.get_param("task") or "")
        if path is not None:
            server.variables.check_workload_path(who, namespace, path)
        elif namespace != who.namespace:
            server.variables.check_workload_path(who, namespace, "nomad/jobs")
        return server, who, namespace


class VariablesReadRPC(_WorkloadVariables):
    """Blocking on the variable itself: answers when its ModifyIndex (or, while it does
    not exist, the table's index) passes ``index``, or when ``wait`` ran out."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        path = _required(req.get_param("path") or "", "path")
        opts = query_options(req)
        server, _, namespace = await self._identify(req, path)
        store = server.state
        loop = asyncio.get_running_loop()
        deadline = loop.time() + opts.wait
        snap = store.snapshot()
        while True:
            sealed = snap.variables.get(namespace, path)
            index = sealed.modify_index if sealed is not None else snap.index(Table.VARIABLES)
            remaining = deadline - loop.time()
            if opts.min_index <= 0 or index > opts.min_index or remaining <= 0 \
                    or store.closed:
                break
            snap = await store.wait_for_async(snap.index(Table.VARIABLES), (Table.VARIABLES,),
                                              remaining)
        data = await _call(server.variables.opened, sealed) if sealed is not None else None
        resp.media = to_api(VariablesReadResponse(data=data, index=max(index, 1)))
        set_meta(resp, index)


class VariablesListRPC(_WorkloadVariables):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        opts = query_options(req)
        server, who, _ = await self._identify(req)
        snap = await blocking_snapshot(server.state, opts, (Table.VARIABLES,))
        index = snap.index(Table.VARIABLES)
        found = server.variables.workload_list(snap, who, opts.prefix)
        resp.media = to_api(VariablesListResponse(data=found, index=max(index, 1)))
        set_meta(resp, index)


def add_routes(app: falcon.asgi.App, agent: AgentAPI) -> None:
    app.add_route(rpc.rpc_path(rpc.NODE_REGISTER), NodeRegisterRPC(agent))
    app.add_route(rpc.rpc_path(rpc.NODE_UPDATE_STATUS), NodeUpdateStatusRPC(agent))
    app.add_route(rpc.rpc_path(rpc.NODE_GET_CLIENT_ALLOCS), NodeGetClientAllocsRPC(agent))
    app.add_route(rpc.rpc_path(rpc.ALLOC_GET_ALLOCS), AllocGetAllocsRPC(agent))
    app.add_route(rpc.rpc_path(rpc.NODE_UPDATE_ALLOC), NodeUpdateAllocRPC(agent))
    app.add_route(rpc.rpc_path(rpc.SERVICE_REGISTRATION_UPSERT),
                  ServiceRegistrationUpsertRPC(agent))
    app.add_route(rpc.rpc_path(rpc.SERVICE_REGISTRATION_DELETE_BY_ID),
                  ServiceRegistrationDeleteByIDRPC(agent))
    app.add_route(rpc.rpc_path(rpc.SERVICE_REGISTRATION_GET_SERVICE),
                  ServiceRegistrationGetServiceRPC(agent))
    app.add_route(rpc.rpc_path(rpc.SERVICE_REGISTRATION_LIST), ServiceRegistrationListRPC(agent))
    app.add_route(rpc.rpc_path(rpc.VARIABLES_READ), VariablesReadRPC(agent))
    app.add_route(rpc.rpc_path(rpc.VARIABLES_LIST), VariablesListRPC(agent))
