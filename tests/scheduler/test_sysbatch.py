"""Sysbatch jobs: one allocation per eligible node, like system, but batch work
that finished on a node (successfully or not) is not run there again unless the
job changes, as Nomad's SysBatchScheduler does."""

from __future__ import annotations

from nomadjail.structs import (
    SECOND,
    Allocation,
    AllocClientStatus,
    Constraint,
    EvalStatus,
    EvalTrigger,
    Job,
    JobType,
    NodeStatus,
    TaskState,
    TaskStateName,
)
from nomadjail.testing import mock_node, mock_system_job
from nomadjail.testing.scheduler_harness import Harness


def sysbatch_job() -> Job:
    job = mock_system_job()
    job.type = JobType.SYSBATCH
    job.update = None
    for group in job.task_groups:
        group.update = None
    return job


def finish(harness: Harness, job: Job, *, failed: bool = False) -> None:
    """Report every live allocation of ``job`` finished, as its client would."""
    state = TaskState(state=TaskStateName.DEAD, failed=failed)
    status = AllocClientStatus.FAILED if failed else AllocClientStatus.COMPLETE
    harness.set_client_status(harness.live_allocs(job), status, task_states={"web": state})


def unfinished(harness: Harness, job: Job) -> list[Allocation]:
    """The job's allocations neither the server nor the client has ended."""
    return [a for a in harness.snapshot().allocs_by_job(job.namespace or "", job.id)
            if not a.terminal_status()]


def test_sysbatch_runs_once_on_every_node_that_passes_its_constraints(harness: Harness):
    bsd = harness.upsert_nodes(mock_node(attributes={"kernel.name": "freebsd"})
                               for _ in range(3))
    harness.upsert_node(mock_node())
    harness.upsert_node(mock_node(datacenter="dc2", attributes={"kernel.name": "freebsd"}))
    job = sysbatch_job()
    job.constraints = [Constraint("${attr.kernel.name}", "freebsd", "=")]
    job = harness.upsert_job(job)

    evaluation = harness.run(job)

    placed = harness.placed_allocs()
    assert sorted(a.node_id for a in placed) == sorted(n.id for n in bsd)
    assert {a.name for a in placed} == {f"{job.id}.web[0]"}
    assert evaluation.status == EvalStatus.COMPLETE
    assert evaluation.failed_tg_allocs == {}


def test_finished_work_is_not_run_again_on_reevaluation(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(3))
    job = harness.upsert_job(sysbatch_job())
    harness.run(job)
    finish(harness, job)
    plans = len(harness.plans)

    for trigger in (EvalTrigger.JOB_REGISTER, EvalTrigger.NODE_UPDATE):
        evaluation = harness.run(job, trigger)
        assert evaluation.status == EvalStatus.COMPLETE

    assert len(harness.plans) == plans  # nothing placed, nothing stopped
    assert unfinished(harness, job) == []


def test_failed_work_is_not_replaced_by_the_scheduler(harness: Harness):
    """Sysbatch has no reschedule policy: the client's restart policy is the
    only retry, and a failed allocation stays failed until the job changes."""
    harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(sysbatch_job())
    harness.run(job)
    finish(harness, job, failed=True)
    plans = len(harness.plans)

    evaluation = harness.run(job, EvalTrigger.NODE_UPDATE)

    assert evaluation.status == EvalStatus.COMPLETE
    assert len(harness.plans) == plans
    assert unfinished(harness, job) == []


def test_a_new_node_gets_one_while_finished_nodes_do_not_rerun(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(sysbatch_job())
    harness.run(job)
    finish(harness, job)
    new = harness.upsert_node(mock_node())

    evaluation = harness.run(job, EvalTrigger.NODE_UPDATE)

    assert [a.node_id for a in harness.placed_allocs()] == [new.id]
    assert harness.stopped_allocs() == []
    assert evaluation.status == EvalStatus.COMPLETE
    assert {a.node_id for a in unfinished(harness, job)} == {new.id}


def test_a_changed_job_runs_again_on_every_node(harness: Harness):
    nodes = harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(sysbatch_job())
    harness.run(job)
    finish(harness, job)
    done = {a.node_id: a.id for a in harness.snapshot().allocs_by_job(job.namespace or "",
                                                                     job.id)}
    changed = job.copy()
    changed.task_groups[0].tasks[0].env = {"CHANGED": "1"}
    changed = harness.upsert_job(changed)

    harness.run(changed)

    placed = harness.placed_allocs()
    assert sorted(a.node_id for a in placed) == sorted(n.id for n in nodes)
    assert all(a.previous_allocation == done[a.node_id] for a in placed)


def test_stopping_stops_the_running_work_and_leaves_finished_work_alone(harness: Harness):
    nodes = harness.upsert_nodes(mock_node() for _ in range(3))
    job = harness.upsert_job(sysbatch_job())
    harness.run(job)
    first = harness.live_allocs(job)[0]
    harness.set_client_status([first], AllocClientStatus.COMPLETE, task_states={
        "web": TaskState(state=TaskStateName.DEAD, failed=False)})
    stopped = job.copy()
    stopped.stop = True
    stopped = harness.upsert_job(stopped)

    evaluation = harness.run(stopped, EvalTrigger.JOB_DEREGISTER)

    assert sorted(a.node_id for a in harness.stopped_allocs()) == sorted(
        n.id for n in nodes if n.id != first.node_id)
    assert unfinished(harness, job) == []
    assert evaluation.status == EvalStatus.COMPLETE


def test_a_change_the_client_takes_in_place_does_not_rerun_finished_work(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(sysbatch_job())
    harness.run(job)
    finish(harness, job)
    plans = len(harness.plans)
    changed = job.copy()
    changed.task_groups[0].tasks[0].kill_timeout = 30 * SECOND
    changed = harness.upsert_job(changed)

    evaluation = harness.run(changed)

    assert evaluation.status == EvalStatus.COMPLETE
    assert len(harness.plans) == plans  # nothing to tell any client
    assert unfinished(harness, job) == []


def test_a_down_node_loses_running_work_but_not_work_that_finished(harness: Harness):
    nodes = harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(sysbatch_job())
    harness.run(job)
    finished, running = sorted(harness.live_allocs(job), key=lambda a: a.node_id != nodes[0].id)
    harness.set_client_status([finished], AllocClientStatus.COMPLETE, task_states={
        "web": TaskState(state=TaskStateName.DEAD, failed=False)})
    for node in nodes:
        harness.update_node(node.id, status=NodeStatus.DOWN)

    harness.run(job, EvalTrigger.NODE_UPDATE)

    (lost,) = harness.stopped_allocs()
    assert lost.id == running.id and lost.client_status == AllocClientStatus.LOST
    assert harness.placed_allocs() == []
