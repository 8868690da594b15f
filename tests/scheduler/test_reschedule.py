"""Failed allocations: reschedule policy, delays, follow-up evals, batch semantics."""

from __future__ import annotations

import dataclasses

from nomadjail.scheduler.reschedule import next_delay, next_reschedule_time
from nomadjail.structs import (
    SECOND,
    Allocation,
    AllocClientStatus,
    EvalStatus,
    EvalTrigger,
    Job,
    RescheduleEvent,
    RescheduleTracker,
    TaskState,
    TaskStateName,
    parse_rfc3339,
    rfc3339,
)
from nomadjail.testing import mock_alloc, mock_batch_job, mock_job, mock_node
from nomadjail.testing.scheduler_harness import Harness

from .conftest import NOW


def started(harness: Harness, job: Job, nodes: int = 3) -> list[Allocation]:
    """The job placed and running; a service's first rollout has completed, so
    its failures are the reschedule policy's business, not the deployment's."""
    harness.upsert_nodes(mock_node() for _ in range(nodes))
    job = harness.upsert_job(job)
    harness.run(job)
    allocs = harness.live_allocs(job)
    if job.type == "service":
        harness.set_health(allocs)
        harness.run(job, EvalTrigger.DEPLOYMENT_WATCHER)
        deployment = harness.store.latest_deployment_by_job(job.namespace or "", job.id)
        assert deployment is not None and deployment.status == "successful"
    else:
        harness.set_client_status(allocs, AllocClientStatus.RUNNING)
    return harness.live_allocs(job)


def fail(harness: Harness, alloc: Allocation, seconds_ago: int) -> None:
    finished = rfc3339(NOW - seconds_ago * SECOND)
    harness.set_client_status([alloc], AllocClientStatus.FAILED, task_states={
        "web": TaskState(state=TaskStateName.DEAD, failed=True, finished_at=finished)})


def finish(harness: Harness, alloc: Allocation) -> None:
    harness.set_client_status([alloc], AllocClientStatus.COMPLETE, task_states={
        "web": TaskState(state=TaskStateName.DEAD, failed=False, finished_at=rfc3339(NOW))})


def with_policy(job: Job, **policy: object) -> Job:
    assert job.task_groups[0].reschedule_policy is not None
    job.task_groups[0].reschedule_policy = dataclasses.replace(
        job.task_groups[0].reschedule_policy, **policy)
    return job


def test_failure_past_its_delay_is_replaced_now_with_history(harness: Harness):
    job = mock_job(count=2)
    allocs = started(harness, job)
    failed = allocs[0]
    fail(harness, failed, seconds_ago=60)  # service default: 30 s delay

    evaluation = harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC, annotate=True)

    (replacement,) = harness.placed_allocs()
    assert replacement.name == failed.name
    assert replacement.previous_allocation == failed.id
    tracker = replacement.reschedule_tracker
    assert tracker is not None
    (event,) = tracker.events
    assert (event.prev_alloc_id, event.prev_node_id) == (failed.id, failed.node_id)
    assert event.reschedule_time == NOW and event.delay == 30 * SECOND
    (stopped,) = harness.stopped_allocs()
    assert stopped.id == failed.id
    assert stopped.desired_description == "alloc was rescheduled because it failed"
    assert stopped.next_allocation == replacement.id
    # Rescheduling avoids the node it failed on when another is free.
    assert replacement.node_id != failed.node_id
    assert evaluation.status == EvalStatus.COMPLETE
    assert harness.create_evals == []


