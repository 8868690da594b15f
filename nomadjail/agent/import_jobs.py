"""``-import-jobs DIR``: submit every ``DIR/*.nomad`` once the cluster has a leader.

Each file is parsed, validated and registered on its own; its outcome is
logged and one bad file does not stop the others.  Registering an unchanged
file again creates no new job version (the state store keeps the version when
the spec did not change), so importing on every start is safe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ..jobspec import parse_job
from ..server.server import Server
from ..structs import NomadError

log = logging.getLogger("nomadjail.agent.import")


@dataclass(slots=True)
class ImportOutcome:
    path: str
    job_id: str = ""
    eval_id: str = ""
    error: str = ""


def import_jobs(server: Server, directory: str) -> list[ImportOutcome]:
    outcomes = []
    files = sorted(Path(directory).glob("*.nomad"))
    if not files:
        log.warning("no *.nomad files in %s", directory)
    for path in files:
        outcome = ImportOutcome(path=str(path))
        try:
            job = parse_job(path.read_text(encoding="utf-8"), str(path))
            result = server.register_job(job)
            outcome.job_id, outcome.eval_id = job.id, result.eval_id
            log.info("%s: job %r registered (evaluation %s)", path, job.id,
                     result.eval_id[:8])
        except (NomadError, OSError, UnicodeDecodeError) as err:
            outcome.error = str(err)
            log.error("%s: not imported: %s", path, err)
        outcomes.append(outcome)
    return outcomes
