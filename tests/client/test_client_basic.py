"""Registration, heartbeats and running allocations against fake servers."""

from __future__ import annotations

import os
from pathlib import Path

from nomadjail.drivers.base import TaskConfig, TaskHandle
from nomadjail.drivers.mock import MockDriver
from nomadjail.structs import (
    AllocClientStatus,
    DNSConfig,
    NetworkResource,
    NodeStatus,
    TaskEventType,
)
from nomadjail.testing import wait_for
from nomadjail.testing.fake_servers import alloc_for, one_task_job, wait_client_status


def test_registers_and_heartbeats_ready(make_client, servers):
    client = make_client()
    client.start()
    wait_for(lambda: client.node_id in servers.nodes, message="registration")
    wait_for(lambda: servers.heartbeats, message="first heartbeat")
    node = servers.nodes[client.node_id]
    assert node.name == "test-node"
    assert node.attributes["driver.raw_exec"] == "1"
    assert node.attributes["kernel.name"] in ("linux", "freebsd")
    assert node.drivers["raw_exec"].healthy
    assert servers.heartbeats[0] == (client.node_id, NodeStatus.READY)


def test_batch_alloc_runs_to_complete(make_client, servers, tmp_path):
    client = make_client()
    client.start()
    job = one_task_job({"command": "/bin/sh", "args": ["-c", "echo hi; exit 0"]},
                       job_type="batch")
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "complete")
    types = servers.event_types(alloc.id, "web")
    assert types == [TaskEventType.RECEIVED, TaskEventType.SETUP, TaskEventType.STARTED,
                     TaskEventType.TERMINATED]
    logs = Path(client.alloc_dir(alloc.id), "alloc", "logs", "web.stdout.0")
    assert logs.read_text() == "hi\n"


def test_retries_registration_until_a_server_answers(make_client, servers):
    servers.unavailable = True
    client = make_client()
    client.start()
    wait_for(lambda: not client.registered(), message="not registered")
    servers.unavailable = False
    wait_for(lambda: servers.heartbeats, message="registered and heartbeating")


def test_registers_again_when_the_servers_forget_the_node(make_client, servers):
    servers.heartbeat_ttl = 0.1  # heartbeats every ~50ms
    client = make_client()
    client.start()
    wait_for(lambda: servers.heartbeats, message="first heartbeat")
    servers.forget_nodes()
    wait_for(lambda: servers.registrations >= 2, message="second registration")
    assert client.node_id in servers.nodes


def test_heartbeats_well_inside_the_ttl(make_client, servers):
    servers.heartbeat_ttl = 0.2
    client = make_client()
    client.start()
    wait_for(lambda: len(servers.heartbeats) >= 4, timeout=5, message="several heartbeats")


def test_node_resources_and_reservations(make_client, servers):
    client = make_client(reserved_cpu=250, reserved_memory_mb=128, reserved_ports="22,80-81",
                         meta={"rack": "r1"}, node_class="large", datacenter="dc9",
                         cpu_total_compute=4000)
    node = client.node()
    assert node.datacenter == "dc9" and node.node_class == "large"
    assert node.meta == {"rack": "r1"}
    assert node.node_resources.cpu.cpu_shares == 4000
    assert node.node_resources.memory.memory_mb > 0
    assert node.node_resources.networks[0].ip == "127.0.0.1"  # network_interface = "lo"
    assert node.reserved_resources.cpu.cpu_shares == 250
    assert node.reserved_resources.memory.memory_mb == 128
    assert node.reserved_host_ports() == {22, 80, 81}
    for key in ("cpu.numcores", "cpu.totalcompute", "cpu.frequency", "memory.totalbytes",
                "kernel.name", "kernel.version", "os.name", "cpu.arch", "unique.hostname",
                "unique.network.ip-address", "nomad.version", "driver.mock_driver"):
        assert node.attributes.get(key), key


def test_driver_health_change_updates_the_registration(make_client, servers):
    from nomadjail.drivers.mock import MockDriver
    mock = MockDriver()
    client = make_client(drivers={"mock_driver": mock}, fingerprint_interval=0.05)
    client.start()
    wait_for(lambda: servers.heartbeats, message="registered")
    mock.healthy = False
    wait_for(lambda: not servers.nodes[client.node_id].drivers["mock_driver"].healthy,
             message="unhealthy driver registered")
    assert servers.nodes[client.node_id].drivers["mock_driver"].health_description == \
        "Unhealthy"


def test_failed_status_updates_are_retried(make_client, servers):
    client = make_client()
    client.start()
    wait_for(lambda: servers.heartbeats, message="registered")
    servers.fail_updates = True
    job = one_task_job({"run_for": "10ms"}, driver="mock_driver", job_type="batch")
    alloc = servers.place(alloc_for(job, client))
    wait_for(lambda: client.allocations() and
             client.allocations()[0].client_status == "complete", message="done locally")
    assert servers.client_status(alloc.id) == "pending"  # nothing got through
    servers.fail_updates = False
    wait_client_status(servers, alloc.id, "complete")


