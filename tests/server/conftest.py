"""Fixtures for the server tests: in-process servers on free ports, and a
small fake scheduler that makes the machinery's behaviour easy to predict."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from nomadjail.server import Server, ServerConfig
from nomadjail.structs import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedResources,
    AllocatedTaskResources,
    Allocation,
    AllocMetric,
    EvalStatus,
    Evaluation,
    Node,
    Plan,
    alloc_name,
    generate_uuid,
)
from nomadjail.testing import free_port


class FakeScheduler:
    """Places each group's missing allocations on ready nodes, round-robin;
    stops every allocation of a stopped or purged job, and those on down nodes
    (as lost) or marked for migration; when there is no ready node, or the
    plan applier rejects a placement, creates a blocked eval.  Deterministic, and nothing
    like the real one -- it exists to exercise the server's machinery."""

    calls: list[str] = []
    fail_with: Exception | None = None  # set to make every process() raise

    def __init__(self, state: Any, planner: Any, *, now: int, rng: Any = None):
        self.state = state
        self.planner = planner
        self.now = now

    def process(self, ev: Evaluation) -> None:
        FakeScheduler.calls.append(ev.id)
        if FakeScheduler.fail_with is not None:
            raise FakeScheduler.fail_with
        job = self.state.job_by_id(ev.namespace, ev.job_id)
        live = [a for a in self.state.allocs_by_job(ev.namespace, ev.job_id)
                if not a.terminal_status()]
        plan = Plan(eval_id=ev.id, priority=ev.priority, job=job)
        failed: dict[str, AllocMetric] = {}
        if job is None or job.stop:
            for alloc in live:
                plan.append_stopped_alloc(alloc, "alloc not needed due to job update")
        else:
            nodes = sorted((n for n in self.state.iter_nodes() if n.ready()), key=lambda n: n.id)
            keep = []
            for alloc in live:
                node = self.state.node_by_id(alloc.node_id)
                if node is None or node.status == "down":
                    plan.append_stopped_alloc(alloc, "alloc is lost since its node is down",
                                              client_status="lost")
                elif alloc.desired_transition.migrate:
                    plan.append_stopped_alloc(alloc, "alloc is being migrated")
                else:
                    keep.append(alloc)
            live = keep
            for group in job.task_groups:
                have = {a.index for a in live if a.task_group == group.name}
                missing = [i for i in range(group.count or 0) if i not in have]
                if missing and not nodes:
                    failed[group.name] = AllocMetric(nodes_evaluated=0)
                    continue
                for n, index in enumerate(missing):
                    node = nodes[n % len(nodes)]
                    plan.append_alloc(_fake_alloc(job, group, index, node, ev.id))
        if not plan.is_no_op():
            result, _ = self.planner.submit_plan(plan)
            committed = {a.id for allocs in result.node_allocation.values() for a in allocs}
            for allocs in plan.node_allocation.values():
                for alloc in allocs:
                    if alloc.id not in committed:  # did not fit: wait for capacity
                        failed[alloc.task_group] = AllocMetric(nodes_exhausted=1)
        if failed:
            blocked = dataclasses.replace(ev, id=generate_uuid(), status=EvalStatus.BLOCKED,
                                          previous_eval=ev.id, failed_tg_allocs=failed,
                                          triggered_by="queued-allocs")
            self.planner.create_eval(blocked)
        if ev.status != EvalStatus.BLOCKED or not failed:
            self.planner.update_eval(dataclasses.replace(
                ev, status=EvalStatus.COMPLETE, failed_tg_allocs=failed))


def _fake_alloc(job: Any, group: Any, index: int, node: Node, eval_id: str) -> Allocation:
    tasks = {t.name: AllocatedTaskResources(
        cpu=AllocatedCpuResources(cpu_shares=t.resources.cpu or 0),
        memory=AllocatedMemoryResources(memory_mb=t.resources.memory_mb or 0))
        for t in group.tasks}
    return Allocation(id=generate_uuid(), namespace=job.namespace, eval_id=eval_id,
                      name=alloc_name(job.id, group.name, index), node_id=node.id,
                      node_name=node.name, job_id=job.id, job=job, task_group=group.name,
                      allocated_resources=AllocatedResources(tasks=tasks))


def fake_new_scheduler(eval_type: str, state: Any, planner: Any, *, now: int,
                       rng: Any = None) -> FakeScheduler:
    return FakeScheduler(state, planner, now=now, rng=rng)


def fake_allocs_fit(node: Node, allocs: list[Allocation]) -> tuple[bool, str]:
    """CPU only: enough to see partial commits."""
    used = sum(a.allocated_resources.total_cpu() for a in allocs
               if a.allocated_resources and not a.client_terminal())
    if used > node.node_resources.cpu.cpu_shares:
        return False, "cpu"
    return True, ""


@pytest.fixture
def fake_scheduler_class() -> type[FakeScheduler]:
    return FakeScheduler


@pytest.fixture
def fake_scheduler() -> dict[str, Callable]:
    FakeScheduler.calls = []
    FakeScheduler.fail_with = None
    return {"scheduler_factory": fake_new_scheduler, "allocs_fit": fake_allocs_fit}


@pytest.fixture
def make_server(tmp_path) -> Callable[..., Server]:
    """``make_server(**config)`` starts a single server (waits for leadership);
    every server started this way is shut down after the test."""
    started: list[Server] = []

    def make(*, scheduler_factory: Callable | None = None, allocs_fit: Callable | None = None,
             wait: bool = True, **overrides: Any) -> Server:
        options: dict[str, Any] = dict(node_name=f"server{len(started) + 1}",
                                       raft_bind=f"127.0.0.1:{free_port()}",
                                       rpc_advertise=f"127.0.0.1:{free_port()}",
                                       num_schedulers=2)
        options.update(overrides)
        server = Server(ServerConfig(**options), scheduler_factory=scheduler_factory,
                        allocs_fit=allocs_fit)
        started.append(server)
        server.start()
        if wait:
            assert server.wait_for_leader(10), "no leader within 10 s"
        return server

    yield make
    for server in started:
        server.shutdown()
