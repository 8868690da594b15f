"""/v1/jobs and /v1/job/:id/... — register, read, plan, stop, purge."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol, TypeVar

import falcon.asgi

from ..jobspec import parse_job
from ..server import Table
from ..server.job_diff import diff_jobs
from ..structs import BadRequest, Job, NotFound, ValidationError, from_api, to_api
from ..structs.validate import multierror
from .agent_api import AgentAPI
from .body import read_object
from .query import bool_param, check_region, paginate, query_options, set_index
from .resource import Resource
from .scaling import JobScaleResource
from .stubs import alloc_stub, job_stub

JOB_NOT_FOUND = "job not found"


class _VersionBody(Protocol):
    job_id: str
    job_version: int


V = TypeVar("V", bound=_VersionBody)


def _decode_job(body: dict, path_id: str = "") -> Job:
    raw = body.get("Job")
    if raw is None:
        raise BadRequest("Job must be specified")
    job = from_api(Job, raw, "Job")
    if not job.id:
        raise BadRequest("Job ID hasn't been provided")
    if path_id and job.id != path_id:
        raise BadRequest(f"Job ID does not match name: body has {job.id!r}, URL has {path_id!r}")
    return job


class JobRegistration(Resource):
    """Shared by POST /v1/jobs and POST /v1/job/:id."""

    async def register(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                       path_id: str = "") -> None:
        body = await read_object(req)
        job = _decode_job(body, path_id)
        check_region(job.region, self.agent.region)
        check_region(req.get_param("region"), self.agent.region)
        if req.get_param("namespace") and not job.namespace:
            job.namespace = req.get_param("namespace")
        enforce = int(body.get("JobModifyIndex") or 0) if body.get("EnforceIndex") else None
        server = self.agent.require_server()
        result = await asyncio.to_thread(server.register_job, job, enforce_index=enforce,
                                         preserve_counts=bool(body.get("PreserveCounts")))
        set_index(resp, result.index)
        resp.media = result.to_api()


class JobsResource(JobRegistration):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        with_meta = bool_param(req, "meta")
        snap, opts = await self.read(req, resp, Table.JOBS, Table.JOB_SUMMARIES)
        namespace = None if opts.all_namespaces else opts.namespace
        jobs = paginate(snap.jobs(namespace, opts.prefix), opts, resp, lambda j: j.id)
        resp.media = [job_stub(j, snap.job_summary(j.namespace or "", j.id), with_meta=with_meta)
                      for j in jobs]

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        await self.register(req, resp)

    on_put = on_post


class JobsParseResource:
    """POST /v1/jobs/parse: HCL in, API JSON out (what `nomad job run` does remotely)."""

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await read_object(req)
        text = body.get("JobHCL") or ""
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("Job spec is empty")
        variables = body.get("Variables") or ""
        if not isinstance(variables, str):
            raise BadRequest("Variables must be a string of HCL variable assignments")
        try:
            job = await asyncio.to_thread(parse_job, text, "input.hcl",
                                          var_files=[("input.vars.hcl", variables)]
                                          if variables.strip() else ())
        except BadRequest as err:
            raise BadRequest(f"Failed to parse job: {err}") from None
        if body.get("Canonicalize"):
            job.canonicalize()
        resp.media = to_api(job)

    on_put = on_post


class JobResource(JobRegistration):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     job_id: str) -> None:
        job, _ = await self.read_one(req, resp, Table.JOBS,
                                     lambda snap, opts: snap.job_by_id(opts.namespace, job_id))
        if job is None:
            raise NotFound(JOB_NOT_FOUND)
        resp.media = to_api(job)

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      job_id: str) -> None:
        await self.register(req, resp, job_id)

    on_put = on_post

    async def on_delete(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                        job_id: str) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        purge = bool_param(req, "purge")
        result = await asyncio.to_thread(server.deregister_job, opts.namespace, job_id,
                                         purge=purge)
        set_index(resp, result.index)
        resp.media = result.to_api()


class JobAllocationsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     job_id: str) -> None:
        snap, opts = await self.read(req, resp, Table.ALLOCS)
        allocs = sorted(snap.allocs_by_job(opts.namespace, job_id),
                        key=lambda a: (-a.create_index, a.id))
        resp.media = [alloc_stub(a) for a in allocs]


class JobEvaluationsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     job_id: str) -> None:
        snap, opts = await self.read(req, resp, Table.EVALS)
        evals = sorted(snap.evals_by_job(opts.namespace, job_id),
                       key=lambda e: (-e.create_index, e.id))
        resp.media = [to_api(e) for e in evals]


class JobVersionsResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     job_id: str) -> None:
        snap, opts = await self.read(req, resp, Table.JOB_VERSIONS)
        versions = snap.job_versions(opts.namespace, job_id)
        if not versions:
            raise NotFound(JOB_NOT_FOUND)
        diffs = None
        if bool_param(req, "diffs"):
            # Nomad: Diffs[i] turns version i+1 (older) into version i (newer).
            diffs = [diff_jobs(older, newer) for newer, older in pairwise(versions)]
        resp.media = {"Versions": [to_api(v) for v in versions], "Diffs": diffs}


class JobSummaryResource(Resource):
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     job_id: str) -> None:
        summary, _ = await self.read_one(
            req, resp, Table.JOB_SUMMARIES,
            lambda snap, opts: snap.job_summary(opts.namespace, job_id))
        if summary is None:
            raise NotFound(JOB_NOT_FOUND)
        resp.media = to_api(summary)


class JobPlanResource(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      job_id: str) -> None:
        body = await read_object(req)
        job = _decode_job(body, job_id)
        server = self.agent.require_server()
        result = await asyncio.to_thread(server.plan_job, job, diff=bool(body.get("Diff")))
        set_index(resp, result.index)
        resp.media = result.to_api()

    on_put = on_post


class JobEvaluateResource(Resource):
    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      job_id: str) -> None:
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        result = await asyncio.to_thread(server.evaluate_job, opts.namespace, job_id)
        set_index(resp, result.index)
        resp.media = result.to_api()

    on_put = on_post


class JobDeploymentsResource(Resource):
    """GET /v1/job/:id/deployments (list) and /v1/job/:id/deployment (latest).

    As in Nomad, only the deployments of the job as it exists now count --
    not those of an earlier job of the same ID that was purged and registered
    again -- unless ``?all=true`` (list only)."""

    def __init__(self, agent: AgentAPI, *, latest: bool):
        super().__init__(agent)
        self.latest = latest

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     job_id: str) -> None:
        every = not self.latest and bool_param(req, "all")
        snap, opts = await self.read(req, resp, Table.DEPLOYMENTS)
        deployments = snap.deployments_by_job(opts.namespace, job_id)
        job = snap.job_by_id(opts.namespace, job_id)
        if not every and job is not None:
            deployments = [d for d in deployments if d.job_create_index == job.create_index]
        if self.latest:
            # Nomad answers JSON null, not an empty body, when there is none; Go clients
            # cannot decode an empty body.
            resp.text = json.dumps(to_api(deployments[0]) if deployments else None)
            resp.content_type = falcon.MEDIA_JSON
        else:
            resp.media = [to_api(d) for d in deployments]


@dataclass(slots=True)
class RevertBody:
    job_id: str = ""
    job_version: int = 0
    enforce_prior_version: int | None = None


@dataclass(slots=True)
class StableBody:
    job_id: str = ""
    job_version: int = 0
    stable: bool = False


async def _version_body(req: falcon.asgi.Request, cls: type[V], job_id: str) -> V:
    """A revert or stability body, checked as Nomad checks it."""
    body = from_api(cls, await read_object(req), "body")
    if not body.job_id:
        raise BadRequest("JobID must be specified")
    if body.job_id != job_id:
        raise BadRequest(f"Job ID does not match: body has {body.job_id!r}, URL has {job_id!r}")
    if body.job_version < 0:
        raise BadRequest(f"JobVersion must not be negative, got {body.job_version}")
    return body


class JobRevertResource(Resource):
    """POST/PUT /v1/job/:id/revert {"JobID", "JobVersion", "EnforcePriorVersion"}."""

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      job_id: str) -> None:
        body = await _version_body(req, RevertBody, job_id)
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        result = await asyncio.to_thread(server.jobs.revert, opts.namespace, job_id,
                                         body.job_version,
                                         enforce_prior_version=body.enforce_prior_version)
        set_index(resp, result.index)
        resp.media = result.to_api()

    on_put = on_post


class JobStableResource(Resource):
    """POST/PUT /v1/job/:id/stable {"JobID", "JobVersion", "Stable"}."""

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      job_id: str) -> None:
        body = await _version_body(req, StableBody, job_id)
        server = self.agent.require_server()
        opts = query_options(req, self.agent.region)
        index = await asyncio.to_thread(server.jobs.set_stability, opts.namespace, job_id,
                                        body.job_version, body.stable)
        set_index(resp, index)
        resp.media = {"Index": index}

    on_put = on_post


class JobPaths:
    """Routes /v1/job/<id>[/<action>] by suffix, as Nomad does, because job IDs may
    contain slashes (dispatched and periodic children: ``parent/dispatch-...``)."""

    def __init__(self, agent: AgentAPI):
        self.actions: dict[str, object] = {
            "allocations": JobAllocationsResource(agent),
            "evaluations": JobEvaluationsResource(agent),
            "versions": JobVersionsResource(agent),
            "summary": JobSummaryResource(agent),
            "plan": JobPlanResource(agent),
            "evaluate": JobEvaluateResource(agent),
            "deployments": JobDeploymentsResource(agent, latest=False),
            "deployment": JobDeploymentsResource(agent, latest=True),
            "revert": JobRevertResource(agent),
            "stable": JobStableResource(agent),
            "scale": JobScaleResource(agent),
        }
        self.job = JobResource(agent)

    def _resolve(self, path: str) -> tuple[object, str]:
        head, _, action = path.rpartition("/")
        if head and action in self.actions:
            return self.actions[action], head
        return self.job, path

    async def _dispatch(self, method: str, req: falcon.asgi.Request,
                        resp: falcon.asgi.Response, path: str) -> None:
        resource, job_id = self._resolve(path)
        handler = getattr(resource, method, None)
        if handler is None:
            raise falcon.HTTPMethodNotAllowed(
                [m[3:].upper() for m in ("on_get", "on_post", "on_put", "on_delete")
                 if hasattr(resource, m)])
        await handler(req, resp, job_id)

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     path: str) -> None:
        await self._dispatch("on_get", req, resp, path)

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                      path: str) -> None:
        await self._dispatch("on_post", req, resp, path)

    async def on_put(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                     path: str) -> None:
        await self._dispatch("on_put", req, resp, path)

    async def on_delete(self, req: falcon.asgi.Request, resp: falcon.asgi.Response,
                        path: str) -> None:
        await self._dispatch("on_delete", req, resp, path)


class ValidateJobResource(Resource):
    """POST /v1/validate/job: Nomad's Job.Validate — the answer is 200 with the problems
    listed (``ValidationErrors``), not an error, so `job validate` can print them all."""

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        body = await read_object(req)
        if body.get("Job") is None:
            raise BadRequest("Job must be specified")
        job = from_api(Job, body["Job"], "Job")
        job.canonicalize()
        errors: list[str] = []
        try:
            job.validate()
        except ValidationError as err:
            errors.extend(err.errors)
        for validator in self.agent.require_server().config.job_validators:
            errors.extend(validator(job))
        resp.media = {"DriverConfigValidated": True, "ValidationErrors": errors,
                      "Error": multierror(errors) if errors else "", "Warnings": ""}

    on_put = on_post
