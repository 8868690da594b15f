"""The finite state machine raft drives: the only writer of the state store.

Every server applies the same messages in the same order, so :meth:`FSM.apply`
must be deterministic: it reads only the message and the current state --
never the clock, randomness or anything local -- and the index it stamps on
objects is its own counter, +1 per applied message, carried in snapshots.
Two replicas that applied the same log therefore hold equal state with
equal indexes.

A message that cannot be applied (deregistering a job that is gone) changes
nothing and *returns* the error instead of raising it: the raft log must
keep moving on every replica, and :meth:`Raft.apply` raises it in the caller.

A message of a type this version does not know is skipped only when its writer
marked it ignorable (:data:`~.messages.IGNORE_UNKNOWN_TYPE_FLAG`, as Nomad
does).  Any other unknown type **halts** the FSM, loudly: the entry and every
one after it stay unapplied, the state stays exactly as it was before it, and
:attr:`FSM.halted` says why.  Nomad panics there; here raft notices the halt,
stops taking part in the cluster and stops answering as if it had a leader
(see :class:`~.raft.Raft`), so the server is visibly unhealthy instead of
serving a state that silently diverged.  Nothing is lost: no snapshot is taken
while halted, so the journal still holds the entry, and a server upgraded to a
version that knows the type replays it.

After a commit the FSM tells its :class:`FSMListener` what changed that the
leader's in-memory machinery cares about -- evaluations to queue or block,
capacity that may unblock waiting evaluations -- the same hooks Nomad's FSM
calls on its eval broker and blocked-evals tracker.  On followers those
components are disabled, so the calls are no-ops there.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..state import StateStore, Txn, append_node_event
from ..state.deployments import alloc_health_errors, plan_promotion
from ..state.variables import VarApplyResult
from ..structs import (
    Allocation,
    AllocClientStatus,
    AllocDeploymentStatus,
    Conflict,
    Deployment,
    Evaluation,
    Job,
    NodeEligibility,
    NodeStatus,
    NotFound,
    PlanResult,
    Unavailable,
    from_api,
    rfc3339,
    to_api,
)
from ..structs.node import last_drain_after
from ..structs.variables import VariableMetadata
from . import messages as m
from .messages import MsgType
from .snapshot_codec import decode_tables, encode_tables

__all__ = ["FSM", "FSMHalted", "FSMListener", "MsgType"]

log = logging.getLogger(__name__)


class FSMListener(Protocol):
    """What the leader's in-memory components want to hear about."""

    def evals_upserted(self, evals: list[Evaluation]) -> None:
        """Evaluations as stored (indexes set): pending ones go to the broker,
        blocked ones to the blocked set, complete ones untrack their job."""
        ...

    def capacity_changed(self, computed_class: str, node_id: str, index: int) -> None:
        """Resources may have appeared on ``node_id`` at ``index``: a node became
        ready or eligible, or allocations on it stopped or finished."""
        ...


class FSMHalted(Unavailable):
    """The FSM met a raft entry it may not skip and cannot apply, and applies nothing
    more (see the module docstring)."""


class _NoListener:
    def evals_upserted(self, evals: list[Evaluation]) -> None:
        pass

    def capacity_changed(self, computed_class: str, node_id: str, index: int) -> None:
        pass


