"""Service blocks a group or task declares, with their health checks (Nomad's
``structs.Service``, ``ServiceCheck`` and ``CheckRestart``).

The client registers them with the service provider they name: Consul (the
default) or Nomad's own service discovery.  This module holds the shapes,
the defaults (:func:`canonicalize_services`, run by ``Job.canonicalize``) and
the rules (:func:`group_service_errors`, :func:`task_service_errors`), in
Nomad's wording so an operator who knows Nomad recognises every message.

Fields that hold one of a few words (``address_mode``, ``provider``,
``type`` ...) stay plain strings rather than enums here: an unknown word is a
validation error listed with every other problem of the job, not a decode
error that hides the rest.  The enums below name the words allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from .codec import field
from .consts import SECOND, WireEnum
from .durations import format_duration
from .resources import NetworkResource


# What the rules need of a task, a group and a job.  Protocols, because task.py,
# task_group.py and job.py import this module (the structs import no cycle).
class _TaskLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def services(self) -> list[Service]: ...
    @property
    def resources(self) -> Any: ...  # Resources | None


class _GroupLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def services(self) -> list[Service]: ...
    @property
    def networks(self) -> list[NetworkResource]: ...
    @property
    def tasks(self) -> Any: ...  # list[Task]


class _JobLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def task_groups(self) -> Any: ...  # list[TaskGroup]


class ServiceProvider(WireEnum):
    CONSUL = "consul"
    NOMAD = "nomad"


class AddressMode(WireEnum):
    AUTO = "auto"
    HOST = "host"
    DRIVER = "driver"
    ALLOC = "alloc"
    ALLOC_IPV6 = "alloc_ipv6"


class CheckType(WireEnum):
    HTTP = "http"
    TCP = "tcp"
    SCRIPT = "script"
    GRPC = "grpc"


class OnUpdate(WireEnum):
    REQUIRE_HEALTHY = "require_healthy"
    IGNORE_WARNINGS = "ignore_warnings"
    IGNORE = "ignore"


class CheckStatus(WireEnum):
    """A check's status, in Consul's words (Nomad's own checks use the same three)."""

    PASSING = "passing"
    WARNING = "warning"
    CRITICAL = "critical"


MIN_CHECK_INTERVAL = SECOND  # Consul's minimum, which Nomad mirrors
MIN_CHECK_TIMEOUT = SECOND
DEFAULT_CHECK_RESTART_GRACE = SECOND  # Nomad's api.CheckRestart.Canonicalize
GROUP_TASK = "group"  # the "task" name group services are canonicalized with


@dataclass(slots=True)
class CheckRestart:
    """Restart the task when its check stays unhealthy (Nomad's ``check_restart``)."""

    limit: int = 0
    grace: int | None = None  # ns; None until canonicalized (1s)
    ignore_warnings: bool = False


@dataclass(slots=True)
class ServiceCheck:
    name: str = ""
    type: str = ""
    command: str = ""
    args: list[str] = field(default_factory=list)
    path: str = ""
    protocol: str = ""
    port_label: str = ""
    expose: bool = False
    address_mode: str = ""
    interval: int = 0  # ns
    timeout: int = 0  # ns
    initial_status: str = ""
    notes: str = ""
    tls_server_name: str = ""
    tls_skip_verify: bool = False
    method: str = ""
    header: dict[str, list[str]] = field(default_factory=dict)
    check_restart: CheckRestart | None = None
    grpc_service: str = field("", key="GRPCService")
    grpc_use_tls: bool = field(False, key="GRPCUseTLS")
    task_name: str = ""
    success_before_passing: int = 0
    failures_before_critical: int = 0
    failures_before_warning: int = 0
    body: str = ""
    on_update: str = ""

    def requires_port(self) -> bool:
        return self.type in (CheckType.HTTP, CheckType.TCP, CheckType.GRPC)

    def triggers_restarts(self) -> bool:
        return self.check_restart is not None and self.check_restart.limit > 0


@dataclass(slots=True)
class ServiceWeights:
    passing: int = 0
    warning: int = 0


@dataclass(slots=True)
class Service:
    name: str = ""
    task_name: str = ""
    port_label: str = ""
    address_mode: str = ""
    address: str = ""
    enable_tag_override: bool = False
    tags: list[str] = field(default_factory=list)
    canary_tags: list[str] = field(default_factory=list)
    checks: list[ServiceCheck] = field(default_factory=list)
    connect: dict[str, Any] | None = None  # Consul Connect: refused by validation
    meta: dict[str, str] = field(default_factory=dict)
    canary_meta: dict[str, str] = field(default_factory=dict)
    tagged_addresses: dict[str, str] = field(default_factory=dict)
    weights: ServiceWeights | None = None
    namespace: str = ""
    on_update: str = ""
    provider: str = ""
    # The api package's service-level check_restart: merged into every check by
    # canonicalize (Nomad's servers never see it there).
    check_restart: CheckRestart | None = None


# -- defaults ------------------------------------------------------------------------------

_ENV_REFERENCE = re.compile(r"\$\{[^}]*\}")


def _replace_names(text: str, values: dict[str, str]) -> str:
    """Nomad's args.ReplaceEnv over the four names a service name may use."""
    def lookup(match: re.Match[str]) -> str:
        name = match.group(0)[2:-1].strip()
        return values.get(name, match.group(0))
    return _ENV_REFERENCE.sub(lookup, text) if "${" in text else text


def _merge_check_restart(service: CheckRestart | None,
                         check: CheckRestart | None) -> CheckRestart | None:
    """The api package's CheckRestart.Merge: the check's own values win where set."""
    if service is None and check is None:
        return None
    merged = CheckRestart(limit=service.limit, grace=service.grace,
                          ignore_warnings=service.ignore_warnings) if service else CheckRestart()
    if check is not None:
        if check.limit > 0:
            merged.limit = check.limit
        if check.grace is not None:
            merged.grace = check.grace
        if check.ignore_warnings:
            merged.ignore_warnings = True
    if merged.grace is None:
        merged.grace = DEFAULT_CHECK_RESTART_GRACE
    return merged


def canonicalize_service(service: Service, *, job: str, group: str, task: str,
                         namespace: str) -> None:
    """Fill Nomad's defaults (the api package's and the server's ``Canonicalize``)
    for a service of ``task`` (``"group"`` for a group service).  Idempotent."""
    if not service.name:
        service.name = f"{job}-{group}-{task}" if task != GROUP_TASK else f"{job}-{group}"
    service.name = _replace_names(service.name, {
        "JOB": job, "TASKGROUP": group, "TASK": task, "BASE": f"{job}-{group}-{task}"})
    if not service.address_mode:
        service.address_mode = AddressMode.AUTO
    if not service.on_update:
        service.on_update = OnUpdate.REQUIRE_HEALTHY
    if not service.provider:
        service.provider = ServiceProvider.CONSUL
    if not service.task_name and task != GROUP_TASK:
        service.task_name = task
    if service.provider == ServiceProvider.NOMAD:
        service.namespace = namespace
    elif not service.namespace:
        service.namespace = "default"
    for check in service.checks:
        check.check_restart = _merge_check_restart(service.check_restart, check.check_restart)
        for attr in ("success_before_passing", "failures_before_critical",
                     "failures_before_warning"):
            if getattr(check, attr) < 0:
                setattr(check, attr, 0)
        if not check.on_update:
            check.on_update = service.on_update
        if not check.name:
            check.name = f'service: "{service.name}" check'
        if not check.task_name and service.task_name:
            check.task_name = service.task_name
    service.check_restart = None


def canonicalize_services(job: _JobLike) -> None:
    """Every service of a job."""
    for group in job.task_groups:
        for service in group.services:
            canonicalize_service(service, job=job.name, group=group.name, task=GROUP_TASK,
                                 namespace=job.namespace or "")
        for task in group.tasks:
            for service in task.services:
                canonicalize_service(service, job=job.name, group=group.name, task=task.name,
                                     namespace=job.namespace or "")


# -- rules -------------------------------------------------------------------------------

_SERVICE_NAME = re.compile(r"^(?i:[a-z0-9]|[a-z0-9][a-z0-9\-]{0,61}[a-z0-9])$")
_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS",
                 "TRACE")


