"""Every public route answers with Nomad's JSON shape, headers and status codes."""

from __future__ import annotations

import falcon.testing

from nomadjail.structs import to_api
from nomadjail.testing import mock_job, wait_for

# Field sets of Nomad's list stubs (nomad/structs: JobListStub, AllocListStub, NodeListStub).
JOB_STUB = {"ID", "ParentID", "Name", "Namespace", "Datacenters", "NodePool", "Multiregion",
            "Type", "Priority", "Periodic", "ParameterizedJob", "Stop", "Status",
            "StatusDescription", "JobSummary", "CreateIndex", "ModifyIndex", "JobModifyIndex",
            "SubmitTime"}
ALLOC_STUB = {"ID", "EvalID", "Name", "Namespace", "NodeID", "NodeName", "JobID", "JobType",
              "JobVersion", "TaskGroup", "AllocatedResources", "DesiredStatus",
              "DesiredDescription", "ClientStatus", "ClientDescription", "DesiredTransition",
              "TaskStates", "DeploymentStatus", "FollowupEvalID", "NextAllocation",
              "RescheduleTracker", "PreemptedAllocations", "PreemptedByAllocation",
              "CreateIndex", "ModifyIndex", "CreateTime", "ModifyTime"}
NODE_STUB = {"Address", "ID", "Attributes", "Datacenter", "Name", "NodeClass", "NodePool",
             "Version", "Drain", "SchedulingEligibility", "Status", "StatusDescription",
             "Drivers", "HostVolumes", "NodeResources", "ReservedResources", "LastDrain",
             "CreateIndex", "ModifyIndex"}


def register(api: falcon.testing.TestClient, job_id: str, count: int = 3) -> dict:
    resp = api.simulate_post("/v1/jobs", json={"Job": to_api(mock_job(job_id=job_id,
                                                                      count=count))})
    assert resp.status_code == 200, resp.text
    return resp.json


def test_job_routes(api: falcon.testing.TestClient, nodes) -> None:
    result = register(api, "shapes")
    assert set(result) >= {"EvalID", "EvalCreateIndex", "JobModifyIndex", "Warnings", "Index"}
    assert int(api.simulate_get("/v1/jobs").headers["X-Nomad-Index"]) >= result["Index"]

    stubs = api.simulate_get("/v1/jobs").json
    assert set(stubs[0]) == JOB_STUB
    assert api.simulate_get("/v1/jobs", params={"prefix": "zzz"}).json == []

    job = api.simulate_get("/v1/job/shapes").json
    assert job["ID"] == "shapes" and job["TaskGroups"][0]["Count"] == 3
    allocs = wait_for(lambda: (lambda a: a if len(a) == 3 else None)(
        api.simulate_get("/v1/job/shapes/allocations").json), message="3 allocations placed")
    assert set(allocs[0]) == ALLOC_STUB and allocs[0]["JobVersion"] == 0
    evals = api.simulate_get("/v1/job/shapes/evaluations").json
    assert evals[0]["TriggeredBy"] == "job-register"
    assert api.simulate_get("/v1/job/shapes/versions").json["Versions"][0]["Version"] == 0
    summary = api.simulate_get("/v1/job/shapes/summary").json
    assert summary["JobID"] == "shapes" and "web" in summary["Summary"]
    deployment = api.simulate_get("/v1/job/shapes/deployment").json
    assert deployment["JobID"] == "shapes" and deployment["Status"] == "running"
    assert api.simulate_get("/v1/job/shapes/deployments").json[0]["ID"] == deployment["ID"]
    assert api.simulate_get(f"/v1/deployment/{deployment['ID']}").json["ID"] == deployment["ID"]

    bigger = to_api(mock_job(job_id="shapes", count=5))
    plan = api.simulate_post("/v1/job/shapes/plan", json={"Job": bigger, "Diff": True}).json
    assert set(plan) >= {"Annotations", "FailedTGAllocs", "JobModifyIndex", "CreatedEvals",
                         "Diff", "Warnings", "Index"}
    assert plan["Annotations"]["DesiredTGUpdates"]["web"]["Place"] == 2
    evaluate = api.simulate_post("/v1/job/shapes/evaluate").json
    assert evaluate["EvalID"]

    alloc = api.simulate_get(f"/v1/allocation/{allocs[0]['ID']}").json
    assert alloc["Job"]["ID"] == "shapes" and alloc["AllocatedResources"]["Tasks"]["web"]
    assert {a["ID"] for a in api.simulate_get(f"/v1/evaluation/{alloc['EvalID']}/allocations")
            .json} >= {alloc["ID"]}
    stop = api.simulate_post(f"/v1/allocation/{alloc['ID']}/stop").json
    assert stop["EvalID"] and stop["Index"]

    deregister = api.simulate_delete("/v1/job/shapes", params={"purge": "true"})
    assert deregister.status_code == 200 and deregister.json["EvalID"]
    assert api.simulate_get("/v1/job/shapes").status_code == 404


def test_job_ids_with_slashes(api: falcon.testing.TestClient, nodes) -> None:
    register(api, "parent/dispatch-1", count=1)
    assert api.simulate_get("/v1/job/parent/dispatch-1").json["ID"] == "parent/dispatch-1"
    assert api.simulate_get("/v1/job/parent/dispatch-1/summary").json["JobID"] == \
        "parent/dispatch-1"
    api.simulate_delete("/v1/job/parent/dispatch-1", params={"purge": "true"})


