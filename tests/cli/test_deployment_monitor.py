"""Following a deployment: ``deployment status -monitor`` and the tail of ``job run``.

Off a terminal each change prints the status block; on a terminal one
area is redrawn in place (checked through ``terminal``, a stand-in that
applies the cursor movements the way a terminal does).  The canary flow,
auto-revert rollbacks, read retries and exit codes are what a user sees.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from nomadjail.structs import Evaluation, to_api
from nomadjail.testing import mock_job
from nomadjail.testing import nomad_samples as samples
from nomadjail.testing.fake_nomad import Answer, Request

TS = "2023-11-14T22:13:20Z"
EVAL_ID = "a0b7d7f4-1111-2222-3333-444444444444"
CANARY_ID = "0b23b149-8f1d-2c6e-7b3a-5d4e3f2a1b0c"
group = samples.deployment_state
WAITING = "Deployment is running but requires manual promotion"


def canary(healthy: int, modify_index: int, **changes: Any) -> dict[str, Any]:
    """Nomad docs' `deployment status 0b` deployment, with ``healthy`` canaries in cache."""
    body = samples.deployment(
        ID=CANARY_ID, JobVersion=1, StatusDescription=WAITING, ModifyIndex=modify_index,
        TaskGroups={"cache": group(DesiredCanaries=1, PlacedAllocs=1, HealthyAllocs=healthy,
                                   PlacedCanaries=["d2b13584-0000-0000-0000-000000000000"]),
                    "web": group()})
    body.update(changes)
    return body


def block(healthy: int) -> str:
    return (
        f"{TS}\n"
        "ID          = 0b23b149\n"
        "Job ID      = example\n"
        "Job Version = 1\n"
        "Status      = running\n"
        f"Description = {WAITING}\n"
        "\n"
        "Deployed\n"
        "Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline\n"
        f"cache       false     2        1         1       {healthy}        0          "
        "2021-06-09T22:20:27Z\n"
        "web         N/A       2        0         2       2        0          "
        "2021-06-09T22:20:27Z\n")


def script_deployment(fake, deployment_id: str, *bodies: dict[str, Any]) -> None:
    """Answer reads of the deployment with ``bodies`` in turn, each at its ModifyIndex
    (so the monitor's blocking index moves as a server's would)."""
    queue = list(bodies)

    def answer(request: Request) -> Answer:
        body = queue.pop(0) if len(queue) > 1 else queue[0]
        return Answer(body=body, index=body["ModifyIndex"])

    fake.handle("GET", f"/v1/deployment/{deployment_id}", answer)


# ------------------------------------------------------------------ deployment status -monitor


def test_monitor_stops_when_only_a_promotion_is_missing(run, fake):
    fake.on("GET", "/v1/deployments", [canary(0, 19)])
    script_deployment(fake, CANARY_ID, canary(0, 19), canary(1, 25), canary(1, 25))
    result = run("deployment", "status", "-monitor", "0b")
    assert result.exit_code == 0, result.output
    assert result.output == (
        f'{TS}: Monitoring deployment "0b23b149"\n'
        "\n" + block(0) +
        "\n" + block(1) +
        f'{TS}: Deployment "0b23b149" waiting for promotion: '
        '"nomadjail deployment promote 0b23b149"\n')
    reads = [r for r in fake.requests if r.path == f"/v1/deployment/{CANARY_ID}"]
    assert [r.params for r in reads] == [
        {"wait": "2000ms", "stale": ""}, {"index": "19", "wait": "2000ms", "stale": ""}]


def test_auto_promoting_canaries_are_followed_to_the_end(run, fake):
    auto = {"ProgressDeadline": 0, "RequireProgressBy": "0001-01-01T00:00:00Z"}
    waiting = samples.deployment(ModifyIndex=20, TaskGroups={
        "cache": group(DesiredCanaries=1, PlacedAllocs=1, HealthyAllocs=1, AutoPromote=True,
                       **auto)})
    done = samples.deployment(ModifyIndex=30, Status="successful",
                              StatusDescription="Deployment completed successfully",
                              TaskGroups={"cache": group(DesiredCanaries=1, Promoted=True,
                                                         AutoPromote=True, **auto)})
    script_deployment(fake, samples.DEPLOYMENT["ID"], waiting, done)
    result = run("deployment", "status", "-monitor", "-wait=10s", samples.DEPLOYMENT["ID"])
    assert result.exit_code == 0, result.output
    assert "waiting for promotion" not in result.output
    assert result.output.endswith(
        "Status      = successful\n"
        "Description = Deployment completed successfully\n"
        "\n"
        "Deployed\n"
        "Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy\n"
        "cache       true      2        1         2       2        0\n")
    assert fake.last("GET", f"/v1/deployment/{samples.DEPLOYMENT['ID']}").params["wait"] == (
        "10000ms")


