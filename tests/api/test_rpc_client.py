"""HTTPServerRPC against a small HTTP server on loopback: paths, token, failover, errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from nomadjail.api import ApiConnectionError, ApiUnavailable
from nomadjail.api.rpc_client import HTTPServerRPC, NoServersError
from nomadjail.structs import Allocation, NotFound, PermissionDenied, Unavailable, to_api
from nomadjail.testing import free_port, mock_alloc, mock_job, mock_node
from nomadjail.testing.fake_nomad import FakeNomad


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.responses: dict[str, tuple[int, object]] = {}


@pytest.fixture
def rpc_server():
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _handle(self) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            recorder.requests.append({"method": self.command, "path": url.path,
                                      "query": parse_qs(url.query), "body": body,
                                      "token": self.headers.get("X-Nomad-Token")})
            status, payload = recorder.responses.get(url.path, (200, {}))
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(payload, str)
                             else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_register_then_calls_carry_the_node_secret(rpc_server):
    address, recorder = rpc_server
    recorder.responses["/v1/rpc/Node.Register"] = (200, {"HeartbeatTTL": 12_000_000_000,
                                                         "Index": 5, "Servers": [address]})
    rpc = HTTPServerRPC([address])
    node = mock_node()
    response = rpc.register(node)
    assert (response.heartbeat_ttl, response.index) == (12_000_000_000, 5)
    rpc.update_status(node.id, "ready")
    register, heartbeat = recorder.requests
    assert register["path"] == "/v1/rpc/Node.Register"
    assert register["body"]["Node"]["ID"] == node.id
    assert register["token"] == heartbeat["token"] == node.secret_id
    assert heartbeat["body"] == {"NodeID": node.id, "Status": "ready"}
    rpc.close()


def test_blocking_query_and_alloc_calls(rpc_server):
    address, recorder = rpc_server
    alloc = mock_alloc(mock_job(), mock_node())
    recorder.responses["/v1/rpc/Node.GetClientAllocs"] = (200, {"Allocs": {alloc.id: 7},
                                                                "Index": 9})
    recorder.responses["/v1/rpc/Alloc.GetAllocs"] = (200, {"Allocs": [to_api(alloc)],
                                                           "Index": 9})
    rpc = HTTPServerRPC([address])
    node = mock_node()
    rpc.register(node)
    assert rpc.get_client_allocs(node.id, 4, 1.5) == ({alloc.id: 7}, 9)
    query = recorder.requests[-1]
    assert query["method"] == "GET"
    assert query["query"] == {"node_id": [node.id], "index": ["4"], "wait": ["1500ms"]}
    pulled = rpc.get_allocs([alloc.id])
    assert [a.id for a in pulled] == [alloc.id] and pulled[0].job.id == alloc.job.id
    assert recorder.requests[-1]["body"] == {"NodeID": node.id, "AllocIDs": [alloc.id]}
    rpc.update_allocs([Allocation(id=alloc.id, client_status="running")])
    update = recorder.requests[-1]
    assert update["path"] == "/v1/rpc/Node.UpdateAlloc"
    assert update["body"]["NodeID"] == node.id
    assert update["body"]["Alloc"][0]["ClientStatus"] == "running"


def test_fails_over_to_the_next_server(rpc_server):
    address, recorder = rpc_server
    dead = f"127.0.0.1:{free_port()}"
    rpc = HTTPServerRPC([dead, address], timeout=2)
    rpc.register(mock_node())
    assert len(recorder.requests) == 1
    assert rpc.servers()[0] == address  # it sticks with the server that answered


def test_no_server_answering(rpc_server):
    rpc = HTTPServerRPC([f"127.0.0.1:{free_port()}"], timeout=2)
    with pytest.raises(NoServersError, match="Node.Register: no server answered"):
        rpc.register(mock_node())


def test_errors_map_to_nomad_errors(rpc_server):
    address, recorder = rpc_server
    rpc = HTTPServerRPC([address])
    recorder.responses["/v1/rpc/Node.UpdateStatus"] = (404, "node not found")
    with pytest.raises(NotFound, match="node not found"):
        rpc.update_status("x", "ready")
    recorder.responses["/v1/rpc/Node.UpdateStatus"] = (403, "Permission denied")
    with pytest.raises(PermissionDenied):
        rpc.update_status("x", "ready")
    recorder.responses["/v1/rpc/Node.UpdateStatus"] = (500, "No cluster leader")
    with pytest.raises(Unavailable, match="No cluster leader"):
        rpc.update_status("x", "ready")


# -- through the transport seam: leader preference and failover --------------------------

class Unreachable:
    """A transport for an address where nothing listens."""

    def request(self, method, path, params, json_body, headers, stream=False):
        raise ApiConnectionError(method, path, "connect: connection refused")


def cluster(*names: str, dead: tuple[str, ...] = ()
            ) -> tuple[dict[str, FakeNomad], HTTPServerRPC]:
    """Servers ``names`` (each a FakeNomad at http://<name>:4647) and a client of them."""
    fakes = {f"http://{name}:4647": FakeNomad() for name in names}
    rpc = HTTPServerRPC([f"{name}:4647" for name in names],
                        transport_factory=lambda address: (
                            Unreachable() if address.split("//")[1].split(":")[0] in dead
                            else fakes[address].at(address)))
    return fakes, rpc


def test_calls_go_to_the_leader_the_last_answer_named():
    fakes, rpc = cluster("a", "b", "c")
    fakes["http://a:4647"].on("POST", "/v1/rpc/Node.Register",
                              {"HeartbeatTTL": 10**10, "LeaderRPCAddr": "c:4647"})
    fakes["http://c:4647"].on("POST", "/v1/rpc/Node.UpdateStatus", {"HeartbeatTTL": 10**10})
    node = mock_node()
    rpc.register(node)
    assert rpc.servers()[0] == "c:4647"
    rpc.update_status(node.id, "ready")
    assert fakes["http://c:4647"].paths() == ["/v1/rpc/Node.UpdateStatus"]
    assert fakes["http://b:4647"].requests == []


@pytest.mark.parametrize("answer", ["No cluster leader",
                                    "failed to reset heartbeat since server is not leader"])
def test_a_server_without_a_leader_is_passed_over(answer):
    fakes, rpc = cluster("a", "b")
    fakes["http://a:4647"].on("POST", "/v1/rpc/Node.Register", status=500, text=answer)
    fakes["http://b:4647"].on("POST", "/v1/rpc/Node.Register", {"HeartbeatTTL": 10**10})
    assert rpc.register(mock_node()).heartbeat_ttl == 10**10
    assert rpc.servers()[0] == "b:4647"  # it sticks with the server that answered
    for fake in fakes.values():
        fake.on("POST", "/v1/rpc/Node.UpdateStatus", status=500, text=answer)
    with pytest.raises(NoServersError, match=answer):
        rpc.update_status("x", "ready")


def test_a_leader_that_stopped_answering_is_no_longer_preferred():
    fakes, rpc = cluster("a", "b", dead=("b",))
    fakes["http://a:4647"].on("POST", "/v1/rpc/Node.Register",
                              {"HeartbeatTTL": 10**10, "LeaderRPCAddr": "b:4647"})
    fakes["http://a:4647"].on("POST", "/v1/rpc/Node.UpdateStatus", {"HeartbeatTTL": 10**10})
    node = mock_node()
    rpc.register(node)
    assert rpc.servers()[0] == "b:4647"
    rpc.update_status(node.id, "ready")  # b refuses: a answers
    assert rpc.servers()[0] == "a:4647"


def test_other_server_errors_are_not_retried_elsewhere():
    fakes, rpc = cluster("a", "b")
    fakes["http://a:4647"].on("POST", "/v1/rpc/Node.UpdateStatus", status=500,
                              text="internal error: boom")
    with pytest.raises(ApiUnavailable, match="boom"):
        rpc.update_status("x", "ready")
    assert fakes["http://b:4647"].requests == []
