"""Test doubles for the template manager's seams.

:class:`FakeConsul` emulates the Consul reads (:class:`ConsulReads`) over an
in-memory KV dict and service list, with Consul's JSON shapes; it does not emulate
blocking queries (every answer comes at once with index 1), ACLs or datacenters (every
datacenter is the same one).
:class:`FakeNomad` emulates the servers' service and variable reads over dicts.
:class:`FakeControl` records what the manager asks of the task runner.
Setting ``down = True`` makes a fake raise :class:`SourceUnavailable`, as a Consul or
server that does not answer does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from nomadjail.client.templates.sources import SourceUnavailable
from nomadjail.drivers.base import ExecResult, TaskHandle
from nomadjail.structs import ServiceRegistration, TaskEvent
from nomadjail.structs.service_registration import (
    ServiceRegistrationListStub,
    ServiceRegistrationStub,
)


class FakeConsul:
    def __init__(self) -> None:
        self.kv: dict[str, str] = {}
        self.services: list[dict[str, Any]] = []  # health entries
        self.down = False
        self.reads = 0

    def _check(self) -> None:
        self.reads += 1
        if self.down:
            raise SourceUnavailable("Consul kv: connection refused")

    def kv_get(self, key: str, index: int = 0, wait: float = 0.0
               ) -> tuple[int, dict[str, Any] | None]:
        self._check()
        if key not in self.kv:
            return 1, None
        return 1, {"Key": key, "Value": self.kv[key], "CreateIndex": 1, "ModifyIndex": 1}

    def kv_recurse(self, prefix: str, index: int = 0, wait: float = 0.0
                   ) -> tuple[int, list[dict[str, Any]]]:
        self._check()
        return 1, [{"Key": k, "Value": v} for k, v in sorted(self.kv.items())
                   if k.startswith(prefix)]

    def health_service(self, name: str, tag: str, datacenter: str, index: int = 0,
                       wait: float = 0.0) -> tuple[int, list[dict[str, Any]]]:
        self._check()
        return 1, [e for e in self.services if e["Service"]["Service"] == name
                   and (not tag or tag in e["Service"]["Tags"])]

    def catalog_services(self, datacenter: str, index: int = 0, wait: float = 0.0
                         ) -> tuple[int, dict[str, list[str]]]:
        self._check()
        out: dict[str, list[str]] = {}
        for entry in self.services:
            out.setdefault(entry["Service"]["Service"], []).extend(entry["Service"]["Tags"])
        return 1, out

    def add_service(self, name: str, address: str, port: int, *, status: str = "passing",
                    tags: tuple[str, ...] = (), node: str = "n1") -> None:
        self.services.append({
            "Node": {"Node": node, "ID": node + "-id", "Address": "127.0.0.1",
                     "Datacenter": "dc1"},
            "Service": {"ID": f"{name}-{port}", "Service": name, "Tags": list(tags),
                        "Address": address, "Port": port, "Meta": {}},
            "Checks": [{"CheckID": "serfHealth", "Status": "passing"},
                       {"CheckID": f"{name}-check", "Status": status}]})


@dataclass
class FakeVariable:
    namespace: str
    path: str
    items: dict[str, str]
    create_index: int = 1
    modify_index: int = 1
    create_time: int = 0
    modify_time: int = 0


class FakeNomad:
    def __init__(self) -> None:
        self.services: list[ServiceRegistration] = []
        self.variables: dict[tuple[str, str], FakeVariable] = {}
        self.down = False
        self.var_reads: list[tuple[str, str, str]] = []
        self.chosen = ""

    def _check(self) -> None:
        if self.down:
            raise SourceUnavailable("no servers")

    def get_service_registrations(self, namespace: str, service_name: str, index: int,
                                  wait: float, choose: str = ""
                                  ) -> tuple[list[ServiceRegistration], int]:
        self._check()
        self.chosen = choose
        return [s for s in self.services if s.namespace == namespace
                and s.service_name == service_name], 1

    def list_service_registrations(self, namespace: str, index: int, wait: float
                                   ) -> tuple[list[ServiceRegistrationListStub], int]:
        self._check()
        names: dict[str, set[str]] = {}
        for s in self.services:
            if s.namespace == namespace:
                names.setdefault(s.service_name, set()).update(s.tags)
        return [ServiceRegistrationListStub(namespace=namespace, services=[
            ServiceRegistrationStub(service_name=n, tags=sorted(t))
            for n, t in sorted(names.items())])], 1

    def read_variable(self, namespace: str, path: str, alloc_id: str, index: int,
                      wait: float, task: str = "") -> tuple[Any, int]:
        self._check()
        self.var_reads.append((namespace, path, alloc_id))
        return self.variables.get((namespace, path)), 1

    def list_variables(self, namespace: str, prefix: str, alloc_id: str, index: int,
                       wait: float, task: str = "") -> tuple[list[Any], int]:
        self._check()
        return [v for (ns, p), v in self.variables.items()
                if ns == namespace and p.startswith(prefix)], 1

    def put_variable(self, path: str, items: dict[str, str], namespace: str = "default"
                     ) -> None:
        old = self.variables.get((namespace, path))
        index = (old.modify_index + 1) if old else 1
        self.variables[(namespace, path)] = FakeVariable(namespace, path, dict(items),
                                                         modify_index=index)


@dataclass
class FakeControl:
    """The task runner as the template manager sees it."""

    handle_value: TaskHandle | None = None
    restarts: list[TaskEvent] = field(default_factory=list)
    kills: list[TaskEvent | None] = field(default_factory=list)
    changed: threading.Event = field(default_factory=threading.Event)

    def handle(self) -> TaskHandle | None:
        return self.handle_value

    def restart(self, event: TaskEvent, *, failure: bool = False, force: bool = False) -> None:
        self.restarts.append(event)
        self.changed.set()

    def kill(self, event: TaskEvent | None = None, *, wait: bool = True,
             timeout: float | None = None) -> None:
        self.kills.append(event)
        self.changed.set()


class FakeDriver:
    """signal_task and exec_task only (what change_mode uses)."""

    def __init__(self, exit_code: int = 0) -> None:
        self.signals: list[str] = []
        self.execs: list[list[str]] = []
        self.exit_code = exit_code
        self.changed = threading.Event()

    def signal_task(self, handle: TaskHandle, signal: str) -> None:
        self.signals.append(signal)
        self.changed.set()

    def exec_task(self, handle: TaskHandle, cmd: list[str], timeout: float) -> ExecResult:
        self.execs.append(cmd)
        self.changed.set()
        return ExecResult(stdout=b"", stderr=b"", exit_code=self.exit_code)