@pytest.mark.parametrize("status", ["cancelled", "failed"])
def test_monitor_exit_status_follows_the_outcome(run, fake, status):
    script_deployment(fake, CANARY_ID, canary(0, 19),
                      canary(0, 22, Status=status, StatusDescription="Cancelled because job is "
                                                                     "stopped"))
    fake.on("GET", "/v1/deployments", [canary(0, 19)])
    result = run("deployment", "status", "-monitor", "0b23")
    assert result.exit_code == 1
    assert f"Status      = {status}\n" in result.output


# ------------------------------------------------------------------ auto-revert


ROLLED_BACK = "Failed due to progress deadline - rolling back to job version 0"
FAILED_ID = "e45cc3c1-2f1b-4f6a-8d2e-0123456789ab"
ROLLBACK_ID = "e094a0be-9c8d-4e3f-a1b2-0123456789ab"


def failed_deployment(description: str = ROLLED_BACK) -> dict[str, Any]:
    """Nomad docs' `deployment status -monitor e45` example: failed, cache auto-reverts."""
    return samples.deployment(
        ID=FAILED_ID, Status="failed", StatusDescription=description, ModifyIndex=40,
        TaskGroups={"cache": group(AutoRevert=True, PlacedAllocs=1, HealthyAllocs=0,
                                   UnhealthyAllocs=1),
                    "web": group(DesiredTotal=1, PlacedAllocs=1, HealthyAllocs=1)})


def rollback(status: str, modify_index: int) -> dict[str, Any]:
    description = {"running": "Deployment is running",
                   "successful": "Deployment completed successfully"}[status]
    return samples.deployment(
        ID=ROLLBACK_ID, JobVersion=2, Status=status, StatusDescription=description,
        ModifyIndex=modify_index,
        TaskGroups={"cache": group(AutoRevert=True, HealthyAllocs=2 if status != "running"
                                   else 1),
                    "web": group(DesiredTotal=1, PlacedAllocs=1, HealthyAllocs=1)})


def test_failed_deployment_is_followed_by_its_rollback(run, fake):
    fake.on("GET", "/v1/deployments", [failed_deployment()])
    script_deployment(fake, FAILED_ID, failed_deployment())
    # The rollback's deployment appears only on the third look.
    fake.on("GET", "/v1/job/example/deployment", failed_deployment(), failed_deployment(),
            rollback("running", 50))
    script_deployment(fake, ROLLBACK_ID, rollback("running", 50), rollback("successful", 55))

    result = run("deployment", "status", "-monitor", "e45c")

    assert result.exit_code == 1, "the deployment watched failed, whatever its rollback did"
    out = result.output
    assert out.index("Status      = failed\n") < out.index("ID          = e094a0be\n")
    assert (f"Description = {ROLLED_BACK}\n\n"
            "Deployed\n"
            "Task Group  Auto Revert  Desired  Placed  Healthy  Unhealthy  Progress Deadline\n"
            "cache       true         2        1       0        1          2021-06-09T22:20:27Z\n"
            "web         false        1        1       1        0          2021-06-09T22:20:27Z\n"
            "\n\n"
            f"{TS}\n"
            "ID          = e094a0be\n") in out
    assert out.endswith("Status      = successful\n"
                        "Description = Deployment completed successfully\n"
                        "\n"
                        "Deployed\n"
                        "Task Group  Auto Revert  Desired  Placed  Healthy  Unhealthy  "
                        "Progress Deadline\n"
                        "cache       true         2        2       2        0          "
                        "2021-06-09T22:20:27Z\n"
                        "web         false        1        1       1        0          "
                        "2021-06-09T22:20:27Z\n")
    assert fake.paths("GET").count("/v1/job/example/deployment") == 3
    assert run.sleeps[:3] == [1.0, 0.5, 0.5]


