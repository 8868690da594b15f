"""A task's variable reads over the agent RPC (``Variables.Read`` / ``Variables.List``),
called through HTTPServerRPC as a client agent calls them, answered by the app in process
on its rpc listener: Nomad's implicit workload paths are served, everything else is 403."""

from __future__ import annotations

import asyncio
import dataclasses

import falcon.testing
import pytest

from nomadjail.agent.agent import Agent
from nomadjail.api.rpc_client import HTTPServerRPC
from nomadjail.server import messages as m
from nomadjail.structs import AllocDesiredStatus, BadRequest, NotFound, PermissionDenied
from nomadjail.structs.variables import Variable
from nomadjail.testing import mock_alloc, mock_job, mock_node

from ..doubles.app_transport import AppTransport


class Scene:
    """Two nodes; job ``web`` (group ``web``, task ``web``) runs on the first one, and a
    job in namespace ``apps`` too; a few variables at the paths that matter."""

    def __init__(self, agent: Agent, api: falcon.testing.TestClient):
        self.server = agent.require_server()
        port = agent.config.ports.rpc
        self.nodes = [mock_node(), mock_node()]
        self.rpcs = []
        for node in self.nodes:
            rpc = HTTPServerRPC([f"127.0.0.1:{port}"],
                                transport_factory=lambda _addr: AppTransport(api, port))
            rpc.register(node)
            self.rpcs.append(rpc)
        self.job = dataclasses.replace(mock_job(count=1), id="web")
        self.alloc = mock_alloc(self.job, self.nodes[0])
        other = dataclasses.replace(mock_job(count=1), id="other")
        self.other_alloc = mock_alloc(other, self.nodes[0])
        for job, alloc in ((self.job, self.alloc), (other, self.other_alloc)):
            self.apply(m.JobRegisterRequest(job=job))
            self.apply(m.ApplyPlanResultsRequest(job=job, node_allocation={
                alloc.node_id: [alloc]}))
        for path in ("nomad/jobs", "nomad/jobs/web", "nomad/jobs/web/web",
                     "nomad/jobs/web/web/web", "nomad/jobs/web/web/other-task",
                     "nomad/jobs/webby", "nomad/jobs/other", "app/secret"):
            self.put(path, {"where": path})

    def apply(self, request: object) -> int:
        index, _ = self.server.raft.apply(m.message_type_of(request), m.encode(request))
        return index

    def put(self, path: str, items: dict[str, str]) -> int:
        return self.server.variables.apply(Variable(path=path, items=items)).index


@pytest.fixture(scope="module")
def scene(agent: Agent, api: falcon.testing.TestClient) -> Scene:
    assert agent.require_server().wait_for_leader(30)
    return Scene(agent, api)


@pytest.mark.parametrize("path", ["nomad/jobs", "nomad/jobs/web", "nomad/jobs/web/web",
                                  "nomad/jobs/web/web/web"])
def test_a_task_reads_its_implicit_paths(scene: Scene, path: str) -> None:
    var, index = scene.rpcs[0].read_variable("default", path, scene.alloc.id, 0, 1, task="web")
    assert var is not None and var.items == {"where": path} and var.path == path
    assert index == var.modify_index


@pytest.mark.parametrize("path", ["app/secret", "nomad/jobs/other", "nomad/jobs/webby",
                                  "nomad/jobs/web/web/other-task", "nomad",
                                  "nomad/jobs/web/web/web/deeper"])
def test_other_paths_are_denied(scene: Scene, path: str) -> None:
    with pytest.raises(PermissionDenied, match="Permission denied"):
        scene.rpcs[0].read_variable("default", path, scene.alloc.id, 0, 1, task="web")


