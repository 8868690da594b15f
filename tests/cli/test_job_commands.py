"""``job plan``, ``job stop``, ``job init``, ``job validate``, ``job inspect``, ``job history``."""

from __future__ import annotations

import json

import pytest

from nomadjail.structs import Evaluation, TaskGroup, to_api
from nomadjail.testing import mock_job

NOW = 1_700_000_000
TS = "2023-11-14T22:13:20Z"
EVAL_ID = "c0ffee00-1111-2222-3333-444444444444"


@pytest.fixture
def job_file(tmp_path):
    path = tmp_path / "example.json"
    path.write_text(json.dumps({"Job": to_api(mock_job(job_id="example", count=1))}))
    return str(path)


EDITED_DIFF = {
    "Type": "Edited", "ID": "example", "Fields": None, "Objects": None,
    "TaskGroups": [{
        "Type": "Edited", "Name": "cache", "Fields": None, "Objects": None,
        "Updates": {"create/destroy update": 1},
        "Tasks": [{
            "Type": "Edited", "Name": "redis", "Fields": None,
            "Annotations": ["forces create/destroy update"],
            "Objects": [{"Type": "Edited", "Name": "Config", "Objects": None, "Fields": [
                {"Type": "Edited", "Name": "image", "Old": "redis:3.2", "New": "redis:4.0",
                 "Annotations": None},
                {"Type": "None", "Name": "port_map[0][db]", "Old": "6379", "New": "6379",
                 "Annotations": None}]}]}]}],
}


def plan_response(diff, updates, failed=None):
    return {"JobModifyIndex": 7, "Diff": diff, "CreatedEvals": None,
            "Annotations": {"DesiredTGUpdates": updates, "PreemptedAllocs": None},
            "FailedTGAllocs": failed, "NextPeriodicLaunch": "0001-01-01T00:00:00Z",
            "Warnings": ""}


def test_plan_shows_the_diff_and_exits_1_when_allocations_change(run, fake, job_file):
    fake.on("PUT", "/v1/job/example/plan",
            plan_response(EDITED_DIFF, {"cache": {"DestructiveUpdate": 1}}))

    result = run("job", "plan", "-json", job_file)

    assert result.exit_code == 1
    assert result.output == (
        '+/- Job: "example"\n'
        '+/- Task Group: "cache" (1 create/destroy update)\n'
        '  +/- Task: "redis" (forces create/destroy update)\n'
        "    +/- Config {\n"
        '      +/- image:           "redis:3.2" => "redis:4.0"\n'
        '          port_map[0][db]: "6379"\n'
        "        }\n"
        "\n"
        "Scheduler dry-run:\n"
        "- All tasks successfully allocated.\n"
        "\n"
        "Job Modify Index: 7\n"
        "To submit the job with version verification run:\n"
        "\n"
        f"nomadjail job run -check-index 7 {job_file}\n"
        "\n"
        "When running the job with the check-index flag, the job will only be run if the\n"
        "job modify index given matches the server-side version. If the index has\n"
        "changed, another user has modified the job and the plan's results are\n"
        "potentially invalid.\n")
    assert fake.last("PUT", "/v1/job/example/plan").body["Diff"] is True


def test_plan_without_changes_exits_0(run, fake, job_file):
    diff = {"Type": "None", "ID": "example", "TaskGroups": [
        {"Type": "None", "Name": "web", "Updates": {"ignore": 1},
         "Tasks": [{"Type": "None", "Name": "web"}]}]}
    fake.on("PUT", "/v1/job/example/plan", plan_response(diff, {"web": {"Ignore": 1}}))
    result = run("plan", "-json", job_file)
    assert result.exit_code == 0
    assert result.output.startswith(
        'Job: "example"\nTask Group: "web" (1 ignore)\n  Task: "web"\n\nScheduler dry-run:\n')


