"""The checks the client runs for Nomad-provider services: real http and tcp probes on
loopback, the results Nomad reports (status, status code, output, mode), pending until
the first run, the consecutive-run thresholds, and forgetting a workload's checks."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from nomadjail.client.services.nomad_checks import (
    HTTP_OK,
    TCP_OK,
    WAITING,
    NomadCheck,
    NomadChecks,
    _Observer,
    probe,
)
from nomadjail.client.services.workload import CheckDefinition
from nomadjail.structs import SECOND
from nomadjail.structs.check_result import CheckQueryResult, check_result_json
from nomadjail.testing import free_port, wait_for


class Recording:
    """An HTTP server that records each request and answers with ``status``/``body``;
    ``/moved`` redirects to ``/``."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"fine"
        self.requests: list[dict[str, Any]] = []
        recording = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recording.requests.append({
                    "method": self.command, "path": self.path,
                    "headers": dict(self.headers), "body": self.rfile.read(length)})
                if self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(recording.status)
                self.send_header("Content-Length", str(len(recording.body)))
                self.end_headers()
                self.wfile.write(recording.body)

            do_GET = do_POST = do_PUT = _answer  # noqa: N815 - http.server's method names

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def web() -> Iterator[Recording]:
    server = Recording()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def runner() -> Iterator[NomadChecks]:
    checks = NomadChecks(workers=2)
    try:
        yield checks
    finally:
        checks.stop()


def http(url: str, **kwargs: Any) -> CheckDefinition:
    return CheckDefinition(**{"check_id": "c1", "name": "alive", "service_id": "s1",
                              "type": "http", "http": url, "method": "GET",
                              "interval": SECOND, "timeout": SECOND, **kwargs})


def tcp(address: str, **kwargs: Any) -> CheckDefinition:
    return CheckDefinition(**{"check_id": "c2", "name": "port", "service_id": "s1",
                              "type": "tcp", "tcp": address, "interval": SECOND,
                              "timeout": SECOND, **kwargs})


def test_an_http_check_sends_its_method_headers_and_body(web):
    check = http(f"http://127.0.0.1:{web.port}/health?deep=1", method="POST",
                 header=(("X-Probe", ("a", "b")),), body='{"ping": true}')
    assert probe(check) == ("success", 200, HTTP_OK)
    [request] = web.requests
    assert (request["method"], request["path"], request["body"]) == (
        "POST", "/health?deep=1", b'{"ping": true}')
    assert request["headers"]["X-Probe"] == "a, b"
    assert request["headers"]["User-Agent"]


def test_http_answers_decide_the_status_and_the_output(web):
    url = f"http://127.0.0.1:{web.port}/"
    web.status, web.body = 201, b"created"
    assert probe(http(url)) == ("success", 201, "created")  # 2xx other than 200: its body
    web.status, web.body = 503, b"down for maintenance" + b"x" * 5000
    status, code, output = probe(http(url))
    assert (status, code) == ("failure", 503)
    assert output.startswith("down for maintenance") and len(output) == 3 * 1024
    web.status, web.body = 200, b"ok"
    assert probe(http(f"http://127.0.0.1:{web.port}/moved")) == ("success", 200, HTTP_OK)


def test_an_http_check_nobody_answers_fails_saying_why():
    url = f"http://127.0.0.1:{free_port()}/health"
    status, code, output = probe(http(url))
    assert (status, code) == ("failure", 0)
    assert output.startswith(f'nomad: GET "{url}": ') and "refused" in output.lower()


def test_tcp_checks_connect():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert probe(tcp(f"127.0.0.1:{port}")) == ("success", 0, TCP_OK)
    status, _, output = probe(tcp(f"127.0.0.1:{free_port()}"))
    assert status == "failure" and "refused" in output.lower()


def observer(**kwargs: Any) -> _Observer:
    return _Observer(NomadCheck("a1", http("http://x/", **kwargs)),
                     CheckQueryResult(id="c1", status="pending"))


def test_consecutive_runs_needed_before_the_status_changes():
    held = observer(success_before_passing=2, failures_before_critical=3)
    held.apply("success", 200, HTTP_OK, 1)
    assert (held.result.status, held.result.output, held.result.timestamp) == (
        "pending", HTTP_OK, 1)  # the latest run is shown; the status waits
    held.apply("success", 200, HTTP_OK, 2)
    assert held.result.status == "success"
    for n in range(2):
        held.apply("failure", 500, "boom", 3 + n)
        assert held.result.status == "success"
    held.apply("failure", 500, "boom", 5)
    assert (held.result.status, held.result.status_code) == ("failure", 500)
    plain = observer()
    plain.apply("failure", 0, "refused", 1)
    assert plain.result.status == "failure"


def test_results_are_pending_until_the_first_run_then_follow_the_service(web, runner):
    url = f"http://127.0.0.1:{web.port}/health"
    runner.observe([NomadCheck("a1", http(url), group="shop.web[0]", task="server",
                               service="web"),
                    NomadCheck("a1", tcp(f"127.0.0.1:{web.port}", on_update="ignore"),
                               group="shop.web[0]", service="web")])
    stub = runner.results("a1")["c1"]
    assert (stub.status, stub.output, stub.mode) == ("pending", WAITING, "healthiness")
    assert runner.statuses() == {"c1": "", "c2": ""}
    wait_for(lambda: runner.results("a1")["c1"].status == "success", timeout=10,
             message="the http check to succeed")
    result = runner.results("a1")["c1"]
    assert check_result_json(result) == {
        "ID": "c1", "Mode": "healthiness", "Status": "success", "StatusCode": 200,
        "Output": HTTP_OK, "Timestamp": result.timestamp, "Group": "shop.web[0]",
        "Task": "server", "Service": "web", "Check": "alive"}
    wait_for(lambda: runner.results("a1")["c2"].status == "success", timeout=10,
             message="the tcp check to succeed")
    assert "Task" not in check_result_json(runner.results("a1")["c2"])  # a group service's
    assert runner.results("a1")["c2"].mode == "readiness"
    web.status = 500
    wait_for(lambda: runner.statuses().get("c1") == "critical", timeout=10,
             message="the http check to fail")

    runner.forget("a1", ["c1"])
    assert set(runner.results("a1")) == {"c2"}
    runner.forget("a1", ["c2"])
    assert runner.results("a1") == {} and runner.statuses() == {}


def test_an_initial_status_is_reported_until_the_first_run(runner):
    runner.observe([NomadCheck("a1", http("http://127.0.0.1:1/", initial_status="passing")),
                    NomadCheck("a1", tcp("127.0.0.1:1", initial_status="critical"))])
    assert {cid: r.status for cid, r in runner.results("a1").items()} == {
        "c1": "success", "c2": "failure"}
