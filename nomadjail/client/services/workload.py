"""What to register for one workload: the pure part of service registration.

A *workload* is what Nomad registers services for: one task of an allocation
(its ``service`` blocks) or the allocation's group (the group's ``service``
blocks).  :func:`registrations` turns a :class:`WorkloadServices` into the
:class:`ServiceInstance` list a provider registers -- no I/O, no clock, so
every rule below is tested without Consul:

* **IDs** are Nomad's: ``_nomad-task-<alloc>-<task>-<service>-<port label>``,
  and ``_nomad-task-<alloc>-group-<group>-<service>-<port label>`` for a
  group's services.  A check's ID is ``_nomad-check-`` and a SHA-256 of the
  service ID and the check's definition, so the same workload always yields
  the same IDs: a client that registers again after a restart replaces what
  it registered before instead of adding to it.
* **Address and port** follow the service's ``address_mode`` and the driver's
  network (:mod:`.address`); checks default to ``host`` (to the service's
  custom ``address`` when it has one).
* **Canaries** register ``canary_tags`` / ``canary_meta`` (when given) while
  the allocation is an unpromoted canary.
* Every string Nomad interpolates (names, tags, meta, port labels, check paths,
  headers ...) is interpolated with the workload's environment before any of it.

A service whose address cannot be worked out is left out and reported in
:attr:`Registrations.errors` (Nomad fails the whole workload; nomadjail
registers what it can and says what it could not).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin

from ...drivers.base import DriverNetwork
from ...structs import Allocation, NetworkResource, Node, PortMapping, Task, TaskEvent
from ...structs.durations import format_duration
from ...structs.services import (
    AddressMode,
    CheckRestart,
    CheckStatus,
    CheckType,
    Service,
    ServiceCheck,
)
from .address import AddressError, get_address

TASK_SERVICE_PREFIX = "_nomad-task-"
CHECK_PREFIX = "_nomad-check-"
# Script checks are TTL checks in Consul; the client reports within interval + this
# (Nomad's ttlCheckBuffer).
TTL_CHECK_BUFFER = 31 * 1_000_000_000
EXTERNAL_SOURCE = "nomad"  # Meta["external-source"]: Consul's UI shows Nomad registered it


class Restarter(Protocol):
    """Restarts a workload's task(s) when a check stays unhealthy (check_restart)."""

    def restart_for_check(self, event: TaskEvent) -> None: ...



@dataclass
class WorkloadServices:
    """The services of one task (or of the group) of one allocation, with everything
    that decides what is registered (Nomad's ``serviceregistration.WorkloadServices``).

    ``services`` are the job's blocks as written; :func:`registrations`
    interpolates them with ``interpolate`` (the task's environment)."""

    alloc_id: str
    job_id: str
    group: str
    task: str  # "" for the group's services
    namespace: str
    node_id: str
    datacenter: str
    services: list[Service]
    ports: list[PortMapping] = field(default_factory=list)  # AllocatedResources.Shared.Ports
    networks: list[NetworkResource] = field(default_factory=list)  # the task's own networks
    driver_network: DriverNetwork | None = None
    canary: bool = False
    interpolate: Callable[[str], str] = str
    restarter: Restarter | None = None
    events: Callable[[TaskEvent], None] | None = None  # the workload's task event sink
    alloc_name: str = ""  # "<job>.<group>[<index>]": where Nomad's own checks say they run

    @property
    def name(self) -> str:
        """Nomad's ``WorkloadServices.Name()``: the task, or ``group-<group>``."""
        return self.task or f"group-{self.group}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.alloc_id, self.name)


@dataclass(frozen=True, slots=True)
class CheckDefinition:
    """One check as a provider registers it: ``http``/``tcp`` probed by the provider,
    ``script`` run by the client (a TTL check in Consul)."""

    check_id: str
    name: str
    service_id: str
    type: str  # a CheckType
    http: str = ""  # the URL, for http checks
    tcp: str = ""  # host:port, for tcp checks
    method: str = ""
    header: tuple[tuple[str, tuple[str, ...]], ...] = ()
    body: str = ""
    interval: int = 0  # ns
    timeout: int = 0  # ns
    ttl: int = 0  # ns, script checks
    initial_status: str = ""
    notes: str = ""
    tls_skip_verify: bool = False
    tls_server_name: str = ""
    success_before_passing: int = 0
    failures_before_critical: int = 0
    failures_before_warning: int = 0
    on_update: str = ""
    check_restart: CheckRestart | None = None
    task: str = ""  # where a script check runs
    command: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceInstance:
    """One service instance to register (Consul's ``AgentServiceRegistration``)."""

    service_id: str
    name: str
    provider: str
    address: str
    port: int
    tags: tuple[str, ...] = ()
    meta: tuple[tuple[str, str], ...] = ()
    enable_tag_override: bool = False
    tagged_addresses: tuple[tuple[str, str], ...] = ()
    weights: tuple[int, int] | None = None  # (passing, warning)
    checks: tuple[CheckDefinition, ...] = ()
    alloc_id: str = ""
    workload: str = ""  # WorkloadServices.name


