"""The ``job`` block of a job file -> :class:`nomadjail.structs.Job`.

Block and attribute names, and how they land in the API fields, follow
Nomad's ``api`` package and ``jobspec2`` (``resources { memory }`` ->
``MemoryMB``, ``port "http" { static to }`` -> reserved or dynamic ports,
``constraint { attribute operator value }`` -> ``LTarget Operand RTarget`` with
the ``distinct_hosts = true`` style shorthands, ``logs { max_file_size }`` ->
``MaxFileSizeMB`` ...).  What the file leaves out stays ``None``/empty: callers
run ``job.canonicalize()`` and ``job.validate()``.

Blocks Nomad has that nomadjail cannot run yet
(``vault``, ``periodic`` ...) are rejected at their position rather than
silently dropped, so a job never runs without something its author asked for.

Task ``config`` is free-form, decoded the way Nomad hands it to drivers:
attributes keep their values, except that a value written as an object
literal ``{ ... }`` becomes a one-element list (Nomad's HCL1 heritage, which is
why the pot driver's ``port_map`` is a ``list(map(string))``), and nested
blocks become lists of objects, one per block, grouped by type.
"""

from __future__ import annotations

from typing import Any

from ..structs import (
    Affinity,
    ChangeScript,
    CheckRestart,
    Constraint,
    EphemeralDisk,
    Job,
    LogConfig,
    MigrateStrategy,
    ReschedulePolicy,
    RestartPolicy,
    ScalingPolicy,
    Service,
    ServiceCheck,
    Task,
    TaskGroup,
    TaskLifecycle,
    Template,
    UpdateStrategy,
    VolumeMount,
    VolumeRequest,
    WaitConfig,
    to_api,
)
from ..structs.artifact import TaskArtifact
from ..structs.resources import DNSConfig, NetworkResource, Port, Resources
from ..structs.services import ServiceWeights
from .hcl.body import Block, Body
from .hcl.conversion import STRING, ConversionError, convert, list_of, map_of
from .hcl.errors import JobspecError, quote
from .hcl.schema import (
    BlockSpec,
    Decoded,
    Schema,
    as_bool,
    as_duration,
    as_integer,
    as_string,
    as_string_list,
    as_string_map,
    check_labels,
    decode_body,
    string_map,
)

_ONE = BlockSpec()
_MANY = BlockSpec(repeated=True)
_NAMED = BlockSpec(("name",), repeated=True)
_LABELED = BlockSpec(("label",), repeated=True)


_HEADER = map_of(list_of(STRING))


def _as_header(value: Any) -> dict[str, list[str]]:
    """A check's HTTP headers: each name maps to a list of values."""
    return convert(value, _HEADER)


JOB = Schema(
    attributes={"region": as_string, "namespace": as_string, "id": as_string, "name": as_string,
                "type": as_string, "priority": as_integer, "all_at_once": as_bool,
                "datacenters": as_string_list, "node_pool": as_string, "meta": as_string_map},
    blocks={"group": _NAMED, "task": _NAMED, "constraint": _MANY, "affinity": _MANY,
            "update": _ONE, "reschedule": _ONE, "migrate": _ONE, "meta": _ONE},
    unsupported=frozenset({"multiregion", "spread", "periodic", "parameterized", "ui", "vault",
                           "secret"}))

GROUP = Schema(
    attributes={"count": as_integer, "shutdown_delay": as_duration, "meta": as_string_map},
    blocks={"task": _NAMED, "constraint": _MANY, "affinity": _MANY, "volume": _NAMED,
            "restart": _ONE, "reschedule": _ONE, "ephemeral_disk": _ONE, "update": _ONE,
            "migrate": _ONE, "network": _MANY, "meta": _ONE, "service": _MANY,
            "scaling": _ONE},
    unsupported=frozenset({"spread", "consul", "vault", "secret", "disconnect",
                           "max_client_disconnect", "stop_after_client_disconnect",
                           "prevent_reschedule_on_lost", "max_run_duration"}))

