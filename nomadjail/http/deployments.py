"""/v1/deployments and /v1/deployment/... -- read deployments, and promote,
pause/resume, fail and set allocation health (Nomad's
command/agent/deployment_endpoint.go).

The write endpoints take ``PUT`` or ``POST`` with Nomad's bodies
(``{"DeploymentID": ..., "All": true}``, ``{"DeploymentID": ..., "Pause":
true}``, ``{"DeploymentID": ..., "HealthyAllocationIDs": [...]}``); the body's
``DeploymentID`` must be the one in the path.  They answer Nomad's
DeploymentUpdateResponse (``EvalID``, ``EvalCreateIndex``,
``DeploymentModifyIndex``, ``RevertedJobVersion``, ``Index``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import falcon.asgi

from ..server import Table
from ..server.deployment_endpoint import (
    DEPLOYMENT_NOT_FOUND,
    DeploymentEndpoint,
    DeploymentUpdateResult,
)
from ..structs import BadRequest, NotFound, from_api, to_api
from ..structs.codec import field
from .body import read_object
from .query import paginate, set_index
from .resource import Resource
from .stubs import alloc_stub


class _HasDeploymentID(Protocol):
    deployment_id: str


B = TypeVar("B", bound=_HasDeploymentID)


@dataclass(slots=True)
class PromoteBody:
    deployment_id: str = ""
    all: bool = False
    groups: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PauseBody:
    deployment_id: str = ""
    pause: bool = False


@dataclass(slots=True)
class AllocHealthBody:
    deployment_id: str = ""
    healthy_allocation_ids: list[str] = field(default_factory=list)
    unhealthy_allocation_ids: list[str] = field(default_factory=list)


class DeploymentsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        snap, opts = await self.read(req, resp, Table.DEPLOYMENTS)
        found = snap.deployments(opts.prefix)
        if not opts.all_namespaces:
            found = [d for d in found if d.namespace == opts.namespace]
        deployments = paginate(found, opts, resp, lambda d: d.id)
        resp.media = [to_api(d) for d in deployments]


class DeploymentResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     deployment_id: str) -> None:
        deployment, _ = await self.read_one(
            req, resp, Table.DEPLOYMENTS,
            lambda snap, opts: snap.deployment_by_id(deployment_id))
        if deployment is None:
            raise NotFound(DEPLOYMENT_NOT_FOUND)
        resp.media = to_api(deployment)


class DeploymentAllocationsResource(Resource):
    """GET /v1/deployment/allocations/:id: the deployment's allocations (stubs);
    an unknown deployment has none."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     deployment_id: str) -> None:
        snap, _ = await self.read(req, resp, Table.ALLOCS)
        deployment = snap.deployment_by_id(deployment_id)
        allocs = [] if deployment is None else [
            a for a in snap.allocs_by_job(deployment.namespace, deployment.job_id)
            if a.deployment_id == deployment_id]
        allocs.sort(key=lambda a: (-a.create_index, a.id))
        resp.media = [alloc_stub(a) for a in allocs]


async def _body(req: falcon.asgi.Request, cls: type[B], deployment_id: str) -> B:
    """The request body decoded into ``cls``, naming the problem when it does
    not fit; its DeploymentID must match the path (Nomad's checks)."""
    body = from_api(cls, await read_object(req), "body")
    if not body.deployment_id:
        raise BadRequest("DeploymentID must be specified")
    if body.deployment_id != deployment_id:
        raise BadRequest(f"Deployment ID does not match: body has {body.deployment_id!r}, "
                         f"URL has {deployment_id!r}")
    return body


class _DeploymentWrite(Resource):
    """A POST/PUT that changes a deployment and answers DeploymentUpdateResponse."""

    async def commit(self, resp: falcon.asgi.Response,
                     action: Callable[[DeploymentEndpoint], DeploymentUpdateResult]) -> None:
        endpoint = self.agent.require_server().deployments
        result = await asyncio.to_thread(action, endpoint)
        set_index(resp, result.index)
        resp.media = result.to_api()


class DeploymentPromoteResource(_DeploymentWrite):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      deployment_id: str) -> None:
        body = await _body(req, PromoteBody, deployment_id)
        await self.commit(resp, lambda endpoint: endpoint.promote(
            deployment_id, all_groups=body.all, groups=body.groups))

    on_put = on_post


class DeploymentPauseResource(_DeploymentWrite):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      deployment_id: str) -> None:
        body = await _body(req, PauseBody, deployment_id)
        await self.commit(resp, lambda endpoint: endpoint.pause(deployment_id, body.pause))

    on_put = on_post


class DeploymentFailResource(_DeploymentWrite):
    """Nomad reads no body here (its Go client sends the ID anyway)."""

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      deployment_id: str) -> None:
        await self.commit(resp, lambda endpoint: endpoint.fail(deployment_id))

    on_put = on_post


class DeploymentAllocHealthResource(_DeploymentWrite):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      deployment_id: str) -> None:
        body = await _body(req, AllocHealthBody, deployment_id)
        await self.commit(resp, lambda endpoint: endpoint.set_alloc_health(
            deployment_id, body.healthy_allocation_ids, body.unhealthy_allocation_ids))

    on_put = on_post


def add_routes(app: falcon.asgi.App, agent: Any) -> None:
    """The deployment routes (the action paths before the catch-all ``/:id``)."""
    app.add_route("/v1/deployments", DeploymentsResource(agent))
    app.add_route("/v1/deployment/allocations/{deployment_id}",
                  DeploymentAllocationsResource(agent))
    app.add_route("/v1/deployment/promote/{deployment_id}", DeploymentPromoteResource(agent))
    app.add_route("/v1/deployment/pause/{deployment_id}", DeploymentPauseResource(agent))
    app.add_route("/v1/deployment/fail/{deployment_id}", DeploymentFailResource(agent))
    app.add_route("/v1/deployment/allocation-health/{deployment_id}",
                  DeploymentAllocHealthResource(agent))
    app.add_route("/v1/deployment/{deployment_id}", DeploymentResource(agent))
