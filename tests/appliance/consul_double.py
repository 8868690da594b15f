"""A Consul HTTP API test double on a loopback port (no Consul binary can be installed).

What it emulates -- the endpoints python-consul2 calls for nomadjail, with
Consul's paths, methods, JSON shapes and status codes:

- ``PUT /v1/agent/service/register`` (body: the service definition, any key
  case) -> 200, empty body; the same ID again replaces the service;
- ``PUT /v1/agent/service/deregister/<id>`` -> 200; an unknown ID -> 404
  ``Unknown service ID "<id>". Ensure that the service ID is passed, not the
  service name.``;
- ``GET /v1/agent/services`` -> ``{id: {"ID", "Service", "Tags", "Address",
  "Port", "Meta"}}``;
- ``GET /v1/catalog/service/<name>[?tag=t]`` -> the catalog entries of that
  service (one node, "consul-double", address 127.0.0.1) with
  ``ServiceID/ServiceName/ServiceTags/ServiceAddress/ServicePort``, and an
  ``X-Consul-Index`` header;
- ``GET /v1/status/leader`` -> ``"127.0.0.1:8300"``.

What it does not: health checks are stored but never run; no ACLs, blocking
queries, datacenters, KV or anything else (-> 404).  ``events`` records every
register/deregister in order, so tests see what the agent did.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

NODE = "consul-double"
NODE_ADDRESS = "127.0.0.1"


def _get(body: dict[str, Any], key: str, default: Any = None) -> Any:
    """Consul accepts service definitions in any key case (``Name`` or ``name``)."""
    for candidate in (key, key.lower()):
        if candidate in body:
            return body[candidate]
    return default


class ConsulDouble:
    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        self.services: dict[str, dict[str, Any]] = {}
        self.events: list[tuple[str, str]] = []  # ("register"|"deregister", service id)
        self.index = 1
        self._lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _answer(self, status: int, body: Any = None, text: str = "") -> None:
                data = (json.dumps(body) if body is not None else text).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body is not None
                                 else "text/plain; charset=utf-8")
                self.send_header("X-Consul-Index", str(double.index))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if url.path == "/v1/agent/service/register":
                    try:
                        body = json.loads(raw or b"{}")
                    except ValueError:
                        return self._answer(400, text="Request decode failed")
                    status, text = double.register(body)
                    return self._answer(status, text=text)
                prefix = "/v1/agent/service/deregister/"
                if url.path.startswith(prefix):
                    status, text = double.deregister(unquote(url.path[len(prefix):]))
                    return self._answer(status, text=text)
                self._answer(404, text="")

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                if url.path == "/v1/agent/services":
                    return self._answer(200, double.agent_services())
                prefix = "/v1/catalog/service/"
                if url.path.startswith(prefix):
                    tag = (query.get("tag") or [""])[0]
                    return self._answer(200, double.catalog(unquote(url.path[len(prefix):]),
                                                            tag))
                if url.path == "/v1/status/leader":
                    return self._answer(200, "127.0.0.1:8300")
                self._answer(404, text="")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.address = f"{host}:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    # -- behaviour ---------------------------------------------------------------------
    def register(self, body: dict[str, Any]) -> tuple[int, str]:
        name = _get(body, "Name")
        if not name:
            return 400, "Missing service name"
        service_id = _get(body, "ID") or name
        with self._lock:
            self.services[service_id] = {
                "ID": service_id, "Service": name, "Tags": list(_get(body, "Tags") or []),
                "Address": _get(body, "Address") or "", "Port": int(_get(body, "Port") or 0),
                "Meta": dict(_get(body, "Meta") or {}), "Check": _get(body, "Check"),
            }
            self.events.append(("register", service_id))
            self.index += 1
        return 200, ""

    def deregister(self, service_id: str) -> tuple[int, str]:
        with self._lock:
            if service_id not in self.services:
                return 404, (f'Unknown service ID "{service_id}". Ensure that the service ID '
                             "is passed, not the service name.")
            del self.services[service_id]
            self.events.append(("deregister", service_id))
            self.index += 1
        return 200, ""

    def agent_services(self) -> dict[str, Any]:
        with self._lock:
            return {sid: {k: v for k, v in s.items() if k != "Check"}
                    for sid, s in self.services.items()}

    def catalog(self, name: str, tag: str = "") -> list[dict[str, Any]]:
        with self._lock:
            return [{"Node": NODE, "Address": NODE_ADDRESS, "ServiceID": s["ID"],
                     "ServiceName": s["Service"], "ServiceTags": s["Tags"],
                     "ServiceAddress": s["Address"], "ServicePort": s["Port"],
                     "ServiceMeta": s["Meta"]}
                    for s in self.services.values()
                    if s["Service"] == name and (not tag or tag in s["Tags"])]

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> ConsulDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
