"""A task's environment (the NOMAD_* variables) and ``${...}`` interpolation.

Built exactly as Nomad's ``client/taskenv`` builds it, in the same order, so
later sources override earlier ones:

1. directories: NOMAD_ALLOC_DIR, NOMAD_TASK_DIR, NOMAD_SECRETS_DIR -- host
   paths for drivers without filesystem isolation (raw_exec), ``/alloc``,
   ``/local``, ``/secrets`` for drivers that run the task in an image (pot);
2. limits: NOMAD_MEMORY_LIMIT, NOMAD_MEMORY_MAX_LIMIT, NOMAD_CPU_LIMIT,
   NOMAD_CPU_CORES (the reserved cores as "0-1,3", or " " when none, as Nomad);
3. identity: NOMAD_ALLOC_ID, NOMAD_SHORT_ALLOC_ID, NOMAD_ALLOC_NAME,
   NOMAD_GROUP_NAME, NOMAD_ALLOC_INDEX, NOMAD_TASK_NAME, NOMAD_JOB_ID,
   NOMAD_JOB_NAME, NOMAD_JOB_PARENT_ID, NOMAD_DC, NOMAD_NAMESPACE, NOMAD_REGION;
4. ports of the task's own networks (NOMAD_IP_, NOMAD_PORT_, NOMAD_HOST_PORT_,
   NOMAD_ADDR_ <label>), then other tasks' ports (NOMAD_ADDR_<task>_<label>
   ...), group network ports and finally the allocation's ports
   (``AllocatedResources.Shared.Ports``): NOMAD_PORT_<label> is the ``to``
   port when one is mapped, else the host port; NOMAD_HOST_PORT_<label> is
   always the host port;
5. meta, job < group < task, as NOMAD_META_<key> and NOMAD_META_<KEY>;
6. the agent's own environment (not for image drivers), minus the denylist,
   never overriding what is already set;
7. the task's ``env`` block, interpolated, overriding everything.

Keys under NOMAD_ADDR_/NOMAD_IP_/NOMAD_PORT_/NOMAD_HOST_PORT_/NOMAD_META_
are cleaned: characters other than letters, digits (not first), ``_`` and
``.`` become ``_``.

Interpolation (:meth:`TaskEnv.replace`) resolves ``${NOMAD_*}`` and any
environment variable, ``${attr.<name>}``, ``${meta.<key>}``,
``${node.unique.id}``, ``${node.unique.name}``, ``${node.datacenter}``,
``${node.class}``, ``${node.region}``, ``${node.pool}``, ``${node.attr.*}``,
``${node.meta.*}`` and ``${env["X"]}``.  A reference it cannot resolve stays
as written, as Nomad leaves it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..drivers.env_keys import clean_env_key
from ..structs import Allocation, DNSConfig, NetworkResource, Node, Port, PortMapping, Task
from .allocdir import TaskDir

ALLOC_DIR_IN_TASK = "/alloc"
LOCAL_DIR_IN_TASK = "/local"
SECRETS_DIR_IN_TASK = "/secrets"

_CLEANED_PREFIXES = ("NOMAD_ADDR_", "NOMAD_IP_", "NOMAD_PORT_", "NOMAD_HOST_PORT_",
                     "NOMAD_META_")
_REFERENCE = re.compile(r'\$\{\s*(?:env\[\s*"(?P<env>[^"]*)"\s*\]|(?P<name>[a-zA-Z0-9_\-.]+))\s*\}')


def format_core_set(cores: Iterable[int]) -> str:
    """Nomad's idset notation: ``[0, 1, 2, 5]`` -> ``"0-2,5"``; empty -> ``" "``."""
    ids = sorted(set(cores))
    if not ids:
        return " "
    parts = []
    low = high = ids[0]
    for core in ids[1:]:
        if core == high + 1:
            high = core
            continue
        parts.append(str(low) if low == high else f"{low}-{high}")
        low = high = core
    parts.append(str(low) if low == high else f"{low}-{high}")
    return ",".join(parts)