def test_plan_reports_placement_failures(run, fake, job_file):
    failed = {"web": {"NodesEvaluated": 1, "NodesExhausted": 1,
                      "DimensionExhausted": {"memory": 1}, "CoalescedFailures": 0}}
    added = {"Type": "Added", "ID": "example", "TaskGroups": [
        {"Type": "Added", "Name": "web", "Updates": {"create": 1},
         "Tasks": [{"Type": "Added", "Name": "web", "Annotations": ["forces create"]}]}]}
    fake.on("PUT", "/v1/job/example/plan", plan_response(added, {"web": {"Place": 1}}, failed))
    result = run("job", "plan", "-json", "-diff=false", job_file)
    assert result.exit_code == 1
    assert result.output.startswith(
        "Scheduler dry-run:\n"
        "- WARNING: Failed to place all allocations.\n"
        '  Task Group "web" (failed to place 1 allocation):\n'
        "    * Resources exhausted on 1 nodes\n"
        '    * Dimension "memory" exhausted on 1 nodes\n'
        "\n"
        "Job Modify Index: 7\n")


def test_plan_errors_exit_255(run, fake, job_file):
    fake.on("PUT", "/v1/job/example/plan", status=500, text="No cluster leader")
    result = run("job", "plan", "-json", job_file)
    assert result.exit_code == 255
    assert result.stderr == "Error during plan: Unexpected response code: 500 (No cluster leader)\n"
    assert run("job", "plan", "-json", "missing.json").exit_code == 255


def test_plan_json_output(run, fake, job_file):
    response = plan_response(EDITED_DIFF, {"cache": {"DestructiveUpdate": 1}})
    fake.on("PUT", "/v1/job/example/plan", response)
    result = run("job", "plan", "-json", "-json-output", job_file)
    assert result.exit_code == 1
    assert json.loads(result.output) == response


def stub(job_id):
    return {"ID": job_id, "Type": "service", "Priority": 50, "Status": "running",
            "JobSummary": {"Namespace": "default"}, "SubmitTime": 0}


def test_stop_full_id_monitors_the_evaluation(run, fake):
    fake.on("GET", "/v1/jobs", [stub("example")])
    fake.on("DELETE", "/v1/job/example", {"EvalID": EVAL_ID})
    done = to_api(Evaluation(id=EVAL_ID, job_id="example", status="complete", type="service",
                             triggered_by="job-deregister", create_index=30))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}", done)
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations",
            [{"ID": "3b1e9f0e-0000-0000-0000-000000000000", "NodeID": "6e1b8b8a-0000",
              "TaskGroup": "web", "DesiredStatus": "stop", "ClientStatus": "running",
              "CreateIndex": 10}])

    result = run("job", "stop", "example")

    assert result.exit_code == 0
    assert result.output == (
        f'==> {TS}: Monitoring evaluation "c0ffee00"\n'
        f'    {TS}: Evaluation triggered by job "example"\n'
        f'    {TS}: Allocation "3b1e9f0e" modified: node "6e1b8b8a", group "web"\n'
        f'    {TS}: Evaluation status changed: "pending" -> "complete"\n'
        f'==> {TS}: Evaluation "c0ffee00" finished with status "complete"\n')
    request = fake.last("DELETE", "/v1/job/example")
    assert request.params == {"purge": "false", "namespace": "default"}


def test_stop_detach_purge(run, fake):
    fake.on("GET", "/v1/jobs", [stub("example")])
    fake.on("DELETE", "/v1/job/example", {"EvalID": EVAL_ID})
    result = run("job", "stop", "-purge", "-detach", "example")
    assert (result.exit_code, result.output) == (0, EVAL_ID + "\n")
    assert fake.last("DELETE", "/v1/job/example").params["purge"] == "true"


