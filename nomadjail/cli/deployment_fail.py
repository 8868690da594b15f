"""``deployment fail <deployment>``: stop a rollout by marking its deployment failed.

No further allocations are placed for it; if its groups ``auto_revert``,
the server registers the job's last stable version again and the command
says so (``Deployment "<id>" failed. Auto-reverted to job version 2.``),
then monitors the evaluation that follows (unless ``-detach``).  Exit
status 0 once the deployment is failed -- the monitor seeing it "failed" is
what was asked for (Nomad's exits 1 there).
"""

from __future__ import annotations

import click

from ..api import ApiError
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID
from .lookup import deployment_argument
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import follow_evaluation


@click.command("fail", cls=NomadCommand)
@common_options
@nomad_option("-detach", "detach", is_flag=True,
              help="Print the evaluation ID and return instead of monitoring.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@click.argument("args", nargs=-1, metavar="<deployment>")
def deployment_fail(meta: Meta, args: tuple[str, ...], detach: bool, verbose: bool) -> int:
    """Manually fail a deployment."""
    length = FULL_ID if verbose else SHORT_ID
    client, deployment = deployment_argument(meta, args, verbose=verbose)
    try:
        response, _ = client.fail_deployment(deployment.id)
    except ApiError as err:
        raise CommandFailed(f"Error failing deployment: {err}") from None
    reverted = response.get("RevertedJobVersion")
    if reverted is None:
        meta.ui.output(f'Deployment "{deployment.id}" failed')
    else:
        meta.ui.output(f'Deployment "{deployment.id}" failed. Auto-reverted to job version '
                       f"{reverted}.")
    return follow_evaluation(meta, client, response.get("EvalID") or "", detach=detach,
                             length=length, blank_line=True, failing=True)
