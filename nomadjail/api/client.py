"""The client for Nomad's public HTTP API: :class:`ApiClient`.

Used by the CLI, the tests and any Python tool that talks to a nomadjail (or
Nomad) cluster.  Method names follow Nomad's Go ``api`` package in snake
case; answers are decoded into :mod:`nomadjail.structs` objects where a
struct exists, while list stubs (JobListStub, AllocListStub, NodeListStub)
and small response envelopes stay plain dicts with Nomad's PascalCase keys.

Reads return ``(value, QueryMeta)``; passing ``index=`` (and optionally
``wait=`` seconds) turns a read into a blocking query that answers once the
server's index moves past ``index`` or the wait runs out.  Writes return
``(response, WriteMeta)``.

Every request goes through a :class:`~nomadjail.api.Transport`, so the same
client runs against a real socket (:class:`~nomadjail.api.RequestsTransport`,
the default) or a fake in tests.  Errors are the tree drawn in
``api/_errors.py``.

Import these names from :mod:`nomadjail.api`.  This module re-exports the
transport, error, metadata and stream names it defined before they moved to
the package's private modules, so ``from nomadjail.api.client import …`` keeps
working for the callers that still use it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from ..structs import (
    Allocation,
    DecodeError,
    Deployment,
    Evaluation,
    Job,
    JobSummary,
    Node,
    NodeEligibility,
    ServiceRegistration,
    from_api,
    to_api,
)
from ..structs.check_result import CheckQueryResult
from ._errors import (
    ApiBadRequest,
    ApiConflict,
    ApiConnectionError,
    ApiError,
    ApiNotFound,
    ApiPermissionDenied,
    ApiUnavailable,
    error_for_status,
)
from ._meta import QueryMeta, WriteMeta, query_meta, write_meta
from ._streams import StreamFrame, decode_frames, plain_frames
from ._transport import (
    DEFAULT_ADDRESS,
    DEFAULT_TIMEOUT,
    ApiResponse,
    RequestsTransport,
    Transport,
)
from .variables import KeyringApi, VariablesApi

T = TypeVar("T")

ALL_NAMESPACES = "*"
"""The ``namespace`` that lists across every namespace (``-namespace '*'``)."""

# The names this module exported before the split; callers outside nomadjail/api
# import some of them from here (prefer nomadjail.api).
__all__ = [
    "DEFAULT_ADDRESS", "DEFAULT_TIMEOUT", "ALL_NAMESPACES", "ApiClient", "ApiResponse",
    "Transport", "RequestsTransport", "QueryMeta", "WriteMeta", "StreamFrame", "ApiError",
    "ApiBadRequest", "ApiPermissionDenied", "ApiNotFound", "ApiConflict", "ApiUnavailable",
    "ApiConnectionError", "error_for_status",
]


# --------------------------------------------------------------------------- decoding


def _decode(cls: type[T], data: Any) -> T:
    """``from_api``, with an answer that does not fit the struct reported as an API error."""
    try:
        return from_api(cls, data)
    except DecodeError as err:
        raise ApiError(200, f"unexpected answer: {err}") from None


def _decode_list(cls: type[T], data: Any) -> list[T]:
    return [_decode(cls, item) for item in (data or [])]


def _by_create_index_desc(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first, as the Go client's AllocIndexSort/EvalIndexSort order them."""
    return sorted(items, key=lambda item: -int(item.get("CreateIndex") or 0))


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --------------------------------------------------------------------------- client


