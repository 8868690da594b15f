"""Which nodes a task group may use: datacenters, pools, drivers, constraints,
distinct hosts/property, resources and ports."""

from __future__ import annotations

import pytest

from nomadjail.scheduler.constraints import ConstraintChecker, datacenter_matcher
from nomadjail.structs import (
    Constraint,
    DriverInfo,
    EvalStatus,
    Job,
    NetworkResource,
    NodeEligibility,
    NodeStatus,
    Port,
    Resources,
)
from nomadjail.testing import mock_job, mock_node
from nomadjail.testing.scheduler_harness import Harness


def big_job(count: int, **kwargs: object) -> Job:
    """Allocations of 3 GHz: one per 4 GHz mock node, so spreading is forced."""
    return mock_job(count=count, cpu=3000, **kwargs)  # type: ignore[arg-type]


def place(harness: Harness, job: Job) -> set[str]:
    """Run ``job`` and return the node names it landed on."""
    job = harness.upsert_job(job)
    harness.run(job)
    return {a.node_name for a in harness.placed_allocs()} if harness.plans else set()


def constrained(*constraints: Constraint, count: int = 1, level: str = "group") -> Job:
    job = big_job(count=count)
    if level == "job":
        job.constraints = list(constraints)
    elif level == "task":
        job.task_groups[0].tasks[0].constraints = list(constraints)
    else:
        job.task_groups[0].constraints = list(constraints)
    return job


@pytest.mark.parametrize("patterns, datacenter, expected", [
    (["dc1"], "dc1", True), (["dc1"], "dc2", False), (["dc*"], "dc2", True),
    (["*"], "anything", True), (["*-east"], "us-east", True), (["us*1"], "us-west-1", True),
    (["us*1"], "us-west-2", False), (["a*b*c"], "axxbyyc", True), (["a*b*c"], "acb", False),
])
def test_datacenter_patterns_glob_like_nomad(patterns: list[str], datacenter: str,
                                             expected: bool):
    assert datacenter_matcher(patterns)(datacenter) is expected


def test_only_ready_eligible_undrained_nodes_in_the_job_datacenters_are_used(harness: Harness):
    harness.upsert_nodes([
        mock_node(name="good"), mock_node(name="other-dc", datacenter="dc2"),
    ])
    down = mock_node(name="down")
    down.status = NodeStatus.DOWN
    ineligible = mock_node(name="ineligible")
    ineligible.scheduling_eligibility = NodeEligibility.INELIGIBLE
    draining = mock_node(name="draining")
    draining.drain = True
    init = mock_node(name="initializing")
    init.status = NodeStatus.INITIALIZING
    pooled = mock_node(name="pooled")
    pooled.node_pool = "gpu"
    harness.upsert_nodes([down, ineligible, draining, init, pooled])

    assert place(harness, big_job(count=3)) == {"good"}
    assert harness.evals[-1].failed_tg_allocs["web"].nodes_in_pool == 1


def test_datacenter_wildcards_and_node_pools_select_nodes(harness: Harness):
    harness.upsert_nodes([mock_node(name="a", datacenter="east-1"),
                          mock_node(name="b", datacenter="east-2"),
                          mock_node(name="c", datacenter="west-1")])
    gpu = mock_node(name="gpu", datacenter="east-1")
    gpu.node_pool = "gpu"
    harness.upsert_node(gpu)
    job = big_job(count=3)
    job.datacenters = ["east-*"]
    assert place(harness, job) == {"a", "b"}

    other = Harness(now=1)
    other.upsert_nodes([gpu, mock_node(name="plain")])
    pooled = big_job(count=2)
    pooled.node_pool = "gpu"
    pooled.datacenters = ["*"]
    assert place(other, pooled) == {"gpu"}
    fresh = Harness(now=1)
    fresh.upsert_nodes([gpu, mock_node(name="plain")])
    everywhere = big_job(job_id="all", count=2)
    everywhere.node_pool = "all"
    everywhere.datacenters = ["*"]
    assert place(fresh, everywhere) == {"gpu", "plain"}


def test_missing_or_unhealthy_driver_filters_the_node(harness: Harness):
    sick = mock_node(name="sick")
    sick.drivers["raw_exec"] = DriverInfo(detected=True, healthy=False)
    no_driver = mock_node(name="none", drivers=("mock_driver",))
    attribute_only = mock_node(name="attr")
    attribute_only.drivers = {}  # old-style: only the driver.raw_exec attribute
    harness.upsert_nodes([sick, no_driver, attribute_only])

    assert place(harness, big_job(count=2)) == {"attr"}
    metrics = harness.evals[-1].failed_tg_allocs["web"]
    assert metrics.constraint_filtered == {"missing drivers": 2}
    assert metrics.nodes_filtered == 2


