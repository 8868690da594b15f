"""``deployment promote [-group G]... <deployment>``: let a canary rollout go on.

Promoting a group whose canaries are healthy replaces the rest of its
allocations with the new version; without ``-group`` every group is
promoted.  The command then monitors the evaluation and the deployment
until the rollout ends (unless ``-detach``).  ``job promote`` does the same
for a job's latest deployment.
"""

from __future__ import annotations

import click

from ..api import ApiError
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID
from .lookup import deployment_argument
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import follow_evaluation


def group_options(func: click.decorators.FC) -> click.decorators.FC:
    """``-group`` (repeatable), ``-detach`` and ``-verbose``: what both promote commands take."""
    for option in reversed([
        nomad_option("-group", "groups", multiple=True, metavar="GROUP",
                     help="Promote only this task group (repeatable; default: all)."),
        nomad_option("-detach", "detach", is_flag=True,
                     help="Print the evaluation ID and return instead of monitoring."),
        nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs."),
    ]):
        func = option(func)
    return func


@click.command("promote", cls=NomadCommand)
@common_options
@group_options
@click.argument("args", nargs=-1, metavar="<deployment>")
def deployment_promote(meta: Meta, args: tuple[str, ...], groups: tuple[str, ...],
                       detach: bool, verbose: bool) -> int:
    """Promote canaries in a deployment."""
    length = FULL_ID if verbose else SHORT_ID
    client, deployment = deployment_argument(meta, args, verbose=verbose)
    try:
        response, _ = client.promote_deployment(deployment.id, groups)
    except ApiError as err:
        raise CommandFailed(f"Error promoting deployment: {err}") from None
    return follow_evaluation(meta, client, response.get("EvalID") or "", detach=detach,
                             length=length)