def test_without_a_task_name_the_task_level_admits_the_groups_tasks(scene: Scene) -> None:
    var, _ = scene.rpcs[0].read_variable("default", "nomad/jobs/web/web/web", scene.alloc.id,
                                         0, 1)
    assert var is not None and var.items == {"where": "nomad/jobs/web/web/web"}
    with pytest.raises(PermissionDenied):  # no task "other-task" in group web
        scene.rpcs[0].read_variable("default", "nomad/jobs/web/web/other-task",
                                    scene.alloc.id, 0, 1)
    with pytest.raises(BadRequest, match="task 'nope' is not in group 'web'"):
        scene.rpcs[0].read_variable("default", "nomad/jobs/web", scene.alloc.id, 0, 1,
                                    task="nope")


def test_only_the_node_running_the_alloc_may_read(scene: Scene) -> None:
    with pytest.raises(PermissionDenied, match="wrong secret"):
        scene.rpcs[1].read_variable("default", "nomad/jobs/web", scene.alloc.id, 0, 1)
    with pytest.raises(NotFound, match="allocation 'no-such-alloc' not found"):
        scene.rpcs[0].read_variable("default", "nomad/jobs/web", "no-such-alloc", 0, 1)
    with pytest.raises(PermissionDenied, match="namespace"):
        scene.rpcs[0].read_variable("apps", "nomad/jobs/web", scene.alloc.id, 0, 1)


def test_a_missing_variable_is_none_with_the_tables_index(scene: Scene) -> None:
    var, index = scene.rpcs[0].read_variable("default", "nomad/jobs/other/web",
                                             scene.other_alloc.id, 0, 1)
    assert var is None and index > 0


def test_a_list_holds_only_what_the_task_may_read(scene: Scene) -> None:
    found, index = scene.rpcs[0].list_variables("default", "nomad/jobs", scene.alloc.id, 0, 1,
                                                task="web")
    assert [v.path for v in found] == ["nomad/jobs", "nomad/jobs/web", "nomad/jobs/web/web",
                                       "nomad/jobs/web/web/web"]
    assert index > 0 and not hasattr(found[0], "items")
    everything, _ = scene.rpcs[0].list_variables("default", "", scene.alloc.id, 0, 1)
    assert "app/secret" not in [v.path for v in everything]


def test_a_blocking_read_wakes_when_the_variable_changes(scene: Scene) -> None:
    var, index = scene.rpcs[0].read_variable("default", "nomad/jobs/web", scene.alloc.id, 0, 1)
    assert var is not None
    same, same_index = scene.rpcs[0].read_variable("default", "nomad/jobs/web",
                                                   scene.alloc.id, index, 0.1)
    assert same_index == index and same is not None and same.items == var.items

    async def block_then_put() -> tuple[Variable | None, int]:
        waiting = asyncio.ensure_future(asyncio.to_thread(
            scene.rpcs[0].read_variable, "default", "nomad/jobs/web", scene.alloc.id, index,
            30))
        await asyncio.to_thread(scene.put, "nomad/jobs/other", {"v": "unrelated"})
        await asyncio.to_thread(scene.put, "nomad/jobs/web", {"v": "changed"})
        return await asyncio.wait_for(waiting, 20)

    changed, new_index = asyncio.run(block_then_put())
    assert changed is not None and changed.items == {"v": "changed"}
    assert new_index == changed.modify_index > index


def test_a_stopped_allocation_reads_nothing(scene: Scene) -> None:
    alloc = mock_alloc(scene.job, scene.nodes[0])
    scene.apply(m.ApplyPlanResultsRequest(job=scene.job, node_allocation={
        alloc.node_id: [alloc]}))
    assert scene.rpcs[0].read_variable("default", "nomad/jobs/web", alloc.id, 0, 1)[0]
    stopped = dataclasses.replace(alloc, desired_status=AllocDesiredStatus.STOP)
    scene.apply(m.ApplyPlanResultsRequest(node_update={stopped.node_id: [stopped]}))
    with pytest.raises(PermissionDenied, match="stopped"):
        scene.rpcs[0].read_variable("default", "nomad/jobs/web", alloc.id, 0, 1)
