"""The base of every API resource: the agent, and a consistent blocking read."""

from __future__ import annotations

import falcon.asgi

from ..state import StateSnapshot, Table
from .agent_api import AgentAPI
from .query import QueryOptions, blocking_snapshot, query_options, set_meta


class Resource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def read(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                   *tables: Table) -> tuple[StateSnapshot, QueryOptions]:
        """The snapshot to answer from (after a blocking wait when ``?index`` asks for
        one), with the X-Nomad-* headers for ``tables`` already set."""
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        snap = await blocking_snapshot(server.state, opts, tables)
        set_meta(resp, snap.index(*tables))
        return snap, opts
