"""A Consul agent's HTTP API on a loopback port: the test double for Consul, which cannot
be installed here.

What it emulates, with Consul's paths, methods, JSON shapes and status codes (as
Consul's API documentation describes them; ``tests/doubles/test_consul_double.py``
checks the shapes):

- ``PUT /v1/agent/service/register[?replace-existing-checks=true]`` -- the
  service definition (keys in any case), with ``Check`` and/or ``Checks``.  The
  same ID again replaces the service; its checks are added or replaced, and
  with ``replace-existing-checks`` the ones the new definition leaves out go.
  A check defined without an ID gets Consul's ``service:<id>`` (``service:<id>:<n>``
  for several); one without a name ``Service '<name>' check``.
- ``PUT /v1/agent/service/deregister/<id>`` (its checks go too); an unknown ID
  -> 404 ``Unknown service ID "<id>". Ensure that the service ID is passed, not
  the service name.``
- ``PUT /v1/agent/check/register``, ``PUT /v1/agent/check/deregister/<id>``;
  ``PUT /v1/agent/check/pass|warn|fail/<id>[?note=...]`` and
  ``PUT /v1/agent/check/update/<id>`` (``{"Status", "Output"}``) for TTL checks;
  an unknown check -> 404 ``Unknown check ID "<id>"``.
- ``GET /v1/agent/services``, ``GET /v1/agent/service/<id>``, ``GET /v1/agent/checks``,
  ``GET /v1/health/service/<name>[?passing][&tag=t]``,
  ``GET /v1/health/checks/<name>``, ``GET /v1/catalog/service/<name>[?tag=t]``,
  ``GET /v1/catalog/services``, ``GET /v1/status/leader``, ``GET /v1/agent/self``;
  every answer carries ``X-Consul-Index``.
- It **runs the checks** it is given, like a Consul agent: ``HTTP`` (the method,
  headers and body given; 2xx passing, 429 warning, anything else or no answer
  critical), ``TCP`` (a connect), each on its ``Interval`` with its ``Timeout``
  (10s when not given), the first run staggered randomly within the interval
  as Consul does; ``TTL`` checks go critical ("TTL expired") when not updated
  in time.  ``SuccessBeforePassing``, ``FailuresBeforeWarning`` and
  ``FailuresBeforeCritical`` count consecutive results as Consul's status
  handler does.  A check starts with its ``Status`` (``critical`` when not given).
- ``required_token``: every request must then carry it in ``X-Consul-Token``,
  else 403 ``Permission denied`` (Consul's answer to a token lacking the right).
- ``stop()`` closes the port and ``start()`` on the same double reopens it, with
  the services kept (a Consul agent keeps what was registered over its API across
  restarts), so tests can take "Consul" down and bring it back.

- the **KV store**: ``GET /v1/kv/<key>`` (404 when absent; ``?recurse`` for every
  key under a prefix, ``?keys`` for the key names, cut after ``?separator=``,
  ``?raw`` for the bare value), ``PUT /v1/kv/<key>`` (the body is the raw value;
  ``?cas=<index>`` check-and-set, 0 = only if absent; ``?flags=``; answers ``true``
  or ``false``), ``DELETE /v1/kv/<key>[?recurse][?cas=]``.  Entries carry Consul's
  ``Key``, ``Value`` (base64, ``null`` when empty), ``Flags``, ``CreateIndex``,
  ``ModifyIndex``, ``LockIndex``, ``Session``.  KV reads are **blocking queries**:
  ``?index=N`` waits (``?wait=``, default 5m, capped at 10m as Consul) until the KV
  index passes N; ``X-Consul-Index`` is the KV index (never 0).
- **blocking** ``/v1/health/service/<name>``, ``/v1/catalog/service/<name>`` and
  ``/v1/catalog/services``: ``?index=N`` waits (``?wait=``) until any change (a
  service, a check or its status, a key) moves the index past N.

What it does not: one node ("consul-double", 127.0.0.1, dc1) only; no blocking
queries outside KV, health and catalog services; ACL policies, namespaces, KV sessions
and locks, transactions, Connect, gRPC/UDP/script/alias checks
(stored, never run: they stay at their initial status); and it probes **loopback
addresses only** -- a check aimed elsewhere goes critical saying so, so a test
can never send traffic off the machine.

``events`` records every register/deregister in order (``("register", id)``),
and ``check_runs`` counts the probes run, for tests that assert what the agent did.
"""

from __future__ import annotations

import base64
import heapq
import ipaddress
import json
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import requests

from nomadjail.structs.durations import parse_duration

