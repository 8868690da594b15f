"""``job promote``, ``job revert`` and ``job deployments``: rollouts seen from a job."""

from __future__ import annotations

import json
from typing import Any

from nomadjail.structs import Evaluation, to_api
from nomadjail.testing import mock_job
from nomadjail.testing import nomad_samples as samples

TS = "2023-11-14T22:13:20Z"
DEP_ID = samples.DEPLOYMENT["ID"]
UPDATE = samples.DEPLOYMENT_UPDATE_RESPONSE
EVAL_ID = UPDATE["EvalID"]
REVERTED = samples.JOB_REGISTER_RESPONSE
REVERT_EVAL = REVERTED["EvalID"]


def job_stub(job_id: str, namespace: str = "default") -> dict[str, Any]:
    return {"ID": job_id, "Type": "service", "Priority": 50, "Status": "running",
            "Namespace": namespace, "JobSummary": {"Namespace": namespace}, "SubmitTime": 0}


def complete_eval(eval_id: str, deployment_id: str = "") -> dict[str, Any]:
    return to_api(Evaluation(id=eval_id, namespace="default", priority=50, type="service",
                             triggered_by="job-register", job_id="example", status="complete",
                             create_index=35, deployment_id=deployment_id))


# ------------------------------------------------------------------ job promote


def test_job_promote_promotes_the_latest_deployment_and_follows_it(run, fake):
    fake.on("GET", "/v1/jobs", [job_stub("example")])
    fake.on("GET", "/v1/job/example/deployment", samples.DEPLOYMENT)
    fake.on("PUT", f"/v1/deployment/promote/{DEP_ID}", {**UPDATE, "RevertedJobVersion": None})
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}", complete_eval(EVAL_ID, DEP_ID))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [])
    fake.on("GET", f"/v1/deployment/{DEP_ID}",
            samples.deployment(Status="successful", ModifyIndex=30,
                               StatusDescription="Deployment completed successfully"))
    result = run("job", "promote", "exam")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f'==> {TS}: Monitoring evaluation "0d834913"\n'
        f'    {TS}: Evaluation triggered by job "example"\n'
        f'    {TS}: Evaluation within deployment: "70638f62"\n')
    assert "Status      = successful\n" in result.output
    promote = fake.last("PUT", f"/v1/deployment/promote/{DEP_ID}")
    assert promote.body == {"DeploymentID": DEP_ID, "All": True}
    assert promote.params == {"namespace": "default"}


def test_job_promote_groups_in_the_jobs_namespace(run, fake):
    fake.on("GET", "/v1/jobs", [job_stub("example", namespace="prod")])
    fake.on("GET", "/v1/job/example/deployment", samples.DEPLOYMENT)
    fake.on("PUT", f"/v1/deployment/promote/{DEP_ID}", UPDATE)
    result = run("job", "promote", "-namespace=*", "-group", "cache", "-detach", "example")
    assert result.exit_code == 0
    assert result.output == f"Evaluation ID: {EVAL_ID}\n"
    promote = fake.last("PUT", f"/v1/deployment/promote/{DEP_ID}")
    assert promote.body == {"DeploymentID": DEP_ID, "Groups": ["cache"]}
    assert promote.params == {"namespace": "prod"}
    assert fake.last("GET", "/v1/job/example/deployment").params == {"namespace": "prod"}


def test_job_promote_without_a_deployment(run, fake):
    fake.on("GET", "/v1/jobs", [job_stub("example")])
    fake.on("GET", "/v1/job/example/deployment", None)
    result = run("job", "promote", "example")
    assert result.exit_code == 1
    assert result.stderr == 'Job "example" has no deployment to promote\n'
    assert fake.paths("PUT") == []


def test_job_promote_errors_and_bad_input(run, fake):
    fake.on("GET", "/v1/jobs", [job_stub("example")])
    fake.on("GET", "/v1/job/example/deployment", samples.DEPLOYMENT)
    fake.on("PUT", f"/v1/deployment/promote/{DEP_ID}", status=500,
            text=f'Deployment "{DEP_ID}" has terminal status "successful":')
    failed = run("job", "promote", "example")
    assert failed.exit_code == 1
    assert failed.stderr == (f'Error promoting deployment "{DEP_ID}" for job "example": '
                             f"Unexpected response code: 500 (Deployment \"{DEP_ID}\" has "
                             'terminal status "successful":)\n')

    fake.on("GET", "/v1/jobs", [])
    unknown = run("job", "promote", "nope")
    assert unknown.exit_code == 1
    assert unknown.stderr == 'No job(s) with prefix or ID "nope" found\n'

    fake.on("GET", "/v1/jobs", [job_stub("example"), job_stub("example-2")])
    ambiguous = run("job", "promote", "ex")
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr.startswith('Prefix "ex" matched multiple jobs\n\nID ')

    none = run("job", "promote")
    assert none.exit_code == 1
    assert none.stderr == ("This command takes one argument: <job id>\n"
                           "For additional help try 'nomadjail job promote -help'\n")
    assert len(fake.paths("PUT")) == 1


# ------------------------------------------------------------------ job revert


