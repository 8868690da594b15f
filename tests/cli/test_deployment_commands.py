"""``deployment list|status|fail|pause|resume|promote`` against Nomad's own JSON.

The answers are the samples of Nomad's deployments API documentation
(:mod:`nomadjail.testing.nomad_samples`), varied where a test needs another state;
the expected text is what Nomad's CLI documentation shows for them.
"""

from __future__ import annotations

import json
from typing import Any

from nomadjail.structs import Evaluation, to_api
from nomadjail.testing import nomad_samples as samples

TS = "2023-11-14T22:13:20Z"  # the frozen clock of conftest.NOW, in UTC

DEP_ID = samples.DEPLOYMENT["ID"]
DOCS_FAIL_RESPONSE = samples.DEPLOYMENT_UPDATE_RESPONSE
EVAL_ID = DOCS_FAIL_RESPONSE["EvalID"]
deployment = samples.deployment
group = samples.deployment_state


# The three deployments of Nomad's `deployment list` example, listed out of order.
LISTED = [
    deployment(ID="62eb607c-1111-2222-3333-444444444444", JobVersion=1, Status="successful",
               StatusDescription="Deployment completed successfully", CreateIndex=30),
    deployment(ID="8990cfbc-28c0-cb28-ca31-856cf691b987", JobVersion=2, Status="failed",
               StatusDescription="Deployment marked as failed", CreateIndex=40),
    deployment(ID="5f271fe2-1111-2222-3333-444444444444", JobVersion=0, Status="successful",
               StatusDescription="Deployment completed successfully", CreateIndex=20),
]

# `deployment status 0b` in Nomad's docs: a canary waiting for promotion.
CANARY = deployment(
    ID="0b23b149-8f1d-2c6e-7b3a-5d4e3f2a1b0c", JobVersion=1,
    StatusDescription="Deployment is running but requires manual promotion",
    TaskGroups={"cache": group(DesiredCanaries=1, PlacedAllocs=1, HealthyAllocs=0,
                               PlacedCanaries=["d2b13584-0000-0000-0000-000000000000"]),
                "web": group()})
CANARY_ID = CANARY["ID"]
CANARY_BLOCK = (
    "ID          = 0b23b149\n"
    "Job ID      = example\n"
    "Job Version = 1\n"
    "Status      = running\n"
    "Description = Deployment is running but requires manual promotion\n"
    "\n"
    "Deployed\n"
    "Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline\n"
    "cache       false     2        1         1       0        0          2021-06-09T22:20:27Z\n"
    "web         N/A       2        0         2       2        0          2021-06-09T22:20:27Z\n")


def evaluation(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(id=EVAL_ID, namespace="default", priority=50, type="service",
                                triggered_by="deployment-watcher", job_id="example",
                                status="complete", create_index=20)
    base.update(fields)
    return to_api(Evaluation(**base))


# ------------------------------------------------------------------ list


def test_list_is_newest_first_as_in_nomads_docs(run, fake):
    fake.on("GET", "/v1/deployments", LISTED)
    result = run("deployment", "list")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "ID        Job ID   Job Version  Status      Description\n"
        "8990cfbc  example  2            failed      Deployment marked as failed\n"
        "62eb607c  example  1            successful  Deployment completed successfully\n"
        "5f271fe2  example  0            successful  Deployment completed successfully\n")


def test_list_verbose_json_and_filter(run, fake):
    fake.on("GET", "/v1/deployments", LISTED)
    verbose = run("deployment", "list", "-verbose")
    assert "8990cfbc-28c0-cb28-ca31-856cf691b987  example" in verbose.output

    as_json = run("deployment", "list", "-json", "-filter", 'Status == "failed"')
    assert as_json.exit_code == 0
    listed = json.loads(as_json.output)
    assert [d["ID"][:8] for d in listed] == ["8990cfbc", "62eb607c", "5f271fe2"]
    assert listed[0]["TaskGroups"]["cache"]["DesiredCanaries"] == 1
    assert fake.last("GET", "/v1/deployments").params == {"filter": 'Status == "failed"'}


def test_list_without_deployments_and_on_errors(run, fake):
    fake.on("GET", "/v1/deployments", [])
    assert run("deployment", "list").output == "No deployments found\n"
    fake.on("GET", "/v1/deployments", status=400,
            text="filter expressions are not supported by nomadjail yet")
    failed = run("deployment", "list", "-filter", "Status == 1")
    assert failed.exit_code == 1
    assert failed.stderr == ("Error retrieving deployments: Unexpected response code: 400 "
                             "(filter expressions are not supported by nomadjail yet)\n")