def _duration(ns: int) -> str:
    return format_duration(ns)


def check_restart_errors(restart: CheckRestart | None) -> Iterable[str]:
    if restart is None:
        return
    if restart.limit < 0:
        yield f"limit must be greater than or equal to 0 but found {restart.limit}"
    if restart.grace is not None and restart.grace < 0:
        yield f"grace period must be greater than or equal to 0 but found {restart.grace}"


def _common_check_errors(check: ServiceCheck, allowed: tuple[str, ...]) -> Iterable[str]:
    """Nomad's ServiceCheck.validateCommon (every problem, not only the first)."""
    kind = check.type.lower()
    if kind not in allowed:
        yield f'invalid check type ("{kind}"), must be one of {", ".join(allowed)}'
    if kind == CheckType.HTTP:
        if not check.path:
            yield "http type must have http path"
        else:
            try:
                parts = urlsplit(check.path)
            except ValueError:
                yield "http type must have valid http path"
            else:
                if parts.scheme:
                    yield "http type must have relative http path"
    if kind == CheckType.SCRIPT and not check.command:
        yield "script type must have a valid script path"
    if check.interval == 0:
        yield (f"missing required value interval. Interval cannot be less than "
               f"{_duration(MIN_CHECK_INTERVAL)}")
    elif check.interval < MIN_CHECK_INTERVAL:
        yield (f"interval ({_duration(check.interval)}) cannot be lower than "
               f"{_duration(MIN_CHECK_INTERVAL)}")
    if check.timeout == 0:
        yield (f"missing required value timeout. Timeout cannot be less than "
               f"{_duration(MIN_CHECK_INTERVAL)}")
    elif check.timeout < MIN_CHECK_TIMEOUT:
        yield (f"timeout ({_duration(check.timeout)}) is lower than required minimum timeout "
               f"{_duration(MIN_CHECK_INTERVAL)}")
    if check.initial_status not in ("", *CheckStatus):
        yield (f'invalid initial check state ({check.initial_status}), must be one of '
               f'"passing", "warning", "critical" or empty')
    if check.address_mode == AddressMode.AUTO:
        yield f'invalid address_mode "{check.address_mode}" - auto only valid for services'
    elif check.address_mode not in ("", AddressMode.HOST, AddressMode.DRIVER, AddressMode.ALLOC,
                                    AddressMode.ALLOC_IPV6):
        yield f'invalid address_mode "{check.address_mode}"'
    if check.on_update not in ("", *OnUpdate):
        yield (f'on_update must be "require_healthy", "ignore_warnings", or "ignore"; got '
               f'"{check.on_update}"')
    if check.check_restart is not None:
        if check.on_update == OnUpdate.IGNORE:
            yield f'on_update value "{check.on_update}" is not compatible with check_restart'
        if not check.check_restart.ignore_warnings and \
                check.on_update == OnUpdate.IGNORE_WARNINGS:
            yield (f'on_update value "{check.on_update}" not supported with check_restart '
                   f'ignore_warnings value "false"')
    yield from check_restart_errors(check.check_restart)


