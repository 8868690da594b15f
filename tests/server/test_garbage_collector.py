"""Garbage collection: what is old and finished goes, what may still matter stays."""

from __future__ import annotations

import dataclasses

import pytest

from nomadjail.server import Server, ServerConfig
from nomadjail.server.garbage_collector import GCThresholds, alloc_collectable, find_garbage
from nomadjail.state import StateStore
from nomadjail.structs import (
    SECOND,
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    Deployment,
    DeploymentStatus,
    EvalStatus,
    Job,
    NodeStatus,
    RescheduleEvent,
    RescheduleTracker,
    generate_uuid,
)
from nomadjail.testing import mock_alloc, mock_batch_job, mock_eval, mock_job, mock_node, wait_for

HOUR = 3600 * SECOND
NOW = 1_700_000_000 * SECOND
NOMAD_DEFAULTS = GCThresholds(eval=HOUR, batch_eval=24 * HOUR, job=4 * HOUR,
                              deployment=HOUR, node=24 * HOUR)


def test_thresholds_default_to_nomads():
    config = ServerConfig(node_name="s")
    assert GCThresholds.from_config(config) == NOMAD_DEFAULTS
    assert config.gc_interval == 300.0


class World:
    def __init__(self) -> None:
        self.store = StateStore()
        self.index = 0
        self.node = mock_node()
        self.write(lambda txn: txn.upsert_node(self.node))

    def write(self, action) -> None:  # type: ignore[no-untyped-def]
        self.index += 1
        with self.store.txn(self.index) as txn:
            action(txn)

    def job(self, job: Job, *, age: int, stop: bool = False, alloc_status: str = "complete",
            desired: str = AllocDesiredStatus.RUN) -> tuple[Job, Allocation]:
        """A job submitted ``age`` ago whose one eval and alloc finished then."""
        job = job.copy()
        job.stop = stop
        ev = dataclasses.replace(mock_eval(job), status=EvalStatus.COMPLETE,
                                 modify_time=NOW - age)
        alloc = dataclasses.replace(mock_alloc(job, self.node), eval_id=ev.id,
                                    client_status=alloc_status, desired_status=desired,
                                    modify_time=NOW - age)

        def put(txn) -> None:  # type: ignore[no-untyped-def]
            txn.upsert_job(job, submit_time=NOW - age)
            txn.upsert_evals([ev])
            txn.upsert_allocs([alloc])
        self.write(put)
        stored = self.store.job_by_id("default", job.id)
        assert stored is not None
        return stored, alloc

    def garbage(self):  # type: ignore[no-untyped-def]
        return find_garbage(self.store.snapshot(), NOW, NOMAD_DEFAULTS)


def test_a_stopped_dead_job_goes_with_its_evals_and_allocs_once_old_enough():
    world = World()
    job, alloc = world.job(mock_job(count=1), age=5 * HOUR, stop=True,
                           desired=AllocDesiredStatus.STOP)
    assert job.status == "dead"
    garbage = world.garbage()
    assert garbage.jobs == [("default", job.id)]
    assert garbage.allocs == [alloc.id]
    assert len(garbage.evals) == 1

    young = World()
    job, _ = young.job(mock_job(count=1), age=2 * HOUR, stop=True,
                       desired=AllocDesiredStatus.STOP)
    garbage = young.garbage()
    assert garbage.jobs == []  # younger than the 4 h job threshold
    assert len(garbage.evals) == 1  # ... but its eval is past the 1 h eval threshold


def test_a_running_service_keeps_its_job_and_live_allocs():
    world = World()
    job, alloc = world.job(mock_job(count=1), age=10 * HOUR, alloc_status="running")
    garbage = world.garbage()
    assert garbage.jobs == [] and garbage.allocs == [] and garbage.evals == []


def test_a_finished_batch_job_is_collected_but_a_running_one_keeps_its_allocs():
    world = World()
    job, alloc = world.job(mock_batch_job(count=1), age=30 * HOUR)
    assert job.status == "dead"
    assert world.garbage().jobs == [("default", job.id)]

    busy = World()
    job, done = busy.job(mock_batch_job(count=1), age=30 * HOUR)
    running = dataclasses.replace(mock_alloc(job, busy.node, index=1),
                                  client_status=AllocClientStatus.RUNNING)
    busy.write(lambda txn: txn.upsert_allocs([running]))
    garbage = busy.garbage()
    # The job runs: its finished allocation of the current version stays, or it
    # would run again.
    assert garbage.jobs == [] and done.id not in garbage.allocs


