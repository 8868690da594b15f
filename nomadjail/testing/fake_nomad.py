"""A scripted Nomad HTTP API behind the API client's transport seam.

Tests state the answers the "server" gives (``fake.on("GET", "/v1/jobs",
[...])``) and run the CLI or an :class:`~nomadjail.api.ApiClient` against
them; every request is recorded (with the address it was sent to) so a test
can check what was asked, and where.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api import ApiResponse, Transport


@dataclass
class Request:
    """One request the fake received, and the address it was sent to."""

    method: str
    path: str
    params: dict[str, str]
    body: Any
    headers: dict[str, str]
    address: str = ""


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    index: int = 1
    raw: bytes | None = None
    chunks: list[bytes] | None = None


Handler = Callable[[Request], Answer]


@dataclass
class FakeNomad:
    """Routes ``(method, path)`` to scripted answers; unknown routes answer 404."""

    routes: dict[tuple[str, str], list[Answer] | Handler] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    Answer = Answer  # for handlers written in test modules

    def on(self, method: str, path: str, *bodies: Any, status: int = 200, index: int = 1,
           text: str | None = None) -> None:
        """Answer with ``bodies`` in turn (the last one repeats); ``text`` sends plain text."""
        if text is not None:
            answers = [Answer(status=status, raw=text.encode(), index=index)]
        else:
            answers = [Answer(status=status, body=b, index=index) for b in (bodies or (None,))]
        self.routes[(method, path)] = answers

    def handle(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def stream(self, path: str, chunks: Iterable[bytes], status: int = 200) -> None:
        self.routes[("GET", path)] = [Answer(status=status, chunks=list(chunks))]

    def at(self, address: str) -> Transport:
        """This fake as the transport of a client talking to ``address`` (recorded on
        every request)."""
        return _AddressedFake(self, address)

    def request(self, method: str, path: str, params: Mapping[str, str] | None,
                json_body: Any, headers: Mapping[str, str],
                stream: bool = False, *, address: str = "") -> ApiResponse:
        req = Request(method, path, dict(params or {}), json_body, dict(headers), address)
        self.requests.append(req)
        route = self.routes.get((method, path))
        if route is None:
            return ApiResponse(404, {}, b"Invalid URL path")
        if callable(route):
            answer = route(req)
        else:
            answer = route.pop(0) if len(route) > 1 else route[0]
        headers_out = {"X-Nomad-Index": str(answer.index), "X-Nomad-KnownLeader": "true",
                       "X-Nomad-LastContact": "0"}
        if answer.chunks is not None:
            return ApiResponse(answer.status, headers_out, iter(answer.chunks))
        body = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
        return ApiResponse(answer.status, headers_out, body)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.requests if method is None or r.method == method]

    def last(self, method: str, path: str) -> Request:
        return [r for r in self.requests if r.method == method and r.path == path][-1]


@dataclass(frozen=True)
class _AddressedFake:
    """A :class:`FakeNomad` seen through the address a client was built for."""

    fake: FakeNomad
    address: str

    def request(self, method: str, path: str, params: Mapping[str, str] | None,
                json_body: Any, headers: Mapping[str, str],
                stream: bool = False) -> ApiResponse:
        return self.fake.request(method, path, params, json_body, headers, stream,
                                 address=self.address)