def test_keeps_at_most_gc_max_allocs_finished_allocations(make_client, servers):
    client = make_client(gc_max_allocs=1)
    client.start()
    job = one_task_job({"run_for": "1ms"}, driver="mock_driver", job_type="batch")
    allocs = [servers.place(alloc_for(job, client)) for _ in range(3)]
    for alloc in allocs:
        wait_client_status(servers, alloc.id, "complete")
    servers.place(alloc_for(job, client))  # one more change makes the client look
    wait_for(lambda: sum(client.alloc_dir(a.id) is not None for a in allocs) <= 1,
             message="old alloc dirs collected")


def finished_elsewhere(client):
    """An allocation the servers list for this node that finished long ago (this client
    ran it, reported it and collected it before it lost its memory of it)."""
    job = one_task_job({"run_for": "1ms"}, driver="mock_driver", job_type="batch")
    alloc = alloc_for(job, client)
    alloc.client_status = AllocClientStatus.COMPLETE
    return alloc


def watch_rounds(servers, client, count: int) -> None:
    """Let the client's watcher see ``count`` more answers from the servers."""
    for _ in range(count):
        seen = servers.answered_queries
        servers.touch()
        wait_for(lambda: servers.answered_queries > seen, message="a watch round")
    # ... and act on the last one: a placed allocation shows it did.
    job = one_task_job({"run_for": "1h"}, driver="mock_driver")
    marker = servers.place(alloc_for(job, client))
    wait_for(lambda: client.alloc_runner(marker.id) is not None, message="watch round done")


def test_finished_allocations_are_downloaded_once(make_client, servers):
    client = make_client()
    done = finished_elsewhere(client)
    servers.place(done)
    client.start()
    watch_rounds(servers, client, 4)
    assert servers.pulled.count(done.id) == 1
    assert client.alloc_runner(done.id) is None  # nothing to run
    client.shutdown()
    restarted = make_client()  # remembers, too
    restarted.start()
    watch_rounds(servers, restarted, 2)
    assert servers.pulled.count(done.id) == 1


def test_gc_alloc_removes_a_finished_allocation_for_good(make_client, servers):
    client = make_client()
    client.start()
    job = one_task_job({"run_for": "1ms"}, driver="mock_driver", job_type="batch")
    alloc = servers.place(alloc_for(job, client))
    wait_client_status(servers, alloc.id, "complete")
    path = client.alloc_dir(alloc.id)
    client.gc_alloc(alloc.id)
    assert client.alloc_runner(alloc.id) is None and not os.path.exists(path)
    pulled = servers.pulled.count(alloc.id)
    watch_rounds(servers, client, 2)
    assert servers.pulled.count(alloc.id) == pulled  # the servers still list it: ignored


class DNSRecordingDriver(MockDriver):
    """The mock driver, remembering the dns block each task was started with."""

    def __init__(self) -> None:
        super().__init__()
        self.dns: dict[str, DNSConfig | None] = {}

    def start_task(self, cfg: TaskConfig) -> TaskHandle:
        self.dns[cfg.name] = cfg.dns
        return super().start_task(cfg)


def test_the_groups_dns_block_reaches_the_driver_interpolated(make_client, servers):
    driver = DNSRecordingDriver()
    client = make_client(drivers={"mock_driver": driver})
    client.start()
    job = one_task_job({"run_for": "10ms"}, driver="mock_driver", job_type="batch")
    job.meta = {"resolver": "10.0.0.53", "ndots": "2"}
    alloc = alloc_for(job, client)
    assert alloc.allocated_resources is not None
    alloc.allocated_resources.shared.networks = [NetworkResource(dns=DNSConfig(
        servers=["${NOMAD_META_resolver}", "10.0.0.54"],
        searches=["${NOMAD_JOB_NAME}.consul", "${node.unique.name}.internal"],
        options=["ndots:${NOMAD_META_ndots}", "${unknown.thing}"]))]
    servers.place(alloc)
    wait_client_status(servers, alloc.id, "complete")
    # as Nomad's taskenv.InterpolateNetworks: every field, each value; unknowns as written
    assert driver.dns["web"] == DNSConfig(
        servers=["10.0.0.53", "10.0.0.54"],
        searches=[f"{job.name}.consul", "test-node.internal"],
        options=["ndots:2", "${unknown.thing}"])
    # the job's own dns block is left as the job wrote it
    assert alloc.allocated_resources.shared.networks[0].dns.servers[0] == \
        "${NOMAD_META_resolver}"