def test_allocations_the_client_still_runs_or_that_may_be_rescheduled_stay():
    job = mock_job(count=1)
    node = mock_node()
    base = dataclasses.replace(mock_alloc(job, node), modify_time=NOW - 2 * HOUR)
    cutoff = NOW - HOUR
    stopping = dataclasses.replace(base, desired_status=AllocDesiredStatus.STOP,
                                   client_status=AllocClientStatus.RUNNING)
    assert not alloc_collectable(stopping, job, NOW, cutoff)
    failed = dataclasses.replace(base, client_status=AllocClientStatus.FAILED)
    assert not alloc_collectable(failed, job, NOW, cutoff)  # unlimited reschedules
    replaced = dataclasses.replace(failed, next_allocation="next")
    assert alloc_collectable(replaced, job, NOW, cutoff)
    limited = job.copy()
    policy = limited.task_groups[0].reschedule_policy
    assert policy is not None
    limited.task_groups[0].reschedule_policy = dataclasses.replace(
        policy, unlimited=False, attempts=1, interval=HOUR)
    recent = dataclasses.replace(failed, reschedule_tracker=RescheduleTracker(events=[
        RescheduleEvent(reschedule_time=NOW - HOUR // 2)]))
    assert not alloc_collectable(recent, limited, NOW, cutoff)
    long_ago = dataclasses.replace(failed, reschedule_tracker=RescheduleTracker(events=[
        RescheduleEvent(reschedule_time=NOW - 2 * HOUR)]))
    assert alloc_collectable(long_ago, limited, NOW, cutoff)
    assert alloc_collectable(failed, None, NOW, cutoff)  # purged job: nothing to reschedule


def test_old_finished_deployments_and_long_down_nodes_go():
    world = World()
    job, _ = world.job(mock_job(count=1), age=10 * HOUR, alloc_status="running")
    finished = Deployment(id=generate_uuid(), namespace="default", job_id=job.id,
                          status=DeploymentStatus.SUCCESSFUL, modify_time=NOW - 2 * HOUR)
    recent = dataclasses.replace(finished, id=generate_uuid(), modify_time=NOW - 10 * SECOND)
    running = dataclasses.replace(finished, id=generate_uuid(), status=DeploymentStatus.RUNNING)
    world.write(lambda txn: [txn.upsert_deployment(d) for d in (finished, recent, running)])
    gone = dataclasses.replace(mock_node(), status=NodeStatus.DOWN,
                               status_updated_at=(NOW - 25 * HOUR) // SECOND)
    world.write(lambda txn: txn.upsert_node(gone))
    world.write(lambda txn: txn.update_node(world.node.id, status=NodeStatus.DOWN,
                                            status_updated_at=(NOW - 25 * HOUR) // SECOND))
    garbage = world.garbage()
    assert garbage.deployments == [finished.id]
    # The job's node still has a live allocation: it waits until that is marked lost.
    assert garbage.nodes == [gone.id]


@pytest.fixture
def collecting_server(make_server, fake_scheduler) -> Server:
    tiny = dict(gc_interval=0.2, eval_gc_threshold=0.0, batch_eval_gc_threshold=0.0,
                job_gc_threshold=0.0, deployment_gc_threshold=0.0, node_gc_threshold=0.0)
    return make_server(**tiny, **fake_scheduler)


def test_the_leader_collects_a_stopped_job_through_raft(collecting_server):
    server = collecting_server
    node = mock_node()
    server.node_register(node)
    job = mock_job(count=2)
    server.register_job(job)
    wait_for(lambda: len(server.state.allocs_by_job("default", job.id)) == 2, timeout=10,
             message="the job placed")
    server.deregister_job("default", job.id)
    # The fake client reports the stopped allocations finished.
    allocs = server.state.allocs_by_job("default", job.id)
    wait_for(lambda: all(a.desired_status == "stop"
                         for a in server.state.allocs_by_job("default", job.id)),
             timeout=10, message="the allocations stopped")
    server.node_update_allocs(node.id, node.secret_id,
                              [Allocation(id=a.id, client_status="complete") for a in allocs])
    wait_for(lambda: server.state.job_by_id("default", job.id) is None, timeout=10,
             message="the job to be collected")
    wait_for(lambda: not server.state.allocs_by_job("default", job.id)
             and not server.state.evals_by_job("default", job.id), timeout=10,
             message="its evals and allocations to be collected")
    assert server.client_allocs(node.id, node.secret_id) == {}
    assert server.state.job_summary("default", job.id) is None
