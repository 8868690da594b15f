"""Deployments over Nomad's HTTP API, in process: canaries, promotion, pause and
resume, fail, manual allocation health, job revert and stability -- with
Nomad's paths, bodies, JSON and errors.  Health is set by hand
(``health_check = "manual"``): the nodes here run no client."""

from __future__ import annotations

import dataclasses
from typing import Any

import falcon.testing

from nomadjail.structs import Job, to_api
from nomadjail.testing import mock_job, wait_for

UPDATE_RESPONSE = {"EvalID", "EvalCreateIndex", "DeploymentModifyIndex", "RevertedJobVersion",
                   "Index"}


def canary_job(job_id: str, release: str = "1", **update: Any) -> Job:
    job = mock_job(job_id=job_id, count=3, cpu=50, memory_mb=32)
    group = job.task_groups[0]
    assert group.update is not None
    group.update = dataclasses.replace(group.update, max_parallel=1, canary=1,
                                       health_check="manual", **update)
    group.tasks[0].env = {"RELEASE": release}
    return job


def register(api: falcon.testing.TestClient, job: Job) -> dict:
    resp = api.simulate_post("/v1/jobs", json={"Job": to_api(job)})
    assert resp.status_code == 200, resp.text
    return resp.json


def latest(api: falcon.testing.TestClient, job_id: str) -> dict:
    return api.simulate_get(f"/v1/job/{job_id}/deployment").json


def wait_deployment(api: falcon.testing.TestClient, job_id: str, version: int,
                    status: str = "running") -> dict:
    return wait_for(lambda: (lambda d: d if d and d["JobVersion"] == version
                             and d["Status"] == status else None)(latest(api, job_id)),
                    timeout=10, message=f"deployment of version {version} {status}")


def deployment_allocs(api: falcon.testing.TestClient, deployment_id: str) -> list[dict]:
    resp = api.simulate_get(f"/v1/deployment/allocations/{deployment_id}")
    assert resp.status_code == 200, resp.text
    return [a for a in resp.json if a["DesiredStatus"] == "run"]


def set_health(api: falcon.testing.TestClient, deployment_id: str, *, healthy: list[str] = (),
               unhealthy: list[str] = ()) -> falcon.testing.Result:
    return api.simulate_post(f"/v1/deployment/allocation-health/{deployment_id}", json={
        "DeploymentID": deployment_id, "HealthyAllocationIDs": list(healthy),
        "UnhealthyAllocationIDs": list(unhealthy)})


def roll_out(api: falcon.testing.TestClient, job_id: str, version: int) -> dict:
    """Mark the deployment's allocations healthy as they come until it succeeds."""
    deployment = wait_deployment(api, job_id, version)

    def step() -> dict | None:
        current = latest(api, job_id)
        if current["Status"] == "successful":
            return current
        waiting = [a["ID"] for a in deployment_allocs(api, deployment["ID"])
                   if not (a["DeploymentStatus"] or {}).get("Healthy")]
        if waiting:
            set_health(api, deployment["ID"], healthy=waiting)
        return None

    return wait_for(step, timeout=15, message=f"version {version} rolled out")


def canaried(api: falcon.testing.TestClient, job_id: str) -> dict:
    """Version 0 rolled out; version 1 registered: its canary placed, not healthy."""
    register(api, canary_job(job_id))
    roll_out(api, job_id, 0)
    register(api, canary_job(job_id, release="2"))
    deployment = wait_deployment(api, job_id, 1)
    wait_for(lambda: deployment_allocs(api, deployment["ID"]), message="the canary placed")
    return deployment


