"""The state store: Nomad's tables in persistent maps, one writer, many readers.

Only the FSM writes, and only inside ``with store.txn(index) as txn:``.  A
transaction works on its own copy of the root (persistent maps make that
free), reads its own writes, derives what Nomad derives on every write (job
status, job summaries, table indexes) and publishes the new root atomically
when the block ends.  Readers call :meth:`StateStore.snapshot` and get a
consistent view in O(1); blocking queries wait with :meth:`wait_for` /
:meth:`wait_for_async`.

The store never invents indexes: the FSM passes the raft index it is applying
and every object written is stamped with it.
"""

from __future__ import annotations

import dataclasses
import threading
from contextlib import contextmanager
from typing import Iterable, Iterator

import immutables

from ..structs import (AllocClientStatus, Allocation, Deployment, DesiredTransition, Evaluation,
                       EvalStatus, Job, JobStatus, JobSummary, JobType, Node, PlanResult,
                       TaskGroupSummary)
from .snapshot import JobKey, StateSnapshot, Table, Tables
from .watch import IndexWatch

# How many versions of a job are kept for `job history` and reverts (Nomad's default).
JOB_TRACKED_VERSIONS = 6

_EMPTY: immutables.Map = immutables.Map()


def _add(index_map: immutables.Map, key: object, member: str) -> immutables.Map:
    return index_map.set(key, index_map.get(key, _EMPTY).set(member, True))


def _remove(index_map: immutables.Map, key: object, member: str) -> immutables.Map:
    members = index_map.get(key)
    if members is None or member not in members:
        return index_map
    members = members.delete(member)
    return index_map.set(key, members) if members else index_map.delete(key)


