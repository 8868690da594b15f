"""nomadjail.api.ApiClient: requests it makes, answers it decodes, errors it raises."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from nomadjail.api import (
    ApiBadRequest,
    ApiClient,
    ApiConflict,
    ApiConnectionError,
    ApiError,
    ApiNotFound,
    ApiPermissionDenied,
    ApiUnavailable,
    QueryMeta,
    RequestsTransport,
)
from nomadjail.structs import (
    Allocation,
    BadRequest,
    Deployment,
    DeploymentStatus,
    NotFound,
    to_api,
)
from nomadjail.testing import free_port, mock_alloc, mock_eval, mock_job, mock_node
from nomadjail.testing import nomad_samples as samples


@pytest.fixture
def client(fake):
    return ApiClient("http://127.0.0.1:4646", transport=fake)


def frame(data: bytes, offset: int = 0, file: str = "alloc/logs/web.stdout.0") -> bytes:
    return json.dumps({"File": file, "Offset": offset,
                       "Data": base64.b64encode(data).decode()}).encode()


def test_blocking_query_sends_index_and_wait_and_reads_meta(client, fake):
    fake.on("GET", "/v1/jobs", [], index=42)
    jobs, meta = client.jobs(index=41, wait=2.5)
    assert jobs == []
    assert meta == QueryMeta(last_index=42, known_leader=True, last_contact=0)
    assert fake.last("GET", "/v1/jobs").params == {"index": "41", "wait": "2500ms"}


def test_defaults_and_per_call_overrides(fake):
    client = ApiClient(region="eu", namespace="ops", token="secret", transport=fake)
    fake.on("GET", "/v1/job/web", to_api(mock_job(job_id="web")))
    client.job("web")
    client.job("web", namespace="dev")
    first, second = [r for r in fake.requests if r.path == "/v1/job/web"]
    assert first.params == {"region": "eu", "namespace": "ops"}
    assert second.params == {"region": "eu", "namespace": "dev"}
    assert first.headers == {"X-Nomad-Token": "secret"}


def test_answers_become_structs(client, fake):
    job = mock_job(job_id="web")
    node = mock_node()
    alloc = mock_alloc(job, node)
    evaluation = mock_eval(job)
    fake.on("GET", "/v1/job/web", to_api(job))
    fake.on("GET", f"/v1/allocation/{alloc.id}", to_api(alloc))
    fake.on("GET", f"/v1/evaluation/{evaluation.id}", to_api(evaluation))
    assert client.job("web")[0] == job
    decoded = client.allocation(alloc.id)[0]
    assert isinstance(decoded, Allocation) and decoded.id == alloc.id
    assert client.evaluation(evaluation.id)[0] == evaluation
    assert fake.last("GET", f"/v1/evaluation/{evaluation.id}").params == {"related": "true"}


def test_lists_are_sorted_like_the_go_client(client, fake):
    fake.on("GET", "/v1/jobs", [{"ID": "b"}, {"ID": "a"}])
    fake.on("GET", "/v1/allocations", [{"ID": "x", "CreateIndex": 3},
                                       {"ID": "y", "CreateIndex": 9}])
    assert [j["ID"] for j in client.jobs()[0]] == ["a", "b"]
    assert [a["ID"] for a in client.allocations()[0]] == ["y", "x"]


def test_register_sends_nomads_request_shape(client, fake):
    fake.on("PUT", "/v1/jobs", {"EvalID": "e1", "JobModifyIndex": 7}, index=7)
    job = mock_job(job_id="web")
    response, meta = client.register_job(job, enforce_index=True, job_modify_index=5)
    assert response["EvalID"] == "e1" and meta.last_index == 7
    body = fake.last("PUT", "/v1/jobs").body
    assert body == {"Job": to_api(job), "EnforceIndex": True, "JobModifyIndex": 5}


def test_deregister_with_purge(client, fake):
    fake.on("DELETE", "/v1/job/web", {"EvalID": "e2"})
    assert client.deregister_job("web", purge=True)[0]["EvalID"] == "e2"
    assert fake.last("DELETE", "/v1/job/web").params == {"purge": "true"}


def test_ids_are_escaped_in_paths(client, fake):
    fake.on("GET", "/v1/job/a%2Fb", to_api(mock_job(job_id="a/b")))
    assert client.job("a/b")[0].id == "a/b"


@pytest.mark.parametrize("status, kind, base", [
    (400, ApiBadRequest, BadRequest), (403, ApiPermissionDenied, ApiError),
    (404, ApiNotFound, NotFound), (409, ApiConflict, ApiError),
    (500, ApiUnavailable, ApiError), (503, ApiUnavailable, ApiError), (429, ApiError, ApiError),
])
def test_error_statuses_map_to_errors(client, fake, status, kind, base):
    fake.on("GET", "/v1/job/web", status=status, text="job not found")
    with pytest.raises(kind) as caught:
        client.job("web")
    assert isinstance(caught.value, base)
    assert caught.value.status == status
    assert caught.value.message == "job not found"
    assert str(caught.value) == f"Unexpected response code: {status} (job not found)"


def test_invalid_json_answer(client, fake):
    fake.on("GET", "/v1/jobs", text="<html>")
    with pytest.raises(ApiError, match="not valid JSON"):
        client.jobs()


def test_latest_deployment_may_be_null(client, fake):
    fake.on("GET", "/v1/job/web/deployment", None)
    assert client.job_latest_deployment("web")[0] is None


def test_versions_and_diffs(client, fake):
    v1, v0 = mock_job(job_id="web"), mock_job(job_id="web")
    v1.version = 1
    fake.on("GET", "/v1/job/web/versions",
            {"Versions": [to_api(v1), to_api(v0)], "Diffs": [{"Type": "Edited"}]})
    versions, diffs, _ = client.job_versions("web", diffs=True)
    assert [v.version for v in versions] == [1, 0]
    assert diffs == [{"Type": "Edited"}]
    assert fake.last("GET", "/v1/job/web/versions").params == {"diffs": "true"}


def test_logs_decode_frames_split_anywhere_and_skip_heartbeats(client, fake):
    body = frame(b"hello ") + b"{}" + frame("wörld\n".encode(), 6)
    chunks = [body[i:i + 7] for i in range(0, len(body), 7)]  # cut inside JSON and UTF-8
    fake.stream("/v1/client/fs/logs/a1", chunks)
    frames = list(client.allocation_logs("a1", "web", follow=True))
    assert b"".join(f.data for f in frames) == "hello wörld\n".encode()
    assert [f.offset for f in frames] == [0, 6]
    request = fake.last("GET", "/v1/client/fs/logs/a1")
    assert request.params == {"task": "web", "type": "stdout", "origin": "start",
                              "offset": "0", "follow": "true", "plain": "false"}


def test_plain_logs_are_raw_bytes(client, fake):
    fake.stream("/v1/client/fs/logs/a1", [b"one\n", b"two\n"])
    frames = list(client.allocation_logs("a1", "web", plain=True, log_type="stderr"))
    assert b"".join(f.data for f in frames) == b"one\ntwo\n"


def test_log_errors_raise_on_first_read(client, fake):
    fake.on("GET", "/v1/client/fs/logs/a1", status=404, text="unknown allocation")
    stream = client.allocation_logs("a1", "web")
    with pytest.raises(ApiNotFound, match="unknown allocation"):
        next(stream)


def test_truncated_frame_stream_is_an_error(client, fake):
    fake.stream("/v1/client/fs/logs/a1", [frame(b"ok"), b'{"Data": "aGk'])
    with pytest.raises(ApiError, match="failed to decode log endpoint response"):
        list(client.allocation_logs("a1", "web"))


# --------------------------------------------------------------------------- real HTTP


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if url.path == "/v1/jobs":
            body = json.dumps([{"ID": "web", "Query": query,
                                "Token": self.headers.get("X-Nomad-Token")}]).encode()
            self.send_response(200)
            self.send_header("X-Nomad-Index", "17")
            self.send_header("X-Nomad-KnownLeader", "true")
            self.send_header("X-Nomad-LastContact", "3")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif url.path == "/v1/client/fs/logs/a1":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for data in (frame(b"line 1\n"), frame(b"line 2\n", 7)):
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        else:
            body = b"job not found"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    server.protocol_version = "HTTP/1.1"
    _Handler.protocol_version = "HTTP/1.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_requests_transport_against_a_real_socket(http_server):
    client = ApiClient(http_server, namespace="ops", token="t0k")
    try:
        jobs, meta = client.jobs(index=3, wait=1)
        assert jobs[0]["Query"] == {"namespace": "ops", "index": "3", "wait": "1000ms"}
        assert jobs[0]["Token"] == "t0k"
        assert meta == QueryMeta(last_index=17, known_leader=True, last_contact=3_000_000)
        with pytest.raises(ApiNotFound, match=r"404 \(job not found\)"):
            client.job("nope")
        frames = list(client.allocation_logs("a1", "web", follow=True))
        assert b"".join(f.data for f in frames) == b"line 1\nline 2\n"
    finally:
        assert isinstance(client.transport, RequestsTransport)
        client.transport.close()


def test_nothing_listening_is_a_connection_error():
    address = f"http://127.0.0.1:{free_port()}"
    client = ApiClient(address, timeout=5)
    with pytest.raises(ApiConnectionError) as caught:
        client.jobs()
    assert str(caught.value) == f'Get "{address}/v1/jobs": connect: connection refused'


def test_address_without_scheme_is_explained():
    with pytest.raises(ApiConnectionError, match="needs a scheme"):
        ApiClient("127.0.0.1:4646").jobs()




def test_answer_that_does_not_fit_the_struct_is_an_api_error(client, fake):
    fake.on("GET", "/v1/job/web", {"ID": 5})
    with pytest.raises(ApiError, match=r"unexpected answer: Job\.ID: expected a string"):
        client.job("web")


# --------------------------------------------------------------------------- deployments


def test_deployments_decode_nomads_documented_answers(client, fake):
    older = samples.deployment(ID="5f271fe2-1111-2222-3333-444444444444", CreateIndex=9)
    fake.on("GET", "/v1/deployments", [older, samples.DEPLOYMENT], index=19)
    deployments, meta = client.deployments("7063", filter_expr='Status == "running"')
    assert [d.id for d in deployments] == [samples.DEPLOYMENT["ID"], older["ID"]]
    first = deployments[0]
    assert isinstance(first, Deployment) and first.status == DeploymentStatus.RUNNING
    cache = first.task_groups["cache"]
    assert (cache.desired_canaries, cache.desired_total, cache.placed_allocs) == (1, 3, 1)
    assert meta.last_index == 19
    assert fake.last("GET", "/v1/deployments").params == {
        "prefix": "7063", "filter": 'Status == "running"'}


def test_deployment_writes_send_nomads_request_bodies(client, fake):
    dep = samples.DEPLOYMENT["ID"]
    for action in ("fail", "pause", "promote", "allocation-health"):
        fake.on("PUT", f"/v1/deployment/{action}/{dep}", samples.DEPLOYMENT_UPDATE_RESPONSE,
                index=20)
    response, meta = client.fail_deployment(dep)
    assert response["RevertedJobVersion"] == 1 and meta.last_index == 20
    client.pause_deployment(dep, True)
    client.pause_deployment(dep, False, namespace="prod")
    client.promote_deployment(dep)
    client.promote_deployment(dep, ["web", "api-server"])
    client.set_deployment_alloc_health(dep, healthy=["eb13bc8a-7300-56f3-14c0-d4ad115ec3f5"])
    sent = [(r.path.split("/")[3], r.body, r.params) for r in fake.requests]
    assert sent == [
        ("fail", {"DeploymentID": dep}, {}),
        ("pause", {"DeploymentID": dep, "Pause": True}, {}),
        ("pause", {"DeploymentID": dep, "Pause": False}, {"namespace": "prod"}),
        ("promote", {"DeploymentID": dep, "All": True}, {}),
        ("promote", {"DeploymentID": dep, "Groups": ["web", "api-server"]}, {}),
        ("allocation-health", {"DeploymentID": dep,
                               "HealthyAllocationIDs": ["eb13bc8a-7300-56f3-14c0-d4ad115ec3f5"],
                               "UnhealthyAllocationIDs": []}, {}),
    ]
    assert {r.method for r in fake.requests} == {"PUT"}


def test_deployment_write_errors_raise(client, fake):
    fake.on("PUT", "/v1/deployment/promote/abc", status=400, text="no canaries to promote")
    with pytest.raises(ApiBadRequest, match=r"400 \(no canaries to promote\)"):
        client.promote_deployment("abc")


def test_job_deployments_revert_and_stability(client, fake):
    fake.on("GET", "/v1/job/my-job/deployments",
            [samples.deployment(CreateIndex=5), samples.deployment(ID="b", CreateIndex=8)])
    deployments, _ = client.job_deployments("my-job", all_versions=True)
    assert [d.id for d in deployments] == ["b", samples.DEPLOYMENT["ID"]]
    assert fake.last("GET", "/v1/job/my-job/deployments").params == {"all": "true"}

    fake.on("PUT", "/v1/job/my-job/revert", samples.JOB_REGISTER_RESPONSE)
    response, _ = client.revert_job("my-job", 2, enforce_prior_version=3)
    assert response == samples.JOB_REGISTER_RESPONSE
    assert fake.last("PUT", "/v1/job/my-job/revert").body == {
        "JobID": "my-job", "JobVersion": 2, "EnforcePriorVersion": 3}

    fake.on("PUT", "/v1/job/my-job/stable", {"JobModifyIndex": 34})
    response, _ = client.set_job_stability("my-job", 2, True)
    assert response == {"JobModifyIndex": 34}
    assert fake.last("PUT", "/v1/job/my-job/stable").body == {
        "JobID": "my-job", "JobVersion": 2, "Stable": True}


def test_version_by_tag(client, fake):
    fake.on("GET", "/v1/job/my-job/versions", {"Versions": [
        {"ID": "my-job", "Version": 4, "VersionTag": None},
        {"ID": "my-job", "Version": 2, "VersionTag": {"Name": "golden-version"}},
    ], "Diffs": None})
    assert client.job_version_by_tag("my-job", "golden-version") == 2
    assert client.job_version_by_tag("my-job", "silver") is None
    assert fake.last("GET", "/v1/job/my-job/versions").params == {"diffs": "false"}