def test_failure_within_its_delay_gets_one_delayed_follow_up_eval(harness: Harness):
    job = mock_job(count=2)
    failed = started(harness, job)[0]
    fail(harness, failed, seconds_ago=10)

    evaluation = harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC, annotate=True)

    (followup,) = harness.create_evals
    assert followup.status == EvalStatus.PENDING
    assert followup.triggered_by == EvalTrigger.RETRY_FAILED_ALLOC
    assert parse_rfc3339(followup.wait_until) == NOW + 20 * SECOND
    assert followup.previous_eval == evaluation.id and evaluation.next_eval == followup.id
    (marked,) = harness.placed_allocs()
    assert marked.id == failed.id and marked.followup_eval_id == followup.id
    assert harness.stopped_allocs() == []
    assert harness.plans[-1].annotations.desired_tg_updates["web"].reschedule_later == 1

    # Another eval before the delay passes creates no second follow-up.
    harness.run(job, EvalTrigger.NODE_UPDATE)
    assert len(harness.create_evals) == 1

    # The follow-up eval, run at its time, replaces the failed allocation.
    harness.process(followup, now=NOW + 20 * SECOND)
    (replacement,) = [a for a in harness.placed_allocs() if a.id != failed.id]
    assert replacement.previous_allocation == failed.id
    assert harness.evals[-1].id == followup.id
    assert harness.evals[-1].status == EvalStatus.COMPLETE


def test_limited_attempts_stop_rescheduling_within_the_interval(harness: Harness):
    job = with_policy(mock_job(count=1), attempts=1, interval=3600 * SECOND, unlimited=False,
                      delay=5 * SECOND, delay_function="constant")
    (alloc,) = started(harness, job)
    previous = RescheduleEvent(reschedule_time=NOW - 100 * SECOND, prev_alloc_id="earlier",
                               prev_node_id="elsewhere", delay=5 * SECOND)
    harness.upsert_allocs([dataclasses.replace(
        alloc, reschedule_tracker=RescheduleTracker(events=[previous]))])
    fail(harness, alloc, seconds_ago=60)
    plans = len(harness.plans)

    evaluation = harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC)

    assert len(harness.plans) == plans  # nothing to do: the one attempt is used up
    assert harness.create_evals == []
    assert evaluation.status == EvalStatus.COMPLETE


def test_delay_functions_grow_the_wait_up_to_the_ceiling():
    job = mock_job(count=1)
    node = mock_node()

    def delay_after(function: str, delays: list[int], max_delay: int = 120) -> int:
        with_policy(job, delay=10 * SECOND, delay_function=function,
                    max_delay=max_delay * SECOND, unlimited=True)
        alloc = mock_alloc(job, node, client_status=AllocClientStatus.FAILED)
        alloc.modify_time = NOW
        alloc.reschedule_tracker = RescheduleTracker(events=[
            RescheduleEvent(reschedule_time=NOW - SECOND, delay=d * SECOND) for d in delays])
        return next_delay(alloc) // SECOND

    assert delay_after("constant", [10, 10]) == 10
    assert delay_after("exponential", []) == 10
    assert delay_after("exponential", [10, 20]) == 40
    assert delay_after("exponential", [80]) == 120  # capped by max_delay
    assert delay_after("fibonacci", [10, 10]) == 20
    assert delay_after("fibonacci", [10, 20]) == 30
    assert delay_after("fibonacci", [80, 90]) == 120


def test_reschedule_time_counts_from_the_last_task_finish():
    job = with_policy(mock_job(count=1), delay=30 * SECOND, delay_function="constant",
                      unlimited=True)
    alloc = mock_alloc(job, mock_node(), client_status=AllocClientStatus.FAILED)
    alloc.task_states = {"web": TaskState(state=TaskStateName.DEAD, failed=True,
                                          finished_at=rfc3339(NOW))}
    assert next_reschedule_time(alloc) == (NOW + 30 * SECOND, True)
    alloc.client_status = AllocClientStatus.RUNNING
    assert next_reschedule_time(alloc)[1] is False


def test_no_reschedule_policy_means_failed_allocs_stay_failed(harness: Harness):
    job = with_policy(mock_job(count=1), attempts=0, unlimited=False)
    (alloc,) = started(harness, job)
    fail(harness, alloc, seconds_ago=600)
    plans = len(harness.plans)

    harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC)

    assert len(harness.plans) == plans  # counted as it is, not replaced
    assert harness.create_evals == []


