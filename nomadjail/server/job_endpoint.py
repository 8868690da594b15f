"""Job operations: register, deregister (stop / purge), plan, force-evaluate,
revert to an earlier version, mark a version (un)stable.

Each one validates everything first and raises before writing anything, then
commits with exactly one raft message -- a job is never stored without the
evaluation that schedules it.  ``plan`` writes nothing at all: it runs the
real scheduler against a private copy of the state with the job upserted,
through a planner that records instead of committing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..state import StateStore
from ..structs import (
    DEFAULT_NAMESPACE,
    DEFAULT_PRIORITY,
    AllocMetric,
    BadRequest,
    Conflict,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    Job,
    JobType,
    NotFound,
    Plan,
    PlanAnnotations,
    PlanResult,
    ValidationError,
    generate_uuid,
    now_ns,
)
from ..structs.scaling import carry_policy_ids
from . import messages as m
from .job_diff import annotate_diff, diff_jobs
from .results import EvalResult, JobPlanResult, JobRegisterResult

Apply = Callable[[Any], tuple[int, Any]]
SchedulerFactory = Callable[..., Any]
JobValidator = Callable[[Job], list[str]]


def new_job_eval(job: Job, trigger: str, now: int, **fields: Any) -> Evaluation:
    """A pending evaluation of ``job`` (priority and scheduler from the job,
    unless ``fields`` say otherwise)."""
    values: dict[str, Any] = dict(
        id=generate_uuid(), namespace=job.namespace or DEFAULT_NAMESPACE,
        priority=job.priority or DEFAULT_PRIORITY,
        type=job.type or JobType.SERVICE, triggered_by=trigger, job_id=job.id,
        status=EvalStatus.PENDING, create_time=now, modify_time=now)
    values.update(fields)
    return Evaluation(**values)


class _PlanRecorder:
    """A Planner that commits nothing: it answers every plan with "all of it
    fitted" and remembers plans and evals for the ``job plan`` response."""

    def __init__(self, index: int):
        self.index = index
        self.plans: list[Plan] = []
        self.updated_evals: list[Evaluation] = []
        self.created_evals: list[Evaluation] = []

    def submit_plan(self, plan: Plan) -> tuple[PlanResult, None]:
        self.plans.append(plan)
        return PlanResult(node_update=plan.node_update, node_allocation=plan.node_allocation,
                          deployment=plan.deployment,
                          deployment_updates=plan.deployment_updates,
                          alloc_index=self.index), None

    def update_eval(self, evaluation: Evaluation) -> None:
        self.updated_evals.append(evaluation)

    def create_eval(self, evaluation: Evaluation) -> None:
        self.created_evals.append(evaluation)

    def reblock_eval(self, evaluation: Evaluation) -> None:
        self.updated_evals.append(evaluation)