class Txn(StateSnapshot):
    """A write transaction: the snapshot API over the tables being written."""

    __slots__ = ("_index", "_touched_tables", "_touched_jobs")

    def __init__(self, tables: Tables, index: int):
        super().__init__(tables)
        self._index = index
        self._touched_tables: set[Table] = set()
        self._touched_jobs: set[JobKey] = set()

    @property
    def raft_index(self) -> int:
        """The index every object written in this transaction is stamped with."""
        return self._index

    def _set(self, table: Table, **changes: immutables.Map) -> None:
        self._t = dataclasses.replace(self._t, **changes)
        self._touched_tables.add(table)

    # -- jobs --------------------------------------------------------------------
    def upsert_job(self, job: Job, submit_time: int = 0) -> Job:
        """Store ``job``; a new version only if its spec changed (Nomad's rule)."""
        key = (job.namespace or "", job.id)
        existing = self._t.jobs.get(key)
        job = job.copy()
        job.modify_index = self._index
        if existing is None:
            job.create_index = self._index
            job.version = 0
            job.job_modify_index = self._index
            job.submit_time = submit_time
        elif existing.spec_changed(job):
            job.create_index = existing.create_index
            job.version = existing.version + 1
            job.job_modify_index = self._index
            job.submit_time = submit_time
        else:
            job.create_index = existing.create_index
            job.version = existing.version
            job.job_modify_index = existing.job_modify_index
            job.submit_time = existing.submit_time
            job.stable = existing.stable
        job.status = self._job_status(job)
        versions = [v for v in self._t.job_versions.get(key, ()) if v.version != job.version]
        versions = (job, *versions)[:JOB_TRACKED_VERSIONS]
        self._set(Table.JOBS, jobs=self._t.jobs.set(key, job))
        self._set(Table.JOB_VERSIONS, job_versions=self._t.job_versions.set(key, versions))
        self._touched_jobs.add(key)
        return job

    def delete_job(self, namespace: str, job_id: str) -> None:
        """Purge: the job, its versions and summary go; allocations and evals stay
        until garbage collection, as in Nomad."""
        key = (namespace, job_id)
        if key not in self._t.jobs:
            return
        self._set(Table.JOBS, jobs=self._t.jobs.delete(key))
        self._set(Table.JOB_VERSIONS, job_versions=self._t.job_versions.delete(key))
        if key in self._t.job_summaries:
            self._set(Table.JOB_SUMMARIES, job_summaries=self._t.job_summaries.delete(key))
        self._touched_jobs.discard(key)

    # -- evaluations -------------------------------------------------------------
    def upsert_evals(self, evals: Iterable[Evaluation]) -> None:
        t = self._t
        stored, by_job = t.evals, t.evals_by_job
        for ev in evals:
            ev = dataclasses.replace(ev)
            existing = stored.get(ev.id)
            ev.create_index = existing.create_index if existing else self._index
            ev.modify_index = self._index
            stored = stored.set(ev.id, ev)
            key = (ev.namespace, ev.job_id)
            by_job = _add(by_job, key, ev.id)
            self._touched_jobs.add(key)
            if ev.queued_allocations and (ev.terminal_status() or ev.status == EvalStatus.BLOCKED):
                self._set_queued(key, ev.queued_allocations)
        self._set(Table.EVALS, evals=stored, evals_by_job=by_job)

    def delete_evals(self, eval_ids: Iterable[str]) -> None:
        t = self._t
        stored, by_job = t.evals, t.evals_by_job
        for eval_id in eval_ids:
            ev = stored.get(eval_id)
            if ev is None:
                continue
            stored = stored.delete(eval_id)
            by_job = _remove(by_job, (ev.namespace, ev.job_id), eval_id)
        self._set(Table.EVALS, evals=stored, evals_by_job=by_job)

    # -- nodes -------------------------------------------------------------------
    def upsert_node(self, node: Node) -> Node:
        """Register or re-register; drain and eligibility survive a re-register."""
        node = dataclasses.replace(node)
        existing = self._t.nodes.get(node.id)
        if existing is not None:
            node.create_index = existing.create_index
            node.drain = existing.drain
            node.drain_strategy = existing.drain_strategy
            node.scheduling_eligibility = existing.scheduling_eligibility
            node.events = existing.events
        else:
            node.create_index = self._index
        node.modify_index = self._index
        self._set(Table.NODES, nodes=self._t.nodes.set(node.id, node))
        return node

    def update_node(self, node_id: str, **changes: object) -> Node | None:
        """Change fields of a stored node (status, drain, eligibility, events)."""
        existing = self._t.nodes.get(node_id)
        if existing is None:
            return None
        node = dataclasses.replace(existing, **changes)
        node.modify_index = self._index
        self._set(Table.NODES, nodes=self._t.nodes.set(node_id, node))
        return node

    def delete_node(self, node_id: str) -> None:
        if node_id in self._t.nodes:
            self._set(Table.NODES, nodes=self._t.nodes.delete(node_id))

    # -- allocations -------------------------------------------------------------
    def upsert_allocs(self, allocs: Iterable[Allocation]) -> None:
        """Server-side writes (plan results): new allocations, and desired-state
        changes of existing ones.  The client's fields of an existing allocation
        are kept, because only the client may change them -- except when the
        server marks an allocation lost."""
        t = self._t
        stored, by_job, by_node, by_eval = (t.allocs, t.allocs_by_job, t.allocs_by_node,
                                            t.allocs_by_eval)
        for alloc in allocs:
            alloc = dataclasses.replace(alloc)
            existing = stored.get(alloc.id)
            if existing is None:
                alloc.create_index = self._index
                alloc.alloc_modify_index = self._index
                if alloc.job is None:
                    alloc.job = self._t.jobs.get((alloc.namespace, alloc.job_id))
            else:
                alloc.create_index = existing.create_index
                alloc.alloc_modify_index = self._index
                if alloc.job is None:
                    alloc.job = existing.job
                if alloc.client_status not in (AllocClientStatus.LOST,
                                               AllocClientStatus.UNKNOWN):
                    alloc.client_status = existing.client_status
                    alloc.client_description = existing.client_description
                alloc.task_states = existing.task_states
            alloc.modify_index = self._index
            stored = stored.set(alloc.id, alloc)
            key = (alloc.namespace, alloc.job_id)
            by_job = _add(by_job, key, alloc.id)
            by_node = _add(by_node, alloc.node_id, alloc.id)
            by_eval = _add(by_eval, alloc.eval_id, alloc.id)
            self._touched_jobs.add(key)
        self._set(Table.ALLOCS, allocs=stored, allocs_by_job=by_job, allocs_by_node=by_node,
                  allocs_by_eval=by_eval)

    def update_allocs_from_client(self, updates: Iterable[Allocation]) -> list[Allocation]:
        """Apply what a client reports: client status, description, task states.
        Unknown allocations are skipped (they may have been garbage collected)."""
        stored = self._t.allocs
        changed = []
        for update in updates:
            existing = stored.get(update.id)
            if existing is None:
                continue
            alloc = dataclasses.replace(
                existing, client_status=update.client_status,
                client_description=update.client_description,
                task_states=update.task_states or existing.task_states,
                deployment_status=update.deployment_status or existing.deployment_status,
                modify_time=update.modify_time or existing.modify_time,
                modify_index=self._index)
            stored = stored.set(alloc.id, alloc)
            changed.append(alloc)
            self._touched_jobs.add((alloc.namespace, alloc.job_id))
        self._set(Table.ALLOCS, allocs=stored)
        return changed

    def update_alloc_desired_transition(self, transitions: dict[str, DesiredTransition]) -> None:
        stored = self._t.allocs
        for alloc_id, transition in transitions.items():
            existing = stored.get(alloc_id)
            if existing is None:
                continue
            merged = dataclasses.replace(existing.desired_transition, **{
                f.name: getattr(transition, f.name)
                for f in dataclasses.fields(transition) if getattr(transition, f.name) is not None})
            stored = stored.set(alloc_id, dataclasses.replace(
                existing, desired_transition=merged, modify_index=self._index))
        self._set(Table.ALLOCS, allocs=stored)

    def delete_allocs(self, alloc_ids: Iterable[str]) -> None:
        t = self._t
        stored, by_job, by_node, by_eval = (t.allocs, t.allocs_by_job, t.allocs_by_node,
                                            t.allocs_by_eval)
        for alloc_id in alloc_ids:
            alloc = stored.get(alloc_id)
            if alloc is None:
                continue
            stored = stored.delete(alloc_id)
            key = (alloc.namespace, alloc.job_id)
            by_job = _remove(by_job, key, alloc_id)
            by_node = _remove(by_node, alloc.node_id, alloc_id)
            by_eval = _remove(by_eval, alloc.eval_id, alloc_id)
            self._touched_jobs.add(key)
        self._set(Table.ALLOCS, allocs=stored, allocs_by_job=by_job, allocs_by_node=by_node,
                  allocs_by_eval=by_eval)

    def upsert_plan_results(self, result: PlanResult) -> None:
        """Commit what the plan applier accepted (Nomad's UpsertPlanResults).
        The FSM and the scheduler test harness both write plans through here."""
        if result.deployment is not None:
            self.upsert_deployment(result.deployment)
        for update in result.deployment_updates:
            existing = self._t.deployments.get(update.deployment_id)
            if existing is not None:
                self.upsert_deployment(dataclasses.replace(
                    existing, status=update.status,
                    status_description=update.status_description))
        self.upsert_allocs([a for allocs in result.node_update.values() for a in allocs])
        self.upsert_allocs([a for allocs in result.node_allocation.values() for a in allocs])

    # -- deployments -------------------------------------------------------------
    def upsert_deployment(self, deployment: Deployment) -> None:
        deployment = dataclasses.replace(deployment)
        existing = self._t.deployments.get(deployment.id)
        deployment.create_index = existing.create_index if existing else self._index
        deployment.modify_index = self._index
        key = (deployment.namespace, deployment.job_id)
        self._set(Table.DEPLOYMENTS,
                  deployments=self._t.deployments.set(deployment.id, deployment),
                  deployments_by_job=_add(self._t.deployments_by_job, key, deployment.id))

    # -- derived state -----------------------------------------------------------
    def _set_queued(self, key: JobKey, queued: dict[str, int]) -> None:
        summary = self._t.job_summaries.get(key)
        if summary is None:
            return
        groups = {name: dataclasses.replace(tg, queued=queued.get(name, tg.queued))
                  for name, tg in summary.summary.items()}
        summary = dataclasses.replace(summary, summary=groups, modify_index=self._index)
        self._set(Table.JOB_SUMMARIES,
                  job_summaries=self._t.job_summaries.set(key, summary))

    def _job_status(self, job: Job) -> str:
        """Nomad's getJobStatus: running while any allocation is live, pending while
        an evaluation is outstanding, dead once everything has finished."""
        if job.type == JobType.SYSTEM:
            return JobStatus.DEAD if job.stop else JobStatus.RUNNING
        key = (job.namespace or "", job.id)
        has_alloc = False
        for alloc in self._allocs_in(self._t.allocs_by_job.get(key)):
            has_alloc = True
            if not alloc.terminal_status():
                return JobStatus.RUNNING
        has_eval = False
        for ev in self.evals_by_job(*key):
            has_eval = True
            if not ev.terminal_status():
                return JobStatus.PENDING
        return JobStatus.DEAD if has_eval or has_alloc else JobStatus.PENDING

    def _summarize(self, job: Job) -> JobSummary:
        key = (job.namespace or "", job.id)
        previous = self._t.job_summaries.get(key)
        groups = {g.name: TaskGroupSummary(queued=previous.summary[g.name].queued
                                           if previous and g.name in previous.summary else 0)
                  for g in job.task_groups}
        for alloc in self._allocs_in(self._t.allocs_by_job.get(key)):
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
                          create_index=previous.create_index if previous else self._index,
                          modify_index=self._index)

    def _finish(self) -> Tables:
        """Derive job status and summaries for touched jobs; stamp table indexes."""
        for key in self._touched_jobs:
            job = self._t.jobs.get(key)
            if job is None:
                continue
            summary = self._summarize(job)
            previous = self._t.job_summaries.get(key)
            if previous is None or previous.summary != summary.summary:
                self._set(Table.JOB_SUMMARIES,
                          job_summaries=self._t.job_summaries.set(key, summary))
            status = self._job_status(job)
            if status != job.status:
                updated = dataclasses.replace(job, status=status, modify_index=self._index)
                versions = self._t.job_versions.get(key, ())
                versions = tuple(updated if v.version == job.version else v for v in versions)
                self._set(Table.JOBS, jobs=self._t.jobs.set(key, updated))
                self._t = dataclasses.replace(self._t, job_versions=self._t.job_versions.set(
                    key, versions))
        table_index = self._t.table_index
        for table in self._touched_tables:
            table_index = table_index.set(table, self._index)
        return dataclasses.replace(self._t, table_index=table_index,
                                   latest_index=max(self._t.latest_index, self._index))


