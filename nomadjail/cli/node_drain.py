"""``node drain -enable|-disable`` and ``node eligibility -enable|-disable``.

Draining moves a node's allocations elsewhere and marks it ineligible;
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
from .format import format_time_s
from .lookup import local_node_id, node_stub_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options

DEFAULT_DRAIN_DEADLINE = 3600 * 1_000_000_000  # one hour, Nomad's default
MONITOR_WAIT = 1.0
"""Seconds each blocking read of the drain monitor may wait (node and allocations alternate)."""


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
        DrainMonitor(meta, client, node.id, ignore_system).run(query_meta.last_index)
        return 0

    if wanted != node.id and not yes:
        verb = "disable" if disable else "enable"
        code = _confirm(meta, f'Are you sure you want to {verb} drain mode for node '
                              f'"{node.id}"? [y/N]', "Canceling drain toggle")
        if code is not None:
            return code

    spec = {"Deadline": deadline_ns, "IgnoreSystemJobs": ignore_system} if enable else None
    drain_meta: dict[str, str] = {}
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
    DrainMonitor(meta, client, node.id, ignore_system).run(write_meta.last_index)
    return 0


class DrainMonitor:
    """Reports a draining node's progress until the drain is over and its allocations stopped.

    The node and its allocations are watched in turns with short blocking
    reads, so the monitor needs no threads.
    """

    def __init__(self, meta: Meta, client: ApiClient, node_id: str, ignore_system: bool):
        self.meta = meta
        self.client = client
        self.node_id = node_id
        self.ignore_system = ignore_system

    def _say(self, level: str, text: str) -> None:
        line = f"{format_time_s(self.meta.now())}: {text}"
        getattr(self.meta.ui, level)(line)

    def run(self, index: int) -> None:
        node_done = allocs_done = False
        node_index, alloc_index = index, 0
        last_strategy: Any = None
        seen: dict[str, Allocation] = {}
        try:  # what runs now, so later reads can say what changed
            allocs, qmeta = self.client.node_allocations(self.node_id, stale=True)
        except ApiError as err:
            self._say("error", f"Error monitoring allocations: {err}")
            return
        seen.update((alloc.id, alloc) for alloc in allocs)
        alloc_index = qmeta.last_index
        while not (node_done and allocs_done):
            if not node_done:
                try:
                    node, qmeta = self.client.node(self.node_id, index=node_index,
                                                   wait=MONITOR_WAIT, stale=True)
                except ApiError as err:
                    self._say("error", f"Error monitoring node: {err}")
                    return
                if node.drain_strategy is None:
                    self._say("info", f"Drain complete for node {self.node_id}")
                    node_done = True
                else:
                    if node.status == NodeStatus.DOWN:
                        self._say("warn", f'Node "{self.node_id}" down')
                    if last_strategy is not None and node.drain_strategy != last_strategy:
                        self._say("info", f'Node "{self.node_id}" drain updated: '
                                          f"{_describe_strategy(node.drain_strategy)}")
                    last_strategy = node.drain_strategy
                if qmeta.last_index == node_index:
                    self.meta.env.sleep(0.1)
                node_index = qmeta.last_index
            if not allocs_done:
                try:
                    allocs, qmeta = self.client.node_allocations(
                        self.node_id, index=alloc_index, wait=MONITOR_WAIT, stale=True)
                except ApiError as err:
                    self._say("error", f"Error monitoring allocations: {err}")
                    return
                alloc_index = qmeta.last_index
                allocs_done = self._report_allocs(allocs, seen)
                if allocs_done:
                    self._say("info", f'All allocations on node "{self.node_id}" have stopped')

    def _report_allocs(self, allocs: list[Allocation], seen: dict[str, Allocation]) -> bool:
        """Print what changed since the last read; True once nothing is pending or running."""
        running = 0
        for alloc in allocs:
            before = seen.get(alloc.id)
            seen[alloc.id] = alloc
            migrating = bool(alloc.desired_transition.migrate)
            text = ""
            if before is None:
                pass  # first sight: nothing to compare with
            elif before.client_status != alloc.client_status:
                text = f"status {before.client_status} -> {alloc.client_status}"
            elif migrating and not before.desired_transition.migrate:
                text = "marked for migration"
            elif migrating and before.desired_status != alloc.desired_status and \
                    alloc.desired_status == AllocDesiredStatus.STOP:
                text = "draining"
            if text:
                self._say("output", f'Alloc "{alloc.id}" {text}')
            if alloc.job is None or not alloc.job.type:
                continue
            if self.ignore_system and alloc.job.type == JobType.SYSTEM:
                continue
            if alloc.client_status in (AllocClientStatus.PENDING, AllocClientStatus.RUNNING):
                running += 1
        return running == 0


def _describe_strategy(strategy: Any) -> str:
    """api.DrainStrategy.String()."""
    if strategy.ignore_system_jobs:
        return f"drain ignoring system jobs and deadline at {strategy.force_deadline}"
    return f"drain with deadline at {strategy.force_deadline}"


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
