"""The one place where errors become HTTP responses.

Nomad answers errors with a status code and a ``text/plain`` body holding the
message; API clients (the Go ``api`` package, python-nomad, Terraform) show
that text to the user.  Every resource just raises; nothing else in the
package picks a status code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import falcon
import falcon.asgi

from ..structs import BadRequest, Conflict, NomadError, NotFound, PermissionDenied, Unavailable

log = logging.getLogger("nomadjail.http")

STATUS_FOR = (
    (BadRequest, 400),  # includes ValidationError, DecodeError, JobspecError
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Unavailable, 500),
)


class HTTPCodedError(NomadError):
    """An error with an explicit status (405 wrong method, 501 not implemented)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def status_for(err: Exception) -> int:
    if isinstance(err, HTTPCodedError):
        return err.status
    for kind, status in STATUS_FOR:
        if isinstance(err, kind):
            return status
    return 500


def _plain(resp: falcon.asgi.Response, status: int, message: str) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = message
    resp.media = None


async def handle_nomad_error(req: falcon.asgi.Request, resp: falcon.asgi.Response,
                             err: Exception, params: dict) -> None:
    status = status_for(err)
    level = logging.DEBUG if status < 500 else logging.ERROR
    log.log(level, "request failed: method=%s path=%s error=%r code=%d", req.method, req.path,
            str(err), status)
    _plain(resp, status, str(err))


async def handle_falcon_error(req: falcon.asgi.Request, resp: falcon.asgi.Response,
                              err: falcon.HTTPError, params: dict) -> None:
    """Falcon's own errors (unknown route, malformed JSON) as Nomad-style plain text."""
    message = err.description or err.title or "error"
    if isinstance(err, falcon.MediaMalformedError) and err.__cause__ is not None:
        message = f"request body is not valid JSON: {err.__cause__}"
    elif isinstance(err, falcon.HTTPNotFound) and not err.description:
        message = "Invalid URL path"
    elif isinstance(err, falcon.HTTPMethodNotAllowed):
        message = "Invalid method"
    _plain(resp, int(err.status_code), message)
    headers = err.headers or {}
    for name, value in (headers.items() if isinstance(headers, Mapping) else headers):
        resp.set_header(name, value)


async def handle_unexpected(req: falcon.asgi.Request, resp: falcon.asgi.Response,
                            err: Exception, params: dict) -> None:
    log.exception("request failed: method=%s path=%s", req.method, req.path)
    _plain(resp, 500, f"internal error: {err}")


def install(app: falcon.asgi.App) -> None:
    # Falcon picks the most specific handler registered for an exception's class.
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_falcon_error)
    app.add_error_handler(NomadError, handle_nomad_error)
