"""``deployment pause <deployment>`` and ``deployment resume <deployment>``.

A paused deployment places no new allocations of its rollout until it is
resumed; resuming creates an evaluation, which ``resume`` monitors (unless
``-detach``), as Nomad's does.
"""

from __future__ import annotations

import click

from ..api import ApiError
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID
from .lookup import deployment_argument
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import follow_evaluation


@click.command("pause", cls=NomadCommand)
@common_options
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@click.argument("args", nargs=-1, metavar="<deployment>")
def deployment_pause(meta: Meta, args: tuple[str, ...], verbose: bool) -> int:
    """Pause a deployment."""
    client, deployment = deployment_argument(meta, args, verbose=verbose)
    try:
        client.pause_deployment(deployment.id, True)
    except ApiError as err:
        raise CommandFailed(f"Error pausing deployment: {err}") from None
    meta.ui.output(f'Deployment "{deployment.id}" paused')
    return 0


@click.command("resume", cls=NomadCommand)
@common_options
@nomad_option("-detach", "detach", is_flag=True,
              help="Print the evaluation ID and return instead of monitoring.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@click.argument("args", nargs=-1, metavar="<deployment>")
def deployment_resume(meta: Meta, args: tuple[str, ...], detach: bool, verbose: bool) -> int:
    """Resume a paused deployment."""
    length = FULL_ID if verbose else SHORT_ID
    client, deployment = deployment_argument(meta, args, verbose=verbose)
    try:
        response, _ = client.pause_deployment(deployment.id, False)
    except ApiError as err:
        raise CommandFailed(f"Error resuming deployment: {err}") from None
    meta.ui.output(f'Deployment "{deployment.id}" resumed')
    return follow_evaluation(meta, client, response.get("EvalID") or "", detach=detach,
                             length=length, blank_line=True)
