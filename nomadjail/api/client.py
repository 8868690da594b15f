"""A small client for Nomad's public HTTP API.

Used by the CLI, the tests and any Python tool that talks to a nomadjail (or
Nomad) cluster.  Method names follow Nomad's Go ``api`` package in snake
case; answers are decoded into :mod:`nomadjail.structs` objects where a
struct exists, while list stubs (JobListStub, AllocListStub, NodeListStub)
and small response envelopes stay plain dicts with Nomad's PascalCase keys.

Reads return ``(value, QueryMeta)``; passing ``index=`` (and optionally
``wait=`` seconds) turns a read into a blocking query that answers once the
server's index moves past ``index`` or the wait runs out.  Writes return
``(response, WriteMeta)``.

Every request goes through a :class:`Transport`, so the same client runs
against a real socket (:class:`RequestsTransport`, the default) or a fake in
tests.

Errors (all are :class:`nomadjail.structs.NomadError`)::

    ApiError                    the server answered with an error status
    ├── ApiBadRequest           400  (also a structs.BadRequest)
    ├── ApiPermissionDenied     403  (also a structs.PermissionDenied)
    ├── ApiNotFound             404  (also a structs.NotFound)
    ├── ApiConflict             409  (also a structs.Conflict)
    ├── ApiUnavailable          500 and other 5xx (also a structs.Unavailable)
    └── ApiConnectionError      no HTTP answer at all: refused, timed out, bad URL

``str(err)`` reads like the Go client's: ``Unexpected response code: 404
(job not found)``; ``err.message`` is the server's plain-text body alone.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from ..structs import (
    Allocation,
    BadRequest,
    Conflict,
    DecodeError,
    Deployment,
    Evaluation,
    Job,
    JobSummary,
    Node,
    NodeEligibility,
    NomadError,
    NotFound,
    PermissionDenied,
    Unavailable,
    from_api,
    parse_duration,
    to_api,
)

T = TypeVar("T")

DEFAULT_ADDRESS = "http://127.0.0.1:4646"
DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for an ordinary answer; blocking queries add their wait to it."""
DEFAULT_BLOCKING_WAIT = 300.0
"""Nomad's server-side default wait for a blocking query without ``wait``."""

ALL_NAMESPACES = "*"

__all__ = [
    "DEFAULT_ADDRESS", "DEFAULT_TIMEOUT", "ALL_NAMESPACES", "ApiClient", "ApiResponse",
    "Transport", "RequestsTransport", "QueryMeta", "WriteMeta", "StreamFrame", "ApiError",
    "ApiBadRequest", "ApiPermissionDenied", "ApiNotFound", "ApiConflict", "ApiUnavailable",
    "ApiConnectionError", "error_for_status",
]


# --------------------------------------------------------------------------- errors


class ApiError(NomadError):
    """The server answered a request with an error status."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = "Unexpected response code"
        if self.status or self.message:
            text += ": "
        if self.status:
            text += str(self.status) + (" " if self.message else "")
        if self.message:
            text += f"({self.message})"
        return text


class ApiBadRequest(ApiError, BadRequest):
    pass


class ApiPermissionDenied(ApiError, PermissionDenied):
    pass


class ApiNotFound(ApiError, NotFound):
    pass


class ApiConflict(ApiError, Conflict):
    pass


class ApiUnavailable(ApiError, Unavailable):
    pass


class ApiConnectionError(ApiError):
    """No HTTP answer: the address is wrong, nothing listens, or it timed out."""

    def __init__(self, method: str, url: str, reason: str):
        self.method = method
        self.url = url
        self.reason = reason
        super().__init__(0, reason)

    def _describe(self) -> str:
        return f'{self.method.capitalize()} "{self.url}": {self.reason}'


_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: ApiBadRequest,
    403: ApiPermissionDenied,
    404: ApiNotFound,
    409: ApiConflict,
}


def error_for_status(status: int, message: str) -> ApiError:
    """The ApiError subclass Nomad's status code stands for."""
    if status in _ERRORS_BY_STATUS:
        return _ERRORS_BY_STATUS[status](status, message)
    if status >= 500:
        return ApiUnavailable(status, message)
    return ApiError(status, message)