class JobEndpoint:
    def __init__(self, store: StateStore, apply: Apply, *,
                 validators: list[JobValidator] | None = None,
                 scheduler_factory: Callable[[], SchedulerFactory] | None = None,
                 clock: Callable[[], int] = now_ns):
        self.store = store
        self.apply = apply
        self.validators = validators if validators is not None else []
        self._scheduler_factory = scheduler_factory
        self.clock = clock

    # -- validation --------------------------------------------------------------
    def prepare(self, job: Job) -> Job:
        """A canonicalized, validated copy of ``job``; raises ValidationError
        listing every problem (the job's own rules, then the injected
        validators such as driver config checks)."""
        if job is None:
            raise ValidationError(["Job is missing"], what="missing job for registration")
        job = job.copy()
        job.canonicalize()
        job.validate()
        errors: list[str] = []
        for validator in self.validators:
            errors.extend(validator(job))
        if errors:
            raise ValidationError(errors)
        return job

    # -- register ----------------------------------------------------------------
    def register(self, job: Job, *, enforce_index: int | None = None,
                 preserve_counts: bool = False,
                 trigger: EvalTrigger = EvalTrigger.JOB_REGISTER) -> JobRegisterResult:
        job = self.prepare(job)
        snapshot = self.store.snapshot()
        existing = snapshot.job_by_id(job.namespace or "", job.id)
        if enforce_index is not None:
            if enforce_index == 0 and existing is not None:
                raise Conflict("Enforcing job modify index 0: job already exists")
            if enforce_index > 0 and existing is None:
                raise Conflict(f"Enforcing job modify index {enforce_index}: job does not "
                               "exist")
            if enforce_index > 0 and existing is not None \
                    and existing.job_modify_index != enforce_index:
                raise Conflict(f"Enforcing job modify index {enforce_index}: job exists with "
                               f"conflicting job modify index: {existing.job_modify_index}")
        if preserve_counts and existing is not None:
            for group in job.task_groups:
                previous = existing.lookup_task_group(group.name)
                if previous is not None:
                    group.count = previous.count
        carry_policy_ids(job, existing, generate_uuid)
        now = self.clock()
        ev = new_job_eval(job, trigger, now)
        index, stored = self.apply(m.JobRegisterRequest(job=job, eval=ev, submit_time=now))
        return JobRegisterResult(eval_id=ev.id, eval_create_index=index,
                                 job_modify_index=stored.job_modify_index, index=index)

    # -- deregister --------------------------------------------------------------
    def deregister(self, namespace: str, job_id: str, *, purge: bool = False) -> EvalResult:
        """Stop the job (a new version with ``Stop = true``) or purge it, with an
        eval that stops its allocations.  A job that does not exist is not an
        error (Nomad answers with an empty result)."""
        snapshot = self.store.snapshot()
        job = snapshot.job_by_id(namespace, job_id)
        if job is None:
            return EvalResult(eval_id="", eval_create_index=0, index=snapshot.latest_index)
        now = self.clock()
        # Nomad evaluates every deregistration with the service scheduler: the
        # job may be gone by the time it runs, and stopping is the same for all.
        ev = new_job_eval(job, EvalTrigger.JOB_DEREGISTER, now, type=JobType.SERVICE)
        index, _ = self.apply(m.JobDeregisterRequest(namespace=namespace, job_id=job_id,
                                                     purge=purge, submit_time=now, eval=ev))
        return EvalResult(eval_id=ev.id, eval_create_index=index, index=index,
                          job_modify_index=index)

    # -- versions ----------------------------------------------------------------
    def revert(self, namespace: str, job_id: str, version: int, *,
               enforce_prior_version: int | None = None) -> JobRegisterResult:
        """Register ``version`` of the job again, as a new version (Nomad's
        Job.Revert); ``enforce_prior_version`` refuses unless the job is
        still at that version."""
        if not job_id:
            raise BadRequest("missing job ID for revert")
        snapshot = self.store.snapshot()
        current = snapshot.job_by_id(namespace, job_id)
        if current is None:
            raise NotFound(f'job "{job_id}" not found')
        if version == current.version:
            raise BadRequest("can't revert to current version")
        target = snapshot.job_by_version(namespace, job_id, version)
        if target is None:
            raise NotFound(f'job "{job_id}" in namespace "{namespace}" at version {version} '
                           "not found")
        enforce_index = None
        if enforce_prior_version is not None:
            if current.version != enforce_prior_version:
                raise BadRequest(f"Current job has version {current.version}; enforcing "
                                 f"version {enforce_prior_version}")
            enforce_index = current.job_modify_index
        reverted = target.copy()
        reverted.stable = False  # a new registration: stable once it rolls out
        return self.register(reverted, enforce_index=enforce_index)

    def set_stability(self, namespace: str, job_id: str, version: int, stable: bool) -> int:
        """Mark one version of the job stable (a target for auto-revert) or not;
        returns the index of the write (Nomad's Job.Stable)."""
        if not job_id:
            raise BadRequest("missing job ID for marking job as stable")
        if self.store.snapshot().job_by_version(namespace, job_id, version) is None:
            raise NotFound(f'job "{job_id}" in namespace "{namespace}" at version {version} '
                           "not found")
        index, _ = self.apply(m.JobStabilityRequest(namespace=namespace, job_id=job_id,
                                                    job_version=version, stable=stable))
        return index

    # -- evaluate ----------------------------------------------------------------
    def evaluate(self, namespace: str, job_id: str) -> EvalResult:
        """Force a new evaluation of an existing job."""
        snapshot = self.store.snapshot()
        job = snapshot.job_by_id(namespace, job_id)
        if job is None:
            raise NotFound(f"job {job_id!r} not found in namespace {namespace!r}")
        ev = new_job_eval(job, EvalTrigger.JOB_REGISTER, self.clock(),
                          job_modify_index=job.modify_index)
        index, _ = self.apply(m.EvalUpdateRequest(evals=[ev]))
        return EvalResult(eval_id=ev.id, eval_create_index=index, index=index,
                          job_modify_index=job.job_modify_index)

    # -- plan --------------------------------------------------------------------
    def plan(self, job: Job, *, diff: bool = False) -> JobPlanResult:
        """What registering ``job`` would do, computed by the real scheduler on a
        private copy of the state; nothing is written."""
        job = self.prepare(job)
        snapshot = self.store.snapshot()
        existing = snapshot.job_by_id(job.namespace or "", job.id)
        carry_policy_ids(job, existing, generate_uuid)  # as register would
        index = snapshot.latest_index + 1
        scratch = StateStore(self.store.tables)
        with scratch.txn(index) as txn:
            planned_job = txn.upsert_job(job, submit_time=self.clock())
        ev = new_job_eval(planned_job, EvalTrigger.JOB_REGISTER, self.clock(),
                          job_modify_index=index, annotate_plan=True,
                          create_index=index, modify_index=index)
        recorder = _PlanRecorder(index)
        if self._scheduler_factory is None:
            raise RuntimeError("no scheduler available to plan with")
        factory = self._scheduler_factory()
        scheduler = factory(ev.type, scratch.snapshot(), recorder, now=self.clock(), rng=None)
        scheduler.process(ev)
        annotations = PlanAnnotations()
        for plan in recorder.plans:
            if plan.annotations is not None:
                annotations = plan.annotations
        failed: dict[str, AllocMetric] = {}
        if recorder.updated_evals:
            failed = dict(recorder.updated_evals[0].failed_tg_allocs)
        job_diff = None
        if diff:
            job_diff = diff_jobs(existing, planned_job)
            annotate_diff(job_diff, annotations)
        return JobPlanResult(annotations=annotations, failed_tg_allocs=failed,
                             job_modify_index=existing.job_modify_index if existing else 0,
                             created_evals=recorder.created_evals, warnings="",
                             index=snapshot.latest_index, diff=job_diff)
