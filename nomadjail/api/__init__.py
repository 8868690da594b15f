"""Nomad's HTTP API from the outside: the client the CLI and tools use.

``nomadjail.api.rpc`` (the agent RPC protocol) lives here too but is not
re-exported: only agents speak it.
"""

from .client import (
    ALL_NAMESPACES,
    DEFAULT_ADDRESS,
    DEFAULT_TIMEOUT,
    ApiBadRequest,
    ApiClient,
    ApiConflict,
    ApiConnectionError,
    ApiError,
    ApiNotFound,
    ApiPermissionDenied,
    ApiResponse,
    ApiUnavailable,
    QueryMeta,
    RequestsTransport,
    StreamFrame,
    Transport,
    WriteMeta,
    error_for_status,
)

__all__ = ["ALL_NAMESPACES", "DEFAULT_ADDRESS", "DEFAULT_TIMEOUT", "ApiBadRequest", "ApiClient",
           "ApiConflict", "ApiConnectionError", "ApiError", "ApiNotFound", "ApiPermissionDenied",
           "ApiResponse", "ApiUnavailable", "QueryMeta", "RequestsTransport", "StreamFrame",
           "Transport", "WriteMeta", "error_for_status"]
