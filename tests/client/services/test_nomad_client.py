"""A client's Nomad-provider services through its runners, against in-memory servers: a
task service registered once the task runs and its check answered by ``alloc_checks``,
the group's removed when the allocation stops, and a restarted client registering the
same IDs again."""

from __future__ import annotations

from nomadjail.structs import SECOND, PortMapping
from nomadjail.structs.services import Service, ServiceCheck
from nomadjail.testing import wait_for
from nomadjail.testing.fake_servers import alloc_for, one_task_job, wait_client_status


def nomad_job(port_check: int):
    job = one_task_job({"run_for": "300s"}, driver="mock_driver")
    group = job.task_groups[0]
    group.services = [Service(name="shop", port_label="http", provider="nomad", tags=["g"])]
    group.tasks[0].services = [Service(
        name="shop-api", port_label="http", provider="nomad",
        checks=[ServiceCheck(name="port", type="tcp", port_label=str(port_check),
                             interval=SECOND, timeout=SECOND)])]
    job.canonicalize()
    return job


def test_services_register_check_and_go_with_the_allocation(make_client, servers):
    client = make_client()
    client.start()
    job = nomad_job(1)  # nothing listens on port 1: the check fails
    alloc = alloc_for(job, client)
    alloc.allocated_resources.shared.ports = [
        PortMapping(label="http", value=25010, host_ip="127.0.0.1")]
    servers.place(alloc)
    wait_client_status(servers, alloc.id, "running")
    ids = {f"_nomad-task-{alloc.id}-group-web-shop-http",
           f"_nomad-task-{alloc.id}-web-shop-api-http"}
    wait_for(lambda: {reg_id for _, reg_id in servers.services} == ids, timeout=15,
             message="the group's and the task's service registered")
    task_reg = servers.services[("default", f"_nomad-task-{alloc.id}-web-shop-api-http")]
    assert (task_reg.address, task_reg.port, task_reg.node_id) == (
        "127.0.0.1", 25010, client.node_id)
    [result] = wait_for(lambda: [r for r in client.alloc_checks(alloc.id).values()
                                 if r.status == "failure"], timeout=15,
                        message="the tcp check failing")
    assert (result.task, result.service, result.check, result.group) == (
        "web", "shop-api", "port", alloc.name)

    restarted_from = len(servers.service_upserts)
    client.shutdown()  # the task keeps running, its registrations stay
    assert {reg_id for _, reg_id in servers.services} == ids
    again = make_client()
    again.start()
    wait_for(lambda: len(servers.service_upserts) >= restarted_from + 2, timeout=15,
             message="the restored workloads registered again")
    assert {reg_id for _, reg_id in servers.services} == ids  # the same IDs, nothing doubled

    servers.stop(alloc.id)
    wait_for(lambda: servers.services == {}, timeout=15,
             message="deregistered when the allocation stops")
