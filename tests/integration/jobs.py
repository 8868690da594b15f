"""Small job builders for integration tests (API JSON, raw_exec shell tasks)."""

from __future__ import annotations

from typing import Any

from nomadjail.structs import (
    SECOND,
    Job,
    NetworkResource,
    Port,
    ReschedulePolicy,
    Resources,
    RestartPolicy,
    Task,
    TaskGroup,
    to_api,
)


def shell_job(job_id: str, script: str, *, count: int = 1, job_type: str = "service",
              restart: RestartPolicy | None = None, reschedule: ReschedulePolicy | None = None,
              kill_timeout_s: float = 2.0) -> dict[str, Any]:
    """{"Job": ...} for a job whose one task runs ``sh -c script``."""
    job = Job(id=job_id, type=job_type, datacenters=["*"], task_groups=[TaskGroup(
        name="g", count=count, restart_policy=restart, reschedule_policy=reschedule,
        networks=[NetworkResource(dynamic_ports=[Port(label="http")])],
        tasks=[Task(name="t", driver="raw_exec",
                    config={"command": "/bin/sh", "args": ["-c", script]},
                    kill_timeout=int(kill_timeout_s * SECOND),
                    resources=Resources(cpu=20, memory_mb=16))])])
    return {"Job": to_api(job)}


FOREVER = "echo started $NOMAD_ALLOC_NAME; exec sleep 300"
