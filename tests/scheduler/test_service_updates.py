"""Changing a running service job: scaling, updates, stopping, lost and drained nodes."""

from __future__ import annotations

import dataclasses

from nomadjail.state import StateStore
from nomadjail.structs import (
    SECOND,
    AllocClientStatus,
    AllocDesiredStatus,
    DeploymentStatus,
    DeploymentStatusUpdate,
    DesiredTransition,
    DrainStrategy,
    EvalStatus,
    EvalTrigger,
    Job,
    NodeStatus,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node
from nomadjail.testing.scheduler_harness import Harness


def names(job: Job, indexes: list[int] | range) -> list[str]:
    return sorted(f"{job.id}.web[{i}]" for i in indexes)


def running(harness: Harness, nodes: int = 5, count: int = 5, *, rolled_out: bool = True,
            max_parallel: int | None = None) -> Job:
    """A service job placed and running.  ``rolled_out``: its allocations are
    healthy and the first deployment has completed (else it is still running)."""
    harness.upsert_nodes(mock_node() for _ in range(nodes))
    job = mock_job(count=count)
    if max_parallel is not None:
        assert job.task_groups[0].update is not None
        job.task_groups[0].update.max_parallel = max_parallel
    job = harness.upsert_job(job)
    harness.run(job)
    if not rolled_out:
        harness.set_client_status(harness.live_allocs(job), AllocClientStatus.RUNNING)
        return job
    harness.set_health(harness.live_allocs(job))
    if max_parallel != 0:
        harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)
        deployment = harness.store.latest_deployment_by_job("default", job.id)
        assert deployment is not None and deployment.status == DeploymentStatus.SUCCESSFUL
    return job


def destructively_changed(harness: Harness, job: Job) -> Job:
    new = job.copy()
    new.task_groups[0].tasks[0].config = {"command": "/bin/sleep", "args": ["60"]}
    return harness.upsert_job(new)


def changed(harness: Harness, job: Job, **group_changes: object) -> Job:
    new = job.copy()
    for name, value in group_changes.items():
        setattr(new.task_groups[0], name, value)
    return harness.upsert_job(new)


def test_scale_down_stops_the_highest_indexes(harness: Harness):
    job = running(harness, count=10)
    job = changed(harness, job, count=7)

    evaluation = harness.run(job)

    stopped = harness.stopped_allocs()
    assert sorted(a.name for a in stopped) == names(job, [7, 8, 9])
    assert {a.desired_status for a in stopped} == {AllocDesiredStatus.STOP}
    assert {a.desired_description for a in stopped} == {"alloc not needed due to job update"}
    assert sorted(a.name for a in harness.live_allocs(job)) == names(job, range(7))
    assert evaluation.status == EvalStatus.COMPLETE


def test_scale_up_fills_gaps_in_indexes_first(harness: Harness):
    job = running(harness, count=5)
    gone = next(a for a in harness.live_allocs(job) if a.name.endswith("[1]"))
    harness.upsert_allocs([dataclasses.replace(gone, desired_status=AllocDesiredStatus.STOP)])
    job = changed(harness, job, count=6)

    harness.run(job)

    new = [a for a in harness.placed_allocs() if a.create_index == 0]
    assert sorted(a.name for a in new) == names(job, [1, 5])
    assert sorted(a.name for a in harness.live_allocs(job)) == names(job, range(6))


def test_count_change_updates_running_allocs_in_place(harness: Harness):
    job = running(harness, count=3)
    before = {a.id: a for a in harness.live_allocs(job)}
    job = changed(harness, job, count=4)

    evaluation = harness.run(job, annotate=True)

    updated = [a for a in harness.placed_allocs() if a.id in before]
    assert len(updated) == 3
    for alloc in updated:
        assert alloc.node_id == before[alloc.id].node_id
        assert alloc.job is not None and alloc.job.version == job.version
        assert alloc.allocated_resources is not None
        old = before[alloc.id].allocated_resources
        assert old is not None and alloc.allocated_resources.shared.ports == old.shared.ports
    assert harness.stopped_allocs() == []
    desired = harness.plans[-1].annotations.desired_tg_updates["web"]
    assert (desired.in_place_update, desired.place, desired.destructive_update) == (3, 1, 0)
    assert evaluation.status == EvalStatus.COMPLETE
    stored = {a.id: a for a in harness.live_allocs(job)}
    assert all(stored[i].job.version == job.version for i in before)  # type: ignore[union-attr]


