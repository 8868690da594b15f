"""Query options every read endpoint shares, and Nomad's blocking queries.

``?index=N&wait=D`` turns a read into a long poll: the answer comes when the
tables the endpoint reads move past index ``N`` or when ``wait`` (default 5
minutes, at most 10, plus up to 1/16 jitter as Nomad adds) runs out.  The
wait parks a coroutine, never a thread (see :mod:`nomadjail.state.watch`).
Every answer carries ``X-Nomad-Index``, ``X-Nomad-KnownLeader`` and
``X-Nomad-LastContact``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import falcon.asgi

from ..server import StateSnapshot, StateStore, Table
from ..structs import BadRequest, Unavailable, parse_duration, parse_go_bool

T = TypeVar("T")

DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0


@dataclass(slots=True)
class QueryOptions:
    min_index: int = 0
    wait: float = DEFAULT_WAIT
    stale: bool = False
    prefix: str = ""
    namespace: str = "default"
    region: str = ""
    per_page: int = 0  # 0 = everything
    next_token: str = ""

    @property
    def all_namespaces(self) -> bool:
        return self.namespace == "*"


def parse_bool(value: str | None, name: str) -> bool | None:
    """Go's strconv.ParseBool, with Nomad's error message."""
    if value is None or value == "":
        return None
    try:
        return parse_go_bool(value)
    except ValueError:
        raise BadRequest(f"Failed to parse value of {name!r} ({value}) as a bool") from None


def bool_param(req: falcon.asgi.Request, name: str, default: bool = False) -> bool:
    value = parse_bool(req.get_param(name), name)
    return default if value is None else value


def int_param(req: falcon.asgi.Request, name: str, default: int = 0) -> int:
    raw = req.get_param(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"Failed to parse value of {name!r} ({raw}) as an integer") from None


def check_region(asked: str | None, region: str) -> None:
    """This agent only answers for its own region (there is no federation yet); Nomad
    answers the same for a region it has no path to."""
    if asked and region and asked != region:
        raise Unavailable(f"No path to region: {asked!r} (this cluster is region {region!r})")


def query_options(req: falcon.asgi.Request, region: str = "") -> QueryOptions:
    check_region(req.get_param("region"), region)
    opts = QueryOptions(region=req.get_param("region") or region,
                        namespace=req.get_param("namespace") or "default",
                        prefix=req.get_param("prefix") or "",
                        per_page=int_param(req, "per_page"),
                        next_token=req.get_param("next_token") or "")
    if opts.per_page < 0:
        raise BadRequest(f"per_page must be a positive number, got {opts.per_page}")
    if req.get_param("filter"):
        raise BadRequest("filter expressions are not supported by nomadjail yet: "
                         "use prefix= or filter on the client side")
    wait = req.get_param("wait")
    if wait:
        try:
            opts.wait = min(parse_duration(wait) / 1e9, MAX_WAIT)
        except ValueError:
            raise BadRequest("Invalid wait time") from None
        if opts.wait < 0:
            raise BadRequest("Invalid wait time")
    index = req.get_param("index")
    if index:
        if not index.isdigit():
            raise BadRequest("Invalid index")
        opts.min_index = int(index)
    if "stale" in req.params:
        stale = req.get_param("stale") or ""
        if stale == "":
            opts.stale = True
        else:
            try:
                opts.stale = bool(parse_bool(stale, "stale"))
            except BadRequest:
                raise BadRequest("Expect `true` or `false` for `stale` query string "
                                 "parameter") from None
    return opts


async def blocking_snapshot(store: StateStore, opts: QueryOptions,
                            tables: Iterable[Table], *,
                            timeout: float | None = None) -> StateSnapshot:
    """The snapshot to answer from: at once, or once ``tables`` pass ``opts.min_index``
    (waiting at most ``timeout`` seconds; default ``opts.wait`` plus Nomad's jitter)."""
    tables = tuple(tables)
    if opts.min_index <= 0:
        return store.snapshot()
    wait = opts.wait + random.uniform(0, opts.wait / 16) if timeout is None else timeout
    return await store.wait_for_async(opts.min_index, tables, wait)


def paginate(items: list[T], opts: QueryOptions, resp: falcon.asgi.Response,
             token: Callable[[T], str]) -> list[T]:
    """Nomad's ``per_page``/``next_token`` paging over an already ordered list: a page
    starts at the item whose token is ``next_token`` (or the first one after it, when
    that item is gone), and ``X-Nomad-NextToken`` names the first item of the next page."""
    if opts.next_token:
        start = next((i for i, item in enumerate(items) if token(item) >= opts.next_token),
                     len(items))
        exact = next((i for i, item in enumerate(items) if token(item) == opts.next_token), None)
        items = items[exact if exact is not None else start:]
    if opts.per_page and len(items) > opts.per_page:
        resp.set_header("X-Nomad-NextToken", token(items[opts.per_page]))
        items = items[:opts.per_page]
    return items


def set_meta(resp: falcon.asgi.Response, index: int, *, known_leader: bool = True) -> None:
    resp.set_header("X-Nomad-Index", str(max(index, 1)))
    resp.set_header("X-Nomad-KnownLeader", "true" if known_leader else "false")
    resp.set_header("X-Nomad-LastContact", "0")


def set_index(resp: falcon.asgi.Response, index: int) -> None:
    resp.set_header("X-Nomad-Index", str(index))
