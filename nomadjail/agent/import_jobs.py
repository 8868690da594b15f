"""Submitting a directory of job files: ``agent -import-jobs DIR`` and the appliance.

Every ``DIR/*.nomad`` is read, parsed, validated and submitted on its own, in
name order; one bad file does not stop the others, and every file's outcome
is logged (and returned):

- ``registered``: the job was new or its spec changed; it was submitted;
- ``unchanged``: the server already runs exactly this spec (a plan shows no
  difference), so nothing is submitted -- importing again on every start
  creates no job version, no evaluation, nothing;
- ``failed``: the file could not be read or parsed, the job is invalid, or the
  server refused it; the error names the file.

Where jobs go is a :class:`JobTarget`: the agent's own server in process
(:class:`ServerJobTarget`) or any agent's HTTP API (the appliance's cook,
``nomadjail.appliance``).
"""

from __future__ import annotations

import enum
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..jobspec import parse_job
from ..server.server import Server
from ..structs import Job, NomadError

log = logging.getLogger("nomadjail.agent.import")

NO_CHANGE = "None"  # JobDiff.Type of a plan that changes nothing (Nomad's)
LEADER_REPORT_INTERVAL = 30.0  # seconds between "still waiting for a leader" lines


class ImportStatus(str, enum.Enum):
    REGISTERED = "registered"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(slots=True)
class ImportOutcome:
    path: str
    status: ImportStatus = ImportStatus.FAILED
    job_id: str = ""
    eval_id: str = ""
    error: str = ""


class JobTarget(Protocol):
    """Where imported jobs are submitted."""

    def diff_type(self, job: Job) -> str:
        """The JobDiff ``Type`` of submitting ``job`` (``None`` = no change)."""

    def submit(self, job: Job) -> str:
        """Register ``job``; returns the evaluation ID."""


class ServerJobTarget:
    """The agent's own server, in process."""

    def __init__(self, server: Server):
        self.server = server

    def diff_type(self, job: Job) -> str:
        diff = self.server.plan_job(job.copy(), diff=True).diff or {}
        return str(diff.get("Type", ""))

    def submit(self, job: Job) -> str:
        return self.server.register_job(job).eval_id


def import_file(target: JobTarget, path: Path) -> ImportOutcome:
    outcome = ImportOutcome(path=str(path))
    try:
        job = parse_job(path.read_text(encoding="utf-8"), str(path))
        outcome.job_id = job.id
        if target.diff_type(job) == NO_CHANGE:
            outcome.status = ImportStatus.UNCHANGED
            log.info("%s: job %r unchanged, not submitted again", path, job.id)
            return outcome
        outcome.eval_id = target.submit(job)
        outcome.status = ImportStatus.REGISTERED
        log.info("%s: job %r registered (evaluation %s)", path, job.id, outcome.eval_id[:8])
    except (NomadError, OSError, UnicodeDecodeError) as err:
        outcome.status, outcome.error = ImportStatus.FAILED, str(err)
        log.error("%s: not imported: %s", path, err)
    return outcome


def import_jobs(target: JobTarget | Server, directory: str | Path) -> list[ImportOutcome]:
    """Import every ``directory/*.nomad`` (see the module docstring)."""
    if isinstance(target, Server):
        target = ServerJobTarget(target)
    files = sorted(Path(directory).glob("*.nomad"))
    if not files:
        log.warning("no *.nomad files in %s", directory)
    outcomes = [import_file(target, path) for path in files]
    counts = {status: sum(o.status is status for o in outcomes) for status in ImportStatus}
    if files:
        log.info("imported %s: %d registered, %d unchanged, %d failed", directory,
                 counts[ImportStatus.REGISTERED], counts[ImportStatus.UNCHANGED],
                 counts[ImportStatus.FAILED])
    return outcomes


def import_jobs_when_leader(target: JobTarget, server: Server, directory: str,
                            stopped: threading.Event) -> list[ImportOutcome]:
    """:func:`import_jobs` once the cluster has a leader (as long as that takes,
    unless ``stopped`` is set first: then nothing is imported)."""
    while not server.wait_for_leader(LEADER_REPORT_INTERVAL):
        if stopped.is_set():
            return []
        log.info("waiting for a cluster leader before importing jobs from %s", directory)
    if stopped.is_set():
        return []
    return import_jobs(target, directory)
