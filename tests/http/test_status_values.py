"""A status Nomad does not define is a 400 naming the field and the values allowed;
the statuses Nomad sends back (a job read from the API, resubmitted) are accepted."""

from __future__ import annotations

import falcon.testing

from nomadjail.structs import to_api
from nomadjail.testing import mock_job


def test_an_unknown_job_status_is_a_400_and_stores_nothing(
        api: falcon.testing.TestClient) -> None:
    job = to_api(mock_job(job_id="bad-status", count=1))
    job["Status"] = "exploded"
    resp = api.simulate_post("/v1/jobs", json={"Job": job})
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == ('Job.Status: unknown value \'exploded\', expected one of "pending", '
                         '"running", "dead" or ""')
    assert api.simulate_get("/v1/job/bad-status").status_code == 404


def test_a_job_read_back_can_be_submitted_again(api: falcon.testing.TestClient, nodes) -> None:
    first = api.simulate_post("/v1/jobs", json={"Job": to_api(mock_job(job_id="again",
                                                                       count=1))})
    assert first.status_code == 200, first.text
    stored = api.simulate_get("/v1/job/again").json
    assert stored["Status"] in ("pending", "running")
    stored["Meta"] = {"changed": "yes"}
    resp = api.simulate_post("/v1/jobs", json={"Job": stored})
    assert resp.status_code == 200, resp.text
    assert api.simulate_get("/v1/job/again").json["Meta"] == {"changed": "yes"}