@pytest.mark.parametrize("constraint, expected", [
    (Constraint("${attr.kernel.name}", "linux", "="), {"linux-a", "linux-b"}),
    (Constraint("${attr.kernel.name}", "linux", "=="), {"linux-a", "linux-b"}),
    (Constraint("${attr.kernel.name}", "freebsd", "is"), {"bsd"}),
    (Constraint("${attr.kernel.name}", "linux", "!="), {"bsd"}),
    (Constraint("${attr.kernel.name}", "linux", "not"), {"bsd"}),
    (Constraint("${meta.rack}", "r1", "="), {"linux-a"}),
    (Constraint("${node.datacenter}", "dc2", "="), {"bsd"}),
    (Constraint("${node.unique.name}", "linux-b", "="), {"linux-b"}),
    (Constraint("${node.class}", "big", "="), {"linux-b"}),
    (Constraint("${node.pool}", "default", "="), {"linux-a", "linux-b", "bsd"}),
    (Constraint("${attr.cpu.numcores}", "8", ">="), {"linux-b"}),
    (Constraint("${attr.cpu.numcores}", "10", "<"), {"linux-a", "linux-b", "bsd"}),
    (Constraint("${meta.tier}", "b", ">"), {"linux-b"}),  # lexical: "c" > "b"
    (Constraint("${attr.kernel.version}", "^13\\.", "regexp"), {"bsd"}),
    (Constraint("${attr.kernel.version}", ">= 6.0, < 7", "version"), {"linux-a", "linux-b"}),
    (Constraint("${attr.kernel.version}", "~> 13.2", "semver"), {"bsd"}),
    (Constraint("${meta.features}", "zfs,jails", "set_contains"), {"bsd"}),
    (Constraint("${meta.features}", "zfs, jails", "set_contains_all"), {"bsd"}),
    (Constraint("${meta.features}", "docker,jails", "set_contains_any"),
     {"linux-a", "bsd"}),
    (Constraint("${meta.rack}", "", "is_set"), {"linux-a", "linux-b"}),
    (Constraint("${meta.rack}", "", "is_not_set"), {"bsd"}),
    (Constraint("${attr.missing}", "x", "="), set()),
    (Constraint("${attr.missing}", "x", "!="), {"linux-a", "linux-b", "bsd"}),
])
def test_constraint_operators(constraint: Constraint, expected: set[str]):
    harness = Harness(now=1)
    harness.upsert_nodes([
        mock_node(name="linux-a", meta={"rack": "r1", "tier": "a", "features": "docker"},
                  attributes={"cpu.numcores": "4"}),
        mock_node(name="linux-b", meta={"rack": "r2", "tier": "c", "features": ""},
                  attributes={"cpu.numcores": "8"}),
        mock_node(name="bsd", datacenter="dc2",
                  attributes={"kernel.name": "freebsd", "kernel.version": "13.2.0",
                              "cpu.numcores": "2"},
                  meta={"features": "zfs, jails", "tier": "a"}),
    ])
    harness.upsert_node(harness.store.nodes()[0])  # no-op re-register keeps things honest
    node_b = next(n for n in harness.store.nodes() if n.name == "linux-b")
    harness.update_node(node_b.id, node_class="big")
    job = constrained(constraint, count=3)
    job.datacenters = ["dc*"]

    assert place(harness, job) == expected
    if len(expected) < 3:
        failed = harness.evals[-1].failed_tg_allocs["web"]
        assert failed.constraint_filtered.get(str(constraint)) or failed.nodes_filtered


@pytest.mark.parametrize("level", ["job", "group", "task"])
def test_constraints_apply_at_job_group_and_task_level(level: str):
    harness = Harness(now=1)
    harness.upsert_nodes([mock_node(name="yes", meta={"ok": "1"}), mock_node(name="no")])
    job = constrained(Constraint("${meta.ok}", "1", "="), count=2, level=level)
    assert place(harness, job) == {"yes"}
    assert harness.evals[-1].failed_tg_allocs["web"].constraint_filtered == {
        "${meta.ok} = 1": 1}


def test_order_operators_compare_numbers_numerically_and_text_lexically():
    checker = ConstraintChecker()
    assert checker.check(">", "10", "9", True, True)  # numbers
    assert not checker.check(">", "10", "9x", True, True)  # text: "1" < "9"
    assert checker.check("<", "1.5", "10", True, True)  # floats
    assert not checker.check("<", "5", "x", False, True)  # missing left side
    assert not checker.check("regexp", "abc", "(", True, True)  # bad pattern: no match
    assert checker.check("version", "1.9.0", ">= 1.2", True, True)
    assert not checker.check("version", "not-a-version", ">= 1.2", True, True)


def test_distinct_hosts_keeps_allocs_of_the_group_apart(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(3))
    job = constrained(Constraint(operand="distinct_hosts"), count=4)
    job = harness.upsert_job(job)

    evaluation = harness.run(job)

    placed = harness.placed_allocs()
    assert len(placed) == 3 and len({a.node_id for a in placed}) == 3
    assert evaluation.failed_tg_allocs["web"].constraint_filtered == {"distinct_hosts": 3}