def _consul_check_errors(check: ServiceCheck) -> Iterable[str]:
    """Nomad's validateConsul, less gRPC: nomadjail cannot run gRPC health probes, so a
    grpc check is refused here rather than registered to fail forever."""
    if check.type.lower() == CheckType.GRPC:
        yield ('check type "grpc" is not supported by nomadjail; use an "http" or "tcp" '
               "check")
        return
    yield from _common_check_errors(check, (CheckType.GRPC, CheckType.TCP, CheckType.HTTP,
                                            CheckType.SCRIPT))
    if check.expose:
        yield "expose is not supported by nomadjail (it needs Consul Connect)"
    pass_fail = (CheckType.TCP, CheckType.HTTP, CheckType.GRPC)
    for attr, label in (("success_before_passing", "success_before_passing"),
                        ("failures_before_critical", "failures_before_critical"),
                        ("failures_before_warning", "failures_before_warning")):
        value = getattr(check, attr)
        if value < 0:
            yield f"{label} must be non-negative"
        elif value > 0 and check.type not in pass_fail:
            yield f'{label} not supported for check of type "{check.type}"'
    if len(check.notes) > 255:
        yield "notes must not be longer than 255 characters"


def _nomad_check_errors(check: ServiceCheck) -> Iterable[str]:
    """Nomad's validateNomad: what Nomad's own checks can do (http and tcp only)."""
    yield from _common_check_errors(check, (CheckType.TCP, CheckType.HTTP))
    if check.expose:
        yield "expose may only be set for Consul service checks"
    if check.on_update == OnUpdate.IGNORE_WARNINGS:
        yield "on_update may only be set to ignore_warnings for Consul service checks"
    if check.check_restart is not None and check.check_restart.ignore_warnings:
        yield "ignore_warnings on check_restart only supported for Consul service checks"
    if check.address_mode == AddressMode.DRIVER:
        yield "address_mode = driver may only be set for Consul service checks"
    if check.type == CheckType.HTTP and check.method and check.method not in _HTTP_METHODS:
        yield f'method type "{check.method}" not supported in Nomad http check'
    for attr in ("success_before_passing", "failures_before_critical",
                 "failures_before_warning"):
        if getattr(check, attr) != 0:
            yield f"{attr} may only be set for Consul service checks"
    if check.tls_server_name:
        yield "tls_server_name may only be set for Consul service checks"


