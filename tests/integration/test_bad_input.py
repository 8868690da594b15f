"""Every bad input gets a clear 4xx naming the problem, stores nothing, and the
agent keeps serving."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nomadjail.testing import AgentProcess

from .jobs import FOREVER, shell_job


@pytest.fixture
def unchanged(dev_agent: AgentProcess):
    """Asserts that a test stored nothing (no job, no evaluation: the raft index did
    not move) and that the agent still answers."""
    before = dev_agent.json("/v1/jobs"), dev_agent.json("/v1/evaluations")
    index = dev_agent.get("/v1/agent/self").json()  # warm-up: the agent answers
    yield
    assert (dev_agent.json("/v1/jobs"), dev_agent.json("/v1/evaluations")) == before
    assert dev_agent.json("/v1/status/leader") and index


def post(agent: AgentProcess, path: str, raw: str):
    import requests

    return requests.post(agent.address + path, data=raw, timeout=10)


@pytest.mark.parametrize("raw, message", [
    ("{not json", "request body is not valid JSON"),
    ("[1, 2]", "request body must be a JSON object"),
    ("", "request body is empty"),
    ('{"Job": null}', "Job must be specified"),
    ('{"Job": {"Name": "x"}}', "Job ID hasn't been provided"),
    ('{"Job": {"ID": 5}}', "Job.ID: expected a string, got 5"),
    ('{"Job": {"ID": "x", "TaskGroups": [{"Count": "three"}]}}',
     "Job.TaskGroups[0].Count: expected an integer, got 'three'"),
])
def test_malformed_job_json(dev_agent: AgentProcess, unchanged, raw: str, message: str) -> None:
    resp = post(dev_agent, "/v1/jobs", raw)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert message in resp.text


def test_invalid_job_lists_every_problem(dev_agent: AgentProcess, unchanged) -> None:
    body = shell_job("bad job", FOREVER, count=-1)
    body["Job"]["TaskGroups"][0]["Tasks"][0]["Driver"] = ""
    resp = dev_agent.request("POST", "/v1/jobs", body)
    assert resp.status_code == 400
    assert "Job ID 'bad job' contains a space" in resp.text
    assert "Task group count can't be negative" in resp.text
    assert "Missing task driver" in resp.text


def test_driver_config_is_checked_at_submit(dev_agent: AgentProcess, unchanged) -> None:
    body = shell_job("noconfig", FOREVER)
    body["Job"]["TaskGroups"][0]["Tasks"][0]["Config"] = {"args": ["x"]}
    resp = dev_agent.request("POST", "/v1/jobs", body)
    assert resp.status_code == 400 and "command" in resp.text


def test_id_in_path_must_match_body(dev_agent: AgentProcess, unchanged) -> None:
    resp = dev_agent.request("POST", "/v1/job/other", shell_job("mine", FOREVER))
    assert resp.status_code == 400 and "Job ID does not match name" in resp.text


@pytest.mark.parametrize("path, message", [
    ("/v1/job/missing", "job not found"),
    ("/v1/job/missing/summary", "job not found"),
    ("/v1/allocation/00000000-0000-0000-0000-000000000000", "alloc not found"),
    ("/v1/node/00000000-0000-0000-0000-000000000000", "node not found"),
    ("/v1/evaluation/00000000-0000-0000-0000-000000000000", "eval not found"),
    ("/v1/client/fs/logs/00000000-0000-0000-0000-000000000000?task=t&type=stdout",
     'Unknown allocation "00000000-0000-0000-0000-000000000000"'),
    ("/v1/nonsense", "Invalid URL path"),
])
def test_unknown_ids_are_404(dev_agent: AgentProcess, path: str, message: str) -> None:
    resp = dev_agent.get(path)
    assert resp.status_code == 404 and message in resp.text


@pytest.mark.parametrize("path, message", [
    ("/v1/jobs?index=abc", "Invalid index"),
    ("/v1/jobs?wait=forever", "Invalid wait time"),
    ("/v1/jobs?stale=maybe", "Expect `true` or `false`"),
    ("/v1/client/fs/logs/x?type=stdout", "must provide task name"),
    ("/v1/client/fs/logs/x?task=t&type=other", "must provide log type"),
    ("/v1/client/fs/logs/x?task=t&type=stdout&origin=middle", "origin must be start or end"),
])
def test_bad_query_parameters(dev_agent: AgentProcess, path: str, message: str) -> None:
    resp = dev_agent.get(path)
    assert resp.status_code == 400 and message in resp.text


def test_malformed_hcl_names_line_and_column(dev_agent: AgentProcess, unchanged) -> None:
    resp = dev_agent.request("POST", "/v1/jobs/parse",
                             {"JobHCL": 'job "x" {\n  group "g" {\n    count = \n}\n'})
    assert resp.status_code == 400
    assert resp.text.startswith("Failed to parse job: input.hcl:")


def test_unknown_alloc_stop_is_404(dev_agent: AgentProcess, unchanged) -> None:
    resp = dev_agent.request("POST", "/v1/allocation/00000000-0000-0000-0000-000000000000/stop")
    assert resp.status_code == 404


def test_stopping_an_unknown_job_stores_nothing(dev_agent: AgentProcess, unchanged) -> None:
    resp = dev_agent.request("DELETE", "/v1/job/never-registered")
    assert resp.status_code == 200 and resp.json()["EvalID"] == ""  # as Nomad answers


def test_rpc_paths_are_not_served_on_the_http_port(dev_agent: AgentProcess) -> None:
    assert dev_agent.request("POST", "/v1/rpc/Node.Register", {"Node": {}}).status_code == 404


def test_rpc_requires_the_node_secret(dev_agent: AgentProcess) -> None:
    import requests

    node_id = dev_agent.json("/v1/nodes")[0]["ID"]
    resp = requests.post(f"http://{dev_agent.rpc_address}/v1/rpc/Node.UpdateStatus",
                         json={"NodeID": node_id, "Status": "down"},
                         headers={"X-Nomad-Token": "wrong"}, timeout=10)
    assert resp.status_code == 403
    assert dev_agent.json(f"/v1/node/{node_id}")["Status"] == "ready"


@pytest.mark.parametrize("content, suffix, message", [
    ("server {\n  enabeld = true\n}\n", ".hcl", ':2:3: unknown key "enabeld" in server; '
                                                'did you mean "enabled"?'),
    ('ports {\n  http = "x"\n}\n', ".hcl", ':2:3: ports.http: expected a whole number, got '
                                          'string "x"'),
    ('{"client": {"servers": "a"}}', ".json", ": client.servers: expected a list of strings"),
    ("server {", ".hcl", ":1:9: unexpected end of file"),
])
def test_bad_agent_config_is_reported_with_its_place(tmp_path: Path, content: str, suffix: str,
                                                     message: str) -> None:
    config = tmp_path / f"agent{suffix}"
    config.write_text(content)
    result = subprocess.run([sys.executable, "-m", "nomadjail", "agent", "-dev",
                             f"-config={config}"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{config}{message}" in result.stderr, result.stderr


def test_agent_without_role_or_data_dir_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "nomadjail", "agent", "-server"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Must specify data directory" in result.stderr