@pytest.mark.parametrize("description", [
    "Failed due to unhealthy allocations - no stable job version to auto revert to",
    "Failed due to unhealthy allocations - not rolling back to stable job version 0 as "
    "current job has same specification",
])
def test_no_rollback_to_follow_looks_once_like_nomad(run, fake, description):
    fake.on("GET", "/v1/deployments", [failed_deployment(description)])
    script_deployment(fake, FAILED_ID, failed_deployment(description))
    fake.on("GET", "/v1/job/example/deployment", failed_deployment(description))
    result = run("deployment", "status", "-monitor", "e45c")
    assert result.exit_code == 1
    assert fake.paths("GET").count("/v1/job/example/deployment") == 1
    assert result.output.endswith("web         false        1        1       1        0          "
                                  "2021-06-09T22:20:27Z\n\n")


def test_rollback_lookup_error_is_reported(run, fake):
    fake.on("GET", "/v1/deployments", [failed_deployment()])
    script_deployment(fake, FAILED_ID, failed_deployment())
    fake.on("GET", "/v1/job/example/deployment", status=500, text="rpc error: no leader")
    result = run("deployment", "status", "-monitor", "e45c")
    assert result.exit_code == 1
    assert result.stderr == (f"{TS}: Error fetching deployment of previous job version: "
                             "Unexpected response code: 500 (rpc error: no leader)\n")


# ------------------------------------------------------------------ read errors


def test_read_errors_are_retried_with_backoff(run, fake):
    fake.on("GET", "/v1/deployments", [canary(0, 19)])
    answers = [Answer(status=500, raw=b"No cluster leader"),
               Answer(status=500, raw=b"No cluster leader"),
               Answer(body=canary(1, 25), index=25)]
    fake.handle("GET", f"/v1/deployment/{CANARY_ID}", lambda request: answers.pop(0))
    result = run("deployment", "status", "-monitor", "0b")
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "Failed fetching deployment: Unexpected response code: 500 (No cluster leader), "
        "retrying in 1s (attempt 1/10)\n"
        "Failed fetching deployment: Unexpected response code: 500 (No cluster leader), "
        "retrying in 2s (attempt 2/10)\n")
    assert run.sleeps == [1.0, 2.0]
    assert "waiting for promotion" in result.output


def test_a_deployment_that_cannot_be_read_ends_the_monitor(run, fake):
    fake.on("GET", "/v1/deployments", [canary(0, 19)])
    fake.on("GET", f"/v1/deployment/{CANARY_ID}", status=500, text="No cluster leader")
    result = run("deployment", "status", "-monitor", "0b")
    assert result.exit_code == 1
    assert run.sleeps == [1.0, 2.0, 4.0, 8.0, 12.0, 12.0, 12.0, 12.0, 12.0, 12.0]
    assert result.stderr.endswith(
        f"{TS}: Error fetching deployment: Unexpected response code: 500 (No cluster leader)\n")


# ------------------------------------------------------------------ on a terminal


def test_terminal_area_is_redrawn_and_ends_with_the_promotion_hint(run, fake, terminal):
    fake.on("GET", "/v1/deployments", [canary(0, 19)])
    script_deployment(fake, CANARY_ID, canary(0, 19), canary(1, 25))
    run.tty = True
    result = run("deployment", "status", "-no-color", "-monitor", "0b")
    assert result.exit_code == 0
    assert "\x1b[" in result.output, "the area is redrawn in place"
    lines = block(1).rstrip("\n").split("\n")
    indented = "".join("    " + line + "\n" if line else "\n" for line in lines)
    assert terminal(result.output) == (
        f'{TS}: Monitoring deployment "0b23b149"\n'
        '  » Deployment "0b23b149" waiting for promotion: '
        '"nomadjail deployment promote 0b23b149"\n'
        "\n" + indented + "\n")


