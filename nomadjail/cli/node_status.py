"""``node status [-self] [node]``: the client nodes table, or one node in detail."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from ..api import ApiClient, ApiError, ApiNotFound
from ..structs import Allocation, AllocClientStatus, Node, format_duration, to_api
from .flags import nomad_option
from .format import (
    FULL_ID,
    SHORT_ID,
    format_kv,
    format_list,
    format_rfc3339,
    format_time_ns,
    ibytes,
    limit,
    pretty_time_diff,
    rfc3339_ns,
    to_json,
)
from .lookup import local_node_id, node_stub_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .views import go_bool

MB = 1024 * 1024


@click.command("status", cls=NomadCommand)
@common_options
@nomad_option("-self", "self_", is_flag=True, help="The node of the agent answering.")
@nomad_option("-short", "short", is_flag=True, help="Drop the resource and allocation detail.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs, attributes and meta.")
@nomad_option("-allocs", "allocs", is_flag=True, help="Count running allocations per node.")
@nomad_option("-os", "os_", is_flag=True, help="Show each node's operating system.")
@nomad_option("-quiet", "quiet", is_flag=True, help="Only node IDs.")
@nomad_option("-stats", "stats", is_flag=True, help="Detailed host statistics.")
@nomad_option("-json", "as_json", is_flag=True, help="Print the node(s) as JSON.")
@click.argument("args", nargs=-1, metavar="[<node>]")
def node_status(meta: Meta, args: tuple[str, ...], self_: bool, short: bool, verbose: bool,
                allocs: bool, os_: bool, quiet: bool, stats: bool, as_json: bool) -> int:
    """Display status information about nodes."""
    if len(args) > 1:
        raise meta.usage_error("This command takes either one or no arguments")
    length = FULL_ID if verbose else SHORT_ID
    client = meta.client()
    if not args and not self_:
        return _list_nodes(meta, client, length=length, verbose=verbose, with_allocs=allocs,
                           with_os=os_, quiet=quiet, as_json=as_json)
    node_id = local_node_id(client) if self_ else args[0]
    stub = node_stub_by_prefix(client, node_id, verbose_list=verbose,
                               error_prefix="Error querying node info",
                               not_found="No node(s) with prefix")
    try:
        node, _ = client.node(stub["ID"])
    except ApiError as err:
        raise CommandFailed(f"Error querying node info: {err}") from None
    if as_json:
        data = to_api(node)
        data["SecretID"] = ""
        meta.ui.output(to_json(data))
        return 0
    return _format_node(meta, client, node, length=length, short=short, verbose=verbose,
                        show_stats=stats)


def _list_nodes(meta: Meta, client: ApiClient, *, length: int, verbose: bool,
                with_allocs: bool, with_os: bool, quiet: bool, as_json: bool) -> int:
    if quiet and (verbose or as_json):
        raise CommandFailed("-quiet cannot be used with -verbose or -json")
    try:
        nodes, _ = client.nodes(os=with_os)
    except ApiError as err:
        raise CommandFailed(f"Error querying node status: {err}") from None
    if as_json:
        meta.ui.output(to_json(nodes))
        return 0
    if not nodes:
        meta.ui.output("No nodes registered")
        return 0
    if quiet:
        meta.ui.output(format_list([n.get("ID", "") for n in nodes]))
        return 0
    header = "ID|Node Pool|DC|Name|Class|"
    if with_os:
        header += "OS|"
    if verbose:
        header += "Address|Version|"
    header += "Drain|Eligibility|Status"
    if with_allocs:
        header += "|Running Allocs"
    rows = [header]
    for node in nodes:
        row = (f"{limit(node.get('ID', ''), length)}|{node.get('NodePool', '')}|"
               f"{node.get('Datacenter', '')}|{node.get('Name', '')}|{node.get('NodeClass', '')}")
        if with_os:
            row += f"|{(node.get('Attributes') or {}).get('os.name', '')}"
        if verbose:
            row += f"|{node.get('Address', '')}|{node.get('Version', '')}"
        row += (f"|{go_bool(bool(node.get('Drain')))}|{node.get('SchedulingEligibility', '')}|"
                f"{node.get('Status', '')}")
        if with_allocs:
            try:
                node_allocs, _ = client.node_allocations(node["ID"])
            except ApiError as err:
                raise CommandFailed(f"Error querying node allocations: {err}") from None
            running = [a for a in node_allocs if a.client_status == AllocClientStatus.RUNNING]
            row += f"|{len(running)}"
        rows.append(row)
    meta.ui.output(format_list(rows))
    return 0


def format_drain(node: Node) -> str:
    strategy = node.drain_strategy
    if strategy is None:
        return go_bool(node.drain)
    text = "true"
    if strategy.deadline < 0:
        text += "; force drain"
    elif rfc3339_ns(strategy.force_deadline) == 0:
        text += "; no deadline"
    else:
        text += f"; {format_rfc3339(strategy.force_deadline)} deadline"
    if strategy.ignore_system_jobs:
        text += "; ignoring system jobs"
    return text


def _format_node(meta: Meta, client: ApiClient, node: Node, *, length: int, short: bool,
                 verbose: bool, show_stats: bool) -> int:
    ui = meta.ui
    try:
        node_allocs, _ = client.node_allocations(node.id)
    except ApiError as err:
        raise CommandFailed(f"Error querying node allocations: {err}") from None
    running = [a for a in node_allocs if a.client_status == AllocClientStatus.RUNNING]
    drivers = sorted(name for name, info in node.drivers.items() if info.detected)
    rows = [
        f"ID|{node.id}",
        f"Name|{node.name}",
        f"Node Pool|{node.node_pool}",
        f"Class|{node.node_class}",
        f"DC|{node.datacenter}",
        f"Drain|{format_drain(node)}",
        f"Eligibility|{node.scheduling_eligibility}",
        f"Status|{node.status}",
        "CSI Controllers|",
        "CSI Drivers|",
    ]
    if short:
        rows += ["Host Volumes|", "Host Networks|", "CSI Volumes|",
                 f"Drivers|{','.join(_attribute_drivers(node))}"]
        ui.output(ui.colorize(format_kv(rows)))
        _output_allocs(meta, node, node_allocs, length, verbose)
        return 0

    host_stats = _host_stats(meta, client, node)
    if host_stats:
        rows.append(f"Uptime|{format_duration(int(host_stats.get('Uptime') or 0) * 1_000_000_000)}")
    if not verbose:
        status = ",".join(name if node.drivers[name].healthy else f"{name} (unhealthy)"
                          for name in drivers)
        rows += ["Host Volumes|", "Host Networks|", "CSI Volumes|", f"Driver Status| {status}"]
    ui.output(ui.colorize(format_kv(rows)))
    if verbose:
        _output_drivers(meta, node)
    _output_events(meta, node, verbose)
    ui.output(ui.colorize("\n[bold]Allocated Resources[reset]"))
    ui.output(format_list(_allocated_resources(node, running)))
    if host_stats:
        ui.output(ui.colorize("\n[bold]Host Resource Utilization[reset]"))
        ui.output(format_list(_host_resources(node, host_stats)))
        if show_stats:
            _output_host_stats(meta, host_stats)
    _output_allocs(meta, node, node_allocs, length, verbose)
    return 0


def _attribute_drivers(node: Node) -> list[str]:
    return sorted(key.split(".", 1)[1] for key, value in node.attributes.items()
                  if key.startswith("driver.") and key.count(".") == 1 and value == "1")


def _host_stats(meta: Meta, client: ApiClient, node: Node) -> dict[str, Any]:
    """Host statistics from the node's client; silently absent if the agent has no such endpoint."""
    try:
        return client.node_stats(node.id)
    except ApiNotFound:
        return {}
    except ApiError as err:
        meta.ui.output("")
        meta.ui.error(f"error fetching node stats: {err}")
        return {}


