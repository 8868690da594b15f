"""Scaling a group through a real dev agent: HTTP ``/v1/job/<id>/scale``, the
scaling policies endpoints and ``job scale`` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from nomadjail.testing import AgentProcess, wait_for
from nomadjail.testing.cli_process import run_cli as nomadjail

from .jobs import FOREVER, shell_job


def scalable_job(job_id: str, count: int = 1, low: int = 1, high: int = 3) -> dict:
    # A batch job: no deployment, so a scale is never blocked by one in flight.
    body = shell_job(job_id, FOREVER, count=count, job_type="batch")
    body["Job"]["TaskGroups"][0]["Scaling"] = {"Min": low, "Max": high,
                                               "Policy": {"cooldown": "1m"}}
    return body


def running(agent: AgentProcess, job_id: str, count: int) -> list[dict]:
    def found() -> list[dict] | None:
        allocs = [a for a in agent.json(f"/v1/job/{job_id}/allocations")
                  if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run"]
        return allocs if len(allocs) == count else None
    return wait_for(found, timeout=30, message=f"{count} running allocations of {job_id}")


def scale(agent: AgentProcess, job_id: str, count: int | None, group: str = "g"):
    return agent.request("PUT", f"/v1/job/{job_id}/scale",
                         {"Count": count, "Target": {"Group": group}, "Message": "test"})


@pytest.fixture
def purge(dev_agent: AgentProcess):
    created: list[str] = []
    yield created.append
    for job_id in created:
        dev_agent.request("DELETE", f"/v1/job/{job_id}", purge="true")


def test_scale_up_and_down_over_http(dev_agent: AgentProcess, purge) -> None:
    purge("scaled")
    resp = dev_agent.request("POST", "/v1/jobs", scalable_job("scaled"))
    assert resp.status_code == 200, resp.text
    running(dev_agent, "scaled", 1)

    up = scale(dev_agent, "scaled", 3)
    assert up.status_code == 200, up.text
    assert up.json()["EvalID"] and up.json()["JobModifyIndex"] > 0
    running(dev_agent, "scaled", 3)
    job = dev_agent.json("/v1/job/scaled")
    assert job["Version"] == 1 and job["TaskGroups"][0]["Count"] == 3
    evaluation = dev_agent.json(f"/v1/evaluation/{up.json()['EvalID']}")
    assert evaluation["TriggeredBy"] == "job-scaling"

    status = wait_for(lambda: (lambda s: s if s["TaskGroups"]["g"]["Running"] == 3 else None)(
        dev_agent.json("/v1/job/scaled/scale")), timeout=10, message="scale status")
    assert status["JobID"] == "scaled" and status["Namespace"] == "default"
    assert status["JobStopped"] is False
    assert status["TaskGroups"]["g"]["Desired"] == 3

    down = scale(dev_agent, "scaled", 1)
    assert down.status_code == 200, down.text
    running(dev_agent, "scaled", 1)
    assert dev_agent.json("/v1/job/scaled")["Version"] == 2


def test_bad_scale_requests_change_nothing(dev_agent: AgentProcess, purge) -> None:
    purge("bounded")
    assert dev_agent.request("POST", "/v1/jobs", scalable_job("bounded", count=2,
                                                              low=1, high=3)).status_code == 200
    before = dev_agent.json("/v1/job/bounded")
    cases = [
        (scale(dev_agent, "bounded", 4), 400,
         "group count was greater than scaling policy maximum: 4 > 3"),
        (scale(dev_agent, "bounded", 0), 400,
         "group count was less than scaling policy minimum: 0 < 1"),
        (scale(dev_agent, "bounded", -1), 400, "scaling action count can't be negative"),
        (scale(dev_agent, "bounded", 2, group="nope"), 400,
         'task group "nope" specified for scaling does not exist in job'),
        (dev_agent.request("PUT", "/v1/job/bounded/scale", {"Count": 2}), 400,
         "missing task group name for scaling action"),
        (dev_agent.request("PUT", "/v1/job/bounded/scale", {"Count": "two",
                                                            "Target": {"Group": "g"}}),
         400, "Count"),
        (scale(dev_agent, "no-such-job", 2), 404, 'job "no-such-job" not found'),
    ]
    for resp, code, message in cases:
        assert resp.status_code == code, resp.text
        assert message in resp.text
    after = dev_agent.json("/v1/job/bounded")
    assert (after["Version"], after["JobModifyIndex"]) == (before["Version"],
                                                           before["JobModifyIndex"])
    assert dev_agent.get("/v1/job/no-such-job/scale").status_code == 404


def test_scaling_policies_keep_their_id_across_versions(dev_agent: AgentProcess, purge) -> None:
    purge("policied")
    assert dev_agent.request("POST", "/v1/jobs", scalable_job("policied")).status_code == 200
    stubs = [p for p in dev_agent.json("/v1/scaling/policies", job="policied")]
    assert len(stubs) == 1
    stub = stubs[0]
    assert stub["Target"] == {"Namespace": "default", "Job": "policied", "Group": "g"}
    assert stub["Type"] == "horizontal" and stub["Enabled"] is True
    policy = dev_agent.json(f"/v1/scaling/policy/{stub['ID']}")
    assert (policy["Min"], policy["Max"], policy["Policy"]) == (1, 3, {"cooldown": "1m"})
    assert scale(dev_agent, "policied", 2).status_code == 200
    again = dev_agent.json("/v1/scaling/policies", job="policied")
    assert [p["ID"] for p in again] == [stub["ID"]]
    assert again[0]["ModifyIndex"] > stub["ModifyIndex"]
    assert dev_agent.get("/v1/scaling/policy/not-a-policy").status_code == 404


def test_job_scale_cli(dev_agent: AgentProcess, purge, tmp_path: Path) -> None:
    purge("cli-scaled")
    assert dev_agent.request("POST", "/v1/jobs",
                             scalable_job("cli-scaled", high=5)).status_code == 200
    result = nomadjail(dev_agent, "job", "scale", "-detach", "cli-scaled", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Evaluation ID: ")
    running(dev_agent, "cli-scaled", 2)

    monitored = nomadjail(dev_agent, "job", "scale", "cli-scaled", "g", "3", cwd=tmp_path)
    assert monitored.returncode == 0, monitored.stdout + monitored.stderr
    assert "Monitoring evaluation" in monitored.stdout
    assert 'finished with status "complete"' in monitored.stdout
    running(dev_agent, "cli-scaled", 3)

    refused = nomadjail(dev_agent, "job", "scale", "cli-scaled", "9", cwd=tmp_path)
    assert refused.returncode == 1
    assert ("Error submitting scaling request: Unexpected response code: 400 (group count was "
            "greater than scaling policy maximum: 9 > 5)") in refused.stderr
    assert dev_agent.json("/v1/job/cli-scaled")["TaskGroups"][0]["Count"] == 3
    bad = nomadjail(dev_agent, "job", "scale", "cli-scaled", "many", cwd=tmp_path)
    assert bad.returncode == 1 and "Failed to convert count string to int" in bad.stderr


def test_job_scale_cli_needs_the_group_of_a_job_with_two(dev_agent: AgentProcess, purge,
                                                         tmp_path: Path) -> None:
    purge("two-groups")
    body = scalable_job("two-groups")
    second = dict(body["Job"]["TaskGroups"][0], Name="h")
    body["Job"]["TaskGroups"].append(second)
    assert dev_agent.request("POST", "/v1/jobs", body).status_code == 200
    ambiguous = nomadjail(dev_agent, "job", "scale", "two-groups", "2", cwd=tmp_path)
    assert ambiguous.returncode == 1 and "Group name required" in ambiguous.stderr
    named = nomadjail(dev_agent, "job", "scale", "-detach", "two-groups", "h", "2",
                      cwd=tmp_path)
    assert named.returncode == 0, named.stdout + named.stderr
    counts = {g["Name"]: g["Count"] for g in dev_agent.json("/v1/job/two-groups")["TaskGroups"]}
    assert counts == {"g": 1, "h": 2}


def test_scaling_policy_list_and_info_cli(dev_agent: AgentProcess, purge, tmp_path: Path) -> None:
    purge("listed")
    assert dev_agent.request("POST", "/v1/jobs", scalable_job("listed")).status_code == 200
    listed = nomadjail(dev_agent, "scaling", "policy", "list", "-job", "listed", cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ID", "Enabled", "Type", "Target"]
    policy_id, enabled, kind, target = row.split()
    assert (enabled, kind, target) == ("true", "horizontal",
                                       "Namespace:default,Job:listed,Group:g")
    info = nomadjail(dev_agent, "scaling", "policy", "info", policy_id[:8], cwd=tmp_path)
    assert info.returncode == 0, info.stdout + info.stderr
    assert f"ID      = {policy_id}\n" in info.stdout
    assert "Min     = 1\nMax     = 3\n" in info.stdout
    assert '\nPolicy\n{\n    "cooldown": "1m"\n}' in info.stdout
    none = nomadjail(dev_agent, "scaling", "policy", "list", "-job", "nothing", cwd=tmp_path)
    assert none.stdout == "No policies found\n"
    missing = nomadjail(dev_agent, "scaling", "policy", "info", "zzzz", cwd=tmp_path)
    assert missing.returncode == 1
    assert 'No scaling policies with prefix or id "zzzz" found' in missing.stderr


def test_resubmitting_an_unchanged_job_changes_nothing(dev_agent: AgentProcess, purge) -> None:
    """The policy ID the server assigned is not a difference: a plan of the same
    job shows no change and registering it again makes no new version."""
    purge("same")
    body = scalable_job("same")
    assert dev_agent.request("POST", "/v1/jobs", body).status_code == 200
    plan = dev_agent.request("POST", "/v1/job/same/plan", {**body, "Diff": True})
    assert plan.status_code == 200, plan.text
    assert plan.json()["Diff"]["Type"] == "None"
    assert dev_agent.request("POST", "/v1/jobs", body).status_code == 200
    assert dev_agent.json("/v1/job/same")["Version"] == 0


def test_scaling_waits_for_the_running_deployment(dev_agent: AgentProcess, purge) -> None:
    """As in Nomad, a service job cannot be scaled while its deployment runs."""
    purge("deploying")
    body = shell_job("deploying", FOREVER)
    body["Job"]["TaskGroups"][0]["Scaling"] = {"Min": 1, "Max": 3}
    assert dev_agent.request("POST", "/v1/jobs", body).status_code == 200
    wait_for(lambda: (lambda d: d and d["Status"] == "running")(
        dev_agent.json("/v1/job/deploying/deployment")), timeout=20,
        message="a running deployment")
    refused = scale(dev_agent, "deploying", 2)
    assert refused.status_code == 400 and "job scaling blocked due to active deployment" \
        in refused.text
    assert dev_agent.json("/v1/job/deploying")["Version"] == 0


def test_scale_with_a_stale_job_modify_index_is_refused(dev_agent: AgentProcess, purge) -> None:
    purge("enforced")
    assert dev_agent.request("POST", "/v1/jobs", scalable_job("enforced")).status_code == 200
    index = dev_agent.json("/v1/job/enforced")["JobModifyIndex"]
    stale = dev_agent.request("PUT", "/v1/job/enforced/scale", {
        "Count": 2, "Target": {"Group": "g"}, "JobModifyIndex": index + 1000})
    assert stale.status_code == 409, stale.text
    assert "conflicting job modify index" in stale.text
    fresh = dev_agent.request("PUT", "/v1/job/enforced/scale", {
        "Count": 2, "Target": {"Group": "g"}, "JobModifyIndex": index})
    assert fresh.status_code == 200, fresh.text
    assert dev_agent.json("/v1/job/enforced")["TaskGroups"][0]["Count"] == 2
