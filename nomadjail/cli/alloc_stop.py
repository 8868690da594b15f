"""``alloc stop <alloc>``: stop one allocation and let the scheduler replace it."""

from __future__ import annotations

import click

from ..api import ApiError
from ..structs import JobType
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID
from .lookup import alloc_stub_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import EvalMonitor


@click.command("stop", cls=NomadCommand)
@common_options
@nomad_option("-detach", "detach", is_flag=True, help="Print the evaluation ID and return.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@nomad_option("-no-shutdown-delay", "no_shutdown_delay", is_flag=True,
              help="Ignore the group's and tasks' shutdown_delay.")
@click.argument("args", nargs=-1, metavar="<allocation>")
def alloc_stop(meta: Meta, args: tuple[str, ...], detach: bool, verbose: bool,
               no_shutdown_delay: bool) -> int:
    """Stop and reschedule a running allocation."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <alloc-id>")
    length = FULL_ID if verbose else SHORT_ID
    client = meta.client()
    stub = alloc_stub_by_prefix(meta, client, args[0], verbose=verbose,
                                short_error="Alloc ID must contain at least two characters.")
    try:
        response, _ = client.stop_allocation(
            stub["ID"], reschedule=stub.get("JobType") == JobType.BATCH,
            no_shutdown_delay=no_shutdown_delay, namespace=stub.get("Namespace") or None)
    except ApiError as err:
        raise CommandFailed(f"Error stopping allocation: {err}") from None
    eval_id = response.get("EvalID") or ""
    if detach:
        meta.ui.output(eval_id)
        return 0
    return EvalMonitor(meta, client, length).monitor(eval_id)
