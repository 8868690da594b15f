"""``eval status [-monitor] <eval>``: one evaluation, what it placed and why placements failed."""

from __future__ import annotations

from typing import Any

import click

from ..api import ApiError
from ..structs import Evaluation, to_api
from .flags import nomad_option
from .format import (
    FULL_ID,
    SHORT_ID,
    format_kv,
    format_time_ns,
    format_time_s,
    go_quote,
    limit,
    pretty_time_diff,
    rfc3339_ns,
    to_json,
)
from .lookup import eval_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import EvalMonitor
from .views import (
    eval_failure_status,
    format_alloc_list_stubs,
    format_alloc_metrics,
    placement_noun,
)


@click.command("status", cls=NomadCommand)
@common_options
@nomad_option("-monitor", "monitor", is_flag=True, help="Watch the evaluation until it ends.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs and times.")
@nomad_option("-json", "as_json", is_flag=True, help="Print the evaluation as JSON.")
@click.argument("args", nargs=-1, metavar="<evaluation>")
def eval_status(meta: Meta, args: tuple[str, ...], monitor: bool, verbose: bool,
                as_json: bool) -> int:
    """Display evaluation status and placement failure reasons."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument")
    client = meta.client()
    found = eval_by_prefix(client, args[0], verbose=verbose)
    length = FULL_ID if verbose else SHORT_ID
    if monitor:
        return EvalMonitor(meta, client, length).monitor(found.id)
    try:
        evaluation, _ = client.evaluation(found.id)
    except ApiError as err:
        raise CommandFailed(f"Error querying evaluation: {err}") from None
    if as_json:
        meta.ui.output(to_json(to_api(evaluation)))
        return 0
    try:
        placed, _ = client.evaluation_allocations(evaluation.id)
    except ApiError as err:
        raise CommandFailed(f"Error querying related allocations: {err}") from None
    _format(meta, evaluation, placed, verbose=verbose, length=length)
    return 0


def _format(meta: Meta, evaluation: Evaluation, placed: list[dict[str, Any]], *,
            verbose: bool, length: int) -> None:
    ui = meta.ui
    now = meta.now()
    failure_text, failures = eval_failure_status(evaluation)
    if verbose:
        created = format_time_ns(evaluation.create_time)
        modified = format_time_ns(evaluation.modify_time)
    else:
        created = pretty_time_diff(evaluation.create_time, now)
        modified = pretty_time_diff(evaluation.modify_time, now)
    rows = [
        f"ID|{limit(evaluation.id, length)}",
        f"Create Time|{created}",
        f"Modify Time|{modified}",
        f"Status|{evaluation.status}",
        f"Status Description|{evaluation.status_description or evaluation.status}",
        f"Type|{evaluation.type}",
        f"TriggeredBy|{evaluation.triggered_by}",
        f"Job ID|{evaluation.job_id}",
        f"Namespace|{evaluation.namespace}",
    ]
    if evaluation.triggered_by == "node-update" and evaluation.node_id:
        rows.append(f"Node ID|{evaluation.node_id}")
    elif evaluation.triggered_by == "max-plan-attempts" and evaluation.previous_eval:
        rows.append(f"Previous Eval|{evaluation.previous_eval}")
    rows += [f"Priority|{evaluation.priority}", f"Placement Failures|{failure_text}"]
    wait_until = rfc3339_ns(evaluation.wait_until)
    if wait_until:
        rows.append(f"Wait Until|{format_time_s(wait_until / 1e9)}")
    rows += [f"Previous Eval|{limit(evaluation.previous_eval, length)}",
             f"Next Eval|{limit(evaluation.next_eval, length)}",
             f"Blocked Eval|{limit(evaluation.blocked_eval, length)}"]
    ui.output(format_kv(rows))
    if placed:
        ui.output(ui.colorize("\n[bold]Placed Allocations[reset]"))
        ui.output(format_alloc_list_stubs(placed, verbose=False, length=length, now=now))
    if failures:
        ui.output(ui.colorize("\n[bold]Failed Placements[reset]"))
        for group in sorted(evaluation.failed_tg_allocs):
            metrics = evaluation.failed_tg_allocs[group]
            ui.output(f"Task Group {go_quote(group)} (failed to place "
                      f"{metrics.coalesced_failures + 1} {placement_noun(metrics)}):")
            ui.output(ui.colorize(format_alloc_metrics(metrics, prefix="  ")))
        if evaluation.blocked_eval:
            ui.output(f'\nEvaluation "{limit(evaluation.blocked_eval, length)}" waiting for '
                      "additional capacity to place remainder")
