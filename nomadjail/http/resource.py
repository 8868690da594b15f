"""The base of every API resource: the agent, and Nomad's read semantics.

Reads follow Nomad's rules: without ``?stale`` they need a known leader (else
500 "No cluster leader", never a silently empty answer from a server that has
not caught up); ``X-Nomad-KnownLeader`` tells the truth; a single object's
``X-Nomad-Index`` is its own ``ModifyIndex`` and a blocking query on it wakes
only when that object changes, as Nomad's ``Job.GetJob`` & co. do.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any, TypeVar

import falcon.asgi

from ..client.client import Client
from ..server import Server, StateSnapshot, Table
from ..structs import NotFound, Unavailable
from .agent_api import AgentAPI
from .forward import node_auth, proxy, was_forwarded
from .query import QueryOptions, blocking_snapshot, query_options, set_meta

T = TypeVar("T")


class Resource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    def _server(self, opts: QueryOptions) -> tuple[Server, bool]:
        server = self.agent.require_server()
        known = server.known_leader()
        if not known and not opts.stale:
            raise Unavailable("No cluster leader")
        return server, known

    def _successor(self, server: Server) -> Server | None:
        """The server a blocking query parked on ``server`` goes on waiting on once
        ``server``'s store was closed: the agent's new server when ``server`` was the
        stand-in of a Consul-joining server (see :mod:`nomadjail.agent.agent`);
        None when the query should answer now (shutdown, nothing to switch to)."""
        if not server.state.closed or self.agent.shutting_down:
            return None
        current = self.agent.server
        return current if current is not None and current is not server else None

    async def read(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                   *tables: Table) -> tuple[StateSnapshot, QueryOptions]:
        """The snapshot to answer a list from (after a blocking wait when ``?index``
        asks for one), with the X-Nomad-* headers for ``tables`` set."""
        opts = query_options(req, self.agent.region)
        server, known = self._server(opts)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + opts.wait + random.uniform(0, opts.wait / 16)
        while True:
            snap = await blocking_snapshot(server.state, opts, tables,
                                           timeout=max(0.0, deadline - loop.time()))
            successor = self._successor(server)
            if successor is None or snap.index(*tables) > opts.min_index \
                    or deadline <= loop.time():
                break
            server, known = successor, successor.known_leader()
        set_meta(resp, snap.index(*tables), known_leader=known)
        return snap, opts

    async def read_one(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, table: Table,
                       fetch: Callable[[StateSnapshot, QueryOptions], T | None]
                       ) -> tuple[T | None, QueryOptions]:
        """One object (or None), waiting for *it* to change past ``?index``; the index
        header is its ModifyIndex (the table's index when it does not exist)."""
        opts = query_options(req, self.agent.region)
        server, known = self._server(opts)
        store = server.state
        loop = asyncio.get_running_loop()
        deadline = loop.time() + opts.wait + random.uniform(0, opts.wait / 16)
        snap = store.snapshot()
        while True:
            obj = fetch(snap, opts)
            index = _modify_index(obj) if obj is not None else snap.index(table)
            remaining = deadline - loop.time()
            if opts.min_index <= 0 or index > opts.min_index or remaining <= 0 \
                    or self.agent.shutting_down:
                break
            if store.closed:
                successor = self._successor(server)
                if successor is None:
                    break
                server, known = successor, successor.known_leader()
                store = server.state
                snap = store.snapshot()
                continue
            snap = await store.wait_for_async(snap.index(table), (table,), remaining)
        set_meta(resp, index, known_leader=known)
        return obj, opts

    async def client_for(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                         alloc_id: str, body: Any = None) -> Client | None:
        """The local client when it runs ``alloc_id``; otherwise the request (with
        ``body``, when the handler already read it) is sent on to the agent that does,
        and None is returned: the response is already set."""
        client = self.agent.client
        if client is not None and client.alloc_runner(alloc_id) is not None:
            return client
        unknown = NotFound(f'Unknown allocation "{alloc_id}"')
        if was_forwarded(req):
            raise unknown
        server = self.agent.server
        if server is None:
            await self.forward_to_server(req, resp, body)
            return None
        alloc = server.state.alloc_by_id(alloc_id)
        if alloc is None:
            raise unknown
        node = server.state.node_by_id(alloc.node_id)
        if node is None or not node.http_addr:
            raise Unavailable(f"allocation {alloc_id!r} runs on node {alloc.node_id!r}, "
                              "whose HTTP address is unknown")
        if client is not None and node.id == client.node_id:
            raise unknown  # ours, but gone from this client (garbage collected)
        await proxy(req, resp, node.http_addr, body=body)
        return None

    async def forward_to_server(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                                body: Any = None) -> None:
        """A client-only agent passes a request to one of its servers (rpc port,
        authenticated as this node)."""
        client = self.agent.require_client()
        servers = client.servers()
        if not servers:
            raise Unavailable("no servers known to forward the request to")
        node = client.node()
        await proxy(req, resp, servers[0], body=body,
                    headers=node_auth(node.id, node.secret_id))


def _modify_index(obj: Any) -> int:
    return int(getattr(obj, "modify_index", 0))
