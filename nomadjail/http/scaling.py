"""/v1/job/:id/scale and /v1/scaling/policies, /v1/scaling/policy/:id.

Thin: decode the ScalingRequest, call the server's Job.Scale, and shape the
stored policies as Nomad does; the rules live in :mod:`nomadjail.server.job_scale`.
"""

from __future__ import annotations

import asyncio

import falcon.asgi

from ..server import Table
from ..server.job_scale import ScalingRequest, scale_status, scaling_policies, scaling_policy
from ..structs import NotFound, from_api, to_api
from .body import read_object
from .query import query_options, set_index
from .resource import Resource


class JobScaleResource(Resource):
    """GET: Nomad's JobScaleStatus.  POST/PUT: a ScalingRequest
    {Count, Target{Group}, Message, Error, Meta, PolicyOverride}."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     job_id: str) -> None:
        snap, opts = await self.read(req, resp, Table.JOBS, Table.ALLOCS, Table.DEPLOYMENTS)
        status = scale_status(snap, opts.namespace, job_id)
        if status is None:
            raise NotFound("job not found")
        resp.media = status

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      job_id: str) -> None:
        request = from_api(ScalingRequest, await read_object(req), "body")
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        result = await asyncio.to_thread(server.scaling.scale, opts.namespace, job_id, request)
        set_index(resp, result.index)
        resp.media = result.to_api()

    on_put = on_post


class ScalingPoliciesResource(Resource):
    """GET /v1/scaling/policies[?job=&type=]: Nomad's ScalingPolicyListStub list."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        snap, opts = await self.read(req, resp, Table.JOBS)
        namespace = None if opts.all_namespaces else opts.namespace
        policies = scaling_policies(snap, namespace, req.get_param("job") or "",
                                    req.get_param("type") or "")
        resp.media = [p.list_stub() for p in policies]


class ScalingPolicyResource(Resource):
    """GET /v1/scaling/policy/:id: one ScalingPolicy."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     policy_id: str) -> None:
        snap, _ = await self.read(req, resp, Table.JOBS)
        policy = scaling_policy(snap, policy_id)
        if policy is None:
            raise NotFound("Scaling policy not found")
        resp.media = to_api(policy)