def _output_drivers(meta: Meta, node: Node) -> None:
    ui = meta.ui
    ui.output(ui.colorize("\n[bold]Drivers"))
    rows = ["Driver|Detected|Healthy|Message|Time"]
    for name in sorted(node.drivers):
        info = node.drivers[name]
        rows.append(f"{name}|{go_bool(info.detected)}|{go_bool(info.healthy)}|"
                    f"{info.health_description}|{format_rfc3339(info.update_time)}")
    ui.output(format_list(rows))


def _output_events(meta: Meta, node: Node, verbose: bool) -> None:
    ui = meta.ui
    ui.output(ui.colorize("\n[bold]Node Events"))
    rows = ["Time|Subsystem|Message|Details" if verbose else "Time|Subsystem|Message"]
    for event in reversed(node.events):
        driver = event.details.get("driver", "")
        subsystem = f"Driver: {driver}" if driver else event.subsystem
        row = f"{format_rfc3339(event.timestamp)}|{subsystem}|{event.message}"
        if verbose:
            row += "|" + ", ".join(f"{k}: {v}" for k, v in event.details.items())
        rows.append(row)
    ui.output(format_list(rows))


def _allocated_resources(node: Node, running: list[Allocation]) -> list[str]:
    cpu = memory = disk = 0
    for alloc in running:
        if alloc.allocated_resources is not None:
            cpu += alloc.allocated_resources.total_cpu()
            memory += alloc.allocated_resources.total_memory_mb()
            disk += alloc.allocated_resources.shared.disk_mb
    total_cpu, total_memory = node.comparable_capacity()
    total_disk = (node.node_resources.disk.disk_mb
                  - node.reserved_resources.disk.disk_mb)
    return ["CPU|Memory|Disk|Alloc Count",
            f"{cpu}/{total_cpu} MHz|{ibytes(memory * MB)}/{ibytes(total_memory * MB)}|"
            f"{ibytes(disk * MB)}/{ibytes(total_disk * MB)}|{len(running)}"]