TASK = Schema(
    attributes={"driver": as_string, "user": as_string, "kill_timeout": as_duration,
                "kill_signal": as_string, "leader": as_bool, "shutdown_delay": as_duration,
                "kind": as_string, "env": as_string_map, "meta": as_string_map},
    blocks={"config": _ONE, "lifecycle": _ONE, "constraint": _MANY, "affinity": _MANY,
            "env": _ONE, "service": _MANY, "resources": _ONE, "restart": _ONE, "meta": _ONE,
            "logs": _ONE, "volume_mount": _MANY, "template": _MANY, "artifact": _MANY},
    unsupported=frozenset({"vault", "consul", "dispatch_payload",
                           "csi_plugin", "scaling", "secret", "identity", "action", "schedule"}))

# Group level only: a task's ``scaling "cpu"`` (dynamic application sizing) stays refused.
SCALING = Schema(attributes={"enabled": as_bool, "min": as_integer, "max": as_integer},
                 blocks={"policy": _ONE})

TEMPLATE = Schema(
    attributes={"data": as_string, "source": as_string, "destination": as_string,
                "change_mode": as_string, "change_signal": as_string, "once": as_bool,
                "splay": as_duration, "perms": as_string, "uid": as_integer,
                "gid": as_integer, "left_delimiter": as_string, "right_delimiter": as_string,
                "env": as_bool, "vault_grace": as_duration, "error_on_missing_key": as_bool},
    blocks={"change_script": _ONE, "wait": _ONE})

CHANGE_SCRIPT = Schema(attributes={"command": as_string, "args": as_string_list,
                                   "timeout": as_duration, "fail_on_error": as_bool,
                                   "run_on_first_render": as_bool})

TEMPLATE_WAIT = Schema(attributes={"min": as_duration, "max": as_duration})

RESOURCES = Schema(
    attributes={"cpu": as_integer, "cores": as_integer, "memory": as_integer,
                "memory_max": as_integer, "disk": as_integer, "iops": as_integer},
    blocks={"network": _MANY, "device": _NAMED},
    unsupported=frozenset({"numa", "secrets"}))

NETWORK = Schema(
    attributes={"mode": as_string, "device": as_string, "cidr": as_string, "ip": as_string,
                "hostname": as_string, "mbits": as_integer},
    blocks={"port": _LABELED, "reserved_ports": _LABELED, "dns": _ONE},
    unsupported=frozenset({"cni"}))

PORT = Schema(attributes={"static": as_integer, "to": as_integer, "host_network": as_string,
                          "ignore_collision": as_bool})

DNS = Schema(attributes={"servers": as_string_list, "searches": as_string_list,
                         "options": as_string_list})

RESTART = Schema(attributes={"attempts": as_integer, "interval": as_duration,
                             "delay": as_duration, "mode": as_string,
                             "render_templates": as_bool})

RESCHEDULE = Schema(attributes={"attempts": as_integer, "interval": as_duration,
                                "delay": as_duration, "delay_function": as_string,
                                "max_delay": as_duration, "unlimited": as_bool})

UPDATE = Schema(attributes={"stagger": as_duration, "max_parallel": as_integer,
                            "health_check": as_string, "min_healthy_time": as_duration,
                            "healthy_deadline": as_duration, "progress_deadline": as_duration,
                            "canary": as_integer, "auto_revert": as_bool,
                            "auto_promote": as_bool})

MIGRATE = Schema(attributes={"max_parallel": as_integer, "health_check": as_string,
                             "min_healthy_time": as_duration, "healthy_deadline": as_duration})

EPHEMERAL_DISK = Schema(attributes={"size": as_integer, "sticky": as_bool, "migrate": as_bool})

LOGS = Schema(attributes={"max_files": as_integer, "max_file_size": as_integer,
                          "enabled": as_bool, "disabled": as_bool})

LIFECYCLE = Schema(attributes={"hook": as_string, "sidecar": as_bool},
                   required=frozenset({"hook"}))

VOLUME = Schema(attributes={"type": as_string, "source": as_string, "read_only": as_bool,
                            "per_alloc": as_bool},
                unsupported=frozenset({"sticky", "access_mode", "attachment_mode",
                                       "mount_options"}))

VOLUME_MOUNT = Schema(attributes={"volume": as_string, "destination": as_string,
                                  "read_only": as_bool, "propagation_mode": as_string},
                      unsupported=frozenset({"selinux_label"}))

