"""Importing a directory of job files: each file's outcome, nothing new for unchanged
files, one bad file never stops the others (in process, on a real single server)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import pytest

from nomadjail.agent.import_jobs import (
    ImportStatus,
    ServerJobTarget,
    import_jobs,
    import_jobs_when_leader,
)
from nomadjail.server.config import ServerConfig
from nomadjail.server.server import Server
from nomadjail.structs import Unavailable
from nomadjail.testing import free_port

JOB = '''job "{name}" {{
  datacenters = ["*"]
  group "g" {{
    count = {count}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/true"
      }}
    }}
  }}
}}
'''


@pytest.fixture
def server():
    server = Server(ServerConfig(node_name="importer", raft_bind=f"127.0.0.1:{free_port()}",
                                 rpc_advertise=f"127.0.0.1:{free_port()}", num_schedulers=1))
    server.start()
    try:
        assert server.wait_for_leader(10)
        yield server
    finally:
        server.shutdown()


def write_jobs(directory: Path, **files: str) -> Path:
    directory.mkdir(exist_ok=True)
    for name, text in files.items():
        (directory / f"{name}.nomad").write_text(text)
    return directory


def versions(server: Server) -> dict[str, int]:
    snapshot = server.state.snapshot()
    return {job_id: snapshot.job_by_id("default", job_id).version
            for job_id in ("one", "two") if snapshot.job_by_id("default", job_id)}


def registrations(server: Server) -> dict[str, tuple[int, int]]:
    """Per job: (job modify index, evaluations triggered by a registration)."""
    snapshot = server.state.snapshot()
    return {job_id: (snapshot.job_by_id("default", job_id).job_modify_index,
                     sum(e.triggered_by == "job-register"
                         for e in snapshot.evals_by_job("default", job_id)))
            for job_id in ("one", "two")}


def test_each_file_has_an_outcome_and_a_bad_one_does_not_stop_the_others(
        server, tmp_path, caplog):
    jobs = write_jobs(tmp_path / "jobs", a=JOB.format(name="one", count=1),
                      b='job "broken" {', c=JOB.format(name="two", count=1),
                      d='job "invalid" {\n  group "g" {\n    count = -1\n  }\n}\n')
    (jobs / "notes.txt").write_text("not a job file")
    with caplog.at_level(logging.INFO, logger="nomadjail.agent.import"):
        outcomes = import_jobs(ServerJobTarget(server), jobs)
    assert [(Path(o.path).name, o.status) for o in outcomes] == [
        ("a.nomad", ImportStatus.REGISTERED), ("b.nomad", ImportStatus.FAILED),
        ("c.nomad", ImportStatus.REGISTERED), ("d.nomad", ImportStatus.FAILED)]
    assert outcomes[1].error.startswith(f"{jobs / 'b.nomad'}:1:")
    assert "count" in outcomes[3].error.lower()
    assert versions(server) == {"one": 0, "two": 0}
    logged = caplog.text
    for name in ("a.nomad", "b.nomad", "c.nomad", "d.nomad"):
        assert f"{jobs / name}: " in logged
    assert "2 registered, 0 unchanged, 2 failed" in logged


def test_importing_again_changes_nothing_until_a_file_changes(server, tmp_path):
    jobs = write_jobs(tmp_path / "jobs", a=JOB.format(name="one", count=1),
                      b=JOB.format(name="two", count=1))
    import_jobs(server, jobs)
    before = registrations(server)

    again = import_jobs(server, jobs)
    assert [o.status for o in again] == [ImportStatus.UNCHANGED, ImportStatus.UNCHANGED]
    assert registrations(server) == before  # no register write, no new evaluation
    assert versions(server) == {"one": 0, "two": 0}

    write_jobs(jobs, b=JOB.format(name="two", count=2))
    changed = import_jobs(server, jobs)
    assert [o.status for o in changed] == [ImportStatus.UNCHANGED, ImportStatus.REGISTERED]
    assert versions(server) == {"one": 0, "two": 1}


def test_an_empty_directory_is_reported(server, tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    with caplog.at_level(logging.WARNING, logger="nomadjail.agent.import"):
        assert import_jobs(server, tmp_path / "empty") == []
    assert f"no *.nomad files in {tmp_path / 'empty'}" in caplog.text


def test_with_a_record_a_stopped_job_stays_stopped_and_only_new_content_is_imported(
        server, tmp_path):
    """The agent's -import-jobs runs at every start: what it imported once is not
    submitted again, so an operator's `job stop` survives a restart of the jail."""
    record = tmp_path / "data/server/imported-jobs.json"
    jobs = write_jobs(tmp_path / "jobs", a=JOB.format(name="one", count=1),
                      b=JOB.format(name="two", count=1), c='job "broken" {')
    first = import_jobs(server, jobs, record=record)
    assert [o.status for o in first] == [ImportStatus.REGISTERED, ImportStatus.REGISTERED,
                                         ImportStatus.FAILED]
    server.deregister_job("default", "one")  # the operator stops it

    again = import_jobs(server, jobs, record=record)  # the agent starts again
    assert [o.status for o in again] == [ImportStatus.ALREADY_IMPORTED,
                                         ImportStatus.ALREADY_IMPORTED,
                                         ImportStatus.FAILED]  # still reported
    assert server.state.snapshot().job_by_id("default", "one").stop is True

    write_jobs(jobs, a=JOB.format(name="one", count=2))  # an edited file is imported
    edited = import_jobs(server, jobs, record=record)
    assert [o.status for o in edited][:2] == [ImportStatus.REGISTERED,
                                              ImportStatus.ALREADY_IMPORTED]
    one = server.state.snapshot().job_by_id("default", "one")
    assert one.stop is False and one.task_groups[0].count == 2

    record.write_text("{ not json")  # a damaged record: everything is looked at again
    assert [o.status for o in import_jobs(server, jobs, record=record)][:2] == [
        ImportStatus.UNCHANGED, ImportStatus.UNCHANGED]