def test_list_takes_no_arguments_and_only_its_flags(run, fake):
    extra = run("deployment", "list", "example")
    assert extra.exit_code == 1
    assert extra.stderr == ("This command takes no arguments\n"
                            "For additional help try 'nomadjail deployment list -help'\n")
    bad_flag = run("deployment", "list", "-latest")
    assert bad_flag.exit_code == 1
    assert bad_flag.stderr.startswith("Error: flag provided but not defined: -latest\n")
    assert fake.requests == []


# ------------------------------------------------------------------ status


def test_status_by_prefix_shows_the_canary_block_of_nomads_docs(run, fake):
    fake.on("GET", "/v1/deployments", [CANARY])
    result = run("deployment", "status", "0b")
    assert result.exit_code == 0, result.output
    assert result.output == CANARY_BLOCK
    assert fake.last("GET", "/v1/deployments").params == {"prefix": "0b"}


def test_status_of_a_full_id_reads_it_directly(run, fake):
    done = deployment(Status="successful", StatusDescription="Deployment completed successfully",
                      TaskGroups={"cache": group(), "web": group(AutoRevert=True)})
    fake.on("GET", f"/v1/deployment/{DEP_ID}", done)
    result = run("deployment", "status", "-verbose", DEP_ID)
    assert result.exit_code == 0
    assert result.output == (
        f"ID          = {DEP_ID}\n"
        "Job ID      = example\n"
        "Job Version = 1\n"
        "Status      = successful\n"
        "Description = Deployment completed successfully\n"
        "\n"
        "Deployed\n"
        "Task Group  Auto Revert  Desired  Placed  Healthy  Unhealthy  Progress Deadline\n"
        "cache       false        2        2       2        0          2021-06-09T22:20:27Z\n"
        "web         true         2        2       2        0          2021-06-09T22:20:27Z\n")
    assert "/v1/deployments" not in fake.paths()


def test_status_json_is_the_deployment(run, fake):
    fake.on("GET", "/v1/deployments", [CANARY])
    result = run("deployment", "status", "-json", "0b23")
    assert result.exit_code == 0
    printed = json.loads(result.output)
    assert printed["ID"] == CANARY_ID
    assert printed["TaskGroups"]["cache"]["PlacedCanaries"] == [
        "d2b13584-0000-0000-0000-000000000000"]
    assert result.output.startswith('{\n    "ID": ')


def test_status_without_an_id_lists_deployments(run, fake):
    fake.on("GET", "/v1/deployments", LISTED)
    result = run("deployment", "status")
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == (
        "ID        Job ID   Job Version  Status      Description")


def test_prefix_matching_several_deployments_lists_them(run, fake):
    fake.on("GET", "/v1/deployments", LISTED[:2])
    result = run("deployment", "status", "62")
    assert result.exit_code == 1
    assert result.stderr == (
        "Prefix matched multiple deployments\n"
        "\n"
        "ID        Job ID   Job Version  Status      Description\n"
        "8990cfbc  example  2            failed      Deployment marked as failed\n"
        "62eb607c  example  1            successful  Deployment completed successfully\n")


def test_unknown_and_too_short_deployment_ids(run, fake):
    fake.on("GET", "/v1/deployments", [])
    fake.on("GET", f"/v1/deployment/{DEP_ID}", status=404, text="deployment not found")
    unknown = run("deployment", "status", "abcde")
    assert unknown.exit_code == 1
    # An odd prefix loses its last digit: the servers match whole bytes.
    assert unknown.stderr == ('Error retrieving deployment: Deployment ID "abcd" matched no '
                              "deployments\n")
    assert fake.last("GET", "/v1/deployments").params == {"prefix": "abcd"}

    short = run("deployment", "status", "a")
    assert short.exit_code == 1
    assert short.stderr == ("Error retrieving deployment: Identifier must contain at least two "
                            "characters.\n")

    gone = run("deployment", "status", DEP_ID)
    assert gone.exit_code == 1
    assert gone.stderr == ("Error retrieving deployment: Unexpected response code: 404 "
                           "(deployment not found)\n")