def test_without_max_parallel_a_destructive_change_replaces_every_alloc_at_once(
        harness: Harness):
    job = running(harness, count=4, max_parallel=0)
    old_ids = {a.id for a in harness.live_allocs(job)}
    job = destructively_changed(harness, job)

    harness.run(job, annotate=True)

    stopped = harness.stopped_allocs()
    assert {a.id for a in stopped} == old_ids
    assert {a.desired_description for a in stopped} == {"alloc is being updated due to job update"}
    placed = harness.placed_allocs()
    assert sorted(a.name for a in placed) == names(job, range(4))
    assert {a.previous_allocation for a in placed} == old_ids
    assert {a.id for a in placed}.isdisjoint(old_ids)
    by_previous = {a.previous_allocation: a.id for a in placed}
    assert all(s.next_allocation == by_previous[s.id] for s in stopped)
    desired = harness.plans[-1].annotations.desired_tg_updates["web"]
    assert (desired.destructive_update, desired.ignore) == (4, 0)
    # No update strategy, no deployment (Nomad's rule).
    assert harness.plans[-1].deployment is None


def test_a_rolling_update_replaces_max_parallel_allocs_per_round(harness: Harness):
    job = running(harness, count=4, max_parallel=2)
    old = {a.id: a for a in harness.live_allocs(job)}
    job = destructively_changed(harness, job)

    harness.run(job, annotate=True)

    # Round 1: the two lowest indexes are replaced, the others wait ("ignore").
    stopped = harness.stopped_allocs()
    assert sorted(a.name for a in stopped) == names(job, [0, 1])
    assert {a.id for a in stopped} <= set(old)
    placed = harness.placed_allocs()
    assert sorted(a.name for a in placed) == names(job, [0, 1])
    desired = harness.plans[-1].annotations.desired_tg_updates["web"]
    assert (desired.destructive_update, desired.ignore, desired.place) == (2, 2, 0)
    deployment = harness.plans[-1].deployment
    assert deployment is not None and deployment.job_version == job.version
    assert deployment.task_groups["web"].desired_total == 4
    assert harness.plans[-1].deployment_updates == []  # the previous one had finished
    stored = harness.store.deployment_by_id(deployment.id)
    assert stored is not None and stored.task_groups["web"].placed_allocs == 2

    # Nothing healthy yet: another evaluation replaces nothing more.
    plans = len(harness.plans)
    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)
    assert len(harness.plans) == plans or harness.stopped_allocs() == []

    # One new allocation healthy: room for exactly one more replacement.
    new = [a for a in harness.live_allocs(job) if a.id not in old]
    harness.set_health(new[:1])
    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER, annotate=True)
    assert [a.name for a in harness.stopped_allocs()] == names(job, [2])
    desired = harness.plans[-1].annotations.desired_tg_updates["web"]
    assert (desired.destructive_update, desired.ignore) == (1, 3)

    # Everything new and healthy: the rollout completes and the version is stable.
    harness.set_health([a for a in harness.live_allocs(job) if a.id not in old])
    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)
    assert [a.name for a in harness.stopped_allocs()] == names(job, [3])
    harness.set_health([a for a in harness.live_allocs(job) if a.id not in old])
    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)
    assert {a.id for a in harness.live_allocs(job)}.isdisjoint(old)
    done = harness.store.deployment_by_id(deployment.id)
    assert done is not None and done.status == DeploymentStatus.SUCCESSFUL
    assert done.task_groups["web"].healthy_allocs == 4
    stored_job = harness.store.job_by_id("default", job.id)
    assert stored_job is not None and stored_job.stable and stored_job.version == job.version
    assert harness.store.job_by_version("default", job.id, job.version).stable


def test_an_unhealthy_allocation_halts_the_rollout(harness: Harness):
    job = running(harness, count=3, max_parallel=1)
    job = destructively_changed(harness, job)
    harness.run(job)
    (first,) = harness.placed_allocs()

    harness.set_health([first], healthy=False, client_status=AllocClientStatus.RUNNING)
    plans = len(harness.plans)
    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER, annotate=True)

    assert all(p.node_update == {} for p in harness.plans[plans:])
    desired = harness.plans[-1].annotations.desired_tg_updates["web"]
    assert (desired.destructive_update, desired.ignore) == (0, 3)


def test_a_failed_deployment_replaces_nothing_more(harness: Harness):
    job = running(harness, count=3, max_parallel=1)
    job = destructively_changed(harness, job)
    harness.run(job)
    deployment = harness.plans[-1].deployment
    assert deployment is not None
    with harness.store.txn(harness.next_index()) as txn:
        txn.update_deployment_status(DeploymentStatusUpdate(
            deployment_id=deployment.id, status=DeploymentStatus.FAILED,
            status_description="Failed due to unhealthy allocations"))
    harness.set_health(harness.placed_allocs())

    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER, annotate=True)

    desired = harness.plans[-1].annotations.desired_tg_updates["web"]
    assert desired.destructive_update == 0 and desired.ignore == 3
    assert harness.stopped_allocs() == []


