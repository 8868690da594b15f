"""The driver's TaskConfig, built purely from what the prestart hooks prepared."""

from __future__ import annotations

import pytest

from nomadjail.client.hooks import EnvHook, HookContext
from nomadjail.client.task_config import build_task_config, task_id, task_resources
from nomadjail.client.taskenv import ALLOC_DIR_IN_TASK, LOCAL_DIR_IN_TASK, SECRETS_DIR_IN_TASK
from nomadjail.drivers.base import MountConfig
from nomadjail.structs import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    DNSConfig,
    NetworkResource,
    PortMapping,
    Resources,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node


def prepared(ctx: HookContext) -> HookContext:
    """The context after the prestart hooks (env built and config interpolated, logs set)."""
    EnvHook().prestart(ctx)
    ctx.stdout_path = f"{ctx.task_dir.log_dir}/web.stdout"
    ctx.stderr_path = f"{ctx.task_dir.log_dir}/web.stderr"
    ctx.log_max_files, ctx.log_max_file_size_mb = 3, 5
    return ctx


def test_identity_env_and_interpolated_config(hook_context) -> None:
    job = mock_job(job_id="example", config={
        "command": "${NOMAD_TASK_DIR}/run", "args": ["--name=${NOMAD_TASK_NAME}",
                                                    "--dc=${node.datacenter}"]})
    job.name = "example-name"
    ctx = prepared(hook_context(job=job))
    cfg = build_task_config(ctx, attempt="abcd1234")
    alloc = ctx.alloc
    assert cfg.id == f"{alloc.id}/web/abcd1234" == task_id(alloc.id, "web", "abcd1234")
    assert (cfg.alloc_id, cfg.namespace, cfg.job_id, cfg.job_name, cfg.group_name,
            cfg.name) == (alloc.id, alloc.namespace, "example", "example-name", "web", "web")
    assert (cfg.node_id, cfg.node_name) == (ctx.node.id, "node-1")
    assert cfg.env["NOMAD_ALLOC_ID"] == alloc.id and cfg.env["NOMAD_TASK_NAME"] == "web"
    assert cfg.env["FOO"] == "bar"  # the task's own env
    assert cfg.config == {"command": f"{ctx.task_dir.local_dir}/run",
                          "args": ["--name=web", "--dc=dc1"]}
    assert cfg.user == ctx.task.user


def test_the_env_is_a_copy(hook_context) -> None:
    ctx = prepared(hook_context())
    cfg = build_task_config(ctx, attempt="a")
    cfg.env["ADDED_BY_A_DRIVER"] = "x"
    assert ctx.env is not None and "ADDED_BY_A_DRIVER" not in ctx.env.env


def test_pure_the_same_context_gives_the_same_config(hook_context) -> None:
    ctx = prepared(hook_context())
    assert build_task_config(ctx, attempt="a") == build_task_config(ctx, attempt="a")
    assert build_task_config(ctx, attempt="b").id.endswith("/web/b")


def test_dirs_and_logs(hook_context) -> None:
    ctx = prepared(hook_context())
    cfg = build_task_config(ctx, attempt="a")
    assert cfg.alloc_dir == ctx.alloc_dir.path and cfg.task_dir == ctx.task_dir.dir
    assert cfg.stdout_path.endswith("/alloc/logs/web.stdout")
    assert cfg.stderr_path.endswith("/alloc/logs/web.stderr")
    assert (cfg.log_max_files, cfg.log_max_file_size_mb) == (3, 5)


def test_resources_are_the_allocations_reservation(hook_context) -> None:
    job = mock_job()
    job.task_groups[0].tasks[0].resources = Resources(cpu=100, memory_mb=64, cores=4)
    node = mock_node()
    alloc = mock_alloc(job, node)
    alloc.allocated_resources = AllocatedResources(
        tasks={"web": AllocatedTaskResources(
            cpu=AllocatedCpuResources(cpu_shares=500, reserved_cores=[0, 2]),
            memory=AllocatedMemoryResources(memory_mb=256, memory_max_mb=512))},
        shared=AllocatedSharedResources(ports=[
            PortMapping(label="http", value=21000, to=8080, host_ip="10.0.0.5")]))
    cfg = build_task_config(prepared(hook_context(job=job, node=node, alloc=alloc)),
                            attempt="a")
    resources = cfg.resources
    assert (resources.cpu_mhz, resources.memory_mb, resources.memory_max_mb,
            resources.cores) == (500, 256, 512, 2)
    assert resources.ports == [PortMapping(label="http", value=21000, to=8080,
                                           host_ip="10.0.0.5")]
    assert resources.ports[0] is not alloc.allocated_resources.shared.ports[0]