class StateStore(StateSnapshot):
    """The live store.  Reading it directly reads the newest committed state."""

    __slots__ = ("_write_lock", "_watch")

    def __init__(self, tables: Tables | None = None):
        super().__init__(tables or Tables())
        self._write_lock = threading.Lock()
        self._watch = IndexWatch()

    def snapshot(self) -> StateSnapshot:
        return StateSnapshot(self._t)

    @contextmanager
    def txn(self, index: int) -> Iterator[Txn]:
        """Write at raft ``index``; published atomically when the block exits
        without an exception, discarded otherwise."""
        with self._write_lock:
            txn = Txn(self._t, index)
            yield txn
            self._t = txn._finish()
        self._watch.notify()

    def restore(self, tables: Tables) -> None:
        """Replace everything (raft snapshot restore)."""
        with self._write_lock:
            self._t = tables
        self._watch.notify()

    def release_waiters(self) -> None:
        """Answer every parked blocking query now (shutdown); later ones do not wait."""
        self._watch.close()

    @property
    def tables(self) -> Tables:
        return self._t

    def wait_for(self, min_index: int, tables: Iterable[Table] = (),
                 timeout: float = 300.0) -> StateSnapshot:
        """Block until ``tables`` (or anything, if none given) pass ``min_index``.
        Returns a snapshot either way; compare its index to see which happened."""
        names = tuple(tables)
        self._watch.wait(lambda: self._past(min_index, names), timeout)
        return self.snapshot()

    async def wait_for_async(self, min_index: int, tables: Iterable[Table] = (),
                             timeout: float = 300.0) -> StateSnapshot:
        """:meth:`wait_for` for asyncio handlers: parks no thread."""
        names = tuple(tables)
        await self._watch.wait_async(lambda: self._past(min_index, names), timeout)
        return self.snapshot()

    def _past(self, min_index: int, tables: tuple[Table, ...]) -> bool:
        current = self.index(*tables) if tables else self._t.latest_index
        return current > min_index
