"""The values consul-template's data functions hand to templates, field for field.

Templates read these by Go field name (``.Address``, ``.ServiceMeta``, ``.Key``), so
the attributes and methods keep Go's spelling (hence capitalised method names).  A
:class:`~.dependency.DataSource` builds them from Consul's or Nomad's answers; the
template functions pass them through.

``NomadVarItems`` is a map (``{{ .user }}``, ``{{ range $k, $v := . }}``) whose values
print as their string (``NomadVarItem.String``), with the methods consul-template
gives it: ``Keys``, ``Values``, ``Tuples``, ``Metadata``, ``Parent``, ``ItemsMap``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class ServiceTags(list[str]):
    """A service's tags; ``.Tags.Contains "x"`` as in consul-template."""

    def Contains(self, tag: str) -> bool:
        return tag in self


class _Tagged:
    """A service shape whose ``Tags`` prints as Go's []string and offers ``Contains``
    however the source handed it over (a plain list is wrapped once, here)."""

    Tags: ServiceTags

    def __post_init__(self) -> None:
        if not isinstance(self.Tags, ServiceTags):
            self.Tags = ServiceTags(self.Tags)


@dataclass
class KeyPair:
    """A Consul KV pair as ``ls``/``tree`` return it; ``Key`` is relative to the prefix."""

    Path: str = ""
    Key: str = ""
    Value: str = ""
    Exists: bool = True
    CreateIndex: int = 0
    ModifyIndex: int = 0
    LockIndex: int = 0
    Flags: int = 0
    Session: str = ""


@dataclass
class HealthService(_Tagged):
    """One instance of a Consul service, as ``service`` returns it (consul-template's)."""

    Node: str = ""
    NodeID: str = ""
    Kind: str = ""
    NodeAddress: str = ""
    NodeDatacenter: str = ""
    NodeTaggedAddresses: dict[str, str] = field(default_factory=dict)
    NodeMeta: dict[str, str] = field(default_factory=dict)
    ServiceMeta: dict[str, str] = field(default_factory=dict)
    Address: str = ""
    ServiceTaggedAddresses: dict[str, Any] = field(default_factory=dict)
    ID: str = ""
    Name: str = ""
    Tags: ServiceTags = field(default_factory=ServiceTags)
    Checks: list[Any] = field(default_factory=list)
    Status: str = ""
    Port: int = 0
    Weights: dict[str, int] = field(default_factory=dict)
    Namespace: str = ""
    Partition: str = ""


@dataclass
class CatalogSnippet(_Tagged):
    """One service of ``services``: its name and the union of its tags (sorted)."""

    Name: str = ""
    Tags: ServiceTags = field(default_factory=ServiceTags)


@dataclass
class NomadService(_Tagged):
    """One Nomad native service registration, as ``nomadService`` returns it."""

    ID: str = ""
    Name: str = ""
    Node: str = ""
    Address: str = ""
    Port: int = 0
    Datacenter: str = ""
    Tags: ServiceTags = field(default_factory=ServiceTags)
    JobID: str = ""
    AllocID: str = ""
    Namespace: str = ""


@dataclass
class NomadServicesSnippet(_Tagged):
    """One service of ``nomadServices``: its name and tags."""

    Name: str = ""
    Tags: ServiceTags = field(default_factory=ServiceTags)