# api.TaskArtifact's hcl tags: options and headers are maps, written as blocks or attributes.
ARTIFACT = Schema(attributes={"source": as_string, "destination": as_string, "mode": as_string,
                              "insecure": as_bool, "chown": as_bool, "options": as_string_map,
                              "headers": as_string_map},
                  blocks={"options": _ONE, "headers": _ONE})

# Shorthands: `regexp = "..."` means operator "regexp" with that value, and so on.
_OPERATOR_SHORTHANDS = ("version", "semver", "regexp", "set_contains", "set_contains_all",
                        "set_contains_any")

CONSTRAINT = Schema(attributes={"attribute": as_string, "value": as_string, "operator": as_string,
                                "distinct_property": as_string, "distinct_hosts": as_bool,
                                **{name: as_string for name in _OPERATOR_SHORTHANDS}})

AFFINITY = Schema(attributes={"attribute": as_string, "value": as_string, "operator": as_string,
                              "weight": as_integer,
                              **{name: as_string for name in _OPERATOR_SHORTHANDS}})

SERVICE = Schema(
    attributes={"name": as_string, "tags": as_string_list, "canary_tags": as_string_list,
                "port": as_string, "address_mode": as_string, "address": as_string,
                "provider": as_string, "task": as_string, "on_update": as_string,
                "enable_tag_override": as_bool, "meta": as_string_map,
                "canary_meta": as_string_map, "tagged_addresses": as_string_map},
    blocks={"check": _MANY, "check_restart": _ONE, "meta": _ONE, "canary_meta": _ONE,
            "tagged_addresses": _ONE, "weights": _ONE},
    unsupported=frozenset({"connect", "identity", "cluster", "kind"}))

CHECK = Schema(
    attributes={"name": as_string, "type": as_string, "command": as_string,
                "args": as_string_list, "path": as_string, "protocol": as_string,
                "port": as_string, "address_mode": as_string, "interval": as_duration,
                "timeout": as_duration, "initial_status": as_string, "method": as_string,
                "task": as_string, "header": _as_header, "notes": as_string,
                "tls_server_name": as_string, "tls_skip_verify": as_bool,
                "grpc_service": as_string, "grpc_use_tls": as_bool,
                "success_before_passing": as_integer, "failures_before_critical": as_integer,
                "failures_before_warning": as_integer, "body": as_string,
                "on_update": as_string},
    blocks={"check_restart": _ONE, "header": _ONE},
    unsupported=frozenset({"expose", "advertise"}))

WEIGHTS = Schema(attributes={"passing": as_integer, "warning": as_integer})

CHECK_RESTART = Schema(attributes={"limit": as_integer, "grace": as_duration,
                                   "ignore_warnings": as_bool})

DEVICE = Schema(attributes={"count": as_integer},
                blocks={"constraint": _MANY, "affinity": _MANY})


def _where(block: Block, parent: str) -> str:
    if block.labels:
        return f"{block.type} {quote(block.labels[0])}"
    return f"{block.type} in {parent}" if parent else block.type


def _decode(block: Block, schema: Schema, parent: str) -> Decoded:
    return decode_body(block.body, schema, _where(block, parent), block.pos)


# -- job, group, task --------------------------------------------------------------------
def decode_job(block: Block) -> Job:
    """The Job a ``job "name" { ... }`` block describes (labels already checked)."""
    label = block.labels[0]
    d = _decode(block, JOB, "")
    where = d.where
    groups = [_group_of_task(task_block, where) for task_block in d.blocks_of("task")]
    groups += [decode_group(group_block, where) for group_block in d.blocks_of("group")]
    return Job(
        id=d.get("id", label),
        name=d.get("name", label),
        region=d.get("region"),
        namespace=d.get("namespace"),
        type=d.get("type"),
        priority=d.get("priority"),
        all_at_once=d.get("all_at_once", False),
        datacenters=d.get("datacenters", []),
        node_pool=d.get("node_pool"),
        constraints=[decode_constraint(b, where) for b in d.blocks_of("constraint")],
        affinities=[decode_affinity(b, where) for b in d.blocks_of("affinity")],
        task_groups=groups,
        update=_optional(d, "update", decode_update),
        reschedule=_optional(d, "reschedule", decode_reschedule),
        migrate=_optional(d, "migrate", decode_migrate),
        meta=string_map(d, "meta") or {},
    )


