"""The seam between the client and a service discovery provider.

:class:`ServiceProvider` is what the client's hooks and health watcher use
(Nomad's ``serviceregistration.Handler``).  Consul's implementation is
:class:`~nomadjail.client.services.consul.ConsulServiceProvider`; Nomad's own
service discovery (``provider = "nomad"``) implements the same protocol, so the
hooks, the health watcher and ``check_restart`` never ask which one they talk to.

Contract every provider keeps:

* ``register_workload``/``update_workload``/``remove_workload`` return at once:
  the provider records what should be registered and brings the backend in line
  in the background (retrying while it is unreachable).  They raise
  :class:`ServiceRegistrationError` only for what retrying cannot fix (a
  service whose address cannot be worked out, a provider the client lacks);
  the rest of the workload is registered all the same.
* The same workload registered twice is registered once (IDs are stable).
* ``alloc_checks`` answers from what the backend last reported, cheaply enough
  for the health watcher to ask twice a second per allocation.
* ``start(node_id)`` begins the background work once the client restored its
  state; ``restored(alloc_ids)``, called just before, names the allocations the
  client restored: what the provider holds for any other allocation of this
  node is stale and may go.
* ``shutdown`` stops the background work and leaves the registrations in
  place: the tasks keep running while the client restarts.

:class:`ServiceProviders` routes a workload to the provider its services name
(one group uses one provider: validation sees to it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ...structs import TaskEvent
from ...structs.services import ServiceProvider as ProviderName
from .workload import WorkloadServices

log = logging.getLogger(__name__)


def tell_workload(workload: WorkloadServices, event: TaskEvent) -> None:
    """Record ``event`` on the workload's task(s), if it takes events; a failing event
    sink is logged, never raised: it must not break a provider's background sync."""
    if workload.events is None:
        return
    try:
        workload.events(event)
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("emitting a service registration event failed")


class ServiceRegistrationError(Exception):
    """Part of a workload cannot be registered, and retrying will not help."""


@dataclass(frozen=True, slots=True)
class CheckState:
    """One registered check as the provider last saw it."""

    check_id: str
    name: str
    status: str  # a CheckStatus; "" while unknown
    output: str = ""
    on_update: str = ""


@dataclass(slots=True)
class ServiceState:
    service_id: str
    name: str
    checks: list[CheckState] = field(default_factory=list)


@dataclass(slots=True)
class AllocChecks:
    """An allocation's registered services and their checks, by workload (a task's name,
    or ``group-<group>``) -- Nomad's ``AllocRegistration``."""

    workloads: dict[str, list[ServiceState]] = field(default_factory=dict)

    def checks(self) -> list[CheckState]:
        return [check for services in self.workloads.values() for service in services
                for check in service.checks]


class ServiceProvider(Protocol):
    def register_workload(self, workload: WorkloadServices) -> None: ...

    def update_workload(self, old: WorkloadServices, new: WorkloadServices) -> None: ...

    def remove_workload(self, workload: WorkloadServices) -> None: ...

    def alloc_checks(self, alloc_id: str) -> AllocChecks | None:
        """None when the provider cannot tell now (unreachable): not "no checks"."""
        ...

    def update_ttl(self, check_id: str, status: str, output: str) -> None:
        """Report a script check's result (a TTL check)."""
        ...

    def restored(self, alloc_ids: Iterable[str]) -> None: ...

    def start(self, node_id: str) -> None:
        """Begin the background work, for the node with this ID (the client's)."""
        ...

    def shutdown(self) -> None: ...


class MissingProvider:
    """Stands in for a provider this client has not got (no ``consul`` block): every
    registration fails, saying how to fix it."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def register_workload(self, workload: WorkloadServices) -> None:
        names = ", ".join(sorted({s.name for s in workload.services}))
        raise ServiceRegistrationError(f"services {names} not registered: {self.reason}")

    def update_workload(self, old: WorkloadServices, new: WorkloadServices) -> None:
        self.register_workload(new)

    def remove_workload(self, workload: WorkloadServices) -> None:
        return None

    def alloc_checks(self, alloc_id: str) -> AllocChecks | None:
        return None

    def update_ttl(self, check_id: str, status: str, output: str) -> None:
        return None

    def restored(self, alloc_ids: Iterable[str]) -> None:
        return None

    def start(self, node_id: str) -> None:
        return None

    def shutdown(self) -> None:
        return None


NO_CONSUL = ("Consul is not configured on this client (add a consul { address = ... } "
             "block to the agent configuration)")


class ServiceProviders:
    """The client's providers by name; a name without one gets a
    :class:`MissingProvider`."""

    def __init__(self, providers: Mapping[str, ServiceProvider] | None = None) -> None:
        self._providers: dict[str, ServiceProvider] = dict(providers or {})

    def get(self, name: str) -> ServiceProvider:
        provider = self._providers.get(name or ProviderName.CONSUL)
        if provider is not None:
            return provider
        if name in ("", ProviderName.CONSUL):
            return MissingProvider(ProviderName.CONSUL, NO_CONSUL)
        return MissingProvider(name, f'service provider "{name}" is not available on this '
                                     "client")

    def for_workload(self, workload: WorkloadServices) -> ServiceProvider:
        """The provider of the workload's services (all of one group share one)."""
        names = {service.provider for service in workload.services}
        return self.get(next(iter(names)) if names else ProviderName.CONSUL)

    def all(self) -> list[ServiceProvider]:
        return list(self._providers.values())

    def provider(self, name: str) -> ServiceProvider | None:
        """The provider registered under ``name``, if any (no stand-in)."""
        return self._providers.get(name)

    def add(self, name: str, provider: ServiceProvider) -> None:
        """Route ``name`` to ``provider`` (the client adds Nomad's own, which needs its
        connection to the servers)."""
        self._providers[name] = provider

    def alloc_checks(self, alloc_id: str, names: Iterable[str]) -> AllocChecks | None:
        """The allocation's checks from every provider in ``names``; None if one of them
        cannot tell now."""
        merged = AllocChecks()
        for name in set(names):
            found = self.get(name).alloc_checks(alloc_id)
            if found is None:
                return None
            for workload, services in found.workloads.items():
                merged.workloads.setdefault(workload, []).extend(services)
        return merged
