"""The task environment: every NOMAD_* variable and ${...} interpolation, as Nomad."""

from __future__ import annotations

import pytest

from nomadjail.client.allocdir import AllocDir
from nomadjail.client.taskenv import build_task_env, clean_env_key, format_core_set, replace_refs
from nomadjail.structs import (
    AllocatedCpuResources,
    AllocatedMemoryResources,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    NetworkResource,
    Port,
    PortMapping,
    Task,
)
from nomadjail.testing import mock_alloc, mock_job, mock_node


@pytest.fixture
def world(tmp_path):
    job = mock_job(job_id="example", count=3)
    job.name = "example-name"
    job.parent_id = "example-parent"
    job.meta = {"owner": "ops", "tier": "job"}
    group = job.task_groups[0]
    group.meta = {"tier": "group"}
    task = group.tasks[0]
    task.meta = {"my-key": "v1", "tier": "task"}
    task.env = {"GREETING": "hello ${NOMAD_TASK_NAME}", "FROM_NODE": "${node.unique.name}",
                "UNKNOWN": "${does.not.exist}"}
    task.resources.memory_max_mb = 512
    sidecar = Task(name="sidecar", driver="raw_exec")
    group.tasks.append(sidecar)
    node = mock_node(name="node-1", meta={"rack": "r1"})
    node.node_class = "large"
    alloc = mock_alloc(job, node, index=2)
    alloc.namespace = "default"
    alloc.allocated_resources = AllocatedResources(
        tasks={"web": AllocatedTaskResources(
                   cpu=AllocatedCpuResources(cpu_shares=500, reserved_cores=[0, 1, 3]),
                   memory=AllocatedMemoryResources(memory_mb=256, memory_max_mb=512),
                   networks=[NetworkResource(ip="10.0.0.5", dynamic_ports=[
                       Port(label="admin", value=25000)])]),
               "sidecar": AllocatedTaskResources(networks=[NetworkResource(
                   ip="10.0.0.5", reserved_ports=[Port(label="metrics", value=9102)])])},
        shared=AllocatedSharedResources(
            networks=[NetworkResource(ip="10.0.0.5", dynamic_ports=[
                Port(label="grp", value=23000, to=8000)])],
            ports=[PortMapping(label="http", value=21000, to=8080, host_ip="10.0.0.5"),
                   PortMapping(label="db", value=22000, to=0, host_ip="10.0.0.5")]))
    alloc_dir = AllocDir(str(tmp_path), alloc.id)
    task_dir = alloc_dir.task_dir("web")
    env = build_task_env(alloc=alloc, task=task, node=node, region="eu", task_dir=task_dir,
                         host_env={"HOME": "/root", "VAULT_TOKEN": "s3cret",
                                   "NOMAD_DC": "from-host"},
                         env_denylist={"VAULT_TOKEN"})
    return alloc, node, task_dir, env


def test_identity_variables(world):
    alloc, node, _, env = world
    e = env.env
    assert e["NOMAD_ALLOC_ID"] == alloc.id
    assert e["NOMAD_SHORT_ALLOC_ID"] == alloc.id[:8]
    assert e["NOMAD_ALLOC_NAME"] == "example.web[2]"
    assert e["NOMAD_ALLOC_INDEX"] == "2"
    assert e["NOMAD_JOB_ID"] == "example"
    assert e["NOMAD_JOB_NAME"] == "example-name"
    assert e["NOMAD_JOB_PARENT_ID"] == "example-parent"
    assert e["NOMAD_GROUP_NAME"] == "web"
    assert e["NOMAD_TASK_NAME"] == "web"
    assert e["NOMAD_DC"] == "dc1"  # the node's, not the agent's own environment
    assert e["NOMAD_REGION"] == "eu"
    assert e["NOMAD_NAMESPACE"] == "default"


def test_directories_are_host_paths_without_isolation(world):
    _, _, task_dir, env = world
    assert env.env["NOMAD_ALLOC_DIR"] == task_dir.shared_alloc_dir
    assert env.env["NOMAD_TASK_DIR"] == task_dir.local_dir
    assert env.env["NOMAD_SECRETS_DIR"] == task_dir.secrets_dir


