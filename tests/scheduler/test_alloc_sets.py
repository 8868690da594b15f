"""The reconciler's pure filters (alloc_sets.py), each on hand-built allocation sets."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from nomadjail.scheduler.alloc_sets import (
    RESCHEDULE_WINDOW,
    AllocSet,
    DelayedReschedule,
    ReschedulableSplit,
    alloc_ids,
    alloc_matrix,
    difference,
    filter_by_deployment,
    filter_by_rescheduleable,
    filter_by_tainted,
    filter_by_terminal,
    filter_old_terminal_allocs,
    filter_server_terminal_allocs,
    highest_first,
    name_order,
    should_filter,
    tainted_nodes,
)
from nomadjail.structs import (
    SECOND,
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    Deployment,
    DeploymentStatus,
    DesiredTransition,
    DrainStrategy,
    Job,
    Node,
    NodeStatus,
    RescheduleTracker,
    TaskGroup,
    TaskState,
    TaskStateName,
    alloc_name,
    rfc3339,
)
from nomadjail.testing import mock_batch_job, mock_job

from .conftest import NOW

SERVICE = mock_job(job_id="svc", count=3)  # reschedule: unlimited, 30 s exponential delay
BATCH = mock_batch_job(job_id="bat", count=3)  # reschedule: 1 attempt a day, 5 s delay


def alloc(alloc_id: str, index: int = 0, *, job: Job = SERVICE, node: str = "n1",
          group: str = "web", **fields: Any) -> Allocation:
    """A running allocation of ``job`` named ``<job>.<group>[index]``."""
    made = Allocation(id=alloc_id, name=alloc_name(job.id, group, index), node_id=node,
                      job_id=job.id, job=job, task_group=group,
                      client_status=AllocClientStatus.RUNNING, modify_time=NOW)
    return dataclasses.replace(made, **fields)


def failed(alloc_id: str, seconds_ago: int, **fields: Any) -> Allocation:
    """An allocation whose task failed ``seconds_ago``."""
    return alloc(alloc_id, client_status=AllocClientStatus.FAILED, task_states={
        "web": TaskState(state=TaskStateName.DEAD, failed=True,
                         finished_at=rfc3339(NOW - seconds_ago * SECOND))}, **fields)


def as_set(*allocs: Allocation) -> AllocSet:
    return {a.id: a for a in allocs}


# -- building and combining -------------------------------------------------------------
def test_alloc_matrix_lists_the_jobs_groups_first_then_removed_ones_by_alloc_id():
    job = mock_job(job_id="j", count=1)
    job.task_groups.append(TaskGroup(name="api", count=1))
    allocs = [alloc("b", job=job, group="old"), alloc("z", job=job), alloc("a", job=job),
              alloc("c", job=job, group="gone")]

    matrix = alloc_matrix(job, allocs)

    assert list(matrix) == ["web", "api", "gone", "old"]
    assert list(matrix["web"]) == ["a", "z"]
    assert matrix["api"] == {}  # a group with no allocations yet is still reconciled
    assert list(alloc_matrix(None, allocs)) == ["gone", "old", "web"]


def test_difference_drops_ids_of_sets_and_id_collections_and_leaves_its_input_alone():
    allocs = as_set(alloc("a"), alloc("b"), alloc("c"), alloc("d"))

    rest = difference(allocs, as_set(alloc("b")), {"d"})

    assert list(rest) == ["a", "c"]
    assert list(allocs) == ["a", "b", "c", "d"]
    assert difference(allocs) == allocs and difference(allocs) is not allocs


def test_alloc_ids_and_name_order():
    allocs = as_set(alloc("x", 2), alloc("y", 0), alloc("z", 2), alloc("w", 1))

    assert alloc_ids(allocs.values()) == {"w", "x", "y", "z"}
    assert [a.id for a in name_order(allocs)] == ["y", "w", "x", "z"]  # ties keep set order


def test_highest_first_takes_at_most_n_optionally_only_the_named_ones():
    allocs = as_set(alloc("a", 0), alloc("b", 3), alloc("c", 1), alloc("d", 3))

    assert [a.id for a in highest_first(allocs, 3)] == ["b", "d", "c"]
    assert [a.id for a in highest_first(allocs, 5)] == ["b", "d", "c", "a"]
    assert highest_first(allocs, 0) == [] and highest_first(allocs, -1) == []
    named = {alloc_name("svc", "web", 1), alloc_name("svc", "web", 0)}
    assert [a.id for a in highest_first(allocs, 1, among=named)] == ["c"]
    assert [a.id for a in highest_first(allocs, 4, among=named)] == ["c", "a"]


# -- filters ----------------------------------------------------------------------------
def test_filter_by_terminal_keeps_what_still_holds_resources():
    allocs = as_set(alloc("run"), alloc("pending", client_status=AllocClientStatus.PENDING),
                    alloc("done", client_status=AllocClientStatus.COMPLETE),
                    alloc("stopped", desired_status=AllocDesiredStatus.STOP),
                    alloc("evicted", desired_status=AllocDesiredStatus.EVICT))

    assert list(filter_by_terminal(allocs)) == ["run", "pending"]


def test_filter_server_terminal_allocs_keeps_stopped_batch_work_unless_it_is_to_reschedule():
    allocs = as_set(
        alloc("svc-run"),
        alloc("svc-stopped", desired_status=AllocDesiredStatus.STOP),
        alloc("bat-stopped", job=BATCH, desired_status=AllocDesiredStatus.STOP),
        alloc("bat-stopped-resched", job=BATCH, desired_status=AllocDesiredStatus.STOP,
              desired_transition=DesiredTransition(reschedule=True)),
        alloc("svc-done", client_status=AllocClientStatus.COMPLETE))

    assert list(filter_server_terminal_allocs(allocs)) == ["svc-run", "bat-stopped", "svc-done"]


def test_filter_old_terminal_allocs_ignores_finished_work_of_older_versions():
    current = dataclasses.replace(BATCH, version=2, create_index=10)
    older_version = dataclasses.replace(current, version=1)
    older_job = dataclasses.replace(current, create_index=4)  # purged and registered again
    done = AllocClientStatus.COMPLETE
    allocs = as_set(alloc("old-done", job=older_version, client_status=done),
                    alloc("old-running", job=older_version),
                    alloc("recreated-done", job=older_job, client_status=done),
                    alloc("new-done", job=current, client_status=done))

    keep, ignore = filter_old_terminal_allocs(allocs, current)

    assert list(keep) == ["old-running", "new-done"]
    assert list(ignore) == ["old-done", "recreated-done"]


def test_filter_by_deployment_splits_by_deployment_id():
    allocs = as_set(alloc("a", deployment_id="d1"), alloc("b"), alloc("c", deployment_id="d2"),
                    alloc("d", deployment_id="d1"))

    match, other = filter_by_deployment(allocs, "d1")

    assert (list(match), list(other)) == (["a", "d"], ["b", "c"])


DOWN = Node(id="down", status=NodeStatus.DOWN)
DISCONNECTED = Node(id="disc", status=NodeStatus.DISCONNECTED)
DRAINING = Node(id="drain", status=NodeStatus.READY, drain_strategy=DrainStrategy(deadline=-1))
READY_AGAIN = Node(id="ready", status=NodeStatus.READY)
INITIALIZING = Node(id="init", status=NodeStatus.INITIALIZING)
TAINTED: dict[str, Node | None] = {"down": DOWN, "disc": DISCONNECTED, "drain": DRAINING,
                                   "ready": READY_AGAIN, "init": INITIALIZING, "gone": None}
MIGRATE = DesiredTransition(migrate=True)


@pytest.mark.parametrize(("case", "where"), [
    (alloc("x", desired_status=AllocDesiredStatus.STOP), "ignore"),
    (alloc("x", node="down", client_status=AllocClientStatus.FAILED), "untainted"),
    (alloc("x", node="gone", client_status=AllocClientStatus.COMPLETE), "untainted"),
    (alloc("x", node="disc"), "lost"),
    (alloc("x", node="disc", desired_transition=MIGRATE), "lost"),
    (alloc("x", node="drain", desired_transition=MIGRATE), "migrate"),
    (alloc("x", node="n1", desired_transition=MIGRATE), "migrate"),
    (alloc("x", node="n1"), "untainted"),
    (alloc("x", node="ready"), "untainted"),
    (alloc("x", node="gone"), "lost"),
    (alloc("x", node="down"), "lost"),
    (alloc("x", node="drain"), "untainted"),
    (alloc("x", node="init"), "untainted"),
], ids=["server-stopped", "failed-on-down-node", "complete-on-gone-node", "disconnected",
        "disconnected-wins-over-migrate", "draining-migrate", "migrate-flag", "healthy-node",
        "tainted-but-ready", "node-gone", "node-down", "draining-not-yet-migrating",
        "tainted-not-down"])
def test_filter_by_tainted_classifies_by_the_allocation_and_its_node(case: Allocation,
                                                                      where: str):
    split = filter_by_tainted(as_set(case), TAINTED)

    assert {name: list(s) for name, s in split._asdict().items() if s} == {where: ["x"]}


def test_filter_by_tainted_returns_new_sets_in_input_order():
    allocs = as_set(alloc("c", node="down"), alloc("a"), alloc("b", node="gone"),
                    alloc("d", node="ready"))

    split = filter_by_tainted(allocs, TAINTED)

    assert (list(split.untainted), list(split.lost)) == (["a", "d"], ["c", "b"])
    assert list(allocs) == ["c", "a", "b", "d"]


STOP, FAILED, COMPLETE = (AllocDesiredStatus.STOP, AllocClientStatus.FAILED,
                          AllocClientStatus.COMPLETE)
SUCCEEDED = {"web": TaskState(state=TaskStateName.DEAD, failed=False)}
NO_PLACEMENT = RescheduleTracker(last_reschedule="no placement")


@pytest.mark.parametrize(("batch", "case", "expected"), [
    (True, alloc("x", job=BATCH, desired_transition=DesiredTransition(reschedule=True),
                 desired_status=STOP), (False, False)),
    (True, alloc("x", job=BATCH, desired_status=STOP, task_states=SUCCEEDED), (True, False)),
    (True, alloc("x", job=BATCH, desired_status=STOP, reschedule_tracker=NO_PLACEMENT),
     (False, False)),
    (True, alloc("x", job=BATCH, desired_status=STOP), (False, True)),
    (True, alloc("x", job=BATCH, desired_status=AllocDesiredStatus.EVICT), (False, True)),
    (True, alloc("x", job=BATCH, client_status=FAILED), (False, False)),
    (True, alloc("x", job=BATCH, client_status=COMPLETE), (True, False)),
    (True, alloc("x", job=BATCH), (True, False)),
    (False, alloc("x", desired_status=STOP), (False, True)),
    (False, alloc("x", desired_status=STOP, reschedule_tracker=NO_PLACEMENT), (False, False)),
    (False, alloc("x", client_status=COMPLETE), (False, True)),
    (False, alloc("x", client_status=AllocClientStatus.LOST), (False, True)),
    (False, alloc("x", client_status=FAILED), (False, False)),
    (False, alloc("x"), (False, False)),
], ids=["batch-marked-to-reschedule", "batch-stopped-after-success",
        "batch-stopped-no-placement", "batch-stopped", "batch-evicted", "batch-failed",
        "batch-complete", "batch-running", "service-stopped", "service-stopped-no-placement",
        "service-complete", "service-lost", "service-failed", "service-running"])
def test_should_filter_says_what_counts_and_what_is_ignored(batch: bool, case: Allocation,
                                                            expected: tuple[bool, bool]):
    assert should_filter(case, batch) == expected


def reschedulable(*allocs: Allocation, batch: bool = False,
                  deployment: Deployment | None = None) -> ReschedulableSplit:
    return filter_by_rescheduleable(as_set(*allocs), batch=batch, now=NOW, eval_id="eval",
                                    deployment=deployment)


def test_filter_by_rescheduleable_replaces_failures_whose_delay_has_passed():
    split = reschedulable(alloc("running"), failed("due", seconds_ago=40),
                          failed("early", seconds_ago=5))

    assert list(split.untainted) == ["running", "early"]
    assert list(split.now) == ["due"]
    assert split.later == [DelayedReschedule(split.untainted["early"], NOW + 25 * SECOND)]


def test_filter_by_rescheduleable_allows_the_clock_drift_window():
    """Due within RESCHEDULE_WINDOW from now counts as due now; later does not."""
    just_early = failed("just", seconds_ago=30)
    just_early.task_states["web"].finished_at = rfc3339(NOW - 30 * SECOND + RESCHEDULE_WINDOW)
    too_early = failed("too", seconds_ago=30)
    too_early.task_states["web"].finished_at = rfc3339(NOW - 30 * SECOND + 2 * RESCHEDULE_WINDOW)

    split = reschedulable(just_early, too_early)

    assert (list(split.now), [d.alloc.id for d in split.later]) == (["just"], ["too"])


def test_filter_by_rescheduleable_honours_an_existing_follow_up_eval():
    mine = failed("mine", seconds_ago=5, followup_eval_id="eval")
    theirs = failed("theirs", seconds_ago=5, followup_eval_id="other")

    split = reschedulable(mine, theirs)

    assert list(split.now) == ["mine"]  # this is the follow-up eval it waited for
    assert list(split.untainted) == ["theirs"] and split.later == []  # already has one


def test_filter_by_rescheduleable_leaves_out_replaced_and_ignored_allocations():
    replaced = failed("replaced", seconds_ago=40, next_allocation="new")  # due, but done
    stopped = failed("stopped", seconds_ago=40, desired_status=AllocDesiredStatus.STOP)
    completed = alloc("completed", client_status=AllocClientStatus.COMPLETE)

    split = reschedulable(replaced, stopped, completed)

    assert split == ({}, {}, [])


def test_filter_by_rescheduleable_keeps_a_running_rollouts_failures_for_the_watcher():
    rollout = Deployment(id="d1", status=DeploymentStatus.RUNNING)
    waiting = failed("waiting", seconds_ago=40, deployment_id="d1")
    allowed = failed("allowed", seconds_ago=40, deployment_id="d1",
                     desired_transition=DesiredTransition(reschedule=True))

    split = reschedulable(waiting, allowed, deployment=rollout)

    assert (list(split.untainted), list(split.now), split.later) == (["waiting"], ["allowed"], [])
    finished = dataclasses.replace(rollout, status=DeploymentStatus.FAILED)
    assert list(reschedulable(waiting, deployment=finished).now) == ["waiting"]


def test_filter_by_rescheduleable_forces_what_the_operator_forced():
    never = dataclasses.replace(SERVICE, task_groups=[dataclasses.replace(
        SERVICE.task_groups[0], reschedule_policy=None)])  # no policy: never eligible
    stuck = failed("x", seconds_ago=40, job=never)

    assert reschedulable(stuck) == ({"x": stuck}, {}, [])
    stuck.desired_transition = DesiredTransition(force_reschedule=True)
    assert reschedulable(stuck) == ({}, {"x": stuck}, [])


# -- tainted nodes ----------------------------------------------------------------------
def test_tainted_nodes_are_gone_down_disconnected_or_draining_and_looked_up_once_each():
    nodes = {"down": DOWN, "disc": DISCONNECTED, "drain": DRAINING, "ready": READY_AGAIN,
             "old-drain": Node(id="old-drain", status=NodeStatus.READY, drain=True)}
    looked_up: list[str] = []

    def lookup(node_id: str) -> Node | None:
        looked_up.append(node_id)
        return nodes.get(node_id)

    allocs = [alloc(f"a-{n}", node=n) for n in ("down", "disc", "drain", "ready", "old-drain",
                                                 "gone", "down")]

    tainted = tainted_nodes(lookup, allocs)

    assert tainted == {"down": DOWN, "disc": DISCONNECTED, "drain": DRAINING,
                       "old-drain": nodes["old-drain"], "gone": None}
    assert looked_up == ["down", "disc", "drain", "ready", "old-drain", "gone"]
