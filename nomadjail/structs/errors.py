"""The errors every layer raises for a user's mistake or a missing object.

The HTTP layer maps them to Nomad's status codes in one place
(``nomadjail/http/errors.py``) and the CLI prints their message; nobody else
needs to know about status codes.

::

    NomadError                   any error meant for the user
    ├── BadRequest (400)         malformed or invalid input; ValidationError is one
    ├── PermissionDenied (403)   wrong or missing token / node secret
    ├── NotFound (404)           unknown job, allocation, node, evaluation ...
    ├── Conflict (409)           check-index mismatch (``job run -check-index``)
    └── Unavailable (500)        no cluster leader, raft not ready
"""

from __future__ import annotations


class NomadError(Exception):
    """Base of user-facing errors; ``str(err)`` is the message shown."""


class BadRequest(NomadError):
    pass


class PermissionDenied(NomadError):
    def __init__(self, message: str = "Permission denied"):
        super().__init__(message)


class NotFound(NomadError):
    pass


class Conflict(NomadError):
    pass


class Unavailable(NomadError):
    pass