class FlakyTarget(ServerJobTarget):
    """The real server, refusing the first ``failures`` submissions with "No cluster
    leader", as a cluster does while leadership moves during its formation."""

    def __init__(self, server: Server, failures: int):
        super().__init__(server)
        self.failures = failures

    def submit(self, job):
        if self.failures:
            self.failures -= 1
            raise Unavailable("No cluster leader")
        return super().submit(job)


def test_a_job_refused_while_the_cluster_forms_is_imported_on_a_later_try(server, tmp_path):
    jobs = write_jobs(tmp_path / "jobs", one=JOB.format(name="one", count=1),
                      two=JOB.format(name="two", count=1))
    record = tmp_path / "imported.json"
    outcomes = import_jobs_when_leader(FlakyTarget(server, failures=3), server, str(jobs),
                                       threading.Event(), record=record, retry_delay=0.01)
    assert [o.status for o in outcomes] == [ImportStatus.REGISTERED] * 2
    assert versions(server) == {"one": 0, "two": 0}
    assert len(json.loads(record.read_text())) == 2  # remembered: not imported again


def test_retrying_is_bounded_and_stops_at_shutdown(server, tmp_path):
    jobs = write_jobs(tmp_path / "jobs", one=JOB.format(name="one", count=1))
    outcomes = import_jobs_when_leader(FlakyTarget(server, failures=100), server, str(jobs),
                                       threading.Event(), retries=2, retry_delay=0.01)
    assert [(o.status, o.error) for o in outcomes] == [(ImportStatus.FAILED,
                                                        "No cluster leader")]
    assert versions(server) == {}
    stopped = threading.Event()
    target = FlakyTarget(server, failures=100)
    submit = target.submit

    def submit_then_shut_down(job):
        stopped.set()  # the agent starts shutting down meanwhile
        return submit(job)

    target.submit = submit_then_shut_down
    outcomes = import_jobs_when_leader(target, server, str(jobs), stopped, retry_delay=0.01)
    assert [o.status for o in outcomes] == [ImportStatus.FAILED]
    assert target.failures == 99  # tried once, not again after shutdown began
