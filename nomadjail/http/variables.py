"""Nomad Variables over HTTP.

* ``GET /v1/vars`` -- the metadata of the variables under ``?prefix=`` (``?namespace=*``
  for every namespace; ``per_page``/``next_token`` paging), a blocking query on the
  variables table;
* ``GET /v1/var/<path>`` -- one variable with its items (404 "variable not found"); a
  blocking query wakes when *it* changes;
* ``PUT /v1/var/<path>`` -- store it (body: Nomad's Variable JSON; ``?cas=<index>``
  checks its ModifyIndex first, 0 meaning "must not exist").  A failed check answers
  409 with the *current* variable as its body, as Nomad does;
* ``DELETE /v1/var/<path>`` -- remove it (``?cas=`` as for PUT), 204.

Nomad's lock operations (``?lock-acquire``, ``?lock-renew``, ``?lock-release``) are
refused with a 400 saying so: they are not built yet.
"""

from __future__ import annotations

import asyncio

import falcon
import falcon.asgi

from ..server import Table
from ..structs import BadRequest, NotFound, from_api, to_api
from ..structs.variables import Variable
from .agent_api import AgentAPI
from .body import read_object
from .query import paginate, set_index
from .resource import Resource

LOCK_OPERATIONS = ("lock-acquire", "lock-renew", "lock-release")


def _cas(req: falcon.asgi.Request) -> int | None:
    raw = req.get_param("cas")
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest(f"can not parse cas: {raw!r} is not an unsigned integer")
    return int(raw)


def _path(path: str) -> str:
    if not path:
        raise BadRequest("missing variable path")
    return path


def _refuse_locks(req: falcon.asgi.Request) -> None:
    asked = [op for op in LOCK_OPERATIONS if op in req.params]
    if asked:
        raise BadRequest(f"variable lock operations ({', '.join(asked)}) are not supported "
                         "by nomadjail yet")


class VariablesResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        snap, opts = await self.read(req, resp, Table.VARIABLES)
        server = self.agent.require_server()
        namespace = None if opts.all_namespaces else opts.namespace
        found = server.variables.list_metadata(snap, namespace, opts.prefix)
        found = paginate(found, opts, resp, lambda var: f"{var.namespace}.{var.path}"
                         if opts.all_namespaces else var.path)
        resp.media = [to_api(var) for var in found]


class VariablePaths(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     path: str) -> None:
        path = _path(path)
        sealed, opts = await self.read_one(
            req, resp, Table.VARIABLES,
            lambda snap, opts: snap.variables.get(opts.namespace, path))
        if sealed is None:
            raise NotFound("variable not found")
        server = self.agent.require_server()
        resp.media = to_api(await asyncio.to_thread(server.variables.opened, sealed))

    async def on_put(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     path: str) -> None:
        path = _path(path)
        _refuse_locks(req)
        cas = _cas(req)
        body = await read_object(req)
        if not isinstance(body.get("Items"), dict) or not body["Items"]:
            raise BadRequest("variable missing required Items object")
        var = from_api(Variable, body, "Variable")
        asked = req.get_param("namespace") or ""
        if asked and var.namespace and asked != var.namespace:
            raise BadRequest(f"the body's Namespace {var.namespace!r} is not the namespace "
                             f"{asked!r} of the request")
        var.namespace = asked or var.namespace
        var.path = path
        server = self.agent.require_server()
        result = await asyncio.to_thread(server.variables.apply, var, cas_index=cas)
        if result.conflict is not None:
            set_index(resp, result.conflict.modify_index)
            resp.status = falcon.HTTP_409
            resp.media = to_api(result.conflict)
            return
        set_index(resp, result.index)
        resp.media = to_api(result.output) if result.output is not None else None

    on_post = on_put

    async def on_delete(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                        path: str) -> None:
        path = _path(path)
        _refuse_locks(req)
        cas = _cas(req)
        server = self.agent.require_server()
        result = await asyncio.to_thread(server.variables.delete,
                                         req.get_param("namespace") or "", path, cas_index=cas)
        if result.conflict is not None:
            set_index(resp, result.conflict.modify_index)
            resp.status = falcon.HTTP_409
            resp.media = to_api(result.conflict)
            return
        set_index(resp, result.index)
        resp.status = falcon.HTTP_204


def add_routes(app: falcon.asgi.App, agent: AgentAPI) -> None:
    app.add_route("/v1/vars", VariablesResource(agent))
    app.add_route("/v1/var/{path:path}", VariablePaths(agent))
