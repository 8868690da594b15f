"""The drainer's decisions (pure): batches of ``migrate.max_parallel`` per group, each
after the previous one's replacements are healthy; batch work waits for the deadline;
system allocations go last; the deadline, ``-force`` and ``-no-deadline``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nomadjail.server.drain_decisions import (
    DrainView,
    deadline_reached,
    decide,
    group_drain,
)
from nomadjail.structs import (
    SECOND,
    ZERO_TIME,
    Allocation,
    AllocClientStatus,
    AllocDeploymentStatus,
    AllocDesiredStatus,
    DesiredTransition,
    DrainStrategy,
    Job,
    MigrateStrategy,
    Node,
    rfc3339,
)
from nomadjail.testing import mock_alloc, mock_batch_job, mock_job, mock_node, mock_system_job

NOW = 1_700_000_000 * SECOND
HOUR = 3600 * SECOND


class View:
    """A hand-built state: just the lookups the decisions use."""

    def __init__(self, nodes: list[Node], jobs: list[Job], allocs: list[Allocation]):
        self.nodes = {n.id: n for n in nodes}
        self.jobs = {(j.namespace or "default", j.id): j for j in jobs}
        self.allocs = allocs

    def iter_nodes(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def allocs_by_node(self, node_id: str) -> list[Allocation]:
        return [a for a in self.allocs if a.node_id == node_id]

    def allocs_by_job(self, namespace: str, job_id: str) -> list[Allocation]:
        return [a for a in self.allocs if (a.namespace, a.job_id) == (namespace, job_id)]

    def job_by_id(self, namespace: str, job_id: str) -> Job | None:
        return self.jobs.get((namespace, job_id))


def draining(node: Node, *, deadline: int = HOUR, ignore_system: bool = False) -> Node:
    node.drain_strategy = DrainStrategy(
        deadline=deadline, ignore_system_jobs=ignore_system, started_at=rfc3339(NOW),
        force_deadline=rfc3339(NOW + deadline) if deadline > 0 else ZERO_TIME)
    return node


def running(job: Job, node: Node, index: int, *, healthy: bool | None = True) -> Allocation:
    alloc = mock_alloc(job, node, index=index, client_status=AllocClientStatus.RUNNING)
    if healthy is not None:
        alloc.deployment_status = AllocDeploymentStatus(healthy=healthy)
    return alloc


def service(count: int = 3, max_parallel: int | None = 1) -> Job:
    job = mock_job(job_id="web", count=count)
    job.task_groups[0].migrate = MigrateStrategy(max_parallel=max_parallel)
    job.canonicalize()
    return job


@pytest.fixture
def nodes() -> tuple[Node, Node]:
    return draining(mock_node()), mock_node()


def ids(allocs: list[Allocation]) -> list[str]:
    return [a.name for a in allocs]


# -- batches ---------------------------------------------------------------------------
def test_one_allocation_at_a_time_with_max_parallel_1(nodes):
    old, new = nodes
    job = service(count=3)
    allocs = [running(job, old, i) for i in range(3)]
    view: DrainView = View([old, new], [job], allocs)

    assert ids(decide(view, NOW).migrate) == ["web.web[0]"]

    # Marked: it no longer counts as healthy; its replacement has no health yet.
    allocs[0].desired_transition = DesiredTransition(migrate=True)
    replacement = running(job, new, 0, healthy=None)
    view = View([old, new], [job], [*allocs, replacement])
    assert decide(view, NOW).migrate == []

    # The scheduler stopped it: still nothing until the replacement is healthy.
    allocs[0].desired_status = AllocDesiredStatus.STOP
    assert decide(view, NOW).migrate == []

    replacement.deployment_status = AllocDeploymentStatus(healthy=True)
    assert ids(decide(view, NOW).migrate) == ["web.web[1]"]


def test_max_parallel_sets_the_batch_size(nodes):
    old, new = nodes
    job = service(count=5, max_parallel=2)
    view = View([old, new], [job], [running(job, old, i) for i in range(5)])
    assert ids(decide(view, NOW).migrate) == ["web.web[0]", "web.web[1]"]


def test_allocations_without_known_health_hold_the_drain(nodes):
    """Health not reported yet (min_healthy_time still running): nothing moves, or
    the group could lose more than max_parallel allocations at once."""
    old, new = nodes
    job = service(count=3)
    view = View([old, new], [job], [running(job, old, 0), running(job, old, 1),
                                    running(job, old, 2, healthy=None)])
    assert decide(view, NOW).migrate == []


def test_an_unhealthy_replacement_lets_the_next_batch_go(nodes):
    """As in Nomad, health *known* is what counts: a replacement that failed its
    healthy_deadline does not hang the drain."""
    old, new = nodes
    job = service(count=2)
    first, second = running(job, old, 0), running(job, old, 1)
    first.desired_transition = DesiredTransition(migrate=True)
    first.desired_status = AllocDesiredStatus.STOP
    view = View([old, new], [job], [first, second, running(job, new, 0, healthy=False)])
    assert ids(decide(view, NOW).migrate) == ["web.web[1]"]


def test_healthy_allocations_elsewhere_count_toward_the_budget(nodes):
    """Only the group's spare capacity matters, wherever its allocations run."""
    old, new = nodes
    job = service(count=4, max_parallel=1)
    allocs = [running(job, new, 0), running(job, new, 1), running(job, old, 2),
              running(job, old, 3)]
    assert ids(decide(View([old, new], [job], allocs), NOW).migrate) == ["web.web[2]"]