@pytest.mark.parametrize("answer, code, said, stopped", [
    ("y\n", 0, "", True),
    ("\n", 0, "Cancelling job stop\n", False),
    ("n\n", 0, "Cancelling job stop\n", False),
    ("yes\n", 0, "For confirmation, an exact ‘y’ is required.\n", False),
    ("sure\n", 1, "No confirmation detected. For confirmation, an exact 'y' is required.\n",
     False),
])
def test_stop_by_prefix_asks_first(run, fake, answer, code, said, stopped):
    fake.on("GET", "/v1/jobs", [stub("example")])
    fake.on("DELETE", "/v1/job/example", {"EvalID": EVAL_ID})
    result = run("job", "stop", "-detach", "exa", input=answer)
    assert result.exit_code == code
    assert result.output.startswith('Are you sure you want to stop job "example"? [y/N] ')
    assert result.output.endswith(said + (EVAL_ID + "\n" if stopped else ""))
    assert (("DELETE", "/v1/job/example") in [(r.method, r.path) for r in fake.requests]) \
        == stopped


def test_stop_yes_skips_the_question(run, fake):
    fake.on("GET", "/v1/jobs", [stub("example")])
    fake.on("DELETE", "/v1/job/example", {"EvalID": EVAL_ID})
    result = run("job", "stop", "-yes", "-detach", "exa")
    assert (result.exit_code, result.output) == (0, EVAL_ID + "\n")


def test_stop_unknown_job(run, fake):
    fake.on("GET", "/v1/jobs", [])
    result = run("job", "stop", "ghost")
    assert result.exit_code == 1
    assert result.stderr == 'No job(s) with prefix or ID "ghost" found\n'


