"""System and sysbatch jobs: one allocation per eligible node."""

from __future__ import annotations

from nomadjail.structs import (
    SECOND,
    AllocClientStatus,
    Constraint,
    DriverInfo,
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


def system_job(**kwargs: object) -> Job:
    return mock_system_job(**kwargs)  # type: ignore[arg-type]


def sysbatch_job() -> Job:
    job = mock_system_job()
    job.type = JobType.SYSBATCH
    job.update = None
    for group in job.task_groups:
        group.update = None
    return job


def test_system_job_runs_once_on_every_eligible_node(harness: Harness):
    nodes = harness.upsert_nodes(mock_node() for _ in range(5))
    other_dc = harness.upsert_node(mock_node(datacenter="dc2"))
    job = harness.upsert_job(system_job())

    evaluation = harness.run(job, annotate=True)

    placed = harness.placed_allocs()
    assert sorted(a.node_id for a in placed) == sorted(n.id for n in nodes)
    assert other_dc.id not in {a.node_id for a in placed}
    assert {a.name for a in placed} == {f"{job.id}.web[0]"}
    assert all(a.allocated_resources is not None and a.allocated_resources.shared.ports
               for a in placed)
    assert evaluation.status == EvalStatus.COMPLETE
    assert evaluation.queued_allocations == {"web": 0}
    assert harness.plans[-1].annotations.desired_tg_updates["web"].place == 5


def test_a_new_node_gets_the_system_job(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(system_job())
    harness.run(job)
    new = harness.upsert_node(mock_node())

    harness.run(job, EvalTrigger.NODE_UPDATE)

    assert [a.node_id for a in harness.placed_allocs()] == [new.id]
    assert harness.stopped_allocs() == []


def test_node_down_marks_its_system_alloc_lost_without_replacement(harness: Harness):
    nodes = harness.upsert_nodes(mock_node() for _ in range(3))
    job = harness.upsert_job(system_job())
    harness.run(job)
    harness.update_node(nodes[0].id, status=NodeStatus.DOWN)

    harness.run(job, EvalTrigger.NODE_UPDATE)

    (lost,) = harness.stopped_allocs()
    assert lost.node_id == nodes[0].id and lost.client_status == AllocClientStatus.LOST
    assert harness.placed_allocs() == []


def test_stopping_a_system_job_stops_all_its_allocs(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(3))
    job = harness.upsert_job(system_job())
    harness.run(job)
    stopped = job.copy()
    stopped.stop = True
    stopped = harness.upsert_job(stopped)

    evaluation = harness.run(stopped, EvalTrigger.JOB_DEREGISTER)

    assert len(harness.stopped_allocs()) == 3
    assert harness.live_allocs(job) == []
    assert evaluation.status == EvalStatus.COMPLETE


def test_constraints_and_drivers_pick_the_nodes_without_failing_the_eval(harness: Harness):
    bsd = harness.upsert_node(mock_node(attributes={"kernel.name": "freebsd"}))
    harness.upsert_node(mock_node())
    sick = mock_node(attributes={"kernel.name": "freebsd"})
    sick.drivers["raw_exec"] = DriverInfo(detected=True, healthy=False)
    harness.upsert_node(sick)
    job = system_job()
    job.constraints = [Constraint("${attr.kernel.name}", "freebsd", "=")]
    job = harness.upsert_job(job)

    evaluation = harness.run(job)

    assert [a.node_id for a in harness.placed_allocs()] == [bsd.id]
    assert evaluation.failed_tg_allocs == {}  # filtered nodes are simply not wanted
    assert harness.create_evals == []


def test_system_job_no_node_matches_reports_the_group(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(2))
    job = system_job()
    job.constraints = [Constraint("${attr.kernel.name}", "freebsd", "=")]
    job = harness.upsert_job(job)

    evaluation = harness.run(job)

    failed = evaluation.failed_tg_allocs["web"]
    assert failed.nodes_filtered == 2
    assert failed.constraint_filtered == {"${attr.kernel.name} = freebsd": 2}


def test_exhausted_node_blocks_the_placement(harness: Harness):
    small = harness.upsert_node(mock_node(cpu=300))
    harness.upsert_node(mock_node())
    job = harness.upsert_job(system_job())

    evaluation = harness.run(job)

    assert len(harness.placed_allocs()) == 1
    assert evaluation.failed_tg_allocs["web"].dimension_exhausted == {"cpu": 1}
    (blocked,) = harness.create_evals
    assert blocked.status == EvalStatus.BLOCKED and blocked.node_id == small.id


def test_destructive_update_replaces_the_alloc_on_the_same_node(harness: Harness):
    nodes = harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(system_job())
    harness.run(job)
    old = {a.node_id: a.id for a in harness.live_allocs(job)}
    new = job.copy()
    new.task_groups[0].tasks[0].env = {"CHANGED": "1"}
    job = harness.upsert_job(new)

    harness.run(job)

    assert {a.id for a in harness.stopped_allocs()} == set(old.values())
    placed = harness.placed_allocs()
    assert sorted(a.node_id for a in placed) == sorted(n.id for n in nodes)
    assert all(a.previous_allocation == old[a.node_id] for a in placed)


def test_in_place_update_keeps_the_system_allocs(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(system_job())
    harness.run(job)
    old = {a.id for a in harness.live_allocs(job)}
    new = job.copy()
    new.task_groups[0].tasks[0].kill_timeout = 30 * SECOND  # the client can take that as is
    job = harness.upsert_job(new)

    harness.run(job)

    assert harness.stopped_allocs() == []
    assert {a.id for a in harness.placed_allocs()} == old
    assert all(a.job is not None and a.job.version == job.version
               for a in harness.placed_allocs())


def test_sysbatch_work_that_finished_is_not_run_again(harness: Harness):
    harness.upsert_nodes(mock_node() for _ in range(2))
    job = harness.upsert_job(sysbatch_job())
    harness.run(job)
    done = TaskState(state=TaskStateName.DEAD, failed=False)
    harness.set_client_status(harness.live_allocs(job), AllocClientStatus.COMPLETE,
                              task_states={"web": done})
    plans = len(harness.plans)

    evaluation = harness.run(job, EvalTrigger.NODE_UPDATE)

    assert len(harness.plans) == plans
    assert evaluation.status == EvalStatus.COMPLETE


def test_system_scheduler_rejects_triggers_it_does_not_handle(harness: Harness):
    harness.upsert_node(mock_node())
    job = harness.upsert_job(system_job())

    evaluation = harness.run(job, EvalTrigger.RETRY_FAILED_ALLOC)

    assert evaluation.status == EvalStatus.FAILED
    assert evaluation.status_description == (
        "scheduler cannot handle 'alloc-failure' evaluation reason")
    assert harness.plans == []