def test_max_parallel_0_never_marks_before_the_deadline(nodes):
    old, new = nodes
    job = service(count=2, max_parallel=0)
    view = View([old, new], [job], [running(job, old, 0), running(job, old, 1)])
    decisions = decide(view, NOW)
    assert (decisions.migrate, decisions.complete) == ([], [])
    assert [a.name for a in decide(view, NOW + HOUR).complete[0].stop_last] == \
        ["web.web[0]", "web.web[1]"]


def test_group_drain_counts_each_group_on_its_own():
    node = draining(mock_node())
    job = service(count=1)
    result = group_drain(job.task_groups[0], [running(job, node, 0)], {node.id})
    assert (ids(result.drain), result.waiting) == (["web.web[0]"], True)
    result = group_drain(job.task_groups[0], [running(job, node, 0)], set())
    assert (result.drain, result.waiting) == ([], False)


# -- completion ------------------------------------------------------------------------
def test_the_drain_completes_once_its_allocations_stopped_on_the_client(nodes):
    old, new = nodes
    job = service(count=1)
    alloc = running(job, old, 0)
    alloc.desired_transition = DesiredTransition(migrate=True)
    alloc.desired_status = AllocDesiredStatus.STOP
    view = View([old, new], [job], [alloc, running(job, new, 0)])
    assert decide(view, NOW).complete == []  # stopping, still running on the client

    alloc.client_status = AllocClientStatus.COMPLETE
    [done] = decide(view, NOW).complete
    assert (done.node_id, done.deadline_reached, done.stop_last) == (old.id, False, [])


def test_an_empty_node_completes_at_once(nodes):
    old, new = nodes
    [done] = decide(View([old, new], [], []), NOW).complete
    assert done.node_id == old.id


def test_system_allocations_go_last(nodes):
    old, new = nodes
    system, web = mock_system_job(job_id="agent"), service(count=1)
    sys_alloc = running(system, old, 0, healthy=None)
    web_alloc = running(web, old, 0)
    view = View([old, new], [system, web], [sys_alloc, web_alloc])

    decisions = decide(view, NOW)
    assert ids(decisions.migrate) == ["web.web[0]"] and decisions.complete == []

    web_alloc.desired_transition = DesiredTransition(migrate=True)
    web_alloc.client_status = AllocClientStatus.COMPLETE
    [done] = decide(view, NOW).complete
    assert done.stop_last == [sys_alloc]


def test_ignore_system_leaves_system_allocations(nodes):
    old, new = nodes
    draining(old, ignore_system=True)
    system = mock_system_job(job_id="agent")
    view = View([old, new], [system], [running(system, old, 0, healthy=None)])
    [done] = decide(view, NOW).complete
    assert done.stop_last == []


def test_batch_work_is_waited_for_until_the_deadline(nodes):
    old, new = nodes
    job = mock_batch_job(job_id="report", count=1)
    alloc = running(job, old, 0, healthy=None)
    view = View([old, new], [job], [alloc])
    decisions = decide(view, NOW)
    assert (decisions.migrate, decisions.complete) == ([], [])
    assert decisions.next_deadline == NOW + HOUR

    [done] = decide(view, NOW + HOUR).complete
    assert (done.deadline_reached, done.stop_last) == (True, [alloc])

    alloc.client_status = AllocClientStatus.COMPLETE  # it finished in time
    [done] = decide(view, NOW).complete
    assert (done.deadline_reached, done.stop_last) == (False, [])


# -- deadlines -------------------------------------------------------------------------
def test_force_marks_everything_at_once(nodes):
    old, new = nodes
    draining(old, deadline=-SECOND)
    job, system = service(count=3), mock_system_job(job_id="agent")
    allocs = [running(job, old, i, healthy=None) for i in range(3)]
    sys_alloc = running(system, old, 0, healthy=None)
    [done] = decide(View([old, new], [job, system], [*allocs, sys_alloc]), NOW).complete
    assert done.deadline_reached
    assert sorted(a.id for a in done.stop_last) == sorted(a.id for a in [*allocs, sys_alloc])


def test_force_with_ignore_system(nodes):
    old, new = nodes
    draining(old, deadline=-SECOND, ignore_system=True)
    system = mock_system_job(job_id="agent")
    [done] = decide(View([old, new], [system], [running(system, old, 0)]), NOW).complete
    assert done.stop_last == []


def test_no_deadline_never_forces(nodes):
    old, new = nodes
    draining(old, deadline=0)
    job = service(count=1, max_parallel=0)
    view = View([old, new], [job], [running(job, old, 0)])
    decisions = decide(view, NOW + 100 * 365 * 24 * HOUR)
    assert (decisions.migrate, decisions.complete, decisions.next_deadline) == ([], [], 0)


def test_deadline_reached():
    assert deadline_reached(DrainStrategy(deadline=-1), NOW)
    assert not deadline_reached(DrainStrategy(deadline=0), NOW)
    strategy = DrainStrategy(deadline=HOUR, force_deadline=rfc3339(NOW + HOUR))
    assert not deadline_reached(strategy, NOW + HOUR - 1)
    assert deadline_reached(strategy, NOW + HOUR)


def test_already_marked_allocations_are_not_marked_again(nodes):
    old, new = nodes
    draining(old, deadline=-SECOND)
    job = service(count=1)
    alloc = running(job, old, 0)
    alloc.desired_transition = DesiredTransition(migrate=True)
    [done] = decide(View([old, new], [job], [alloc]), NOW).complete
    assert done.stop_last == []


def test_two_draining_nodes_share_the_groups_budget():
    first, second, spare = draining(mock_node()), draining(mock_node()), mock_node()
    job = service(count=2, max_parallel=1)
    allocs = [running(job, first, 0), running(job, second, 1)]
    assert len(decide(View([first, second, spare], [job], allocs), NOW).migrate) == 1
