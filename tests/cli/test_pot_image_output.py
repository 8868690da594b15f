"""The image-cache boost in the CLI: ``alloc status -verbose`` prints Nomad's score table
(``pot-image`` a column like Nomad's scorers) and ``job plan`` says, per group, how many
placements land on nodes that already hold the pot image."""

from __future__ import annotations

import json

import pytest

from nomadjail.structs import AllocMetric, NodeScoreMeta, to_api
from nomadjail.testing import mock_job

from .test_alloc_commands import ALLOC_ID, serve
from .test_alloc_commands import alloc as alloc  # noqa: F401 - the fixture, reused

NODE_A = "5f1c0e9a-1111-2222-3333-444444444444"
NODE_B = "8d2e7b13-5555-6666-7777-888888888888"


def test_alloc_status_verbose_prints_the_score_table(run, fake, alloc) -> None:  # noqa: F811
    alloc.metrics = AllocMetric(nodes_evaluated=10, score_meta_data=[
        NodeScoreMeta(node_id=NODE_A, norm_score=0.6666666,
                      scores={"binpack": 0.3333333, "job-anti-affinity": 0.0,
                              "node-reschedule-penalty": 0.0, "pot-image": 1.0}),
        NodeScoreMeta(node_id=NODE_B, norm_score=0.25,
                      scores={"binpack": 0.25, "job-anti-affinity": 0.0,
                              "node-reschedule-penalty": 0.0, "pot-image": 0.0})],
        scores={"binpack": 0.3333333})
    serve(fake, alloc)
    result = run("alloc", "status", "-verbose", ALLOC_ID)
    assert result.exit_code == 0
    assert result.output.endswith(
        "\nPlacement Metrics\n"
        "Node                                  binpack  job-anti-affinity  "
        "node-reschedule-penalty  pot-image  final score\n"
        f"{NODE_A}  0.333    0                  0                        1          0.667\n"
        f"{NODE_B}  0.25     0                  0                        0          0.25\n")


@pytest.fixture
def job_file(tmp_path):
    path = tmp_path / "example.json"
    path.write_text(json.dumps({"Job": to_api(mock_job(job_id="example", count=3))}))
    return str(path)


def test_job_plan_shows_the_placements_on_nodes_holding_the_image(run, fake, job_file) -> None:
    added = {"Type": "Added", "ID": "example", "TaskGroups": [
        {"Type": "Added", "Name": "web", "Updates": {"create": 3},
         "Tasks": [{"Type": "Added", "Name": "web", "Annotations": ["forces create"]}]}]}
    fake.on("PUT", "/v1/job/example/plan", {
        "JobModifyIndex": 7, "Diff": added, "CreatedEvals": None, "FailedTGAllocs": None,
        "Annotations": {"DesiredTGUpdates": {"web": {"Place": 3}, "db": {"Ignore": 1}},
                        "PreemptedAllocs": None,
                        "NomadjailPotImageCached": {"web": 2, "db": 0}},
        "NextPeriodicLaunch": "0001-01-01T00:00:00Z", "Warnings": ""})
    result = run("job", "plan", "-json", "-diff=false", job_file)
    assert result.exit_code == 1
    assert result.output.startswith(
        "Scheduler dry-run:\n"
        "- All tasks successfully allocated.\n"
        '- Task Group "web": 2 of 3 placements on nodes that hold the pot image.\n'
        "\n"
        "Job Modify Index: 7\n")