@dataclass
class ApiClient:
    """Talks to one agent's HTTP API.

    ``region``, ``namespace`` and ``token`` apply to every request unless a
    call overrides them (``namespace=`` on the method).
    """

    address: str = DEFAULT_ADDRESS
    _: KW_ONLY
    region: str | None = None
    namespace: str | None = None
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    transport: Transport | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.address = self.address.rstrip("/")
        if self.transport is None:
            self.transport = RequestsTransport(self.address, timeout=self.timeout)

    # ----------------------------------------------------------------- plumbing

    def _params(self, params: Mapping[str, Any] | None, namespace: str | None,
                region: str | None) -> dict[str, str]:
        out: dict[str, str] = {}
        if region or self.region:
            out["region"] = str(region or self.region)
        if namespace or self.namespace:
            out["namespace"] = str(namespace or self.namespace)
        for key, value in (params or {}).items():
            if value is None:
                continue
            out[key] = _bool(value) if isinstance(value, bool) else str(value)
        return out

    def _headers(self) -> dict[str, str]:
        return {"X-Nomad-Token": self.token} if self.token else {}

    def _send(self, method: str, path: str, params: dict[str, str], body: Any,
              stream: bool = False) -> ApiResponse:
        assert self.transport is not None
        response = self.transport.request(method, path, params, body, self._headers(),
                                          stream=stream)
        if response.status >= 400 or response.status < 200:
            text = response.read().decode("utf-8", "replace").strip()
            raise error_for_status(response.status, text)
        return response

    @staticmethod
    def _json(response: ApiResponse) -> Any:
        raw = response.read()
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as err:
            raise ApiError(response.status, f"response is not valid JSON: {err}") from None

    def query(self, path: str, params: Mapping[str, Any] | None = None, *,
              namespace: str | None = None, region: str | None = None, index: int = 0,
              wait: float | None = None, stale: bool = False,
              prefix: str = "") -> tuple[Any, QueryMeta]:
        """GET ``path``: the decoded JSON answer and its QueryMeta.

        ``index``/``wait`` (seconds) make it a blocking query.
        """
        merged: dict[str, Any] = dict(params or {})
        if index:
            merged["index"] = index
        if wait is not None:
            merged["wait"] = f"{int(wait * 1000)}ms"
        if stale:
            merged["stale"] = ""
        if prefix:
            merged["prefix"] = prefix
        response = self._send("GET", path, self._params(merged, namespace, region), None)
        return self._json(response), query_meta(response.headers)

    def write(self, method: str, path: str, body: Any = None,
              params: Mapping[str, Any] | None = None, *, namespace: str | None = None,
              region: str | None = None) -> tuple[Any, WriteMeta]:
        """PUT/POST/DELETE ``path``: the decoded JSON answer and its WriteMeta."""
        response = self._send(method, path, self._params(params, namespace, region), body)
        return self._json(response), write_meta(response.headers)

    # ----------------------------------------------------------------- jobs

    def jobs(self, prefix: str = "", *, namespace: str | None = None, index: int = 0,
             wait: float | None = None) -> tuple[list[dict[str, Any]], QueryMeta]:
        """JobListStubs, sorted by ID."""
        data, meta = self.query("/v1/jobs", namespace=namespace, prefix=prefix, index=index,
                                wait=wait)
        return sorted(data or [], key=lambda stub: stub.get("ID", "")), meta

    def job(self, job_id: str, *, namespace: str | None = None, index: int = 0,
            wait: float | None = None) -> tuple[Job, QueryMeta]:
        data, meta = self.query(f"/v1/job/{quote(job_id, safe='')}", namespace=namespace,
                                index=index, wait=wait)
        return _decode(Job, data), meta

    def register_job(self, job: Job, *, enforce_index: bool = False, job_modify_index: int = 0,
                     submission: Mapping[str, Any] | None = None, namespace: str | None = None,
                     region: str | None = None) -> tuple[dict[str, Any], WriteMeta]:
        """PUT /v1/jobs; the answer is Nomad's JobRegisterResponse (EvalID, Warnings ...)."""
        body: dict[str, Any] = {"Job": to_api(job)}
        if enforce_index:
            body["EnforceIndex"] = True
            body["JobModifyIndex"] = job_modify_index
        if submission is not None:
            body["Submission"] = dict(submission)
        data, meta = self.write("PUT", "/v1/jobs", body, namespace=namespace, region=region)
        return data or {}, meta

    def parse_job(self, hcl: str, *, canonicalize: bool = False, variables: str = "") -> Job:
        """Let the server turn HCL into a Job (PUT /v1/jobs/parse)."""
        body = {"JobHCL": hcl, "Canonicalize": canonicalize, "Variables": variables}
        data, _ = self.write("PUT", "/v1/jobs/parse", body)
        return _decode(Job, data)

    def plan_job(self, job: Job, *, diff: bool = True, namespace: str | None = None,
                 region: str | None = None) -> tuple[dict[str, Any], WriteMeta]:
        """A scheduler dry run: Nomad's JobPlanResponse (Diff, Annotations, FailedTGAllocs ...)."""
        body = {"Job": to_api(job), "Diff": diff}
        data, meta = self.write("PUT", f"/v1/job/{quote(job.id, safe='')}/plan", body,
                                namespace=namespace, region=region)
        return data or {}, meta

    def validate_job(self, job: Job, *, region: str | None = None) -> dict[str, Any]:
        """Server-side validation: Nomad's JobValidateResponse (Error, ValidationErrors ...)."""
        data, _ = self.write("PUT", "/v1/validate/job", {"Job": to_api(job)}, region=region)
        return data or {}

    def job_versions(self, job_id: str, *, diffs: bool = False,
                     namespace: str | None = None) -> tuple[list[Job], list[dict[str, Any]],
                                                            QueryMeta]:
        """Every stored version of a job, newest first, and (if asked) the diffs between them."""
        data, meta = self.query(f"/v1/job/{quote(job_id, safe='')}/versions",
                                {"diffs": diffs}, namespace=namespace)
        data = data or {}
        return _decode_list(Job, data.get("Versions")), list(data.get("Diffs") or []), meta

    def job_summary(self, job_id: str, *, namespace: str | None = None, index: int = 0,
                    wait: float | None = None) -> tuple[JobSummary, QueryMeta]:
        data, meta = self.query(f"/v1/job/{quote(job_id, safe='')}/summary",
                                namespace=namespace, index=index, wait=wait)
        return _decode(JobSummary, data), meta

    def job_allocations(self, job_id: str, *, all_allocs: bool = False,
                        namespace: str | None = None, index: int = 0,
                        wait: float | None = None) -> tuple[list[dict[str, Any]], QueryMeta]:
        """AllocListStubs of the job, newest first."""
        data, meta = self.query(f"/v1/job/{quote(job_id, safe='')}/allocations",
                                {"all": all_allocs}, namespace=namespace, index=index,
                                wait=wait)
        return _by_create_index_desc(data or []), meta

    def job_evaluations(self, job_id: str, *, namespace: str | None = None
                        ) -> tuple[list[Evaluation], QueryMeta]:
        """The job's evaluations, newest first."""
        data, meta = self.query(f"/v1/job/{quote(job_id, safe='')}/evaluations",
                                namespace=namespace)
        return _decode_list(Evaluation, _by_create_index_desc(data or [])), meta

    def job_latest_deployment(self, job_id: str, *, namespace: str | None = None
                              ) -> tuple[Deployment | None, QueryMeta]:
        """The job's most recent deployment, or None if it never had one."""
        data, meta = self.query(f"/v1/job/{quote(job_id, safe='')}/deployment",
                                namespace=namespace)
        return (_decode(Deployment, data) if data else None), meta

    def job_deployments(self, job_id: str, *, all_versions: bool = False,
                        namespace: str | None = None) -> tuple[list[Deployment], QueryMeta]:
        """The job's deployments, newest first; ``all_versions`` adds those of an older
        job that had the same ID (Nomad's ``all=true``)."""
        data, meta = self.query(f"/v1/job/{quote(job_id, safe='')}/deployments",
                                {"all": all_versions}, namespace=namespace)
        return _decode_list(Deployment, _by_create_index_desc(data or [])), meta

    def revert_job(self, job_id: str, version: int, *, enforce_prior_version: int | None = None,
                   namespace: str | None = None) -> tuple[dict[str, Any], WriteMeta]:
        """Register ``version`` of the job again as its newest version (PUT /v1/job/:id/revert).

        With ``enforce_prior_version`` the server only reverts while the job is
        still at that version.  The answer is Nomad's JobRegisterResponse
        (EvalID, EvalCreateIndex, JobModifyIndex, Warnings).
        """
        body: dict[str, Any] = {"JobID": job_id, "JobVersion": version,
                                "EnforcePriorVersion": enforce_prior_version}
        data, meta = self.write("PUT", f"/v1/job/{quote(job_id, safe='')}/revert", body,
                                namespace=namespace)
        return data or {}, meta

    def scale_job(self, job_id: str, group: str, count: int | None, *, message: str = "",
                  error: bool = False, meta: dict[str, Any] | None = None,
                  policy_override: bool = False,
                  namespace: str | None = None) -> tuple[dict[str, Any], WriteMeta]:
        """Set one group's count (PUT /v1/job/:id/scale, Nomad's ScalingRequest);
        the answer is a JobRegisterResponse (EvalID, EvalCreateIndex, ...)."""
        body: dict[str, Any] = {"Count": count, "Target": {"Group": group}, "Message": message,
                                "Error": error, "Meta": meta, "PolicyOverride": policy_override}
        data, wmeta = self.write("PUT", f"/v1/job/{quote(job_id, safe='')}/scale", body,
                                 namespace=namespace)
        return data or {}, wmeta

    def job_scale_status(self, job_id: str, *,
                         namespace: str | None = None) -> tuple[dict[str, Any], QueryMeta]:
        """Nomad's JobScaleStatus (GET /v1/job/:id/scale)."""
        data, meta = self.query(f"/v1/job/{quote(job_id, safe='')}/scale", namespace=namespace)
        return data or {}, meta

    def scaling_policies(self, *, job: str = "", policy_type: str = "",
                         namespace: str | None = None) -> tuple[list[dict[str, Any]], QueryMeta]:
        """ScalingPolicyListStubs (GET /v1/scaling/policies)."""
        params = {k: v for k, v in (("job", job), ("type", policy_type)) if v}
        data, meta = self.query("/v1/scaling/policies", params, namespace=namespace)
        return data or [], meta

    def scaling_policy(self, policy_id: str) -> tuple[dict[str, Any], QueryMeta]:
        """One ScalingPolicy (GET /v1/scaling/policy/:id)."""
        data, meta = self.query(f"/v1/scaling/policy/{quote(policy_id, safe='')}")
        return data or {}, meta

    def set_job_stability(self, job_id: str, version: int, stable: bool, *,
                          namespace: str | None = None) -> tuple[dict[str, Any], WriteMeta]:
        """Mark a job version stable or not (PUT /v1/job/:id/stable): the version
        ``auto_revert`` goes back to.  A Nomad server answers its
        JobStabilityResponse, ``{"Index": N}`` (the API docs' sample shows a
        ``JobModifyIndex`` that the server never fills in)."""
        body = {"JobID": job_id, "JobVersion": version, "Stable": stable}
        data, meta = self.write("PUT", f"/v1/job/{quote(job_id, safe='')}/stable", body,
                                namespace=namespace)
        return data or {}, meta

    def job_version_by_tag(self, job_id: str, tag: str, *, namespace: str | None = None
                           ) -> int | None:
        """The number of the job version tagged ``tag`` (Nomad's ``VersionTag.Name``),
        None when no version carries the tag."""
        data, _ = self.query(f"/v1/job/{quote(job_id, safe='')}/versions", {"diffs": False},
                             namespace=namespace)
        for version in (data or {}).get("Versions") or []:
            if ((version.get("VersionTag") or {}).get("Name")) == tag:
                return int(version.get("Version") or 0)
        return None

    def deregister_job(self, job_id: str, *, purge: bool = False,
                       namespace: str | None = None) -> tuple[dict[str, Any], WriteMeta]:
        """DELETE /v1/job/:id; the answer is Nomad's JobDeregisterResponse (EvalID ...)."""
        data, meta = self.write("DELETE", f"/v1/job/{quote(job_id, safe='')}",
                                params={"purge": purge}, namespace=namespace)
        return data or {}, meta

    # ----------------------------------------------------------------- evaluations

    def evaluations(self, prefix: str = "", *, namespace: str | None = None
                    ) -> tuple[list[Evaluation], QueryMeta]:
        """Evaluations (optionally by ID prefix), newest first."""
        data, meta = self.query("/v1/evaluations", namespace=namespace, prefix=prefix)
        return _decode_list(Evaluation, _by_create_index_desc(data or [])), meta

    def evaluation(self, eval_id: str, *, namespace: str | None = None, index: int = 0,
                   wait: float | None = None) -> tuple[Evaluation, QueryMeta]:
        data, meta = self.query(f"/v1/evaluation/{quote(eval_id, safe='')}", {"related": True},
                                namespace=namespace, index=index, wait=wait)
        return _decode(Evaluation, data), meta

    def evaluation_allocations(self, eval_id: str, *, namespace: str | None = None,
                               index: int = 0, wait: float | None = None
                               ) -> tuple[list[dict[str, Any]], QueryMeta]:
        """AllocListStubs the evaluation placed or changed, newest first."""
        data, meta = self.query(f"/v1/evaluation/{quote(eval_id, safe='')}/allocations",
                                namespace=namespace, index=index, wait=wait)
        return _by_create_index_desc(data or []), meta

    # ----------------------------------------------------------------- allocations

    def allocations(self, prefix: str = "", *, namespace: str | None = None, index: int = 0,
                    wait: float | None = None) -> tuple[list[dict[str, Any]], QueryMeta]:
        """AllocListStubs (optionally by ID prefix), newest first."""
        data, meta = self.query("/v1/allocations", namespace=namespace, prefix=prefix,
                                index=index, wait=wait)
        return _by_create_index_desc(data or []), meta

    def allocation(self, alloc_id: str, *, namespace: str | None = None, index: int = 0,
                   wait: float | None = None) -> tuple[Allocation, QueryMeta]:
        data, meta = self.query(f"/v1/allocation/{quote(alloc_id, safe='')}",
                                namespace=namespace, index=index, wait=wait)
        return _decode(Allocation, data), meta

    def stop_allocation(self, alloc_id: str, *, reschedule: bool = False,
                        no_shutdown_delay: bool = False, namespace: str | None = None
                        ) -> tuple[dict[str, Any], WriteMeta]:
        """Stop (and let the scheduler replace) one allocation; the answer holds EvalID."""
        params: dict[str, Any] = {}
        if reschedule:
            params["reschedule"] = True
        if no_shutdown_delay:
            params["no_shutdown_delay"] = True
        data, meta = self.write("PUT", f"/v1/allocation/{quote(alloc_id, safe='')}/stop",
                                params=params, namespace=namespace)
        return data or {}, meta

    def signal_allocation(self, alloc_id: str, *, task: str = "", signal: str = "",
                          namespace: str | None = None) -> None:
        """Send ``signal`` (the client's default: SIGKILL) to one task, or to every task
        of the allocation when ``task`` is empty."""
        self.write("POST", f"/v1/client/allocation/{quote(alloc_id, safe='')}/signal",
                   {"Task": task, "Signal": signal}, namespace=namespace)

    def allocation_stats(self, alloc_id: str, *, namespace: str | None = None
                         ) -> dict[str, Any]:
        """Live resource usage from the client running the allocation."""
        data, _ = self.query(f"/v1/client/allocation/{quote(alloc_id, safe='')}/stats",
                             namespace=namespace)
        return data or {}

    def allocation_checks(self, alloc_id: str, *, namespace: str | None = None
                          ) -> dict[str, CheckQueryResult]:
        """The latest results of the allocation's Nomad service checks, by check ID, from
        the client running it."""
        data, _ = self.query(f"/v1/client/allocation/{quote(alloc_id, safe='')}/checks",
                             namespace=namespace)
        if not isinstance(data, dict):
            return {}
        return {check_id: _decode(CheckQueryResult, raw) for check_id, raw in data.items()}

    def allocation_logs(self, alloc_id: str, task: str, *, log_type: str = "stdout",
                        origin: str = "start", offset: int = 0, follow: bool = False,
                        plain: bool = False, namespace: str | None = None
                        ) -> Iterator[StreamFrame]:
        """A task's stdout or stderr as frames, in order; heartbeats are dropped.

        With ``follow`` the iterator keeps waiting for new output until the
        task's log ends or the caller closes the generator.  The request is
        sent (and errors raised) on the first ``next()``.
        """
        params = self._params({"task": task, "type": log_type, "origin": origin,
                               "offset": offset, "follow": follow, "plain": plain},
                              namespace, None)
        path = f"/v1/client/fs/logs/{quote(alloc_id, safe='')}"
        response = self._send("GET", path, params, None, stream=True)
        chunks = [response.body] if isinstance(response.body, bytes) else response.body
        try:
            yield from (plain_frames(chunks) if plain else decode_frames(chunks))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    # ----------------------------------------------------------------- deployments

    def deployment(self, deployment_id: str, *, namespace: str | None = None, index: int = 0,
                   wait: float | None = None, stale: bool = False
                   ) -> tuple[Deployment, QueryMeta]:
        data, meta = self.query(f"/v1/deployment/{quote(deployment_id, safe='')}",
                                namespace=namespace, index=index, wait=wait, stale=stale)
        return _decode(Deployment, data), meta

    def deployment_allocations(self, deployment_id: str, *, namespace: str | None = None
                               ) -> tuple[list[dict[str, Any]], QueryMeta]:
        """AllocListStubs placed by the deployment, newest first."""
        data, meta = self.query(f"/v1/deployment/allocations/{quote(deployment_id, safe='')}",
                                namespace=namespace)
        return _by_create_index_desc(data or []), meta

    def deployments(self, prefix: str = "", *, filter_expr: str = "",
                    namespace: str | None = None, index: int = 0, wait: float | None = None
                    ) -> tuple[list[Deployment], QueryMeta]:
        """Deployments (optionally by ID prefix or a ``filter`` expression), newest first."""
        params = {"filter": filter_expr} if filter_expr else None
        data, meta = self.query("/v1/deployments", params, namespace=namespace, prefix=prefix,
                                index=index, wait=wait)
        return _decode_list(Deployment, _by_create_index_desc(data or [])), meta

    def _deployment_update(self, action: str, deployment_id: str, body: dict[str, Any],
                           namespace: str | None) -> tuple[dict[str, Any], WriteMeta]:
        """PUT /v1/deployment/<action>/:id; the answer is Nomad's DeploymentUpdateResponse
        (EvalID, EvalCreateIndex, DeploymentModifyIndex, RevertedJobVersion)."""
        data, meta = self.write("PUT", f"/v1/deployment/{action}/{quote(deployment_id, safe='')}",
                                {"DeploymentID": deployment_id, **body}, namespace=namespace)
        return data or {}, meta

    def fail_deployment(self, deployment_id: str, *, namespace: str | None = None
                        ) -> tuple[dict[str, Any], WriteMeta]:
        """Mark a running deployment failed (and roll back if its groups auto-revert)."""
        return self._deployment_update("fail", deployment_id, {}, namespace)

    def pause_deployment(self, deployment_id: str, pause: bool, *,
                         namespace: str | None = None) -> tuple[dict[str, Any], WriteMeta]:
        """Pause (``pause=True``) or resume a deployment."""
        return self._deployment_update("pause", deployment_id, {"Pause": pause}, namespace)

    def promote_deployment(self, deployment_id: str, groups: Sequence[str] = (), *,
                           namespace: str | None = None) -> tuple[dict[str, Any], WriteMeta]:
        """Promote the canaries of ``groups``, or of every group when none is named."""
        body: dict[str, Any] = ({"Groups": list(groups)} if groups else {"All": True})
        return self._deployment_update("promote", deployment_id, body, namespace)

    def set_deployment_alloc_health(self, deployment_id: str, *,
                                    healthy: Sequence[str] = (), unhealthy: Sequence[str] = (),
                                    namespace: str | None = None
                                    ) -> tuple[dict[str, Any], WriteMeta]:
        """Set the deployment health of allocations by hand (``health_check = "manual"``)."""
        body = {"HealthyAllocationIDs": list(healthy),
                "UnhealthyAllocationIDs": list(unhealthy)}
        return self._deployment_update("allocation-health", deployment_id, body, namespace)

    # ----------------------------------------------------------------- variables

    def variables(self) -> VariablesApi:
        """Nomad Variables (``/v1/vars``, ``/v1/var/<path>``)."""
        return VariablesApi(self)

    def keyring(self) -> KeyringApi:
        """The servers' root keys (``/v1/operator/keyring``)."""
        return KeyringApi(self)

    # ----------------------------------------------------------------- services

    def services(self, prefix: str = "", *, filter_expr: str = "",
                 namespace: str | None = None, index: int = 0,
                 wait: float | None = None) -> tuple[list[dict[str, Any]], QueryMeta]:
        """Nomad-provider services per namespace: ``[{"Namespace": ..., "Services":
        [{"ServiceName": ..., "Tags": [...]}]}]`` (``namespace="*"`` for all of them;
        ``prefix`` on the service name)."""
        data, meta = self.query("/v1/services", {"filter": filter_expr or None},
                                namespace=namespace, prefix=prefix, index=index, wait=wait)
        return list(data or []), meta

    def service(self, name: str, *, tag: str = "", choose: str = "", per_page: int = 0,
                next_token: str = "", filter_expr: str = "", namespace: str | None = None,
                index: int = 0, wait: float | None = None
                ) -> tuple[list[ServiceRegistration], QueryMeta]:
        """The registered instances of service ``name`` (only those tagged ``tag``, if
        given; ``choose="<n>|<key>"`` picks n of them stably for key).  A next page is
        announced in ``QueryMeta.next_token``."""
        params: dict[str, Any] = {"tag": tag or None, "choose": choose or None,
                                  "per_page": per_page or None,
                                  "next_token": next_token or None,
                                  "filter": filter_expr or None}
        data, meta = self.query(f"/v1/service/{quote(name, safe='')}", params,
                                namespace=namespace, index=index, wait=wait)
        return _decode_list(ServiceRegistration, data), meta

    def delete_service_registration(self, name: str, reg_id: str, *,
                                    namespace: str | None = None) -> WriteMeta:
        """Remove one instance of service ``name`` (``service delete``)."""
        _, meta = self.write("DELETE", f"/v1/service/{quote(name, safe='')}/"
                             f"{quote(reg_id, safe='')}", namespace=namespace)
        return meta

    def allocation_services(self, alloc_id: str, *, namespace: str | None = None,
                            index: int = 0, wait: float | None = None
                            ) -> tuple[list[ServiceRegistration], QueryMeta]:
        """The Nomad-provider instances one allocation registered."""
        data, meta = self.query(f"/v1/allocation/{quote(alloc_id, safe='')}/services",
                                namespace=namespace, index=index, wait=wait)
        return _decode_list(ServiceRegistration, data), meta

    # ----------------------------------------------------------------- nodes

    def nodes(self, prefix: str = "", *, os: bool = False, index: int = 0,
              wait: float | None = None) -> tuple[list[dict[str, Any]], QueryMeta]:
        """NodeListStubs (optionally by ID prefix)."""
        params = {"os": True} if os else None
        data, meta = self.query("/v1/nodes", params, prefix=prefix, index=index, wait=wait)
        return list(data or []), meta

    def node(self, node_id: str, *, index: int = 0, wait: float | None = None,
             stale: bool = False) -> tuple[Node, QueryMeta]:
        data, meta = self.query(f"/v1/node/{quote(node_id, safe='')}", index=index, wait=wait,
                                stale=stale)
        return _decode(Node, data), meta

    def node_allocations(self, node_id: str, *, index: int = 0, wait: float | None = None,
                         stale: bool = False) -> tuple[list[Allocation], QueryMeta]:
        data, meta = self.query(f"/v1/node/{quote(node_id, safe='')}/allocations",
                                index=index, wait=wait, stale=stale)
        return _decode_list(Allocation, data), meta

    def update_node_drain(self, node_id: str, *, drain_spec: Mapping[str, Any] | None,
                          mark_eligible: bool = False,
                          meta: Mapping[str, str] | None = None
                          ) -> tuple[dict[str, Any], WriteMeta]:
        """Start (``drain_spec`` = {"Deadline": ns, "IgnoreSystemJobs": bool}) or cancel a drain."""
        body = {"NodeID": node_id, "DrainSpec": dict(drain_spec) if drain_spec else None,
                "MarkEligible": mark_eligible, "Meta": dict(meta) if meta else None}
        data, wmeta = self.write("PUT", f"/v1/node/{quote(node_id, safe='')}/drain", body)
        return data or {}, wmeta

    def update_node_eligibility(self, node_id: str, eligible: bool
                                ) -> tuple[dict[str, Any], WriteMeta]:
        body = {"NodeID": node_id, "Eligibility": str(NodeEligibility.ELIGIBLE if eligible
                                                       else NodeEligibility.INELIGIBLE)}
        data, meta = self.write("PUT", f"/v1/node/{quote(node_id, safe='')}/eligibility", body)
        return data or {}, meta

    def node_stats(self, node_id: str) -> dict[str, Any]:
        """Host statistics of a client node (GET /v1/client/stats)."""
        data, _ = self.query("/v1/client/stats", {"node_id": node_id})
        return data or {}

    # ----------------------------------------------------------------- agent, status

    def agent_self(self) -> dict[str, Any]:
        """``{"config": ..., "member": ..., "stats": ...}`` of the agent answering."""
        data, _ = self.query("/v1/agent/self")
        return data or {}

    def agent_members(self) -> dict[str, Any]:
        """Nomad's ServerMembers: ServerName, ServerRegion, ServerDC, Members."""
        data, _ = self.query("/v1/agent/members")
        return data or {}

    def status_leader(self, region: str | None = None) -> str:
        """The leader's rpc address (``ip:port``) in ``region``; "" if there is none."""
        data, _ = self.query("/v1/status/leader", region=region)
        return data or ""

    def regions(self) -> list[str]:
        data, _ = self.query("/v1/regions")
        return sorted(data or [])