def test_init_writes_a_raw_exec_example_and_refuses_to_overwrite(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("job", "init")
    assert (result.exit_code, result.output) == (0, "Example job file written to "
                                                    "example.nomad\n")
    text = (tmp_path / "example.nomad").read_text()
    assert 'driver = "raw_exec"' in text and 'job "example"' in text
    again = run("init")
    assert again.exit_code == 1
    assert again.stderr == "Job 'example.nomad' already exists\n"
    assert (tmp_path / "example.nomad").read_text() == text


def test_init_short_to_a_named_file(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("job", "init", "-short", "hello.nomad")
    assert result.exit_code == 0
    text = (tmp_path / "hello.nomad").read_text()
    assert "#" not in text and 'driver = "raw_exec"' in text


def test_init_examples_parse_into_runnable_jobs(tmp_path):
    from nomadjail.cli.job_init import EXAMPLE_JOB, EXAMPLE_JOB_SHORT
    from nomadjail.jobspec import parse_job
    for text in (EXAMPLE_JOB, EXAMPLE_JOB_SHORT):
        job = parse_job(text, "example.nomad")
        job.canonicalize()
        job.validate()
        task = job.task_groups[0].tasks[0]
        assert (job.id, task.driver, task.config["command"]) == ("example", "raw_exec",
                                                                 "/bin/sh")


def test_validate_locally_when_the_agent_cannot(run, fake, job_file):
    result = run("job", "validate", "-json", job_file)
    assert result.exit_code == 0
    assert result.output == ("Driver configuration not validated since connection to Nomad "
                             "agent couldn't be established.\n\nJob validation successful\n")


def test_validate_reports_every_error(run, fake, tmp_path):
    job = mock_job(job_id="broken")
    job.task_groups.append(TaskGroup(name="web"))
    job.priority = 500
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(to_api(job)))
    result = run("job", "validate", "-json", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith("Job validation errors:\n3 errors occurred:\n")
    assert "Job priority must be between [1, 100], got 500" in result.stderr
    assert "redefines 'web'" in result.stderr


def test_validate_uses_the_agent_when_it_answers(run, fake, job_file):
    fake.on("PUT", "/v1/validate/job", {"DriverConfigValidated": True, "ValidationErrors": [],
                                        "Error": "", "Warnings": ""})
    result = run("validate", "-json", job_file)
    assert (result.exit_code, result.output) == (0, "Job validation successful\n")


def test_inspect_prints_the_job_as_json(run, fake):
    job = mock_job(job_id="example")
    fake.on("GET", "/v1/jobs", [stub("example")])
    fake.on("GET", "/v1/job/example", to_api(job))
    result = run("job", "inspect", "example")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"Job": to_api(job)}
    assert result.output.startswith('{\n    "Job": {\n        "ID": "example",\n')
    bare = run("inspect", "-json", "example")
    assert json.loads(bare.output) == to_api(job)


def test_inspect_a_version(run, fake):
    v1, v0 = mock_job(job_id="example"), mock_job(job_id="example")
    v1.version, v0.priority = 1, 10
    fake.on("GET", "/v1/jobs", [stub("example")])
    fake.on("GET", "/v1/job/example/versions", {"Versions": [to_api(v1), to_api(v0)]})
    result = run("job", "inspect", "-version=0", "example")
    assert json.loads(result.output)["Job"]["Priority"] == 10
    missing = run("job", "inspect", "-version=4", "example")
    assert missing.exit_code == 1
    assert missing.stderr == ('Error inspecting job: job "example" with version 4 couldn\'t be '
                              "found\n")


def test_history_lists_versions_newest_first(run, fake):
    v1, v0 = mock_job(job_id="example"), mock_job(job_id="example")
    v1.version, v1.stable, v1.submit_time = 1, True, (NOW - 60) * 10**9
    v0.submit_time = (NOW - 3600) * 10**9
    diff = {"Type": "Edited", "ID": "example", "Fields": [
        {"Type": "Edited", "Name": "Priority", "Old": "50", "New": "60"}], "TaskGroups": []}
    fake.on("GET", "/v1/jobs", [stub("example")])
    fake.on("GET", "/v1/job/example/versions",
            {"Versions": [to_api(v1), to_api(v0)], "Diffs": [diff]})
    result = run("job", "history", "-p", "example")
    assert result.exit_code == 0
    assert result.output == (
        "Version     = 1\n"
        "Stable      = true\n"
        "Submit Date = 2023-11-14T22:12:20Z\n"
        "Diff        = \n"
        '+/- Job: "example"\n'
        '+/- Priority: "50" => "60"\n'
        "\n"
        "Version     = 0\n"
        "Stable      = false\n"
        "Submit Date = 2023-11-14T21:13:20Z\n")
    assert fake.last("GET", "/v1/job/example/versions").params["diffs"] == "true"


def test_stop_of_a_job_with_a_deployment_succeeds(run, fake):
    deployment_id = "e2e8b1b9-0000-0000-0000-000000000000"
    fake.on("GET", "/v1/jobs", [stub("example")])
    fake.on("DELETE", "/v1/job/example", {"EvalID": EVAL_ID})
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}",
            to_api(Evaluation(id=EVAL_ID, job_id="example", status="complete", type="service",
                              deployment_id=deployment_id, create_index=30)))
    fake.on("GET", f"/v1/evaluation/{EVAL_ID}/allocations", [])
    fake.on("GET", f"/v1/deployment/{deployment_id}",
            {"ID": deployment_id, "JobID": "example", "Status": "cancelled",
             "StatusDescription": "Cancelled because job is stopped", "ModifyIndex": 31})
    result = run("job", "stop", "example")
    assert result.exit_code == 0
    assert "Status      = cancelled\nDescription = Cancelled because job is stopped\n" \
        in result.output


TEMPLATED_JOB = '''job "web" {
  datacenters = ["dc1"]
  group "web" {
    task "server" {
      driver = "raw_exec"
      config { command = "/bin/true" }
      template {
        destination = "local/app.conf"
        data        = <<EOT
{{ range nomadService "db" }}
db = {{ .Address }}:{{ .Port }
{{ end }}
EOT
      }
    }
  }
}
'''


def test_validate_refuses_a_template_syntax_error_with_its_line_and_column(run, fake,
                                                                           tmp_path):
    path = tmp_path / "web.nomad"
    path.write_text(TEMPLATED_JOB)
    result = run("job", "validate", str(path))
    assert result.exit_code == 1
    assert "Template 1 validation failed: template: local/app.conf:2:" in result.stderr
    path.write_text(TEMPLATED_JOB.replace(".Port }", ".Port }}"))
    result = run("job", "validate", str(path))
    assert result.exit_code == 0, result.stderr
