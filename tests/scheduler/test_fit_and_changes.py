"""allocs_fit (the plan applier's re-check), names, and what counts as destructive."""

from __future__ import annotations

import dataclasses

import pytest

from nomadjail.scheduler import allocs_fit
from nomadjail.scheduler.names import AllocNameIndex
from nomadjail.scheduler.task_changes import destructive_change
from nomadjail.structs import (
    SECOND,
    Allocation,
    AllocClientStatus,
    NetworkResource,
    Port,
    PortMapping,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node


def with_ports(alloc: Allocation, *ports: int) -> Allocation:
    assert alloc.allocated_resources is not None
    alloc.allocated_resources.shared.ports = [
        PortMapping(label=f"p{p}", value=p, to=0, host_ip="127.0.0.1") for p in ports]
    return alloc


def test_allocs_fit_reports_the_exhausted_dimension():
    node = mock_node(cpu=1000, memory_mb=1000)
    small = mock_job(count=1, cpu=400, memory_mb=400)
    assert allocs_fit(node, [mock_alloc(small, node), mock_alloc(small, node)]) == (True, "")

    hungry = mock_job(count=1, cpu=1200, memory_mb=100)
    assert allocs_fit(node, [mock_alloc(hungry, node)]) == (False, "cpu")
    greedy = mock_job(count=1, cpu=100, memory_mb=1200)
    assert allocs_fit(node, [mock_alloc(greedy, node)]) == (False, "memory")
    roomy = mock_job(count=1, cpu=100, memory_mb=100)
    assert roomy.task_groups[0].ephemeral_disk is not None
    roomy.task_groups[0].ephemeral_disk.size_mb = 10 ** 6
    assert allocs_fit(node, [mock_alloc(roomy, node)]) == (False, "disk")


def test_allocs_fit_skips_allocs_the_client_finished():
    node = mock_node(cpu=1000)
    job = mock_job(count=1, cpu=800)
    done = mock_alloc(job, node, client_status=AllocClientStatus.COMPLETE)
    assert allocs_fit(node, [done, mock_alloc(job, node)]) == (True, "")


def test_allocs_fit_catches_port_collisions_between_allocs_and_with_the_node():
    node = mock_node()
    job = mock_job(count=1)
    a, b = mock_alloc(job, node), mock_alloc(job, node)
    assert allocs_fit(node, [with_ports(a, 25000), with_ports(b, 25001)]) == (True, "")
    assert allocs_fit(node, [with_ports(a, 25000), with_ports(b, 25000)]) == (
        False, "network: port collision")
    node.reserved_resources.networks.reserved_host_ports = "22,8000-8010"
    assert allocs_fit(node, [with_ports(a, 8005)]) == (False, "network: port collision")
    assert allocs_fit(node, [with_ports(a, 70000)]) == (False, "network: invalid port")


def test_allocs_fit_counts_task_network_ports():
    node = mock_node()
    job = mock_job(count=1)
    a, b = mock_alloc(job, node), mock_alloc(job, node)
    for alloc in (a, b):
        assert alloc.allocated_resources is not None
        alloc.allocated_resources.tasks["web"].networks = [NetworkResource(
            ip="127.0.0.1", dynamic_ports=[Port(label="x", value=30000)])]
    assert allocs_fit(node, [a, b]) == (False, "network: port collision")


def test_name_index_fills_gaps_first_and_removes_from_the_top():
    job = mock_job(count=5)
    node = mock_node()
    allocs = [mock_alloc(job, node, index=i) for i in (0, 2, 3)]
    index = AllocNameIndex(job.id, "web", 5, allocs)
    assert index.next(3) == [f"{job.id}.web[1]", f"{job.id}.web[4]", f"{job.id}.web[5]"]
    assert index.highest(2) == {f"{job.id}.web[5]", f"{job.id}.web[4]"}

    duplicated = AllocNameIndex(job.id, "web", 2, [*allocs, mock_alloc(job, node, index=0)])
    assert duplicated.is_duplicate(0) and not duplicated.is_duplicate(2)
    duplicated.unset_index(0)
    assert not duplicated.is_duplicate(0)


@pytest.mark.parametrize("change, expected", [
    (lambda t, g, j: setattr(t, "driver", "pot"), "task driver"),
    (lambda t, g, j: setattr(t, "config", {"command": "/bin/true"}), "task config"),
    (lambda t, g, j: setattr(t, "env", {"X": "1"}), "task env"),
    (lambda t, g, j: setattr(t, "user", "www"), "task user"),
    (lambda t, g, j: setattr(t, "meta", {"a": "b"}), "task meta"),
    (lambda t, g, j: setattr(j, "meta", {"a": "b"}), "task meta"),
    (lambda t, g, j: setattr(t.resources, "cpu", 999), "task cpu"),
    (lambda t, g, j: setattr(t.resources, "memory_mb", 999), "task memory"),
    (lambda t, g, j: g.networks[0].dynamic_ports.append(Port(label="extra")),
     "network port map"),
    (lambda t, g, j: setattr(g, "networks", []), "network lengths"),
    (lambda t, g, j: setattr(g.ephemeral_disk, "size_mb", 1), "ephemeral disk"),
    (lambda t, g, j: g.tasks.append(dataclasses.replace(t, name="second")),
     "number of tasks"),
    (lambda t, g, j: setattr(g, "count", 7), None),
    (lambda t, g, j: setattr(t, "kill_timeout", 30 * SECOND), None),
    (lambda t, g, j: setattr(g.update, "max_parallel", 3), None),
    (lambda t, g, j: setattr(g.networks[0].dynamic_ports[0], "value", 23456), None),
])
def test_destructive_changes_match_nomads_tasks_updated(change, expected):  # type: ignore
    old = mock_job(count=1)
    new = old.copy()
    group = new.task_groups[0]
    change(group.tasks[0], group, new)
    assert destructive_change(old, new, "web") == expected
