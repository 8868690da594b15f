"""Imported jobs submitted through an agent's HTTP API (the cook's way in)."""

from __future__ import annotations

from ..api import ApiClient
from ..structs import Job


class ApiJobTarget:
    """:class:`nomadjail.agent.import_jobs.JobTarget` over the HTTP API: a plan with
    a diff tells whether the job changed (Nomad's ``job plan``), ``PUT /v1/jobs``
    registers it."""

    def __init__(self, client: ApiClient):
        self.client = client

    def diff_type(self, job: Job) -> str:
        answer, _ = self.client.plan_job(job, diff=True)
        return str((answer.get("Diff") or {}).get("Type", ""))

    def submit(self, job: Job) -> str:
        answer, _ = self.client.register_job(job)
        return str(answer.get("EvalID", ""))
