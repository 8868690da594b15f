"""/v1/deployments and /v1/deployment/:id (read-only for now)."""

from __future__ import annotations

import falcon.asgi

from ..state import Table
from ..structs import NotFound, to_api
from .resource import Resource


class DeploymentsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        snap, opts = await self.read(req, resp, Table.DEPLOYMENTS)
        resp.media = [to_api(d) for d in snap.deployments(opts.prefix)]


class DeploymentResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     deployment_id: str) -> None:
        snap, opts = await self.read(req, resp, Table.DEPLOYMENTS)
        deployment = snap.deployment_by_id(deployment_id)
        if deployment is None:
            raise NotFound("deployment not found")
        resp.media = to_api(deployment)
