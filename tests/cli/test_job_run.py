"""``job run``: reading the job file, submitting it, and monitoring like Nomad."""

from __future__ import annotations

import json

import pytest

from nomadjail.structs import AllocMetric, Deployment, DeploymentState, Evaluation, to_api
from nomadjail.testing import mock_job

NOW = 1_700_000_000
EVAL_ID = "a0b7d7f4-1111-2222-3333-444444444444"
ALLOC_ID = "3b1e9f0e-1111-2222-3333-444444444444"
NODE_ID = "6e1b8b8a-1111-2222-3333-444444444444"
TS = "2023-11-14T22:13:20Z"


@pytest.fixture
def job_json(tmp_path):
    job = mock_job(job_id="example", count=1)
    path = tmp_path / "example.json"
    path.write_text(json.dumps({"Job": to_api(job)}))
    return str(path)


def evaluation(status, **fields):
    base = dict(id=EVAL_ID, namespace="default", priority=50, type="service",
                triggered_by="job-register", job_id="example", status=status, create_index=20)
    base.update(fields)
    return to_api(Evaluation(**base))


def alloc_stub(client_status="pending", **fields):
    stub = {"ID": ALLOC_ID, "EvalID": EVAL_ID, "NodeID": NODE_ID, "TaskGroup": "web",
            "JobVersion": 0, "DesiredStatus": "run", "ClientStatus": client_status,
            "ClientDescription": "", "CreateIndex": 21, "CreateTime": (NOW - 3) * 10**9,
            "ModifyTime": (NOW - 1) * 10**9}
    stub.update(fields)
    return stub


def registered(fake):
    fake.on("PUT", "/v1/jobs", {"EvalID": EVAL_ID, "EvalCreateIndex": 20, "JobModifyIndex": 20,
                                "Warnings": ""})


def test_detach_prints_the_evaluation_and_returns(run, fake, job_json):
    registered(fake)
    result = run("job", "run", "-json", job_json, "-detach")
    assert result.exit_code == 0
    assert result.output == f"Job registration successful\nEvaluation ID: {EVAL_ID}\n"
    body = fake.last("PUT", "/v1/jobs").body
    assert body["Job"]["ID"] == "example"
    assert body["Submission"]["Format"] == "json"
    assert "EnforceIndex" not in body


def test_monitor_follows_evaluation_and_waits_for_running(run, fake, job_json):
    registered(fake)
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}", evaluation("pending"), evaluation("complete"))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [], [alloc_stub()],
            [alloc_stub()], [alloc_stub("running", ClientDescription="Tasks are running")])

    result = run("job", "run", "-json", job_json)

    assert result.exit_code == 0, result.output
    assert result.output == (
        f'==> {TS}: Monitoring evaluation "a0b7d7f4"\n'
        f'    {TS}: Evaluation triggered by job "example"\n'
        f'    {TS}: Allocation "3b1e9f0e" created: node "6e1b8b8a", group "web"\n'
        f'    {TS}: Evaluation status changed: "pending" -> "complete"\n'
        f'==> {TS}: Evaluation "a0b7d7f4" finished with status "complete"\n'
        f'    {TS}: Allocation "3b1e9f0e" status changed: "pending" -> "running" '
        "(Tasks are running)\n"
        "\n"
        "ID        Node ID   Task Group  Version  Desired  Status   Created  Modified\n"
        "3b1e9f0e  6e1b8b8a  web         0        run      running  3s ago   1s ago\n")


def test_placement_failure_exits_2_with_reasons(run, fake, job_json):
    registered(fake)
    metrics = AllocMetric(nodes_evaluated=2, nodes_exhausted=1,
                          constraint_filtered={'${attr.kernel.name} = "windows"': 1},
                          dimension_exhausted={"memory": 1}, coalesced_failures=1)
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}",
            evaluation("complete", failed_tg_allocs={"web": metrics},
                       blocked_eval="5ab1ce02-0000-0000-0000-000000000000"))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [])

    result = run("job", "run", "-json", job_json)

    assert result.exit_code == 2
    assert result.output == (
        f'==> {TS}: Monitoring evaluation "a0b7d7f4"\n'
        f'    {TS}: Evaluation triggered by job "example"\n'
        f'    {TS}: Evaluation status changed: "pending" -> "complete"\n'
        f'==> {TS}: Evaluation "a0b7d7f4" finished with status "complete" but failed to place '
        "all allocations:\n"
        f'    {TS}: Task Group "web" (failed to place 2 allocations):\n'
        '      * Constraint "${attr.kernel.name} = \\"windows\\"": 1 nodes excluded by filter\n'
        "      * Resources exhausted on 1 nodes\n"
        '      * Dimension "memory" exhausted on 1 nodes\n'
        f'    {TS}: Evaluation "5ab1ce02" waiting for additional capacity to place remainder\n')


