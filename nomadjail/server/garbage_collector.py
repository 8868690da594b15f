"""Garbage collection (leader only): Nomad's core scheduler GC.

Finished objects pile up -- evaluations, allocations, stopped jobs,
deployments, nodes that went down for good -- and every client keeps being
sent allocations that ended long ago.  Every ``gc_interval`` the leader looks
at one snapshot and removes, through raft, what has been finished for longer
than its threshold (the defaults, Nomad's, are in
:class:`~nomadjail.helper.server_tunables.ServerTunables`):

* **evaluations** that are terminal and old, with their allocations once all
  of those are collectable.  An allocation is collectable when it is
  terminal and old -- never while its client still runs it, and for a live
  job never a failed one whose reschedule history its replacement still
  needs.  A running batch job keeps its current allocations (else they would
  run again); only those of versions it has moved past go.
* **jobs** that are dead and were stopped (or are batch / sysbatch), old, and
  whose evaluations are all collectable: purged with those evals and allocs.
* **deployments** that finished long enough ago and no live allocation names.
* **nodes** down for longer than the threshold, with no live allocations.

:func:`find_garbage` is the pure decision (a snapshot and ``now`` in, IDs
out); :class:`GarbageCollector` runs it on the leader's housekeeping thread
and commits the result in bounded batches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..helper.server_tunables import ServerTunables
from ..state import StateSnapshot
from ..structs import (
    SECOND,
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    Evaluation,
    Job,
    JobStatus,
    JobType,
    NodeStatus,
    now_ns,
)
from . import messages as m

log = logging.getLogger(__name__)

Apply = Callable[[Any], tuple[int, Any]]
T = TypeVar("T")

# IDs per raft message, so one collection never makes a huge log entry
# (Nomad's MaxUUIDsPerWriteRequest).
MAX_IDS_PER_REQUEST = 7281


@dataclass(frozen=True, slots=True)
class GCThresholds:
    """How long (ns) an object must have been finished before it is collected."""

    eval: int
    batch_eval: int
    job: int
    deployment: int
    node: int

    @classmethod
    def from_config(cls, config: ServerTunables) -> GCThresholds:
        """From the config's seconds (``ServerConfig`` embeds the tunables)."""
        return cls(eval=int(config.eval_gc_threshold * SECOND),
                   batch_eval=int(config.batch_eval_gc_threshold * SECOND),
                   job=int(config.job_gc_threshold * SECOND),
                   deployment=int(config.deployment_gc_threshold * SECOND),
                   node=int(config.node_gc_threshold * SECOND))


@dataclass(slots=True)
class Garbage:
    evals: list[str] = field(default_factory=list)
    allocs: list[str] = field(default_factory=list)
    jobs: list[tuple[str, str]] = field(default_factory=list)  # (namespace, job ID)
    deployments: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.evals or self.allocs or self.jobs or self.deployments or self.nodes)


def alloc_collectable(alloc: Allocation, job: Job | None, now: int, cutoff: int) -> bool:
    """Nomad's allocGCEligible: finished before ``cutoff`` and of no more use."""
    if not alloc.terminal_status() or alloc.modify_time > cutoff:
        return False
    if alloc.client_status == AllocClientStatus.RUNNING:
        return False  # told to stop, but its client has not stopped it yet
    if job is None or job.stop or job.status == JobStatus.DEAD:
        return True
    if alloc.desired_status == AllocDesiredStatus.STOP:
        return True
    if alloc.client_status != AllocClientStatus.FAILED:
        return True
    # A failed allocation carries the reschedule history its replacement needs.
    group = job.lookup_task_group(alloc.task_group)
    policy = group.reschedule_policy if group is not None else None
    if policy is None or (not policy.unlimited and not policy.attempts):
        return True
    if alloc.next_allocation:
        return True  # replaced: the history went along
    if policy.unlimited:
        return False
    tracker = alloc.reschedule_tracker
    if tracker is None or not tracker.events:
        return False
    return now - tracker.events[-1].reschedule_time > (policy.interval or 0)


def eval_collectable(snapshot: StateSnapshot, ev: Evaluation, now: int, cutoff: int,
                     allow_batch: bool) -> tuple[bool, list[str]]:
    """Nomad's gcEval: (may the eval go, which of its allocations may go)."""
    if not ev.terminal_status() or ev.modify_time > cutoff:
        return False, []
    job = snapshot.job_by_id(ev.namespace, ev.job_id)
    allocs = snapshot.allocs_by_eval(ev.id)
    if ev.type == JobType.BATCH:
        collect = job is None or (job.status == JobStatus.DEAD and (job.stop or allow_batch))
        if not collect:
            # A batch job still running: keep its current allocations (or they
            # would run again), collect those of versions it has moved past.
            assert job is not None
            older = [a.id for a in allocs
                     if a.create_index < job.job_modify_index and a.modify_time < cutoff
                     and a.terminal_status()]
            return len(older) == len(allocs), older
    collectable = [a.id for a in allocs if alloc_collectable(a, job, now, cutoff)]
    return len(collectable) == len(allocs), collectable


