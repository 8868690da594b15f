"""nomadjail.api._transport: read budgets, connection reasons, and RequestsTransport on a socket."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from nomadjail.api._errors import ApiConnectionError
from nomadjail.api._transport import (
    DEFAULT_BLOCKING_WAIT,
    ApiResponse,
    RequestsTransport,
    connection_reason,
    read_timeout,
)
from nomadjail.testing import free_port

# --------------------------------------------------------------------------- read budget


def test_an_ordinary_request_waits_the_timeout():
    assert read_timeout(30.0, None, False) == 30.0
    assert read_timeout(30.0, {"namespace": "ops", "wait": "5s"}, False) == 30.0


def test_a_blocking_query_adds_its_wait_and_nomads_jitter():
    assert read_timeout(10.0, {"index": "5", "wait": "16s"}, False) == 10.0 + 17.0
    assert read_timeout(10.0, {"index": "5", "wait": "1600ms"}, False) == pytest.approx(11.7)


def test_a_blocking_query_without_a_readable_wait_allows_nomads_default():
    default = 10.0 + DEFAULT_BLOCKING_WAIT * 17 / 16
    assert read_timeout(10.0, {"index": "5"}, False) == default
    assert read_timeout(10.0, {"index": "5", "wait": ""}, False) == default
    assert read_timeout(10.0, {"index": "5", "wait": "soon"}, False) == default


def test_a_stream_has_no_read_timeout():
    assert read_timeout(30.0, {"index": "5", "wait": "1s"}, True) is None


# --------------------------------------------------------------------------- reasons


@pytest.mark.parametrize("text, reason", [
    ("HTTPConnectionPool(...): [Errno 111] Connection refused", "connect: connection refused"),
    ("NewConnectionError(ConnectionRefusedError())", "connect: connection refused"),
    ("HTTPConnectionPool(host='h', port=1): Read timed out. (read timeout=5)", "i/o timeout"),
    ("Connection to h timed out", "i/o timeout"),
    ("[Errno -2] Name or service not known", "no such host"),
    ("nodename nor servname provided, or not known", "no such host"),
    ("something else broke", "something else broke"),
])
def test_connection_reasons_use_the_go_clients_words(text, reason):
    assert connection_reason(OSError(text)) == reason


# --------------------------------------------------------------------------- responses


def test_read_returns_a_whole_body_streamed_or_not():
    assert ApiResponse(200, {}, b"whole").read() == b"whole"
    assert ApiResponse(200, {}, iter([b"str", b"", b"eamed"])).read() == b"streamed"


# --------------------------------------------------------------------------- real socket


class _Echo(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _echo(self) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        data = json.dumps({
            "Method": self.command, "Path": url.path,
            "Query": {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()},
            "ContentType": self.headers.get("Content-Type"),
            "Token": self.headers.get("X-Nomad-Token"), "Body": body.decode(),
        }).encode()
        self.send_response(200)
        self.send_header("X-Nomad-Index", "5")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = _echo  # http.server dispatches on these names


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_json_body_is_sent_as_json_with_params_and_headers(echo_server):
    transport = RequestsTransport(echo_server + "/", timeout=5)
    try:
        response = transport.request("PUT", "/v1/jobs", {"region": "eu"}, {"Job": {"ID": "w"}},
                                     {"X-Nomad-Token": "t0k"})
    finally:
        transport.close()
    assert response.status == 200 and response.headers["X-Nomad-Index"] == "5"
    echoed = json.loads(response.read())
    assert echoed == {"Method": "PUT", "Path": "/v1/jobs", "Query": {"region": "eu"},
                      "ContentType": "application/json", "Token": "t0k",
                      "Body": json.dumps({"Job": {"ID": "w"}})}


def test_a_request_without_a_body_sends_no_content_type(echo_server):
    transport = RequestsTransport(echo_server, timeout=5)
    try:
        response = transport.request("GET", "/v1/jobs", None, None, {}, stream=True)
        echoed = json.loads(response.read())
    finally:
        transport.close()
    assert not isinstance(response.body, bytes)  # a stream arrives as chunks
    assert echoed["ContentType"] is None and echoed["Body"] == ""


def test_nothing_listening_is_a_connection_error_naming_the_method():
    address = f"http://127.0.0.1:{free_port()}"
    transport = RequestsTransport(address, timeout=5)
    try:
        with pytest.raises(ApiConnectionError) as caught:
            transport.request("DELETE", "/v1/job/web", None, None, {})
    finally:
        transport.close()
    assert str(caught.value) == f'Delete "{address}/v1/job/web": connect: connection refused'


def test_an_address_without_a_scheme_is_refused_before_any_socket():
    with pytest.raises(ApiConnectionError, match="it needs a scheme") as caught:
        RequestsTransport("127.0.0.1:4646").request("GET", "/v1/jobs", None, None, {})
    assert caught.value.url == "127.0.0.1:4646/v1/jobs"
