"""``alloc status <alloc>``: one allocation, its tasks and their recent events."""

from __future__ import annotations

from typing import Any

import click

from ..api import ApiClient, ApiError, ApiNotFound
from ..structs import Allocation, TaskState, format_duration, to_api
from ..structs.task_events import display_message
from .alloc_checks import format_checks_table
from .flags import nomad_option
from .format import (
    FULL_ID,
    SHORT_ID,
    format_kv,
    format_list,
    format_list_with_spaces,
    format_task_time,
    format_time_ns,
    ibytes,
    limit,
    pretty_time_diff,
    to_json,
)
from .lookup import alloc_stub_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .views import format_alloc_metrics

MB = 1024 * 1024


@click.command("status", cls=NomadCommand)
@common_options
@nomad_option("-short", "short", is_flag=True, help="Only the most recent task event.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs, times and placement metrics.")
@nomad_option("-stats", "stats", is_flag=True, help="Detailed resource usage statistics.")
@nomad_option("-json", "as_json", is_flag=True, help="Print the allocation as JSON.")
@click.argument("args", nargs=-1, metavar="<allocation>")
def alloc_status(meta: Meta, args: tuple[str, ...], short: bool, verbose: bool, stats: bool,
                 as_json: bool) -> int:
    """Display allocation status information and metadata."""
    client = meta.client()
    if not args and as_json:
        try:
            allocs, _ = client.allocations()
        except ApiError as err:
            raise CommandFailed(f"Error querying allocations: {err}") from None
        meta.ui.output(to_json(allocs))
        return 0
    if len(args) != 1:
        raise meta.usage_error("This command takes one of the following argument conditions:\n"
                               " * A single <allocation>\n"
                               " * No arguments, with output format specified")
    length = FULL_ID if verbose else SHORT_ID
    stub = alloc_stub_by_prefix(meta, client, args[0], verbose=verbose, multiple_is_error=False)
    try:
        alloc, _ = client.allocation(stub["ID"], namespace=stub.get("Namespace") or None)
    except ApiError as err:
        raise CommandFailed(f"Error querying allocation: {err}") from None
    if as_json:
        meta.ui.output(to_json(to_api(alloc)))
        return 0

    ui = meta.ui
    if short:
        ui.output(_short_info(meta, alloc))
        _short_task_status(meta, alloc)
    else:
        ui.output(basic_info(meta, alloc, length, verbose))
        addresses = _network_info(alloc)
        if addresses:
            ui.output("")
            ui.output(addresses)
        checks = _nomad_checks(client, alloc)
        if checks:
            ui.output("")
            ui.output(checks)
        usage = _stats(meta, client, alloc, stats)
        _task_details(meta, alloc, usage, stats)
    if verbose:
        ui.output(ui.colorize("\n[bold]Placement Metrics[reset]"))
        if alloc.metrics is not None:
            ui.output(ui.colorize(format_alloc_metrics(alloc.metrics, scores=True, prefix="  ")))
    return 0


def _short_info(meta: Meta, alloc: Allocation) -> str:
    now = meta.now()
    return format_kv([f"ID|{alloc.id}", f"Name|{alloc.name}",
                      f"Created|{pretty_time_diff(alloc.create_time, now)}",
                      f"Modified|{pretty_time_diff(alloc.modify_time, now)}"])


def basic_info(meta: Meta, alloc: Allocation, length: int, verbose: bool) -> str:
    now = meta.now()
    if verbose:
        created, modified = format_time_ns(alloc.create_time), format_time_ns(alloc.modify_time)
    else:
        created = pretty_time_diff(alloc.create_time, now)
        modified = pretty_time_diff(alloc.modify_time, now)
    rows = [
        f"ID|{alloc.id}",
        f"Eval ID|{limit(alloc.eval_id, length)}",
        f"Name|{alloc.name}",
        f"Node ID|{limit(alloc.node_id, length)}",
        f"Node Name|{alloc.node_name}",
        f"Job ID|{alloc.job_id}",
        f"Job Version|{alloc.job.version if alloc.job else 0}",
        f"Client Status|{alloc.client_status}",
        f"Client Description|{alloc.client_description}",
        f"Desired Status|{alloc.desired_status}",
        f"Desired Description|{alloc.desired_description}",
        f"Created|{created}",
        f"Modified|{modified}",
    ]
    if alloc.deployment_id:
        health, canary = "unset", False
        if alloc.deployment_status is not None:
            if alloc.deployment_status.healthy is not None:
                health = "healthy" if alloc.deployment_status.healthy else "unhealthy"
            canary = alloc.deployment_status.canary
        rows += [f"Deployment ID|{limit(alloc.deployment_id, length)}",
                 f"Deployment Health|{health}"]
        if canary:
            rows.append("Canary|true")
    if alloc.next_allocation:
        rows.append(f"Replacement Alloc ID|{limit(alloc.next_allocation, length)}")
    if verbose and alloc.metrics is not None:
        rows += [f"Evaluated Nodes|{alloc.metrics.nodes_evaluated}",
                 f"Filtered Nodes|{alloc.metrics.nodes_filtered}",
                 f"Exhausted Nodes|{alloc.metrics.nodes_exhausted}",
                 f"Allocation Time|{format_duration(alloc.metrics.allocation_time)}",
                 f"Failures|{alloc.metrics.coalesced_failures}"]
    return format_kv(rows)


