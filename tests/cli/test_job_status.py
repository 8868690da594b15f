"""``job status``: the jobs table and the single-job layout, exactly as Nomad prints them."""

from __future__ import annotations

import json

import pytest

from nomadjail.http.stubs import alloc_stub, job_stub
from nomadjail.structs import Deployment, DeploymentState, JobSummary, TaskGroupSummary, to_api
from nomadjail.testing import mock_alloc, mock_eval, mock_job, mock_node

NOW = 1_700_000_000  # the clock the `run` fixture freezes (2023-11-14T22:13:20Z)
SUBMIT = (NOW - 120) * 10**9


@pytest.fixture
def job():
    job = mock_job(job_id="example", count=2)
    job.status = "running"
    job.submit_time = SUBMIT
    job.datacenters = ["dc1", "dc2"]
    job.version = 3
    return job


@pytest.fixture
def node():
    node = mock_node(name="client-1")
    node.id = "6e1b8b8a-1111-2222-3333-444455556666"
    return node


def make_alloc(job, node, alloc_id, index, client_status="running"):
    alloc = mock_alloc(job, node, index=index, client_status=client_status)
    alloc.id = alloc_id
    alloc.create_index = 10 + index
    alloc.create_time = SUBMIT
    alloc.modify_time = SUBMIT + 60 * 10**9
    return alloc


def serve_job(fake, job, allocs=(), evals=(), deployment=None):
    fake.on("GET", "/v1/jobs", [job_stub(job, None)])
    fake.on("GET", f"/v1/job/{job.id}", to_api(job))
    summary = JobSummary(job_id=job.id, namespace="default",
                         summary={"web": TaskGroupSummary(running=2, failed=1)})
    fake.on("GET", f"/v1/job/{job.id}/summary", to_api(summary))
    fake.on("GET", f"/v1/job/{job.id}/allocations", [alloc_stub(a) for a in allocs])
    fake.on("GET", f"/v1/job/{job.id}/evaluations", [to_api(e) for e in evals])
    fake.on("GET", f"/v1/job/{job.id}/deployment", to_api(deployment) if deployment else None)


def test_without_id_prints_the_jobs_table(run, fake, job):
    other = mock_job(job_id="batch-thing", job_type="batch")
    other.status, other.submit_time, other.priority, other.stop = "dead", SUBMIT, 70, True
    fake.on("GET", "/v1/jobs", [job_stub(job, None), job_stub(other, None)])

    result = run("job", "status")

    assert result.exit_code == 0
    assert result.output == (
        "ID           Type     Priority  Status          Submit Date\n"
        "batch-thing  batch    70        dead (stopped)  2023-11-14T22:11:20Z\n"
        "example      service  50        running         2023-11-14T22:11:20Z\n")


def test_without_jobs_says_so(run, fake):
    fake.on("GET", "/v1/jobs", [])
    result = run("status")
    assert (result.exit_code, result.output) == (0, "No running jobs\n")


def test_one_job_in_nomads_full_layout(run, fake, job, node):
    allocs = [make_alloc(job, node, "3b1e9f0e-aaaa-bbbb-cccc-000000000001", 1),
              make_alloc(job, node, "7c2d0a1f-aaaa-bbbb-cccc-000000000002", 0, "failed")]
    deployment = Deployment(id="e2e8b1b9-0000-0000-0000-000000000000", job_id=job.id,
                            status="successful",
                            status_description="Deployment completed successfully",
                            task_groups={"web": DeploymentState(desired_total=2,
                                                                placed_allocs=2,
                                                                healthy_allocs=2)})
    serve_job(fake, job, allocs, deployment=deployment)

    result = run("job", "status", "example")

    assert result.exit_code == 0, result.output
    assert result.output == (
        "ID            = example\n"
        "Name          = example\n"
        "Submit Date   = 2023-11-14T22:11:20Z\n"
        "Type          = service\n"
        "Priority      = 50\n"
        "Datacenters   = dc1,dc2\n"
        "Namespace     = default\n"
        "Node Pool     = default\n"
        "Status        = running\n"
        "Periodic      = false\n"
        "Parameterized = false\n"
        "\n"
        "Summary\n"
        "Task Group  Queued  Starting  Running  Failed  Complete  Lost  Unknown\n"
        "web         0       0         2        1       0         0     0\n"
        "\n"
        "Latest Deployment\n"
        "ID          = e2e8b1b9\n"
        "Status      = successful\n"
        "Description = Deployment completed successfully\n"
        "\n"
        "Deployed\n"
        "Task Group  Desired  Placed  Healthy  Unhealthy\n"
        "web         2        2       2        0\n"
        "\n"
        "Allocations\n"
        "ID        Node ID   Task Group  Version  Desired  Status   Created  Modified\n"
        "3b1e9f0e  6e1b8b8a  web         3        run      running  2m ago   1m ago\n"
        "7c2d0a1f  6e1b8b8a  web         3        run      failed   2m ago   1m ago\n")


