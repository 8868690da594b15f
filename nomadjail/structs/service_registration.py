"""One instance of a service registered with Nomad's own service discovery
(``provider = "nomad"``): Nomad's ``structs.ServiceRegistration``.

The client that runs the allocation writes these through the servers (raft);
``/v1/services`` and ``/v1/service/<name>`` read them.  The ``ID`` follows
Nomad's scheme (``_nomad-task-<alloc>-<task>-<service>-<port label>`` for a
task's service, ``_nomad-task-<alloc>-group-<group>-<service>-<port label>``
for a group's), so the same instance has the same ID in Consul and in Nomad.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ServiceRegistration:
    id: str = ""
    service_name: str = ""
    namespace: str = ""
    node_id: str = ""
    datacenter: str = ""
    job_id: str = ""
    alloc_id: str = ""
    tags: list[str] = field(default_factory=list)
    address: str = ""
    port: int = 0
    create_index: int = 0
    modify_index: int = 0


@dataclass(slots=True)
class ServiceRegistrationStub:
    """One service name of a namespace and the union of its instances' tags."""

    service_name: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ServiceRegistrationListStub:
    """``GET /v1/services``: the services of one namespace."""

    namespace: str = ""
    services: list[ServiceRegistrationStub] = field(default_factory=list)