@dataclass
class Registrations:
    instances: list[ServiceInstance] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def service_id(alloc_id: str, workload: str, service: Service) -> str:
    """Nomad's MakeAllocServiceID."""
    return f"{TASK_SERVICE_PREFIX}{alloc_id}-{workload}-{service.name}-{service.port_label}"


def alloc_of_service_id(sid: str) -> str:
    """The allocation ID inside a task service ID (a UUID: 36 characters), or ""."""
    if not sid.startswith(TASK_SERVICE_PREFIX):
        return ""
    candidate = sid[len(TASK_SERVICE_PREFIX):len(TASK_SERVICE_PREFIX) + 36]
    return candidate if len(candidate) == 36 and candidate.count("-") == 4 else ""


def check_id(sid: str, check: ServiceCheck) -> str:
    """A check's ID: stable for the same service and definition, new when it changes."""
    digest = hashlib.sha256()
    for part in (sid, check.name, check.type, check.command, "".join(check.args), check.path,
                 check.protocol, check.port_label, format_duration(check.interval),
                 format_duration(check.timeout), check.method, check.body, check.on_update,
                 check.notes, str(check.tls_skip_verify), check.tls_server_name,
                 "".join(sorted(k + "".join(v) for k, v in check.header.items())),
                 check.address_mode, str(check.success_before_passing),
                 str(check.failures_before_critical), str(check.failures_before_warning)):
        digest.update(part.encode())
        digest.update(b"\x00")
    return CHECK_PREFIX + digest.hexdigest()


# -- interpolation -------------------------------------------------------------------------

def interpolate_service(service: Service, replace: Callable[[str], str]) -> Service:
    """A copy with every field Nomad interpolates (taskenv.InterpolateService) resolved."""
    out = copy.deepcopy(service)
    for check in out.checks:
        check.name = replace(check.name)
        check.type = replace(check.type)
        check.command = replace(check.command)
        check.args = [replace(a) for a in check.args]
        check.path = replace(check.path)
        check.protocol = replace(check.protocol)
        check.port_label = replace(check.port_label)
        check.initial_status = replace(check.initial_status)
        check.notes = replace(check.notes)
        check.method = replace(check.method)
        check.grpc_service = replace(check.grpc_service)
        check.header = {replace(k): [replace(v) for v in vs] for k, vs in check.header.items()}
    out.name = replace(out.name)
    out.port_label = replace(out.port_label)
    out.address = replace(out.address)
    out.tags = [replace(t) for t in out.tags]
    out.canary_tags = [replace(t) for t in out.canary_tags]
    out.meta = {replace(k): replace(v) for k, v in out.meta.items()}
    out.canary_meta = {replace(k): replace(v) for k, v in out.canary_meta.items()}
    out.tagged_addresses = {replace(k): replace(v) for k, v in out.tagged_addresses.items()}
    return out


