"""What a task group asks of a node, worked out once per eval.

Ranking looks at the same task group for every candidate node, so the sums
(CPU, memory, disk), the drivers, the constraints and the port asks are
computed once here and read many times.
"""

from __future__ import annotations

import dataclasses

from ..structs import Constraint, Job, NetworkResource, Task, TaskGroup
from .constraints import DISTINCT_HOSTS, DISTINCT_PROPERTY, escapes_node_class
from .ports import DEFAULT_HOST_NETWORK


def distinct_hosts_enabled(constraints: list[Constraint]) -> bool:
    """A ``distinct_hosts`` constraint is on unless its value says "false"."""
    for constraint in constraints:
        if constraint.operand == DISTINCT_HOSTS:
            return constraint.r_target.strip().lower() not in ("false", "0", "f")
    return False


@dataclasses.dataclass(slots=True)
class TaskAsk:
    task: Task
    cpu: int
    memory_mb: int
    network: NetworkResource | None  # legacy task-level network


@dataclasses.dataclass(slots=True)
class GroupAsk:
    group: TaskGroup
    namespace: str
    job_id: str
    cpu: int
    memory_mb: int
    disk_mb: int
    tasks: list[TaskAsk]
    drivers: tuple[str, ...]
    constraints: list[Constraint]  # group and task constraints, distinct_* excluded
    escapes_class: bool  # a constraint names a single node
    needs_devices: bool
    network: NetworkResource | None  # the group network (the first, as Nomad)
    network_mode: str
    host_network_problem: str  # the group's ports name a host network nodes lack
    static_ports: tuple[tuple[int, str, bool], ...]  # value, label, may collide
    dynamic_port_count: int
    task_static_ports: tuple[tuple[int, str], ...]
    task_dynamic_port_count: int
    distinct_hosts: bool
    distinct_properties: list[Constraint]
    # (source, read_only) of the group's ``volume { type = "host" }`` requests; per_alloc
    # ones are left to the client (their source depends on the allocation's index)
    host_volumes: tuple[tuple[str, bool], ...] = ()

    @property
    def name(self) -> str:
        return self.group.name

    @property
    def count(self) -> int:
        return self.group.count or 0


def _host_network_problem(network: NetworkResource | None) -> str:
    """Only the default host network exists so far (nodes do not report
    ``host_network`` aliases yet): ports asking for another fit nowhere."""
    if network is None:
        return ""
    for port in (*network.reserved_ports, *network.dynamic_ports):
        if port.host_network not in ("", DEFAULT_HOST_NETWORK):
            return f'missing host network "{port.host_network}" for port "{port.label}"'
    return ""


def group_ask(job: Job, group: TaskGroup) -> GroupAsk:
    tasks: list[TaskAsk] = []
    constraints = [c for c in group.constraints
                   if c.operand not in (DISTINCT_HOSTS, DISTINCT_PROPERTY)]
    drivers: list[str] = []
    needs_devices = False
    task_static: list[tuple[int, str]] = []
    task_dynamic = 0
    for task in group.tasks:
        resources = task.resources
        cpu = (resources.cpu or 0) if resources else 0
        memory = (resources.memory_mb or 0) if resources else 0
        network = resources.networks[0] if resources and resources.networks else None
        if network is not None:
            task_static.extend((p.value, p.label) for p in network.reserved_ports)
            task_dynamic += len(network.dynamic_ports)
        needs_devices = needs_devices or bool(resources and resources.devices)
        tasks.append(TaskAsk(task, cpu, memory, network))
        if task.driver not in drivers:
            drivers.append(task.driver)
        constraints.extend(c for c in task.constraints
                           if c.operand not in (DISTINCT_HOSTS, DISTINCT_PROPERTY))
    group_network = group.networks[0] if group.networks else None
    disk = (group.ephemeral_disk.size_mb or 0) if group.ephemeral_disk else 0
    host_volumes = tuple(sorted((v.source, v.read_only) for v in group.volumes.values()
                                if v.type == "host" and not v.per_alloc))
    return GroupAsk(
        group=group, namespace=job.namespace or "", job_id=job.id,
        cpu=sum(t.cpu for t in tasks), memory_mb=sum(t.memory_mb for t in tasks), disk_mb=disk,
        tasks=tasks, drivers=tuple(drivers), constraints=constraints,
        # Host volumes are not part of the computed node class (as in Nomad): a group
        # asking for them is judged node by node.
        escapes_class=escapes_node_class(constraints) or bool(host_volumes),
        needs_devices=needs_devices,
        network=group_network,
        network_mode=(group_network.mode or "host") if group_network else "host",
        host_network_problem=_host_network_problem(group_network),
        static_ports=tuple((p.value, p.label, p.ignore_collision)
                           for p in group_network.reserved_ports) if group_network else (),
        dynamic_port_count=len(group_network.dynamic_ports) if group_network else 0,
        task_static_ports=tuple(task_static), task_dynamic_port_count=task_dynamic,
        distinct_hosts=distinct_hosts_enabled(group.constraints),
        distinct_properties=[c for c in group.constraints if c.operand == DISTINCT_PROPERTY],
        host_volumes=host_volumes,
    )
