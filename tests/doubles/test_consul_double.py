"""The Consul double answers as Consul's API documentation says a Consul agent does, and
runs the checks it is given.  Every test here runs against the double and, when
``CONSUL_HTTP_ADDR`` names one, against a real Consul agent too: that is how the
double is held to the real thing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from nomadjail.testing import free_port, wait_for

from .consul import ConsulDouble, ConsulTarget, consul_target
from .web import HealthEndpoint

# Keys of the documented sample responses (Consul's API docs: agent/service "List
# Services", agent/check "List Checks", health "List Service Instances", catalog
# "List Nodes for Service").
AGENT_SERVICE_KEYS = {"ID", "Service", "Tags", "Meta", "Port", "Address", "EnableTagOverride",
                      "Weights", "Datacenter"}
AGENT_CHECK_KEYS = {"Node", "CheckID", "Name", "Status", "Notes", "Output", "ServiceID",
                    "ServiceName", "ServiceTags"}
HEALTH_KEYS = {"Node", "Service", "Checks"}
CATALOG_KEYS = {"ID", "Node", "Address", "Datacenter", "TaggedAddresses", "NodeMeta",
                "ServiceAddress", "ServiceEnableTagOverride", "ServiceID", "ServiceName",
                "ServicePort", "ServiceMeta", "ServiceTags", "CreateIndex", "ModifyIndex"}


@pytest.fixture(params=["double", "real"])
def consul(request: pytest.FixtureRequest) -> Iterator[ConsulTarget]:
    with consul_target(request.param) as target:
        yield target


@pytest.fixture
def web() -> Iterator[HealthEndpoint]:
    endpoint = HealthEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.close()


def service_id() -> str:
    return f"_nomad-task-{uuid.uuid4()}-group-web-web-http"


def service_name() -> str:
    """A name no other service on a real agent has."""
    return f"web-{uuid.uuid4().hex[:8]}"


def test_a_service_with_checks_reads_back_in_consuls_shapes(consul, web):
    sid, name = service_id(), service_name()
    closed = free_port()
    answer = consul.put("/v1/agent/service/register", {
        "ID": sid, "Name": name, "Tags": ["a", "b"], "Address": "127.0.0.1",
        "Port": web.port, "Meta": {"external-source": "nomad"},
        "Checks": [
            {"CheckID": sid + "-http", "Name": "alive", "HTTP": web.url, "Interval": "1s",
             "Timeout": "1s"},
            {"CheckID": sid + "-tcp", "Name": "port", "TCP": f"127.0.0.1:{closed}",
             "Interval": "1s", "Timeout": "1s", "Status": "passing"},
        ]})
    assert answer.status_code == 200, answer.text
    service = consul.services()[sid]
    assert AGENT_SERVICE_KEYS <= set(service)
    assert (service["Service"], service["Tags"], service["Port"], service["Meta"]) == (
        name, ["a", "b"], web.port, {"external-source": "nomad"})
    checks = {c["CheckID"]: c for c in consul.checks_of(sid)}
    assert set(checks) == {sid + "-http", sid + "-tcp"}
    assert all(AGENT_CHECK_KEYS <= set(c) for c in checks.values())
    # Consul runs them: the endpoint answers, the closed port does not.
    wait_for(lambda: {c["CheckID"]: c["Status"] for c in consul.checks_of(sid)} == {
        sid + "-http": "passing", sid + "-tcp": "critical"}, timeout=10,
        message="the http check passing and the tcp check critical")
    assert web.hits >= 1
    [entry] = consul.health(name)
    assert HEALTH_KEYS <= set(entry) and entry["Service"]["ID"] == sid
    assert consul.health(name, passing="") == []  # the tcp check is critical
    [catalog] = consul.catalog(name, tag="a")
    assert CATALOG_KEYS <= set(catalog)
    assert (catalog["ServiceID"], catalog["ServicePort"]) == (sid, web.port)
    assert consul.catalog(name, tag="zzz") == []

    assert consul.put(f"/v1/agent/service/deregister/{sid}").status_code == 200
    assert sid not in consul.services() and consul.checks_of(sid) == []
    gone = consul.put(f"/v1/agent/service/deregister/{sid}")
    assert gone.status_code == 404 and "Unknown service ID" in gone.text


def test_a_failing_endpoint_turns_its_check_critical_and_back(consul, web):
    sid = service_id()
    consul.put("/v1/agent/service/register", {
        "ID": sid, "Name": "web", "Port": web.port,
        "Check": {"CheckID": sid + "-c", "Name": "alive", "HTTP": web.url, "Interval": "1s",
                  "Timeout": "1s", "SuccessBeforePassing": 2}})

    def status() -> str:
        return consul.checks()[sid + "-c"]["Status"]

    wait_for(lambda: status() == "passing", timeout=10, message="passing after two successes")
    web.status = 500
    wait_for(lambda: status() == "critical", timeout=10, message="critical on a 500")
    assert "500" in consul.checks()[sid + "-c"]["Output"]
    web.status = 429
    wait_for(lambda: status() == "warning", timeout=10, message="warning on a 429")


def test_ttl_checks_follow_pass_warn_fail_and_expire(consul):
    sid = service_id()
    consul.put("/v1/agent/service/register", {"ID": sid, "Name": "script-web", "Port": 1})
    assert consul.put("/v1/agent/check/register", {
        "ID": sid + "-ttl", "Name": "script", "ServiceID": sid, "TTL": "2s"}).status_code == 200
    assert consul.checks()[sid + "-ttl"]["Status"] == "critical"
    for verb, status in (("pass", "passing"), ("warn", "warning"), ("fail", "critical"),
                         ("pass", "passing")):
        assert consul.put(f"/v1/agent/check/{verb}/{sid}-ttl?note=ok").status_code == 200
        assert consul.checks()[sid + "-ttl"]["Status"] == status
    wait_for(lambda: consul.checks()[sid + "-ttl"]["Status"] == "critical", timeout=10,
             message="the TTL to expire")
    unknown = consul.put(f"/v1/agent/check/pass/{sid}-nope")
    assert unknown.status_code == 404


def test_replace_existing_checks_drops_the_ones_left_out(consul, web):
    sid = service_id()
    check = {"Name": "alive", "HTTP": web.url, "Interval": "10s", "Timeout": "1s"}
    consul.put("/v1/agent/service/register", {
        "ID": sid, "Name": "web", "Checks": [{**check, "CheckID": "a-" + sid},
                                             {**check, "CheckID": "b-" + sid}]})
    consul.put("/v1/agent/service/register?replace-existing-checks=true", {
        "ID": sid, "Name": "web", "Checks": [{**check, "CheckID": "b-" + sid}]})
    assert [c["CheckID"] for c in consul.checks_of(sid)] == ["b-" + sid]


def test_a_stopped_double_refuses_connections_and_comes_back_with_its_services():
    double = ConsulDouble().start()
    try:
        double.register({"Name": "web", "ID": "w1", "Port": 80})
        double.stop()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{double.address}/v1/agent/services", timeout=2)
        double.start()
        assert list(requests.get(f"http://{double.address}/v1/agent/services",
                                 timeout=2).json()) == ["w1"]
    finally:
        double.close()


def test_a_token_is_required_when_the_double_is_told_so():
    double = ConsulDouble(required_token="s3cret").start()
    try:
        url = f"http://{double.address}/v1/agent/services"
        assert requests.get(url, timeout=2).status_code == 403
        assert requests.get(url, headers={"X-Consul-Token": "s3cret"}, timeout=2).json() == {}
    finally:
        double.close()


def test_checks_aimed_off_the_machine_are_never_probed():
    double = ConsulDouble().start()
    try:
        double.register({"Name": "far", "ID": "far", "Check": {
            "CheckID": "far-c", "HTTP": "http://192.0.2.10/health", "Interval": "1s"}})
        wait_for(lambda: double.check_runs >= 1, timeout=5, message="a probe")
        assert "loopback addresses only" in double.agent_checks()["far-c"]["Output"]
    finally:
        double.close()