def test_verbose_shows_evaluations_and_full_ids(run, fake, job, node):
    evaluation = mock_eval(job)
    evaluation.id = "a0b7d7f4-0000-0000-0000-000000000000"
    evaluation.status = "complete"
    alloc = make_alloc(job, node, "3b1e9f0e-aaaa-bbbb-cccc-000000000001", 0)
    serve_job(fake, job, [alloc], [evaluation])

    result = run("job", "status", "-verbose", "example")

    assert "Evaluations\nID                                    Priority  Triggered By  " \
           "Status    Placement Failures\n" \
           "a0b7d7f4-0000-0000-0000-000000000000  50        job-register  complete  false\n" \
        in result.output
    assert "3b1e9f0e-aaaa-bbbb-cccc-000000000001  " in result.output
    assert "2023-11-14T22:11:20Z" in result.output


def test_blocked_evaluation_shows_why_placement_failed(run, fake, job):
    failed = mock_eval(job)
    failed.status = "blocked"
    failed.create_index = 5
    failed.failed_tg_allocs = {"web": from_metric()}
    serve_job(fake, job, [], [failed])

    result = run("job", "status", "example")

    assert ("\nPlacement Failure\nTask Group \"web\":\n"
            "  * Constraint \"${attr.kernel.name} = windows\": 2 nodes excluded by filter\n"
            "  * Dimension \"memory\" exhausted on 1 nodes\n") in result.output
    assert result.output.endswith("Allocations\nNo allocations placed\n")


def from_metric():
    from nomadjail.structs import AllocMetric
    return AllocMetric(nodes_evaluated=3, nodes_filtered=2,
                       constraint_filtered={"${attr.kernel.name} = windows": 2},
                       dimension_exhausted={"memory": 1})


def test_prefix_that_matches_several_jobs_lists_them(run, fake, job):
    second = mock_job(job_id="example-two")
    second.status, second.submit_time = "pending", SUBMIT
    fake.on("GET", "/v1/jobs", [job_stub(job, None), job_stub(second, None)])

    result = run("job", "status", "exa")

    assert result.exit_code == 1
    assert result.stderr == (
        'Prefix "exa" matched multiple jobs\n'
        "\n"
        "ID           Type     Priority  Status   Submit Date\n"
        "example      service  50        running  2023-11-14T22:11:20Z\n"
        "example-two  service  50        pending  2023-11-14T22:11:20Z\n")
    assert fake.last("GET", "/v1/jobs").params["prefix"] == "exa"


def test_exact_id_wins_over_longer_ids_with_the_same_prefix(run, fake, job):
    second = mock_job(job_id="example-two")
    serve_job(fake, job)
    fake.on("GET", "/v1/jobs", [job_stub(job, None), job_stub(second, None)])
    result = run("job", "status", "-short", "example")
    assert result.exit_code == 0
    assert result.output.startswith("ID            = example\n")
    assert "Summary" not in result.output


def test_unknown_job(run, fake):
    fake.on("GET", "/v1/jobs", [])
    result = run("job", "status", "nope")
    assert result.exit_code == 1
    assert result.stderr == 'No job(s) with prefix or ID "nope" found\n'


def test_json_output_has_nomads_shape(run, fake, job, node):
    alloc = make_alloc(job, node, "3b1e9f0e-aaaa-bbbb-cccc-000000000001", 0)
    serve_job(fake, job, [alloc])

    result = run("job", "status", "-json", "example")

    data = json.loads(result.output)
    assert [sorted(entry) for entry in data] == [
        ["Allocations", "Evaluations", "LatestDeployment", "Summary"]]
    assert data[0]["Summary"]["Summary"]["web"]["Running"] == 2
    assert data[0]["Allocations"][0]["ID"] == alloc.id


def test_server_error_is_reported(run, fake):
    fake.on("GET", "/v1/jobs", status=500, text="No cluster leader")
    result = run("job", "status")
    assert result.exit_code == 1
    assert result.stderr == \
        "Error querying jobs: Unexpected response code: 500 (No cluster leader)\n"
