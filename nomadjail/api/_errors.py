"""What the API client raises when a request does not get the answer it wanted.

Every error is also a :class:`nomadjail.structs.NomadError`, and those with a
status Nomad gives a meaning to are also the matching ``structs`` error, so code
that only knows the vocabulary (``except NotFound``) handles an HTTP 404 without
importing this package::

    NomadError (structs)
    └── ApiError                    the server answered with an error status
        ├── ApiBadRequest           400  (also a structs.BadRequest)
        ├── ApiPermissionDenied     403  (also a structs.PermissionDenied)
        ├── ApiNotFound             404  (also a structs.NotFound)
        ├── ApiConflict             409  (also a structs.Conflict)
        ├── ApiUnavailable          500 and other 5xx (also a structs.Unavailable)
        └── ApiConnectionError      no HTTP answer at all: refused, timed out, bad URL

Any other status (429, 3xx, an unexpected 1xx) is a plain :class:`ApiError`.
An answer that arrived but cannot be read (invalid JSON, a body that does not
fit the struct, a broken log stream) is an :class:`ApiError` with status 200 or
the answer's own status.

``str(err)`` reads like the Go client's: ``Unexpected response code: 404 (job
not found)``; ``err.message`` is the server's plain-text body alone, so the CLI
can print either.
"""

from __future__ import annotations

from ..structs import BadRequest, Conflict, NomadError, NotFound, PermissionDenied, Unavailable

__all__ = ["ApiError", "ApiBadRequest", "ApiPermissionDenied", "ApiNotFound", "ApiConflict",
           "ApiUnavailable", "ApiConnectionError", "error_for_status"]


class ApiError(NomadError):
    """The server answered a request with an error status."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = "Unexpected response code"
        if self.status or self.message:
            text += ": "
        if self.status:
            text += str(self.status) + (" " if self.message else "")
        if self.message:
            text += f"({self.message})"
        return text


class ApiBadRequest(ApiError, BadRequest):
    pass


class ApiPermissionDenied(ApiError, PermissionDenied):
    pass


class ApiNotFound(ApiError, NotFound):
    pass


class ApiConflict(ApiError, Conflict):
    pass


class ApiUnavailable(ApiError, Unavailable):
    pass


class ApiConnectionError(ApiError):
    """No HTTP answer: the address is wrong, nothing listens, or it timed out.

    ``status`` is 0; ``str(err)`` names the request the way the Go client does
    (``Get "http://…/v1/jobs": connect: connection refused``).
    """

    def __init__(self, method: str, url: str, reason: str):
        self.method = method
        self.url = url
        self.reason = reason
        super().__init__(0, reason)

    def _describe(self) -> str:
        return f'{self.method.capitalize()} "{self.url}": {self.reason}'


_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    400: ApiBadRequest,
    403: ApiPermissionDenied,
    404: ApiNotFound,
    409: ApiConflict,
}


def error_for_status(status: int, message: str) -> ApiError:
    """The ApiError subclass Nomad's status code stands for.

    The one place a status becomes an exception: the public API client and the
    agent RPC client (``api/rpc_client.py``) both map answers through it.
    """
    if status in _ERRORS_BY_STATUS:
        return _ERRORS_BY_STATUS[status](status, message)
    if status >= 500:
        return ApiUnavailable(status, message)
    return ApiError(status, message)