def _network_info(alloc: Allocation) -> str:
    """``Allocation Addresses`` when the group network has ports."""
    resources = alloc.allocated_resources
    if resources is None or not resources.shared.networks:
        return ""
    network = resources.shared.networks[0]
    if not network.ports() and not resources.shared.ports:
        return ""
    rows = ["Label|Dynamic|Address"]

    def row(label: str, value: int, to: int, host_ip: str) -> str:
        text = f"{label}|yes|{host_ip}:{value}"
        return text + (f" -> {to}" if to > 0 else "")

    if resources.shared.ports:
        rows += [row("*" + p.label, p.value, p.to, p.host_ip) for p in resources.shared.ports]
    else:
        rows += [row(p.label, p.value, p.to, network.ip) for p in network.dynamic_ports]
        rows += [row(p.label, p.value, p.to, network.ip) for p in network.reserved_ports]
    mode = f' (mode = "{network.mode}")' if network.mode else ""
    return f"Allocation Addresses{mode}:\n{format_list(rows)}"


def _nomad_checks(client: ApiClient, alloc: Allocation) -> str:
    """The "Nomad Service Checks" table; nothing when there are none or the client
    cannot be asked (as Nomad: the rest of the status matters more)."""
    try:
        return format_checks_table(client.allocation_checks(
            alloc.id, namespace=alloc.namespace or None))
    except ApiError:
        return ""


def _stats(meta: Meta, client: ApiClient, alloc: Allocation, wanted: bool) -> dict[str, Any]:
    """Live usage from the client; a missing stats endpoint only matters with ``-stats``."""
    try:
        return client.allocation_stats(alloc.id, namespace=alloc.namespace or None)
    except ApiNotFound as err:
        if wanted:
            meta.ui.output("")
            meta.ui.error(f"Couldn't retrieve stats: {err}")
    except ApiError as err:
        meta.ui.output("")
        meta.ui.error(f"Couldn't retrieve stats: {err}")
    return {}


def _sorted_tasks(alloc: Allocation) -> list[str]:
    """Task names sorted by name, main tasks before sidecars, as Nomad orders them."""
    lifecycles = {}
    group = alloc.lookup_task_group()
    if group is not None:
        lifecycles = {t.name: t.lifecycle for t in group.tasks}
    names = sorted(alloc.task_states)

    def rank(name: str) -> int:
        lifecycle = lifecycles.get(name)
        if lifecycle is None or not lifecycle.hook:
            return 1
        return 0 if not lifecycle.sidecar else 1

    return sorted(names, key=rank)


def _lifecycle_name(alloc: Allocation, task: str) -> str:
    group = alloc.lookup_task_group()
    spec = group.lookup_task(task) if group else None
    if spec is None or spec.lifecycle is None or not spec.lifecycle.hook:
        return "main"
    return spec.lifecycle.hook + (" sidecar" if spec.lifecycle.sidecar else "")


def _short_task_status(meta: Meta, alloc: Allocation) -> None:
    rows = ["Name|State|Last Event|Time|Lifecycle"]
    for task in _sorted_tasks(alloc):
        state = alloc.task_states[task]
        last_type = last_time = ""
        if state.events:
            last_type = state.events[-1].type
            last_time = format_time_ns(state.events[-1].time)
        rows.append(f"{task}|{state.state}|{last_type}|{last_time}|"
                    f"{_lifecycle_name(alloc, task)}")
    meta.ui.output(meta.ui.colorize("\n[bold]Tasks[reset]"))
    meta.ui.output(format_list(rows))


def _task_details(meta: Meta, alloc: Allocation, usage: dict[str, Any], show_stats: bool) -> None:
    ui = meta.ui
    for task in _sorted_tasks(alloc):
        state = alloc.task_states[task]
        name = _lifecycle_name(alloc, task)
        indicator = f" ({name})" if name != "main" else ""
        ui.output(ui.colorize(f'\n[bold]Task "{task}"{indicator} is "{state.state}"[reset]'))
        _task_resources(meta, alloc, task, usage)
        task_usage = ((usage.get("Tasks") or {}).get(task) or {}).get("ResourceUsage")
        if show_stats and task_usage:
            ui.output("")
            _verbose_usage(meta, task_usage)
        ui.output("")
        _task_status(meta, state)


