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

Locks (``PUT /v1/var/<path>?lock-acquire|lock-renew|lock-release``, Nomad's): acquire
takes the Variable JSON with ``Lock {TTL, LockDelay}`` (Go durations such as ``"15s"``,
or nanoseconds) and answers the variable with its ``Lock.ID``; renew and release take
``Lock {ID}``.  Renew answers the variable's metadata; a lock held by someone else, or
an ID that does not hold it (any more), is a 409.  ``Lock`` durations are written as
Go durations, as Nomad's API shows them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import falcon
import falcon.asgi

from ..server import Table
from ..server.variables_endpoint import VariablesApplyResponse
from ..structs import BadRequest, NotFound, format_duration, from_api, parse_duration, to_api
from ..structs.variables import Variable, VariableMetadata
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


def _lock_operation(req: falcon.asgi.Request) -> str:
    asked = [op for op in LOCK_OPERATIONS if op in req.params]
    if len(asked) > 1:
        raise BadRequest(f"only one lock operation at a time, got {', '.join(asked)}")
    return asked[0] if asked else ""


def _lock_durations(body: dict[str, Any]) -> None:
    """Nomad's API sends lock TTL and delay as Go durations ("15s"); store nanoseconds."""
    lock = body.get("Lock")
    if not isinstance(lock, dict):
        return
    for key in ("TTL", "LockDelay"):
        value = lock.get(key)
        if isinstance(value, str):
            try:
                lock[key] = parse_duration(value)
            except ValueError:
                raise BadRequest(f"Lock.{key}: invalid duration {value!r}") from None


def variable_json(var: Variable | VariableMetadata) -> dict[str, Any]:
    """The API JSON of a variable (or its metadata), lock durations as Go durations."""
    data = to_api(var)
    if isinstance(data.get("Lock"), dict):
        for key in ("TTL", "LockDelay"):
            data["Lock"][key] = format_duration(int(data["Lock"][key] or 0))
    return data


class VariablesResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        snap, opts = await self.read(req, resp, Table.VARIABLES)
        server = self.agent.require_server()
        namespace = None if opts.all_namespaces else opts.namespace
        found = server.variables.list_metadata(snap, namespace, opts.prefix)
        found = paginate(found, opts, resp, lambda var: f"{var.namespace}.{var.path}"
                         if opts.all_namespaces else var.path)
        resp.media = [variable_json(var) for var in found]


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
        resp.media = variable_json(await asyncio.to_thread(server.variables.opened, sealed))

    async def on_put(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     path: str) -> None:
        path = _path(path)
        lock_op = _lock_operation(req)
        cas = _cas(req)
        body = await read_object(req)
        if not lock_op and (not isinstance(body.get("Items"), dict) or not body["Items"]):
            raise BadRequest("variable missing required Items object")
        _lock_durations(body)
        var = from_api(Variable, body, "Variable")
        asked = req.get_param("namespace") or ""
        if asked and var.namespace and asked != var.namespace:
            raise BadRequest(f"the body's Namespace {var.namespace!r} is not the namespace "
                             f"{asked!r} of the request")
        var.namespace = asked or var.namespace
        var.path = path
        server = self.agent.require_server()
        endpoint = server.variables
        lock_id = var.lock.id if var.lock is not None else ""
        if lock_op == "lock-renew":
            meta, index = await asyncio.to_thread(endpoint.lock_renew, var.namespace, path,
                                                  lock_id)
            set_index(resp, index)
            resp.media = variable_json(meta)
            return
        if lock_op == "lock-acquire":
            result = await asyncio.to_thread(endpoint.lock_acquire, var)
        elif lock_op == "lock-release":
            result = await asyncio.to_thread(endpoint.lock_release, var.namespace, path,
                                             lock_id)
        else:
            result = await asyncio.to_thread(endpoint.apply, var, cas_index=cas)
        if not _conflict(resp, result):
            set_index(resp, result.index)
            resp.media = variable_json(result.output) if result.output is not None else None

    on_post = on_put

    async def on_delete(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                        path: str) -> None:
        path = _path(path)
        if _lock_operation(req):
            raise BadRequest("lock operations are PUT requests")
        cas = _cas(req)
        server = self.agent.require_server()
        result = await asyncio.to_thread(server.variables.delete,
                                         req.get_param("namespace") or "", path, cas_index=cas)
        if not _conflict(resp, result):
            set_index(resp, result.index)
            resp.status = falcon.HTTP_204


def _conflict(resp: falcon.asgi.Response, result: VariablesApplyResponse) -> bool:
    """A check-and-set that lost answers 409 with the variable as it now is (Nomad's
    shape: the caller sees what it raced against); True when that was the answer."""
    if result.conflict is None:
        return False
    set_index(resp, result.conflict.modify_index)
    resp.status = falcon.HTTP_409
    resp.media = variable_json(result.conflict)
    return True


def add_routes(app: falcon.asgi.App, agent: AgentAPI) -> None:
    app.add_route("/v1/vars", VariablesResource(agent))
    app.add_route("/v1/var/{path:path}", VariablePaths(agent))
