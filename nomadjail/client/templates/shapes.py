"""The values the template data source hands to the template functions.

Attribute names are consul-template's (``.Key``, ``.Value``, ``.Address``,
``.Port``, ``.Tags`` ...), because job templates read them by those names:
``{{ range service "web" }}{{ .Address }}:{{ .Port }}{{ end }}``.  The engine's
functions pass these objects to the template as they are; the template reads
their attributes.

:class:`NomadVarItems` is a dict of the variable's items (``{{ .password }}``
reads one) that also answers ``.Keys``, ``.Values``, ``.Tuples``, ``.Metadata``
and ``.Parent`` as consul-template's ``NomadVarItems`` does; each item is a
:class:`NomadVarItem` that prints as its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class KeyPair:
    """One Consul KV entry (``ls``/``tree``): ``Key`` relative to the listed prefix."""

    Path: str
    Key: str
    Value: str
    Exists: bool = True
    CreateIndex: int = 0
    ModifyIndex: int = 0
    LockIndex: int = 0
    Flags: int = 0
    Session: str = ""


@dataclass(frozen=True, slots=True)
class HealthService:
    """One instance of a Consul service (``service``), already filtered by health."""

    Node: str
    NodeID: str
    NodeAddress: str
    NodeDatacenter: str
    Address: str
    ID: str
    Name: str
    Tags: tuple[str, ...]
    Status: str
    Port: int
    ServiceMeta: dict[str, str] = field(default_factory=dict)
    NodeMeta: dict[str, str] = field(default_factory=dict)
    NodeTaggedAddresses: dict[str, str] = field(default_factory=dict)
    Weights: dict[str, int] = field(default_factory=dict)
    Checks: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class CatalogSnippet:
    """One Consul service name and its tags (``services``)."""

    Name: str
    Tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NomadService:
    """One instance of a Nomad service registration (``nomadService``)."""

    ID: str
    Name: str
    Namespace: str
    Node: str
    Datacenter: str
    JobID: str
    AllocID: str
    Tags: tuple[str, ...]
    Address: str
    Port: int


@dataclass(frozen=True, slots=True)
class NomadServicesSnippet:
    """One Nomad service name with the union of its instances' tags (``nomadServices``)."""

    Name: str
    Namespace: str
    Tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NomadVarMeta:
    """A variable's metadata (``nomadVarList``)."""

    Namespace: str
    Path: str
    CreateIndex: int
    ModifyIndex: int
    CreateTime: int
    ModifyTime: int


@dataclass(frozen=True, slots=True)
class NomadVarItem:
    """One item of a variable; prints as its value."""

    Key: str
    Value: str

    def __str__(self) -> str:
        return self.Value

    def String(self) -> str:  # noqa: N802 - the Go method name templates call
        return self.Value


class NomadVarItems(dict[str, NomadVarItem]):
    """A variable's items by key (``nomadVar``), with consul-template's methods."""

    def __init__(self, items: dict[str, str], meta: NomadVarMeta) -> None:
        super().__init__({k: NomadVarItem(k, v) for k, v in sorted(items.items())})
        self.Metadata = meta  # noqa: N815 - consul-template's name

    def Keys(self) -> list[str]:  # noqa: N802 - consul-template's name
        return sorted(self)

    def Values(self) -> list[NomadVarItem]:  # noqa: N802 - consul-template's name
        return [self[k] for k in sorted(self)]

    def Tuples(self) -> list[NomadVarItem]:  # noqa: N802 - consul-template's name
        return self.Values()

    def Parent(self) -> NomadVarItems:  # noqa: N802 - consul-template's name
        return self
