"""Artifacts end to end: a real agent, a job file submitted with the CLI, a loopback
HTTP server serving a tarball.  The task cats what was downloaded and unpacked; a
wrong checksum and a zip-slip archive fail the task with Nomad's event; the
client's ``artifact`` limits apply."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from nomadjail.testing import AgentProcess, make_agent, wait_for
from nomadjail.testing.cli_process import run_cli

from ..client.artifacts.archives import Entry, tar_bytes, zip_bytes
from ..doubles.files import FileServer

BUNDLE = tar_bytes([Entry("site/index.html", b"<h1>hello from an artifact</h1>\n")])


@pytest.fixture(scope="module")
def web() -> Iterator[FileServer]:
    server = FileServer()
    server.files["/site.tar.gz"] = BUNDLE
    server.files["/slip.zip"] = zip_bytes({"ok.txt": b"1", "../../../../pwned": b"x"})
    server.stream("/huge.bin", 4 << 20)
    yield server
    server.close()


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    agent = make_agent(tmp_path_factory.mktemp("artifact-agent"),
                       config={"client": {"enabled": True,
                                          "artifact": {"http_max_size": "1MB"}}})
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


def job_file(name: str, source: str, checksum: str = "", command: str = "true") -> str:
    options = f'options {{\n          checksum = "{checksum}"\n        }}' if checksum else ""
    return f'''
job "{name}" {{
  datacenters = ["dc1"]
  type        = "batch"
  group "g" {{
    restart {{
      attempts = 0
      mode     = "fail"
    }}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{command}"]
      }}
      artifact {{
        source      = "{source}"
        destination = "local/${{NOMAD_JOB_NAME}}"
        {options}
      }}
    }}
  }}
}}
'''


def run_job(agent: AgentProcess, tmp_path: Path, name: str, text: str) -> dict:
    path = tmp_path / f"{name}.nomad"
    path.write_text(text)
    done = run_cli(agent, "job", "run", "-detach", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr

    def finished() -> dict | None:
        allocs = agent.json(f"/v1/job/{name}/allocations")
        return allocs[0] if allocs and allocs[0]["ClientStatus"] in ("complete",
                                                                     "failed") else None

    alloc = wait_for(finished, timeout=30, message=f"the alloc of {name} to finish")
    assert alloc is not None
    return alloc


def events(alloc: dict) -> list[dict]:
    return alloc["TaskStates"]["t"]["Events"]


def test_a_task_cats_its_downloaded_and_unpacked_artifact(agent: AgentProcess, web: FileServer,
                                                          tmp_path: Path) -> None:
    digest = hashlib.sha256(BUNDLE).hexdigest()
    alloc = run_job(agent, tmp_path, "site", job_file(
        "site", web.url("/site.tar.gz"), f"sha256:{digest}",
        command="cat local/site/site/index.html"))
    assert alloc["ClientStatus"] == "complete", events(alloc)
    assert [e["Type"] for e in events(alloc)] == [
        "Received", "Task Setup", "Downloading Artifacts", "Started", "Terminated"]
    downloading = events(alloc)[2]
    assert downloading["DisplayMessage"] == "Client is downloading artifacts"
    logs = run_cli(agent, "alloc", "logs", alloc["ID"], "t", cwd=tmp_path)
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == "<h1>hello from an artifact</h1>\n"
    job = agent.json("/v1/job/site")
    artifact = job["TaskGroups"][0]["Tasks"][0]["Artifacts"][0]
    assert artifact == {"GetterSource": web.url("/site.tar.gz"),
                        "GetterOptions": {"checksum": f"sha256:{digest}"},
                        "GetterHeaders": {}, "GetterMode": "any", "GetterInsecure": False,
                        "RelativeDest": "local/${NOMAD_JOB_NAME}", "Chown": False}


@pytest.mark.parametrize("name, path, checksum, expected", [
    ("badsum", "/site.tar.gz", "sha256:" + "0" * 64, "Checksums did not match for site.tar.gz"),
    ("slip", "/slip.zip", "", "entry contains '..': ../../../../pwned"),
    ("huge", "/huge.bin", "", "download larger than http_max_size: more than 1000000 bytes"),
])
def test_a_failed_download_fails_the_task_with_a_clear_event(
        agent: AgentProcess, web: FileServer, tmp_path: Path, name: str, path: str,
        checksum: str, expected: str) -> None:
    alloc = run_job(agent, tmp_path, name, job_file(name, web.url(path), checksum))
    assert alloc["ClientStatus"] == "failed"
    failed = [e for e in events(alloc) if e["Type"] == "Failed Artifact Download"]
    assert failed, events(alloc)
    message = failed[0]["DisplayMessage"]
    assert message.startswith(f'failed to download artifact "{web.url(path)}')
    assert expected in message
    assert failed[0]["Details"]["download_error"] == message
    assert "Started" not in [e["Type"] for e in events(alloc)]
    assert not list(agent.data_dir.rglob("pwned"))
    status = run_cli(agent, "alloc", "status", alloc["ID"], cwd=tmp_path)
    assert "Failed Artifact Download" in status.stdout


def test_bad_artifact_blocks_are_refused_at_submit(agent: AgentProcess, tmp_path: Path) -> None:
    path = tmp_path / "bad.nomad"
    path.write_text(job_file("bad", "", "sha256:1234"))
    done = run_cli(agent, "job", "run", "-detach", str(path), cwd=tmp_path)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Artifact 1 validation failed: source must be specified" in output
    assert "Artifact 1 validation failed: invalid sha256 checksum: 1234" in output
    assert agent.get("/v1/job/bad").status_code == 404


@pytest.mark.parametrize("artifact, message", [
    ({"GetterSource": 5}, "Job.TaskGroups[0].Tasks[0].Artifacts[0].GetterSource: expected a "
                          "string"),
    ({"GetterSource": "https://h/x", "GetterOptions": ["checksum"]},
     "Job.TaskGroups[0].Tasks[0].Artifacts[0].GetterOptions"),
    ({"GetterSource": "https://h/x", "GetterMode": "folder", "RelativeDest": "../../.."},
     'invalid artifact mode "folder"'),
])
def test_bad_artifacts_in_the_api_are_a_400_naming_them(agent: AgentProcess, artifact: dict,
                                                        message: str) -> None:
    job = {"Job": {"ID": "api-bad", "Name": "api-bad", "Type": "batch", "Datacenters": ["dc1"],
                   "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{
                       "Name": "t", "Driver": "raw_exec", "Config": {"command": "/bin/true"},
                       "Artifacts": [artifact]}]}]}}
    resp = agent.request("POST", "/v1/jobs", job)
    assert resp.status_code == 400, resp.text
    assert message in resp.text
    assert agent.get("/v1/job/api-bad").status_code == 404
