"""The driver's :class:`TaskConfig` for one start attempt (Nomad's ``buildTaskConfig``).

The prestart hooks prepare a :class:`HookContext` (the task's environment,
its interpolated driver config, log paths, host volume mounts); this module
turns that context into what the driver starts.  It is pure: no I/O, no
clock, no randomness -- the caller picks the attempt's suffix -- so the same
context always gives the same config, and tests need no driver.

Guarantees:

* ``id`` is ``<alloc_id>/<task>/<attempt>``: unique per start attempt, and
  it names the allocation and the task a driver's traces belong to.
* Resources are what the scheduler reserved for the task (cpu shares,
  memory, memory max, the number of reserved cores, the group's ports); an
  allocation without allocated resources falls back to the task's ask.  A
  task with no reserved cores gets the count it asked for.
* Drivers with filesystem isolation (``fs_isolation != "none"``, e.g. pot)
  get ``alloc/``, ``local/`` and ``secrets/`` mounted at Nomad's in-task
  paths, then the host volume mounts; drivers without isolation get no
  mounts (the task's environment holds the host paths).
* The group network's ``dns`` block is interpolated with the task's
  environment (a reference it cannot resolve stays as written).
* ``env`` is a copy: a driver adding variables does not change the
  environment the hooks built.
"""

from __future__ import annotations

from ..drivers.base import MountConfig, TaskConfig, TaskResources
from ..structs import Allocation, PortMapping, Task
from .hooks import HookContext
from .taskenv import ALLOC_DIR_IN_TASK, LOCAL_DIR_IN_TASK, SECRETS_DIR_IN_TASK, interpolate_dns

FS_ISOLATION_NONE = "none"


def task_id(alloc_id: str, task: str, attempt: str) -> str:
    """The driver's ID of one start attempt of ``task``."""
    return f"{alloc_id}/{task}/{attempt}"


def task_resources(alloc: Allocation, task: Task) -> TaskResources:
    """What the driver may give the task: the allocation's reservation, else the task's ask."""
    resources = TaskResources()
    if alloc.allocated_resources is not None:
        allocated = alloc.allocated_resources.tasks.get(task.name)
        if allocated is not None:
            resources.cpu_mhz = allocated.cpu.cpu_shares
            resources.memory_mb = allocated.memory.memory_mb
            resources.memory_max_mb = allocated.memory.memory_max_mb
            resources.cores = len(allocated.cpu.reserved_cores)
        resources.ports = [PortMapping(label=p.label, value=p.value, to=p.to,
                                       host_ip=p.host_ip)
                           for p in alloc.allocated_resources.shared.ports]
    elif task.resources is not None:
        resources.cpu_mhz = task.resources.cpu or 0
        resources.memory_mb = task.resources.memory_mb or 0
        resources.memory_max_mb = task.resources.memory_max_mb or 0
    if not resources.cores and task.resources is not None:
        # The scheduler reserves no particular cores yet: the task's ask is the count.
        resources.cores = task.resources.cores or 0
    return resources


def task_mounts(ctx: HookContext) -> list[MountConfig]:
    """The task's directories and host volumes, for drivers that isolate the filesystem."""
    if ctx.capabilities.fs_isolation == FS_ISOLATION_NONE:
        return []
    return [MountConfig(ctx.task_dir.shared_alloc_dir, ALLOC_DIR_IN_TASK),
            MountConfig(ctx.task_dir.local_dir, LOCAL_DIR_IN_TASK),
            MountConfig(ctx.task_dir.secrets_dir, SECRETS_DIR_IN_TASK),
            *ctx.volume_mounts]


def build_task_config(ctx: HookContext, *, attempt: str) -> TaskConfig:
    """The config of start attempt ``attempt`` from a context the prestart hooks prepared.

    Raises ValueError when no hook built the task's environment (a runner set up
    without the env hook): starting a task without its environment would be wrong.
    """
    if ctx.env is None:
        raise ValueError(f"task {ctx.task.name!r}: the prestart hooks built no environment "
                         f"(is the env hook missing?)")
    alloc, task, node, job = ctx.alloc, ctx.task, ctx.node, ctx.alloc.job
    shared_networks = (alloc.allocated_resources.shared.networks
                       if alloc.allocated_resources is not None else [])
    dns = shared_networks[0].dns if shared_networks else None  # the first network's, as Nomad
    return TaskConfig(
        id=task_id(alloc.id, task.name, attempt), alloc_id=alloc.id,
        namespace=alloc.namespace, job_id=job.id if job else alloc.job_id,
        job_name=job.name if job else alloc.job_id, group_name=alloc.task_group,
        name=task.name, node_id=node.id, node_name=node.name, env=dict(ctx.env.env),
        config=ctx.driver_config, resources=task_resources(alloc, task), user=task.user,
        alloc_dir=ctx.alloc_dir.path, task_dir=ctx.task_dir.dir,
        stdout_path=ctx.stdout_path, stderr_path=ctx.stderr_path, mounts=task_mounts(ctx),
        log_max_files=ctx.log_max_files, log_max_file_size_mb=ctx.log_max_file_size_mb,
        dns=interpolate_dns(ctx.env, dns))
