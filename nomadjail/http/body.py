"""Reading request bodies the way Nomad does: JSON objects, with clear 400s.

Every endpoint that reads a body goes through :func:`read_body` (raw bytes, for
the forwarder) or :func:`read_object` (a JSON object), so one set of limits
holds for the whole API and every bad body is a :class:`BadRequest` -- a 400
with a message naming the problem, never a 5xx:

* **size**: at most :data:`MAX_BODY_BYTES`.  A declared ``Content-Length`` over
  it is refused before anything is read; a body without one is read only up
  to the limit.
* **nesting**: at most :data:`MAX_JSON_DEPTH` levels of objects and arrays.
  Everything that handles a job after it is accepted (the codec, raft, the
  diff, the client's env interpolation) walks it recursively, two or three
  Python frames a level, so a body must stay far from the interpreter's
  recursion limit -- a 5,000-level body used to answer 500 "maximum recursion
  depth exceeded".
* **syntax**: strict JSON.  ``NaN`` and ``Infinity`` are refused as Nomad's Go
  decoder refuses them (and as ``jq`` would, reading the raft journal).

Nomad states no limits; these are ours, chosen so any real job fits with room
to spare (the deepest Nomad job JSON we know, a docker task's mount options,
is about 15 levels deep; real job files are tens of KiB).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import falcon.asgi

from ..structs import BadRequest

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "decode_object", "read_body", "read_object"]

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 64


async def read_body(req: falcon.asgi.Request) -> bytes:
    """The raw request body, at most :data:`MAX_BODY_BYTES` of it (else BadRequest)."""
    declared = req.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise _too_large(declared)
    raw = await req.stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large(None)
    return raw


async def read_object(req: falcon.asgi.Request, *, required: bool = True) -> dict[str, Any]:
    """The JSON object in the request body; ``{}`` for an empty body unless required."""
    return decode_object(await read_body(req), required=required)


def decode_object(raw: bytes, *, required: bool = True) -> dict[str, Any]:
    """:func:`read_object` on bytes already read: the same checks, the same messages."""
    if not raw.strip():
        if required:
            raise BadRequest("request body is empty: expected a JSON object")
        return {}
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequest(f"request body is not valid JSON: {err}") from None
    except RecursionError:
        # The C decoder gives up near the interpreter's recursion limit, far past ours.
        _too_deep()
    if _deeper_than(data, MAX_JSON_DEPTH):
        _too_deep()
    if not isinstance(data, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(data).__name__}")
    return data


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels in ``value`` (the
    top-level object is level 1).  Iterative: it must not hit the limit it guards."""
    if not isinstance(value, (dict, list)):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))
    return False


def _refuse_constant(name: str) -> NoReturn:
    raise BadRequest(f"request body is not valid JSON: {name} is not a JSON number")


def _too_deep() -> NoReturn:
    raise BadRequest(f"request body is nested too deeply: more than {MAX_JSON_DEPTH} levels "
                     "of JSON objects and arrays")


def _too_large(declared: int | None) -> BadRequest:
    size = f"{declared} bytes" if declared is not None else "more than that"
    return BadRequest(f"request body is too large: the limit is {MAX_BODY_BYTES} bytes, "
                      f"this one is {size}")
