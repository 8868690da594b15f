"""Nomad's native service discovery through the app in process: clients write over the
agent RPC (HTTPServerRPC, as a client agent calls it, on the rpc listener), everyone reads
and operators delete over the public API, in Nomad's JSON shapes."""

from __future__ import annotations

import asyncio
import dataclasses

import falcon.testing
import pytest

from nomadjail.agent.agent import Agent
from nomadjail.api.rpc_client import HTTPServerRPC
from nomadjail.server import Table
from nomadjail.server import messages as m
from nomadjail.structs import (
    Allocation,
    AllocClientStatus,
    BadRequest,
    NotFound,
    PermissionDenied,
    ServiceRegistration,
    to_api,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node, mock_service_registration

from ..doubles.app_transport import AppTransport


class Scene:
    """Two client nodes talking RPC, a job in ``default`` with one allocation on each
    node, and a job in namespace ``apps`` with one allocation on the first node."""

    def __init__(self, agent: Agent, api: falcon.testing.TestClient):
        self.agent = agent
        self.api = api
        self.server = agent.require_server()
        port = agent.config.ports.rpc
        self.nodes = [mock_node(), mock_node()]
        self.rpcs = []
        for node in self.nodes:
            rpc = HTTPServerRPC([f"127.0.0.1:{port}"],
                                transport_factory=lambda _addr: AppTransport(api, port))
            rpc.register(node)
            self.rpcs.append(rpc)
        self.job = mock_job(count=2)
        self.allocs = [mock_alloc(self.job, node) for node in self.nodes]
        apps_job = dataclasses.replace(mock_job(count=1), namespace="apps")
        self.apps_alloc = mock_alloc(apps_job, self.nodes[0])
        for job, allocs in ((self.job, self.allocs), (apps_job, [self.apps_alloc])):
            self.apply(m.JobRegisterRequest(job=job))
            self.apply(m.ApplyPlanResultsRequest(
                job=job, node_allocation={a.node_id: [a] for a in allocs}))

    def apply(self, request: object) -> int:
        index, _ = self.server.raft.apply(m.message_type_of(request), m.encode(request))
        return index

    def index(self) -> int:
        return self.server.state.index(Table.SERVICE_REGISTRATIONS)

    def register(self, node: int, *regs: ServiceRegistration) -> int:
        return self.rpcs[node].upsert_service_registrations(list(regs))

    def get(self, path: str, **params: str) -> falcon.testing.Result:
        return self.api.simulate_get(path, params=params)


@pytest.fixture(scope="module")
def scene(agent: Agent, api: falcon.testing.TestClient) -> Scene:
    assert agent.require_server().wait_for_leader(30)
    return Scene(agent, api)


def test_a_client_registers_and_everyone_reads_nomads_shapes(scene: Scene) -> None:
    regs = [mock_service_registration(a, name="shape", tags=["v1", f"n{i}"], port=8000 + i)
            for i, a in enumerate(scene.allocs)]
    for i, reg in enumerate(regs):
        index = scene.register(i, reg)
    listed = scene.get("/v1/services")
    assert listed.status_code == 200
    assert int(listed.headers["X-Nomad-Index"]) == index == scene.index()
    assert {"ServiceName": "shape", "Tags": ["n0", "n1", "v1"]} in listed.json[0]["Services"]
    assert listed.json[0]["Namespace"] == "default" and len(listed.json) == 1

    found = scene.get("/v1/service/shape")
    assert found.status_code == 200
    assert [r["AllocID"] for r in found.json] == sorted(a.id for a in scene.allocs)
    first = next(r for r in found.json if r["AllocID"] == scene.allocs[0].id)
    assert first == {
        "ID": regs[0].id, "ServiceName": "shape", "Namespace": "default",
        "NodeID": scene.nodes[0].id, "Datacenter": "dc1", "JobID": scene.job.id,
        "AllocID": scene.allocs[0].id, "Tags": ["v1", "n0"], "Address": "127.0.0.1",
        "Port": 8000, "CreateIndex": first["CreateIndex"], "ModifyIndex": first["CreateIndex"]}
    by_alloc = scene.get(f"/v1/allocation/{scene.allocs[1].id}/services")
    assert [r["ID"] for r in by_alloc.json] == [regs[1].id]
    assert scene.get("/v1/allocation/not-an-alloc/services").json == []


def test_unchanged_registrations_do_not_move_the_index(scene: Scene) -> None:
    reg = mock_service_registration(scene.allocs[0], name="steady", tags=["a", "b"])
    scene.register(0, reg)
    index = scene.index()
    scene.register(0, dataclasses.replace(reg, tags=["b", "a"]))  # a client's periodic sync
    assert scene.index() == index


def test_tag_filter_choose_and_paging(scene: Scene) -> None:
    regs = [mock_service_registration(scene.allocs[0], name="pick", port_label=f"p{i}",
                                      port=9000 + i, tags=["all", f"t{i}", *(["even"]
                                                                               if i % 2 == 0
                                                                               else [])])
            for i in range(4)]
    scene.register(0, *regs)
    tagged = scene.api.simulate_get("/v1/service/pick", query_string="tag=all&tag=even")
    assert sorted(r["Port"] for r in tagged.json) == [9000, 9002]
    assert scene.get("/v1/service/pick", tag="nope").json == []

    chosen = scene.get("/v1/service/pick", choose="2|caller-1").json
    assert len(chosen) == 2
    assert scene.get("/v1/service/pick", choose="2|caller-1").json == chosen  # stable
    assert len(scene.get("/v1/service/pick", choose="9|caller-1").json) == 4
    for bad in ("2", "x|key", "2|", "-1|key"):
        resp = scene.get("/v1/service/pick", choose=bad)
        assert resp.status_code == 400, bad
        assert resp.text == ("failed to choose services: Parameter for choose must be in "
                             "form '<number>|<key>'")

    page = scene.get("/v1/service/pick", per_page="3")
    assert len(page.json) == 3
    rest = scene.get("/v1/service/pick", per_page="3",
                     next_token=page.headers["X-Nomad-NextToken"])
    assert [r["ID"] for r in page.json + rest.json] == sorted(r.id for r in regs)
    assert page.headers["X-Nomad-NextToken"] == f"default.{rest.json[0]['ID']}"


def test_namespaces_prefix_and_the_wildcard(scene: Scene) -> None:
    scene.register(0, mock_service_registration(scene.allocs[0], name="ns-web"),
                   mock_service_registration(scene.apps_alloc, name="ns-web", tags=["apps"]),
                   mock_service_registration(scene.apps_alloc, name="ns-db", port_label="db"))
    assert "ns-db" not in {s["ServiceName"] for s in scene.get("/v1/services").json[0]
                           ["Services"]}
    apps = scene.get("/v1/services", namespace="apps").json
    assert apps == [{"Namespace": "apps", "Services": [
        {"ServiceName": "ns-db", "Tags": []}, {"ServiceName": "ns-web", "Tags": ["apps"]}]}]
    everywhere = scene.get("/v1/services", namespace="*", prefix="ns-").json
    assert [(s["Namespace"], [x["ServiceName"] for x in s["Services"]]) for s in everywhere] \
        == [("apps", ["ns-db", "ns-web"]), ("default", ["ns-web"])]
    assert scene.get("/v1/services", namespace="nowhere").json == []
    both = scene.get("/v1/service/ns-web", namespace="*").json
    assert [r["Namespace"] for r in both] == ["apps", "default"]
    assert [r["Namespace"] for r in scene.get("/v1/service/ns-web").json] == ["default"]
    apps_alloc = scene.get(f"/v1/allocation/{scene.apps_alloc.id}/services")
    assert apps_alloc.json == []  # asked in "default": not this namespace's allocation
    assert len(scene.get(f"/v1/allocation/{scene.apps_alloc.id}/services",
                         namespace="apps").json) == 2


def test_bad_registrations_are_refused_whole_and_store_nothing(scene: Scene) -> None:
    index = scene.index()
    good = mock_service_registration(scene.allocs[0], name="refused")
    broken = dataclasses.replace(good, id="", service_name="", address="0.0.0.0", port=70000)
    with pytest.raises(BadRequest) as err:
        scene.register(0, good, broken)
    text = str(err.value)
    for problem in ("Services[1]: missing ID", "Services[1]: missing ServiceName",
                    "Services[1]: invalid service registration address '0.0.0.0'",
                    "Services[1]: port 70000 out of range 0-65535"):
        assert problem in text
    with pytest.raises(BadRequest, match="must specify at least one service registration"):
        scene.register(0)
    ghost = mock_service_registration(mock_alloc(scene.job, scene.nodes[0]), name="refused")
    with pytest.raises(BadRequest, match=r"Services\[1\]: allocation .* not found"):
        scene.register(0, good, ghost)
    wrong_job = dataclasses.replace(good, job_id="another-job")
    with pytest.raises(BadRequest, match="is not the job of allocation"):
        scene.register(0, wrong_job)
    assert scene.index() == index
    assert scene.get("/v1/service/refused").json == []


def test_a_node_registers_only_its_own_allocations(scene: Scene) -> None:
    index = scene.index()
    own = mock_service_registration(scene.allocs[0], name="foreign")
    theirs = mock_service_registration(scene.allocs[1], name="foreign")
    with pytest.raises(PermissionDenied, match="wrong secret"):
        scene.register(0, theirs)  # node 1's registration, sent with node 0's secret
    with pytest.raises(PermissionDenied, match=r"Services\[1\] is for node .* not the calling"):
        scene.register(0, own, theirs)
    posing = dataclasses.replace(theirs, node_id=scene.nodes[0].id)
    with pytest.raises(PermissionDenied, match="runs on node"):
        scene.register(0, posing)  # claims to be node 0's, but the allocation is node 1's
    resp = scene.api.simulate_post(
        "/v1/rpc/ServiceRegistration.Upsert", json={"Services": [to_api(theirs)]},
        headers={"X-Nomad-Token": "wrong"}, port=scene.agent.config.ports.rpc)
    assert resp.status_code == 403
    assert scene.index() == index


def test_client_rpcs_are_not_served_on_the_http_port(scene: Scene) -> None:
    resp = scene.api.simulate_post("/v1/rpc/ServiceRegistration.Upsert",
                                   json={"Services": []})
    assert resp.status_code == 404


def test_a_client_deletes_its_own_registration_only(scene: Scene) -> None:
    mine = mock_service_registration(scene.allocs[0], name="leaving")
    theirs = mock_service_registration(scene.allocs[1], name="leaving")
    scene.register(0, mine)
    scene.register(1, theirs)
    with pytest.raises(PermissionDenied, match="belongs to node"):
        scene.rpcs[0].delete_service_registration(theirs.id)
    scene.rpcs[0].delete_service_registration(mine.id)
    assert [r["ID"] for r in scene.get("/v1/service/leaving").json] == [theirs.id]
    with pytest.raises(NotFound, match="not found"):
        scene.rpcs[0].delete_service_registration(mine.id)


def test_operator_delete_and_its_errors(scene: Scene) -> None:
    reg = mock_service_registration(scene.allocs[0], name="doomed")
    scene.register(0, reg)
    wrong_name = scene.api.simulate_delete(f"/v1/service/other/{reg.id}")
    assert wrong_name.status_code == 404 and "not of 'other'" in wrong_name.text
    wrong_ns = scene.api.simulate_delete(f"/v1/service/doomed/{reg.id}",
                                         params={"namespace": "apps"})
    assert wrong_ns.status_code == 404
    deleted = scene.api.simulate_delete(f"/v1/service/doomed/{reg.id}")
    assert deleted.status_code == 200
    assert int(deleted.headers["X-Nomad-Index"]) == scene.index()
    assert scene.get("/v1/service/doomed").json == []
    again = scene.api.simulate_delete(f"/v1/service/doomed/{reg.id}")
    assert again.status_code == 404
    assert again.text == f"service registration '{reg.id}' not found in namespace 'default'"


@pytest.mark.parametrize("method, path, status, text", [
    ("GET", "/v1/service/web/some-id", 405, "Invalid method"),
    ("DELETE", "/v1/service/web", 405, "Invalid method"),
    ("DELETE", "/v1/service/web/", 400, "missing service id"),
    ("GET", "/v1/service/a/b/c", 400, "invalid URI"),
    ("POST", "/v1/services", 405, "Invalid method"),
])
def test_paths_are_split_as_nomad_does(scene: Scene, method: str, path: str, status: int,
                                       text: str) -> None:
    resp = scene.api.simulate_request(method, path)
    assert (resp.status_code, resp.text) == (status, text)


def test_stopped_allocations_take_their_instances_along(scene: Scene) -> None:
    job = mock_job(count=1)
    alloc = mock_alloc(job, scene.nodes[1])
    scene.apply(m.JobRegisterRequest(job=job))
    scene.apply(m.ApplyPlanResultsRequest(job=job, node_allocation={alloc.node_id: [alloc]}))
    scene.register(1, mock_service_registration(alloc, name="short-lived"))
    assert len(scene.get("/v1/service/short-lived").json) == 1
    scene.rpcs[1].update_allocs([Allocation(id=alloc.id,
                                            client_status=AllocClientStatus.COMPLETE)])
    assert scene.get("/v1/service/short-lived").json == []
    # A client that is late with its upsert does not bring it back.
    scene.register(1, mock_service_registration(alloc, name="short-lived"))
    assert scene.get("/v1/service/short-lived").json == []


def test_a_blocking_query_answers_when_a_registration_arrives(scene: Scene) -> None:
    first = scene.get("/v1/service/awaited")
    index = int(first.headers["X-Nomad-Index"])
    assert first.json == []
    same = scene.get("/v1/service/awaited", index=str(index), wait="100ms")
    assert int(same.headers["X-Nomad-Index"]) == index and same.json == []

    async def watch_then_register() -> falcon.testing.Result:
        async with falcon.testing.ASGIConductor(scene.api.app) as conductor:
            waiting = asyncio.ensure_future(conductor.simulate_get(
                "/v1/service/awaited", params={"index": str(index), "wait": "30s"}))
            reg = mock_service_registration(scene.allocs[0], name="awaited")
            await asyncio.to_thread(scene.register, 0, reg)
            return await asyncio.wait_for(waiting, 20)

    resp = asyncio.run(watch_then_register())
    assert int(resp.headers["X-Nomad-Index"]) > index
    assert [r["ServiceName"] for r in resp.json] == ["awaited"]