def test_directories_are_task_paths_for_image_drivers(world):
    alloc, node, task_dir, _ = world
    task = alloc.job.task_groups[0].tasks[0]
    env = build_task_env(alloc=alloc, task=task, node=node, region="eu", task_dir=task_dir,
                         fs_isolation="image", host_env={"HOME": "/root"})
    assert (env.env["NOMAD_ALLOC_DIR"], env.env["NOMAD_TASK_DIR"],
            env.env["NOMAD_SECRETS_DIR"]) == ("/alloc", "/local", "/secrets")
    assert "HOME" not in env.env  # image drivers do not inherit the agent's environment


def test_resource_limits(world):
    e = world[3].env
    assert e["NOMAD_CPU_LIMIT"] == "500"
    assert e["NOMAD_MEMORY_LIMIT"] == "256"
    assert e["NOMAD_MEMORY_MAX_LIMIT"] == "512"
    assert e["NOMAD_CPU_CORES"] == "0-1,3"


def test_allocated_ports_use_the_to_port_inside(world):
    e = world[3].env
    assert e["NOMAD_PORT_http"] == "8080"
    assert e["NOMAD_HOST_PORT_http"] == "21000"
    assert e["NOMAD_ALLOC_PORT_http"] == "8080"
    assert e["NOMAD_IP_http"] == "10.0.0.5"
    assert e["NOMAD_HOST_IP_http"] == "10.0.0.5"
    assert e["NOMAD_ADDR_http"] == "10.0.0.5:21000"
    assert e["NOMAD_HOST_ADDR_http"] == "10.0.0.5:21000"
    assert e["NOMAD_PORT_db"] == e["NOMAD_HOST_PORT_db"] == "22000"


def test_group_task_and_sibling_ports(world):
    e = world[3].env
    assert (e["NOMAD_PORT_grp"], e["NOMAD_HOST_PORT_grp"]) == ("8000", "23000")
    assert e["NOMAD_PORT_admin"] == e["NOMAD_HOST_PORT_admin"] == "25000"
    assert e["NOMAD_ADDR_admin"] == "10.0.0.5:25000"
    assert e["NOMAD_IP_admin"] == e["NOMAD_IPv4_admin"] == "10.0.0.5"
    assert e["NOMAD_ADDR_sidecar_metrics"] == "10.0.0.5:9102"
    assert e["NOMAD_IP_sidecar_metrics"] == "10.0.0.5"
    assert e["NOMAD_PORT_sidecar_metrics"] == "9102"


def test_meta_is_combined_upper_cased_and_cleaned(world):
    e = world[3].env
    assert e["NOMAD_META_owner"] == e["NOMAD_META_OWNER"] == "ops"
    assert e["NOMAD_META_tier"] == "task"  # task beats group beats job
    assert e["NOMAD_META_my_key"] == e["NOMAD_META_MY_KEY"] == "v1"  # "-" cleaned to "_"


def test_host_env_is_inherited_minus_denylist_and_task_env_wins(world):
    e = world[3].env
    assert e["HOME"] == "/root"
    assert "VAULT_TOKEN" not in e
    assert e["GREETING"] == "hello web"
    assert e["FROM_NODE"] == "node-1"
    assert e["UNKNOWN"] == "${does.not.exist}"  # left as written, as Nomad


def test_interpolation_of_config(world):
    alloc, node, task_dir, env = world
    config = {
        "command": "${NOMAD_TASK_DIR}/run",
        "args": ["--port", "${NOMAD_PORT_http}", "--dc=${node.datacenter}",
                 "${attr.kernel.name}", "${meta.rack}", "${node.unique.id}",
                 "${node.class}", "${node.region}", "${node.pool}", '${env["GREETING"]}',
                 "${node.attr.cpu.arch}", "${node.meta.rack}", "${env.HOME}", "${nope}"],
        "nested": {"list": [{"x": "${NOMAD_ALLOC_INDEX}"}], "number": 3},
    }
    result = env.interpolate(config)
    assert result["command"] == f"{task_dir.local_dir}/run"
    assert result["args"] == ["--port", "8080", "--dc=dc1", "linux", "r1", node.id, "large",
                              "eu", "default", "hello web", "amd64", "r1", "/root", "${nope}"]
    assert result["nested"] == {"list": [{"x": "2"}], "number": 3}


def test_helpers_match_nomad():
    assert clean_env_key("NOMAD_META_a-b.c d") == "NOMAD_META_a_b.c_d"
    assert clean_env_key("9lives") == "_lives"
    assert format_core_set([]) == " "
    assert format_core_set([5, 0, 1, 2]) == "0-2,5"
    assert replace_refs("${a}-${b}", {"a": "1"}, {"b": "2"}) == "1-2"
