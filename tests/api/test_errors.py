"""nomadjail.api._errors: which error a status becomes, and how each one reads."""

from __future__ import annotations

import pytest

from nomadjail.api._errors import (
    ApiBadRequest,
    ApiConflict,
    ApiConnectionError,
    ApiError,
    ApiNotFound,
    ApiPermissionDenied,
    ApiUnavailable,
    error_for_status,
)
from nomadjail.structs import (
    BadRequest,
    Conflict,
    NomadError,
    NotFound,
    PermissionDenied,
    Unavailable,
)


@pytest.mark.parametrize("status, kind, vocabulary", [
    (400, ApiBadRequest, BadRequest),
    (403, ApiPermissionDenied, PermissionDenied),
    (404, ApiNotFound, NotFound),
    (409, ApiConflict, Conflict),
    (500, ApiUnavailable, Unavailable),
    (502, ApiUnavailable, Unavailable),
    (504, ApiUnavailable, Unavailable),
])
def test_statuses_nomad_gives_a_meaning_become_the_structs_error_too(status, kind, vocabulary):
    err = error_for_status(status, "why")
    assert type(err) is kind
    assert isinstance(err, vocabulary) and isinstance(err, ApiError)
    assert (err.status, err.message) == (status, "why")


@pytest.mark.parametrize("status", [401, 405, 429, 302, 100])
def test_other_statuses_are_a_plain_api_error(status):
    err = error_for_status(status, "nope")
    assert type(err) is ApiError
    assert not isinstance(err, (BadRequest, NotFound, Unavailable))


def test_every_api_error_is_a_nomad_error():
    for err in (error_for_status(404, "x"), ApiConnectionError("GET", "http://h/v1/x", "r")):
        assert isinstance(err, NomadError)


@pytest.mark.parametrize("status, message, text", [
    (404, "job not found", "Unexpected response code: 404 (job not found)"),
    (500, "", "Unexpected response code: 500"),
    (0, "no body", "Unexpected response code: (no body)"),
    (0, "", "Unexpected response code"),
])
def test_str_reads_like_the_go_client(status, message, text):
    assert str(error_for_status(status, message)) == text


def test_connection_error_names_the_request_and_has_no_status():
    err = ApiConnectionError("PUT", "http://127.0.0.1:1/v1/jobs", "connect: connection refused")
    assert str(err) == 'Put "http://127.0.0.1:1/v1/jobs": connect: connection refused'
    assert (err.status, err.message) == (0, "connect: connection refused")
    assert (err.method, err.url, err.reason) == ("PUT", "http://127.0.0.1:1/v1/jobs",
                                                 "connect: connection refused")
