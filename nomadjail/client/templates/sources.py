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
* **Watched, not polled.**  With the client's :class:`~.watchers.WatchRegistry`, every
  Consul and Nomad dependency a render used is subscribed to: one blocking-query
  watcher per distinct dependency across the client's tasks sets :attr:`changed`
  when its answer changes, and :meth:`refresh` takes the watchers' answers.  Only
  ``file`` dependencies (no index to block on) and sources without a registry are
  re-read by :meth:`refresh` itself (the task's cheap poll, :attr:`polls`).

Consul reads go through the :class:`ConsulReads` seam (python-consul2 behind
:class:`PythonConsulReads`), Nomad reads through :class:`NomadReads` (the client's
``ServerRPC``), so the rules here are tested with fakes.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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

if TYPE_CHECKING:
    from .watchers import WatchRegistry

log = logging.getLogger(__name__)

ANY_HEALTH = "any"
_CRITICAL, _WARNING, _PASSING, _MAINTENANCE = "critical", "warning", "passing", "maintenance"


class SourceUnavailable(Exception):
    """A backend did not answer (Consul down, no server reachable); the message says why."""


class ConsulReads(Protocol):
    """The Consul reads templates make (Consul's JSON shapes), each a blocking query:
    ``(index of the answer, answer)``, waiting up to ``wait`` seconds while Consul's
    index is ``index`` (0: answer at once)."""

    def kv_get(self, key: str, index: int = 0, wait: float = 0.0
               ) -> tuple[int, dict[str, Any] | None]:
        """``GET /v1/kv/<key>``: the entry, or None when the key does not exist."""
        ...

    def kv_recurse(self, prefix: str, index: int = 0, wait: float = 0.0
                   ) -> tuple[int, list[dict[str, Any]]]:
        """``GET /v1/kv/<prefix>?recurse``: every entry under ``prefix`` (may be empty)."""
        ...

    def health_service(self, name: str, tag: str, datacenter: str, index: int = 0,
                       wait: float = 0.0) -> tuple[int, list[dict[str, Any]]]:
        """``GET /v1/health/service/<name>``: instances with their node and checks."""
        ...

    def catalog_services(self, datacenter: str, index: int = 0, wait: float = 0.0
                         ) -> tuple[int, dict[str, list[str]]]:
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

    @staticmethod
    def _blocking(index: int, wait: float) -> dict[str, Any]:
        if index <= 0:
            return {}
        return {"index": str(index), "wait": f"{max(1, int(wait))}s"}

    def kv_get(self, key: str, index: int = 0, wait: float = 0.0
               ) -> tuple[int, dict[str, Any] | None]:
        at, entry = self._call(f"kv {key!r}", lambda: self._client.kv.get(
            key, **self._blocking(index, wait)))
        return _index(at), (_decoded(entry) if entry is not None else None)

    def kv_recurse(self, prefix: str, index: int = 0, wait: float = 0.0
                   ) -> tuple[int, list[dict[str, Any]]]:
        at, entries = self._call(f"kv {prefix!r}", lambda: self._client.kv.get(
            prefix, recurse=True, **self._blocking(index, wait)))
        return _index(at), [_decoded(e) for e in entries or []]

    def health_service(self, name: str, tag: str, datacenter: str, index: int = 0,
                       wait: float = 0.0) -> tuple[int, list[dict[str, Any]]]:
        at, nodes = self._call(f"service {name!r}", lambda: self._client.health.service(
            name, tag=tag or None, dc=datacenter or None, **self._blocking(index, wait)))
        return _index(at), list(nodes or [])

    def catalog_services(self, datacenter: str, index: int = 0, wait: float = 0.0
                         ) -> tuple[int, dict[str, list[str]]]:
        at, services = self._call("services", lambda: self._client.catalog.services(
            dc=datacenter or None, **self._blocking(index, wait)))
        return _index(at), dict(services or {})


def _index(value: Any) -> int:
    """X-Consul-Index as python-consul2 hands it (a string, or None without the header)."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


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
                 variables: VariableReads | None = None, task: str = "",
                 watches: WatchRegistry | None = None) -> None:
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
        self._watches = watches
        self._watched: set[Dependency] = set()
        # Set by a watcher when the answer of a watched dependency changed.
        self.changed = threading.Event()

    @property
    def polls(self) -> bool:
        """Whether :meth:`refresh` has something to re-read itself (a file, or no
        watch registry): the manager then wakes every ``watch_interval``."""
        with self._lock:
            return any(dep not in self._watched for dep in self._cache)

    def fetch(self, dep: Dependency) -> object:
        with self._lock:
            if dep in self._cache:
                return self._cache[dep]
        value = self._query(dep)
        with self._lock:
            if value is not MISSING or dep not in self._cache:
                self._cache[dep] = value
            value = self._cache[dep]
        self._watch(dep)
        return value

    def _watch_key(self, dep: Dependency) -> Hashable:
        """Who may share a watcher: every task for Consul data, a namespace for Nomad
        services, one task for variables (the servers check its identity)."""
        if dep.kind in (DependencyKind.NOMAD_VAR_GET, DependencyKind.NOMAD_VAR_LIST):
            return ("var", dep.namespace or self._namespace, self._alloc_id, self._task, dep)
        if dep.kind in (DependencyKind.NOMAD_SERVICE, DependencyKind.NOMAD_SERVICES):
            return ("nomad", dep.namespace or self._namespace, dep)
        return ("consul", dep)

    def _watch(self, dep: Dependency) -> None:
        watches = self._watches
        if watches is None or dep.kind == DependencyKind.FILE:
            return
        with self._lock:
            if dep in self._watched or dep not in self._cache:
                return
            self._watched.add(dep)
        watches.subscribe(self._watch_key(dep),
                          lambda index, wait: self.blocking_answer(dep, index, wait),
                          self.changed)

    def _unwatch(self, deps: Iterable[Dependency]) -> None:
        watches = self._watches
        if watches is None:
            return
        for dep in deps:
            watches.unsubscribe(self._watch_key(dep), self.changed)

    def forget(self, keep: Iterable[Dependency]) -> None:
        """Drop every cached dependency not in ``keep`` (no render reads it any more)."""
        wanted = set(keep)
        with self._lock:
            gone = [d for d in self._cache if d not in wanted]
            for dep in gone:
                del self._cache[dep]
                self.errors.pop(dep, None)
            unwatch = [d for d in gone if d in self._watched]
            self._watched.difference_update(unwatch)
        self._unwatch(unwatch)

    def close(self) -> None:
        """Leave every watcher (the task's templates stop)."""
        with self._lock:
            unwatch = list(self._watched)
            self._watched.clear()
        self._unwatch(unwatch)

    def refresh(self) -> bool:
        """Read every cached dependency again (a watched one: its watcher's answer);
        True when any answer changed.

        A backend that does not answer keeps the last good value (and the error)."""
        self.changed.clear()
        with self._lock:
            deps = list(self._cache)
            watched = set(self._watched)
        changed = False
        for dep in deps:
            if dep in watched:
                answer = self._watched_answer(dep)
                if answer is None:
                    continue  # no answer yet: keep what we had
                value = answer[0]
            else:
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

    def _watched_answer(self, dep: Dependency) -> tuple[object] | None:
        watches = self._watches
        latest = watches.latest(self._watch_key(dep)) if watches is not None else None
        if latest is None or not latest.known:
            return None
        with self._lock:
            if latest.error:
                self.errors[dep] = latest.error
            else:
                self.errors.pop(dep, None)
        return (latest.value,)

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
        return self.blocking_answer(dep, 0, 0.0)[0]

    def blocking_answer(self, dep: Dependency, index: int, wait: float
                        ) -> tuple[object, int]:
        """``(answer, index)`` of ``dep``, waiting up to ``wait`` seconds while the
        source's index is ``index`` (0: at once); a file has no index (always 0).
        Raises :class:`SourceUnavailable` (what a watcher retries)."""
        kind = dep.kind
        if kind == DependencyKind.FILE:
            text = self._read_file(dep.path)
            return (MISSING if text is None else text), 0
        if kind in (DependencyKind.NOMAD_SERVICE, DependencyKind.NOMAD_SERVICES,
                    DependencyKind.NOMAD_VAR_GET, DependencyKind.NOMAD_VAR_LIST):
            return self._nomad_answer(dep, index, wait)
        consul = self._consul
        if consul is None:
            raise SourceUnavailable("no Consul is configured on this client")
        if kind == DependencyKind.KV_GET:
            at, entry = consul.kv_get(dep.path, index, wait)
            if entry is None:
                return (MISSING if dep.block else None), at
            return str(entry.get("Value", "")), at
        if kind == DependencyKind.KV_LIST:
            at, entries = consul.kv_recurse(dep.path, index, wait)
            return _key_pairs(entries, dep.path), at
        if kind == DependencyKind.CATALOG_SERVICE:
            at, nodes = consul.health_service(dep.path, dep.tag, dep.datacenter, index, wait)
            return _health_services(nodes, dep.health), at
        if kind == DependencyKind.CATALOG_SERVICES:
            at, services = consul.catalog_services(dep.datacenter, index, wait)
            return [CatalogSnippet(Name=name, Tags=ServiceTags(sorted(tags)))
                    for name, tags in sorted(services.items())], at
        raise SourceUnavailable(f"unknown dependency kind {kind!r}")

    def _nomad_answer(self, dep: Dependency, index: int, wait: float) -> tuple[object, int]:
        namespace = dep.namespace or self._namespace
        try:
            if dep.kind in (DependencyKind.NOMAD_VAR_GET, DependencyKind.NOMAD_VAR_LIST):
                return self._variable_answer(dep, namespace, index, wait)
            nomad = self._nomad
            if nomad is None:
                raise SourceUnavailable("this client cannot reach the Nomad servers")
            if dep.kind == DependencyKind.NOMAD_SERVICE:
                picked = f"{dep.choose[0]}|{dep.choose[1]}" if dep.choose else ""
                regs, at = nomad.get_service_registrations(namespace, dep.path, index, wait,
                                                           choose=picked)
                found = [r for r in regs if not dep.tag or dep.tag in r.tags]
                if not picked:
                    found.sort(key=lambda r: r.id)
                return [_nomad_service(r) for r in found], at
            if dep.kind == DependencyKind.NOMAD_SERVICES:
                stubs, at = nomad.list_service_registrations(namespace, index, wait)
                return [NomadServicesSnippet(Name=s.service_name, Tags=ServiceTags(s.tags))
                        for stub in stubs for s in stub.services], at
        except SourceUnavailable:
            raise
        except Exception as err:  # noqa: BLE001 - any RPC failure: the data is not there yet
            raise SourceUnavailable(f"Nomad {dep}: {err}") from err
        raise SourceUnavailable(f"unknown dependency kind {dep.kind!r}")

    def _variable_answer(self, dep: Dependency, namespace: str, index: int, wait: float
                         ) -> tuple[object, int]:
        variables = self._variables
        if variables is None:
            raise SourceUnavailable("this client cannot read Nomad variables")
        if dep.kind == DependencyKind.NOMAD_VAR_GET:
            variable, at = variables.read_variable(namespace, dep.path, self._alloc_id,
                                                   index, wait, task=self._task)
            if variable is None:
                return (MISSING if dep.block else None), at
            return nomad_var_items(variable.path, dict(variable.items),
                                   namespace=variable.namespace,
                                   create_index=variable.create_index,
                                   modify_index=variable.modify_index,
                                   create_time=variable.create_time,
                                   modify_time=variable.modify_time), at
        metas, at = variables.list_variables(namespace, dep.path, self._alloc_id, index,
                                             wait, task=self._task)
        return [_var_meta(meta) for meta in sorted(metas, key=lambda m: m.path)], at


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
                 variables: VariableReads | None = None,
                 watches: WatchRegistry | None = None) -> None:
        self.consul = consul
        self.nomad = nomad
        self.variables = variables
        # The client's blocking-query watchers, shared by its tasks (None: tasks poll).
        self.watches = watches
