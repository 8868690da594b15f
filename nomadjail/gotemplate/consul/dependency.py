"""What a template reads from the outside world, and the seam it reads it through.

consul-template's data functions (``key``, ``service``, ``nomadVar`` ...) do not fetch
anything themselves: each names a :class:`Dependency` and asks a :class:`DataSource`
for its current value.  The source answers :data:`MISSING` while it has no answer yet
(never fetched, or a blocking query whose condition does not hold, e.g. ``key`` on a
key that does not exist); the function then records the dependency as missing and
returns an empty value so the rest of the template still renders.  The caller (the
template hook) renders again once the source has the data, and watches every
dependency the render *used* for changes -- the same "brain" contract as
consul-template's ``Recall``/``missing``/``used`` sets.

What ``fetch`` returns per kind (the shapes live in :mod:`.shapes`):

==================  ==========================================================  =============
kind                value                                                       MISSING when
==================  ==========================================================  =============
kv.get              ``str`` value, or ``None`` if the key does not exist        not fetched yet;
                                                                                block=True and
                                                                                the key is absent
kv.list             ``list[KeyPair]``: every pair under the prefix ``path``,     not fetched yet
                    ``Key`` relative to it (folders as "dir/"); may be empty
catalog.service     ``list[HealthService]`` (already filtered by health)         not fetched yet
catalog.services    ``list[CatalogSnippet]`` (name + tags)                       not fetched yet
nomad.service       ``list[NomadService]``                                       not fetched yet
nomad.services      ``list[NomadServicesSnippet]``                               not fetched yet
nomad.var.get       ``NomadVarItems``, or ``None`` if the variable is absent     not fetched yet;
                                                                                block=True and
                                                                                it is absent
nomad.var.list      ``list[NomadVarMeta]`` under ``path`` (may be empty)         not fetched yet
file                ``str`` contents of ``path`` (already sandbox-checked)       not fetched yet;
                                                                                file absent
==================  ==========================================================  =============

``ls`` and ``tree`` both read ``kv.list`` (as in consul-template) and keep the top-level
keys or every non-folder key.  ``safeLs``/``safeTree``/``nomadVarListSafe`` treat an
empty list as missing (they refuse to render on empty data, as consul-template
documents); ``keyOrDefault`` and ``keyExists`` use a non-blocking ``kv.get`` (block=False:
the source answers ``None`` for an absent key) and never wait for the key to appear.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Protocol


class DependencyKind(enum.StrEnum):
    """The kinds of outside data a template can read (consul-template's dependency types)."""

    KV_GET = "kv.get"
    KV_LIST = "kv.list"
    CATALOG_SERVICE = "catalog.service"
    CATALOG_SERVICES = "catalog.services"
    NOMAD_SERVICE = "nomad.service"
    NOMAD_SERVICES = "nomad.services"
    NOMAD_VAR_GET = "nomad.var.get"
    NOMAD_VAR_LIST = "nomad.var.list"
    FILE = "file"


@dataclass(frozen=True)
class Dependency:
    """One piece of outside data; hashable, so callers keep sets of them.

    ``path`` is the KV key or prefix, the service name, the variable path or prefix,
    or the file path.  ``tag``/``datacenter`` come from ``"tag.name@dc"`` service
    queries; ``health`` is the health filter of ``service`` (``("passing",)`` by default
    as in consul-template, ``("any",)`` for ``"name|any"``), ``near`` its ``~node``; ``namespace``
    and ``region`` from ``nomadVar "path@ns.region"`` and ``nomadService``.  ``block``
    asks the source to answer MISSING until the thing exists (``key``, ``nomadVar``)
    instead of answering ``None``.  ``choose`` is nomadService's ``count key`` pair.
    """

    kind: DependencyKind
    path: str = ""
    tag: str = ""
    datacenter: str = ""
    namespace: str = ""
    region: str = ""
    near: str = ""
    health: tuple[str, ...] = ()
    block: bool = False
    choose: tuple[int, str] | None = None

    def __str__(self) -> str:
        text = f"{self.kind.value}({self.path}"
        if self.tag:
            text = f"{self.kind.value}({self.tag}.{self.path}"
        if self.datacenter:
            text += f"@{self.datacenter}"
        if self.namespace:
            text += f"@{self.namespace}"
        return text + ")"


class _Missing:
    """The sentinel type of :data:`MISSING` (one instance)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
"""A DataSource's answer when it has no data for a dependency (yet)."""


class DataSource(Protocol):
    """Where data functions get their data: Consul, Nomad's API, the task's files."""

    def fetch(self, dep: Dependency) -> object:
        """The current value of ``dep`` (shapes in the module docstring), or MISSING."""
        ...