def _optional(d: Decoded, block_type: str, decoder: Any) -> Any:
    block = d.block(block_type)
    return decoder(block, d.where) if block is not None else None


def _group_of_task(block: Block, parent: str) -> TaskGroup:
    """A task written directly in the job becomes a group of its own (Nomad does this)."""
    task = decode_task(block, parent)
    return TaskGroup(name=task.name, tasks=[task])


def decode_group(block: Block, parent: str) -> TaskGroup:
    d = _decode(block, GROUP, parent)
    where = d.where
    volumes: dict[str, VolumeRequest] = {}
    for volume_block in d.blocks_of("volume"):
        name = volume_block.labels[0]
        if name in volumes:
            raise JobspecError(f"volume {quote(name)} is defined twice in {where}",
                               volume_block.pos)
        volumes[name] = decode_volume(volume_block, where)
    return TaskGroup(
        name=block.labels[0],
        count=d.get("count"),
        constraints=[decode_constraint(b, where) for b in d.blocks_of("constraint")],
        affinities=[decode_affinity(b, where) for b in d.blocks_of("affinity")],
        tasks=[decode_task(b, where) for b in d.blocks_of("task")],
        volumes=volumes,
        restart_policy=_optional(d, "restart", decode_restart),
        reschedule_policy=_optional(d, "reschedule", decode_reschedule),
        ephemeral_disk=_optional(d, "ephemeral_disk", decode_ephemeral_disk),
        update=_optional(d, "update", decode_update),
        migrate=_optional(d, "migrate", decode_migrate),
        networks=[decode_network(b, where) for b in d.blocks_of("network")],
        meta=string_map(d, "meta") or {},
        services=[decode_service(b, where) for b in d.blocks_of("service")],
        shutdown_delay=d.get("shutdown_delay"),
        scaling=_optional(d, "scaling", decode_scaling),
    )


def decode_scaling(block: Block, parent: str) -> ScalingPolicy:
    """A group's ``scaling`` block; ``policy`` is the autoscaler's, kept free-form."""
    d = _decode(block, SCALING, parent)
    if d.get("max") is None:
        raise JobspecError(f"missing max in {d.where}: a scaling block needs a maximum count",
                           block.pos)
    policy_block = d.block("policy")
    return ScalingPolicy(enabled=d.get("enabled"), min=d.get("min"), max=d.get("max"),
                         policy=decode_config(policy_block) if policy_block is not None else {})


def decode_task(block: Block, parent: str) -> Task:
    d = _decode(block, TASK, parent)
    where = d.where
    config_block = d.block("config")
    return Task(
        name=block.labels[0],
        driver=d.get("driver", ""),
        user=d.get("user", ""),
        config=decode_config(config_block) if config_block is not None else {},
        env=string_map(d, "env") or {},
        meta=string_map(d, "meta") or {},
        constraints=[decode_constraint(b, where) for b in d.blocks_of("constraint")],
        affinities=[decode_affinity(b, where) for b in d.blocks_of("affinity")],
        services=[decode_service(b, where) for b in d.blocks_of("service")],
        resources=_optional(d, "resources", decode_resources),
        restart_policy=_optional(d, "restart", decode_restart),
        kill_timeout=d.get("kill_timeout"),
        kill_signal=d.get("kill_signal", ""),
        log_config=_optional(d, "logs", decode_logs),
        volume_mounts=[decode_volume_mount(b, where) for b in d.blocks_of("volume_mount")],
        lifecycle=_optional(d, "lifecycle", decode_lifecycle),
        leader=d.get("leader", False),
        shutdown_delay=d.get("shutdown_delay", 0),
        kind=d.get("kind", ""),
        templates=[decode_template(b, where) for b in d.blocks_of("template")],
        artifacts=[decode_artifact(b, where) for b in d.blocks_of("artifact")],
    )


# -- task config -------------------------------------------------------------------------
def decode_config(block: Block) -> dict[str, Any]:
    """A task's free-form ``config`` block, shaped the way Nomad hands it to drivers."""
    return _config_body(block.body, "config")


