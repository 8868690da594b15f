"""Factories for realistic objects, shared by tests and benchmarks.

Modelled on Nomad's ``nomad/mock`` package: every call returns fresh objects
with random IDs, already canonicalized, so a test only states what matters to
it (``mock_job(count=3)``).
"""

from __future__ import annotations

from typing import Any

from ..structs import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    Allocation,
    AllocClientStatus,
    DriverInfo,
    EvalStatus,
    EvalTrigger,
    Evaluation,
    Job,
    JobType,
    NetworkResource,
    Node,
    NodeCpuResources,
    NodeMemoryResources,
    NodeResources,
    NodeStatus,
    Port,
    Resources,
    Task,
    TaskGroup,
    alloc_name,
    generate_uuid,
    now_ns,
)
from ..structs.node import NodeDiskResources
from ..structs.service_registration import ServiceRegistration


def mock_node(*, datacenter: str = "dc1", cpu: int = 4000, memory_mb: int = 8192,
              drivers: tuple[str, ...] = ("raw_exec", "mock_driver"),
              attributes: dict[str, str] | None = None, meta: dict[str, str] | None = None,
              name: str = "") -> Node:
    """A ready, eligible Linux node with 4 GHz and 8 GiB."""
    node_id = generate_uuid()
    attrs = {
        "kernel.name": "linux",
        "kernel.version": "6.1.0",
        "os.name": "debian",
        "cpu.arch": "amd64",
        "cpu.numcores": "4",
        "cpu.totalcompute": str(cpu),
        "memory.totalbytes": str(memory_mb * 1024 * 1024),
        "unique.hostname": name or f"node-{node_id[:8]}",
        "unique.network.ip-address": "127.0.0.1",
        "nomad.version": "1.9.0",
    }
    for driver in drivers:
        attrs[f"driver.{driver}"] = "1"
    attrs.update(attributes or {})
    return Node(
        id=node_id,
        secret_id=generate_uuid(),
        datacenter=datacenter,
        name=name or f"node-{node_id[:8]}",
        http_addr="127.0.0.1:4646",
        attributes=attrs,
        meta=dict(meta or {}),
        node_resources=NodeResources(
            cpu=NodeCpuResources(cpu_shares=cpu, total_cpu_cores=4),
            memory=NodeMemoryResources(memory_mb=memory_mb),
            disk=NodeDiskResources(disk_mb=100 * 1024),
            networks=[NetworkResource(mode="host", device="lo", cidr="127.0.0.1/32",
                                      ip="127.0.0.1")]),
        drivers={d: DriverInfo(detected=True, healthy=True) for d in drivers},
        status=NodeStatus.READY,
        status_updated_at=now_ns() // 1_000_000_000,
    )


def mock_job(*, job_id: str = "", count: int = 10, job_type: str = JobType.SERVICE,
             cpu: int = 500, memory_mb: int = 256, driver: str = "raw_exec",
             config: dict | None = None, ports: tuple[str, ...] = ("http",)) -> Job:
    """A service job with one group ``web`` of one task ``web`` and dynamic ports."""
    job = Job(
        id=job_id or f"mock-service-{generate_uuid()[:8]}",
        type=job_type,
        datacenters=["dc1"],
        task_groups=[TaskGroup(
            name="web",
            count=count,
            networks=[NetworkResource(dynamic_ports=[Port(label=p) for p in ports])],
            tasks=[Task(
                name="web",
                driver=driver,
                config=config if config is not None else {"command": "/bin/date"},
                env={"FOO": "bar"},
                resources=Resources(cpu=cpu, memory_mb=memory_mb),
            )],
        )],
    )
    job.canonicalize()
    return job


def mock_batch_job(**kwargs: Any) -> Job:
    kwargs.setdefault("job_id", f"mock-batch-{generate_uuid()[:8]}")
    return mock_job(job_type=JobType.BATCH, **kwargs)


def mock_system_job(**kwargs: Any) -> Job:
    kwargs.setdefault("job_id", f"mock-system-{generate_uuid()[:8]}")
    kwargs.setdefault("count", 1)
    return mock_job(job_type=JobType.SYSTEM, **kwargs)


def mock_eval(job: Job, *, trigger: str = EvalTrigger.JOB_REGISTER) -> Evaluation:
    now = now_ns()
    return Evaluation(id=generate_uuid(), namespace=job.namespace or "default",
                      priority=job.priority or 50, type=job.type or JobType.SERVICE,
                      triggered_by=trigger, job_id=job.id, status=EvalStatus.PENDING,
                      create_time=now, modify_time=now)


def mock_alloc(job: Job, node: Node, *, index: int = 0, group: str = "",
               client_status: AllocClientStatus = AllocClientStatus.PENDING) -> Allocation:
    """An allocation of ``job``'s first (or named) group on ``node``."""
    tg = job.lookup_task_group(group) if group else job.task_groups[0]
    assert tg is not None
    tasks = {t.name: AllocatedTaskResources(
        cpu=AllocatedCpuResources(cpu_shares=t.resources.cpu or 0 if t.resources else 0),
        memory=AllocatedMemoryResources(memory_mb=t.resources.memory_mb or 0
                                        if t.resources else 0))
        for t in tg.tasks}
    now = now_ns()
    return Allocation(
        id=generate_uuid(), namespace=job.namespace or "default", eval_id=generate_uuid(),
        name=alloc_name(job.id, tg.name, index), node_id=node.id, node_name=node.name,
        job_id=job.id, job=job, task_group=tg.name,
        allocated_resources=AllocatedResources(
            tasks=tasks, shared=AllocatedSharedResources(disk_mb=tg.ephemeral_disk.size_mb or 0
                                                         if tg.ephemeral_disk else 0)),
        client_status=client_status, create_time=now, modify_time=now)


def mock_service_registration(alloc: Allocation, *, name: str = "web", task: str = "web",
                              port_label: str = "http", port: int = 8080,
                              address: str = "127.0.0.1", tags: list[str] | None = None,
                              datacenter: str = "dc1") -> ServiceRegistration:
    """The registration a client writes for one of ``alloc``'s task services
    (Nomad's ID scheme: ``_nomad-task-<alloc>-<task>-<service>-<port label>``)."""
    return ServiceRegistration(
        id=f"_nomad-task-{alloc.id}-{task}-{name}-{port_label}", service_name=name,
        namespace=alloc.namespace, node_id=alloc.node_id, datacenter=datacenter,
        job_id=alloc.job_id, alloc_id=alloc.id, tags=list(tags or []), address=address,
        port=port)
