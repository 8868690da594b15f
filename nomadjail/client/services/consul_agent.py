"""The calls the client makes to its Consul agent, and python-consul2 behind them.

:class:`ConsulAgent` is the seam: :class:`~.consul.ConsulServiceProvider` talks
only to it.  :class:`PythonConsulAgent` implements it over a ``consul.Consul``
client from python-consul2 (the agent wiring builds that one, with the
configured address, fallbacks and token).  Service registrations go through
python-consul2's HTTP layer with the full Consul definition, since its
``agent.service.register`` cannot carry several checks, weights or tagged
addresses.

Every failure is raised as :class:`ConsulError` with Consul's own message:
:class:`ConsulUnreachable` when Consul did not answer or failed (5xx), plain
:class:`ConsulError` when it refused this one request (403, 400 ...).
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import quote

import consul
import requests
from consul.base import CB


class ConsulError(Exception):
    """A call to Consul failed; the message says why (Consul's words when it answered)."""


class ConsulUnreachable(ConsulError):
    """Consul did not answer (connection refused, timeout) or failed (5xx): every other
    call would fail alike, so a sync stops at the first."""


class ConsulAgent(Protocol):
    address: str  # for messages: where Consul is

    def services(self) -> dict[str, dict[str, Any]]:
        """``GET /v1/agent/services``."""
        ...

    def checks(self) -> dict[str, dict[str, Any]]:
        """``GET /v1/agent/checks``."""
        ...

    def register_service(self, definition: dict[str, Any], *,
                         replace_existing_checks: bool = False) -> None: ...

    def deregister_service(self, service_id: str) -> None: ...

    def register_check(self, definition: dict[str, Any]) -> None: ...

    def deregister_check(self, check_id: str) -> None: ...

    def update_ttl(self, check_id: str, status: str, output: str) -> None: ...


_FAILURES = (consul.ConsulException, requests.RequestException, OSError, ValueError)


class PythonConsulAgent:
    """:class:`ConsulAgent` over a python-consul2 client."""

    def __init__(self, client: consul.Consul, address: str = "") -> None:
        self._client = client
        self.address = address or str(getattr(client.http, "base_uri", "Consul"))

    def _headers(self) -> dict[str, str]:
        token = getattr(self._client, "token", None)
        return {"X-Consul-Token": token} if token else {}

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except (requests.ConnectionError, requests.Timeout, OSError) as err:
            raise ConsulUnreachable(f"{what}: {err}") from err
        except _FAILURES as err:
            if type(err) is consul.ConsulException:  # python-consul2 raises exactly it for 5xx
                raise ConsulUnreachable(f"{what}: {err}") from err
            raise ConsulError(f"{what}: {err}") from err

    def _put(self, path: str, *, data: Any = None,
             params: list[tuple[str, str]] | None = None) -> None:
        ok = self._call(f"PUT {path}", lambda: self._client.http.put(
            CB.bool(), path, params=params, headers=self._headers(),
            data="" if data is None else json.dumps(data)))
        if not ok:
            raise ConsulError(f"PUT {path}: not found")

    def services(self) -> dict[str, dict[str, Any]]:
        return dict(self._call("list services", self._client.agent.services) or {})

    def checks(self) -> dict[str, dict[str, Any]]:
        return dict(self._call("list checks", self._client.agent.checks) or {})

    def register_service(self, definition: dict[str, Any], *,
                         replace_existing_checks: bool = False) -> None:
        params = [("replace-existing-checks", "true")] if replace_existing_checks else None
        self._put("/v1/agent/service/register", data=definition, params=params)

    def deregister_service(self, service_id: str) -> None:
        try:
            self._put(f"/v1/agent/service/deregister/{quote(service_id, safe='')}")
        except ConsulError as err:
            if "not found" not in str(err):  # already gone is what we wanted
                raise

    def register_check(self, definition: dict[str, Any]) -> None:
        self._put("/v1/agent/check/register", data=definition)

    def deregister_check(self, check_id: str) -> None:
        try:
            self._put(f"/v1/agent/check/deregister/{quote(check_id, safe='')}")
        except ConsulError as err:
            if "not found" not in str(err):
                raise

    def update_ttl(self, check_id: str, status: str, output: str) -> None:
        self._put(f"/v1/agent/check/update/{quote(check_id, safe='')}",
                  data={"Status": status, "Output": output})