def _host_resources(node: Node, stats: Mapping[str, Any]) -> list[str]:
    device = node.attributes.get("unique.storage.volume", "")
    disk_used = disk_size = 0
    physical = False
    for disk in stats.get("DiskStats") or []:
        if disk.get("Device") == device:
            disk_used, disk_size, physical = int(disk.get("Used") or 0), \
                int(disk.get("Size") or 0), True
    memory = stats.get("Memory") or {}
    cpu = f"{int(float(stats.get('CPUTicksConsumed') or 0))}/" \
          f"{node.node_resources.cpu.cpu_shares} MHz"
    mem = f"{ibytes(int(memory.get('Used') or 0))}/{ibytes(int(memory.get('Total') or 0))}"
    disk_cell = f"{ibytes(disk_used)}/{ibytes(disk_size)}" if physical else f"({device})"
    return ["CPU|Memory|Disk", f"{cpu}|{mem}|{disk_cell}"]


def _output_host_stats(meta: Meta, stats: Mapping[str, Any]) -> None:
    ui = meta.ui
    ui.output(ui.colorize("\n[bold]CPU Stats[reset]"))
    cpus = stats.get("CPU") or []
    for i, cpu in enumerate(cpus):
        ui.output(format_kv([f"CPU|{cpu.get('CPU', '')}",
                             f"User|{_float(cpu.get('User'))}%",
                             f"System|{_float(cpu.get('System'))}%",
                             f"Idle|{_float(cpu.get('Idle'))}%"]))
        if i + 1 < len(cpus):
            ui.output("")
    memory = stats.get("Memory") or {}
    ui.output(ui.colorize("\n[bold]Memory Stats[reset]"))
    ui.output(format_kv([f"{name}|{ibytes(int(memory.get(name) or 0))}"
                         for name in ("Total", "Available", "Used", "Free")]))
    ui.output(ui.colorize("\n[bold]Disk Stats[reset]"))
    disks = stats.get("DiskStats") or []
    for i, disk in enumerate(disks):
        ui.output(format_kv([f"Device|{disk.get('Device', '')}",
                             f"MountPoint|{disk.get('Mountpoint', '')}",
                             f"Size|{ibytes(int(disk.get('Size') or 0))}",
                             f"Used|{ibytes(int(disk.get('Used') or 0))}",
                             f"Available|{ibytes(int(disk.get('Available') or 0))}",
                             f"Used Percent|{_float(disk.get('UsedPercent'))}%",
                             f"Inodes Percent|{_float(disk.get('InodesUsedPercent'))}%"]))
        if i + 1 < len(disks):
            ui.output("")


def _float(value: Any) -> str:
    """go-humanize FormatFloat("#,###.##")."""
    number = float(value or 0)
    return f"{number:,.2f}"


def _output_allocs(meta: Meta, node: Node, allocs: list[Allocation], length: int,
                   verbose: bool) -> None:
    ui = meta.ui
    ui.output(ui.colorize("\n[bold]Allocations[reset]"))
    ui.output(format_alloc_list(allocs, verbose=verbose, length=length, now=meta.now()))
    if verbose:
        ui.output(ui.colorize("\n[bold]Attributes[reset]"))
        ui.output(format_kv([f"{k}|{node.attributes[k]}" for k in sorted(node.attributes)]))
        ui.output(ui.colorize("\n[bold]Meta[reset]"))
        ui.output(format_kv([f"{k}|{node.meta[k]}" for k in sorted(node.meta)]))


def format_alloc_list(allocs: list[Allocation], *, verbose: bool, length: int,
                      now: float) -> str:
    """Nomad's formatAllocList: like the stub table, from full allocations."""
    if not allocs:
        return "No allocations placed"
    if verbose:
        rows = ["ID|Eval ID|Node ID|Task Group|Version|Desired|Status|Created|Modified"]
        for a in allocs:
            rows.append(f"{limit(a.id, length)}|{limit(a.eval_id, length)}|"
                        f"{limit(a.node_id, length)}|{a.task_group}|"
                        f"{a.job.version if a.job else 0}|{a.desired_status}|{a.client_status}|"
                        f"{format_time_ns(a.create_time)}|{format_time_ns(a.modify_time)}")
    else:
        rows = ["ID|Node ID|Task Group|Version|Desired|Status|Created|Modified"]
        for a in allocs:
            rows.append(f"{limit(a.id, length)}|{limit(a.node_id, length)}|{a.task_group}|"
                        f"{a.job.version if a.job else 0}|{a.desired_status}|{a.client_status}|"
                        f"{pretty_time_diff(a.create_time, now)}|"
                        f"{pretty_time_diff(a.modify_time, now)}")
    return format_list(rows)