def test_node_routes(api: falcon.testing.TestClient, nodes) -> None:
    stubs = api.simulate_get("/v1/nodes").json
    assert len(stubs) == 3 and set(stubs[0]) == NODE_STUB
    assert stubs[0]["Address"] == "127.0.0.1" and stubs[0]["NodeResources"] is None
    assert api.simulate_get("/v1/nodes", params={"resources": "true"}).json[0]["NodeResources"]
    node = api.simulate_get(f"/v1/node/{nodes[0].id}").json
    assert node["ID"] == nodes[0].id and node["SecretID"] == ""  # never leaked
    assert isinstance(api.simulate_get(f"/v1/node/{nodes[0].id}/allocations").json, list)

    resp = api.simulate_post(f"/v1/node/{nodes[1].id}/eligibility",
                             json={"Eligibility": "ineligible"})
    assert resp.status_code == 200 and resp.json["NodeModifyIndex"] > 0
    assert api.simulate_get(f"/v1/node/{nodes[1].id}").json["SchedulingEligibility"] == \
        "ineligible"
    bad = api.simulate_post(f"/v1/node/{nodes[1].id}/eligibility", json={"Eligibility": "x"})
    assert bad.status_code == 400 and "invalid scheduling eligibility 'x'" in bad.text
    api.simulate_post(f"/v1/node/{nodes[1].id}/eligibility", json={"Eligibility": "eligible"})

    drain = api.simulate_post(f"/v1/node/{nodes[2].id}/drain",
                              json={"DrainSpec": {"Deadline": 60_000_000_000},
                                    "Meta": {"message": "kernel upgrade"}})
    assert drain.status_code == 200
    drained = api.simulate_get(f"/v1/node/{nodes[2].id}").json
    assert drained["DrainStrategy"]["Deadline"] == 60_000_000_000
    assert drained["SchedulingEligibility"] == "ineligible"
    assert drained["LastDrain"]["Status"] == "draining"
    assert drained["LastDrain"]["Meta"] == {"message": "kernel upgrade"}
    assert drained["LastDrain"].keys() == {"StartedAt", "UpdatedAt", "Status", "AccessorID",
                                           "Meta"}
    stub = next(n for n in api.simulate_get("/v1/nodes").json if n["ID"] == nodes[2].id)
    assert stub["LastDrain"]["Status"] == "draining"
    api.simulate_post(f"/v1/node/{nodes[2].id}/drain",
                      json={"DrainSpec": None, "MarkEligible": True})
    assert api.simulate_get(f"/v1/node/{nodes[2].id}").json["DrainStrategy"] is None
    for body, problem in (({"DrainSpec": {"Deadline": "soon"}}, "DrainSpec.Deadline"),
                          ({"DrainSpec": {"Deadline": 2**63}}, "DrainSpec.Deadline"),
                          ({"DrainSpec": []}, "DrainSpec"),
                          ({"DrainSpec": None, "Meta": ["x"]}, "Meta: expected an object"),
                          ({"DrainSpec": None, "Meta": {"n": 1}}, "Meta.n: expected a string")):
        bad = api.simulate_post(f"/v1/node/{nodes[2].id}/drain", json=body)
        assert bad.status_code == 400 and problem in bad.text, (body, bad.text)
    assert api.simulate_get(f"/v1/node/{nodes[2].id}").json["DrainStrategy"] is None
    missing = api.simulate_post("/v1/node/nope/drain", json={"DrainSpec": {"Deadline": 1}})
    assert missing.status_code == 404


def test_cluster_routes(api: falcon.testing.TestClient, agent) -> None:
    leader = api.simulate_get("/v1/status/leader").json
    assert leader == agent.config.advertise_for("rpc") and leader.endswith(":4647")
    assert api.simulate_get("/v1/status/peers").json == [leader]
    assert api.simulate_get("/v1/regions").json == ["global"]
    members = api.simulate_get("/v1/agent/members").json
    assert members["ServerRegion"] == "global"
    member = members["Members"][0]
    assert member["Name"] == "http-test.global" and member["Status"] == "alive"
    assert member["Tags"]["role"] == "nomad" and member["Tags"]["region"] == "global"
    me = api.simulate_get("/v1/agent/self").json
    assert me["config"]["Region"] == "global" and me["member"]["Name"] == "http-test.global"
    assert api.simulate_get("/v1/agent/health").json["server"]["ok"] is True
    evals = api.simulate_get("/v1/evaluations").json
    assert isinstance(evals, list)


def test_ui_and_redirect(api: falcon.testing.TestClient) -> None:
    root = api.simulate_get("/")
    assert root.status_code == 307 and root.headers["Location"] == "/ui/"
    page = api.simulate_get("/ui/")
    assert page.status_code == 200 and "<html" in page.text
    assert page.headers["Cache-Control"] == "no-cache"


def test_client_routes_on_a_server_only_agent_look_up_the_allocation(
        api: falcon.testing.TestClient) -> None:
    resp = api.simulate_get("/v1/client/fs/logs/x", params={"task": "t", "type": "stdout"})
    assert resp.status_code == 404 and resp.text == 'Unknown allocation "x"'


def test_a_node_address_is_bare_also_for_ipv6(api: falcon.testing.TestClient, agent) -> None:
    from nomadjail.testing import mock_node

    node = mock_node(name="six")
    node.http_addr = "[fd00::5]:4646"
    agent.require_server().node_register(node)
    listed = {n["ID"]: n for n in api.simulate_get("/v1/nodes").json}
    assert listed[node.id]["Address"] == "fd00::5"  # Nomad's: no brackets, no port