# --------------------------------------------------------------------------- transport


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """One HTTP answer.

    ``body`` is the whole body as bytes, or, for a request made with
    ``stream=True``, an iterable of byte chunks that ends with the response;
    closing it (if it has ``close``) abandons the stream.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes | Iterable[bytes]


class Transport(Protocol):
    """Carries one request to the server and brings back its answer.

    ``path`` starts with ``/v1/``; ``params`` are the query parameters;
    ``json_body`` (if not None) is sent as JSON.  Raises
    :class:`ApiConnectionError` when no answer arrives; an error status is
    an answer, not an exception.
    """

    def request(self, method: str, path: str, params: Mapping[str, str] | None,
                json_body: Any, headers: Mapping[str, str],
                stream: bool = False) -> ApiResponse: ...


class RequestsTransport:
    """The real transport: HTTP(S) with ``requests`` and one pooled session.

    A blocking query may legitimately take its whole ``wait`` (and Nomad adds
    up to 1/16 jitter), so the read timeout grows with it; streams (log
    follow) have no read timeout at all.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, *, timeout: float = DEFAULT_TIMEOUT):
        import requests  # imported here: the CLI's --help should not pay for it

        self.address = address.rstrip("/")
        self.timeout = timeout
        self._requests = requests
        self._session = requests.Session()

    def _read_timeout(self, params: Mapping[str, str] | None, stream: bool) -> float | None:
        if stream:
            return None
        params = params or {}
        if "index" not in params:
            return self.timeout
        wait = DEFAULT_BLOCKING_WAIT
        if params.get("wait"):
            try:
                wait = parse_duration(params["wait"]) / 1e9
            except ValueError:
                pass
        return self.timeout + wait * 17 / 16

    def request(self, method: str, path: str, params: Mapping[str, str] | None,
                json_body: Any, headers: Mapping[str, str],
                stream: bool = False) -> ApiResponse:
        url = self.address + path
        if "://" not in self.address:
            raise ApiConnectionError(method, url, f"invalid address {self.address!r}: it needs "
                                     "a scheme, as in http://127.0.0.1:4646")
        data = None
        send_headers = dict(headers)
        if json_body is not None:
            data = json.dumps(json_body).encode()
            send_headers["Content-Type"] = "application/json"
        try:
            response = self._session.request(
                method, url, params=dict(params or {}), data=data, headers=send_headers,
                stream=stream, timeout=(self.timeout, self._read_timeout(params, stream)))
        except (self._requests.exceptions.InvalidURL,
                self._requests.exceptions.InvalidSchema) as err:
            raise ApiConnectionError(method, url, f"invalid address: {err}") from None
        except self._requests.exceptions.RequestException as err:
            raise ApiConnectionError(method, url, _connection_reason(err)) from None
        if not stream:
            return ApiResponse(response.status_code, dict(response.headers), response.content)
        return ApiResponse(response.status_code, dict(response.headers),
                           _ClosingChunks(response))

    def close(self) -> None:
        self._session.close()


def _connection_reason(err: Exception) -> str:
    text = str(err)
    if "Connection refused" in text or "ConnectionRefused" in text:
        return "connect: connection refused"
    if "timed out" in text.lower():
        return "i/o timeout"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "no such host"
    return text


class _ClosingChunks:
    """Body chunks of a streamed response; ``close()`` hangs up the connection."""

    def __init__(self, response: Any):
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._response.iter_content(chunk_size=None):
                if chunk:
                    yield chunk
        except Exception as err:  # noqa: BLE001 - a dropped stream is an API failure
            if self._response.raw is not None and self._response.raw.closed:
                return
            raise ApiConnectionError("GET", self._response.url, str(err)) from None
        finally:
            self._response.close()

    def close(self) -> None:
        self._response.close()


# --------------------------------------------------------------------------- metadata


