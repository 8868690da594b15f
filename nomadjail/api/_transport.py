"""The transport seam: how one request reaches a server and its answer comes back.

:class:`~nomadjail.api.ApiClient` and the agent RPC client
(``api/rpc_client.py``) never touch a socket themselves; they hand each request
to a :class:`Transport`.  :class:`RequestsTransport` is the real one (HTTP(S)
with ``requests``); tests pass a fake (``nomadjail.testing.fake_nomad``) so the
CLI and the clients run without sockets.

A transport's contract is small on purpose: an error *status* is an answer
(the caller maps it with :func:`~nomadjail.api.error_for_status`); only "no
answer at all" is an exception, :class:`~nomadjail.api.ApiConnectionError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..structs import parse_duration
from ._errors import ApiConnectionError

__all__ = ["DEFAULT_ADDRESS", "DEFAULT_TIMEOUT", "DEFAULT_BLOCKING_WAIT", "ApiResponse",
           "Transport", "RequestsTransport", "read_timeout", "connection_reason"]

DEFAULT_ADDRESS = "http://127.0.0.1:4646"
DEFAULT_TIMEOUT = 30.0
"""Seconds to wait for an ordinary answer; blocking queries add their wait to it."""
DEFAULT_BLOCKING_WAIT = 300.0
"""Nomad's server-side default wait for a blocking query without ``wait``."""


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

    def read(self) -> bytes:
        """The whole body; a streamed one is read to its end (error bodies are short)."""
        return self.body if isinstance(self.body, bytes) else b"".join(self.body)


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


def read_timeout(timeout: float, params: Mapping[str, str] | None,
                 stream: bool) -> float | None:
    """Seconds to wait for the answer to a request with these query ``params``.

    A blocking query (``index`` set) may legitimately take its whole ``wait``
    (Nomad's default when it has none, or one it cannot parse) plus up to
    1/16 jitter the server adds, so the budget grows with it; a stream (log
    follow) may stay quiet for as long as the task does, so it has none.
    """
    if stream:
        return None
    params = params or {}
    if "index" not in params:
        return timeout
    wait = DEFAULT_BLOCKING_WAIT
    if params.get("wait"):
        try:
            wait = parse_duration(params["wait"]) / 1e9
        except ValueError:
            pass
    return timeout + wait * 17 / 16


class RequestsTransport:
    """The real transport: HTTP(S) with ``requests`` and one pooled session.

    ``timeout`` bounds connecting and, for ordinary requests, reading; see
    :func:`read_timeout` for blocking queries and streams.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, *, timeout: float = DEFAULT_TIMEOUT):
        import requests  # imported here: the CLI's --help should not pay for it

        self.address = address.rstrip("/")
        self.timeout = timeout
        self._requests = requests
        self._session = requests.Session()

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
                stream=stream, timeout=(self.timeout, read_timeout(self.timeout, params, stream)))
        except (self._requests.exceptions.InvalidURL,
                self._requests.exceptions.InvalidSchema) as err:
            raise ApiConnectionError(method, url, f"invalid address: {err}") from None
        except self._requests.exceptions.RequestException as err:
            raise ApiConnectionError(method, url, connection_reason(err)) from None
        if not stream:
            return ApiResponse(response.status_code, dict(response.headers), response.content)
        return ApiResponse(response.status_code, dict(response.headers),
                           _ClosingChunks(response))

    def close(self) -> None:
        self._session.close()


def connection_reason(err: Exception) -> str:
    """The Go client's words for why no answer came (what ``nomad`` users grep for)."""
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
