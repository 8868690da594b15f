"""A DataSource test double: Consul KV and catalog, Nomad services and variables, files.

It emulates what the template hook's real source answers once its queries have run:
KV values and prefix listings (keys relative to the prefix, folders ending in "/"),
Consul health entries filtered by the requested health statuses and tag, the catalog's
service list, Nomad service registrations filtered by tag, Nomad variables by path and
prefix, and files.  Anything it was not given is answered as a real source answers it:
``None`` for an absent key or variable on a non-blocking query, MISSING on a blocking
one (``key``, ``nomadVar``) and for an absent file.  It does not emulate: blocking
queries, datacenters, namespaces, ``near`` ordering, rendezvous ``choose``, or a
source that has not fetched yet (``pending`` lists dependencies to answer MISSING for).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nomadjail.gotemplate.consul import (
    MISSING,
    CatalogSnippet,
    Dependency,
    DependencyKind,
    HealthService,
    KeyPair,
    NomadService,
    NomadServicesSnippet,
    NomadVarMeta,
    nomad_var_items,
)


@dataclass
class FakeSource:
    kv: dict[str, str] = field(default_factory=dict)
    services: list[HealthService] = field(default_factory=list)
    nomad_services: list[NomadService] = field(default_factory=list)
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    pending: set[DependencyKind] = field(default_factory=set)
    fetched: list[Dependency] = field(default_factory=list)

    def fetch(self, dep: Dependency) -> Any:
        self.fetched.append(dep)
        if dep.kind in self.pending:
            return MISSING
        handler = getattr(self, "_" + dep.kind.value.replace(".", "_"))
        return handler(dep)

    def _kv_get(self, dep: Dependency) -> Any:
        if dep.path in self.kv:
            return self.kv[dep.path]
        return MISSING if dep.block else None

    def _kv_list(self, dep: Dependency) -> Any:
        prefix = dep.path.rstrip("/") + "/" if dep.path else ""
        return [KeyPair(Path=key, Key=key[len(prefix):], Value=value)
                for key, value in sorted(self.kv.items())
                if key.startswith(prefix) and key != prefix]

    def _catalog_service(self, dep: Dependency) -> Any:
        health = dep.health or ("passing",)
        found = [s for s in self.services if s.Name == dep.path
                 and (not dep.tag or dep.tag in s.Tags)
                 and ("any" in health or s.Status in health)]
        return sorted(found, key=lambda s: (s.Node, s.ID))

    def _catalog_services(self, dep: Dependency) -> Any:
        tags: dict[str, set[str]] = {}
        for s in self.services:
            tags.setdefault(s.Name, set()).update(s.Tags)
        return [CatalogSnippet(Name=name, Tags=sorted(t)) for name, t in sorted(tags.items())]

    def _nomad_service(self, dep: Dependency) -> Any:
        return [s for s in self.nomad_services
                if s.Name == dep.path and (not dep.tag or dep.tag in s.Tags)]

    def _nomad_services(self, dep: Dependency) -> Any:
        tags: dict[str, set[str]] = {}
        for s in self.nomad_services:
            tags.setdefault(s.Name, set()).update(s.Tags)
        return [NomadServicesSnippet(Name=name, Tags=sorted(t))
                for name, t in sorted(tags.items())]

    def _nomad_var_get(self, dep: Dependency) -> Any:
        items = self.variables.get(dep.path)
        if items is None:
            return MISSING if dep.block else None
        return nomad_var_items(dep.path, items, namespace=dep.namespace or "default")

    def _nomad_var_list(self, dep: Dependency) -> Any:
        return [NomadVarMeta(Namespace=dep.namespace or "default", Path=path)
                for path in sorted(self.variables) if path.startswith(dep.path)]

    def _file(self, dep: Dependency) -> Any:
        return self.files.get(dep.path, MISSING)