class NanoTime(int):
    """Nomad's nanosecond timestamps; prints as Go's time.Time does (in UTC here)."""

    def String(self) -> str:
        when = datetime.fromtimestamp(self // 1_000_000_000, tz=UTC)
        frac = f"{self % 1_000_000_000:09d}".rstrip("0")
        return when.strftime("%Y-%m-%d %H:%M:%S") + ("." + frac if frac else "") + " +0000 UTC"

    def Time(self) -> datetime:
        return datetime.fromtimestamp(self / 1e9, tz=UTC)


@dataclass
class NomadVarMeta:
    """A variable's metadata: what ``nomadVarList`` returns, and ``.Metadata``."""

    Namespace: str = ""
    Path: str = ""
    CreateIndex: int = 0
    ModifyIndex: int = 0
    CreateTime: NanoTime = NanoTime(0)
    ModifyTime: NanoTime = NanoTime(0)

    def __post_init__(self) -> None:
        self.CreateTime = NanoTime(self.CreateTime)
        self.ModifyTime = NanoTime(self.ModifyTime)

    def String(self) -> str:
        return self.Path


@dataclass
class NomadVarItem:
    """One item of a variable; prints as its value."""

    Key: str = ""
    Value: str = ""
    _parent: NomadVariable | None = field(default=None, repr=False, compare=False)

    def String(self) -> str:
        return self.Value

    def Metadata(self) -> NomadVarMeta | None:
        return self._parent.Metadata() if self._parent else None

    def Parent(self) -> NomadVariable | None:
        return self._parent


@dataclass
class KV:
    """One of ``NomadVarItems.Tuples``."""

    K: str = ""
    V: str = ""


class NomadVarItems(dict[str, NomadVarItem]):
    """A variable's items by key; a missing key reads as an empty item (Go's zero value)."""

    go_zero = NomadVarItem()

    def Keys(self) -> list[str]:
        return sorted(self)

    def Values(self) -> list[str]:
        return [self[k].Value for k in sorted(self)]

    def Tuples(self) -> list[KV]:
        return [KV(k, self[k].Value) for k in sorted(self)]

    def Metadata(self) -> NomadVarMeta | None:
        for item in self.values():
            return item.Metadata()
        return None

    def Parent(self) -> NomadVariable | None:
        for item in self.values():
            return item.Parent()
        return None

    def ItemsMap(self) -> dict[str, str] | None:
        return {k: v.Value for k, v in self.items()} or None


@dataclass
class NomadVariable:
    """A whole variable: its metadata fields and ``Items``."""

    Namespace: str = ""
    Path: str = ""
    CreateIndex: int = 0
    ModifyIndex: int = 0
    CreateTime: NanoTime = NanoTime(0)
    ModifyTime: NanoTime = NanoTime(0)
    Items: NomadVarItems = field(default_factory=NomadVarItems)

    def Metadata(self) -> NomadVarMeta:
        return NomadVarMeta(self.Namespace, self.Path, self.CreateIndex, self.ModifyIndex,
                            self.CreateTime, self.ModifyTime)


def nomad_var_items(path: str, items: dict[str, str], *, namespace: str = "default",
                    create_index: int = 0, modify_index: int = 0, create_time: int = 0,
                    modify_time: int = 0) -> NomadVarItems:
    """What ``nomadVar`` gives a template, built from a variable's plain items."""
    var = NomadVariable(namespace, path, create_index, modify_index, NanoTime(create_time),
                        NanoTime(modify_time))
    out = NomadVarItems()
    for key, value in items.items():
        out[key] = NomadVarItem(key, value, var)
    var.Items = out
    return out


def public_fields(value: Any) -> dict[str, Any]:
    """A shape's exported fields (for toJSON), in declaration order."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)
            if not f.name.startswith("_")}


class Scratch:
    """consul-template's per-render scratchpad: ``{{ scratch.Set "k" "v" }}`` and friends."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def Key(self, key: str) -> bool:
        return key in self._values

    def Get(self, key: str) -> Any:
        return self._values.get(key)

    def Set(self, key: str, value: Any) -> str:
        self._values[key] = value
        return ""

    def SetX(self, key: str, value: Any) -> str:
        self._values.setdefault(key, value)
        return ""

    def MapSet(self, key: str, map_key: str, value: Any) -> str:
        target = self._values.get(key)
        if not isinstance(target, dict):
            target = self._values[key] = {}
        target[map_key] = value
        return ""

    def MapSetX(self, key: str, map_key: str, value: Any) -> str:
        target = self._values.get(key)
        if not isinstance(target, dict):
            target = self._values[key] = {}
        target.setdefault(map_key, value)
        return ""

    def MapValues(self, key: str) -> list[Any]:
        target = self._values.get(key)
        if not isinstance(target, dict):
            return []
        return [target[k] for k in sorted(target)]
