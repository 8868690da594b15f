"""Submitting a directory of job files: ``agent -import-jobs DIR`` and the appliance.

Every ``DIR/*.nomad`` is read, parsed, validated and submitted on its own, in
name order; one bad file does not stop the others, and every file's outcome
is logged (and returned):

- ``registered``: the job was new or its spec changed; it was submitted;
- ``unchanged``: the server already runs exactly this spec (a plan shows no
  difference), so nothing is submitted -- importing again on every start
  creates no job version, no evaluation, nothing;
- ``failed``: the file could not be read or parsed, the job is invalid, or the
  server refused it; the error names the file;
- ``already imported``: with a *record* (the agent's ``-import-jobs`` keeps one
  in its data dir), a file this agent imported before with the same content is
  not looked at again -- so a job the operator has since stopped, purged or
  changed through the API stays that way across restarts; a new or edited
  file is imported.

Where jobs go is a :class:`JobTarget`: the agent's own server in process
(:class:`ServerJobTarget`) or any agent's HTTP API (the appliance's cook,
``nomadjail.appliance``).
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..helper.atomic_file import write_json_atomically
from ..jobspec import parse_job
from ..server.server import Server
from ..structs import Job, NomadError, Unavailable

log = logging.getLogger("nomadjail.agent.import")

NO_CHANGE = "None"  # JobDiff.Type of a plan that changes nothing (Nomad's)
LEADER_REPORT_INTERVAL = 30.0  # seconds between "still waiting for a leader" lines
# A file refused because the cluster was not ready ("No cluster leader" while it
# forms) is tried again this many times, after a doubling delay (seconds).
IMPORT_RETRIES = 8
IMPORT_RETRY_DELAY = 1.0
IMPORT_RETRY_MAX_DELAY = 30.0


class ImportStatus(enum.StrEnum):
    REGISTERED = "registered"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    ALREADY_IMPORTED = "already imported"


@dataclass(slots=True)
class ImportOutcome:
    path: str
    status: ImportStatus = ImportStatus.FAILED
    job_id: str = ""
    eval_id: str = ""
    error: str = ""
    retryable: bool = False  # failed because the cluster was not ready (Unavailable)


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
        outcome.retryable = isinstance(err, Unavailable)
        log.error("%s: not imported: %s", path, err)
    return outcome


class ImportRecord:
    """Which file contents were imported, by path: a JSON file (``{path: sha256}``),
    rewritten whole after each change so a crash leaves the old or the new one."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.digests: dict[str, str] = {str(k): str(v) for k, v in data.items()}
        except FileNotFoundError:
            self.digests = {}
        except (OSError, ValueError, AttributeError) as err:
            log.warning("%s: unreadable, importing every file again: %s", self.path, err)
            self.digests = {}

    @staticmethod
    def digest(path: Path) -> str | None:
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None  # import_file reports the read error

    def seen(self, path: Path) -> bool:
        digest = self.digest(path)
        return digest is not None and self.digests.get(str(path)) == digest

    def remember(self, path: Path) -> None:
        digest = self.digest(path)
        if digest is None or self.digests.get(str(path)) == digest:
            return
        self.digests[str(path)] = digest
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomically(self.path, self.digests, indent=2)
        except OSError as err:
            log.warning("%s: cannot record the import of %s: %s", self.path, path, err)


def import_jobs(target: JobTarget | Server, directory: str | Path, *,
                record: str | Path | None = None) -> list[ImportOutcome]:
    """Import every ``directory/*.nomad`` (see the module docstring); with ``record``
    (a file path), files imported before with the same content are skipped."""
    if isinstance(target, Server):
        target = ServerJobTarget(target)
    memory = ImportRecord(record) if record is not None else None
    files = sorted(Path(directory).glob("*.nomad"))
    if not files:
        log.warning("no *.nomad files in %s", directory)
    outcomes = []
    for path in files:
        if memory is not None and memory.seen(path):
            outcomes.append(ImportOutcome(path=str(path), status=ImportStatus.ALREADY_IMPORTED))
            log.info("%s: imported before with this content, not looked at again", path)
            continue
        outcome = import_file(target, path)
        if memory is not None and outcome.status is not ImportStatus.FAILED:
            memory.remember(path)
        outcomes.append(outcome)
    counts = {status: sum(o.status is status for o in outcomes) for status in ImportStatus}
    if files:
        log.info("imported %s: %d registered, %d unchanged, %d failed%s", directory,
                 counts[ImportStatus.REGISTERED], counts[ImportStatus.UNCHANGED],
                 counts[ImportStatus.FAILED],
                 f", {counts[ImportStatus.ALREADY_IMPORTED]} imported before"
                 if memory is not None else "")
    return outcomes


def import_jobs_when_leader(target: JobTarget, server: Server, directory: str,
                            stopped: threading.Event, *,
                            record: str | Path | None = None, retries: int = IMPORT_RETRIES,
                            retry_delay: float = IMPORT_RETRY_DELAY) -> list[ImportOutcome]:
    """:func:`import_jobs` once the cluster has a leader (as long as that takes,
    unless ``stopped`` is set first: then nothing is imported).

    A file refused because the cluster was not ready after all (leadership
    changing while it forms: "No cluster leader") is submitted again, up to
    ``retries`` times with a doubling delay, until ``stopped`` is set."""
    while not server.wait_for_leader(LEADER_REPORT_INTERVAL):
        if stopped.is_set():
            return []
        log.info("waiting for a cluster leader before importing jobs from %s", directory)
    if stopped.is_set():
        return []
    outcomes = import_jobs(target, directory, record=record)
    delay = retry_delay
    for _ in range(retries):
        pending = [i for i, outcome in enumerate(outcomes) if outcome.retryable]
        if not pending:
            return outcomes
        log.info("%d job file(s) from %s were refused while the cluster was not ready; "
                 "trying again in %.0fs", len(pending), directory, delay)
        if stopped.wait(delay):
            return outcomes
        delay = min(delay * 2, IMPORT_RETRY_MAX_DELAY)
        memory = ImportRecord(record) if record is not None else None
        for i in pending:
            path = Path(outcomes[i].path)
            outcomes[i] = import_file(target, path)
            if memory is not None and outcomes[i].status is not ImportStatus.FAILED:
                memory.remember(path)
    left = [o.path for o in outcomes if o.retryable]
    if left:
        log.error("gave up importing %s: the cluster was not ready after %d attempts",
                  ", ".join(left), retries + 1)
    return outcomes
