"""``node drain -enable|-disable`` and ``node eligibility -enable|-disable``.

Draining marks the node ineligible and has the servers move its allocations
elsewhere, each group ``migrate.max_parallel`` at a time, system jobs' last
(``-deadline``, ``-force``, ``-no-deadline``, ``-ignore-system`` shape it);
``node drain -enable`` then watches the drain (unless ``-detach``) and
reports each allocation's progress, as Nomad's drain monitor does::

    2024-01-08T10:00:00Z: Ctrl-C to stop monitoring: will not cancel the node drain
    2024-01-08T10:00:00Z: Node "f1e2..." drain strategy set
    2024-01-08T10:00:01Z: Alloc "3b1e..." marked for migration
    2024-01-08T10:00:01Z: Alloc "3b1e..." draining
    2024-01-08T10:00:06Z: Alloc "3b1e..." status running -> complete
    2024-01-08T10:00:06Z: Drain complete for node f1e2...
    2024-01-08T10:00:06Z: All allocations on node "f1e2..." have stopped
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any

import click

from ..api import ApiClient, ApiError
from ..structs import (
    Allocation,
    AllocClientStatus,
    AllocDesiredStatus,
    JobType,
    NodeEligibility,
    NodeStatus,
    parse_duration,
)
from .flags import nomad_option
from .format import format_time_s, rfc3339_ns
from .lookup import local_node_id, node_stub_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options

DEFAULT_DRAIN_DEADLINE = 3600 * 1_000_000_000  # one hour, Nomad's default
MONITOR_WAIT = 5.0
"""Seconds each blocking read of the drain monitor may wait (a change answers it at once)."""
IDLE_PAUSE = 0.1
"""Pause when a read came back unchanged at once (a server that does not block)."""


def _confirm(meta: Meta, question: str, cancelled: str) -> int | None:
    """None to go ahead, or the exit code to stop with (Nomad's exact-'y' rule)."""
    answer = meta.ui.ask(question)
    if answer == "" or answer.lower().startswith("n"):
        meta.ui.output(cancelled)
        return 0
    if answer.lower().startswith("y") and len(answer) > 1:
        meta.ui.output("For confirmation, an exact ‘y’ is required.")
        return 0
    if answer != "y":
        meta.ui.output("No confirmation detected. For confirmation, an exact 'y' is required.")
        return 1
    return None


@click.command("drain", cls=NomadCommand)
@common_options
@nomad_option("-enable", "enable", is_flag=True, help="Start draining the node.")
@nomad_option("-disable", "disable", is_flag=True, help="Stop draining the node.")
@nomad_option("-deadline", "deadline", default="", metavar="DURATION",
              help="Force-stop what is left after this long (default 1h).")
@nomad_option("-force", "force", is_flag=True, help="Stop every allocation at once.")
@nomad_option("-no-deadline", "no_deadline", is_flag=True, help="Never force-stop.")
@nomad_option("-ignore-system", "ignore_system", is_flag=True,
              help="Leave system jobs' allocations in place.")
@nomad_option("-keep-ineligible", "keep_ineligible", is_flag=True,
              help="With -disable: leave the node ineligible.")
@nomad_option("-self", "self_", is_flag=True, help="The node of the agent answering.")
@nomad_option("-detach", "detach", is_flag=True, help="Return without monitoring the drain.")
@nomad_option("-monitor", "monitor", is_flag=True, help="Only monitor an ongoing drain.")
@nomad_option("-yes", "yes", is_flag=True, help="Do not ask for confirmation.")
@nomad_option("-m", "message", default="", metavar="MESSAGE", help="A message stored with the "
              "drain.")
@nomad_option("-meta", "meta_flags", multiple=True, metavar="KEY=VALUE",
              help="Metadata stored with the drain (repeatable).")
@click.argument("args", nargs=-1, metavar="<node>")
def node_drain(meta: Meta, args: tuple[str, ...], enable: bool, disable: bool, deadline: str,
               force: bool, no_deadline: bool, ignore_system: bool, keep_ineligible: bool,
               self_: bool, detach: bool, monitor: bool, yes: bool, message: str,
               meta_flags: tuple[str, ...]) -> int:
    """Toggle drain mode on a given node."""
    if monitor and (enable or disable):
        raise meta.usage_error("The -monitor flag cannot be used with the '-enable' or "
                               "'-disable' flags")
    if (enable and disable) or (not monitor and not enable and not disable):
        raise meta.usage_error("Either the '-enable' or '-disable' flag must be set, unless "
                               "using '-monitor'")
    if (self_ and args) or (not self_ and len(args) != 1):
        raise meta.usage_error("Node ID must be specified if -self isn't being used")
    if disable and (deadline or force or no_deadline or ignore_system):
        raise meta.usage_error("-disable can't be combined with flags configuring drain "
                               "strategy")
    if deadline and (force or no_deadline):
        raise meta.usage_error("-deadline can't be combined with -force or -no-deadline")
    if force and no_deadline:
        raise meta.usage_error("-force and -no-deadline are mutually exclusive")

    if force:
        deadline_ns = -1_000_000_000
    elif no_deadline:
        deadline_ns = 0
    elif deadline:
        try:
            deadline_ns = parse_duration(deadline)
        except ValueError as err:
            raise CommandFailed(f'Failed to parse deadline "{deadline}": {err}') from None
        if deadline_ns <= 0:
            raise CommandFailed("A positive drain duration must be given")
    else:
        deadline_ns = DEFAULT_DRAIN_DEADLINE

    client = meta.client()
    wanted = local_node_id(client) if self_ else args[0]
    stub = node_stub_by_prefix(client, wanted, verbose_list=True,
                               error_prefix="Error toggling drain mode")
    try:
        node, query_meta = client.node(stub["ID"])
    except ApiError as err:
        raise CommandFailed(f"Error toggling drain mode: {err}") from None

    if monitor:
        if node.drain_strategy is None:
            meta.ui.warn("No drain strategy set")
            return 0
        meta.ui.info(f'{format_time_s(meta.now())}: Monitoring node "{node.id}": Ctrl-C to '
                     "detach monitoring")
        DrainMonitor(meta, node.id, ignore_system).run(query_meta.last_index)
        return 0

    if wanted != node.id and not yes:
        verb = "disable" if disable else "enable"
        code = _confirm(meta, f'Are you sure you want to {verb} drain mode for node '
                              f'"{node.id}"? [y/N]', "Canceling drain toggle")
        if code is not None:
            return code

    spec = {"Deadline": deadline_ns, "IgnoreSystemJobs": ignore_system} if enable else None
    drain_meta: dict[str, str] = {}
    if disable and node.last_drain is not None and node.last_drain.meta:
        drain_meta = dict(node.last_drain.meta)  # the drain's metadata, kept on cancel
    if message:
        drain_meta["message" if enable else "cancel_message"] = message
    for item in meta_flags:
        if item:
            key, _, value = item.partition("=")
            drain_meta[key] = value
    try:
        _, write_meta = client.update_node_drain(node.id, drain_spec=spec,
                                                 mark_eligible=not keep_ineligible,
                                                 meta=drain_meta or None)
    except ApiError as err:
        raise CommandFailed(f"Error updating drain specification: {err}") from None

    if not enable or detach:
        state = "set" if enable else "unset"
        meta.ui.output(f'Node "{node.id}" drain strategy {state}')
        return 0
    now = format_time_s(meta.now())
    meta.ui.info(f"{now}: Ctrl-C to stop monitoring: will not cancel the node drain")
    meta.ui.output(f'{now}: Node "{node.id}" drain strategy set')
    DrainMonitor(meta, node.id, ignore_system).run(write_meta.last_index)
    return 0


class DrainMonitor:
    """Reports a draining node's progress until the drain is over and its
    allocations have stopped (Nomad's ``api.Nodes.MonitorDrain``).

    As in Nomad, two watchers run side by side, each with its own blocking
    reads on its own thread: the node (drain over, strategy changed, node
    down) and its allocations (marked for migration, draining, status
    changes).  A long wait on one never delays the other's lines.  The main
    thread prints what they report, in the order reported, until both are
    done or one reports an error.
    """

    def __init__(self, meta: Meta, node_id: str, ignore_system: bool):
        self.meta = meta
        self.node_id = node_id
        self.ignore_system = ignore_system

    def run(self, index: int) -> None:
        reports: queue.SimpleQueue[Report | None] = queue.SimpleQueue()
        stop = threading.Event()
        watchers = (watch_node(self.meta.client(), self.node_id, index, stop, self._pause),
                    watch_allocs(self.meta.client(), self.node_id, self.ignore_system, stop,
                                 self._pause))
        for name, watcher in zip(("drain-node", "drain-allocs"), watchers, strict=True):
            threading.Thread(target=_pump, args=(watcher, reports), name=name,
                             daemon=True).start()
        running = len(watchers)
        try:
            while running:
                report = reports.get()
                if report is None:
                    running -= 1
                    continue
                level, text = report
                getattr(self.meta.ui, level)(f"{format_time_s(self.meta.now())}: {text}")
                if level is Level.ERROR:
                    return
        finally:
            stop.set()

    def _pause(self) -> None:
        self.meta.env.sleep(IDLE_PAUSE)


class Level(StrEnum):
    """Nomad's MonitorMsgLevel*; each value is the Ui method that prints it."""

    OUTPUT = "output"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


Report = tuple[Level, str]


def _pump(watcher: Iterator[Report], reports: queue.SimpleQueue[Report | None]) -> None:
    """Hand a watcher's reports to the printing thread; None when it is done."""
    try:
        for report in watcher:
            reports.put(report)
    except Exception as err:  # noqa: BLE001 - reported by the printing thread, like Nomad's
        reports.put((Level.ERROR, f"Error monitoring drain: {err}"))
    finally:
        reports.put(None)


def watch_node(client: ApiClient, node_id: str, index: int, stop: threading.Event,
               pause: Callable[[], None]) -> Iterator[Report]:
    """The node's side (Nomad's monitorDrainNode): ends with "Drain complete"."""
    last_strategy: Any = None
    while not stop.is_set():
        try:
            node, qmeta = client.node(node_id, index=index, wait=MONITOR_WAIT, stale=True)
        except ApiError as err:
            yield Level.ERROR, f"Error monitoring node: {err}"
            return
        if node.drain_strategy is None:
            yield Level.INFO, f"Drain complete for node {node_id}"
            return
        if node.status == NodeStatus.DOWN:
            yield Level.WARN, f'Node "{node_id}" down'
        if last_strategy is not None and node.drain_strategy != last_strategy:
            yield Level.INFO, (f'Node "{node_id}" drain updated: '
                               f"{_describe_strategy(node.drain_strategy)}")
        last_strategy = node.drain_strategy
        if qmeta.last_index == index:
            pause()  # a server that answered without blocking
        index = qmeta.last_index


def watch_allocs(client: ApiClient, node_id: str, ignore_system: bool, stop: threading.Event,
                 pause: Callable[[], None]) -> Iterator[Report]:
    """The allocations' side (Nomad's monitorDrainAllocs): a line per change seen
    since the first read; ends once none of them is pending or running."""
    seen: dict[str, Allocation] = {}
    index = 0
    while not stop.is_set():
        try:
            allocs, qmeta = client.node_allocations(node_id, index=index,
                                                    wait=MONITOR_WAIT if index else None,
                                                    stale=True)
        except ApiError as err:
            yield Level.ERROR, f"Error monitoring allocations: {err}"
            return
        running = 0
        for alloc in allocs:
            before = seen.get(alloc.id)
            seen[alloc.id] = alloc
            change = "" if before is None else alloc_change(before, alloc)
            if change:
                yield Level.OUTPUT, f'Alloc "{alloc.id}" {change}'
            if alloc.job is None or not alloc.job.type:
                continue  # malformed: not counted, as in Nomad
            if ignore_system and alloc.job.type == JobType.SYSTEM:
                continue
            if alloc.client_status in (AllocClientStatus.PENDING, AllocClientStatus.RUNNING):
                running += 1
        if running == 0:
            yield Level.INFO, f'All allocations on node "{node_id}" have stopped'
            return
        if index and qmeta.last_index == index:
            pause()
        index = qmeta.last_index


def alloc_change(before: Allocation, after: Allocation) -> str:
    """What the drain monitor says about one allocation's change ("" for nothing)."""
    migrating = bool(after.desired_transition.migrate)
    if before.client_status != after.client_status:
        return f"status {before.client_status} -> {after.client_status}"
    if migrating and not before.desired_transition.migrate:
        return "marked for migration"
    if migrating and before.desired_status != after.desired_status \
            and after.desired_status == AllocDesiredStatus.STOP:
        return "draining"
    return ""


def _describe_strategy(strategy: Any) -> str:
    """api.DrainStrategy.String(): the deadline as Go prints a UTC time."""
    deadline = _go_time(strategy.force_deadline)
    if strategy.ignore_system_jobs:
        return f"drain ignoring system jobs and deadline at {deadline}"
    return f"drain with deadline at {deadline}"


def _go_time(text: str) -> str:
    """Go's ``time.Time.String()`` for an RFC 3339 UTC time ("2024-01-08 10:00:00.5 +0000
    UTC"): fractional seconds without trailing zeros."""
    ns = rfc3339_ns(text)
    if ns == 0:
        return "0001-01-01 00:00:00 +0000 UTC"
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
    if fraction:
        stamp += "." + f"{fraction:09d}".rstrip("0")
    return f"{stamp} +0000 UTC"


@click.command("eligibility", cls=NomadCommand)
@common_options
@nomad_option("-enable", "enable", is_flag=True, help="Mark the node eligible for scheduling.")
@nomad_option("-disable", "disable", is_flag=True,
              help="Mark the node ineligible for scheduling.")
@nomad_option("-self", "self_", is_flag=True, help="The node of the agent answering.")
@click.argument("args", nargs=-1, metavar="<node>")
def node_eligibility(meta: Meta, args: tuple[str, ...], enable: bool, disable: bool,
                     self_: bool) -> int:
    """Toggle scheduling eligibility for a given node."""
    if enable == disable:
        raise meta.usage_error("Either the '-enable' or '-disable' flag must be set")
    if (self_ and args) or (not self_ and len(args) != 1):
        raise meta.usage_error("Node ID must be specified if -self isn't being used")
    client = meta.client()
    wanted = local_node_id(client) if self_ else args[0]
    stub = node_stub_by_prefix(client, wanted, verbose_list=True,
                               error_prefix="Error updating scheduling eligibility")
    try:
        node, _ = client.node(stub["ID"])
        client.update_node_eligibility(node.id, enable)
    except ApiError as err:
        raise CommandFailed(f"Error updating scheduling eligibility: {err}") from None
    state = NodeEligibility.ELIGIBLE if enable else NodeEligibility.INELIGIBLE
    meta.ui.output(f'Node "{node.id}" scheduling eligibility set: {state} for scheduling')
    return 0