def test_a_canary_waits_for_promotion_and_promotion_rolls_on(api, nodes):
    waiting = canaried(api, "canaried")
    deployment_id = waiting["ID"]
    state = waiting["TaskGroups"]["web"]
    assert (state["DesiredCanaries"], state["DesiredTotal"], state["Promoted"]) == (1, 3, False)
    assert waiting["StatusDescription"] == "Deployment is running but requires manual promotion"
    (canary,) = deployment_allocs(api, deployment_id)
    assert canary["DeploymentStatus"]["Canary"] is True and canary["JobVersion"] == 1
    assert state["PlacedCanaries"] == [canary["ID"]]
    old = [a for a in api.simulate_get("/v1/job/canaried/allocations").json
           if a["DesiredStatus"] == "run" and a["JobVersion"] == 0]
    assert len(old) == 3  # the old allocations keep running

    refused = api.simulate_post(f"/v1/deployment/promote/{deployment_id}",
                                json={"DeploymentID": deployment_id, "All": True})
    assert refused.status_code == 400
    assert refused.text == ('1 error occurred:\n\t* Task group "web" has 0/1 healthy '
                            'allocations\n\n')

    marked = set_health(api, deployment_id, healthy=[canary["ID"]])
    assert marked.status_code == 200, marked.text
    assert set(marked.json) == UPDATE_RESPONSE and marked.json["RevertedJobVersion"] is None
    promoted = api.simulate_put(f"/v1/deployment/promote/{deployment_id}",
                                json={"DeploymentID": deployment_id, "Groups": ["web"]})
    assert promoted.status_code == 200, promoted.text
    body = promoted.json
    assert set(body) == UPDATE_RESPONSE and body["EvalID"]
    assert body["EvalCreateIndex"] == body["DeploymentModifyIndex"] == body["Index"]
    assert promoted.headers["X-Nomad-Index"] == str(body["Index"])
    after = api.simulate_get(f"/v1/deployment/{deployment_id}").json
    assert after["TaskGroups"]["web"]["Promoted"] is True
    assert after["StatusDescription"] == "Deployment is running"
    stored = api.simulate_get(f"/v1/allocation/{canary['ID']}").json
    assert stored["DeploymentStatus"]["Canary"] is False

    done = roll_out(api, "canaried", 1)
    assert done["ID"] == deployment_id and done["TaskGroups"]["web"]["HealthyAllocs"] == 3
    live = [a for a in api.simulate_get("/v1/job/canaried/allocations").json
            if a["DesiredStatus"] == "run"]
    assert sorted(a["JobVersion"] for a in live) == [1, 1, 1]
    assert canary["ID"] in {a["ID"] for a in live}
    versions = api.simulate_get("/v1/job/canaried/versions").json["Versions"]
    assert [(v["Version"], v["Stable"]) for v in versions] == [(1, True), (0, True)]


def test_pause_and_resume(api, nodes):
    register(api, canary_job("pausing"))
    deployment = wait_deployment(api, "pausing", 0)
    path = f"/v1/deployment/pause/{deployment['ID']}"

    paused = api.simulate_post(path, json={"DeploymentID": deployment["ID"], "Pause": True})
    assert paused.status_code == 200, paused.text
    assert paused.json["EvalID"] == "" and paused.json["EvalCreateIndex"] == 0
    now = api.simulate_get(f"/v1/deployment/{deployment['ID']}").json
    assert (now["Status"], now["StatusDescription"]) == ("paused", "Deployment is paused")

    resumed = api.simulate_post(path, json={"DeploymentID": deployment["ID"], "Pause": False})
    assert resumed.status_code == 200 and resumed.json["EvalID"]
    now = api.simulate_get(f"/v1/deployment/{deployment['ID']}").json
    assert (now["Status"], now["StatusDescription"]) == ("running", "Deployment is running")
    roll_out(api, "pausing", 0)


