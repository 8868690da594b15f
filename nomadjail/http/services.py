"""Nomad's native service discovery over HTTP.

* ``GET /v1/services`` -- service names per namespace with their tags
  (``?namespace=*`` for all namespaces, ``?prefix=`` on the name);
* ``GET /v1/service/<name>`` -- the registered instances (``?tag=`` once per
  tag an instance must carry, ``?choose=<n>|<key>``, paging, all namespaces);
* ``DELETE /v1/service/<name>/<id>`` -- remove one instance by hand;
* ``GET /v1/allocation/<id>/services`` -- the instances of one allocation.

Every read is a blocking query on the service_registrations table's index,
as in Nomad.  ``/v1/service/...`` is split by hand, like Nomad's handler, so
its errors read the same: a GET with an ID is 405, a path with more parts 400.
"""

from __future__ import annotations

import asyncio

import falcon.asgi

from ..server import Table
from ..server.service_registration_endpoint import (
    choose,
    list_services,
    parse_choose,
    with_tags,
)
from ..structs import BadRequest, to_api
from .agent_api import AgentAPI
from .errors import HTTPCodedError
from .query import paginate, query_options, set_index
from .resource import Resource


def _invalid_method() -> HTTPCodedError:
    return HTTPCodedError(405, "Invalid method")


def _split(path: str) -> tuple[str, str | None]:
    """``<name>`` -> (name, None); ``<name>/<id>`` -> (name, id); else 400."""
    parts = path.split("/")
    if len(parts) > 2:
        raise BadRequest("invalid URI")
    return parts[0], (parts[1] if len(parts) == 2 else None)


class ServicesResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        snap, opts = await self.read(req, resp, Table.SERVICE_REGISTRATIONS)
        namespace = None if opts.all_namespaces else opts.namespace
        resp.media = [to_api(stub) for stub in list_services(snap, namespace, opts.prefix)]


class ServicePaths(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     path: str) -> None:
        name, reg_id = _split(path)
        if reg_id is not None:
            raise _invalid_method()
        if not name:
            raise BadRequest("missing service name")
        picked = req.get_param("choose") or ""
        if picked:
            parse_choose(picked)  # refuse a malformed one before waiting
        tags = req.get_param_as_list("tag") or []
        snap, opts = await self.read(req, resp, Table.SERVICE_REGISTRATIONS)
        namespace = None if opts.all_namespaces else opts.namespace
        found = with_tags(snap.service_registrations.by_service(namespace, name), tags)
        found = paginate(found, opts, resp, lambda reg: f"{reg.namespace}.{reg.id}")
        if picked:
            found = choose(found, picked)
        resp.media = [to_api(reg) for reg in found]

    async def on_delete(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                        path: str) -> None:
        name, reg_id = _split(path)
        if reg_id is None:
            raise _invalid_method()
        if not reg_id:
            raise BadRequest("missing service id")
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        index = await asyncio.to_thread(server.delete_service_registration, opts.namespace,
                                        name, reg_id)
        set_index(resp, index)


class AllocationServicesResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     alloc_id: str) -> None:
        snap, opts = await self.read(req, resp, Table.SERVICE_REGISTRATIONS)
        alloc = snap.alloc_by_id(alloc_id)
        if alloc is None or (not opts.all_namespaces and alloc.namespace != opts.namespace):
            resp.media = []  # Nomad answers an unknown allocation with no instances
            return
        resp.media = [to_api(reg) for reg in snap.service_registrations.of_alloc(alloc_id)]


def add_routes(app: falcon.asgi.App, agent: AgentAPI) -> None:
    app.add_route("/v1/services", ServicesResource(agent))
    app.add_route("/v1/service/{path:path}", ServicePaths(agent))
    app.add_route("/v1/allocation/{alloc_id}/services", AllocationServicesResource(agent))