def test_distinct_property_limits_allocs_per_property_value(harness: Harness):
    harness.upsert_nodes([mock_node(meta={"rack": "r1"}), mock_node(meta={"rack": "r1"}),
                          mock_node(meta={"rack": "r2"}), mock_node(meta={"rack": "r2"})])
    job = constrained(Constraint("${meta.rack}", "1", "distinct_property"), count=3)
    job = harness.upsert_job(job)

    evaluation = harness.run(job)

    placed = harness.placed_allocs()
    assert len(placed) == 2
    racks = [harness.store.node_by_id(a.node_id).meta["rack"]  # type: ignore[union-attr]
             for a in placed]
    assert sorted(racks) == ["r1", "r2"]
    filtered = evaluation.failed_tg_allocs["web"].constraint_filtered
    assert all(reason.startswith("distinct_property: ${meta.rack}=") for reason in filtered)


def test_memory_and_disk_are_checked_against_what_nodes_have_left(harness: Harness):
    harness.upsert_nodes([mock_node(name="small", memory_mb=512), mock_node(name="big")])
    job = mock_job(count=2, memory_mb=6000)
    assert place(harness, job) == {"big"}
    failed = harness.evals[-1].failed_tg_allocs["web"]
    assert failed.dimension_exhausted == {"memory": 2}

    disk = Harness(now=1)
    disk.upsert_node(mock_node(name="tiny"))
    job = mock_job(count=1)
    job.task_groups[0].ephemeral_disk.size_mb = 200 * 1024  # type: ignore[union-attr]
    assert place(disk, job) == set()
    assert disk.evals[-1].failed_tg_allocs["web"].dimension_exhausted == {"disk": 1}


def test_node_reserved_resources_are_not_handed_out(harness: Harness):
    node = mock_node(cpu=1000)
    node.reserved_resources.cpu.cpu_shares = 600
    harness.upsert_node(node)
    assert place(harness, mock_job(count=1, cpu=500)) == set()
    assert harness.evals[-1].failed_tg_allocs["web"].dimension_exhausted == {"cpu": 1}


def test_existing_allocations_use_up_capacity(harness: Harness):
    harness.upsert_node(mock_node(name="only", cpu=1000))
    first = mock_job(job_id="first", count=1, cpu=600)
    assert place(harness, first) == {"only"}
    assert place(harness, mock_job(job_id="second", count=1, cpu=600)) == set()


def test_legacy_task_network_gets_ports_on_the_node_device(harness: Harness):
    harness.upsert_node(mock_node())
    job = mock_job(count=2, ports=())
    job.task_groups[0].networks = []
    task = job.task_groups[0].tasks[0]
    task.resources = Resources(cpu=100, memory_mb=64, networks=[NetworkResource(
        reserved_ports=[Port(label="admin", value=9000)], dynamic_ports=[Port(label="db")])])
    job.canonicalize()
    job = harness.upsert_job(job)

    evaluation = harness.run(job)

    (alloc,) = harness.placed_allocs()  # the static port allows one per node
    assert alloc.allocated_resources is not None
    (network,) = alloc.allocated_resources.tasks["web"].networks
    assert network.device == "lo" and network.ip == "127.0.0.1"
    assert network.reserved_ports[0].value == 9000
    assert 20000 <= network.dynamic_ports[0].value <= 32000
    assert evaluation.failed_tg_allocs["web"].dimension_exhausted == {
        "network: reserved port collision admin=9000": 1}


def test_group_network_mode_the_node_lacks_filters_it(harness: Harness):
    harness.upsert_node(mock_node())
    job = big_job(count=1)
    job.task_groups[0].networks[0].mode = "bridge"
    assert place(harness, job) == set()
    assert harness.evals[-1].failed_tg_allocs["web"].constraint_filtered == {
        "missing network": 1}


def test_feasibility_is_checked_once_per_computed_class(harness: Harness):
    nodes = [mock_node() for _ in range(6)]
    for node in nodes:
        node.computed_class = "v1:linux"
    harness.upsert_nodes(nodes)
    job = constrained(Constraint("${attr.kernel.name}", "freebsd", "="), count=1)
    job = harness.upsert_job(job)

    evaluation = harness.run(job)

    metrics = evaluation.failed_tg_allocs["web"]
    assert metrics.nodes_evaluated == 6 and metrics.nodes_filtered == 6
    (blocked,) = harness.create_evals
    assert blocked.class_eligibility == {"v1:linux": False}
    assert not blocked.escaped_computed_class


def test_constraint_on_a_unique_attribute_escapes_the_class_cache(harness: Harness):
    nodes = [mock_node(name=f"n{i}") for i in range(3)]
    for node in nodes:
        node.computed_class = "same"
    harness.upsert_nodes(nodes)
    job = constrained(Constraint("${node.unique.name}", "n1", "="), count=2)
    job = harness.upsert_job(job)

    harness.run(job)

    assert {a.node_name for a in harness.placed_allocs()} == {"n1"}
    assert harness.create_evals[0].escaped_computed_class
    assert EvalStatus.BLOCKED == harness.create_evals[0].status