def test_failing_a_deployment_reverts_to_the_stable_version(api, nodes):
    register(api, canary_job("reverting", auto_revert=True))
    roll_out(api, "reverting", 0)
    register(api, canary_job("reverting", release="bad", auto_revert=True))
    deployment = wait_deployment(api, "reverting", 1)

    failed = api.simulate_post(f"/v1/deployment/fail/{deployment['ID']}")
    assert failed.status_code == 200, failed.text
    assert failed.json["RevertedJobVersion"] == 0 and failed.json["EvalID"]
    now = api.simulate_get(f"/v1/deployment/{deployment['ID']}").json
    assert now["Status"] == "failed"
    assert now["StatusDescription"] == ("Deployment marked as failed - rolling back to job "
                                        "version 0")
    job = api.simulate_get("/v1/job/reverting").json
    assert job["Version"] == 2 and job["Stable"] is False
    assert job["TaskGroups"][0]["Tasks"][0]["Env"] == {"RELEASE": "1"}
    # The canary of the failed version goes; version 2 (version 0 again) rolls out.
    roll_out(api, "reverting", 2)
    live = [a for a in api.simulate_get("/v1/job/reverting/allocations").json
            if a["DesiredStatus"] == "run"]
    assert len(live) == 3 and {a["JobVersion"] for a in live} == {2}

    again = api.simulate_post(f"/v1/deployment/fail/{deployment['ID']}")
    assert (again.status_code, again.text) == (400, "can't fail terminal deployment")


def test_an_unhealthy_canary_fails_the_deployment_and_reverts(api, nodes):
    register(api, canary_job("unhealthy", auto_revert=True))
    roll_out(api, "unhealthy", 0)
    register(api, canary_job("unhealthy", release="bad", auto_revert=True))
    deployment = wait_deployment(api, "unhealthy", 1)
    (canary,) = wait_for(lambda: deployment_allocs(api, deployment["ID"]),
                         message="the canary placed")

    marked = set_health(api, deployment["ID"], unhealthy=[canary["ID"]])

    assert marked.status_code == 200, marked.text
    assert marked.json["RevertedJobVersion"] == 0
    now = api.simulate_get(f"/v1/deployment/{deployment['ID']}").json
    assert now["Status"] == "failed"
    assert now["StatusDescription"] == ("Failed due to unhealthy allocations - rolling back to "
                                        "job version 0")
    assert api.simulate_get("/v1/job/unhealthy").json["Version"] == 2
    stopped = wait_for(lambda: (lambda a: a if a["DesiredStatus"] == "stop" else None)(
        api.simulate_get(f"/v1/allocation/{canary['ID']}").json), message="canary stopped")
    assert stopped["DeploymentStatus"]["Healthy"] is False


def test_job_revert_and_stable(api, nodes):
    register(api, canary_job("versions"))
    roll_out(api, "versions", 0)
    register(api, canary_job("versions", release="2"))
    wait_deployment(api, "versions", 1)

    def revert(body: dict) -> falcon.testing.Result:
        return api.simulate_post("/v1/job/versions/revert", json=body)

    assert revert({"JobID": "versions", "JobVersion": 1}).text == (
        "can't revert to current version")
    missing = revert({"JobID": "versions", "JobVersion": 7})
    assert (missing.status_code, missing.text) == (
        404, 'job "versions" in namespace "default" at version 7 not found')
    enforced = revert({"JobID": "versions", "JobVersion": 0, "EnforcePriorVersion": 0})
    assert (enforced.status_code, enforced.text) == (
        400, "Current job has version 1; enforcing version 0")
    assert revert({"JobID": "other", "JobVersion": 0}).status_code == 400
    assert revert({"JobVersion": 0}).text == "JobID must be specified"
    assert revert({"JobID": "versions", "JobVersion": -1}).status_code == 400
    assert revert({"JobID": "versions", "JobVersion": "0"}).status_code == 400
    assert api.simulate_post("/v1/job/nope/revert",
                             json={"JobID": "nope", "JobVersion": 0}).status_code == 404

    done = revert({"JobID": "versions", "JobVersion": 0, "EnforcePriorVersion": 1})
    assert done.status_code == 200, done.text
    assert set(done.json) >= {"EvalID", "EvalCreateIndex", "JobModifyIndex", "Index"}
    job = api.simulate_get("/v1/job/versions").json
    assert job["Version"] == 2 and job["TaskGroups"][0]["Tasks"][0]["Env"] == {"RELEASE": "1"}

    unmark = api.simulate_put("/v1/job/versions/stable",
                              json={"JobID": "versions", "JobVersion": 0, "Stable": False})
    assert unmark.status_code == 200 and set(unmark.json) == {"Index"}
    versions = api.simulate_get("/v1/job/versions/versions").json["Versions"]
    assert [(v["Version"], v["Stable"]) for v in versions] == [(2, False), (1, False),
                                                               (0, False)]
    gone = api.simulate_put("/v1/job/versions/stable",
                            json={"JobID": "versions", "JobVersion": 9, "Stable": True})
    assert gone.status_code == 404