def test_batch_completed_allocs_are_done_and_failed_ones_rescheduled(harness: Harness):
    job = mock_batch_job(count=3)
    allocs = started(harness, job)
    finish(harness, allocs[0])
    fail(harness, allocs[1], seconds_ago=60)  # batch default: 5 s constant, 1 attempt

    evaluation = harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC)

    (replacement,) = harness.placed_allocs()
    assert replacement.name == allocs[1].name
    assert replacement.previous_allocation == allocs[1].id
    assert [a.id for a in harness.stopped_allocs()] == [allocs[1].id]
    assert evaluation.status == EvalStatus.COMPLETE

    # Once everything finished, nothing is placed again.
    harness.set_client_status([replacement], AllocClientStatus.COMPLETE, task_states={
        "web": TaskState(state=TaskStateName.DEAD, finished_at=rfc3339(NOW))})
    finish(harness, allocs[2])
    plans = len(harness.plans)
    harness.run(job, EvalTrigger.NODE_UPDATE)
    assert len(harness.plans) == plans


def test_batch_failure_without_attempts_left_is_not_replaced(harness: Harness):
    job = mock_batch_job(count=1)
    (alloc,) = started(harness, job)
    harness.upsert_allocs([dataclasses.replace(alloc, reschedule_tracker=RescheduleTracker(
        events=[RescheduleEvent(reschedule_time=NOW - 60 * SECOND, delay=5 * SECOND)]))])
    fail(harness, alloc, seconds_ago=30)

    harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC)

    assert len(harness.plans) == 1


def test_reschedule_without_room_keeps_the_failed_alloc_and_blocks(harness: Harness):
    job = mock_job(count=1, cpu=3000)
    (alloc,) = started(harness, job, nodes=1)
    fail(harness, alloc, seconds_ago=60)
    harness.set_client_status([alloc], AllocClientStatus.FAILED)
    # A second job fills the only node.
    other = harness.upsert_job(mock_job(job_id="filler", count=1, cpu=3000))
    node = harness.store.node_by_id(alloc.node_id)
    assert node is not None
    filler = mock_alloc(other, node, client_status=AllocClientStatus.RUNNING)
    assert filler.allocated_resources is not None
    harness.upsert_allocs([filler])

    evaluation = harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC)

    assert harness.stopped_allocs() == []  # not stopped: still to be replaced
    (kept,) = harness.placed_allocs()
    assert kept.id == alloc.id
    assert kept.reschedule_tracker is not None
    assert kept.reschedule_tracker.last_reschedule == "no placement"
    assert "web" in evaluation.failed_tg_allocs
    assert [e.status for e in harness.create_evals] == [EvalStatus.BLOCKED]


def test_reconcile_is_a_pure_function_of_now():
    """The same allocations give "later" before the delay and "now" after it."""
    from nomadjail.scheduler.reconcile import ReconcileInput, UpdateKind, reconcile

    job = mock_job(count=1)
    job.create_index = job.modify_index = job.job_modify_index = 5
    alloc = mock_alloc(job, mock_node(), client_status=AllocClientStatus.FAILED)
    alloc.modify_time = NOW
    ids = iter(f"id-{i}" for i in range(100))

    def decide(now: int):  # type: ignore[no-untyped-def]
        return reconcile(ReconcileInput(
            job=job, job_id=job.id, namespace="default", batch=False, deployment=None,
            allocs=[alloc], tainted_nodes={}, now=now, eval_id="eval", eval_priority=50,
            update_fn=lambda a, j, g: (UpdateKind.IGNORE, None), new_id=lambda: next(ids)))

    early = decide(NOW + 5 * SECOND)
    assert early.place == [] and len(early.followup_evals) == 1
    assert early.attribute_updates[0].followup_eval_id == early.followup_evals[0].id
    due = decide(NOW + 30 * SECOND)
    assert [p.previous for p in due.place] == [alloc] and due.place[0].reschedule
    assert [s.alloc.id for s in due.stop] == [alloc.id]
    assert due.followup_evals == []