def service_errors(service: Service) -> Iterable[str]:
    """Nomad's Service.Validate: every problem of one (canonicalized) service."""
    stripped = _ENV_REFERENCE.sub("ENV-VAR", service.name)
    if not _SERVICE_NAME.match(stripped):
        yield ("Service name must be valid per RFC 1123 and can contain only alphanumeric "
               f'characters or dashes and must be no longer than 63 characters: "{service.name}"')
    if service.address_mode in ("", AddressMode.AUTO):
        pass
    elif service.address_mode in (AddressMode.HOST, AddressMode.DRIVER, AddressMode.ALLOC,
                                  AddressMode.ALLOC_IPV6):
        if service.address:
            yield 'Service address_mode must be "auto" if address is set'
    else:
        yield (f'Service address_mode must be "auto", "host", or "driver"; not '
               f'"{service.address_mode}"')
    if service.on_update not in ("", *OnUpdate):
        yield (f'Service on_update must be "require_healthy", "ignore_warnings", or "ignore"; '
               f'not "{service.on_update}"')
    if service.connect is not None:
        yield "connect is not supported by nomadjail (Consul Connect needs Envoy)"
    if service.provider not in tuple(ServiceProvider):
        yield (f'Service provider must be "consul", or "nomad"; not "{service.provider}"')
        return
    validate_check = (_consul_check_errors if service.provider == ServiceProvider.CONSUL
                      else _nomad_check_errors)
    for check in service.checks:
        if not service.port_label and not check.port_label and check.requires_port():
            yield (f"Check {check.name} invalid: check requires a port but neither check nor "
                   f'service "{service.name}" have a port')
            continue
        problems = list(validate_check(check))
        if service.provider == ServiceProvider.CONSUL:
            problems = [f"Check {check.name} invalid: {p}" for p in problems]
        yield from problems


