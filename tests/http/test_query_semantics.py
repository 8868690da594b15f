"""Nomad's read semantics: paging, regions, per-object indexes, leaderless reads."""

from __future__ import annotations

import falcon.testing

from nomadjail.agent.agent import Agent
from nomadjail.agent.config import AgentConfig
from nomadjail.http import create_app
from nomadjail.structs import to_api
from nomadjail.testing import free_port, mock_batch_job, mock_job, wait_for


def register(api: falcon.testing.TestClient, job) -> dict:
    resp = api.simulate_post("/v1/jobs", json={"Job": to_api(job)})
    assert resp.status_code == 200, resp.text
    return resp.json


def test_paging_with_per_page_and_next_token(api: falcon.testing.TestClient, nodes) -> None:
    for name in ("page-a", "page-b", "page-c", "page-d", "page-e"):
        register(api, mock_job(job_id=name, count=0))
    first = api.simulate_get("/v1/jobs", params={"prefix": "page-", "per_page": "2"})
    assert [j["ID"] for j in first.json] == ["page-a", "page-b"]
    assert first.headers["X-Nomad-NextToken"] == "page-c"
    second = api.simulate_get("/v1/jobs", params={"prefix": "page-", "per_page": "2",
                                                  "next_token": "page-c"})
    assert [j["ID"] for j in second.json] == ["page-c", "page-d"]
    last = api.simulate_get("/v1/jobs", params={"prefix": "page-", "per_page": "2",
                                                "next_token": "page-e"})
    assert [j["ID"] for j in last.json] == ["page-e"]
    assert "X-Nomad-NextToken" not in last.headers


def test_filter_expressions_are_refused_not_ignored(api: falcon.testing.TestClient) -> None:
    resp = api.simulate_get("/v1/jobs", params={"filter": 'Status == "running"'})
    assert resp.status_code == 400 and "filter expressions are not supported" in resp.text


def test_other_regions_are_refused(api: falcon.testing.TestClient, nodes) -> None:
    resp = api.simulate_get("/v1/jobs", params={"region": "mars"})
    assert resp.status_code == 500 and "No path to region: 'mars'" in resp.text
    job = to_api(mock_job(job_id="martian"))
    job["Region"] = "mars"
    resp = api.simulate_post("/v1/jobs", json={"Job": job})
    assert resp.status_code == 500 and "No path to region" in resp.text
    assert api.simulate_get("/v1/job/martian").status_code == 404


def settled(api: falcon.testing.TestClient, job_id: str) -> None:
    """Wait until the job's evaluations are done (they update the job's status)."""
    wait_for(lambda: all(e["Status"] == "complete"
                         for e in api.simulate_get(f"/v1/job/{job_id}/evaluations").json),
             message=f"{job_id}'s evaluations complete")


def test_single_objects_carry_their_own_index(api: falcon.testing.TestClient, nodes) -> None:
    register(api, mock_job(job_id="indexed", count=0))
    settled(api, "indexed")
    resp = api.simulate_get("/v1/job/indexed")
    index = int(resp.headers["X-Nomad-Index"])
    assert index == resp.json["ModifyIndex"]
    register(api, mock_job(job_id="unrelated", count=0))  # moves the jobs table only
    again = api.simulate_get("/v1/job/indexed", params={"index": str(index), "wait": "200ms"})
    assert int(again.headers["X-Nomad-Index"]) == index  # no wake-up for another job
    register(api, mock_job(job_id="indexed", count=1))
    changed = api.simulate_get("/v1/job/indexed", params={"index": str(index), "wait": "5s"})
    assert int(changed.headers["X-Nomad-Index"]) > index
    assert changed.json["TaskGroups"][0]["Count"] == 1


def test_no_deployment_is_json_null(api: falcon.testing.TestClient, nodes) -> None:
    register(api, mock_batch_job(job_id="no-deploy", count=0))
    resp = api.simulate_get("/v1/job/no-deploy/deployment")
    assert resp.status_code == 200 and resp.text == "null"


def test_allocations_of_an_unknown_node_are_empty(api: falcon.testing.TestClient) -> None:
    resp = api.simulate_get("/v1/node/00000000-0000-0000-0000-000000000000/allocations")
    assert resp.status_code == 200 and resp.json == []


def test_validate_lists_every_problem(api: falcon.testing.TestClient) -> None:
    job = to_api(mock_job(job_id="bad id", count=-1))
    job["TaskGroups"][0]["Tasks"][0]["Config"] = {}
    resp = api.simulate_post("/v1/validate/job", json={"Job": job})
    assert resp.status_code == 200
    errors = resp.json["ValidationErrors"]
    assert any("contains a space" in e for e in errors)
    assert any("count can't be negative" in e for e in errors)
    assert any("command" in e for e in errors)  # raw_exec's config check
    assert resp.json["Error"].startswith(f"{len(errors)} errors occurred:\n\t* ")
    good = api.simulate_post("/v1/validate/job", json={"Job": to_api(mock_job(job_id="ok"))})
    assert good.json["ValidationErrors"] == [] and good.json["Error"] == ""


def test_version_diffs_on_request(api: falcon.testing.TestClient, nodes) -> None:
    register(api, mock_job(job_id="history", count=1))
    register(api, mock_job(job_id="history", count=2))
    plain = api.simulate_get("/v1/job/history/versions").json
    assert plain["Diffs"] is None and [v["Version"] for v in plain["Versions"]] == [1, 0]
    diffs = api.simulate_get("/v1/job/history/versions", params={"diffs": "true"}).json["Diffs"]
    assert len(diffs) == 1 and diffs[0]["Type"] == "Edited"
    group = diffs[0]["TaskGroups"][0]
    assert any(f["Name"] == "Count" and (f["Old"], f["New"]) == ("1", "2")
               for f in group["Fields"])


def test_reads_need_a_leader_unless_stale(tmp_path) -> None:
    config = AgentConfig(name="lonely", bind_addr="127.0.0.1", dev_mode=True,
                         data_dir=str(tmp_path))
    config.ports.serf = free_port()
    config.server.enabled = True
    config.server.bootstrap_expect = 3
    config.server.server_join = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    agent = Agent(config)
    agent.require_server().start()  # no peers answer: no leader, ever
    try:
        api = falcon.testing.TestClient(create_app(agent))
        resp = api.simulate_get("/v1/jobs")
        assert resp.status_code == 500 and resp.text == "No cluster leader"
        stale = api.simulate_get("/v1/jobs", params={"stale": ""})
        assert stale.status_code == 200 and stale.headers["X-Nomad-KnownLeader"] == "false"
    finally:
        agent.shutdown()
