"""/v1/deployments and /v1/deployment/:id (read-only for now)."""

from __future__ import annotations

import falcon.asgi

from ..state import Table
from ..structs import NotFound, to_api
from .agent_api import AgentAPI
from .query import blocking_snapshot, query_options, set_meta


class DeploymentsResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        snap = await blocking_snapshot(server.state, opts, (Table.DEPLOYMENTS,))
        resp.media = [to_api(d) for d in snap.deployments(opts.prefix)]
        set_meta(resp, snap.index(Table.DEPLOYMENTS))


class DeploymentResource:
    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     deployment_id: str) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        snap = await blocking_snapshot(server.state, opts, (Table.DEPLOYMENTS,))
        deployment = snap.deployment_by_id(deployment_id)
        set_meta(resp, snap.index(Table.DEPLOYMENTS))
        if deployment is None:
            raise NotFound("deployment not found")
        resp.media = to_api(deployment)