def group_service_errors(group: _GroupLike) -> Iterable[str]:
    """Nomad's TaskGroup.validateServices and validateScriptChecksInGroupServices."""
    tasks = {task.name for task in group.tasks}
    ports = _port_labels(group.networks)
    for task in group.tasks:
        if task.resources is not None:
            ports |= _port_labels(task.resources.networks)
    seen: set[tuple[str, str, str]] = set()
    duplicates: list[tuple[str, str, str]] = []
    providers: set[str] = set()
    problems: list[str] = []

    def track(key: tuple[str, str, str]) -> None:
        if key in seen:
            if key not in duplicates:
                duplicates.append(key)
        seen.add(key)

    for task in group.tasks:
        for service in task.services:
            if service.task_name and service.task_name != task.name:
                problems.append(f"Service {service.name} is invalid: may only specify task the "
                                f'service belongs to, got "{service.task_name}"')
            for check in service.checks:
                if check.task_name and check.task_name != task.name:
                    problems.append(f"Check {check.name} is invalid: may only specify task the "
                                    f'check belongs to, got "{check.task_name}"')
            track((service.name, task.name, service.port_label))
            providers.add(service.provider)
    for i, service in enumerate(group.services):
        track((service.name, GROUP_TASK, service.port_label))
        providers.add(service.provider)
        errors = list(service_errors(service))
        if errors:
            problems += [f"Service[{i}] {service.name} validation failed: {e}" for e in errors]
            continue
        if service.address_mode == AddressMode.DRIVER:
            problems.append(f'service "{service.name}" cannot use address_mode="driver", only '
                            'services defined in a "task" block can use this mode')
        # Nomad finds an unknown label only when the client registers the service;
        # nomadjail refuses it with the job, where the author can still fix it.
        for label in {service.port_label, *(c.port_label for c in service.checks)}:
            if label and not label.isdigit() and label not in ports:
                problems.append(f'port label "{label}" referenced by group service '
                                f'"{service.name}" does not exist')
        if service.task_name and service.task_name not in tasks:
            problems.append(f"Service {service.name} invalid: refers to non-existent task "
                            f"{service.task_name}")
        for check in service.checks:
            if check.task_name:
                if check.address_mode == AddressMode.DRIVER:
                    problems.append(f'Check "{service.name}" invalid: cannot use '
                                    'address_mode="driver", only checks defined in a "task" '
                                    "service block can use this mode")
                if check.task_name not in tasks:
                    problems.append(f"Check {check.name} invalid: refers to non-existent task "
                                    f"{check.task_name}")
    if duplicates:
        described = ", ".join(f"{task}->{name}" + (f":{port}" if port else "")
                              for name, task, port in duplicates)
        problems.append(f"Services are not unique: {described}")
    if len(providers) > 1:
        problems.append("Multiple service providers used: task group services must use the "
                        "same provider")
    for problem in problems:
        yield f"Task group service validation failed: {problem}"
    for service in group.services:
        if service.task_name:
            continue
        for check in service.checks:
            if check.type == CheckType.SCRIPT and not check.task_name:
                yield (f"Task group service check validation failed: Service [{group.name}]->"
                       f"{service.name} or Check {check.name} must specify task parameter")


def _port_labels(networks: Iterable[NetworkResource]) -> set[str]:
    return {port.label for network in networks for port in network.ports()}


def task_service_errors(task: _TaskLike, group_networks: list[NetworkResource]) -> Iterable[str]:
    """Nomad's validateServices for a task's services: each
    service valid, no duplicate, and every port label a port of the group (or of the
    task's own, deprecated, networks)."""
    service_ports: dict[str, set[str]] = {}
    known: set[str] = set()
    for i, service in enumerate(task.services):
        for err in service_errors(service):
            yield f'service[{i}] "{service.name}" validation failed: {err}'
        for mode in (AddressMode.ALLOC, AddressMode.ALLOC_IPV6):
            if service.address_mode == mode:
                yield (f'service "{service.name}" cannot use address_mode="{mode}", only '
                       'services defined in a "group" block can use this mode')
        key = service.name + service.port_label
        if key in known:
            yield f'service "{service.name}" is duplicate'
        known.add(key)
        if service.port_label and not (service.address_mode == AddressMode.DRIVER
                                       and service.port_label.isdigit()):
            service_ports.setdefault(service.port_label, set()).add(service.name)
        names: set[str] = set()
        for check in service.checks:
            if check.name in names:
                yield f'check "{check.name}" is duplicate'
            names.add(check.name)
            for mode in (AddressMode.ALLOC, AddressMode.ALLOC_IPV6):
                if check.address_mode == mode:
                    yield (f'check "{service.name}" cannot use address_mode="{mode}", only '
                           'checks defined in a "group" service block can use this mode')
            if not check.requires_port():
                continue
            port = check.port_label or service.port_label
            if not port:
                yield f'check "{check.name}" is missing a port'
                continue
            numeric = port.lstrip("-").isdigit()
            if check.address_mode == AddressMode.DRIVER and numeric:
                if int(port) <= 0:
                    yield f'check "{check.name}" has invalid numeric port {int(port)}'
                continue
            if numeric:
                yield (f'check "{check.name}" cannot use a numeric port {int(port)} without '
                       'setting address_mode="driver"')
                continue
            service_ports.setdefault(port, set()).add(service.name)
    labels = _port_labels(group_networks[:1])
    if task.resources is not None:
        labels |= _port_labels(task.resources.networks)
    for port in sorted(service_ports):
        if port not in labels:
            users = ", ".join(sorted(service_ports[port]))
            yield f'port label "{port}" referenced by services {users} does not exist'