def test_deployment_is_monitored_until_successful(run, fake, job_json):
    registered(fake)
    deployment_id = "e2e8b1b9-0000-0000-0000-000000000000"
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}",
            evaluation("complete", deployment_id=deployment_id))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [alloc_stub()])
    state = DeploymentState(desired_total=1, placed_allocs=1)
    running = Deployment(id=deployment_id, job_id="example", status="running",
                         status_description="Deployment is running", modify_index=30,
                         task_groups={"web": state})
    done = Deployment(id=deployment_id, job_id="example", status="successful",
                      status_description="Deployment completed successfully", modify_index=31,
                      task_groups={"web": DeploymentState(desired_total=1, placed_allocs=1,
                                                          healthy_allocs=1)})
    fake.on("GET", f"/v1/deployment/{deployment_id}", to_api(running), to_api(done))

    result = run("job", "run", "-json", job_json)

    assert result.exit_code == 0, result.output
    assert f'    {TS}: Evaluation within deployment: "e2e8b1b9"\n' in result.output
    assert result.output.endswith(
        f'==> {TS}: Monitoring deployment "e2e8b1b9"\n'
        "    \n"
        f"{TS}\n"
        "ID          = e2e8b1b9\n"
        "Job ID      = example\n"
        "Job Version = 0\n"
        "Status      = running\n"
        "Description = Deployment is running\n"
        "\n"
        "Deployed\n"
        "Task Group  Desired  Placed  Healthy  Unhealthy\n"
        "web         1        1       0        0\n"
        "    \n"
        f"{TS}\n"
        "ID          = e2e8b1b9\n"
        "Job ID      = example\n"
        "Job Version = 0\n"
        "Status      = successful\n"
        "Description = Deployment completed successfully\n"
        "\n"
        "Deployed\n"
        "Task Group  Desired  Placed  Healthy  Unhealthy\n"
        "web         1        1       1        0\n")


def test_failed_deployment_exits_1(run, fake, job_json):
    registered(fake)
    deployment_id = "e2e8b1b9-0000-0000-0000-000000000000"
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}",
            evaluation("complete", deployment_id=deployment_id))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [alloc_stub()])
    fake.on("GET", f"/v1/deployment/{deployment_id}",
            to_api(Deployment(id=deployment_id, job_id="example", status="failed",
                              status_description="Failed due to unhealthy allocations")))
    result = run("job", "run", "-json", job_json)
    assert result.exit_code == 1
    assert "Status      = failed\n" in result.output


def test_deployment_final_state_on_a_terminal(run, fake, job_json, terminal):
    registered(fake)
    deployment_id = "e2e8b1b9-0000-0000-0000-000000000000"
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}",
            evaluation("complete", deployment_id=deployment_id))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [alloc_stub()])
    fake.on("GET", f"/v1/deployment/{deployment_id}",
            to_api(Deployment(id=deployment_id, job_id="example", status="successful",
                              status_description="Deployment completed successfully")))
    run.tty = True
    result = run("job", "run", "-no-color", "-json", job_json)
    assert result.exit_code == 0
    # The "in progress" line is redrawn in place as the final state.
    assert terminal(result.output).endswith(
        f'==> {TS}: Monitoring deployment "e2e8b1b9"\n'
        '  ✓ Deployment "e2e8b1b9" successful\n'
        "\n"
        f"    {TS}\n"
        "    ID          = e2e8b1b9\n"
        "    Job ID      = example\n"
        "    Job Version = 0\n"
        "    Status      = successful\n"
        "    Description = Deployment completed successfully\n"
        "\n")


def test_check_index_conflict_says_job_not_updated(run, fake, job_json):
    fake.on("PUT", "/v1/jobs", status=400,
            text="Enforcing job modify index 5: job exists with conflicting job modify index: 9")
    result = run("job", "run", "-check-index", "5", "-json", job_json)
    assert result.exit_code == 1
    assert result.stderr == ("Enforcing job modify index 5: job exists with conflicting job "
                             "modify index: 9\nJob not updated\n")
    body = fake.last("PUT", "/v1/jobs").body
    assert (body["EnforceIndex"], body["JobModifyIndex"]) == (True, 5)


def test_bad_check_index(run, job_json):
    result = run("job", "run", "-check-index=abc", "-json", job_json)
    assert result.exit_code == 1
    assert result.stderr.startswith('Error parsing check-index value "abc"')


def test_job_region_and_namespace_override_the_flags(run, fake, tmp_path):
    job = mock_job(job_id="example")
    job.region, job.namespace = "eu", "prod"
    path = tmp_path / "job.json"
    path.write_text(json.dumps(to_api(job)))
    registered(fake)
    run("job", "run", "-detach", "-region=us", "-json=true", str(path))
    assert fake.last("PUT", "/v1/jobs").params == {"region": "eu", "namespace": "prod"}