def join_host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def replace_refs(text: str, *sources: Mapping[str, str]) -> str:
    """Nomad's ReplaceEnv: resolve ``${name}`` from the first source that has it."""
    def lookup(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None:
            name = match.group("env")
        for source in sources:
            value = source.get(name)
            if value is not None:
                return value
        return match.group(0)
    return _REFERENCE.sub(lookup, text) if "${" in text else text


@dataclass
class TaskEnv:
    """The environment a task gets, and the node values ``${...}`` may name."""

    env: dict[str, str] = field(default_factory=dict)
    node_attrs: dict[str, str] = field(default_factory=dict)

    def _aliases(self) -> dict[str, str]:
        aliases = {f"env.{k}": v for k, v in self.env.items()}
        for key, value in self.node_attrs.items():
            if key.startswith(("attr.", "meta.")):
                aliases["node." + key] = value
        return aliases

    def replace(self, text: str) -> str:
        """``text`` with every reference this environment can resolve replaced."""
        if "${" not in text:
            return text
        return replace_refs(text, self.env, self.node_attrs, self._aliases())

    def interpolate(self, value: Any) -> Any:
        """``value`` (a task's ``config``: nested maps and lists) with every string
        interpolated; keys stay as written."""
        if isinstance(value, str):
            return self.replace(value)
        if isinstance(value, list):
            return [self.interpolate(item) for item in value]
        if isinstance(value, dict):
            return {key: self.interpolate(item) for key, item in value.items()}
        return value


def interpolate_dns(env: TaskEnv, dns: DNSConfig | None) -> DNSConfig | None:
    """A copy of the group network's ``dns`` block with ``${...}`` resolved in every
    server, search and option (Nomad's ``taskenv.InterpolateNetworks``): drivers get
    final values, and one that could not be resolved stays as written for the driver to
    refuse."""
    if dns is None:
        return None
    return DNSConfig(servers=[env.replace(v) for v in dns.servers],
                     searches=[env.replace(v) for v in dns.searches],
                     options=[env.replace(v) for v in dns.options])


def node_attributes(node: Node, region: str) -> dict[str, str]:
    """The node values interpolation can name (Nomad's nodeAttrs)."""
    attrs = {"node.region": region, "node.unique.id": node.id, "node.unique.name": node.name,
             "node.class": node.node_class, "node.datacenter": node.datacenter,
             "node.pool": node.node_pool}
    for key, value in node.attributes.items():
        attrs["attr." + key] = value
    for key, value in node.meta.items():
        attrs["meta." + key] = value
    return attrs


def combined_meta(alloc: Allocation, task: Task) -> dict[str, str]:
    """Job meta, overridden by group meta, overridden by task meta."""
    meta: dict[str, str] = {}
    job = alloc.job
    if job is not None:
        meta.update(job.meta)
        group = job.lookup_task_group(alloc.task_group)
        if group is not None:
            meta.update(group.meta)
    meta.update(task.meta)
    return meta


def _port_env(env: dict[str, str], port: Port, ip: str) -> None:
    """A port of the task's own network (Nomad's buildPortEnv; no driver port map)."""
    value = str(port.value)
    family = "NOMAD_IPv6_" if ":" in ip else "NOMAD_IPv4_"
    env["NOMAD_IP_" + port.label] = ip
    env[family + port.label] = ip
    env["NOMAD_HOST_PORT_" + port.label] = value
    env["NOMAD_ADDR_" + port.label] = join_host_port(ip, port.value)
    env["NOMAD_PORT_" + port.label] = value


def _other_task_port(env: dict[str, str], task: str, ip: str, label: str, value: int) -> None:
    env[f"NOMAD_ADDR_{task}_{label}"] = join_host_port(ip, value)
    env[f"NOMAD_IP_{task}_{label}"] = ip
    env[f"NOMAD_PORT_{task}_{label}"] = str(value)


def _group_port(env: dict[str, str], port: Port) -> None:
    env["NOMAD_PORT_" + port.label] = str(port.to if port.to > 0 else port.value)
    env["NOMAD_HOST_PORT_" + port.label] = str(port.value)


def _alloc_port(env: dict[str, str], port: PortMapping) -> None:
    host = str(port.value)
    env["NOMAD_ADDR_" + port.label] = join_host_port(port.host_ip, port.value)
    env["NOMAD_HOST_ADDR_" + port.label] = join_host_port(port.host_ip, port.value)
    env["NOMAD_IP_" + port.label] = port.host_ip
    env["NOMAD_HOST_IP_" + port.label] = port.host_ip
    inside = str(port.to if port.to > 0 else port.value)
    env["NOMAD_PORT_" + port.label] = inside
    env["NOMAD_ALLOC_PORT_" + port.label] = inside
    env["NOMAD_HOST_PORT_" + port.label] = host


def _network_env(alloc: Allocation, task: Task) -> dict[str, str]:
    env: dict[str, str] = {}
    resources = alloc.allocated_resources
    if resources is None:
        return env
    own = resources.tasks.get(task.name)
    networks: list[NetworkResource] = own.networks if own is not None else []
    for network in networks:
        for port in network.ports():
            _port_env(env, port, network.ip)
    for name, other in resources.tasks.items():
        if name == task.name:
            continue
        for network in other.networks:
            for port in network.ports():
                _other_task_port(env, name, network.ip, port.label, port.value)
    for network in resources.shared.networks:
        for port in network.ports():
            _group_port(env, port)
    for mapping in resources.shared.ports:
        _alloc_port(env, mapping)
    return env


def build_task_env(*, alloc: Allocation, task: Task, node: Node, region: str,
                   task_dir: TaskDir | None, fs_isolation: str = "none",
                   host_env: Mapping[str, str] | None = None,
                   env_denylist: Iterable[str] = ()) -> TaskEnv:
    """The environment ``task`` of ``alloc`` runs with on ``node``.

    ``host_env`` defaults to this process's environment; it is left out for
    drivers with ``fs_isolation == "image"``.
    """
    attrs = node_attributes(node, region)
    env: dict[str, str] = {}
    if task_dir is not None:
        if fs_isolation == "none":
            env["NOMAD_ALLOC_DIR"] = task_dir.shared_alloc_dir
            env["NOMAD_TASK_DIR"] = task_dir.local_dir
            env["NOMAD_SECRETS_DIR"] = task_dir.secrets_dir
        else:
            env["NOMAD_ALLOC_DIR"] = ALLOC_DIR_IN_TASK
            env["NOMAD_TASK_DIR"] = LOCAL_DIR_IN_TASK
            env["NOMAD_SECRETS_DIR"] = SECRETS_DIR_IN_TASK

    memory = memory_max = cpu = 0
    cores: list[int] = []
    if task.resources is not None:
        memory, memory_max = task.resources.memory_mb or 0, task.resources.memory_max_mb or 0
        cpu = task.resources.cpu or 0
    allocated = (alloc.allocated_resources.tasks.get(task.name)
                 if alloc.allocated_resources is not None else None)
    if allocated is not None:
        cpu, cores = allocated.cpu.cpu_shares, list(allocated.cpu.reserved_cores)
        memory, memory_max = allocated.memory.memory_mb, allocated.memory.memory_max_mb
    if memory:
        env["NOMAD_MEMORY_LIMIT"] = str(memory)
    if memory_max:
        env["NOMAD_MEMORY_MAX_LIMIT"] = str(memory_max)
    if cpu:
        env["NOMAD_CPU_LIMIT"] = str(cpu)
    if allocated is not None:
        env["NOMAD_CPU_CORES"] = format_core_set(cores)

    job = alloc.job
    if alloc.id:
        env["NOMAD_ALLOC_ID"] = alloc.id
        env["NOMAD_SHORT_ALLOC_ID"] = alloc.id[:8]
    if alloc.name:
        env["NOMAD_ALLOC_NAME"] = alloc.name
    if alloc.task_group:
        env["NOMAD_GROUP_NAME"] = alloc.task_group
    env["NOMAD_ALLOC_INDEX"] = str(alloc.index)
    if task.name:
        env["NOMAD_TASK_NAME"] = task.name
    if job is not None:
        if job.id:
            env["NOMAD_JOB_ID"] = job.id
        if job.name:
            env["NOMAD_JOB_NAME"] = job.name
        if job.parent_id:
            env["NOMAD_JOB_PARENT_ID"] = job.parent_id
    if node.datacenter:
        env["NOMAD_DC"] = node.datacenter
    if alloc.namespace:
        env["NOMAD_NAMESPACE"] = alloc.namespace
    if region:
        env["NOMAD_REGION"] = region

    env.update(_network_env(alloc, task))

    for key, value in combined_meta(alloc, task).items():
        for meta_key in ("NOMAD_META_" + key.upper(), "NOMAD_META_" + key):
            env[replace_refs(meta_key, attrs, env)] = replace_refs(value, attrs, env)

    if fs_isolation != "image":
        denied = set(env_denylist)
        for key, value in (os.environ if host_env is None else host_env).items():
            if key not in denied and key not in env:
                env[key] = replace_refs(value, attrs, env)

    for key, value in task.env.items():
        env[key] = replace_refs(value, attrs, env)

    cleaned = {}
    for key, value in env.items():
        if key.startswith(_CLEANED_PREFIXES):
            key = clean_env_key(key)
        cleaned[key] = value
    return TaskEnv(env=cleaned, node_attrs=attrs)
