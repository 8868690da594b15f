"""``job plan -diff``: Nomad's JobDiff shape for added, edited and unchanged jobs."""

from __future__ import annotations

from nomadjail.server.job_diff import annotate_diff, diff_jobs
from nomadjail.structs import DesiredUpdates, PlanAnnotations
from nomadjail.testing import mock_job


def changed(entries):
    return {e["Name"]: (e["Type"], e["Old"], e["New"]) for e in entries or []
            if e["Type"] != "None"}


def test_a_new_job_is_added_everywhere():
    job = mock_job(job_id="web")
    diff = diff_jobs(None, job)
    assert diff["Type"] == "Added" and diff["ID"] == "web"
    [group] = diff["TaskGroups"]
    assert group["Type"] == "Added" and group["Tasks"][0]["Type"] == "Added"
    assert changed(group["Fields"])["Count"] == ("Added", "", "10")


def test_an_unchanged_job_has_no_edits():
    job = mock_job()
    diff = diff_jobs(job, job.copy())
    assert diff["Type"] == "None" and diff["Fields"] is None
    assert diff["TaskGroups"][0]["Type"] == "None"


def test_edits_name_the_field_and_both_values():
    old = mock_job(job_id="web")
    new = old.copy()
    new.task_groups[0].count = 3
    new.task_groups[0].tasks[0].config = {"command": "/bin/sleep", "args": ["10"]}
    new.task_groups[0].tasks[0].env["FOO"] = "baz"
    new.datacenters = ["dc1", "dc2"]
    new.meta = {"owner": "ops"}
    diff = diff_jobs(old, new)
    assert diff["Type"] == "Edited"
    assert changed(diff["Fields"]) == {"Meta[owner]": ("Added", "", "ops")}
    [datacenters] = [o for o in diff["Objects"] if o["Name"] == "Datacenters"]
    assert changed(datacenters["Fields"]) == {"Datacenters": ("Added", "", "dc2")}
    [group] = diff["TaskGroups"]
    assert changed(group["Fields"]) == {"Count": ("Edited", "10", "3")}
    [task] = group["Tasks"]
    assert changed(task["Fields"]) == {"Env[FOO]": ("Edited", "bar", "baz")}
    [config] = [o for o in task["Objects"] if o["Name"] == "Config"]
    assert changed(config["Fields"]) == {"command": ("Edited", "/bin/date", "/bin/sleep"),
                                         "args[0]": ("Added", "", "10")}


def test_groups_are_annotated_with_the_schedulers_counts():
    job = mock_job()
    diff = diff_jobs(job, job.copy())
    annotate_diff(diff, PlanAnnotations(desired_tg_updates={
        "web": DesiredUpdates(place=2, ignore=8, destructive_update=1)}))
    assert diff["TaskGroups"][0]["Updates"] == {"create": 2, "ignore": 8,
                                                "create/destroy update": 1}