def test_output_prints_the_request_without_submitting(run, fake, job_json):
    result = run("job", "run", "-output", "-json", job_json)
    assert result.exit_code == 0
    assert json.loads(result.output)["Job"]["ID"] == "example"
    assert result.output.startswith('{\n    "Job": {\n')
    assert fake.requests == []


def test_unreadable_file(run, tmp_path):
    missing = tmp_path / "nope.nomad"
    result = run("job", "run", str(missing))
    assert result.exit_code == 1
    assert result.stderr == (f'Error getting job struct: Error getting jobfile from "{missing}": '
                             f"open {missing}: no such file or directory\n")


def test_invalid_json_file(run, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{nope")
    result = run("job", "run", "-json", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error getting job struct: Failed to parse JSON job: ")


def test_variables_cannot_go_with_json(run, job_json):
    result = run("job", "run", "-json", "-var", "a=b", job_json)
    assert result.exit_code == 1
    assert result.stderr == "Invalid job options: cannot use variables with JSON files.\n"


def test_var_without_equals_sign_is_rejected(run, tmp_path):
    path = tmp_path / "job.nomad"
    path.write_text('job "x" {}\n')
    result = run("job", "run", "-var", "count", str(path))
    assert result.exit_code == 1
    assert result.stderr == ('Invalid job options: -var "count" is not of the form key=value '
                             "(as in -var 'count=3')\n")


def test_wrong_number_of_arguments(run):
    result = run("job", "run")
    assert result.exit_code == 1
    assert result.stderr == ("This command takes one argument: <path>\n"
                             "For additional help try 'nomadjail job run -help'\n")


def test_submission_error(run, fake, job_json):
    fake.on("PUT", "/v1/jobs", status=400, text="1 error occurred:\n\t* Missing job region\n\n")
    result = run("run", "--json", job_json)
    assert result.exit_code == 1
    assert result.stderr == ("Error submitting job: Unexpected response code: 400 (1 error "
                             "occurred:\n\t* Missing job region)\n")


def test_unknown_evaluation_while_monitoring(run, fake, job_json):
    registered(fake)
    result = run("job", "run", "-json", job_json)
    assert result.exit_code == 1
    assert f'==> No evaluation with id "{EVAL_ID}" found\n' == result.stderr


HCL_JOB = '''variable "count" {
  type    = number
  default = 1
}

variable "greeting" {
  type = string
}

job "hello" {
  datacenters = ["dc1"]

  group "web" {
    count = var.count

    task "web" {
      driver = "raw_exec"
      config {
        command = "/bin/echo"
        args    = [var.greeting]
      }
    }
  }
}
'''


def test_hcl_job_is_parsed_locally_with_variables(run, fake, tmp_path):
    path = tmp_path / "hello.nomad"
    path.write_text(HCL_JOB)
    var_file = tmp_path / "prod.vars.hcl"
    var_file.write_text('greeting = "from a file"\n')
    registered(fake)

    result = run("job", "run", "-detach", "-var", "count=3", "-var-file", str(var_file),
                 str(path))

    assert result.exit_code == 0, result.output
    body = fake.last("PUT", "/v1/jobs").body
    group = body["Job"]["TaskGroups"][0]
    assert group["Count"] == 3
    assert group["Tasks"][0]["Config"]["args"] == ["from a file"]
    assert body["Submission"] == {"Source": HCL_JOB, "Format": "hcl2",
                                  "VariableFlags": {"count": "3"},
                                  "Variables": 'greeting = "from a file"'}
    assert "/v1/jobs/parse" not in fake.paths()


def test_nomad_var_environment_variables_apply(run, fake, tmp_path):
    path = tmp_path / "hello.nomad"
    path.write_text(HCL_JOB)
    run.environ["NOMAD_VAR_greeting"] = "from the environment"
    registered(fake)
    assert run("job", "run", "-detach", str(path)).exit_code == 0
    task = fake.last("PUT", "/v1/jobs").body["Job"]["TaskGroups"][0]["Tasks"][0]
    assert task["Config"]["args"] == ["from the environment"]


def test_hcl_errors_point_at_file_line_and_column(run, fake, tmp_path):
    path = tmp_path / "broken.nomad"
    path.write_text('job "x" {\n  group "g" {\n    taks "t" {}\n  }\n}\n')
    result = run("job", "run", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error getting job struct: Error parsing job file from "
                                    f"{path}:\n{path}:3:5: ")
    assert fake.requests == []


def test_job_file_from_stdin(run, fake):
    registered(fake)
    result = run("job", "run", "-detach", "-var", "greeting=hi", "-", input=HCL_JOB)
    assert result.exit_code == 0
    assert fake.last("PUT", "/v1/jobs").body["Job"]["ID"] == "hello"