def test_a_failure_inside_a_rollout_waits_for_the_deployment_watcher(harness: Harness):
    job = running(harness, count=2, rolled_out=False)
    victim = harness.live_allocs(job)[0]
    harness.set_client_status([victim], AllocClientStatus.FAILED, modify_time=1)

    harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC)
    assert harness.stopped_allocs() == [] or victim.id not in {
        a.id for a in harness.stopped_allocs()}
    assert harness.create_evals == []  # not even a delayed follow-up

    # The watcher allows the replacement: now the reschedule policy decides.
    with harness.store.txn(harness.next_index()) as txn:
        txn.update_alloc_desired_transition({victim.id: DesiredTransition(reschedule=True)})
    harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)
    assert [a.id for a in harness.stopped_allocs()] == [victim.id]
    (replacement,) = harness.placed_allocs()
    assert replacement.previous_allocation == victim.id


def test_stopping_the_job_stops_everything_and_cancels_the_deployment(harness: Harness):
    job = running(harness, count=3, rolled_out=False)
    stopped_job = job.copy()
    stopped_job.stop = True
    stopped_job = harness.upsert_job(stopped_job)

    evaluation = harness.run(stopped_job, EvalTrigger.JOB_DEREGISTER)

    assert len(harness.stopped_allocs()) == 3
    assert harness.placed_allocs() == []
    assert harness.live_allocs(job) == []
    (update,) = harness.plans[-1].deployment_updates
    assert update.status == DeploymentStatus.CANCELLED
    assert evaluation.status == EvalStatus.COMPLETE
    assert evaluation.queued_allocations == {"web": 0}


def test_purged_job_has_its_allocs_stopped(harness: Harness):
    job = running(harness, count=3)
    with harness.store.txn(harness.next_index()) as txn:
        txn.delete_job("default", job.id)

    evaluation = harness.run(job, EvalTrigger.JOB_DEREGISTER)

    assert len(harness.stopped_allocs()) == 3
    assert harness.plans[-1].job is None
    assert evaluation.status == EvalStatus.COMPLETE


def test_allocs_on_a_down_node_are_lost_and_replaced_elsewhere(harness: Harness):
    job = running(harness, nodes=3, count=3)
    victim = harness.live_allocs(job)[0]
    harness.update_node(victim.node_id, status=NodeStatus.DOWN)

    harness.run(job, EvalTrigger.NODE_UPDATE)

    (lost,) = harness.stopped_allocs()
    assert lost.id == victim.id
    assert lost.client_status == AllocClientStatus.LOST
    assert lost.desired_description == "alloc is lost since its node is down"
    (replacement,) = harness.placed_allocs()
    assert replacement.name == victim.name
    assert replacement.previous_allocation == victim.id
    assert replacement.node_id != victim.node_id
    assert lost.next_allocation == replacement.id
    stored = harness.store.alloc_by_id(victim.id)
    assert stored is not None and stored.client_status == AllocClientStatus.LOST


def test_allocs_on_a_node_that_is_gone_are_replaced(harness: Harness):
    job = running(harness, nodes=3, count=3)
    victim = harness.live_allocs(job)[0]
    with harness.store.txn(harness.next_index()) as txn:
        txn.delete_node(victim.node_id)

    harness.run(job, EvalTrigger.NODE_UPDATE)

    assert [a.id for a in harness.stopped_allocs()] == [victim.id]
    assert [a.name for a in harness.placed_allocs()] == [victim.name]


def test_draining_migrates_marked_allocs_to_other_nodes(harness: Harness):
    job = running(harness, nodes=3, count=3)
    victim = harness.live_allocs(job)[0]
    harness.update_node(victim.node_id, drain=True,
                        drain_strategy=DrainStrategy(deadline=60 * SECOND))
    with harness.store.txn(harness.next_index()) as txn:
        txn.update_alloc_desired_transition({victim.id: DesiredTransition(migrate=True)})

    harness.run(job, EvalTrigger.NODE_DRAIN, annotate=True)

    (stopped,) = harness.stopped_allocs()
    assert stopped.id == victim.id
    assert stopped.desired_description == "alloc is being migrated"
    (replacement,) = harness.placed_allocs()
    assert replacement.name == victim.name and replacement.previous_allocation == victim.id
    assert replacement.node_id != victim.node_id
    assert harness.plans[-1].annotations.desired_tg_updates["web"].migrate == 1


