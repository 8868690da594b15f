"""Whether a job update can be applied to running allocations in place.

Some changes only need the client to pick up the new job version (count,
update strategy, service tags, restart policy...): the allocation keeps
running where it is.  Others change what runs or the resources and ports it
holds (driver, config, env, user, resources, networks, meta, artifacts,
templates, volumes...): the allocation must be stopped and a replacement
placed.  This is Nomad's ``tasksUpdated``.
"""

from __future__ import annotations

from typing import Any

from ..structs import Job, NetworkResource, Resources, RestartPolicy, TaskGroup


def destructive_change(old_job: Job, new_job: Job, group_name: str) -> str | None:
    """What forces a replacement of ``group_name``'s allocations when moving
    from ``old_job`` to ``new_job`` ("task config", "network port map"...),
    or None when they can be updated in place."""
    old = old_job.lookup_task_group(group_name)
    new = new_job.lookup_task_group(group_name)
    if old is None or new is None:
        return "task group"
    if len(old.tasks) != len(new.tasks):
        return "number of tasks"
    if old.ephemeral_disk != new.ephemeral_disk:
        return "ephemeral disk"
    change = _networks_changed(old.networks, new.networks)
    if change:
        return change
    if old.volumes != new.volumes:
        return "volume request"
    if _render_templates(old.restart_policy) != _render_templates(new.restart_policy):
        return "group restart render_templates"
    for old_task in old.tasks:
        new_task = new.lookup_task(old_task.name)
        if new_task is None:
            return "task deleted"
        for label, attr in (("task driver", "driver"), ("task user", "user"),
                            ("task config", "config"), ("task env", "env"),
                            ("task artifacts", "artifacts"), ("task templates", "templates"),
                            ("task vault", "vault"), ("task volume mount", "volume_mounts")):
            if getattr(old_task, attr, None) != getattr(new_task, attr, None):
                return label
        if _combined_meta(old_job, old, old_task.meta) != _combined_meta(new_job, new,
                                                                          new_task.meta):
            return "task meta"
        old_res, new_res = old_task.resources or Resources(), new_task.resources or Resources()
        change = _networks_changed(old_res.networks, new_res.networks)
        if change:
            return change
        change = _resources_changed(old_res, new_res)
        if change:
            return change
        old_log, new_log = old_task.log_config, new_task.log_config
        if bool(old_log and old_log.disabled) != bool(new_log and new_log.disabled):
            return "task log disabled"
        if _render_templates(old_task.restart_policy) != _render_templates(
                new_task.restart_policy):
            return "task restart render_templates"
    return None


def _combined_meta(job: Job, group: TaskGroup, task_meta: dict[str, str]) -> dict[str, str]:
    return {**job.meta, **group.meta, **task_meta}


def _render_templates(policy: RestartPolicy | None) -> bool:
    return bool(policy is not None and policy.render_templates)


def _resources_changed(old: Resources, new: Resources) -> str | None:
    for label, attr in (("task cpu", "cpu"), ("task cores", "cores"),
                        ("task memory", "memory_mb"), ("task memory max", "memory_max_mb"),
                        ("task devices", "devices")):
        if getattr(old, attr) != getattr(new, attr):
            return label
    return None


def _networks_changed(old: list[NetworkResource], new: list[NetworkResource]) -> str | None:
    if len(old) != len(new):
        return "network lengths"
    for a, b in zip(old, new, strict=True):
        for label, attr in (("network mode", "mode"), ("network mbits", "mbits"),
                            ("network hostname", "hostname"), ("network dns", "dns")):
            if getattr(a, attr) != getattr(b, attr):
                return label
        if _port_map(a) != _port_map(b):
            return "network port map"
    return None


def _port_map(network: NetworkResource) -> list[tuple[Any, ...]]:
    """The ports a network asks for; a dynamic port's assigned value does not count."""
    return ([(p.label, p.value, p.to, p.host_network) for p in network.reserved_ports]
            + [(p.label, -1, p.to, p.host_network) for p in network.dynamic_ports])
