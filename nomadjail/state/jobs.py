"""A job's versions and what the store derives from them, as pure functions of the
stored objects and the raft index (Nomad's upsertJobVersion, getJobStatus and
job summaries).

* **Versions.**  Registering a job whose spec changed makes a new version;
  re-registering the same spec keeps the version, its submit time and its
  stability, so running ``job run`` twice does not start a rollout.  The
  newest :data:`JOB_TRACKED_VERSIONS` versions are kept, newest first, for
  ``job history`` and reverts.
* **Stability.**  A version whose deployment succeeded is *stable*: the one
  ``auto_revert`` goes back to.  The flag lives on the version, and on the
  job itself while that version is current.
* **Status and summary.**  Every write that touches a job's allocations,
  evaluations or deployments recomputes its status and per-group counts in
  the same transaction, so every replica derives the same values from the
  same log.

The store calls these from its transaction (:class:`~.store.Txn`, which is
also the :class:`~.snapshot.StateSnapshot` they read, its own writes
included) and stores what they return.
"""

from __future__ import annotations

import dataclasses

from ..structs import AllocClientStatus, Job, JobStatus, JobSummary, JobType, TaskGroupSummary
from .snapshot import StateSnapshot

JOB_TRACKED_VERSIONS = 6
"""How many versions of a job are kept for ``job history`` and reverts (Nomad's default)."""


def stamp_version(job: Job, existing: Job | None, index: int, submit_time: int) -> Job:
    """A copy of ``job`` with the indexes, version, submit time and stability it is
    stored with at raft ``index``: a new version only if its spec changed (Nomad's rule)."""
    job = job.copy()
    job.modify_index = index
    if existing is None:
        job.create_index = index
        job.version = 0
        job.job_modify_index = index
        job.submit_time = submit_time
    elif existing.spec_changed(job):
        job.create_index = existing.create_index
        job.version = existing.version + 1
        job.job_modify_index = index
        job.submit_time = submit_time
    else:
        job.create_index = existing.create_index
        job.version = existing.version
        job.job_modify_index = existing.job_modify_index
        job.submit_time = existing.submit_time
        job.stable = existing.stable
    return job


def add_version(versions: tuple[Job, ...], job: Job) -> tuple[Job, ...]:
    """The version history with ``job`` as its newest entry (replacing a stored copy of
    the same version), pruned to :data:`JOB_TRACKED_VERSIONS`."""
    older = [v for v in versions if v.version != job.version]
    return (job, *older)[:JOB_TRACKED_VERSIONS]


def replace_version(versions: tuple[Job, ...], job: Job) -> tuple[Job, ...]:
    """The history with the entry of ``job``'s version replaced by ``job``."""
    return tuple(job if v.version == job.version else v for v in versions)


def with_stability(versions: tuple[Job, ...], version: int, stable: bool,
                   index: int) -> Job | None:
    """``version`` marked (un)stable at ``index``; None when there is nothing to change
    (the version was collected already, or has that stability)."""
    target = next((v for v in versions if v.version == version), None)
    if target is None or target.stable == stable:
        return None
    return dataclasses.replace(target, stable=stable, modify_index=index)


def job_status(snap: StateSnapshot, job: Job, evals_deleted: bool = False) -> JobStatus:
    """Nomad's getJobStatus: a system job runs until stopped; any other job runs
    while a deployment is unfinished or an allocation is live, is pending while
    an evaluation is outstanding, and is dead once it has had an evaluation (or
    lost them to garbage collection, ``evals_deleted``) or was stopped.
    Finished allocations also count as having run (their evals may be
    collected before them)."""
    if job.type == JobType.SYSTEM:
        return JobStatus.DEAD if job.stop else JobStatus.RUNNING
    namespace = job.namespace or ""
    if any(d.active() for d in snap.deployments_by_job(namespace, job.id)):
        return JobStatus.RUNNING
    allocs = snap.allocs_by_job(namespace, job.id)
    if any(not alloc.terminal_status() for alloc in allocs):
        return JobStatus.RUNNING
    evals = snap.evals_by_job(namespace, job.id)
    if any(not ev.terminal_status() for ev in evals):
        return JobStatus.PENDING
    if evals_deleted or evals or allocs or job.stop:
        return JobStatus.DEAD
    return JobStatus.PENDING


def summarize(snap: StateSnapshot, job: Job, previous: JobSummary | None,
              index: int) -> JobSummary:
    """The job's summary at ``index``: its allocations counted per group and
    client status; the queued counts (set by evaluations) carry over from
    ``previous``."""
    groups = {g.name: TaskGroupSummary(queued=previous.summary[g.name].queued
                                       if previous and g.name in previous.summary else 0)
              for g in job.task_groups}
    for alloc in snap.allocs_by_job(job.namespace or "", job.id):
        group = groups.get(alloc.task_group)
        if group is None:
            continue
        status = alloc.client_status
        if status == AllocClientStatus.PENDING:
            group.starting += 1
        elif status == AllocClientStatus.RUNNING:
            group.running += 1
        elif status == AllocClientStatus.COMPLETE:
            group.complete += 1
        elif status == AllocClientStatus.FAILED:
            group.failed += 1
        elif status == AllocClientStatus.LOST:
            group.lost += 1
        elif status == AllocClientStatus.UNKNOWN:
            group.unknown += 1
    return JobSummary(job_id=job.id, namespace=job.namespace or "", summary=groups,
                      create_index=previous.create_index if previous else index,
                      modify_index=index)


def with_queued(summary: JobSummary, queued: dict[str, int], index: int) -> JobSummary:
    """The summary with the queued counts an evaluation reported (groups it does not
    name keep theirs)."""
    groups = {name: dataclasses.replace(tg, queued=queued.get(name, tg.queued))
              for name, tg in summary.summary.items()}
    return dataclasses.replace(summary, summary=groups, modify_index=index)