def test_draining_node_without_migrate_mark_keeps_its_allocs(harness: Harness):
    job = running(harness, nodes=3, count=3)
    victim = harness.live_allocs(job)[0]
    harness.update_node(victim.node_id, drain=True, drain_strategy=DrainStrategy())
    plans = len(harness.plans)

    evaluation = harness.run(job, EvalTrigger.NODE_DRAIN)

    assert len(harness.plans) == plans  # nothing to do: the drainer decides when
    assert victim.id in {a.id for a in harness.live_allocs(job)}
    assert evaluation.status == EvalStatus.COMPLETE


def test_terminal_allocs_do_not_count_toward_the_desired_count(harness: Harness):
    job = running(harness, count=3)
    done = harness.live_allocs(job)[0]
    harness.set_client_status([done], AllocClientStatus.COMPLETE)

    harness.run(job)

    (replacement,) = harness.placed_allocs()
    assert replacement.name == done.name  # a service must keep running
    assert replacement.previous_allocation == ""


def test_partial_commit_is_retried_against_the_refreshed_state(harness: Harness):
    harness.upsert_nodes(mock_node(cpu=1000) for _ in range(3))
    job = harness.upsert_job(mock_job(count=2, cpu=600))

    class StolenCapacity(Harness):
        """Another job takes one of the first plan's nodes just before it applies."""

        def submit_plan(self, plan):  # type: ignore[no-untyped-def]
            if not self.plans:
                thief = self.upsert_job(mock_job(job_id="thief", count=1, cpu=600))
                node = self.store.node_by_id(next(iter(plan.node_allocation)))
                assert node is not None
                self.upsert_allocs([mock_alloc(thief, node)])
            return super().submit_plan(plan)

    racing = StolenCapacity(StateStore(harness.store.tables), now=harness.now)
    evaluation = racing.run(job)

    assert len(racing.plans) == 2
    assert racing.results[0].refresh_index > 0  # partial commit: one node refused
    assert len(racing.placed_allocs(0)) == 2 and len(racing.placed_allocs(1)) == 1
    live = racing.live_allocs(job)
    assert sorted(a.name for a in live) == names(job, range(2))
    assert len({a.node_id for a in live}) == 2
    assert evaluation.status == EvalStatus.COMPLETE
    assert evaluation.queued_allocations == {"web": 0}
    assert racing.create_evals == []


def test_plans_that_never_commit_fail_the_eval_after_five_attempts(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(mock_job(count=2))
    harness.reject_plans = True

    evaluation = harness.run(job)

    assert len(harness.plans) == 5
    assert evaluation.status == EvalStatus.FAILED
    assert evaluation.status_description == "maximum attempts reached (5)"
    (blocked,) = harness.create_evals
    assert blocked.status == EvalStatus.BLOCKED
    assert blocked.triggered_by == EvalTrigger.MAX_PLAN_ATTEMPTS
    assert evaluation.blocked_eval == blocked.id


def test_each_group_is_reconciled_and_a_removed_group_is_stopped(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(4))
    job = mock_job(count=2)
    db = dataclasses.replace(job.task_groups[0], name="db", count=1,
                             networks=[dataclasses.replace(job.task_groups[0].networks[0])])
    job.task_groups.append(db)
    job = harness.upsert_job(job)

    evaluation = harness.run(job)

    assert sorted(a.name for a in harness.placed_allocs()) == sorted(
        [f"{job.id}.web[0]", f"{job.id}.web[1]", f"{job.id}.db[0]"])
    assert evaluation.queued_allocations == {"web": 0, "db": 0}

    without_db = job.copy()
    without_db.task_groups = without_db.task_groups[:1]
    job = harness.upsert_job(without_db)
    harness.run(job, annotate=True)

    assert [a.task_group for a in harness.stopped_allocs()] == ["db"]
    assert harness.plans[-1].annotations.desired_tg_updates["db"].stop == 1


def test_a_finished_deployment_is_not_carried_on_to_later_evals(harness: Harness):
    """`job stop` after a successful rollout: the stop eval belongs to no deployment,
    so `nomadjail job stop` does not monitor the old, finished one (as Nomad)."""
    job = running(harness, count=2)
    deployment = harness.store.latest_deployment_by_job("default", job.id)
    assert deployment is not None and deployment.status == DeploymentStatus.SUCCESSFUL
    stopped_job = job.copy()
    stopped_job.stop = True
    stopped_job = harness.upsert_job(stopped_job)

    evaluation = harness.run(stopped_job, EvalTrigger.JOB_DEREGISTER)

    assert evaluation.deployment_id == ""
    assert harness.plans[-1].deployment_updates == []
