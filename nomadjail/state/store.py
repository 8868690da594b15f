"""The state store: Nomad's tables in persistent maps, one writer, many readers.

Only the FSM writes, and only inside ``with store.txn(index) as txn:``.  A
transaction works on its own copy of the root (persistent maps make that
free), reads its own writes, derives what Nomad derives on every write (job
versions, status and summaries by the rules in :mod:`.jobs`; deployment
counts by those in :mod:`.deployments`; table indexes) and publishes the new
root atomically when the block ends.  Readers call :meth:`StateStore.snapshot` and get a
consistent view in O(1); blocking queries wait with :meth:`wait_for` /
:meth:`wait_for_async`.

The store never invents indexes: the FSM passes the raft index it is applying
and every object written is stamped with it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import immutables

from ..structs import (
    SECOND,
    Allocation,
    AllocClientStatus,
    AllocDeploymentStatus,
    Conflict,
    Deployment,
    DeploymentStatus,
    DeploymentStatusUpdate,
    DesiredTransition,
    EvalStatus,
    Evaluation,
    Job,
    Node,
    NodeEvent,
    NodeStatus,
    NotFound,
    PlanResult,
    rfc3339,
)
from ..structs.keyring import RootKey, RootKeyState
from ..structs.variables import VariableEncrypted, VarOp
from .deployments import account_alloc, with_status
from .jobs import (
    add_version,
    job_status,
    replace_version,
    stamp_version,
    summarize,
    with_queued,
    with_stability,
)
from .services import ServiceTable
from .snapshot import JobKey, StateSnapshot, Table, Tables
from .variables import VarApplyResult
from .watch import IndexWatch

# Nomad keeps the newest ten events per node (structs.MaxRetainedNodeEvents).
MAX_RETAINED_NODE_EVENTS = 10
# Node event words, as Nomad writes them.
NODE_EVENT_CLUSTER = "Cluster"
NODE_REGISTERED = "Node registered"
NODE_REREGISTERED = "Node re-registered"

_EMPTY: immutables.Map = immutables.Map()


def _add(index_map: immutables.Map, key: object, member: str) -> immutables.Map:
    return index_map.set(key, index_map.get(key, _EMPTY).set(member, True))


def append_node_event(events: list[NodeEvent], event: NodeEvent | None,
                      index: int) -> list[NodeEvent]:
    """``events`` plus ``event`` stamped with ``index``, pruned to the newest
    :data:`MAX_RETAINED_NODE_EVENTS` (Nomad's appendNodeEvents)."""
    if event is None:
        return events
    event = dataclasses.replace(event, create_index=index)
    return [*events, event][-MAX_RETAINED_NODE_EVENTS:]


def _remove(index_map: immutables.Map, key: object, member: str) -> immutables.Map:
    members = index_map.get(key)
    if members is None or member not in members:
        return index_map
    members = members.delete(member)
    return index_map.set(key, members) if members else index_map.delete(key)


class Txn(StateSnapshot):
    """A write transaction: the snapshot API over the tables being written."""

    __slots__ = ("_index", "_touched_tables", "_touched_jobs", "_eval_deleted_jobs")

    def __init__(self, tables: Tables, index: int):
        super().__init__(tables)
        self._index = index
        self._touched_tables: set[Table] = set()
        self._touched_jobs: set[JobKey] = set()
        self._eval_deleted_jobs: set[JobKey] = set()

    def _set(self, table: Table, **changes: Any) -> None:
        self._t = dataclasses.replace(self._t, **changes)
        self._touched_tables.add(table)

    # -- jobs --------------------------------------------------------------------
    def upsert_job(self, job: Job, submit_time: int = 0) -> Job:
        """Store ``job``; a new version only if its spec changed (:mod:`.jobs`)."""
        key = (job.namespace or "", job.id)
        job = stamp_version(job, self._t.jobs.get(key), self._index, submit_time)
        job.status = job_status(self, job)
        versions = add_version(self._t.job_versions.get(key, ()), job)
        self._set(Table.JOBS, jobs=self._t.jobs.set(key, job))
        self._set(Table.JOB_VERSIONS, job_versions=self._t.job_versions.set(key, versions))
        self._touched_jobs.add(key)
        return job

    def delete_job(self, namespace: str, job_id: str) -> None:
        """Purge: the job, its versions and summary go; allocations, evals and
        deployments stay until garbage collection, as in Nomad."""
        key = (namespace, job_id)
        if key not in self._t.jobs:
            return
        self._set(Table.JOBS, jobs=self._t.jobs.delete(key))
        self._set(Table.JOB_VERSIONS, job_versions=self._t.job_versions.delete(key))
        if key in self._t.job_summaries:
            self._set(Table.JOB_SUMMARIES, job_summaries=self._t.job_summaries.delete(key))
        self._touched_jobs.discard(key)

    def set_job_stability(self, namespace: str, job_id: str, version: int,
                          stable: bool) -> None:
        """Mark one version of a job (and the job itself, if that version is
        current) stable: the version a failed rollout can go back to."""
        key = (namespace, job_id)
        versions = self._t.job_versions.get(key, ())
        updated = with_stability(versions, version, stable, self._index)
        if updated is None:
            return
        self._set(Table.JOB_VERSIONS, job_versions=self._t.job_versions.set(
            key, replace_version(versions, updated)))
        current = self._t.jobs.get(key)
        if current is not None and current.version == version:
            self._set(Table.JOBS, jobs=self._t.jobs.set(key, updated))
        self._touched_jobs.add(key)

    # -- evaluations -------------------------------------------------------------
    def upsert_evals(self, evals: Iterable[Evaluation]) -> None:
        """Store evaluations.  An evaluation that completed without placement
        failures cancels its job's blocked evaluations in the same write
        (Nomad's nestedUpsertEval): whatever they waited to place is placed."""
        t = self._t
        stored, by_job = t.evals, t.evals_by_job
        for ev in evals:
            ev = dataclasses.replace(ev)
            existing = stored.get(ev.id)
            ev.create_index = existing.create_index if existing else self._index
            ev.modify_index = self._index
            key = (ev.namespace, ev.job_id)
            if ev.status == EvalStatus.COMPLETE and not ev.failed_tg_allocs:
                stored = self._cancel_blocked(stored, by_job.get(key), ev)
            stored = stored.set(ev.id, ev)
            by_job = _add(by_job, key, ev.id)
            self._touched_jobs.add(key)
            if ev.queued_allocations and (ev.terminal_status() or ev.status == EvalStatus.BLOCKED):
                self._set_queued(key, ev.queued_allocations)
        self._set(Table.EVALS, evals=stored, evals_by_job=by_job)

    def _cancel_blocked(self, stored: immutables.Map, job_eval_ids: immutables.Map | None,
                        successful: Evaluation) -> immutables.Map:
        for eval_id in job_eval_ids or ():
            blocked = stored[eval_id]
            if blocked.status != EvalStatus.BLOCKED or eval_id == successful.id:
                continue
            stored = stored.set(eval_id, dataclasses.replace(
                blocked, status=EvalStatus.CANCELED,
                status_description=f'evaluation "{successful.id}" successful',
                modify_index=self._index, modify_time=successful.modify_time))
        return stored

    def delete_evals(self, eval_ids: Iterable[str]) -> None:
        t = self._t
        stored, by_job = t.evals, t.evals_by_job
        for eval_id in eval_ids:
            ev = stored.get(eval_id)
            if ev is None:
                continue
            stored = stored.delete(eval_id)
            key = (ev.namespace, ev.job_id)
            by_job = _remove(by_job, key, eval_id)
            self._touched_jobs.add(key)
            self._eval_deleted_jobs.add(key)
        self._set(Table.EVALS, evals=stored, evals_by_job=by_job)

    # -- nodes -------------------------------------------------------------------
    def upsert_node(self, node: Node) -> Node:
        """Register or re-register; drain, eligibility and events survive a
        re-register.  A first registration, and a return from ``down``, add
        Nomad's node event."""
        node = dataclasses.replace(node)
        existing = self._t.nodes.get(node.id)
        when = rfc3339(node.status_updated_at * SECOND)
        if existing is not None:
            node.create_index = existing.create_index
            node.drain = existing.drain
            node.drain_strategy = existing.drain_strategy
            node.last_drain = existing.last_drain
            node.scheduling_eligibility = existing.scheduling_eligibility
            node.events = existing.events
            if existing.status == NodeStatus.DOWN and node.status != NodeStatus.DOWN:
                node.events = append_node_event(node.events, NodeEvent(
                    message=NODE_REREGISTERED, subsystem=NODE_EVENT_CLUSTER, timestamp=when),
                    self._index)
        else:
            node.create_index = self._index
            node.events = append_node_event([], NodeEvent(
                message=NODE_REGISTERED, subsystem=NODE_EVENT_CLUSTER, timestamp=when),
                self._index)
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
        changes of existing ones.  The client's side (status, task states) and
        the server's own later marks (health in the same deployment, desired
        transitions) are kept from the stored allocation, unless the server
        marks an allocation lost."""
        t = self._t
        stored, by_job, by_node, by_eval = (t.allocs, t.allocs_by_job, t.allocs_by_node,
                                            t.allocs_by_eval)
        deployments: dict[str, Deployment] = {}
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
                alloc.desired_transition = existing.desired_transition
                if alloc.deployment_id == existing.deployment_id:
                    alloc.deployment_status = existing.deployment_status
            alloc.modify_index = self._index
            self._account(deployments, alloc, existing)
            stored = stored.set(alloc.id, alloc)
            key = (alloc.namespace, alloc.job_id)
            by_job = _add(by_job, key, alloc.id)
            by_node = _add(by_node, alloc.node_id, alloc.id)
            by_eval = _add(by_eval, alloc.eval_id, alloc.id)
            self._touched_jobs.add(key)
        self._set(Table.ALLOCS, allocs=stored, allocs_by_job=by_job, allocs_by_node=by_node,
                  allocs_by_eval=by_eval)
        self._store_deployments(deployments)

    def update_allocs_from_client(self, updates: Iterable[Allocation]) -> list[Allocation]:
        """Apply what a client reports: client status, description, task states
        and deployment health (the client owns only ``Healthy`` and its
        timestamp).  Unknown allocations are skipped (they may have been
        garbage collected)."""
        stored = self._t.allocs
        changed = []
        deployments: dict[str, Deployment] = {}
        for update in updates:
            existing = stored.get(update.id)
            if existing is None:
                continue
            health = existing.deployment_status
            reported = update.deployment_status
            if health is not None and reported is not None:
                if reported.healthy is not None and reported.healthy != health.healthy:
                    health = dataclasses.replace(health, healthy=reported.healthy,
                                                 timestamp=reported.timestamp,
                                                 modify_index=self._index)
            elif reported is not None:
                health = dataclasses.replace(reported, modify_index=self._index)
            alloc = dataclasses.replace(
                existing, client_status=update.client_status,
                client_description=update.client_description,
                task_states=update.task_states or existing.task_states,
                deployment_status=health,
                modify_time=update.modify_time or existing.modify_time,
                modify_index=self._index)
            self._account(deployments, alloc, existing)
            stored = stored.set(alloc.id, alloc)
            changed.append(alloc)
            self._touched_jobs.add((alloc.namespace, alloc.job_id))
        self._set(Table.ALLOCS, allocs=stored)
        self._store_deployments(deployments)
        return changed

    def _account(self, deployments: dict[str, Deployment], alloc: Allocation,
                 existing: Allocation | None) -> None:
        """Count ``alloc``'s change into its deployment (this txn's copy in
        ``deployments``)."""
        if not alloc.deployment_id:
            return
        copied = deployments.get(alloc.deployment_id)
        deployment = copied or self._t.deployments.get(alloc.deployment_id)
        if deployment is None:
            return
        updated = account_alloc(deployment, alloc, existing, self._index,
                                copied=copied is not None)
        if updated is not None:
            deployments[updated.id] = updated

    def _store_deployments(self, deployments: dict[str, Deployment]) -> None:
        if not deployments:
            return
        stored = self._t.deployments
        for deployment in deployments.values():
            stored = stored.set(deployment.id, deployment)
            self._touched_jobs.add((deployment.namespace, deployment.job_id))
        self._set(Table.DEPLOYMENTS, deployments=stored)

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

    def set_alloc_deployment_status(self, alloc_id: str, status: AllocDeploymentStatus,
                                    modify_time: int = 0) -> None:
        """Server-side health or canary change (manual health, promotion), counted
        like a client's report; a changed canary flag tells the client (AllocModifyIndex)."""
        existing = self._t.allocs.get(alloc_id)
        if existing is None:
            raise NotFound(f"unknown alloc {alloc_id!r}")
        told = existing.deployment_status is not None and existing.deployment_status.canary
        notify = existing.alloc_modify_index if told == status.canary else self._index
        alloc = dataclasses.replace(
            existing, deployment_status=dataclasses.replace(status, modify_index=self._index),
            modify_time=modify_time or existing.modify_time, modify_index=self._index,
            alloc_modify_index=notify)
        deployments: dict[str, Deployment] = {}
        self._account(deployments, alloc, existing)
        self._set(Table.ALLOCS, allocs=self._t.allocs.set(alloc_id, alloc))
        self._store_deployments(deployments)
        self._touched_jobs.add((alloc.namespace, alloc.job_id))

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
        The FSM and the scheduler test harness both write plans through here.
        A status update for a deployment that is gone or already finished (the
        deployment watcher failed it while the plan was made) is dropped."""
        if result.deployment is not None:
            self.upsert_deployment(result.deployment)
        for update in result.deployment_updates:
            try:
                self.update_deployment_status(update)
            except (NotFound, Conflict):
                continue
        self.upsert_allocs([a for allocs in result.node_update.values() for a in allocs])
        self.upsert_allocs([a for allocs in result.node_allocation.values() for a in allocs])

    # -- deployments -------------------------------------------------------------
    def upsert_deployment(self, deployment: Deployment) -> None:
        deployment = dataclasses.replace(deployment)
        existing = self._t.deployments.get(deployment.id)
        deployment.create_index = existing.create_index if existing else self._index
        deployment.modify_index = self._index
        self._put_deployment(deployment, existing)

    def update_deployment_status(self, update: DeploymentStatusUpdate) -> Deployment:
        """Apply a status change (Nomad's updateDeploymentStatusImpl).  Raises
        NotFound for an unknown deployment and Conflict for a finished one."""
        existing = self._t.deployments.get(update.deployment_id)
        if existing is None:
            raise NotFound(f"deployment {update.deployment_id!r} not found")
        if not existing.active():
            raise Conflict(f"deployment {update.deployment_id!r} has terminal status "
                           f"{existing.status!r}")
        updated = with_status(existing, update, self._index)
        self._put_deployment(updated, existing)
        return updated

    def _put_deployment(self, deployment: Deployment, existing: Deployment | None) -> None:
        key = (deployment.namespace, deployment.job_id)
        self._set(Table.DEPLOYMENTS,
                  deployments=self._t.deployments.set(deployment.id, deployment),
                  deployments_by_job=_add(self._t.deployments_by_job, key, deployment.id))
        self._touched_jobs.add(key)
        if deployment.status == DeploymentStatus.SUCCESSFUL and (
                existing is None or existing.status != DeploymentStatus.SUCCESSFUL):
            # A version that rolled out completely is one to go back to.
            self.set_job_stability(deployment.namespace, deployment.job_id,
                                    deployment.job_version, True)

    def delete_deployments(self, deployment_ids: Iterable[str]) -> None:
        stored, by_job = self._t.deployments, self._t.deployments_by_job
        for deployment_id in deployment_ids:
            deployment = stored.get(deployment_id)
            if deployment is None:
                continue
            stored = stored.delete(deployment_id)
            key = (deployment.namespace, deployment.job_id)
            by_job = _remove(by_job, key, deployment_id)
            self._touched_jobs.add(key)
        self._set(Table.DEPLOYMENTS, deployments=stored, deployments_by_job=by_job)

    def put_service_registrations(self, table: ServiceTable) -> None:
        """Store the table one of :class:`ServiceTable`'s writes returned."""
        if table is not self._t.services:
            self._set(Table.SERVICE_REGISTRATIONS, services=table)

    # -- variables and root keys -------------------------------------------------
    def apply_variable(self, op: VarOp, var: VariableEncrypted,
                       cas_index: int = 0) -> VarApplyResult:
        """One variable operation (:meth:`.VariableTable.applied`); a conflict or an
        error changes nothing."""
        table, result = self._t.variables.applied(op, var, cas_index, self._index)
        if table is not self._t.variables:
            self._set(Table.VARIABLES, variables=table)
        return result

    def upsert_root_key(self, key: RootKey) -> None:
        """Store a root key; a new active key makes every other active one inactive
        (one key seals new writes)."""
        existing = self._t.root_keys.get(key.meta.key_id)
        meta = dataclasses.replace(key.meta, modify_index=self._index,
                                   create_index=existing.meta.create_index if existing
                                   else self._index)
        keys = self._t.root_keys
        if meta.is_active():
            for other in keys.values():
                if other.meta.key_id != meta.key_id and other.meta.is_active():
                    keys = keys.set(other.meta.key_id, dataclasses.replace(
                        other, meta=dataclasses.replace(other.meta, state=RootKeyState.INACTIVE,
                                                        modify_index=self._index)))
        keys = keys.set(meta.key_id, dataclasses.replace(key, meta=meta))
        self._set(Table.ROOT_KEYS, root_keys=keys)

    def set_root_key_state(self, key_id: str, state: RootKeyState) -> None:
        existing = self._t.root_keys.get(key_id)
        if existing is None:
            raise NotFound(f"root key {key_id!r} not found")
        self.upsert_root_key(dataclasses.replace(
            existing, meta=dataclasses.replace(existing.meta, state=state)))

    def delete_root_key(self, key_id: str) -> None:
        if key_id in self._t.root_keys:
            self._set(Table.ROOT_KEYS, root_keys=self._t.root_keys.delete(key_id))

    # -- derived state -----------------------------------------------------------
    def _set_queued(self, key: JobKey, queued: dict[str, int]) -> None:
        summary = self._t.job_summaries.get(key)
        if summary is None:
            return
        self._set(Table.JOB_SUMMARIES, job_summaries=self._t.job_summaries.set(
            key, with_queued(summary, queued, self._index)))

    def _finish(self) -> Tables:
        """Derive job status and summaries for touched jobs; stamp table indexes."""
        for key in self._touched_jobs:
            job = self._t.jobs.get(key)
            if job is None:
                continue
            previous = self._t.job_summaries.get(key)
            summary = summarize(self, job, previous, self._index)
            if previous is None or previous.summary != summary.summary:
                self._set(Table.JOB_SUMMARIES,
                          job_summaries=self._t.job_summaries.set(key, summary))
            status = job_status(self, job, key in self._eval_deleted_jobs)
            if status != job.status:
                updated = dataclasses.replace(job, status=status, modify_index=self._index)
                versions = replace_version(self._t.job_versions.get(key, ()), updated)
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
    def closed(self) -> bool:
        """Whether :meth:`release_waiters` was called (blocking waits no longer wait)."""
        return self._watch.closed

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
