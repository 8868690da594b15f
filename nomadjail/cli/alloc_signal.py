"""``alloc signal [-s SIG] [-task TASK] <alloc> [<task>]``: signal a running allocation.

Nomad's command: without a task every task of the allocation gets the
signal; ``-s`` defaults to SIGKILL; ``-task`` wins over the second argument.
"""

from __future__ import annotations

import click

from ..api import ApiError
from .flags import nomad_option
from .lookup import alloc_stub_by_prefix, check_task
from .meta import CommandFailed, Meta, NomadCommand, common_options


@click.command("signal", cls=NomadCommand)
@common_options
@nomad_option("-s", "signal", default="SIGKILL", metavar="SIGNAL",
              help="The signal the tasks receive (default SIGKILL).")
@nomad_option("-task", "task_flag", default="", metavar="TASK",
              help="Signal only this task.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@click.argument("args", nargs=-1, metavar="<allocation> [<task>]")
def alloc_signal(meta: Meta, args: tuple[str, ...], signal: str, task_flag: str,
                 verbose: bool) -> int:
    """Signal a running allocation."""
    if not 1 <= len(args) <= 2:
        raise meta.usage_error("This command takes up to two arguments: <alloc-id> <task>")
    client = meta.client()
    stub = alloc_stub_by_prefix(meta, client, args[0], verbose=verbose,
                                short_error="Alloc ID must contain at least two characters.")
    try:
        alloc, _ = client.allocation(stub["ID"], namespace=stub.get("Namespace") or None)
    except ApiError as err:
        raise CommandFailed(f"Error querying allocation: {err}") from None
    task = task_flag or (args[1] if len(args) == 2 else "")
    if task:
        try:
            check_task(alloc, task)
        except CommandFailed as failed:  # Nomad words it without the "Failed to validate" part
            raise CommandFailed(failed.message.removeprefix("Failed to validate task: ")
                                ) from None
    try:
        client.signal_allocation(alloc.id, task=task, signal=signal,
                                 namespace=alloc.namespace or None)
    except ApiError as err:
        raise CommandFailed(f"Error signalling allocation: {err}") from None
    return 0