def test_status_bad_flags_and_arguments(run, fake):
    both = run("deployment", "status", "-monitor", "-json", "0b")
    assert both.exit_code == 1
    assert both.stderr == "The monitor flag cannot be used with the '-json' or '-t' flags\n"

    two = run("deployment", "status", "0b", "62")
    assert two.exit_code == 1
    assert two.stderr == ("This command takes one argument: <deployment id>\n"
                          "For additional help try 'nomadjail deployment status -help'\n")

    wait = run("deployment", "status", "-monitor", "-wait", "soon", "0b")
    assert wait.exit_code == 1
    assert wait.stderr.startswith('Error: invalid value "soon" for flag -wait: parse error\n')
    assert fake.requests == []


# ------------------------------------------------------------------ fail


def test_fail_reports_the_auto_revert_and_detaches(run, fake):
    fake.on("GET", "/v1/deployments", [LISTED[1]])
    fake.on("PUT", "/v1/deployment/fail/8990cfbc-28c0-cb28-ca31-856cf691b987",
            DOCS_FAIL_RESPONSE)
    result = run("deployment", "fail", "-detach", "8990")
    assert result.exit_code == 0, result.output
    assert result.output == (
        'Deployment "8990cfbc-28c0-cb28-ca31-856cf691b987" failed. Auto-reverted to job '
        "version 1.\n"
        f"Evaluation ID: {EVAL_ID}\n")
    body = fake.last("PUT", "/v1/deployment/fail/8990cfbc-28c0-cb28-ca31-856cf691b987").body
    assert body == {"DeploymentID": "8990cfbc-28c0-cb28-ca31-856cf691b987"}


def test_fail_monitors_and_a_failed_deployment_is_success_here(run, fake):
    fake.on("GET", f"/v1/deployment/{DEP_ID}",
            deployment(Status="failed", StatusDescription="Deployment marked as failed",
                       ModifyIndex=21))
    fake.on("PUT", f"/v1/deployment/fail/{DEP_ID}",
            {**DOCS_FAIL_RESPONSE, "RevertedJobVersion": None})
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}", evaluation(deployment_id=DEP_ID))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [])
    result = run("deployment", "fail", DEP_ID)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f'Deployment "{DEP_ID}" failed\n'
        "\n"
        f'==> {TS}: Monitoring evaluation "0d834913"\n'
        f'    {TS}: Evaluation triggered by job "example"\n'
        f'    {TS}: Evaluation within deployment: "70638f62"\n')
    assert "Status      = failed\n" in result.output


def test_fail_of_a_finished_deployment_is_an_error(run, fake):
    fake.on("GET", f"/v1/deployment/{DEP_ID}", deployment(Status="successful"))
    fake.on("PUT", f"/v1/deployment/fail/{DEP_ID}", status=500,
            text=f'Deployment "{DEP_ID}" has terminal status "successful":')
    result = run("deployment", "fail", DEP_ID)
    assert result.exit_code == 1
    assert result.stderr == (f"Error failing deployment: Unexpected response code: 500 "
                             f'(Deployment "{DEP_ID}" has terminal status "successful":)\n')


def test_fail_needs_exactly_one_deployment(run, fake):
    result = run("deployment", "fail")
    assert result.exit_code == 1
    assert result.stderr == ("This command takes one argument: <deployment id>\n"
                             "For additional help try 'nomadjail deployment fail -help'\n")
    assert fake.requests == []


# ------------------------------------------------------------------ pause, resume


def test_pause_prints_the_full_id(run, fake):
    paused = "2f14ba55-acfb-cb31-821c-facf1b9b0830"
    fake.on("GET", "/v1/deployments", [deployment(ID=paused)])
    fake.on("PUT", f"/v1/deployment/pause/{paused}",
            {"EvalID": "", "EvalCreateIndex": 0, "DeploymentModifyIndex": 20, "Index": 20})
    result = run("deployment", "pause", "2f14ba55")
    assert result.exit_code == 0
    assert result.output == f'Deployment "{paused}" paused\n'
    assert fake.last("PUT", f"/v1/deployment/pause/{paused}").body == {
        "DeploymentID": paused, "Pause": True}


def test_pause_error(run, fake):
    fake.on("GET", f"/v1/deployment/{DEP_ID}", deployment())
    fake.on("PUT", f"/v1/deployment/pause/{DEP_ID}", status=403, text="Permission denied")
    result = run("deployment", "pause", DEP_ID)
    assert result.exit_code == 1
    assert result.stderr == ("Error pausing deployment: Unexpected response code: 403 "
                             "(Permission denied)\n")


