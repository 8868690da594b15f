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
from dataclasses import dataclass
from typing import Iterable

import falcon.asgi

from ..state import StateSnapshot, StateStore, Table
from ..structs import BadRequest, parse_duration

DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


@dataclass(slots=True)
class QueryOptions:
    min_index: int = 0
    wait: float = DEFAULT_WAIT
    stale: bool = False
    prefix: str = ""
    namespace: str = "default"
    region: str = ""

    @property
    def all_namespaces(self) -> bool:
        return self.namespace == "*"


def parse_bool(value: str | None, name: str) -> bool | None:
    """Go's strconv.ParseBool, with Nomad's error message."""
    if value is None or value == "":
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(f"Failed to parse value of {name!r} ({value}) as a bool")


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


def query_options(req: falcon.asgi.Request, region: str = "") -> QueryOptions:
    opts = QueryOptions(region=req.get_param("region") or region,
                        namespace=req.get_param("namespace") or "default",
                        prefix=req.get_param("prefix") or "")
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
        stale = req.params["stale"]
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
                            tables: Iterable[Table]) -> StateSnapshot:
    """The snapshot to answer from: at once, or once ``tables`` pass ``opts.min_index``."""
    tables = tuple(tables)
    if opts.min_index <= 0:
        return store.snapshot()
    wait = opts.wait + random.uniform(0, opts.wait / 16)
    return await store.wait_for_async(opts.min_index, tables, wait)


def set_meta(resp: falcon.asgi.Response, index: int, *, known_leader: bool = True) -> None:
    resp.set_header("X-Nomad-Index", str(max(index, 1)))
    resp.set_header("X-Nomad-KnownLeader", "true" if known_leader else "false")
    resp.set_header("X-Nomad-LastContact", "0")


def set_index(resp: falcon.asgi.Response, index: int) -> None:
    resp.set_header("X-Nomad-Index", str(index))
