"""``job promote [-group G]... <job>``: promote the canaries of a job's latest deployment.

The same as ``deployment promote`` on the job's most recent deployment
(found by ``GET /v1/job/:id/deployment``), then the same monitoring.
"""

from __future__ import annotations

import click

from ..api import ApiError
from .deployment_promote import group_options
from .format import FULL_ID, SHORT_ID
from .lookup import job_id_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .monitor import follow_evaluation


@click.command("promote", cls=NomadCommand)
@common_options
@group_options
@click.argument("args", nargs=-1, metavar="<job>")
def job_promote(meta: Meta, args: tuple[str, ...], groups: tuple[str, ...], detach: bool,
                verbose: bool) -> int:
    """Promote a job's canaries."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <job id>")
    length = FULL_ID if verbose else SHORT_ID
    client = meta.client()
    job_id, namespace = job_id_by_prefix(meta, client, args[0].strip())
    if namespace:
        client.namespace = namespace
    try:
        deployment, _ = client.job_latest_deployment(job_id)
    except ApiError as err:
        raise CommandFailed(f"Error retrieving deployment: {err}") from None
    if deployment is None:
        raise CommandFailed(f'Job "{job_id}" has no deployment to promote')
    try:
        response, _ = client.promote_deployment(deployment.id, groups)
    except ApiError as err:
        raise CommandFailed(f'Error promoting deployment "{deployment.id}" for job "{job_id}": '
                            f"{err}") from None
    return follow_evaluation(meta, client, response.get("EvalID") or "", detach=detach,
                             length=length)