class FSM:
    """Applies raft messages to a :class:`StateStore`; snapshots and restores it."""

    def __init__(self, store: StateStore, listener: FSMListener | None = None):
        self.store = store
        self.listener: FSMListener = listener or _NoListener()
        self._index = 0
        # raft address -> what that server announced (MsgType.SERVER_MEMBER)
        self._servers: dict[str, m.ServerMemberRequest] = {}
        self._lock = threading.Lock()  # apply and snapshot never interleave
        self._halted = ""  # why this FSM stopped applying; "" while it applies
        self._handlers: dict[MsgType, Callable[[int, Any], Any]] = {
            MsgType.JOB_REGISTER: self._job_register,
            MsgType.JOB_DEREGISTER: self._job_deregister,
            MsgType.EVAL_UPDATE: self._eval_update,
            MsgType.EVAL_DELETE: self._eval_delete,
            MsgType.APPLY_PLAN_RESULTS: self._apply_plan_results,
            MsgType.NODE_REGISTER: self._node_register,
            MsgType.NODE_DEREGISTER: self._node_deregister,
            MsgType.NODE_UPDATE_STATUS: self._node_update_status,
            MsgType.NODE_UPDATE_DRAIN: self._node_update_drain,
            MsgType.NODE_UPDATE_ELIGIBILITY: self._node_update_eligibility,
            MsgType.ALLOC_CLIENT_UPDATE: self._alloc_client_update,
            MsgType.ALLOC_UPDATE_DESIRED_TRANSITION: self._alloc_desired_transition,
            MsgType.DEPLOYMENT_STATUS_UPDATE: self._deployment_status_update,
            MsgType.DEPLOYMENT_UPSERT: self._deployment_upsert,
            MsgType.JOB_BATCH_DEREGISTER: self._job_batch_deregister,
            MsgType.DEPLOYMENT_DELETE: self._deployment_delete,
            MsgType.DEPLOYMENT_PROMOTION: self._deployment_promotion,
            MsgType.DEPLOYMENT_ALLOC_HEALTH: self._deployment_alloc_health,
            MsgType.DEPLOYMENT_STATUS_REVERT: self._deployment_status_revert,
            MsgType.JOB_STABILITY: self._job_stability,
            MsgType.BARRIER: lambda index, request: None,
            MsgType.SERVER_MEMBER: self._server_member,
            MsgType.SERVICE_REGISTRATION_UPSERT: self._service_registration_upsert,
            MsgType.SERVICE_REGISTRATION_DELETE_BY_ID: self._service_registration_delete,
            MsgType.SERVICE_REGISTRATION_DELETE_BY_NODE_ID: self._service_registration_delete_node,
            MsgType.VAR_APPLY: self._var_apply,
            MsgType.ROOT_KEY_UPSERT: self._root_key_upsert,
            MsgType.ROOT_KEY_DELETE: self._root_key_delete,
            MsgType.ROOT_KEY_STATE: self._root_key_state,
            MsgType.VAR_LOCK_RENEW: self._var_lock_renew,
        }
        # (namespace, path) -> (lock ID, index of its last renewal): bookkeeping for the
        # leader's lock timers, derived from the log alone (equal on every server), not
        # part of the state or of snapshots (a new leader gives every lock a full TTL).
        self.lock_renewals: dict[tuple[str, str], tuple[str, int]] = {}

    # -- applying ----------------------------------------------------------------
    @property
    def index(self) -> int:
        """The index of the last applied message."""
        return self._index

    @property
    def halted(self) -> str:
        """Why this FSM stopped applying the log for good ("" while it applies)."""
        return self._halted

    @property
    def servers(self) -> dict[str, m.ServerMemberRequest]:
        """Raft address -> the server that announced itself there (a copy)."""
        with self._lock:
            return dict(self._servers)

    def apply(self, msg_type: int, payload: str) -> Any:
        """Apply one message; returns its result, or the error that kept it from
        applying (returned, not raised -- see the module docstring)."""
        return self.apply_indexed(msg_type, payload)[1]

    def apply_indexed(self, msg_type: int, payload: str) -> tuple[int, Any]:
        """:meth:`apply`, also returning the index the message was applied at."""
        with self._lock:
            if self._halted:
                return self._index, FSMHalted(self._halted)
            kind, ignorable = m.read_type(msg_type)
            if kind is None and not ignorable:
                return self._index, self._halt_locked(msg_type)
            self._index += 1
            index = self._index
            if kind is None:
                # A newer server wrote a type this one does not know, and marked it
                # safe to skip: the state it carries is not needed here.
                log.warning("raft message type %r at index %d is unknown to this version "
                            "and marked ignorable; skipped (upgrade this server)",
                            msg_type, index)
                return index, ValueError(f"unknown raft message type {msg_type!r} "
                                         "(marked ignorable): skipped")
            try:
                request = m.decode(kind, payload)
                return index, self._handlers[kind](index, request)
            except Exception as err:  # noqa: BLE001 - returned to the caller, see docstring
                if not isinstance(err, (NotFound, Conflict, ValueError)):
                    log.exception("applying %s at index %d failed", kind.name, index)
                return index, err

    def _halt_locked(self, msg_type: int) -> FSMHalted:
        self._halted = (f"raft message type {msg_type!r} at index {self._index + 1} is "
                        "unknown to this version and not marked ignorable")
        log.critical("%s; this server stops applying the raft log after index %d so that "
                     "its state cannot diverge from the cluster's: upgrade nomadjail on this "
                     "server (the entry stays in the journal and is applied after the "
                     "upgrade)", self._halted, self._index)
        return FSMHalted(self._halted)

    def _notify(self, action: Callable[..., None], *args: Any) -> None:
        try:
            action(*args)
        except Exception:  # noqa: BLE001 - a listener bug must not stop the raft log
            log.exception("FSM listener failed")

    def _evals_upserted(self, evals: list[Evaluation]) -> None:
        if evals:
            self._notify(self.listener.evals_upserted, evals)

    def _capacity_changed(self, node_ids: Iterable[str], index: int) -> None:
        for node_id in dict.fromkeys(node_ids):
            node = self.store.node_by_id(node_id)
            computed_class = node.computed_class if node else ""
            self._notify(self.listener.capacity_changed, computed_class, node_id, index)

    # -- jobs --------------------------------------------------------------------
    def _job_register(self, index: int, request: m.JobRegisterRequest) -> Job:
        with self.store.txn(index) as txn:
            job = txn.upsert_job(request.job, submit_time=request.submit_time)
            stored = self._upsert_evals(txn, [request.eval] if request.eval else [],
                                        job_modify_index=index)
        self._evals_upserted(stored)
        return job

    def _job_deregister(self, index: int, request: m.JobDeregisterRequest) -> Job | None:
        with self.store.txn(index) as txn:
            job: Job | None = None
            if request.purge:
                txn.delete_job(request.namespace, request.job_id)
            else:
                current = txn.job_by_id(request.namespace, request.job_id)
                if current is None:
                    raise NotFound(f"job {request.job_id!r} not found in namespace "
                                   f"{request.namespace!r}")
                stopped = current.copy()
                stopped.stop = True
                job = txn.upsert_job(stopped, submit_time=request.submit_time
                                     or current.submit_time)
            stored = self._upsert_evals(txn, [request.eval] if request.eval else [],
                                        job_modify_index=index)
        self._evals_upserted(stored)
        return job

    def _job_batch_deregister(self, index: int, request: m.JobBatchDeregisterRequest) -> None:
        with self.store.txn(index) as txn:
            for job in request.jobs:
                txn.delete_job(job.namespace, job.id)

    # -- evaluations -------------------------------------------------------------
    @staticmethod
    def _upsert_evals(txn: Any, evals: list[Evaluation],
                      job_modify_index: int | None = None) -> list[Evaluation]:
        if not evals:
            return []
        if job_modify_index is not None:
            evals = [dataclasses.replace(ev, job_modify_index=job_modify_index) for ev in evals]
        txn.upsert_evals(evals)
        return [txn.eval_by_id(ev.id) for ev in evals]

    def _eval_update(self, index: int, request: m.EvalUpdateRequest) -> list[Evaluation]:
        with self.store.txn(index) as txn:
            stored = self._upsert_evals(txn, request.evals)
        self._evals_upserted(stored)
        return stored

    def _eval_delete(self, index: int, request: m.EvalDeleteRequest) -> None:
        with self.store.txn(index) as txn:
            txn.delete_evals(request.evals)
            txn.delete_allocs(request.allocs)
            _drop_services_of(txn, request.allocs)

    # -- plans -------------------------------------------------------------------
    def _apply_plan_results(self, index: int, request: m.ApplyPlanResultsRequest) -> None:
        with self.store.txn(index) as txn:
            job = request.job
            if job is not None:
                # Share the stored version of the job instead of a decoded copy per
                # plan: equal on every replica, and one object for many allocations.
                stored_version = txn.job_by_version(job.namespace or "", job.id, job.version)
                if (stored_version is not None
                        and stored_version.job_modify_index == job.job_modify_index):
                    job = stored_version
                for allocs in request.node_allocation.values():
                    for alloc in allocs:
                        if alloc.job is None:
                            alloc.job = job
            txn.upsert_plan_results(PlanResult(
                node_update=request.node_update, node_allocation=request.node_allocation,
                deployment=request.deployment, deployment_updates=request.deployment_updates))
            _drop_services_of_stopped(txn, (a.id for allocs in (*request.node_update.values(),
                                                                *request.node_allocation.values())
                                            for a in allocs))
        # Stopping allocations frees their resources at once for the scheduler
        # (server-terminal allocations do not count), so blocked evals may fit now.
        self._capacity_changed((node_id for node_id, allocs in request.node_update.items()
                                if allocs), index)

    # -- nodes -------------------------------------------------------------------
    def _node_register(self, index: int, request: m.NodeRegisterRequest) -> None:
        with self.store.txn(index) as txn:
            node = txn.upsert_node(request.node)
            stored = self._upsert_evals(txn, request.evals)
        self._evals_upserted(stored)
        if node.status == NodeStatus.READY:
            self._capacity_changed([node.id], index)

    def _node_deregister(self, index: int, request: m.NodeDeregisterRequest) -> None:
        with self.store.txn(index) as txn:
            for node_id in request.node_ids:
                txn.delete_node(node_id)
                txn.put_service_registrations(txn.service_registrations.without_node(node_id))

    def _node_update_status(self, index: int, request: m.NodeUpdateStatusRequest) -> None:
        with self.store.txn(index) as txn:
            node = txn.node_by_id(request.node_id)
            if node is None:
                raise NotFound(f"node {request.node_id!r} not found")
            node = txn.update_node(
                request.node_id, status=request.status,
                status_updated_at=request.updated_at or node.status_updated_at,
                events=append_node_event(node.events, request.node_event, index))
            if request.status == NodeStatus.DOWN:
                # In the same write as the status, as Nomad does: no reader may see the
                # node down and its instances still advertised.
                txn.put_service_registrations(
                    txn.service_registrations.without_node(request.node_id))
            stored = self._upsert_evals(txn, request.evals)
        self._evals_upserted(stored)
        if request.status == NodeStatus.READY:
            self._capacity_changed([request.node_id], index)

    def _node_update_drain(self, index: int, request: m.NodeUpdateDrainRequest) -> None:
        with self.store.txn(index) as txn:
            node = txn.node_by_id(request.node_id)
            if node is None:
                raise NotFound(f"node {request.node_id!r} not found")
            eligibility = node.scheduling_eligibility
            if request.drain_strategy is not None:
                eligibility = NodeEligibility.INELIGIBLE
            elif request.mark_eligible:
                eligibility = NodeEligibility.ELIGIBLE
            txn.update_node(
                request.node_id, drain_strategy=request.drain_strategy,
                drain=request.drain_strategy is not None,
                scheduling_eligibility=eligibility,
                last_drain=last_drain_after(node, request.drain_strategy,
                                            updated_at=request.updated_at, meta=request.meta,
                                            completed=request.drain_completed),
                events=append_node_event(node.events, request.node_event, index))
            if request.transitions:
                txn.update_alloc_desired_transition(request.transitions)
            stored = self._upsert_evals(txn, request.evals)
        self._evals_upserted(stored)
        if eligibility == NodeEligibility.ELIGIBLE:
            self._capacity_changed([request.node_id], index)

    def _node_update_eligibility(self, index: int,
                                 request: m.NodeUpdateEligibilityRequest) -> None:
        with self.store.txn(index) as txn:
            node = txn.node_by_id(request.node_id)
            if node is None:
                raise NotFound(f"node {request.node_id!r} not found")
            txn.update_node(request.node_id, scheduling_eligibility=request.eligibility,
                            events=append_node_event(node.events, request.node_event, index))
            stored = self._upsert_evals(txn, request.evals)
        self._evals_upserted(stored)
        if request.eligibility == NodeEligibility.ELIGIBLE:
            self._capacity_changed([request.node_id], index)

    # -- allocations -------------------------------------------------------------
    def _alloc_client_update(self, index: int,
                             request: m.AllocClientUpdateRequest) -> list[Allocation]:
        with self.store.txn(index) as txn:
            changed = txn.update_allocs_from_client(request.alloc)
            _drop_services_of_stopped(txn, (a.id for a in changed))
            stored = self._upsert_evals(txn, request.evals)
        self._evals_upserted(stored)
        self._capacity_changed((a.node_id for a in changed
                                if a.client_status in (AllocClientStatus.COMPLETE,
                                                       AllocClientStatus.FAILED)), index)
        return changed

    def _alloc_desired_transition(self, index: int,
                                  request: m.AllocUpdateDesiredTransitionRequest) -> None:
        with self.store.txn(index) as txn:
            txn.update_alloc_desired_transition(request.allocs)
            stored = self._upsert_evals(txn, request.evals)
        self._evals_upserted(stored)

    # -- deployments -------------------------------------------------------------
    def _deployment_status_update(self, index: int,
                                  request: m.DeploymentStatusUpdateRequest) -> None:
        """A status change and the evaluation it calls for, together; a finished
        deployment is not changed again (Conflict)."""
        with self.store.txn(index) as txn:
            txn.update_deployment_status(request.deployment_update)
            stored = self._upsert_evals(txn, [request.eval] if request.eval else [])
        self._evals_upserted(stored)

    @staticmethod
    def _active_deployment(txn: Any, deployment_id: str) -> Deployment:
        deployment = txn.deployment_by_id(deployment_id)
        if deployment is None:
            raise NotFound(f"Deployment ID {deployment_id!r} couldn't be updated as it does "
                           "not exist")
        if not deployment.active():
            raise Conflict(f"Deployment {deployment_id!r} has terminal status "
                           f"{deployment.status!r}")
        return deployment

    def _deployment_promotion(self, index: int, request: m.DeploymentPromoteRequest) -> None:
        """Promote, or change nothing (Conflict) when a canary is not healthy
        any more: the endpoint checked, but the state may have moved since."""
        with self.store.txn(index) as txn:
            deployment = self._active_deployment(txn, request.deployment_id)
            allocs = [a for a in txn.allocs_by_job(deployment.namespace, deployment.job_id)
                      if a.deployment_id == deployment.id]
            promotion = plan_promotion(deployment, allocs,
                                       groups=None if request.all else request.groups,
                                       promoted_at=request.promoted_at, index=index)
            if promotion.errors:
                raise Conflict("; ".join(promotion.errors))
            txn.upsert_deployment(promotion.deployment)
            for alloc_id, status in promotion.canaries.items():
                txn.set_alloc_deployment_status(alloc_id, status)
            stored = self._upsert_evals(txn, [request.eval] if request.eval else [])
        self._evals_upserted(stored)

    def _deployment_alloc_health(self, index: int,
                                 request: m.DeploymentAllocHealthRequest) -> None:
        with self.store.txn(index) as txn:
            deployment = self._active_deployment(txn, request.deployment_id)
            healthy, unhealthy = request.healthy_allocation_ids, request.unhealthy_allocation_ids
            errors = alloc_health_errors(
                deployment, {i: txn.alloc_by_id(i) for i in (*healthy, *unhealthy)},
                healthy, unhealthy)
            if errors:
                raise Conflict("; ".join(errors))
            when = rfc3339(request.timestamp)
            for alloc_id, is_healthy in (*((i, True) for i in healthy),
                                         *((i, False) for i in unhealthy)):
                alloc = txn.alloc_by_id(alloc_id)
                assert alloc is not None  # alloc_health_errors found it
                status = dataclasses.replace(alloc.deployment_status or AllocDeploymentStatus(),
                                             healthy=is_healthy, timestamp=when)
                txn.set_alloc_deployment_status(alloc_id, status, request.timestamp)
            if request.deployment_update is not None:
                txn.update_deployment_status(request.deployment_update)
            if request.job is not None:
                txn.upsert_job(request.job, submit_time=request.timestamp)
            stored = self._upsert_evals(txn, [request.eval] if request.eval else [])
        self._evals_upserted(stored)

    def _deployment_status_revert(self, index: int, request: m.DeploymentRevertRequest) -> None:
        with self.store.txn(index) as txn:
            txn.update_deployment_status(request.deployment_update)
            txn.upsert_job(request.job, submit_time=request.submit_time)
            stored = self._upsert_evals(txn, [request.eval] if request.eval else [])
        self._evals_upserted(stored)

    def _job_stability(self, index: int, request: m.JobStabilityRequest) -> None:
        with self.store.txn(index) as txn:
            if txn.job_by_version(request.namespace, request.job_id, request.job_version) is None:
                raise NotFound(f"job {request.job_id!r} in namespace {request.namespace!r} at "
                               f"version {request.job_version} not found")
            txn.set_job_stability(request.namespace, request.job_id, request.job_version,
                                  request.stable)

    def _deployment_upsert(self, index: int, request: m.DeploymentUpsertRequest) -> None:
        with self.store.txn(index) as txn:
            txn.upsert_deployment(request.deployment)

    def _deployment_delete(self, index: int, request: m.DeploymentDeleteRequest) -> None:
        with self.store.txn(index) as txn:
            txn.delete_deployments(request.deployments)

    # -- service registrations ---------------------------------------------------
    def _service_registration_upsert(self, index: int,
                                     request: m.ServiceRegistrationUpsertRequest) -> None:
        with self.store.txn(index) as txn:
            # An instance of an allocation that stopped (or was collected) after the
            # endpoint checked it must not come back: nothing would remove it again.
            live = [reg for reg in request.services
                    if (alloc := txn.alloc_by_id(reg.alloc_id)) is not None
                    and not alloc.terminal_status()]
            txn.put_service_registrations(txn.service_registrations.upserted(live, index))

    def _service_registration_delete(self, index: int,
                                     request: m.ServiceRegistrationDeleteByIDRequest) -> None:
        with self.store.txn(index) as txn:
            key = (request.namespace, request.id)
            if txn.service_registrations.get(*key) is None:
                raise NotFound(f"service registration {request.id!r} not found in namespace "
                               f"{request.namespace!r}")
            txn.put_service_registrations(txn.service_registrations.without([key]))

    def _service_registration_delete_node(
            self, index: int, request: m.ServiceRegistrationDeleteByNodeIDRequest) -> None:
        with self.store.txn(index) as txn:
            txn.put_service_registrations(
                txn.service_registrations.without_node(request.node_id))

    # -- variables and the keyring ----------------------------------------------
    def _var_apply(self, index: int, request: m.VarApplyStateRequest) -> VarApplyResult:
        """A conflict is an answer, not an error: it carries the variable that won."""
        with self.store.txn(index) as txn:
            return txn.apply_variable(request.op, request.var, request.cas_index)

    def _var_lock_renew(self, index: int, request: m.VarLockRenewRequest) -> VariableMetadata:
        var = self.store.variables.get(request.namespace, request.path)
        if var is None:
            raise NotFound(f"variable {request.path!r} not found in namespace "
                           f"{request.namespace!r}")
        if var.lock is None or var.lock.id != request.lock_id:
            raise Conflict(f"variable {request.path!r} is not locked with lock ID "
                           f"{request.lock_id!r}")
        self.lock_renewals[(request.namespace, request.path)] = (request.lock_id, index)
        return var.metadata()

    def _root_key_upsert(self, index: int, request: m.RootKeyUpsertRequest) -> None:
        with self.store.txn(index) as txn:
            txn.upsert_root_key(request.root_key)

    def _root_key_delete(self, index: int, request: m.RootKeyDeleteRequest) -> None:
        """Refused (Conflict) for the active key or a key that still seals variables:
        the endpoint checked, but a write may have used it since."""
        with self.store.txn(index) as txn:
            key = txn.root_key(request.key_id)
            if key is None:
                raise NotFound(f"root key {request.key_id!r} not found")
            if key.meta.is_active():
                raise Conflict("active root key cannot be deleted - call rotate first")
            if txn.variables.sealed_with(request.key_id):
                raise Conflict(f"root key {request.key_id} is in use by variables; "
                               "rotate with -full first")
            txn.delete_root_key(request.key_id)

    def _root_key_state(self, index: int, request: m.RootKeyStateRequest) -> None:
        with self.store.txn(index) as txn:
            txn.set_root_key_state(request.key_id, request.state)

    # -- servers -----------------------------------------------------------------
    def _server_member(self, index: int, request: m.ServerMemberRequest) -> None:
        self._servers[request.raft_addr] = request

    # -- snapshots ---------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything this FSM holds, as JSON-ready data.

        Refused (:class:`FSMHalted`) once halted: raft would record the snapshot as
        covering the log up to its last entry, dropping the entries never applied."""
        with self._lock:
            if self._halted:
                raise FSMHalted(self._halted)
            data = encode_tables(self.store.tables)
            data["FSMIndex"] = self._index
            data["Servers"] = [to_api(s) for s in self._servers.values()]
            return data

    def snapshot_json(self) -> str:
        return json.dumps(self.snapshot(), separators=(",", ":"))

    def restore(self, data: dict[str, Any]) -> None:
        """Replace all state with a :meth:`snapshot` (raft restore on start or
        when the leader sends one to a lagging follower)."""
        tables = decode_tables(data)
        servers = [from_api(m.ServerMemberRequest, raw, "Snapshot.Servers")
                   for raw in data.get("Servers", [])]
        with self._lock:
            self.store.restore(tables)
            self._index = int(data.get("FSMIndex", tables.latest_index))
            self._servers = {s.raft_addr: s for s in servers}

    def restore_json(self, text: str) -> None:
        self.restore(json.loads(text))


def _drop_services_of(txn: Txn, alloc_ids: Iterable[str]) -> None:
    """Remove the service registrations of allocations that are gone."""
    if len(txn.service_registrations):
        txn.put_service_registrations(txn.service_registrations.without_allocs(alloc_ids))


def _drop_services_of_stopped(txn: Txn, alloc_ids: Iterable[str]) -> None:
    """Remove the service registrations of those allocations that are now stopped
    (server-terminal) or finished, failed or lost (client-terminal).

    Nomad removes them once the allocation is client-terminal (lost included),
    whatever the client managed to deregister itself.  A stopped allocation's
    instances go already when the server stops it: its client deregisters them
    first thing on stopping anyway, and one that no longer answers would leave
    them advertised until it is marked down."""
    if not len(txn.service_registrations):
        return
    stopped = [alloc_id for alloc_id in alloc_ids
               if (alloc := txn.alloc_by_id(alloc_id)) is not None and alloc.terminal_status()]
    if stopped:
        txn.put_service_registrations(txn.service_registrations.without_allocs(stopped))
