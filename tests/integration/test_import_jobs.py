"""`agent -import-jobs DIR` submits every *.nomad file once a leader is known."""

from __future__ import annotations

import shutil
from pathlib import Path

from nomadjail.testing import wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_good_files_are_imported_and_a_broken_one_is_reported(agent_factory,
                                                               tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copy(EXAMPLES / "example.nomad", jobs / "a-example.nomad")
    (jobs / "b-broken.nomad").write_text('job "broken" {\n  group "g" {\n    count = \n')
    agent = agent_factory("importer", args=[f"-import-jobs={jobs}"])
    agent.start()
    wait_for(lambda: [a for a in agent.json("/v1/job/example/allocations")
                      if a["ClientStatus"] == "running"], timeout=20,
             message="the example job running")
    assert [j["ID"] for j in agent.json("/v1/jobs")] == ["example"]
    log = wait_for(lambda: (lambda text: text if "b-broken.nomad" in text else None)(
        agent.log()), message="the broken file reported in the log")
    assert f"{jobs / 'b-broken.nomad'}:" in log and "not imported" in log
    agent.request("DELETE", "/v1/job/example", purge="true")
