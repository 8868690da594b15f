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
from . import errors, rpc
from .agent_api import AgentAPI
from .resource import Resource
from .allocations import (AllocationResource, AllocationsResource, AllocationStopResource,
                          ClientAllocRestartResource, ClientAllocSignalResource,
                          ClientAllocStatsResource)
from .cluster import (AgentHealthResource, AgentMembersResource, AgentSelfResource,
                      AgentServersResource, RegionsResource, StatusLeaderResource,
                      StatusPeersResource)
from .deployments import DeploymentResource, DeploymentsResource
from .evaluations import EvaluationAllocationsResource, EvaluationResource, EvaluationsResource
from .jobs import JobPaths, JobsParseResource, JobsResource
from .logs import LogsResource
from .nodes import (NodeAllocationsResource, NodeDrainResource, NodeEligibilityResource,
                    NodeResource, NodesResource)

UI_DIR = Path(__file__).resolve().parent.parent / "ui"


class ListenerSeparation:
    """RPC paths only on the rpc port; everything else only on the http port."""

    def __init__(self, agent: AgentAPI):
        self.agent = agent

    async def process_request(self, req: falcon.asgi.Request,
                              resp: falcon.asgi.Response) -> None:
        server = tuple(req.scope.get("server") or ("", 0))
        on_rpc_port = self.agent.is_rpc_listener(int(server[1] or 0))
        if on_rpc_port != req.path.startswith(RPC_PREFIX):
            raise falcon.HTTPNotFound()


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
    app = falcon.asgi.App(middleware=[ListenerSeparation(agent), StaticCaching(),
                                      *(middleware or [])])
    errors.install(app)

    app.add_route("/v1/jobs", JobsResource(agent))
    app.add_route("/v1/jobs/parse", JobsParseResource())
    app.add_route("/v1/job/{path:path}", JobPaths(agent))

    app.add_route("/v1/allocations", AllocationsResource(agent))
    app.add_route("/v1/allocation/{alloc_id}", AllocationResource(agent))
    app.add_route("/v1/allocation/{alloc_id}/stop", AllocationStopResource(agent))
    app.add_route("/v1/client/allocation/{alloc_id}/signal", ClientAllocSignalResource(agent))
    app.add_route("/v1/client/allocation/{alloc_id}/restart", ClientAllocRestartResource(agent))
    app.add_route("/v1/client/allocation/{alloc_id}/stats", ClientAllocStatsResource(agent))
    app.add_route("/v1/client/fs/logs/{alloc_id}", LogsResource(agent))

    app.add_route("/v1/nodes", NodesResource(agent))
    app.add_route("/v1/node/{node_id}", NodeResource(agent))
    app.add_route("/v1/node/{node_id}/allocations", NodeAllocationsResource(agent))
    app.add_route("/v1/node/{node_id}/drain", NodeDrainResource(agent))
    app.add_route("/v1/node/{node_id}/eligibility", NodeEligibilityResource(agent))

    app.add_route("/v1/evaluations", EvaluationsResource(agent))
    app.add_route("/v1/evaluation/{eval_id}", EvaluationResource(agent))
    app.add_route("/v1/evaluation/{eval_id}/allocations", EvaluationAllocationsResource(agent))
    app.add_route("/v1/deployments", DeploymentsResource(agent))
    app.add_route("/v1/deployment/{deployment_id}", DeploymentResource(agent))

    app.add_route("/v1/agent/self", AgentSelfResource(agent))
    app.add_route("/v1/agent/members", AgentMembersResource(agent))
    app.add_route("/v1/agent/servers", AgentServersResource(agent))
    app.add_route("/v1/agent/health", AgentHealthResource(agent))
    app.add_route("/v1/status/leader", StatusLeaderResource(agent))
    app.add_route("/v1/status/peers", StatusPeersResource(agent))
    app.add_route("/v1/regions", RegionsResource(agent))

    rpc.add_routes(app, agent)

    app.add_route("/", RootRedirect(agent))
    if agent.ui_enabled:
        app.add_static_route("/ui", str(UI_DIR), fallback_filename="index.html")
    return app