def test_terminal_verbose_area_with_long_lines(run, fake, terminal):
    done = samples.deployment(Status="successful", ModifyIndex=30,
                              StatusDescription="Deployment completed successfully",
                              TaskGroups={"cache": group()})
    script_deployment(fake, samples.DEPLOYMENT["ID"],
                      samples.deployment(ModifyIndex=20, TaskGroups={"cache": group()}), done)
    stub = {"ID": "9e1b4cb9-35c4-49f3-3ccb-1cb10a5a5aa6",
            "EvalID": "e337d747-f59e-329e-4718-46edcc293695",
            "NodeID": "70279742-b106-c487-315f-fb583e13178e", "NodeName": "mbp.local",
            "TaskGroup": "cache", "JobVersion": 0, "DesiredStatus": "run",
            "ClientStatus": "running", "CreateIndex": 10, "CreateTime": 1_623_276_617 * 10**9,
            "ModifyTime": 1_623_276_631 * 10**9}
    fake.on("GET", f"/v1/deployment/allocations/{samples.DEPLOYMENT['ID']}", [stub])
    run.tty = True
    result = run("deployment", "status", "-no-color", "-monitor", "-verbose",
                 samples.DEPLOYMENT["ID"])
    assert result.exit_code == 0
    shown = terminal(result.output)  # asserts the redraw lands on line starts
    assert shown.count("Deployment \"70638f62-5c19-193e-30d6-f9d6e689ab8e\"") == 1
    assert '  ✓ Deployment "70638f62-5c19-193e-30d6-f9d6e689ab8e" successful\n' in shown
    assert ("    9e1b4cb9-35c4-49f3-3ccb-1cb10a5a5aa6  e337d747-f59e-329e-4718-46edcc293695  "
            "70279742-b106-c487-315f-fb583e13178e  mbp.local  cache       0        run      "
            "running  2021-06-09T22:10:17Z  2021-06-09T22:10:31Z\n") in shown
    assert "Status      = running" not in shown


def test_terminal_rollback_gets_an_area_of_its_own(run, fake, terminal):
    fake.on("GET", "/v1/deployments", [failed_deployment()])
    script_deployment(fake, FAILED_ID, failed_deployment())
    fake.on("GET", "/v1/job/example/deployment", rollback("running", 50))
    script_deployment(fake, ROLLBACK_ID, rollback("running", 50), rollback("successful", 55))
    run.tty = True
    result = run("deployment", "status", "-no-color", "-monitor", "e45c")
    assert result.exit_code == 1
    shown = terminal(result.output)
    assert shown.startswith(f'{TS}: Monitoring deployment "e45cc3c1"\n'
                            '  ! Deployment "e45cc3c1" failed\n'
                            "\n"
                            f"    {TS}\n"
                            "    ID          = e45cc3c1\n")
    assert ('    web         false        1        1       1        0          '
            '2021-06-09T22:20:27Z\n'
            "\n"
            '  ✓ Deployment "e094a0be" successful\n') in shown


# ------------------------------------------------------------------ job run


@pytest.fixture
def job_json(tmp_path):
    path = tmp_path / "example.json"
    path.write_text(json.dumps({"Job": to_api(mock_job(job_id="example", count=1))}))
    return str(path)


def submitted(fake, deployment_id: str) -> None:
    fake.on("PUT", "/v1/jobs", {"EvalID": EVAL_ID, "EvalCreateIndex": 20, "JobModifyIndex": 20,
                                "Warnings": ""})
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}", to_api(Evaluation(
        id=EVAL_ID, namespace="default", priority=50, type="service", job_id="example",
        triggered_by="job-register", status="complete", create_index=20,
        deployment_id=deployment_id)))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [])


def test_job_run_of_a_canary_update_returns_once_the_canary_is_healthy(run, fake, job_json):
    submitted(fake, CANARY_ID)
    script_deployment(fake, CANARY_ID, canary(0, 19), canary(1, 25))
    result = run("job", "run", "-json", job_json)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        f'==> {TS}: Monitoring deployment "0b23b149"\n'
        "    \n" + block(0) +
        "    \n" + block(1) +
        f'==> {TS}: Deployment "0b23b149" waiting for promotion: '
        '"nomadjail deployment promote 0b23b149"\n')


def test_job_run_whose_version_is_rolled_back_exits_1(run, fake, job_json):
    submitted(fake, FAILED_ID)
    script_deployment(fake, FAILED_ID, failed_deployment())
    fake.on("GET", "/v1/job/example/deployment", rollback("running", 50))
    script_deployment(fake, ROLLBACK_ID, rollback("running", 50), rollback("successful", 55))
    result = run("job", "run", "-json", job_json)
    assert result.exit_code == 1
    assert result.output.endswith("Description = Deployment completed successfully\n"
                                  "\n"
                                  "Deployed\n"
                                  "Task Group  Auto Revert  Desired  Placed  Healthy  Unhealthy  "
                                  "Progress Deadline\n"
                                  "cache       true         2        2       2        0          "
                                  "2021-06-09T22:20:27Z\n"
                                  "web         false        1        1       1        0          "
                                  "2021-06-09T22:20:27Z\n")