def _join(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- registrations -------------------------------------------------------------------------

def _check_definition(workload: WorkloadServices, service: Service, sid: str,
                      check: ServiceCheck) -> CheckDefinition:
    kind = check.type.lower()
    base = CheckDefinition(
        check_id=check_id(sid, check), name=check.name, service_id=sid, type=kind,
        interval=check.interval, timeout=check.timeout, initial_status=check.initial_status,
        notes=check.notes, success_before_passing=check.success_before_passing,
        failures_before_critical=check.failures_before_critical,
        failures_before_warning=check.failures_before_warning, on_update=check.on_update,
        check_restart=check.check_restart)
    if kind == CheckType.SCRIPT:
        return dataclasses.replace(base, ttl=check.interval + TTL_CHECK_BUFFER,
                                   task=check.task_name or service.task_name or workload.task,
                                   command=(check.command, *check.args))
    mode = check.address_mode or (AddressMode.AUTO if service.address else AddressMode.HOST)
    try:
        ip, port = get_address(service.address, mode, check.port_label or service.port_label,
                               ports=workload.ports, networks=workload.networks,
                               driver=workload.driver_network)
    except AddressError as err:
        raise AddressError(f'error getting address for check "{check.name}": {err}') from None
    if port == 0:
        raise AddressError(f'failed to add check "{check.name}": {kind} checks require an '
                           "address")
    host = ip or "127.0.0.1"  # "" is the Consul agent's address: on this host
    if kind == CheckType.HTTP:
        url = urljoin(f"{check.protocol or 'http'}://{_join(host, port)}/", check.path)
        return dataclasses.replace(
            base, http=url, method=check.method or "GET",
            header=tuple(sorted((k, tuple(v)) for k, v in check.header.items())),
            body=check.body, tls_skip_verify=check.tls_skip_verify,
            tls_server_name=check.tls_server_name)
    if kind == CheckType.TCP:
        return dataclasses.replace(base, tcp=_join(host, port))
    raise AddressError(f'check type "{check.type}" not valid')


def _instance(workload: WorkloadServices, service: Service) -> ServiceInstance:
    sid = service_id(workload.alloc_id, workload.name, service)
    try:
        ip, port = get_address(service.address, service.address_mode or AddressMode.AUTO,
                               service.port_label, ports=workload.ports,
                               networks=workload.networks, driver=workload.driver_network)
    except AddressError as err:
        raise AddressError(f'unable to get address for service "{service.name}": {err}') \
            from None
    canary = workload.canary
    tags = service.canary_tags if canary and service.canary_tags else service.tags
    meta = dict(service.canary_meta if canary and service.canary_meta else service.meta)
    meta["external-source"] = EXTERNAL_SOURCE
    checks = tuple(_check_definition(workload, service, sid, check) for check in service.checks)
    weights = (service.weights.passing or 1, service.weights.warning or 1) \
        if service.weights is not None else None
    return ServiceInstance(
        service_id=sid, name=service.name, provider=service.provider, address=ip, port=port,
        tags=tuple(tags), meta=tuple(sorted(meta.items())),
        enable_tag_override=service.enable_tag_override,
        tagged_addresses=tuple(sorted(service.tagged_addresses.items())), weights=weights,
        checks=checks, alloc_id=workload.alloc_id, workload=workload.name)


def registrations(workload: WorkloadServices) -> Registrations:
    """Every service instance of the workload, interpolated, addressed and with its
    checks; what cannot be addressed is in ``errors`` instead (Nomad's words)."""
    result = Registrations()
    for raw in workload.services:
        service = interpolate_service(raw, workload.interpolate)
        try:
            result.instances.append(_instance(workload, service))
        except AddressError as err:
            result.errors.append(str(err))
    return result


def healthy_status(status: str, on_update: str) -> bool:
    """Whether a check status lets a deployment call the allocation healthy, by the
    check's ``on_update`` (Nomad's evaluateConsulChecks)."""
    if status == CheckStatus.PASSING:
        return True
    if status == CheckStatus.WARNING:
        return on_update in ("ignore_warnings", "ignore")
    return on_update == "ignore"


# -- workloads of an allocation ------------------------------------------------------------

def _alloc_ports(alloc: Allocation) -> list[PortMapping]:
    resources = alloc.allocated_resources
    return list(resources.shared.ports) if resources is not None else []


def is_canary(alloc: Allocation) -> bool:
    """An unpromoted canary (promotion clears the flag)."""
    return alloc.deployment_status is not None and alloc.deployment_status.canary


def task_workload(alloc: Allocation, task: Task, node: Node, *,
                  interpolate: Callable[[str], str],
                  driver_network: DriverNetwork | None = None) -> WorkloadServices:
    """The services of ``task`` in ``alloc``."""
    own = (alloc.allocated_resources.tasks.get(task.name)
           if alloc.allocated_resources is not None else None)
    return WorkloadServices(
        alloc_id=alloc.id, job_id=alloc.job_id, group=alloc.task_group, task=task.name,
        namespace=alloc.namespace, node_id=node.id, datacenter=node.datacenter,
        services=list(task.services), ports=_alloc_ports(alloc),
        networks=list(own.networks) if own is not None else [],
        driver_network=driver_network, canary=is_canary(alloc), interpolate=interpolate,
        alloc_name=alloc.name)


def group_workload(alloc: Allocation, node: Node, *,
                   interpolate: Callable[[str], str]) -> WorkloadServices:
    """The services of the allocation's group."""
    group = alloc.lookup_task_group()
    return WorkloadServices(
        alloc_id=alloc.id, job_id=alloc.job_id, group=alloc.task_group, task="",
        namespace=alloc.namespace, node_id=node.id, datacenter=node.datacenter,
        services=list(group.services) if group is not None else [],
        ports=_alloc_ports(alloc), canary=is_canary(alloc), interpolate=interpolate,
        alloc_name=alloc.name)


def script_checks_for_task(alloc: Allocation, task: Task,
                           interpolate: Callable[[str], str]) -> list[CheckDefinition]:
    """The script checks ``task`` runs: its own services', and those of group services
    that name it (``check { task = ... }`` or ``service { task = ... }``)."""
    found: list[CheckDefinition] = []
    group = alloc.lookup_task_group()
    sources: list[tuple[str, Service]] = [(task.name, s) for s in task.services]
    if group is not None:
        sources += [(f"group-{group.name}", s) for s in group.services]
    for workload, raw in sources:
        service = interpolate_service(raw, interpolate)
        sid = service_id(alloc.id, workload, service)
        for check in service.checks:
            if check.type.lower() != CheckType.SCRIPT:
                continue
            runs_in = check.task_name or service.task_name or (
                task.name if workload == task.name else "")
            if runs_in != task.name:
                continue
            found.append(CheckDefinition(
                check_id=check_id(sid, check), name=check.name, service_id=sid,
                type=CheckType.SCRIPT, interval=check.interval, timeout=check.timeout,
                ttl=check.interval + TTL_CHECK_BUFFER, task=task.name,
                command=(check.command, *check.args), on_update=check.on_update,
                check_restart=check.check_restart))
    return found
