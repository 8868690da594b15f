"""Nomad's HTTP API from the outside: the client the CLI and tools use.

Import from here; the modules behind this surface are private and may move::

    client.py       ApiClient: one method per Nomad endpoint, answers decoded to structs
    _transport.py   Transport (the seam), RequestsTransport, ApiResponse, default address
    _errors.py      the ApiError tree and error_for_status (the tree is drawn there)
    _meta.py        QueryMeta / WriteMeta from the X-Nomad-* headers
    _streams.py     StreamFrame and the decoding of streamed logs

``nomadjail.api.rpc`` (the agent RPC protocol) and ``nomadjail.api.rpc_client``
(its client side) live here too but are not re-exported: only agents speak it.
"""

from ._errors import (
    ApiBadRequest,
    ApiConflict,
    ApiConnectionError,
    ApiError,
    ApiNotFound,
    ApiPermissionDenied,
    ApiUnavailable,
    error_for_status,
)
from ._meta import QueryMeta, WriteMeta
from ._streams import StreamFrame
from ._transport import DEFAULT_ADDRESS, DEFAULT_TIMEOUT, ApiResponse, RequestsTransport, Transport
from .client import ALL_NAMESPACES, ApiClient

__all__ = [
    # the client
    "ApiClient", "ALL_NAMESPACES", "DEFAULT_ADDRESS", "DEFAULT_TIMEOUT",
    # answers
    "QueryMeta", "WriteMeta", "StreamFrame",
    # the transport seam
    "Transport", "RequestsTransport", "ApiResponse",
    # errors
    "ApiError", "ApiBadRequest", "ApiPermissionDenied", "ApiNotFound", "ApiConflict",
    "ApiUnavailable", "ApiConnectionError", "error_for_status",
]