@dataclass(frozen=True, slots=True)
class QueryMeta:
    """What a read's headers say about the answer.

    ``last_index`` is the index to pass back as ``index=`` to block for the
    next change; ``last_contact`` is how long ago (ns) the answering server
    last heard from the leader.
    """

    last_index: int = 0
    known_leader: bool = False
    last_contact: int = 0  # ns
    next_token: str = ""


@dataclass(frozen=True, slots=True)
class WriteMeta:
    last_index: int = 0


@dataclass(frozen=True, slots=True)
class StreamFrame:
    """One frame of a streamed file (``/v1/client/fs/logs``): raw bytes and where they are."""

    data: bytes = b""
    offset: int = 0
    file: str = ""
    file_event: str = ""

    def is_heartbeat(self) -> bool:
        return not self.data and not self.file_event and not self.file and not self.offset


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def _query_meta(headers: Mapping[str, str]) -> QueryMeta:
    def as_int(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            return 0

    return QueryMeta(last_index=as_int(_header(headers, "X-Nomad-Index")),
                     known_leader=_header(headers, "X-Nomad-KnownLeader") == "true",
                     last_contact=as_int(_header(headers, "X-Nomad-LastContact")) * 1_000_000,
                     next_token=_header(headers, "X-Nomad-NextToken"))


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
            raw = response.body if isinstance(response.body, bytes) else b"".join(response.body)
            raise error_for_status(response.status, raw.decode("utf-8", "replace").strip())
        return response

    @staticmethod
    def _json(response: ApiResponse) -> Any:
        raw = response.body if isinstance(response.body, bytes) else b"".join(response.body)
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
        return self._json(response), _query_meta(response.headers)

    def write(self, method: str, path: str, body: Any = None,
              params: Mapping[str, Any] | None = None, *, namespace: str | None = None,
              region: str | None = None) -> tuple[Any, WriteMeta]:
        """PUT/POST/DELETE ``path``: the decoded JSON answer and its WriteMeta."""
        response = self._send(method, path, self._params(params, namespace, region), body)
        return self._json(response), WriteMeta(_query_meta(response.headers).last_index)

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
        data, meta = self.query(f"/v1/job/{quote(job_id, safe='')}/deployment",
                                namespace=namespace)
        return (_decode(Deployment, data) if data else None), meta

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
            if plain:
                for chunk in chunks:
                    if chunk:
                        yield StreamFrame(data=chunk)
            else:
                yield from _decode_frames(chunks)
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


def _decode_frames(chunks: Iterable[bytes]) -> Iterator[StreamFrame]:
    """Frames from a body of JSON objects written back to back (whitespace allowed)."""
    decoder = json.JSONDecoder()
    buffer = ""
    pending = b""
    for chunk in chunks:
        pending += chunk
        try:
            text = pending.decode("utf-8")
            pending = b""
        except UnicodeDecodeError as err:  # a multi-byte character split between chunks
            text = pending[:err.start].decode("utf-8")
            pending = pending[err.start:]
        buffer += text
        while True:
            stripped = buffer.lstrip()
            if not stripped:
                buffer = ""
                break
            try:
                obj, end = decoder.raw_decode(stripped)
            except ValueError:
                buffer = stripped
                break  # an incomplete object: wait for more bytes
            buffer = stripped[end:]
            frame = _frame(obj)
            if frame is not None and not frame.is_heartbeat():
                yield frame
    if buffer.strip():
        raise ApiError(200, f"failed to decode log endpoint response as JSON: {buffer[:80]!r}")


def _frame(obj: Any) -> StreamFrame | None:
    if not isinstance(obj, dict):
        return None
    data = obj.get("Data") or ""
    try:
        raw = base64.b64decode(data) if data else b""
    except ValueError:
        raise ApiError(200, f"log frame Data is not base64: {str(data)[:40]!r}") from None
    return StreamFrame(data=raw, offset=int(obj.get("Offset") or 0), file=obj.get("File") or "",
                       file_event=obj.get("FileEvent") or "")