NODE = "consul-double"
NODE_ID = "5a5a5a5a-0000-4000-8000-000000000001"
NODE_ADDRESS = "127.0.0.1"
DATACENTER = "dc1"
PASSING, WARNING, CRITICAL = "passing", "warning", "critical"
DEFAULT_CHECK_TIMEOUT = 10.0  # seconds: Consul's default for http and tcp checks
OUTPUT_LIMIT = 4096  # bytes of an HTTP answer kept as the check's output (Consul's)
PROBE_WORKERS = 32


class JsonString(str):
    """An answer that is a JSON string (``"127.0.0.1:8300"``), not plain text."""


def _get(body: dict[str, Any], key: str, default: Any = None) -> Any:
    """Consul accepts definitions in any key case (``Name``, ``name``, ``NAME``)."""
    if key in body:
        return body[key]
    folded = key.lower()
    for candidate, value in body.items():
        if candidate.lower() == folded:
            return value
    return default


def _seconds(value: Any, default: float = 0.0) -> float:
    """A Consul duration (``"10s"``; a number means nanoseconds) in seconds."""
    if value in (None, ""):
        return default
    if isinstance(value, (int, float)):
        return value / 1e9
    return parse_duration(str(value)) / 1e9


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


@dataclass
class Check:
    """One check as the agent holds it, with Consul's status-handler counters."""

    check_id: str
    name: str
    service_id: str = ""
    kind: str = ""  # http | tcp | ttl | script | grpc | ...
    target: str = ""  # the URL or host:port probed
    method: str = "GET"
    header: dict[str, list[str]] = field(default_factory=dict)
    body: str = ""
    tls_skip_verify: bool = False
    interval: float = 0.0
    timeout: float = DEFAULT_CHECK_TIMEOUT
    ttl: float = 0.0
    notes: str = ""
    status: str = CRITICAL
    output: str = ""
    success_before_passing: int = 0
    failures_before_warning: int = 0
    failures_before_critical: int = 0
    definition: dict[str, Any] = field(default_factory=dict)
    successes: int = 0
    failures: int = 0
    ttl_deadline: float = 0.0
    generation: int = 0  # bumped on replace/remove: a scheduled run of an old one is dropped

    def record(self, status: str, output: str) -> None:
        """Consul's StatusHandler: thresholds count consecutive results."""
        self.output = output
        if status in (PASSING, WARNING):
            self.successes += 1
            self.failures = 0
            if self.successes >= self.success_before_passing:
                self.status = status
            return
        self.successes = 0
        self.failures += 1
        if self.failures >= self.failures_before_critical:
            self.status = CRITICAL
        elif self.failures >= self.failures_before_warning:
            self.status = WARNING


@dataclass
class ServiceEntry:
    service_id: str
    name: str
    tags: list[str]
    address: str
    port: int
    meta: dict[str, str]
    tagged_addresses: dict[str, Any]
    weights: dict[str, int]
    enable_tag_override: bool
    kind: str
    definition: dict[str, Any]


