"""Workloads' registrations in the JSON Consul's agent API takes, and when Consul's copy
differs from what should be there (Nomad's ``serviceRegs``/``checkRegs`` and
``different``).

Every service carries ``Meta["external-source"] = "nomad"`` (Consul's UI shows who
registered it) and ``Meta["nomadjail-node-id"]``: the node that owns the registration,
so a sync only ever removes its own.
"""

from __future__ import annotations

from typing import Any

from ...structs.durations import format_duration
from ...structs.services import CheckType
from .workload import CheckDefinition, ServiceInstance

NODE_META = "nomadjail-node-id"


def check_body(check: CheckDefinition, *, with_service: bool = False) -> dict[str, Any]:
    """A check as Consul's agent API takes it (``AgentServiceCheck``)."""
    body: dict[str, Any] = {"CheckID": check.check_id, "Name": check.name}
    if with_service:
        body["ServiceID"] = check.service_id
    if check.initial_status:
        body["Status"] = check.initial_status
    if check.notes:
        body["Notes"] = check.notes
    for key, value in (("SuccessBeforePassing", check.success_before_passing),
                       ("FailuresBeforeCritical", check.failures_before_critical),
                       ("FailuresBeforeWarning", check.failures_before_warning)):
        if value:
            body[key] = value
    if check.type == CheckType.SCRIPT:
        body["TTL"] = format_duration(check.ttl)
        return body
    body["Interval"] = format_duration(check.interval)
    body["Timeout"] = format_duration(check.timeout)
    if check.type == CheckType.HTTP:
        body["HTTP"] = check.http
        body["Method"] = check.method
        if check.header:
            body["Header"] = {name: list(values) for name, values in check.header}
        if check.body:
            body["Body"] = check.body
        if check.tls_skip_verify:
            body["TLSSkipVerify"] = True
        if check.tls_server_name:
            body["TLSServerName"] = check.tls_server_name
    else:
        body["TCP"] = check.tcp
    return body


def _tagged_addresses(instance: ServiceInstance) -> dict[str, dict[str, Any]]:
    out = {}
    for key, value in instance.tagged_addresses:
        host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
        out[key] = {"Address": host or value,
                    "Port": int(port) if port.isdigit() else instance.port}
    return out


def service_body(instance: ServiceInstance, node_id: str) -> dict[str, Any]:
    """A service instance as Consul's agent API takes it (``AgentServiceRegistration``)."""
    body: dict[str, Any] = {
        "ID": instance.service_id, "Name": instance.name, "Tags": list(instance.tags),
        "Address": instance.address, "Port": instance.port,
        "Meta": {**dict(instance.meta), NODE_META: node_id},
        "EnableTagOverride": instance.enable_tag_override,
        "Checks": [check_body(check) for check in instance.checks]}
    if instance.weights is not None:
        body["Weights"] = {"Passing": instance.weights[0], "Warning": instance.weights[1]}
    if instance.tagged_addresses:
        body["TaggedAddresses"] = _tagged_addresses(instance)
    return body


def differs(wanted: dict[str, Any], existing: dict[str, Any]) -> bool:
    """Whether Consul's copy of a service must be registered again (Nomad's different()).
    Tags are left alone when ``EnableTagOverride`` lets others change them."""
    if (existing.get("Service"), existing.get("Address") or "", existing.get("Port") or 0,
            dict(existing.get("Meta") or {}), bool(existing.get("EnableTagOverride"))) != (
            wanted["Name"], wanted["Address"], wanted["Port"], wanted["Meta"],
            wanted["EnableTagOverride"]):
        return True
    if not wanted["EnableTagOverride"] and list(existing.get("Tags") or []) != wanted["Tags"]:
        return True
    if "Weights" in wanted and existing.get("Weights") != wanted["Weights"]:
        return True
    tagged = existing.get("TaggedAddresses") or {}
    for key, value in wanted.get("TaggedAddresses", {}).items():
        have = tagged.get(key) or {}
        if (have.get("Address"), have.get("Port")) != (value["Address"], value["Port"]):
            return True
    return False
