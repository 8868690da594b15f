"""Reading request bodies the way Nomad does: JSON objects, with clear 400s."""

from __future__ import annotations

import json
from typing import Any

import falcon.asgi

from ..structs import BadRequest


async def read_object(req: falcon.asgi.Request, *, required: bool = True) -> dict[str, Any]:
    """The JSON object in the request body; ``{}`` for an empty body unless required."""
    raw = await req.stream.read()
    if not raw.strip():
        if required:
            raise BadRequest("request body is empty: expected a JSON object")
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BadRequest(f"request body is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(data).__name__}")
    return data