def _config_body(body: Body, where: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, attribute in body.attributes.items():
        value = attribute.value
        result[name] = [value] if attribute.is_object_literal else value
    grouped: dict[str, list[Any]] = {}
    for inner in body.blocks:
        if inner.type in body.attributes:
            raise JobspecError(f"{quote(inner.type)} in {where} is set both as an attribute (line "
                               f"{body.attributes[inner.type].pos.line}) and as a block",
                               inner.pos)
        value = _config_body(inner.body, f"{inner.type} in {where}")
        for label in reversed(inner.labels):
            value = {label: [value]}
        grouped.setdefault(inner.type, []).append(value)
    result.update(grouped)
    return result


# -- the smaller blocks ------------------------------------------------------------------
def decode_constraint(block: Block, parent: str) -> Constraint:
    d = _decode(block, CONSTRAINT, parent)
    constraint = Constraint(l_target=d.get("attribute", ""), r_target=d.get("value", ""),
                            operand=d.get("operator", ""))
    for operator in _OPERATOR_SHORTHANDS:
        if d.get(operator):
            constraint.operand, constraint.r_target = operator, d.get(operator)
    if d.has("distinct_hosts"):
        constraint.operand = "distinct_hosts"
        constraint.r_target = "true" if d.get("distinct_hosts") else "false"
    if d.get("distinct_property"):
        constraint.operand, constraint.l_target = "distinct_property", d.get("distinct_property")
    if not constraint.operand:
        constraint.operand = "="
    return constraint


def decode_affinity(block: Block, parent: str) -> Affinity:
    d = _decode(block, AFFINITY, parent)
    affinity = Affinity(l_target=d.get("attribute", ""), r_target=d.get("value", ""),
                        operand=d.get("operator", ""))
    if d.has("weight"):
        affinity.weight = d.get("weight")
    for operator in _OPERATOR_SHORTHANDS:
        if d.get(operator):
            affinity.operand, affinity.r_target = operator, d.get(operator)
    if not affinity.operand:
        affinity.operand = "="
    return affinity


def decode_restart(block: Block, parent: str) -> RestartPolicy:
    d = _decode(block, RESTART, parent)
    return RestartPolicy(attempts=d.get("attempts"), interval=d.get("interval"),
                         delay=d.get("delay"), mode=d.get("mode"),
                         render_templates=d.get("render_templates"))


def decode_reschedule(block: Block, parent: str) -> ReschedulePolicy:
    d = _decode(block, RESCHEDULE, parent)
    return ReschedulePolicy(attempts=d.get("attempts"), interval=d.get("interval"),
                            delay=d.get("delay"), delay_function=d.get("delay_function"),
                            max_delay=d.get("max_delay"), unlimited=d.get("unlimited"))


def decode_update(block: Block, parent: str) -> UpdateStrategy:
    d = _decode(block, UPDATE, parent)
    return UpdateStrategy(stagger=d.get("stagger"), max_parallel=d.get("max_parallel"),
                          health_check=d.get("health_check"),
                          min_healthy_time=d.get("min_healthy_time"),
                          healthy_deadline=d.get("healthy_deadline"),
                          progress_deadline=d.get("progress_deadline"), canary=d.get("canary"),
                          auto_revert=d.get("auto_revert"), auto_promote=d.get("auto_promote"))


def decode_migrate(block: Block, parent: str) -> MigrateStrategy:
    d = _decode(block, MIGRATE, parent)
    return MigrateStrategy(max_parallel=d.get("max_parallel"), health_check=d.get("health_check"),
                           min_healthy_time=d.get("min_healthy_time"),
                           healthy_deadline=d.get("healthy_deadline"))


def decode_ephemeral_disk(block: Block, parent: str) -> EphemeralDisk:
    d = _decode(block, EPHEMERAL_DISK, parent)
    return EphemeralDisk(sticky=d.get("sticky"), migrate=d.get("migrate"), size_mb=d.get("size"))


def decode_logs(block: Block, parent: str) -> LogConfig:
    d = _decode(block, LOGS, parent)
    disabled = d.get("disabled")
    if disabled is None and d.has("enabled"):
        disabled = not d.get("enabled")  # the pre-1.6 spelling
    return LogConfig(max_files=d.get("max_files"), max_file_size_mb=d.get("max_file_size"),
                     disabled=disabled)


def decode_lifecycle(block: Block, parent: str) -> TaskLifecycle:
    d = _decode(block, LIFECYCLE, parent)
    return TaskLifecycle(hook=d.get("hook"), sidecar=d.get("sidecar", False))


def decode_artifact(block: Block, parent: str) -> TaskArtifact:
    d = _decode(block, ARTIFACT, parent)
    return TaskArtifact(getter_source=d.get("source", ""),
                        getter_options=string_map(d, "options") or {},
                        getter_headers=string_map(d, "headers") or {},
                        getter_mode=d.get("mode", ""), getter_insecure=d.get("insecure", False),
                        relative_dest=d.get("destination", ""), chown=d.get("chown", False))


def decode_volume(block: Block, parent: str) -> VolumeRequest:
    d = _decode(block, VOLUME, parent)
    return VolumeRequest(name=block.labels[0], type=d.get("type", ""), source=d.get("source", ""),
                         read_only=d.get("read_only", False), per_alloc=d.get("per_alloc", False))


def decode_volume_mount(block: Block, parent: str) -> VolumeMount:
    d = _decode(block, VOLUME_MOUNT, parent)
    return VolumeMount(volume=d.get("volume", ""), destination=d.get("destination", ""),
                       read_only=d.get("read_only", False),
                       propagation_mode=d.get("propagation_mode", ""))


def decode_template(block: Block, parent: str) -> Template:
    """``template { ... }``: Nomad's attribute names (``data``, ``destination``, ``env``,
    ``left_delimiter`` ...) onto the API fields (``EmbeddedTmpl``, ``DestPath`` ...)."""
    d = _decode(block, TEMPLATE, parent)
    script = d.block("change_script")
    wait = d.block("wait")
    return Template(
        source_path=d.get("source", ""), dest_path=d.get("destination", ""),
        embedded_tmpl=d.get("data", ""), change_mode=d.get("change_mode"),
        change_signal=d.get("change_signal"),
        change_script=decode_change_script(script, d.where) if script is not None else None,
        once=d.get("once", False), splay=d.get("splay"), perms=d.get("perms"),
        uid=d.get("uid"), gid=d.get("gid"), left_delim=d.get("left_delimiter"),
        right_delim=d.get("right_delimiter"), envvars=d.get("env", False),
        vault_grace=d.get("vault_grace", 0),
        wait=decode_template_wait(wait, d.where) if wait is not None else None,
        err_missing_key=d.get("error_on_missing_key", False))


def decode_change_script(block: Block, parent: str) -> ChangeScript:
    d = _decode(block, CHANGE_SCRIPT, parent)
    return ChangeScript(command=d.get("command", ""), args=d.get("args", []),
                        timeout=d.get("timeout"), fail_on_error=d.get("fail_on_error", False),
                        run_on_first_render=d.get("run_on_first_render", False))


def decode_template_wait(block: Block, parent: str) -> WaitConfig:
    d = _decode(block, TEMPLATE_WAIT, parent)
    return WaitConfig(min=d.get("min"), max=d.get("max"))


def decode_resources(block: Block, parent: str) -> Resources:
    d = _decode(block, RESOURCES, parent)
    return Resources(cpu=d.get("cpu"), cores=d.get("cores"), memory_mb=d.get("memory"),
                     memory_max_mb=d.get("memory_max"), disk_mb=d.get("disk"), iops=d.get("iops"),
                     networks=[decode_network(b, d.where) for b in d.blocks_of("network")],
                     devices=[decode_device(b, d.where) for b in d.blocks_of("device")])


def decode_device(block: Block, parent: str) -> dict[str, Any]:
    """A requested device in the API's JSON shape (Resources.Devices holds plain data)."""
    d = _decode(block, DEVICE, parent)
    device: dict[str, Any] = {"Name": block.labels[0]}
    if d.has("count"):
        device["Count"] = d.get("count")
    device["Constraints"] = [to_api(decode_constraint(b, d.where))
                             for b in d.blocks_of("constraint")]
    device["Affinities"] = [to_api(decode_affinity(b, d.where)) for b in d.blocks_of("affinity")]
    return device


def decode_network(block: Block, parent: str) -> NetworkResource:
    d = _decode(block, NETWORK, parent)
    network = NetworkResource(mode=d.get("mode", ""), device=d.get("device", ""),
                              cidr=d.get("cidr", ""), ip=d.get("ip", ""),
                              hostname=d.get("hostname", ""), mbits=d.get("mbits"))
    for port_block in d.blocks_of("port") + d.blocks_of("reserved_ports"):
        p = _decode(port_block, PORT, d.where)
        port = Port(label=port_block.labels[0], value=p.get("static", 0), to=p.get("to", 0),
                    host_network=p.get("host_network", ""),
                    ignore_collision=p.get("ignore_collision", False))
        # Nomad: a port with a static value is reserved, any other is dynamic.
        if port.value > 0 or port_block.type == "reserved_ports":
            network.reserved_ports.append(port)
        else:
            network.dynamic_ports.append(port)
    dns_block = d.block("dns")
    if dns_block is not None:
        dns = _decode(dns_block, DNS, d.where)
        network.dns = DNSConfig(servers=dns.get("servers", []), searches=dns.get("searches", []),
                                options=dns.get("options", []))
    return network


def decode_service(block: Block, parent: str) -> Service:
    d = _decode(block, SERVICE, parent)
    weights = d.block("weights")
    return Service(
        name=d.get("name", ""), tags=d.get("tags", []), canary_tags=d.get("canary_tags", []),
        port_label=d.get("port", ""), address_mode=d.get("address_mode", ""),
        address=d.get("address", ""), provider=d.get("provider", ""),
        task_name=d.get("task", ""), on_update=d.get("on_update", ""),
        enable_tag_override=d.get("enable_tag_override", False),
        checks=[decode_check(b, d.where) for b in d.blocks_of("check")],
        check_restart=_optional(d, "check_restart", decode_check_restart),
        meta=string_map(d, "meta") or {},
        canary_meta=string_map(d, "canary_meta") or {},
        tagged_addresses=string_map(d, "tagged_addresses") or {},
        weights=decode_weights(weights, d.where) if weights is not None else None,
    )


def decode_weights(block: Block, parent: str) -> ServiceWeights:
    d = _decode(block, WEIGHTS, parent)
    return ServiceWeights(passing=d.get("passing", 0), warning=d.get("warning", 0))


def decode_check(block: Block, parent: str) -> ServiceCheck:
    d = _decode(block, CHECK, parent)
    return ServiceCheck(
        name=d.get("name", ""), type=d.get("type", ""), command=d.get("command", ""),
        args=d.get("args", []), path=d.get("path", ""), protocol=d.get("protocol", ""),
        port_label=d.get("port", ""), address_mode=d.get("address_mode", ""),
        interval=d.get("interval", 0), timeout=d.get("timeout", 0),
        initial_status=d.get("initial_status", ""), method=d.get("method", ""),
        header=_header(d), task_name=d.get("task", ""), notes=d.get("notes", ""),
        tls_server_name=d.get("tls_server_name", ""),
        tls_skip_verify=d.get("tls_skip_verify", False),
        grpc_service=d.get("grpc_service", ""), grpc_use_tls=d.get("grpc_use_tls", False),
        success_before_passing=d.get("success_before_passing", 0),
        failures_before_critical=d.get("failures_before_critical", 0),
        failures_before_warning=d.get("failures_before_warning", 0),
        body=d.get("body", ""), on_update=d.get("on_update", ""),
        check_restart=_optional(d, "check_restart", decode_check_restart),
    )


def _header(d: Decoded) -> dict[str, list[str]]:
    block = d.block("header")
    if block is not None and d.attribute("header") is not None:
        raise JobspecError(f"header is given twice in {d.where}", block.pos)
    if block is None:
        return d.get("header", {})
    check_labels(block, _ONE)
    where = f"header in {d.where}"
    if block.body.blocks:
        raise JobspecError(f"{where} holds only name = [values] pairs", block.body.blocks[0].pos)
    header = {}
    for name, attribute in block.body.attributes.items():
        try:
            header[name] = convert(attribute.value, list_of(STRING))
        except ConversionError as err:
            raise JobspecError(f"invalid value for {quote(name)} in {where}: {err}",
                               attribute.value_pos) from None
    return header


def decode_check_restart(block: Block, parent: str) -> CheckRestart:
    d = _decode(block, CHECK_RESTART, parent)
    return CheckRestart(limit=d.get("limit", 0), grace=d.get("grace"),
                        ignore_warnings=d.get("ignore_warnings", False))
