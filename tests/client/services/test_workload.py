"""What a workload registers: Nomad's IDs, addresses by address_mode and driver network,
canary tags, interpolation -- the pure part, no Consul involved."""

from __future__ import annotations

import pytest

from nomadjail.client.services.workload import (
    AddressError,
    WorkloadServices,
    alloc_of_service_id,
    get_address,
    group_workload,
    registrations,
    script_checks_for_task,
    task_workload,
)
from nomadjail.client.taskenv import build_task_env
from nomadjail.drivers.base import DriverNetwork
from nomadjail.structs import (
    SECOND,
    AllocDeploymentStatus,
    NetworkResource,
    Port,
    PortMapping,
    Task,
)
from nomadjail.structs.services import CheckRestart, Service, ServiceCheck
from nomadjail.testing import mock_alloc, mock_job, mock_node

NODE_IP = "10.0.0.20"
HTTP = PortMapping(label="http", value=23456, to=80, host_ip=NODE_IP)
ADMIN = PortMapping(label="admin", value=23457, to=0, host_ip=NODE_IP)
POT = DriverNetwork(ip="10.192.0.7", port_map={"admin": 9000}, auto_advertise=True)


def address(mode: str, label: str, *, service_address: str = "",
            driver: DriverNetwork | None = None,
            networks: list[NetworkResource] | None = None) -> tuple[str, int]:
    return get_address(service_address, mode, label, ports=[HTTP, ADMIN],
                       networks=networks or [], driver=driver)


@pytest.mark.parametrize("mode, label, driver, expected", [
    # raw_exec, pot public-bridge and pot host: the node's address and the host port
    ("host", "http", None, (NODE_IP, 23456)),
    ("auto", "http", None, (NODE_IP, 23456)),
    ("auto", "http", DriverNetwork(ip="10.192.0.7", auto_advertise=False), (NODE_IP, 23456)),
    # a number is a port as given; the Consul agent's address
    ("host", "8080", None, ("", 8080)),
    # pot alias: the pot's own IP and the task's port ("to", else pot's port_map)
    ("auto", "http", POT, ("10.192.0.7", 80)),
    ("driver", "http", POT, ("10.192.0.7", 80)),
    ("driver", "admin", POT, ("10.192.0.7", 9000)),
    ("driver", "8443", POT, ("10.192.0.7", 8443)),
    ("driver", "", POT, ("10.192.0.7", 0)),
])
def test_addresses_follow_the_address_mode_and_the_driver_network(mode, label, driver,
                                                                  expected):
    assert address(mode, label, driver=driver) == expected


def test_a_custom_address_keeps_the_host_port():
    assert address("auto", "http", service_address="203.0.113.9") == ("203.0.113.9", 23456)
    assert address("auto", "", service_address="203.0.113.9") == ("203.0.113.9", 0)


def test_legacy_task_networks_still_resolve():
    legacy = NetworkResource(ip="10.0.0.21", dynamic_ports=[Port(label="old", value=25000)])
    assert address("host", "old", networks=[legacy]) == ("10.0.0.21", 25000)


@pytest.mark.parametrize("mode, label, driver, message", [
    ("host", "nope", None, 'invalid port "nope": port label not found'),
    ("driver", "http", None, 'cannot use address_mode="driver": no driver network exists'),
    ("driver", "nope", POT, 'invalid port label "nope": port labels in driver address_mode '
                            "must be numeric or in the driver's port map"),
    ("alloc", "http", None, 'cannot use address_mode="alloc": no allocation network status '
                            "reported"),
])
def test_what_cannot_be_addressed_says_why_in_nomads_words(mode, label, driver, message):
    with pytest.raises(AddressError) as err:
        address(mode, label, driver=driver)
    assert str(err.value) == message


def web_alloc(services=(), group_services=(), canary=False):
    job = mock_job(job_id="shop", count=1)
    group = job.task_groups[0]
    group.services = list(group_services)
    group.tasks[0].services = list(services)
    job.canonicalize()
    alloc = mock_alloc(job, mock_node(name="n1"))
    alloc.allocated_resources.shared.ports = [HTTP]
    if canary:
        alloc.deployment_status = AllocDeploymentStatus(canary=True)
    return alloc


def http_check(**kwargs):
    return ServiceCheck(**{"type": "http", "path": "/health", "interval": 10 * SECOND,
                           "timeout": 2 * SECOND, **kwargs})


