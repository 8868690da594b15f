"""``job stop [-purge] [-detach] [-yes] <job>...`` (alias ``stop``): stop running jobs.

A job named by a prefix rather than its full ID is only stopped after the
user confirms with an exact ``y`` (or passes ``-yes``), as Nomad asks.
Exit status: 0 when stopped (the job's deployment ending "cancelled" is
expected, see :mod:`nomadjail.cli.monitor`), 1 on any error.
"""

from __future__ import annotations

import click

from ..api import ApiClient, ApiError
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID
from .lookup import job_id_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import EvalMonitor


@click.command("stop", cls=NomadCommand)
@common_options
@nomad_option("-detach", "detach", is_flag=True, help="Print the evaluation ID and return.")
@nomad_option("-purge", "purge", is_flag=True,
              help="Remove the job from the system instead of keeping it as dead.")
@nomad_option("-yes", "yes", is_flag=True, help="Do not ask for confirmation.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@click.argument("args", nargs=-1, metavar="<job>...")
def job_stop(meta: Meta, args: tuple[str, ...], detach: bool, purge: bool, yes: bool,
             verbose: bool) -> int:
    """Stop a running job."""
    if not args:
        raise meta.usage_error("This command takes at least one argument: <job>")
    client = meta.client()
    length = FULL_ID if verbose else SHORT_ID
    worst = 0
    for raw_id in args:
        wanted = raw_id.strip()
        try:
            code = _stop_one(meta, client, wanted, single=len(args) == 1, detach=detach,
                             purge=purge, yes=yes, length=length)
        except CommandFailed as failed:
            if failed.message:
                meta.ui.error(failed.message)
            code = failed.code
        worst = worst or code
    return worst


def _stop_one(meta: Meta, client: ApiClient, wanted: str, *, single: bool, detach: bool,
              purge: bool, yes: bool, length: int) -> int:
    job_id, namespace = job_id_by_prefix(meta, client, wanted)
    if single and wanted != job_id and not yes:
        answer = meta.ui.ask(f'Are you sure you want to stop job "{job_id}"? [y/N]')
        if answer == "" or answer.lower().startswith("n"):
            meta.ui.output("Cancelling job stop")
            return 0
        if answer.lower().startswith("y") and len(answer) > 1:
            meta.ui.output("For confirmation, an exact ‘y’ is required.")
            return 0
        if answer != "y":
            meta.ui.output("No confirmation detected. For confirmation, an exact 'y' is "
                           "required.")
            return 1
    try:
        response, _ = client.deregister_job(job_id, purge=purge, namespace=namespace)
    except ApiError as err:
        raise CommandFailed(f"Error deregistering job with id {wanted} err: {err}") from None
    eval_id = response.get("EvalID") or ""
    if not eval_id:
        return 0
    if detach:
        meta.ui.output(eval_id)
        return 0
    return EvalMonitor(meta, client, length, stopping=True).monitor(eval_id)