_MEMORY_FIELDS = {"RSS": "RSS", "Cache": "Cache", "Swap": "Swap", "Usage": "Usage",
                  "Max Usage": "MaxUsage", "Kernel Usage": "KernelUsage",
                  "Kernel Max Usage": "KernelMaxUsage"}
_CPU_PERCENT_FIELDS = {"Percent": "Percent", "User Mode": "UserMode",
                       "System Mode": "SystemMode"}


def _verbose_usage(meta: Meta, usage: dict[str, Any]) -> None:
    """``-stats``: the measured memory and CPU figures, one table each."""
    ui = meta.ui
    memory = usage.get("MemoryStats") or {}
    measured = sorted(memory.get("Measured") or [])
    if measured:
        ui.output("Memory Stats")
        values = [ibytes(int(memory.get(_MEMORY_FIELDS[m]) or 0)) for m in measured
                  if m in _MEMORY_FIELDS]
        ui.output(format_list(["|".join(m for m in measured if m in _MEMORY_FIELDS),
                               "|".join(values)]))
        ui.output("")
    cpu = usage.get("CpuStats") or {}
    measured = sorted(cpu.get("Measured") or [])
    if measured:
        ui.output("CPU Stats")
        values = []
        for name in measured:
            if name in _CPU_PERCENT_FIELDS:
                values.append(f"{float(cpu.get(_CPU_PERCENT_FIELDS[name]) or 0):.2f}%")
            elif name == "Throttled Periods":
                values.append(str(cpu.get("ThrottledPeriods") or 0))
            elif name == "Throttled Time":
                values.append(str(cpu.get("ThrottledTime") or 0))
        ui.output(format_list(["|".join(measured), "|".join(values)]))


def _task_resources(meta: Meta, alloc: Allocation, task: str, usage: dict[str, Any]) -> None:
    resources = alloc.allocated_resources
    if resources is None or task not in resources.tasks:
        return
    allocated = resources.tasks[task]
    addresses = [f"{port.label}: {network.ip}:{port.value}"
                 for network in allocated.networks for port in network.ports()]
    cores = len(allocated.cpu.reserved_cores)
    cpu_header = f"CPU ({cores} cores)" if cores else "CPU"
    cpu = str(allocated.cpu.cpu_shares)
    memory = ibytes(allocated.memory.memory_mb * MB)
    memory_max = ""
    if allocated.memory.memory_max_mb and allocated.memory.memory_max_mb != \
            allocated.memory.memory_mb:
        memory_max = "Max: " + ibytes(allocated.memory.memory_max_mb * MB)
    task_usage = ((usage.get("Tasks") or {}).get(task) or {}).get("ResourceUsage") or {}
    cpu_stats = task_usage.get("CpuStats")
    if cpu_stats:
        cpu = f"{int(float(cpu_stats.get('TotalTicks') or 0))}/{cpu}"
    memory_stats = task_usage.get("MemoryStats")
    if memory_stats:
        used = int(memory_stats.get("RSS") or 0)
        if used == 0 and "RSS" not in (memory_stats.get("Measured") or []):
            used = int(memory_stats.get("Usage") or 0)
        memory = f"{ibytes(used)}/{memory}"
    rows = [f"{cpu_header}|Memory|Disk|Addresses",
            f"{cpu} MHz|{memory}|{ibytes(resources.shared.disk_mb * MB)}|"
            f"{addresses[0] if addresses else ''}"]
    if memory_max or len(addresses) > 1:
        rows.append(f"|{memory_max}||{addresses[1] if len(addresses) > 1 else ''}")
    rows += [f"|||{address}" for address in addresses[2:]]
    meta.ui.output("Task Resources:")
    meta.ui.output(format_list_with_spaces(rows))


def _task_status(meta: Meta, state: TaskState) -> None:
    ui = meta.ui
    ui.output("Task Events:")
    ui.output(format_kv([f"Started At|{format_task_time(state.started_at)}",
                         f"Finished At|{format_task_time(state.finished_at)}",
                         f"Total Restarts|{state.restarts}",
                         f"Last Restart|{format_task_time(state.last_restart)}"]))
    ui.output("")
    ui.output("Recent Events:")
    rows = ["Time|Type|Description"]
    for event in reversed(state.events):
        message = event.display_message or display_message(event)
        rows.append(f"{format_time_ns(event.time)}|{event.type}|{message}")
    ui.output(format_list(rows))
