"""Nomad's native service discovery on the servers (``provider = "nomad"``).

Writes come from two sides, as in Nomad's ``ServiceRegistration`` endpoint:

* **clients** (agent RPC, authenticated with the node's SecretID) register the
  instances of the allocations they run (``ServiceRegistration.Upsert``) and
  remove them when a task stops (``ServiceRegistration.DeleteByID``).  A node
  writes only registrations of its own allocations;
* **operators** remove one by hand (``DELETE /v1/service/<name>/<id>``,
  ``service delete``), for an instance nothing else will clean up.

Everything else that removes registrations -- an allocation stopped, lost or
collected, a node marked down -- happens inside the FSM, in the same write as
the change that makes them stale (see :mod:`~.fsm`).

The reads behind ``/v1/services`` and ``/v1/service/<name>`` are pure
functions over a state snapshot (:func:`list_services`, :func:`with_tags`,
:func:`choose`), so the HTTP layer stays a thin adapter.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..state import StateSnapshot, StateStore
from ..structs import (
    DEFAULT_NAMESPACE,
    BadRequest,
    Node,
    NotFound,
    PermissionDenied,
    ServiceRegistration,
)
from ..structs.service_registration import ServiceRegistrationListStub, ServiceRegistrationStub
from ..structs.validate import multierror
from . import messages as m

Apply = Callable[[Any], tuple[int, Any]]
Authenticate = Callable[[str, str], Node]  # (node ID, secret ID) -> the registered node

MAX_PORT = 65535
MALFORMED_CHOOSE = "Parameter for choose must be in form '<number>|<key>'"  # Nomad's words


def _unspecified(address: str) -> bool:
    """Nomad's ipaddr.IsAny: 0.0.0.0 or ::, which no one can connect to."""
    try:
        return ipaddress.ip_address(address.strip("[]")).is_unspecified
    except ValueError:
        return False  # a host name: allowed (a service's `address` may be one)


def validation_errors(reg: ServiceRegistration, where: str) -> list[str]:
    """What is wrong with one registration a client sent, each problem with its place."""
    errors = [f"{where}: missing {name}" for name, value in (
        ("ID", reg.id), ("ServiceName", reg.service_name), ("JobID", reg.job_id),
        ("AllocID", reg.alloc_id), ("NodeID", reg.node_id), ("Address", reg.address))
        if not value]
    if reg.address and _unspecified(reg.address):
        errors.append(f"{where}: invalid service registration address {reg.address!r}: "
                      "an unspecified address cannot be connected to")
    if not 0 <= reg.port <= MAX_PORT:
        errors.append(f"{where}: port {reg.port} out of range 0-{MAX_PORT}")
    return errors


class ServiceRegistrationEndpoint:
    def __init__(self, store: StateStore, apply: Apply, authenticate: Authenticate):
        self.store = store
        self.apply = apply
        self._authenticate = authenticate

    # -- client RPCs -------------------------------------------------------------
    def upsert(self, secret_id: str, services: Sequence[ServiceRegistration]) -> int:
        """Store the instances a node runs; returns the raft index.

        Refused whole (nothing is written) when any registration is malformed
        (400, every problem listed), names another node or an allocation that
        runs elsewhere (403), or an allocation the servers do not know (400).
        An allocation that is known but already stopped is not an error -- the
        client may simply be late -- its instances are just not stored."""
        if not services:
            raise BadRequest("must specify at least one service registration")
        errors = [error for i, reg in enumerate(services)
                  for error in validation_errors(reg, f"Services[{i}]")]
        if errors:
            raise BadRequest(multierror(errors))
        node = self._authenticate(services[0].node_id, secret_id)
        snapshot = self.store.snapshot()
        accepted = []
        for i, reg in enumerate(services):
            where = f"Services[{i}]"
            if reg.node_id != node.id:
                raise PermissionDenied(f"Permission denied: {where} is for node "
                                       f"{reg.node_id}, not the calling node {node.id}")
            alloc = snapshot.alloc_by_id(reg.alloc_id)
            if alloc is None:
                errors.append(f"{where}: allocation {reg.alloc_id!r} not found")
                continue
            if alloc.node_id != node.id:
                raise PermissionDenied(f"Permission denied: {where}: allocation "
                                       f"{alloc.id} runs on node {alloc.node_id}, not on "
                                       f"the calling node {node.id}")
            namespace = reg.namespace or alloc.namespace
            if (namespace, reg.job_id) != (alloc.namespace, alloc.job_id):
                errors.append(f"{where}: job {reg.job_id!r} in namespace {namespace!r} is "
                              f"not the job of allocation {alloc.id} ({alloc.job_id!r} in "
                              f"namespace {alloc.namespace!r})")
                continue
            accepted.append(dataclasses.replace(
                reg, namespace=namespace, datacenter=reg.datacenter or node.datacenter,
                tags=list(reg.tags), create_index=0, modify_index=0))
        if errors:
            raise BadRequest(multierror(errors))
        index, _ = self.apply(m.ServiceRegistrationUpsertRequest(services=accepted))
        return index

    def delete_for_node(self, node_id: str, secret_id: str, namespace: str,
                        reg_id: str) -> int:
        """A client removes one of its own registrations (its task stopped)."""
        node = self._authenticate(node_id, secret_id)
        reg = self._existing(namespace, reg_id)
        if reg.node_id != node.id:
            raise PermissionDenied(f"Permission denied: service registration {reg_id} "
                                   f"belongs to node {reg.node_id}, not to node {node.id}")
        return self._delete(reg)

    # -- operator ----------------------------------------------------------------
    def delete(self, namespace: str, service_name: str, reg_id: str) -> int:
        """``DELETE /v1/service/<name>/<id>``.  Nomad deletes by ID alone; here the
        name in the path must also be the registration's, so a copy-paste slip
        cannot remove an instance of another service."""
        reg = self._existing(namespace, reg_id)
        if reg.service_name != service_name:
            raise NotFound(f"service registration {reg_id!r} is an instance of service "
                           f"{reg.service_name!r}, not of {service_name!r}")
        return self._delete(reg)

    def _existing(self, namespace: str, reg_id: str) -> ServiceRegistration:
        if not reg_id:
            raise BadRequest("missing service id")
        namespace = namespace or DEFAULT_NAMESPACE
        reg = self.store.service_registrations.get(namespace, reg_id)
        if reg is None:
            raise NotFound(f"service registration {reg_id!r} not found in namespace "
                           f"{namespace!r}")
        return reg

    def _delete(self, reg: ServiceRegistration) -> int:
        index, _ = self.apply(m.ServiceRegistrationDeleteByIDRequest(
            namespace=reg.namespace, id=reg.id))
        return index