def test_a_task_service_registers_with_nomads_ids_tags_meta_and_checks():
    alloc = web_alloc(services=[Service(
        name="${NOMAD_JOB_NAME}-${NOMAD_TASK_NAME}", port_label="http",
        tags=["v1", "dc-${node.datacenter}"], canary_tags=["canary"], meta={"a": "1"},
        checks=[http_check(name="alive", header={"X-Node": ["${node.unique.name}"]}),
                ServiceCheck(name="port", type="tcp", interval=SECOND, timeout=SECOND)])])
    node = mock_node(name="n1")
    env = build_task_env(alloc=alloc, task=alloc.job.task_groups[0].tasks[0], node=node,
                         region="global", task_dir=None, host_env={})
    workload = task_workload(alloc, alloc.job.task_groups[0].tasks[0], node,
                             interpolate=env.replace)
    result = registrations(workload)
    assert result.errors == []
    [instance] = result.instances
    assert instance.service_id == f"_nomad-task-{alloc.id}-web-shop-web-http"
    assert alloc_of_service_id(instance.service_id) == alloc.id
    assert (instance.name, instance.address, instance.port, instance.tags) == (
        "shop-web", NODE_IP, 23456, ("v1", "dc-dc1"))
    assert dict(instance.meta) == {"a": "1", "external-source": "nomad"}
    alive, port = instance.checks
    assert alive.http == f"http://{NODE_IP}:23456/health"
    assert alive.header == (("X-Node", ("n1",)),)
    assert port.tcp == f"{NODE_IP}:23456"
    assert alive.check_id.startswith("_nomad-check-") and alive.check_id != port.check_id
    # the same workload always yields the same IDs: registering again replaces
    assert registrations(workload).instances == result.instances


def test_an_unpromoted_canary_registers_its_canary_tags_and_meta():
    service = Service(name="web", port_label="http", tags=["live"], canary_tags=["canary"],
                      meta={"v": "1"}, canary_meta={"v": "2"})
    task = Task(name="web", services=[service])
    alloc = web_alloc(services=[service], canary=True)
    node = mock_node()
    [canary] = registrations(task_workload(alloc, task, node, interpolate=str)).instances
    assert canary.tags == ("canary",) and dict(canary.meta)["v"] == "2"
    alloc.deployment_status = AllocDeploymentStatus(canary=False)  # promoted
    [live] = registrations(task_workload(alloc, task, node, interpolate=str)).instances
    assert live.tags == ("live",) and dict(live.meta)["v"] == "1"
    assert live.service_id == canary.service_id


def test_group_services_use_the_group_workload_name_and_the_host_address():
    alloc = web_alloc(group_services=[Service(name="front", port_label="http",
                                              checks=[http_check(name="alive")])])
    workload = group_workload(alloc, mock_node(), interpolate=str)
    assert workload.name == "group-web"
    [instance] = registrations(workload).instances
    assert instance.service_id == f"_nomad-task-{alloc.id}-group-web-front-http"
    assert (instance.address, instance.port) == (NODE_IP, 23456)


def test_a_service_that_cannot_be_addressed_is_reported_and_the_rest_registered():
    alloc = web_alloc()
    workload = WorkloadServices(
        alloc_id=alloc.id, job_id="shop", group="web", task="web", namespace="default",
        node_id="n", datacenter="dc1", ports=[HTTP], services=[
            Service(name="ok", port_label="http", address_mode="host"),
            Service(name="pot", port_label="http", address_mode="driver"),
            Service(name="chk", port_label="http",
                    checks=[http_check(name="c", port_label="nope")])])
    result = registrations(workload)
    assert [i.name for i in result.instances] == ["ok"]
    assert result.errors == [
        'unable to get address for service "pot": cannot use address_mode="driver": no '
        "driver network exists",
        'error getting address for check "c": invalid port "nope": port label not found']


def test_script_checks_run_in_the_task_they_name():
    script = ServiceCheck(name="probe", type="script", command="/bin/probe", args=["-q"],
                          interval=5 * SECOND, timeout=SECOND, task_name="web",
                          check_restart=CheckRestart(limit=2, grace=SECOND))
    alloc = web_alloc(group_services=[Service(name="front", checks=[script])])
    task = alloc.job.task_groups[0].tasks[0]
    [check] = script_checks_for_task(alloc, task, str)
    assert (check.command, check.ttl, check.task) == (("/bin/probe", "-q"), 36 * SECOND, "web")
    [instance] = registrations(group_workload(alloc, mock_node(), interpolate=str)).instances
    assert instance.checks[0].check_id == check.check_id  # the TTL check it reports to
    assert script_checks_for_task(alloc, Task(name="other"), str) == []
