"""Where a task's templates get their data: Consul (KV, catalog), the Nomad servers
(service registrations, variables) and the task's files -- the DataSource of
:mod:`nomadjail.gotemplate.consul`, with a cache.

Guarantees:

* **One answer per dependency per render.**  :meth:`TemplateSources.fetch` asks the
  backend only the first time a dependency is seen and keeps the answer; every
  template of the task that reads the same key or service during a render sees the
  same value, and a re-render costs nothing until :meth:`refresh` says something
  changed.
* **Unreachable is missing, never empty.**  When Consul or the servers do not
  answer, the dependency stays MISSING (and :attr:`errors` says why), so a first
  render waits ("Missing: ..." events) instead of writing a config with holes, and a
  later render keeps the last good value rather than blanking a file.
* **One watcher per task.**  :meth:`refresh` re-reads every dependency the renders
  used, one after the other, and says whether any answer changed; the template
  manager calls it from its single loop (a shared poll, no thread per template or
  per dependency).

Consul reads go through the :class:`ConsulReads` seam (python-consul2 behind
:class:`PythonConsulReads`), Nomad reads through :class:`NomadReads` (the client's
``ServerRPC``), so the rules here are tested with fakes.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from ...gotemplate.consul import (
    MISSING,
    CatalogSnippet,
    Dependency,
    DependencyKind,
    HealthService,
    KeyPair,
    NomadService,
    NomadServicesSnippet,
    NomadVarMeta,
    ServiceTags,
    nomad_var_items,
)
from ...structs import ServiceRegistration
from ...structs.service_registration import ServiceRegistrationListStub

log = logging.getLogger(__name__)

ANY_HEALTH = "any"
_CRITICAL, _WARNING, _PASSING, _MAINTENANCE = "critical", "warning", "passing", "maintenance"


class SourceUnavailable(Exception):
    """A backend did not answer (Consul down, no server reachable); the message says why."""


class ConsulReads(Protocol):
    """The Consul reads templates make (Consul's JSON shapes)."""

    def kv_get(self, key: str) -> dict[str, Any] | None:
        """``GET /v1/kv/<key>``: the entry, or None when the key does not exist."""
        ...

    def kv_recurse(self, prefix: str) -> list[dict[str, Any]]:
        """``GET /v1/kv/<prefix>?recurse``: every entry under ``prefix`` (may be empty)."""
        ...

    def health_service(self, name: str, tag: str, datacenter: str) -> list[dict[str, Any]]:
        """``GET /v1/health/service/<name>``: instances with their node and checks."""
        ...

    def catalog_services(self, datacenter: str) -> dict[str, list[str]]:
        """``GET /v1/catalog/services``: service name -> tags."""
        ...


class NomadReads(Protocol):
    """The service reads templates make from the Nomad servers (the client's ServerRPC)."""

    def get_service_registrations(self, namespace: str, service_name: str, index: int,
                                  wait: float, choose: str = ""
                                  ) -> tuple[list[ServiceRegistration], int]: ...

    def list_service_registrations(self, namespace: str, index: int, wait: float
                                   ) -> tuple[list[ServiceRegistrationListStub], int]: ...


@runtime_checkable
class VariableReads(Protocol):
    """The variable reads templates make (the client's ServerRPC): as the task ``task``
    of ``alloc_id``, so the servers apply Nomad's workload rules to the path."""

    def read_variable(self, namespace: str, path: str, alloc_id: str, index: int,
                      wait: float, task: str = "") -> tuple[Any, int]: ...

    def list_variables(self, namespace: str, prefix: str, alloc_id: str, index: int,
                       wait: float, task: str = "") -> tuple[list[Any], int]: ...


class PythonConsulReads:
    """:class:`ConsulReads` over a python-consul2 client (built by the agent with the
    ``consul`` block's addresses, fallbacks and token)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as err:  # noqa: BLE001 - python-consul2 and requests raise many kinds
            raise SourceUnavailable(f"Consul {what}: {err}") from err

    def kv_get(self, key: str) -> dict[str, Any] | None:
        _, entry = self._call(f"kv {key!r}", lambda: self._client.kv.get(key))
        return _decoded(entry) if entry is not None else None

    def kv_recurse(self, prefix: str) -> list[dict[str, Any]]:
        _, entries = self._call(f"kv {prefix!r}",
                                lambda: self._client.kv.get(prefix, recurse=True))
        return [_decoded(e) for e in entries or []]

    def health_service(self, name: str, tag: str, datacenter: str) -> list[dict[str, Any]]:
        _, nodes = self._call(f"service {name!r}", lambda: self._client.health.service(
            name, tag=tag or None, dc=datacenter or None))
        return list(nodes or [])

    def catalog_services(self, datacenter: str) -> dict[str, list[str]]:
        _, services = self._call("services", lambda: self._client.catalog.services(
            dc=datacenter or None))
        return dict(services or {})


def _decoded(entry: dict[str, Any]) -> dict[str, Any]:
    """python-consul2 hands values as bytes; templates see text."""
    value = entry.get("Value")
    if isinstance(value, bytes):
        entry = {**entry, "Value": value.decode("utf-8", "replace")}
    elif isinstance(value, str):  # raw JSON (a double, or another client): base64
        entry = {**entry, "Value": base64.b64decode(value).decode("utf-8", "replace")}
    elif value is None:
        entry = {**entry, "Value": ""}
    return entry


class TemplateSources:
    """The DataSource of one task's templates (see the module docstring)."""

    def __init__(self, *, consul: ConsulReads | None, nomad: NomadReads | None,
                 namespace: str, alloc_id: str, read_file: Callable[[str], str | None],
                 variables: VariableReads | None = None, task: str = "") -> None:
        self._consul = consul
        self._nomad = nomad
        self._variables = variables
        self._namespace = namespace
        self._alloc_id = alloc_id
        self._task = task
        self._read_file = read_file
        self._lock = threading.Lock()
        self._cache: dict[Dependency, object] = {}
        self.errors: dict[Dependency, str] = {}  # why a dependency is missing, when known

    def fetch(self, dep: Dependency) -> object:
        with self._lock:
            if dep in self._cache:
                return self._cache[dep]
        value = self._query(dep)
        with self._lock:
            if value is not MISSING or dep not in self._cache:
                self._cache[dep] = value
            return self._cache[dep]

    def forget(self, keep: Iterable[Dependency]) -> None:
        """Drop every cached dependency not in ``keep`` (no render reads it any more)."""
        wanted = set(keep)
        with self._lock:
            for dep in [d for d in self._cache if d not in wanted]:
                del self._cache[dep]
                self.errors.pop(dep, None)

    def refresh(self) -> bool:
        """Read every cached dependency again; True when any answer changed.

        A backend that does not answer keeps the last good value (and the error)."""
        with self._lock:
            deps = list(self._cache)
        changed = False
        for dep in deps:
            value = self._query(dep)
            with self._lock:
                if dep not in self._cache:
                    continue
                if value is MISSING and self._cache[dep] is not MISSING \
                        and dep in self.errors:
                    continue  # unreachable: keep what we had
                if value != self._cache[dep] or (value is MISSING) != \
                        (self._cache[dep] is MISSING):
                    self._cache[dep] = value
                    changed = True
        return changed

    # -- the queries ----------------------------------------------------------------
    def _query(self, dep: Dependency) -> object:
        try:
            value = self._answer(dep)
        except SourceUnavailable as err:
            with self._lock:
                self.errors[dep] = str(err)
            log.warning("template data %s: %s", dep, err)
            return MISSING
        with self._lock:
            self.errors.pop(dep, None)
        return value

    def _answer(self, dep: Dependency) -> object:
        kind = dep.kind
        if kind == DependencyKind.FILE:
            text = self._read_file(dep.path)
            return MISSING if text is None else text
        if kind in (DependencyKind.NOMAD_SERVICE, DependencyKind.NOMAD_SERVICES,
                    DependencyKind.NOMAD_VAR_GET, DependencyKind.NOMAD_VAR_LIST):
            return self._nomad_answer(dep)
        consul = self._consul
        if consul is None:
            raise SourceUnavailable("no Consul is configured on this client")
        if kind == DependencyKind.KV_GET:
            entry = consul.kv_get(dep.path)
            if entry is None:
                return MISSING if dep.block else None
            return str(entry.get("Value", ""))
        if kind == DependencyKind.KV_LIST:
            return _key_pairs(consul.kv_recurse(dep.path), dep.path)
        if kind == DependencyKind.CATALOG_SERVICE:
            entries = consul.health_service(dep.path, dep.tag, dep.datacenter)
            return _health_services(entries, dep.health)
        if kind == DependencyKind.CATALOG_SERVICES:
            services = consul.catalog_services(dep.datacenter)
            return [CatalogSnippet(Name=name, Tags=ServiceTags(sorted(tags)))
                    for name, tags in sorted(services.items())]
        raise SourceUnavailable(f"unknown dependency kind {kind!r}")

    def _nomad_answer(self, dep: Dependency) -> object:
        namespace = dep.namespace or self._namespace
        try:
            if dep.kind in (DependencyKind.NOMAD_VAR_GET, DependencyKind.NOMAD_VAR_LIST):
                return self._variable_answer(dep, namespace)
            nomad = self._nomad
            if nomad is None:
                raise SourceUnavailable("this client cannot reach the Nomad servers")
            if dep.kind == DependencyKind.NOMAD_SERVICE:
                picked = f"{dep.choose[0]}|{dep.choose[1]}" if dep.choose else ""
                regs, _ = nomad.get_service_registrations(namespace, dep.path, 0, 0,
                                                          choose=picked)
                found = [r for r in regs if not dep.tag or dep.tag in r.tags]
                if not picked:
                    found.sort(key=lambda r: r.id)
                return [_nomad_service(r) for r in found]
            if dep.kind == DependencyKind.NOMAD_SERVICES:
                stubs, _ = nomad.list_service_registrations(namespace, 0, 0)
                return [NomadServicesSnippet(Name=s.service_name, Tags=ServiceTags(s.tags))
                        for stub in stubs for s in stub.services]
        except SourceUnavailable:
            raise
        except Exception as err:  # noqa: BLE001 - any RPC failure: the data is not there yet
            raise SourceUnavailable(f"Nomad {dep}: {err}") from err
        raise SourceUnavailable(f"unknown dependency kind {dep.kind!r}")

    def _variable_answer(self, dep: Dependency, namespace: str) -> object:
        variables = self._variables
        if variables is None:
            raise SourceUnavailable("this client cannot read Nomad variables")
        if dep.kind == DependencyKind.NOMAD_VAR_GET:
            variable, _ = variables.read_variable(namespace, dep.path, self._alloc_id, 0, 0,
                                                  task=self._task)
            if variable is None:
                return MISSING if dep.block else None
            return nomad_var_items(variable.path, dict(variable.items),
                                   namespace=variable.namespace,
                                   create_index=variable.create_index,
                                   modify_index=variable.modify_index,
                                   create_time=variable.create_time,
                                   modify_time=variable.modify_time)
        metas, _ = variables.list_variables(namespace, dep.path, self._alloc_id, 0, 0,
                                            task=self._task)
        return [_var_meta(meta) for meta in sorted(metas, key=lambda m: m.path)]


def _key_pairs(entries: list[dict[str, Any]], prefix: str) -> list[KeyPair]:
    """Every entry under ``prefix`` with ``Key`` relative to it, sorted (consul-template's
    kv.list; ``ls`` keeps the direct children, ``tree`` drops the folders)."""
    base = prefix if not prefix or prefix.endswith("/") else prefix + "/"
    pairs = []
    for entry in sorted(entries, key=lambda e: str(e.get("Key", ""))):
        path = str(entry.get("Key", ""))
        key = path[len(base):] if path.startswith(base) else path.removeprefix(prefix)
        if not key:
            continue  # the folder itself
        pairs.append(KeyPair(Path=path, Key=key, Value=str(entry.get("Value", "")),
                             CreateIndex=int(entry.get("CreateIndex", 0)),
                             ModifyIndex=int(entry.get("ModifyIndex", 0)),
                             LockIndex=int(entry.get("LockIndex", 0)),
                             Flags=int(entry.get("Flags", 0)),
                             Session=str(entry.get("Session") or "")))
    return pairs


def aggregate_status(checks: list[dict[str, Any]]) -> str:
    """Consul's aggregated health of an instance: maintenance, critical, warning, passing."""
    statuses = {str(c.get("Status", "")) for c in checks}
    if any(str(c.get("CheckID", "")).startswith(("_service_maintenance", "_node_maintenance"))
           for c in checks):
        return _MAINTENANCE
    for status in (_CRITICAL, _WARNING):
        if status in statuses:
            return status
    return _PASSING


def _health_services(entries: list[dict[str, Any]], health: tuple[str, ...]
                     ) -> list[HealthService]:
    wanted = set(health or (_PASSING, _WARNING))
    result = []
    for entry in entries:
        node, service = entry.get("Node") or {}, entry.get("Service") or {}
        checks = list(entry.get("Checks") or [])
        status = aggregate_status(checks)
        if ANY_HEALTH not in wanted and status not in wanted:
            continue
        result.append(HealthService(
            Node=str(node.get("Node", "")), NodeID=str(node.get("ID", "")),
            NodeAddress=str(node.get("Address", "")),
            NodeDatacenter=str(node.get("Datacenter", "")),
            Address=str(service.get("Address") or node.get("Address", "")),
            ID=str(service.get("ID", "")), Name=str(service.get("Service", "")),
            Tags=ServiceTags(service.get("Tags") or ()), Status=status,
            Port=int(service.get("Port", 0)), ServiceMeta=dict(service.get("Meta") or {}),
            NodeMeta=dict(node.get("Meta") or {}),
            NodeTaggedAddresses=dict(node.get("TaggedAddresses") or {}),
            Weights=dict(service.get("Weights") or {}), Checks=checks,
            Namespace=str(service.get("Namespace") or "")))
    # consul-template sorts instances by node, then by ID
    return sorted(result, key=lambda s: (s.Node, s.ID))


def _nomad_service(reg: ServiceRegistration) -> NomadService:
    return NomadService(ID=reg.id, Name=reg.service_name, Namespace=reg.namespace,
                        Node=reg.node_id, Datacenter=reg.datacenter, JobID=reg.job_id,
                        AllocID=reg.alloc_id, Tags=ServiceTags(reg.tags), Address=reg.address,
                        Port=reg.port)


def _var_meta(meta: Any) -> NomadVarMeta:
    return NomadVarMeta(Namespace=meta.namespace, Path=meta.path,
                        CreateIndex=meta.create_index, ModifyIndex=meta.modify_index,
                        CreateTime=meta.create_time, ModifyTime=meta.modify_time)


def file_reader(sandbox_dir: str | None) -> Callable[[str], str | None]:
    """The ``file`` function's reader: the file's text, None when it does not exist;
    with a sandbox, a path outside it raises (consul-template's sandbox rule)."""
    def read(path: str) -> str | None:
        if sandbox_dir is not None:
            real = os.path.realpath(path)
            root = os.path.realpath(sandbox_dir)
            if os.path.commonpath([real, root]) != root:
                raise SourceUnavailable(f"'{path}' is outside of allowed directory")
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise SourceUnavailable(f"file {path!r}: {err}") from err
    return read


class TemplateBackends:
    """What a client gives its tasks' templates to read from (the agent builds it)."""

    def __init__(self, *, consul: ConsulReads | None = None, nomad: NomadReads | None = None,
                 variables: VariableReads | None = None) -> None:
        self.consul = consul
        self.nomad = nomad
        self.variables = variables