# -- reads ---------------------------------------------------------------------------
def list_services(snapshot: StateSnapshot, namespace: str | None,
                  prefix: str = "") -> list[ServiceRegistrationListStub]:
    """Service names per namespace, each with the union of its instances' tags
    (Nomad's ServiceRegistration.List); ``namespace=None`` lists every namespace,
    ``prefix`` keeps the names that start with it.  Namespaces, names and tags
    come sorted (Nomad's order is a map's, so no client can rely on it)."""
    tags: dict[str, dict[str, set[str]]] = {}
    table = snapshot.service_registrations
    for ns, name in table.by_name:
        if (namespace is None or ns == namespace) and name.startswith(prefix):
            union = tags.setdefault(ns, {}).setdefault(name, set())
            for reg in table.by_service(ns, name):
                union.update(reg.tags)
    return [ServiceRegistrationListStub(namespace=ns, services=[
        ServiceRegistrationStub(service_name=name, tags=sorted(names[name]))
        for name in sorted(names)]) for ns, names in sorted(tags.items())]


def with_tags(registrations: Iterable[ServiceRegistration],
              tags: Sequence[str]) -> list[ServiceRegistration]:
    """The registrations carrying every one of ``tags`` (``?tag=a&tag=b``)."""
    wanted = set(tags)
    return [reg for reg in registrations if wanted.issubset(reg.tags)]


def _rendezvous_hash(reg: ServiceRegistration, key: str) -> str:
    """Nomad's ServiceRegistration.HashWith, so ``?choose=`` picks the same instances
    Nomad would for the same key."""
    digest = hashlib.sha256()
    digest.update(reg.port.to_bytes(8, "big"))
    for part in (reg.alloc_id, reg.id, reg.namespace, reg.address, reg.service_name,
                 *reg.tags, key):
        digest.update(part.encode())
    return digest.hexdigest()


def parse_choose(parameter: str) -> tuple[int, str]:
    """``"<number>|<key>"`` -> (number, key); BadRequest in Nomad's words otherwise."""
    count, sep, key = parameter.partition("|")
    if not sep or not key or not count.lstrip("+").isdigit():
        raise BadRequest(f"failed to choose services: {MALFORMED_CHOOSE}")
    return int(count), key


def choose(registrations: Sequence[ServiceRegistration],
           parameter: str) -> list[ServiceRegistration]:
    """``?choose=<n>|<key>``: a stable pick of ``n`` instances for ``key`` by rendezvous
    hashing (consul-template passes the caller's alloc ID as the key, so each caller
    keeps talking to the same instances while the set does not change)."""
    count, key = parse_choose(parameter)
    ranked = sorted(registrations, key=lambda reg: _rendezvous_hash(reg, key))
    return ranked[:count]
