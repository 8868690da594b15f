"""The servers' keyring over HTTP (Nomad's ``/v1/operator/keyring/...``).

* ``GET /v1/operator/keyring/keys`` -- every root key's metadata (never its material);
* ``PUT /v1/operator/keyring/rotate`` -- a new active key (``?full=true`` seals every
  variable again with it; ``?algo=aes256-gcm``, the only algorithm); answers
  ``{"Key": RootKeyMeta}``;
* ``DELETE /v1/operator/keyring/key/<id>`` -- remove an inactive key no variable uses
  (the active key is refused).
"""

from __future__ import annotations

import asyncio

import falcon
import falcon.asgi

from ..server import Table
from ..structs import to_api
from .agent_api import AgentAPI
from .query import bool_param, set_index
from .resource import Resource


class KeyringKeysResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self.read(req, resp, Table.ROOT_KEYS)
        server = self.agent.require_server()
        resp.media = [to_api(meta) for meta in server.keyring.keys()]


class KeyringRotateResource(Resource):
    async def on_put(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        full = bool_param(req, "full")
        algorithm = req.get_param("algo") or ""
        server = self.agent.require_server()
        meta = await asyncio.to_thread(server.keyring.rotate, full=full, algorithm=algorithm)
        set_index(resp, server.state.index(Table.ROOT_KEYS))
        resp.media = {"Key": to_api(meta)}

    on_post = on_put


class KeyringKeyResource(Resource):
    async def on_delete(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                        key_id: str) -> None:
        server = self.agent.require_server()
        index = await asyncio.to_thread(server.keyring.remove, key_id)
        set_index(resp, index)
        resp.media = {}


def add_routes(app: falcon.asgi.App, agent: AgentAPI) -> None:
    app.add_route("/v1/operator/keyring/keys", KeyringKeysResource(agent))
    app.add_route("/v1/operator/keyring/rotate", KeyringRotateResource(agent))
    app.add_route("/v1/operator/keyring/key/{key_id}", KeyringKeyResource(agent))