def test_job_revert_to_a_version_monitors_the_evaluation(run, fake):
    fake.on("GET", "/v1/jobs", [job_stub("example")])
    fake.on("PUT", "/v1/job/example/revert", REVERTED)
    fake.on("GET", f"/v1/evaluation/{REVERT_EVAL}", complete_eval(REVERT_EVAL))
    fake.on("GET", f"/v1/evaluation/{REVERT_EVAL}/allocations", [
        {"ID": "4ed0ca3b-0000-0000-0000-000000000000", "NodeID": "e8a2243d-0000",
         "TaskGroup": "cache", "DesiredStatus": "run", "ClientStatus": "running",
         "CreateIndex": 12}])
    result = run("job", "revert", "example", "0")
    assert result.exit_code == 0, result.output
    # Nomad's documented `job revert example 0` output, with times.
    assert result.output == (
        f'==> {TS}: Monitoring evaluation "d092fdc0"\n'
        f'    {TS}: Evaluation triggered by job "example"\n'
        f'    {TS}: Allocation "4ed0ca3b" modified: node "e8a2243d", group "cache"\n'
        f'    {TS}: Evaluation status changed: "pending" -> "complete"\n'
        f'==> {TS}: Evaluation "d092fdc0" finished with status "complete"\n')
    revert = fake.last("PUT", "/v1/job/example/revert")
    assert revert.body == {"JobID": "example", "JobVersion": 0, "EnforcePriorVersion": None}


def test_job_revert_to_a_tagged_version(run, fake):
    versions = {"Versions": [
        {**json.loads(json.dumps(to_api(mock_job(job_id="example")))), "Version": 3,
         "VersionTag": None},
        {**json.loads(json.dumps(to_api(mock_job(job_id="example")))), "Version": 2,
         "VersionTag": {"Name": "golden-version", "Description": "", "TaggedTime": 0}},
    ], "Diffs": None}
    fake.on("GET", "/v1/jobs", [job_stub("example")])
    fake.on("GET", "/v1/job/example/versions", versions)
    fake.on("PUT", "/v1/job/example/revert", REVERTED)
    result = run("job", "revert", "-detach", "example", "golden-version")
    assert result.exit_code == 0
    assert result.output == f"Evaluation ID: {REVERT_EVAL}\n"
    assert fake.last("PUT", "/v1/job/example/revert").body["JobVersion"] == 2

    missing = run("job", "revert", "example", "silver")
    assert missing.exit_code == 1
    assert missing.stderr == ("Error retrieving job versions: version tag silver not found for "
                              "job example\n")
    assert len(fake.paths("PUT")) == 1


def test_job_revert_refused_by_the_server(run, fake):
    fake.on("GET", "/v1/jobs", [job_stub("example")])
    fake.on("PUT", "/v1/job/example/revert", status=400,
            text="can't revert to current version")
    result = run("job", "revert", "example", "3")
    assert result.exit_code == 1
    assert result.stderr == ("Error reverting job: Unexpected response code: 400 (can't revert "
                             "to current version)\n")


def test_job_revert_needs_a_job_and_a_version(run, fake):
    result = run("job", "revert", "example")
    assert result.exit_code == 1
    assert result.stderr == ("This command takes two arguments: <job> <version|tag>\n"
                             "For additional help try 'nomadjail job revert -help'\n")
    assert fake.requests == []


# ------------------------------------------------------------------ job deployments


def test_job_deployments_lists_newest_first(run, fake):
    fake.on("GET", "/v1/jobs", [job_stub("example")])
    fake.on("GET", "/v1/job/example/deployments", [
        samples.deployment(ID="5f271fe2-1111-2222-3333-444444444444", JobVersion=0,
                           Status="successful", CreateIndex=10,
                           StatusDescription="Deployment completed successfully"),
        samples.deployment(CreateIndex=19)])
    result = run("job", "deployments", "-all", "example")
    assert result.exit_code == 0
    assert result.output == (
        "ID        Job ID   Job Version  Status      Description\n"
        "70638f62  example  1            running     <none>\n"
        "5f271fe2  example  0            successful  Deployment completed successfully\n")
    assert fake.last("GET", "/v1/job/example/deployments").params == {
        "all": "true", "namespace": "default"}


def test_job_deployments_latest(run, fake):
    fake.on("GET", "/v1/jobs", [job_stub("example")])
    fake.on("GET", "/v1/job/example/deployment", samples.DEPLOYMENT)
    result = run("job", "deployments", "-latest", "example")
    assert result.exit_code == 0
    assert result.output == (
        "ID          = 70638f62\n"
        "Job ID      = example\n"
        "Job Version = 1\n"
        "Status      = running\n"
        "Description = <none>\n"
        "\n"
        "Deployed\n"
        "Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy\n"
        "cache       false     3        1         1       0        0\n")
    as_json = run("job", "deployments", "-latest", "-json", "example")
    assert json.loads(as_json.output)["ID"] == DEP_ID

    fake.on("GET", "/v1/job/example/deployment", None)
    assert run("job", "deployments", "-latest", "example").output == "No deployment found\n"
