"""/v1/deployments and /v1/deployment/:id (read-only for now)."""

from __future__ import annotations

import falcon.asgi

from ..server import Table
from ..structs import NotFound, to_api
from .query import paginate
from .resource import Resource


class DeploymentsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        snap, opts = await self.read(req, resp, Table.DEPLOYMENTS)
        deployments = paginate(snap.deployments(opts.prefix), opts, resp, lambda d: d.id)
        resp.media = [to_api(d) for d in deployments]


class DeploymentResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     deployment_id: str) -> None:
        deployment, _ = await self.read_one(
            req, resp, Table.DEPLOYMENTS,
            lambda snap, opts: snap.deployment_by_id(deployment_id))
        if deployment is None:
            raise NotFound("deployment not found")
        resp.media = to_api(deployment)