def test_bad_deployment_requests_change_nothing(api, nodes):
    deployment_id = canaried(api, "bad-requests")["ID"]
    before = api.simulate_get(f"/v1/deployment/{deployment_id}").json
    promote = f"/v1/deployment/promote/{deployment_id}"

    cases = [
        (promote, {"All": True}, 400, "DeploymentID must be specified"),
        (promote, {"DeploymentID": "other", "All": True}, 400,
         f"Deployment ID does not match: body has 'other', URL has {deployment_id!r}"),
        (promote, {"DeploymentID": deployment_id, "All": "yes"}, 400, "body.All"),
        (promote, {"DeploymentID": deployment_id}, 400, "nothing to promote"),
        (promote, {"DeploymentID": deployment_id, "Groups": ["db"]}, 400,
         f'Task group "db" is not part of deployment "{deployment_id}"'),
        ("/v1/deployment/promote/unknown", {"DeploymentID": "unknown", "All": True}, 404,
         "deployment not found"),
        (f"/v1/deployment/pause/{deployment_id}", {"DeploymentID": deployment_id,
                                                    "Pause": 1}, 400, "body.Pause"),
        (f"/v1/deployment/allocation-health/{deployment_id}",
         {"DeploymentID": deployment_id}, 400,
         "must specify at least one healthy/unhealthy allocation ID"),
        (f"/v1/deployment/allocation-health/{deployment_id}",
         {"DeploymentID": deployment_id, "HealthyAllocationIDs": ["nope"]}, 400,
         'unknown alloc "nope"'),
        (f"/v1/deployment/allocation-health/{deployment_id}",
         {"DeploymentID": deployment_id, "HealthyAllocationIDs": "nope"}, 400,
         "body.HealthyAllocationIDs"),
    ]
    for path, body, status, message in cases:
        resp = api.simulate_post(path, json=body)
        assert resp.status_code == status, (path, body, resp.text)
        assert message in resp.text, (path, body, resp.text)
    assert api.simulate_get(promote).status_code == 405
    assert api.simulate_get("/v1/deployment/unknown").status_code == 404
    assert api.simulate_get("/v1/deployment/allocations/unknown").json == []
    assert api.simulate_get(f"/v1/deployment/{deployment_id}").json == before


def test_job_deployments_list_only_the_current_job_unless_all(api, nodes):
    register(api, canary_job("relisted"))
    first = wait_deployment(api, "relisted", 0)
    assert api.simulate_delete("/v1/job/relisted", params={"purge": "true"}).status_code == 200
    register(api, canary_job("relisted"))
    second = wait_for(lambda: (lambda d: d if d and d["ID"] != first["ID"] else None)(
        latest(api, "relisted")), message="the new job's deployment")

    listed = [d["ID"] for d in api.simulate_get("/v1/job/relisted/deployments").json]
    assert listed == [second["ID"]]
    every = api.simulate_get("/v1/job/relisted/deployments", params={"all": "true"}).json
    assert [d["ID"] for d in every] == [second["ID"], first["ID"]]