def test_resume_monitors_the_evaluation(run, fake):
    resumed = "c848972e-dcd3-7354-e0d2-39d86642cdb1"
    fake.on("GET", "/v1/deployments", [deployment(ID=resumed, Status="paused")])
    fake.on("PUT", f"/v1/deployment/pause/{resumed}", {
        "EvalID": "5e266d42-0000-0000-0000-000000000000", "EvalCreateIndex": 20,
        "DeploymentModifyIndex": 20, "Index": 20})
    detached = run("deployment", "resume", "-detach", "c848972e")
    assert detached.exit_code == 0
    assert detached.output == (f'Deployment "{resumed}" resumed\n'
                               "Evaluation ID: 5e266d42-0000-0000-0000-000000000000\n")
    assert fake.last("PUT", f"/v1/deployment/pause/{resumed}").body == {
        "DeploymentID": resumed, "Pause": False}

    fake.on("GET", "/v1/evaluation/5e266d42-0000-0000-0000-000000000000",
            evaluation(id="5e266d42-0000-0000-0000-000000000000", deployment_id=resumed))
    fake.on("GET", "/v1/evaluation/5e266d42-0000-0000-0000-000000000000/allocations", [])
    fake.on("GET", f"/v1/deployment/{resumed}",
            deployment(ID=resumed, Status="successful",
                       StatusDescription="Deployment completed successfully"))
    monitored = run("deployment", "resume", "c848972e")
    assert monitored.exit_code == 0, monitored.output
    assert monitored.output.startswith(f'Deployment "{resumed}" resumed\n\n==> {TS}: Monitoring '
                                       'evaluation "5e266d42"\n')
    assert "Status      = successful\n" in monitored.output


# ------------------------------------------------------------------ promote


def test_promote_all_groups_then_monitor_until_successful(run, fake):
    promoted = deployment(ID=CANARY_ID, Status="successful",
                          StatusDescription="Deployment completed successfully", ModifyIndex=30,
                          TaskGroups={"cache": group(DesiredCanaries=1, Promoted=True)})
    fake.on("GET", "/v1/deployments", [CANARY])
    fake.on("PUT", f"/v1/deployment/promote/{CANARY_ID}", {**DOCS_FAIL_RESPONSE,
                                                           "RevertedJobVersion": None})
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}", evaluation(deployment_id=CANARY_ID))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [])
    fake.on("GET", f"/v1/deployment/{CANARY_ID}", promoted)
    result = run("deployment", "promote", "0b23b149")
    assert result.exit_code == 0, result.output
    assert fake.last("PUT", f"/v1/deployment/promote/{CANARY_ID}").body == {
        "DeploymentID": CANARY_ID, "All": True}
    assert result.output.startswith(f'==> {TS}: Monitoring evaluation "0d834913"\n')
    assert result.output.endswith(
        f'==> {TS}: Monitoring deployment "0b23b149"\n'
        "    \n"
        f"{TS}\n"
        "ID          = 0b23b149\n"
        "Job ID      = example\n"
        "Job Version = 1\n"
        "Status      = successful\n"
        "Description = Deployment completed successfully\n"
        "\n"
        "Deployed\n"
        "Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline\n"
        "cache       true      2        1         2       2        0          "
        "2021-06-09T22:20:27Z\n")


def test_promote_named_groups_detached(run, fake):
    fake.on("GET", "/v1/deployments", [CANARY])
    fake.on("PUT", f"/v1/deployment/promote/{CANARY_ID}", DOCS_FAIL_RESPONSE)
    result = run("deployment", "promote", "-group", "cache", "-group=web", "-detach", "0b23")
    assert result.exit_code == 0
    assert result.output == f"Evaluation ID: {EVAL_ID}\n"
    assert fake.last("PUT", f"/v1/deployment/promote/{CANARY_ID}").body == {
        "DeploymentID": CANARY_ID, "Groups": ["cache", "web"]}


def test_promote_errors(run, fake):
    fake.on("GET", "/v1/deployments", [CANARY])
    fake.on("PUT", f"/v1/deployment/promote/{CANARY_ID}", status=400,
            text='Task group "api" does not have canaries to promote')
    result = run("deployment", "promote", "-group", "api", "0b23")
    assert result.exit_code == 1
    assert result.stderr == ("Error promoting deployment: Unexpected response code: 400 "
                             '(Task group "api" does not have canaries to promote)\n')

    missing_value = run("deployment", "promote", "0b23", "-group")
    assert missing_value.exit_code == 1
    assert "-group" in missing_value.stderr
    assert len(fake.paths("PUT")) == 1
