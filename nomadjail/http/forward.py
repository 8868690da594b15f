"""Sending a request on to the agent that can answer it (Nomad's RPC forwarding).

Three hops exist in a cluster, and each is one call to :func:`proxy`:

* a **follower server** gets a client RPC only the leader can serve (register,
  heartbeat) -> the leader's rpc address;
* a **server** gets ``/v1/client/...`` for an allocation another node runs ->
  that node's HTTP address (``Node.HTTPAddr``), where its client answers;
* a **client-only agent** gets a public API request (``/v1/jobs`` ...) -> one of
  its servers, on the rpc port, authenticated as the node with
  :data:`NODE_AUTH_HEADER`, since clients know their servers only by rpc address.

Forwarded requests carry :data:`FORWARDED_HEADER` and are never forwarded
again, so a stale view of the cluster cannot make a loop.  The answer is
relayed as it arrives (status, Nomad headers, body as a stream), so blocking
queries and ``alloc logs -f`` work through a hop.  Waiting on the upstream
holds a thread of :data:`PROXY_THREADS` per request in flight.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import falcon.asgi
import requests

from ..structs import Unavailable
from .body import read_body

FORWARDED_HEADER = "X-Nomadjail-Forwarded"
NODE_AUTH_HEADER = "X-Nomadjail-Node"  # "<node id>:<node secret>"
RELAYED_HEADERS = ("Content-Type", "X-Nomad-Index", "X-Nomad-KnownLeader",
                   "X-Nomad-LastContact", "X-Nomad-NextToken")
PROXY_THREADS = ThreadPoolExecutor(max_workers=64, thread_name_prefix="forward")
CONNECT_TIMEOUT = 5.0


def was_forwarded(req: falcon.asgi.Request) -> bool:
    return bool(req.get_header(FORWARDED_HEADER))


async def proxy(req: falcon.asgi.Request, resp: falcon.asgi.Response, address: str, *,
                body: Any = None, headers: Mapping[str, str] | None = None) -> None:
    """Answer ``req`` with what ``address`` (``ip:port``) answers to the same request.

    ``body`` is the request body already read (a JSON value), or None to read it here.
    """
    if was_forwarded(req):
        raise Unavailable(f"cannot serve {req.path} here and it was already forwarded once")
    raw: bytes | None
    if body is None and req.method in ("POST", "PUT"):
        raw = await read_body(req)  # the same size limit as every endpoint's
    else:
        raw = json.dumps(body).encode() if body is not None else None
    send = {FORWARDED_HEADER: "1"}
    token = req.get_header("X-Nomad-Token")
    if token:
        send["X-Nomad-Token"] = token
    send.update(headers or {})
    url = f"http://{address}{req.path}"

    def open_upstream() -> requests.Response:
        return requests.request(req.method, url, params=req.params, data=raw, headers=send,
                                stream=True, timeout=(CONNECT_TIMEOUT, None))

    loop = asyncio.get_running_loop()
    try:
        upstream = await loop.run_in_executor(PROXY_THREADS, open_upstream)
    except requests.RequestException as err:
        raise Unavailable(f"cannot reach {address} to forward {req.path}: {err}") from None
    resp.status = upstream.status_code
    for name in RELAYED_HEADERS:
        if name in upstream.headers:
            resp.set_header(name, upstream.headers[name])
    resp.stream = _relay(upstream)


async def _relay(upstream: requests.Response) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    chunks = upstream.iter_content(chunk_size=None)
    try:
        while True:
            chunk = await loop.run_in_executor(PROXY_THREADS, next, chunks, None)
            if chunk is None:
                return
            yield chunk
    except requests.RequestException:
        return  # the upstream went away mid-answer; the client sees the stream end
    finally:
        upstream.close()


def node_auth(node_id: str, secret: str) -> dict[str, str]:
    return {NODE_AUTH_HEADER: f"{node_id}:{secret}"}


def node_auth_valid(req: falcon.asgi.Request, state: Any) -> bool:
    """Whether ``req`` carries the ID and SecretID of a node the server knows."""
    node_id, _, secret = (req.get_header(NODE_AUTH_HEADER) or "").partition(":")
    node = state.node_by_id(node_id) if node_id else None
    return node is not None and bool(secret) and node.secret_id == secret
