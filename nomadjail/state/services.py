"""The ``service_registrations`` table: Nomad's own service discovery (``provider = "nomad"``).

A client that runs an allocation with Nomad-provider services writes one
:class:`~nomadjail.structs.ServiceRegistration` per service instance through
the servers (raft); ``/v1/services`` and ``/v1/service/<name>`` read them.
:class:`ServiceTable` is the table at one point in time: the registrations by
``(namespace, ID)`` -- the key Nomad's memdb table uses -- plus the secondary
indexes the readers and the clean-up rules need (by service name within a
namespace, by allocation, by node).

Like every table it is a value on persistent maps: each write returns a new
table (or the same object when nothing changed, so the FSM does not move the
table's index for a no-op) and a snapshot holding the old one never sees it
change.  The store keeps it in :attr:`~.snapshot.Tables.services`; the FSM
decides *when* registrations go (allocation stopped or lost, node down, eval
GC) and applies the operations here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import immutables

from ..structs import ServiceRegistration

ServiceKey = tuple[str, str]  # (namespace, registration ID)
_EMPTY: immutables.Map = immutables.Map()


def same_registration(a: ServiceRegistration, b: ServiceRegistration) -> bool:
    """Nomad's ``ServiceRegistration.Equal``: every field but the raft indexes, tags
    compared as a set.  Re-sending an unchanged registration (a client's periodic
    sync does) must not wake every blocking query on the table."""
    return (a.id, a.service_name, a.namespace, a.node_id, a.datacenter, a.job_id, a.alloc_id,
            a.address, a.port) == (b.id, b.service_name, b.namespace, b.node_id,
                                   b.datacenter, b.job_id, b.alloc_id, b.address, b.port) \
        and set(a.tags) == set(b.tags)


def _add(index: immutables.Map, key: object, member: ServiceKey) -> immutables.Map:
    return index.set(key, index.get(key, _EMPTY).set(member, True))


def _remove(index: immutables.Map, key: object, member: ServiceKey) -> immutables.Map:
    members = index.get(key)
    if members is None or member not in members:
        return index
    members = members.delete(member)
    return index.set(key, members) if members else index.delete(key)


@dataclass(frozen=True, slots=True)
class ServiceTable:
    """Every service registration, and the indexes over them."""

    by_id: immutables.Map = _EMPTY  # (namespace, ID) -> ServiceRegistration
    by_name: immutables.Map = _EMPTY  # (namespace, service name) -> Map[ServiceKey, True]
    by_alloc: immutables.Map = _EMPTY  # alloc ID -> Map[ServiceKey, True]
    by_node: immutables.Map = _EMPTY  # node ID -> Map[ServiceKey, True]

    @classmethod
    def of(cls, registrations: Iterable[ServiceRegistration]) -> ServiceTable:
        """A table holding ``registrations`` as they are (indexes included): restore."""
        by_id, by_name, by_alloc, by_node = (_EMPTY.mutate() for _ in range(4))
        for reg in registrations:
            key = (reg.namespace, reg.id)
            by_id[key] = reg
            for index, value in ((by_name, (reg.namespace, reg.service_name)),
                                 (by_alloc, reg.alloc_id), (by_node, reg.node_id)):
                index[value] = index.get(value, _EMPTY).set(key, True)
        return cls(by_id.finish(), by_name.finish(), by_alloc.finish(), by_node.finish())

    def __len__(self) -> int:
        return len(self.by_id)

    def __iter__(self) -> Iterator[ServiceRegistration]:
        """Every registration, unsorted."""
        return iter(self.by_id.values())

    # -- reads -------------------------------------------------------------------
    def get(self, namespace: str, reg_id: str) -> ServiceRegistration | None:
        return self.by_id.get((namespace, reg_id))

    def _sorted(self, keys: Iterable[ServiceKey]) -> list[ServiceRegistration]:
        return [self.by_id[key] for key in sorted(keys)]

    def registrations(self, namespace: str | None = None) -> list[ServiceRegistration]:
        """Sorted by (namespace, ID); ``namespace=None`` means every namespace."""
        return self._sorted(key for key in self.by_id
                            if namespace is None or key[0] == namespace)

    def by_service(self, namespace: str | None, name: str) -> list[ServiceRegistration]:
        """The instances of service ``name``, sorted by (namespace, ID) as Nomad's
        index walk returns them; ``namespace=None`` looks in every namespace."""
        if namespace is not None:
            return self._sorted(self.by_name.get((namespace, name)) or ())
        return self._sorted(key for (ns, service), keys in self.by_name.items()
                            if service == name for key in keys)

    def of_alloc(self, alloc_id: str) -> list[ServiceRegistration]:
        return self._sorted(self.by_alloc.get(alloc_id) or ())

    def of_node(self, node_id: str) -> list[ServiceRegistration]:
        return self._sorted(self.by_node.get(node_id) or ())

    # -- writes (each returns a new table, or this one when nothing changes) -----
    def upserted(self, registrations: Iterable[ServiceRegistration],
                 index: int) -> ServiceTable:
        """Insert or replace registrations at raft ``index``: a new one gets
        CreateIndex = ModifyIndex = index, a changed one keeps its CreateIndex,
        an unchanged one is left alone (Nomad's upsertServiceRegistrationTxn)."""
        table = self
        for reg in registrations:
            key = (reg.namespace, reg.id)
            existing = table.by_id.get(key)
            if existing is not None and same_registration(existing, reg):
                continue
            reg = dataclasses.replace(reg, tags=list(reg.tags), modify_index=index,
                                      create_index=existing.create_index if existing
                                      else index)
            if existing is not None:
                table = table._unindexed(existing)
            table = ServiceTable(
                by_id=table.by_id.set(key, reg),
                by_name=_add(table.by_name, (reg.namespace, reg.service_name), key),
                by_alloc=_add(table.by_alloc, reg.alloc_id, key),
                by_node=_add(table.by_node, reg.node_id, key))
        return table

    def _unindexed(self, reg: ServiceRegistration) -> ServiceTable:
        key = (reg.namespace, reg.id)
        return ServiceTable(
            by_id=self.by_id.delete(key),
            by_name=_remove(self.by_name, (reg.namespace, reg.service_name), key),
            by_alloc=_remove(self.by_alloc, reg.alloc_id, key),
            by_node=_remove(self.by_node, reg.node_id, key))

    def without(self, keys: Iterable[ServiceKey]) -> ServiceTable:
        """The table without the registrations at ``keys`` (unknown keys are skipped)."""
        table = self
        for key in keys:
            existing = table.by_id.get(key)
            if existing is not None:
                table = table._unindexed(existing)
        return table

    def without_allocs(self, alloc_ids: Iterable[str]) -> ServiceTable:
        """Without every registration of these allocations (they stopped or are gone)."""
        return self.without([key for alloc_id in alloc_ids
                             for key in self.by_alloc.get(alloc_id) or ()])

    def without_node(self, node_id: str) -> ServiceTable:
        """Without every registration on ``node_id`` (it is down)."""
        return self.without(list(self.by_node.get(node_id) or ()))