class ConsulDouble:
    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, required_token: str = "",
                 run_checks: bool = True):
        self.host = host
        self.required_token = required_token
        self.run_checks = run_checks
        self._index = 1
        self.events: list[tuple[str, str]] = []
        self.check_runs = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self._services: dict[str, ServiceEntry] = {}
        self._checks: dict[str, Check] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._kv: dict[str, dict[str, Any]] = {}
        self.kv_index = 1
        self._kv_changed = threading.Condition(self._lock)
        self._index_changed = threading.Condition(self._lock)
        self._schedule: list[tuple[float, int, str, int]] = []  # (due, seq, check id, gen)
        self._seq = 0
        self._closing = False
        self._pool = ThreadPoolExecutor(max_workers=PROBE_WORKERS,
                                        thread_name_prefix="consul-double-probe")
        self._session = requests.Session()
        self._scheduler = threading.Thread(target=self._run_schedule, daemon=True,
                                           name="consul-double-checks")
        self._scheduler.start()
        self.server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self._bind()

    # -- HTTP ------------------------------------------------------------------------
    def _bind(self) -> None:
        double = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: a connection ends with its answer, so once stop() closed the port
            # no kept-alive connection answers for a "down" Consul.
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _answer(self, status: int, body: Any = None, text: str | bytes = "",
                        index: int | None = None) -> None:
                if body is not None:
                    data = json.dumps(body).encode()
                else:
                    data = text if isinstance(text, bytes) else text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if body is not None
                                 else "text/plain; charset=utf-8")
                self.send_header("X-Consul-Index", str(index if index is not None
                                                       else double.index))
                self.send_header("X-Consul-Knownleader", "true")
                self.send_header("X-Consul-Lastcontact", "0")
                try:
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller went away mid blocking query (an agent stopped)

            def _route(self, method: str) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with double._lock:
                    double.requests.append((method, url.path))
                if double.required_token and \
                        self.headers.get("X-Consul-Token") != double.required_token:
                    return self._answer(403, text="Permission denied")
                if url.path.startswith("/v1/kv/"):
                    status, payload, index = double.handle_kv(
                        method, unquote(url.path[len("/v1/kv/"):]),
                        parse_qs(url.query, keep_blank_values=True), raw)
                    if isinstance(payload, (str, bytes)):
                        return self._answer(status, text=payload, index=index)
                    return self._answer(status, payload, index=index)
                try:
                    body = json.loads(raw) if raw.strip() else None
                except ValueError:
                    return self._answer(400, text=f"Request decode failed: {raw[:60]!r}")
                status, payload = double.handle(method, unquote(url.path),
                                                parse_qs(url.query, keep_blank_values=True),
                                                body)
                if isinstance(payload, str) and not isinstance(payload, JsonString):
                    self._answer(status, text=payload)
                else:
                    self._answer(status, payload)

            def do_GET(self) -> None:
                self._route("GET")

            def do_PUT(self) -> None:
                self._route("PUT")

            def do_POST(self) -> None:
                self._route("POST")

            def do_DELETE(self) -> None:
                self._route("DELETE")

        server = ThreadingHTTPServer((self.host, self.port), Handler, bind_and_activate=False)
        server.allow_reuse_address = True
        server.daemon_threads = True
        server.server_bind()
        server.server_activate()
        self.server = server
        self.port = server.server_address[1]
        self.address = f"{self.host}:{self.port}"

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               body: Any) -> tuple[int, Any]:
        """Route one request: (status, JSON value or plain text)."""
        def arg(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        if method == "PUT":
            if path == "/v1/agent/service/register":
                if not isinstance(body, dict):
                    return 400, "Request decode failed: expected a JSON object"
                replace = arg("replace-existing-checks") in ("", "true", "1")
                return self.register(body, replace_existing_checks=replace)
            for prefix, action in (("/v1/agent/service/deregister/", self.deregister),
                                   ("/v1/agent/check/deregister/", self.deregister_check)):
                if path.startswith(prefix):
                    return action(path[len(prefix):])
            if path == "/v1/agent/check/register":
                if not isinstance(body, dict):
                    return 400, "Request decode failed: expected a JSON object"
                return self.register_check(body)
            for verb, status in (("pass", PASSING), ("warn", WARNING), ("fail", CRITICAL)):
                prefix = f"/v1/agent/check/{verb}/"
                if path.startswith(prefix):
                    return self.update_ttl(path[len(prefix):], status, arg("note") or "")
            if path.startswith("/v1/agent/check/update/"):
                body = body if isinstance(body, dict) else {}
                status = str(_get(body, "Status", ""))
                if status not in (PASSING, WARNING, CRITICAL):
                    return 400, f'Invalid check status: "{status}"'
                return self.update_ttl(path[len("/v1/agent/check/update/"):], status,
                                       str(_get(body, "Output", "")))
            return 404, ""
        if method != "GET":
            return 405, f"method {method} not allowed"
        if path == "/v1/agent/services":
            return 200, self.agent_services()
        if path.startswith("/v1/agent/service/"):
            service = self.agent_services().get(path[len("/v1/agent/service/"):])
            if service is None:
                return 404, "unknown service ID: " + path[len("/v1/agent/service/"):]
            return 200, service
        if path == "/v1/agent/checks":
            return 200, self.agent_checks()
        if path.startswith(("/v1/health/service/", "/v1/catalog/service")) and arg("index"):
            try:
                wait = _seconds(arg("wait"), 300.0) if arg("wait") else 300.0
                self.index_wait(int(arg("index") or 0), min(wait, 600.0))
            except ValueError:
                return 400, f"Invalid blocking query: index={arg('index')!r} wait={arg('wait')!r}"
        if path.startswith("/v1/health/service/"):
            return 200, self.health(path[len("/v1/health/service/"):], arg("tag") or "",
                                    passing="passing" in query)
        if path.startswith("/v1/health/checks/"):
            name = path[len("/v1/health/checks/"):]
            return 200, [c for c in self.agent_checks().values() if c["ServiceName"] == name]
        if path.startswith("/v1/catalog/service/"):
            return 200, self.catalog(path[len("/v1/catalog/service/"):], arg("tag") or "")
        if path == "/v1/catalog/services":
            with self._lock:
                names: dict[str, set[str]] = {}
                for entry in self._services.values():
                    names.setdefault(entry.name, set()).update(entry.tags)
            return 200, {name: sorted(tags) for name, tags in names.items()}
        if path == "/v1/status/leader":
            return 200, JsonString("127.0.0.1:8300")
        if path == "/v1/agent/self":
            return 200, {"Config": {"Datacenter": DATACENTER, "NodeName": NODE,
                                    "NodeID": NODE_ID, "Version": "1.20.0"},
                         "Member": {"Name": NODE, "Addr": NODE_ADDRESS}}
        return 404, ""

    # -- KV --------------------------------------------------------------------------------
    def handle_kv(self, method: str, key: str, query: dict[str, list[str]],
                  raw: bytes) -> tuple[int, Any, int]:
        """One ``/v1/kv/`` request: (status, JSON value, text or bytes, X-Consul-Index)."""
        def arg(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        if method == "PUT":
            cas, flags = arg("cas"), arg("flags")
            try:
                return 200, self.kv_put(key, raw, cas=int(cas) if cas is not None else None,
                                        flags=int(flags or 0)), self.kv_index
            except ValueError as err:
                return 400, str(err), self.kv_index
        if method == "DELETE":
            cas = arg("cas")
            return 200, self.kv_delete(key, recurse="recurse" in query,
                                       cas=int(cas) if cas is not None else None), self.kv_index
        if method != "GET":
            return 405, f"method {method} not allowed", self.kv_index
        index = arg("index")
        if index:
            try:
                wait = _seconds(arg("wait"), 300.0) if arg("wait") else 300.0
            except ValueError:
                return 400, f"Invalid wait time: {arg('wait')!r}", self.kv_index
            self.kv_wait(int(index), min(wait, 600.0))
        with self._lock:
            kv_index = self.kv_index
            if "keys" in query:
                separator = arg("separator") or ""
                names: list[str] = []
                for name in sorted(self._kv):
                    if not name.startswith(key):
                        continue
                    if separator:
                        cut = name.find(separator, len(key))
                        if cut >= 0:
                            name = name[:cut + len(separator)]
                    if name not in names:
                        names.append(name)
                return (200, names, kv_index) if names else (404, "", kv_index)
            if "recurse" in query:
                found = [dict(e) for k, e in sorted(self._kv.items()) if k.startswith(key)]
                return (200, found, kv_index) if found else (404, "", kv_index)
            entry = self._kv.get(key)
            if entry is None:
                return 404, "", kv_index
            if "raw" in query:
                return 200, base64.b64decode(entry["Value"] or ""), kv_index
            return 200, [dict(entry)], kv_index

    def kv_put(self, key: str, value: bytes | str, *, cas: int | None = None,
               flags: int = 0) -> bool:
        """Set ``key`` (as ``PUT /v1/kv/<key>``); False when ``cas`` does not match."""
        if not key:
            raise ValueError("Missing key name")
        data = value.encode() if isinstance(value, str) else value
        with self._lock:
            existing = self._kv.get(key)
            if cas is not None:
                current = existing["ModifyIndex"] if existing else 0
                if cas != current:
                    return False
            self.kv_index += 1
            self.index += 1
            self._kv[key] = {
                "Key": key, "Flags": flags,
                "Value": base64.b64encode(data).decode() if data else None,
                "CreateIndex": existing["CreateIndex"] if existing else self.kv_index,
                "ModifyIndex": self.kv_index, "LockIndex": 0, "Session": ""}
            self._kv_changed.notify_all()
            return True

    def kv_delete(self, key: str, *, recurse: bool = False, cas: int | None = None) -> bool:
        with self._lock:
            if cas is not None:
                existing = self._kv.get(key)
                if existing is None or existing["ModifyIndex"] != cas:
                    return False
            gone = [k for k in self._kv if (k.startswith(key) if recurse else k == key)]
            for k in gone:
                del self._kv[k]
            self.kv_index += 1
            self.index += 1
            self._kv_changed.notify_all()
            return True

    @property
    def index(self) -> int:
        """The catalog's (and KV's) Raft index: it moves on every change, waking the
        blocking health and catalog queries (set it with the lock held)."""
        return self._index

    @index.setter
    def index(self, value: int) -> None:
        self._index = value
        self._index_changed.notify_all()

    def index_wait(self, index: int, timeout: float) -> None:
        """Block until the index passes ``index`` or ``timeout`` seconds went by."""
        deadline = time.monotonic() + timeout
        with self._index_changed:
            while self._index <= index and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._index_changed.wait(min(left, 0.5))

    def kv_wait(self, index: int, timeout: float) -> None:
        """Block until the KV index passes ``index`` or ``timeout`` seconds went by."""
        deadline = time.monotonic() + timeout
        with self._kv_changed:
            while self.kv_index <= index and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._kv_changed.wait(min(left, 0.5))

    # -- services ----------------------------------------------------------------------
    def register(self, body: dict[str, Any], *,
                 replace_existing_checks: bool = False) -> tuple[int, str]:
        name = _get(body, "Name")
        if not name:
            return 400, "Missing service name"
        service_id = _get(body, "ID") or name
        try:
            port = int(_get(body, "Port") or 0)
        except (TypeError, ValueError):
            return 400, "Request decode failed: Port must be a number"
        definitions: list[dict[str, Any]] = []
        if isinstance(_get(body, "Check"), dict):
            definitions.append(_get(body, "Check"))
        definitions += [c for c in (_get(body, "Checks") or []) if isinstance(c, dict)]
        checks = []
        for n, definition in enumerate(definitions, 1):
            default_id = (f"service:{service_id}" if len(definitions) == 1
                          else f"service:{service_id}:{n}")
            try:
                checks.append(self._new_check(definition, default_id=default_id,
                                              service_id=service_id, service_name=name))
            except ValueError as err:
                return 400, f"Invalid check: {err}"
        weights = _get(body, "Weights") or {}
        entry = ServiceEntry(
            service_id=service_id, name=name, tags=list(_get(body, "Tags") or []),
            address=_get(body, "Address") or "", port=port,
            meta=dict(_get(body, "Meta") or {}),
            tagged_addresses=dict(_get(body, "TaggedAddresses") or {}),
            weights={"Passing": int(_get(weights, "Passing") or 1),
                     "Warning": int(_get(weights, "Warning") or 1)},
            enable_tag_override=bool(_get(body, "EnableTagOverride") or False),
            kind=_get(body, "Kind") or "", definition=body)
        with self._wake:
            self._services[service_id] = entry
            if replace_existing_checks:
                keep = {c.check_id for c in checks}
                for old in [c for c in self._checks.values()
                            if c.service_id == service_id and c.check_id not in keep]:
                    self._drop_check_locked(old.check_id)
            for check in checks:
                self._add_check_locked(check)
            self.events.append(("register", service_id))
            self.index += 1
        return 200, ""

    def deregister(self, service_id: str) -> tuple[int, str]:
        with self._wake:
            if service_id not in self._services:
                return 404, (f'Unknown service ID "{service_id}". Ensure that the service ID '
                             "is passed, not the service name.")
            del self._services[service_id]
            for check in [c for c in self._checks.values() if c.service_id == service_id]:
                self._drop_check_locked(check.check_id)
            self.events.append(("deregister", service_id))
            self.index += 1
        return 200, ""

    # -- checks ------------------------------------------------------------------------
    def _new_check(self, definition: dict[str, Any], *, default_id: str, service_id: str,
                   service_name: str) -> Check:
        check_id = _get(definition, "CheckID") or _get(definition, "ID") or default_id
        name = _get(definition, "Name") or f"Service '{service_name}' check"
        http, tcp, ttl = (_get(definition, key) for key in ("HTTP", "TCP", "TTL"))
        if http:
            kind, target = "http", str(http)
        elif tcp:
            kind, target = "tcp", str(tcp)
        elif ttl:
            kind, target = "ttl", ""
        elif _get(definition, "Args") or _get(definition, "Script"):
            kind, target = "script", ""
        elif _get(definition, "GRPC"):
            kind, target = "grpc", str(_get(definition, "GRPC"))
        else:
            raise ValueError("check must be one of script, HTTP, TCP, TTL, gRPC or alias")
        interval = _seconds(_get(definition, "Interval"))
        if kind in ("http", "tcp", "grpc") and interval <= 0:
            raise ValueError(f'Interval must be > 0 for {kind.upper()} checks')
        if ttl and _get(definition, "Interval"):
            raise ValueError("Interval and TTL cannot both be set")
        status = _get(definition, "Status") or CRITICAL
        if status not in (PASSING, WARNING, CRITICAL):
            raise ValueError(f'Status must be passing, warning or critical, not "{status}"')
        failures_before_critical = int(_get(definition, "FailuresBeforeCritical") or 0)
        return Check(
            check_id=check_id, name=name, service_id=service_id, kind=kind, target=target,
            method=_get(definition, "Method") or "GET",
            header={k: list(v) for k, v in (_get(definition, "Header") or {}).items()},
            body=_get(definition, "Body") or "",
            tls_skip_verify=bool(_get(definition, "TLSSkipVerify")), interval=interval,
            timeout=_seconds(_get(definition, "Timeout"), DEFAULT_CHECK_TIMEOUT),
            ttl=_seconds(ttl) if ttl else 0.0, notes=_get(definition, "Notes") or "",
            status=status,
            success_before_passing=int(_get(definition, "SuccessBeforePassing") or 0),
            failures_before_critical=failures_before_critical,
            failures_before_warning=int(_get(definition, "FailuresBeforeWarning")
                                        or failures_before_critical),
            definition=definition)

    def register_check(self, body: dict[str, Any]) -> tuple[int, str]:
        service_id = _get(body, "ServiceID") or ""
        with self._lock:
            service = self._services.get(service_id)
        if service_id and service is None:
            return 404, f'ServiceID "{service_id}" does not exist'
        name = _get(body, "Name")
        if not name:
            return 400, "Missing check name"
        try:
            check = self._new_check(body, default_id=name, service_id=service_id,
                                    service_name=service.name if service else "")
        except ValueError as err:
            return 400, f"Invalid check: {err}"
        with self._wake:
            self._add_check_locked(check)
            self.index += 1
        return 200, ""

    def deregister_check(self, check_id: str) -> tuple[int, str]:
        with self._wake:
            self._drop_check_locked(check_id)
            self.index += 1
        return 200, ""

    def update_ttl(self, check_id: str, status: str, output: str) -> tuple[int, str]:
        with self._wake:
            check = self._checks.get(check_id)
            if check is None:
                return 404, f'Unknown check ID "{check_id}"'
            if check.kind != "ttl":
                return 500, f'CheckID "{check_id}" does not have associated TTL'
            check.status, check.output = status, output
            check.ttl_deadline = time.monotonic() + check.ttl
            self._push_locked(check.ttl_deadline, check)
            self.index += 1
        return 200, ""

    def _add_check_locked(self, check: Check) -> None:
        old = self._checks.get(check.check_id)
        check.generation = (old.generation + 1) if old else 0
        self._checks[check.check_id] = check
        if check.kind == "ttl":
            check.ttl_deadline = time.monotonic() + check.ttl
            self._push_locked(check.ttl_deadline, check)
        elif check.kind in ("http", "tcp") and self.run_checks:
            self._push_locked(time.monotonic() + random.uniform(0, check.interval), check)

    def _drop_check_locked(self, check_id: str) -> None:
        self._checks.pop(check_id, None)

    def _push_locked(self, due: float, check: Check) -> None:
        self._seq += 1
        heapq.heappush(self._schedule, (due, self._seq, check.check_id, check.generation))
        self._wake.notify()

    def _run_schedule(self) -> None:
        """One thread keeps the timetable; probes run on a pool so a slow one (up to its
        timeout) never delays the others."""
        with self._wake:
            while not self._closing:
                if not self._schedule:
                    self._wake.wait()
                    continue
                due, _, check_id, generation = self._schedule[0]
                now = time.monotonic()
                if due > now:
                    self._wake.wait(due - now)
                    continue
                heapq.heappop(self._schedule)
                check = self._checks.get(check_id)
                if check is None or check.generation != generation:
                    continue
                if check.kind == "ttl":
                    if check.ttl_deadline <= now:
                        check.status, check.output = CRITICAL, "TTL expired"
                        self.index += 1
                    continue
                self._pool.submit(self._probe, check_id, generation)

    def _probe(self, check_id: str, generation: int) -> None:
        with self._lock:
            check = self._checks.get(check_id)
            if check is None or check.generation != generation or self._closing:
                return
            kind, target, timeout = check.kind, check.target, check.timeout
            method, header, body = check.method, check.header, check.body
        if kind == "http":
            status, output = self._probe_http(target, method, header, body, timeout)
        else:
            status, output = self._probe_tcp(target, timeout)
        with self._wake:
            check = self._checks.get(check_id)
            if check is None or check.generation != generation:
                return
            self.check_runs += 1
            before = check.status
            check.record(status, output)
            if check.status != before:
                self.index += 1
            self._push_locked(time.monotonic() + check.interval, check)

    def _probe_http(self, url: str, method: str, header: dict[str, list[str]], body: str,
                    timeout: float) -> tuple[str, str]:
        host = urlparse(url).hostname or ""
        if not _loopback(host):
            return CRITICAL, f"the Consul double probes loopback addresses only, not {url}"
        headers = {name: ", ".join(values) for name, values in header.items()}
        headers.setdefault("User-Agent", "Consul Health Check")
        try:
            answer = self._session.request(method, url, headers=headers, data=body or None,
                                           timeout=timeout, allow_redirects=True)
        except requests.RequestException as err:
            return CRITICAL, f"Get \"{url}\": {err}"
        text = answer.text[:OUTPUT_LIMIT]
        output = f"HTTP {method} {url}: {answer.status_code} {answer.reason} Output: {text}"
        if 200 <= answer.status_code < 300:
            return PASSING, output
        if answer.status_code == 429:
            return WARNING, output
        return CRITICAL, output

    @staticmethod
    def _probe_tcp(address: str, timeout: float) -> tuple[str, str]:
        host, _, port = address.rpartition(":")
        if not _loopback(host):
            return CRITICAL, f"the Consul double probes loopback addresses only, not {address}"
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
                pass
        except (OSError, ValueError) as err:
            return CRITICAL, f"dial tcp {address}: {err}"
        return PASSING, f"TCP connect {address}: Success"

    # -- read side: Consul's JSON --------------------------------------------------------
    @staticmethod
    def _service_json(entry: ServiceEntry) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ID": entry.service_id, "Service": entry.name, "Tags": list(entry.tags),
            "Meta": dict(entry.meta), "Port": entry.port, "Address": entry.address,
            "EnableTagOverride": entry.enable_tag_override, "Weights": dict(entry.weights),
            "Datacenter": DATACENTER}
        if entry.tagged_addresses:
            out["TaggedAddresses"] = dict(entry.tagged_addresses)
        if entry.kind:
            out["Kind"] = entry.kind
        return out

    def _check_json_locked(self, check: Check) -> dict[str, Any]:
        service = self._services.get(check.service_id)
        return {"Node": NODE, "CheckID": check.check_id, "Name": check.name,
                "Status": check.status, "Notes": check.notes, "Output": check.output,
                "ServiceID": check.service_id, "ServiceName": service.name if service else "",
                "ServiceTags": list(service.tags) if service else [],
                "Type": check.kind, "Interval": _go_duration(check.interval),
                "Timeout": _go_duration(check.timeout) if check.kind in ("http", "tcp") else "",
                "ExposedPort": 0, "Definition": {}, "CreateIndex": 0, "ModifyIndex": 0}

    def agent_services(self) -> dict[str, Any]:
        with self._lock:
            return {sid: self._service_json(s) for sid, s in self._services.items()}

    def agent_checks(self) -> dict[str, Any]:
        with self._lock:
            return {cid: self._check_json_locked(c) for cid, c in self._checks.items()}

    def health(self, name: str, tag: str = "", *, passing: bool = False) -> list[dict[str, Any]]:
        node_check = {"Node": NODE, "CheckID": "serfHealth", "Name": "Serf Health Status",
                      "Status": PASSING, "Notes": "", "Output": "Agent alive and reachable",
                      "ServiceID": "", "ServiceName": "", "ServiceTags": [], "Type": "",
                      "Interval": "", "Timeout": "", "ExposedPort": 0, "Definition": {},
                      "CreateIndex": 0, "ModifyIndex": 0}
        result = []
        with self._lock:
            for entry in self._services.values():
                if entry.name != name or (tag and tag not in entry.tags):
                    continue
                checks = [node_check] + [self._check_json_locked(c)
                                         for c in self._checks.values()
                                         if c.service_id == entry.service_id]
                if passing and any(c["Status"] != PASSING for c in checks):
                    continue
                result.append({
                    "Node": {"ID": NODE_ID, "Node": NODE, "Address": NODE_ADDRESS,
                             "Datacenter": DATACENTER,
                             "TaggedAddresses": {"lan": NODE_ADDRESS, "wan": NODE_ADDRESS},
                             "Meta": {"consul-network-segment": ""}},
                    "Service": self._service_json(entry), "Checks": checks})
        return result

    def catalog(self, name: str, tag: str = "") -> list[dict[str, Any]]:
        with self._lock:
            return [{"ID": NODE_ID, "Node": NODE, "Address": NODE_ADDRESS,
                     "Datacenter": DATACENTER,
                     "TaggedAddresses": {"lan": NODE_ADDRESS, "wan": NODE_ADDRESS},
                     "NodeMeta": {"consul-network-segment": ""},
                     "ServiceID": s.service_id, "ServiceName": s.name,
                     "ServiceTags": list(s.tags), "ServiceAddress": s.address,
                     "ServicePort": s.port, "ServiceMeta": dict(s.meta),
                     "ServiceEnableTagOverride": s.enable_tag_override,
                     "ServiceWeights": dict(s.weights),
                     "ServiceTaggedAddresses": dict(s.tagged_addresses),
                     "CreateIndex": 0, "ModifyIndex": 0}
                    for s in self._services.values()
                    if s.name == name and (not tag or tag in s.tags)]

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        """What is registered, by service ID: the ``/v1/agent/services`` entry plus
        ``Check`` (the first check definition as given) and ``Checks`` (the check IDs)."""
        with self._lock:
            out = {}
            for sid, entry in self._services.items():
                record = self._service_json(entry)
                record["Check"] = _get(entry.definition, "Check")
                record["Checks"] = sorted(c.check_id for c in self._checks.values()
                                          if c.service_id == sid)
                out[sid] = record
            return out

    def check_status(self, check_id: str) -> str | None:
        with self._lock:
            check = self._checks.get(check_id)
            return check.status if check else None

    def set_check_status(self, check_id: str, status: str, output: str = "") -> None:
        """Force a check's status (what an operator or a probe would cause)."""
        with self._lock:
            self._checks[check_id].status = status
            self._checks[check_id].output = output
            self.index += 1

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> ConsulDouble:
        """Answer on the port (again, after :meth:`stop`: same port, state kept)."""
        if self.server is None:
            self._bind()
        assert self.server is not None
        self._thread = threading.Thread(target=self.server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name="consul-double-http")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port (Consul is down); the registrations are kept."""
        if self.server is not None:
            if self._thread is not None:
                self.server.shutdown()
                self._thread.join(5)
            self.server.server_close()
            self.server = None
            self._thread = None

    def close(self) -> None:
        """Stop for good: the port, the check scheduler and the probes."""
        self.stop()
        with self._wake:
            self._closing = True
            self._wake.notify_all()
            self._kv_changed.notify_all()
        self._scheduler.join(5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._session.close()


def _go_duration(seconds: float) -> str:
    if not seconds:
        return ""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


# -- what tests talk to: the double, or a real Consul agent --------------------------------

REAL_CONSUL_ENV = "CONSUL_HTTP_ADDR"
TASK_SERVICE_PREFIX = "_nomad-task-"


class ConsulTarget:
    """The Consul a test runs against, read through Consul's own HTTP API only, so the
    same assertions hold for the double and for a real agent.  ``double`` is None for a
    real agent (tests needing to stop Consul skip then)."""

    def __init__(self, address: str, double: ConsulDouble | None = None, token: str = ""):
        self.address = address
        self.double = double
        self.token = token
        # A real agent may hold task services of its own: tests see (and remove) only
        # the ones registered after they started.
        self.baseline: set[str] = set()

    @property
    def real(self) -> bool:
        return self.double is None

    def get(self, path: str, **params: Any) -> Any:
        headers = {"X-Consul-Token": self.token} if self.token else {}
        answer = requests.get(f"http://{self.address}{path}", params=params, headers=headers,
                              timeout=10)
        answer.raise_for_status()
        return answer.json()

    def put(self, path: str, body: Any = None) -> requests.Response:
        headers = {"X-Consul-Token": self.token} if self.token else {}
        return requests.put(f"http://{self.address}{path}", headers=headers, timeout=10,
                            data=None if body is None else json.dumps(body))

    def services(self) -> dict[str, Any]:
        return self.get("/v1/agent/services")

    def task_services(self) -> dict[str, Any]:
        """The services Nomad clients registered for tasks (``_nomad-task-`` IDs) since
        the test began."""
        return {sid: s for sid, s in self.services().items()
                if sid.startswith(TASK_SERVICE_PREFIX) and sid not in self.baseline}

    def checks(self) -> dict[str, Any]:
        return self.get("/v1/agent/checks")

    def checks_of(self, service_id: str) -> list[dict[str, Any]]:
        """The checks of one service (``/v1/agent/checks``)."""
        return [c for c in self.checks().values() if c["ServiceID"] == service_id]

    def health(self, name: str, **params: Any) -> list[dict[str, Any]]:
        return self.get(f"/v1/health/service/{name}", **params)

    def catalog(self, name: str, **params: Any) -> list[dict[str, Any]]:
        return self.get(f"/v1/catalog/service/{name}", **params)

    def forget_task_services(self) -> None:
        """Deregister what the test left behind (a real agent outlives the test)."""
        for service_id in self.task_services():
            self.put(f"/v1/agent/service/deregister/{service_id}")


def consul_target(kind: str) -> Any:
    """A context manager for a :class:`ConsulTarget`: ``"double"`` starts a
    :class:`ConsulDouble`; ``"real"`` uses the agent at ``$CONSUL_HTTP_ADDR`` (token in
    ``$CONSUL_HTTP_TOKEN``) and skips the test when it is not set."""
    import contextlib
    import os

    import pytest

    @contextlib.contextmanager
    def target() -> Any:
        if kind == "real":
            address = os.environ.get(REAL_CONSUL_ENV, "")
            if not address:
                pytest.skip(f"{REAL_CONSUL_ENV} is not set: no real Consul agent to run "
                            "against (see README, 'Testing against a real Consul')")
            address = address.removeprefix("http://")
            real = ConsulTarget(address, token=os.environ.get("CONSUL_HTTP_TOKEN", ""))
            real.baseline = set(real.task_services())
            try:
                yield real
            finally:
                real.forget_task_services()
            return
        double = ConsulDouble().start()
        try:
            yield ConsulTarget(double.address, double)
        finally:
            double.close()

    return target()