def _job_collectable_kind(job: Job) -> bool:
    """Nomad's jobIsGCable: dead, and stopped or a batch kind."""
    if job.status != JobStatus.DEAD:
        return False
    return job.stop or job.type in (JobType.BATCH, JobType.SYSBATCH)


def find_garbage(snapshot: StateSnapshot, now: int, thresholds: GCThresholds) -> Garbage:
    """Everything collectable in ``snapshot`` at ``now``."""
    evals: dict[str, None] = {}
    allocs: dict[str, None] = {}
    jobs: list[tuple[str, str]] = []

    job_cutoff = now - thresholds.job
    for job in snapshot.jobs():
        if not _job_collectable_kind(job) or job.submit_time > job_cutoff:
            continue
        job_evals: list[str] = []
        job_allocs: list[str] = []
        for ev in snapshot.evals_by_job(job.namespace or "", job.id):
            collect, collectable = eval_collectable(snapshot, ev, now, job_cutoff,
                                                    allow_batch=True)
            if not collect:
                break
            job_evals.append(ev.id)
            job_allocs.extend(collectable)
        else:
            jobs.append((job.namespace or "", job.id))
            evals.update(dict.fromkeys(job_evals))
            allocs.update(dict.fromkeys(job_allocs))

    eval_cutoff, batch_cutoff = now - thresholds.eval, now - thresholds.batch_eval
    for ev in snapshot.evals():
        if ev.id in evals:
            continue
        cutoff = batch_cutoff if ev.type == JobType.BATCH else eval_cutoff
        collect, collectable = eval_collectable(snapshot, ev, now, cutoff, allow_batch=False)
        if collect:
            evals[ev.id] = None
        allocs.update(dict.fromkeys(collectable))

    deployments = []
    deployment_cutoff = now - thresholds.deployment
    for deployment in snapshot.iter_deployments():
        if deployment.active() or deployment.modify_time > deployment_cutoff:
            continue
        if any(a.deployment_id == deployment.id and not a.terminal_status()
               for a in snapshot.allocs_by_job(deployment.namespace, deployment.job_id)):
            continue
        deployments.append(deployment.id)

    nodes = []
    node_cutoff = now - thresholds.node
    for node in snapshot.iter_nodes():
        if node.status != NodeStatus.DOWN or node.status_updated_at * SECOND > node_cutoff:
            continue
        if any(not a.terminal_status() for a in snapshot.allocs_by_node(node.id)):
            continue  # the scheduler has not marked them lost yet
        nodes.append(node.id)

    return Garbage(evals=list(evals), allocs=list(allocs), jobs=jobs,
                   deployments=sorted(deployments), nodes=sorted(nodes))


def _batches(items: list[T], size: int = MAX_IDS_PER_REQUEST) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class GarbageCollector:
    """Runs :func:`find_garbage` every ``interval`` seconds and reaps the result."""

    def __init__(self, snapshot: Callable[[], StateSnapshot], apply: Apply, *,
                 thresholds: GCThresholds, interval: float,
                 clock: Callable[[], int] = now_ns):
        self.snapshot = snapshot
        self.apply = apply
        self.thresholds = thresholds
        self.interval = interval
        self.clock = clock
        self._next = time.monotonic() + interval

    def tick(self) -> None:
        """Collect if the interval has passed since the last collection."""
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.interval
        self.collect()

    def collect(self) -> Garbage:
        """Find and remove everything collectable now; returns what went."""
        garbage = find_garbage(self.snapshot(), self.clock(), self.thresholds)
        if not garbage:
            return garbage
        log.debug("garbage collection: %d evals, %d allocs, %d jobs, %d deployments, "
                  "%d nodes", len(garbage.evals), len(garbage.allocs), len(garbage.jobs),
                  len(garbage.deployments), len(garbage.nodes))
        # Allocations before their evals, evals before their jobs: a crash half
        # way leaves nothing that points at something gone.
        for allocs in _batches(garbage.allocs):
            self.apply(m.EvalDeleteRequest(allocs=allocs))
        for evals in _batches(garbage.evals):
            self.apply(m.EvalDeleteRequest(evals=evals))
        for jobs in _batches(garbage.jobs):
            self.apply(m.JobBatchDeregisterRequest(
                jobs=[m.NamespacedID(id=job_id, namespace=ns) for ns, job_id in jobs]))
        for deployments in _batches(garbage.deployments):
            self.apply(m.DeploymentDeleteRequest(deployments=deployments))
        for nodes in _batches(garbage.nodes):
            self.apply(m.NodeDeregisterRequest(node_ids=nodes))
        return garbage
