"""The API client's transport seam answered by an agent's falcon app in process.

``nomadjail.api`` clients built on it send their requests through falcon's test
client instead of a socket, so a test drives the real routes, error mapping and
headers without starting an agent process.  ``port`` makes the request look as if
it came in on that listener (the rpc port serves the client RPCs only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import falcon.testing

from nomadjail.api import ApiResponse


class AppTransport:
    def __init__(self, api: falcon.testing.TestClient, port: int | None = None):
        self.api = api
        self.port = port

    def request(self, method: str, path: str, params: Mapping[str, str] | None,
                json_body: Any, headers: Mapping[str, str],
                stream: bool = False) -> ApiResponse:
        listener = {} if self.port is None else {"port": self.port}
        result = self.api.simulate_request(method, path, params=dict(params or {}),
                                           json=json_body, headers=dict(headers), **listener)
        return ApiResponse(result.status_code, dict(result.headers), result.content)
