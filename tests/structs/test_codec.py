"""The JSON codec speaks Nomad's shape: PascalCase keys, nulls accepted, bad types named."""

import json

import pytest

from nomadjail.structs import (
    DecodeError,
    Job,
    Node,
    Task,
    TaskGroup,
    format_duration,
    from_api,
    parse_duration,
    to_api,
)
from nomadjail.testing import mock_job, mock_node


def test_keys_are_nomads_pascal_case():
    data = to_api(mock_job())
    assert {"ID", "TaskGroups", "Datacenters", "JobModifyIndex"} <= data.keys()
    task = data["TaskGroups"][0]["Tasks"][0]
    assert task["Resources"]["MemoryMB"] == 256
    assert task["LogConfig"]["MaxFileSizeMB"] == 10
    assert data["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0]["Label"] == "http"
    node = to_api(mock_node())
    assert node["NodeResources"]["Cpu"]["CpuShares"] == 4000
    assert "HTTPAddr" in node and "SecretID" in node


def test_round_trip_through_json_is_lossless():
    job = mock_job(count=3)
    assert from_api(Job, json.loads(json.dumps(to_api(job)))) == job
    node = mock_node()
    assert from_api(Node, json.loads(json.dumps(to_api(node)))) == node


def test_nulls_and_unknown_fields_are_accepted():
    job = from_api(Job, {"ID": "x", "Priority": None, "Datacenters": None,
                         "SomeFutureField": {"a": 1}, "TaskGroups": [{"Name": "g", "Count": None}]})
    assert job.priority is None and job.datacenters == []
    assert job.task_groups[0].count is None


def test_keys_match_case_insensitively_like_go():
    assert from_api(Job, {"id": "lower", "taskgroups": [{"name": "g"}]}).task_groups[0].name == "g"


@pytest.mark.parametrize("data, path", [
    ({"ID": 5}, "Job.ID"),
    ({"TaskGroups": [{"Count": "three"}]}, "Job.TaskGroups[0].Count"),
    ({"TaskGroups": [{"Tasks": [{"Resources": {"CPU": True}}]}]},
     "Job.TaskGroups[0].Tasks[0].Resources.CPU"),
    ({"TaskGroups": {"Name": "g"}}, "Job.TaskGroups"),
    ({"Meta": ["a"]}, "Job.Meta"),
])
def test_wrong_types_name_their_path(data, path):
    with pytest.raises(DecodeError) as err:
        from_api(Job, data)
    assert err.value.path == path
    assert path in str(err.value)


def test_integral_floats_are_integers():
    assert from_api(TaskGroup, {"Count": 3.0}).count == 3
    with pytest.raises(DecodeError):
        from_api(TaskGroup, {"Count": 3.5})


@pytest.mark.parametrize("text, ns", [("30s", 30 * 10**9), ("1h30m", 5400 * 10**9),
                                      ("500ms", 5 * 10**8), ("1.5s", 15 * 10**8), ("0", 0),
                                      ("2us", 2000), ("-5s", -5 * 10**9)])
def test_parse_duration(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "5", "5x", "s", "1h30", "abc"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("ns, text", [(0, "0s"), (30 * 10**9, "30s"), (1800 * 10**9, "30m0s"),
                                      (3600 * 10**9, "1h0m0s"), (15 * 10**8, "1.5s"),
                                      (250 * 10**6, "250ms"), (90 * 10**9, "1m30s")])
def test_format_duration_matches_go(ns, text):
    assert format_duration(ns) == text


def test_task_defaults_filled_per_nomad():
    job = Job(id="x", type="batch", task_groups=[TaskGroup(name="g", tasks=[Task(name="t",
                                                                                  driver="d")])])
    job.canonicalize()
    group, task = job.task_groups[0], job.task_groups[0].tasks[0]
    assert job.datacenters == ["*"] and job.priority == 50 and job.region == "global"
    assert job.namespace == "default" and job.update is None
    assert group.restart_policy.attempts == 3 and group.restart_policy.mode == "fail"
    assert group.reschedule_policy.attempts == 1 and group.reschedule_policy.unlimited is False
    assert task.resources.cpu == 100 and task.resources.memory_mb == 300
    assert task.kill_timeout == 5 * 10**9 and task.restart_policy == group.restart_policy
