"""Request bodies: every malformed, too deep or too large one is a 400 naming the
problem, never a 5xx, on every route that reads one (the fuzz tests in
``tests/api/test_http_fuzz.py`` cover all routes; these pin the messages)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import falcon.asgi
import falcon.testing
import pytest

from nomadjail.http.body import MAX_BODY_BYTES, MAX_JSON_DEPTH, decode_object, read_body
from nomadjail.structs import BadRequest, to_api
from nomadjail.testing import mock_job


def nested(levels: int) -> Any:
    """``levels`` levels of objects: nested(1) == {"a": 1}."""
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def test_a_job_nested_5000_levels_deep_is_a_400(api: falcon.testing.TestClient) -> None:
    body = '{"Job": ' + "[" * 5000 + "]" * 5000 + "}"
    resp = api.simulate_post("/v1/jobs", body=body)
    assert resp.status_code == 400
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == (f"request body is nested too deeply: more than {MAX_JSON_DEPTH} "
                         "levels of JSON objects and arrays")
    assert api.simulate_get("/v1/jobs").json == []


def test_the_depth_limit_counts_the_top_level_object(api: falcon.testing.TestClient) -> None:
    job = to_api(mock_job(job_id="deep-enough", count=0))
    at_limit = {"Job": job, "Unknown": nested(MAX_JSON_DEPTH - 1)}
    assert decode_object(json.dumps(at_limit).encode()) == at_limit
    resp = api.simulate_post("/v1/validate/job", json=at_limit)
    assert resp.status_code == 200, resp.text
    over = {"Job": job, "Unknown": nested(MAX_JSON_DEPTH)}
    resp = api.simulate_post("/v1/validate/job", json=over)
    assert resp.status_code == 400 and "nested too deeply" in resp.text


@pytest.mark.parametrize("raw", ["[" * 70 + "]" * 70, "[" * 100_000])
def test_deep_bodies_are_refused_for_their_depth_before_their_type(raw: str) -> None:
    with pytest.raises(BadRequest, match="nested too deeply"):
        decode_object(raw.encode())


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(api: falcon.testing.TestClient, constant: str) -> None:
    resp = api.simulate_post("/v1/jobs", body=f'{{"Job": {{"ID": "nan", "Priority": {constant}}}}}')
    assert resp.status_code == 400
    assert resp.text == f"request body is not valid JSON: {constant} is not a JSON number"


def test_a_declared_size_over_the_limit_is_refused_unread(api: falcon.testing.TestClient
                                                         ) -> None:
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    resp = api.simulate_post("/v1/jobs", body=body)
    assert resp.status_code == 400
    assert resp.text == (f"request body is too large: the limit is {MAX_BODY_BYTES} bytes, "
                         f"this one is {len(body)} bytes")


def test_a_body_at_the_limit_is_read(api: falcon.testing.TestClient) -> None:
    document = json.dumps({"Job": to_api(mock_job(job_id="padded", count=0))})
    body = document[:-1] + " " * (MAX_BODY_BYTES - len(document)) + "}"
    assert len(body) == MAX_BODY_BYTES
    resp = api.simulate_post("/v1/validate/job", body=body)
    assert resp.status_code == 200, resp.text


def _streamed(chunks: list[bytes]) -> falcon.asgi.Request:
    """A request whose body arrives in ``chunks`` with no Content-Length (chunked)."""
    events = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
              for i, chunk in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return events.pop(0) if events else {"type": "http.disconnect"}

    scope = falcon.testing.create_scope(path="/v1/jobs", method="POST",
                                        headers={"Transfer-Encoding": "chunked"})
    return falcon.asgi.Request(scope, receive)


def test_a_body_without_a_length_is_read_only_up_to_the_limit() -> None:
    chunk = b" " * (1024 * 1024)
    many = [chunk] * (MAX_BODY_BYTES // len(chunk) + 2)
    req = _streamed(many)
    assert req.content_length is None
    with pytest.raises(BadRequest, match="too large: the limit is .* more than that"):
        asyncio.run(read_body(req))
    assert len(asyncio.run(read_body(_streamed([b'{"a":', b" 1}"])))) == 8


def test_a_job_spec_with_blocks_nested_thousands_deep_is_a_400(
        api: falcon.testing.TestClient) -> None:
    hcl = 'job "x" {\n' + "a {\n" * 3000 + "}\n" * 3000 + "}\n"
    resp = api.simulate_post("/v1/jobs/parse", json={"JobHCL": hcl})
    assert resp.status_code == 400
    assert resp.text.startswith("Failed to parse job: ") and "nested too deeply" in resp.text
