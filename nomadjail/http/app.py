"""``create_app(agent)``: the Falcon ASGI app behind both listeners.

One app serves both ports (DESIGN.md §2): the public API and dashboard on
the http port, the agent RPC endpoints on the rpc port.  A middleware keeps
them apart by the local port a request arrived on, so RPC paths are never
reachable from the http port and vice versa.
"""

from __future__ import annotations

from pathlib import Path

import falcon
import falcon.asgi

from ..api.rpc import RPC_PREFIX
from . import deployments, errors, keyring, rpc, services, variables
from .agent_api import AgentAPI
from .allocations import (
    AllocationResource,
    AllocationsResource,
    AllocationStopResource,
    ClientAllocChecksResource,
    ClientAllocGCResource,
    ClientAllocRestartResource,
    ClientAllocSignalResource,
    ClientAllocStatsResource,
)
from .cluster import (
    AgentHealthResource,
    AgentMembersResource,
    AgentSelfResource,
    AgentServersResource,
    RegionsResource,
    StatusLeaderResource,
    StatusPeersResource,
)
from .evaluations import EvaluationAllocationsResource, EvaluationResource, EvaluationsResource
from .forward import node_auth_valid
from .jobs import JobPaths, JobsParseResource, JobsResource, ValidateJobResource
from .logs import LogsResource
from .nodes import (
    NodeAllocationsResource,
    NodeDrainResource,
    NodeEligibilityResource,
    NodeResource,
    NodesResource,
)
from .resource import Resource
from .scaling import ScalingPoliciesResource, ScalingPolicyResource

UI_DIR = Path(__file__).resolve().parent.parent / "ui"


class ListenerSeparation:
    """RPC paths only on the rpc port; the public API on the http port -- and on the rpc
    port only for requests a client agent forwards on its user's behalf, authenticated
    with its node secret (clients know servers by rpc address only)."""

    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def process_request(self, req: falcon.asgi.Request,
                              resp: falcon.asgi.Response) -> None:
        server = tuple(req.scope.get("server") or ("", 0))
        on_rpc_port = self.agent.is_rpc_listener(int(server[1] or 0))
        is_rpc_path = req.path.startswith(RPC_PREFIX)
        if on_rpc_port == is_rpc_path:
            return
        if on_rpc_port and self.agent.server is not None \
                and node_auth_valid(req, self.agent.server.state):
            return
        raise falcon.HTTPNotFound()


class ForwardToServers:
    """On a client-only agent, public API requests that need a server go to one."""

    LOCAL = ("/v1/client/", "/v1/agent/self", "/v1/agent/health", "/v1/agent/servers",
             "/ui", RPC_PREFIX)

    def __init__(self, agent: AgentAPI):
        self.agent = agent
        self.forwarder = Resource(agent)

    async def process_request(self, req: falcon.asgi.Request,
                              resp: falcon.asgi.Response) -> None:
        if self.agent.server is not None or self.agent.client is None:
            return
        if not req.path.startswith("/v1/") or req.path.startswith(self.LOCAL):
            return
        await self.forwarder.forward_to_server(req, resp)
        resp.complete = True


class StaticCaching:
    """Dashboard files must be revalidated, so an upgraded agent serves its new JS."""

    async def process_response(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                               resource: object, req_succeeded: bool) -> None:
        if req.path.startswith("/ui"):
            resp.set_header("Cache-Control", "no-cache")


class RootRedirect(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if not self.agent.ui_enabled:
            raise falcon.HTTPNotFound()
        raise falcon.HTTPTemporaryRedirect("/ui/")


def create_app(agent: AgentAPI, *, middleware: list | None = None) -> falcon.asgi.App:
    app = falcon.asgi.App(middleware=[ListenerSeparation(agent), ForwardToServers(agent),
                                      StaticCaching(), *(middleware or [])])
    errors.install(app)

    app.add_route("/v1/jobs", JobsResource(agent))
    app.add_route("/v1/jobs/parse", JobsParseResource())
    app.add_route("/v1/job/{path:path}", JobPaths(agent))
    app.add_route("/v1/validate/job", ValidateJobResource(agent))
    app.add_route("/v1/scaling/policies", ScalingPoliciesResource(agent))
    app.add_route("/v1/scaling/policy/{policy_id}", ScalingPolicyResource(agent))

    app.add_route("/v1/allocations", AllocationsResource(agent))
    app.add_route("/v1/allocation/{alloc_id}", AllocationResource(agent))
    app.add_route("/v1/allocation/{alloc_id}/stop", AllocationStopResource(agent))
    app.add_route("/v1/client/allocation/{alloc_id}/signal", ClientAllocSignalResource(agent))
    app.add_route("/v1/client/allocation/{alloc_id}/restart", ClientAllocRestartResource(agent))
    app.add_route("/v1/client/allocation/{alloc_id}/stats", ClientAllocStatsResource(agent))
    app.add_route("/v1/client/allocation/{alloc_id}/gc", ClientAllocGCResource(agent))
    app.add_route("/v1/client/allocation/{alloc_id}/checks", ClientAllocChecksResource(agent))
    app.add_route("/v1/client/fs/logs/{alloc_id}", LogsResource(agent))

    app.add_route("/v1/nodes", NodesResource(agent))
    app.add_route("/v1/node/{node_id}", NodeResource(agent))
    app.add_route("/v1/node/{node_id}/allocations", NodeAllocationsResource(agent))
    app.add_route("/v1/node/{node_id}/drain", NodeDrainResource(agent))
    app.add_route("/v1/node/{node_id}/eligibility", NodeEligibilityResource(agent))

    app.add_route("/v1/evaluations", EvaluationsResource(agent))
    app.add_route("/v1/evaluation/{eval_id}", EvaluationResource(agent))
    app.add_route("/v1/evaluation/{eval_id}/allocations", EvaluationAllocationsResource(agent))
    deployments.add_routes(app, agent)

    app.add_route("/v1/agent/self", AgentSelfResource(agent))
    app.add_route("/v1/agent/members", AgentMembersResource(agent))
    app.add_route("/v1/agent/servers", AgentServersResource(agent))
    app.add_route("/v1/agent/health", AgentHealthResource(agent))
    app.add_route("/v1/status/leader", StatusLeaderResource(agent))
    app.add_route("/v1/status/peers", StatusPeersResource(agent))
    app.add_route("/v1/regions", RegionsResource(agent))

    services.add_routes(app, agent)
    variables.add_routes(app, agent)
    keyring.add_routes(app, agent)
    rpc.add_routes(app, agent)

    app.add_route("/", RootRedirect(agent))
    if agent.ui_enabled:
        app.add_static_route("/ui", str(UI_DIR), fallback_filename="index.html")
    return app