def test_without_reserved_cores_the_task_asks_for_a_count() -> None:
    job = mock_job()
    task = job.task_groups[0].tasks[0]
    task.resources = Resources(cpu=100, memory_mb=64, cores=3)
    alloc = mock_alloc(job, mock_node())  # reserves cpu shares, no particular cores
    assert task_resources(alloc, task).cores == 3


def test_without_allocated_resources_the_task_ask_is_used() -> None:
    job = mock_job()
    task = job.task_groups[0].tasks[0]
    task.resources = Resources(cpu=300, memory_mb=128, memory_max_mb=256, cores=1)
    alloc = mock_alloc(job, mock_node())
    alloc.allocated_resources = None
    resources = task_resources(alloc, task)
    assert (resources.cpu_mhz, resources.memory_mb, resources.memory_max_mb,
            resources.cores, resources.ports) == (300, 128, 256, 1, [])


def test_a_task_the_allocation_reserved_nothing_for_gets_nothing() -> None:
    job = mock_job()
    task = job.task_groups[0].tasks[0]
    alloc = mock_alloc(job, mock_node())
    assert alloc.allocated_resources is not None
    alloc.allocated_resources.tasks = {}
    resources = task_resources(alloc, task)
    assert (resources.cpu_mhz, resources.memory_mb) == (0, 0)


def test_no_mounts_without_filesystem_isolation(hook_context) -> None:
    ctx = prepared(hook_context())
    ctx.volume_mounts = [MountConfig("/srv", "/data")]
    assert build_task_config(ctx, attempt="a").mounts == []


@pytest.mark.parametrize("isolation", ["chroot", "image"])
def test_isolated_tasks_mount_their_dirs_then_the_host_volumes(hook_context,
                                                               isolation) -> None:
    ctx = prepared(hook_context(fs_isolation=isolation))
    ctx.volume_mounts = [MountConfig("/srv", "/data", readonly=True)]
    dirs = ctx.task_dir
    assert build_task_config(ctx, attempt="a").mounts == [
        MountConfig(dirs.shared_alloc_dir, ALLOC_DIR_IN_TASK),
        MountConfig(dirs.local_dir, LOCAL_DIR_IN_TASK),
        MountConfig(dirs.secrets_dir, SECRETS_DIR_IN_TASK),
        MountConfig("/srv", "/data", readonly=True)]


def test_the_first_group_networks_dns_is_interpolated(hook_context) -> None:
    job = mock_job()
    node = mock_node()
    alloc = mock_alloc(job, node)
    assert alloc.allocated_resources is not None
    alloc.allocated_resources.shared.networks = [
        NetworkResource(dns=DNSConfig(servers=["${NOMAD_META_resolver}", "1.1.1.1"],
                                      searches=["${NOMAD_TASK_NAME}.local"],
                                      options=["${unknown}"])),
        NetworkResource(dns=DNSConfig(servers=["9.9.9.9"]))]
    job.task_groups[0].tasks[0].meta = {"resolver": "10.0.0.53"}
    cfg = build_task_config(prepared(hook_context(job=job, node=node, alloc=alloc)),
                            attempt="a")
    assert cfg.dns == DNSConfig(servers=["10.0.0.53", "1.1.1.1"], searches=["web.local"],
                                options=["${unknown}"])


def test_no_network_no_dns(hook_context) -> None:
    assert build_task_config(prepared(hook_context()), attempt="a").dns is None


def test_a_context_without_an_environment_is_refused(hook_context) -> None:
    with pytest.raises(ValueError, match="no environment"):
        build_task_config(hook_context(), attempt="a")
