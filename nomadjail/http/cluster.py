"""/v1/agent/*, /v1/status/*, /v1/regions: who is in the cluster and who leads."""

from __future__ import annotations

import falcon.asgi

from .resource import Resource


class AgentSelfResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = self.agent.self_info()


class AgentMembersResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        server = self.agent.require_server()
        resp.media = {
            "ServerName": self.agent.node_name,
            "ServerRegion": self.agent.region,
            "ServerDC": self.agent.datacenter,
            "Members": [m.to_api() for m in server.members()],
        }


class AgentServersResource(Resource):
    """GET /v1/agent/servers: the rpc addresses this client talks to."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = list(self.agent.require_client().servers())


class AgentHealthResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        health = {}
        if self.agent.server is not None:
            ok = self.agent.server.is_leader() or bool(self.agent.server.leader_rpc_addr())
            health["server"] = {"ok": ok, "message": "ok" if ok else "No cluster leader"}
        if self.agent.client is not None:
            health["client"] = {"ok": True, "message": "ok"}
        elif self.agent.client_waiting_for_servers:
            health["client"] = {"ok": False, "message": "No known servers"}
        resp.media = health
        if not all(part["ok"] for part in health.values()):
            resp.status = 500


class StatusLeaderResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = self.agent.require_server().leader_rpc_addr()


class StatusPeersResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = self.agent.require_server().peers()


class RegionsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = [self.agent.region]
