"""``job deployments [-latest] [-all] <job>``: the deployments of one job.

The table of ``deployment list`` for the job, newest first, or with
``-latest`` the status block of its most recent deployment.
"""

from __future__ import annotations

import click

from ..api import ApiError
from ..structs import to_api
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID, to_json
from .lookup import job_id_by_prefix
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .views import format_deployment, format_deployments


@click.command("deployments", cls=NomadCommand)
@common_options
@nomad_option("-json", "as_json", is_flag=True, help="Print the deployments as JSON.")
@nomad_option("-latest", "latest", is_flag=True, help="Only the latest deployment.")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@nomad_option("-all", "all_versions", is_flag=True,
              help="Also the deployments of an older job that had the same ID.")
@click.argument("args", nargs=-1, metavar="<job>")
def job_deployments(meta: Meta, args: tuple[str, ...], as_json: bool, latest: bool,
                    verbose: bool, all_versions: bool) -> int:
    """List deployments for a job."""
    if len(args) != 1:
        raise meta.usage_error("This command takes one argument: <job>")
    length = FULL_ID if verbose else SHORT_ID
    client = meta.client()
    job_id, namespace = job_id_by_prefix(meta, client, args[0].strip())
    if latest:
        try:
            deployment, _ = client.job_latest_deployment(job_id, namespace=namespace or None)
        except ApiError as err:
            raise CommandFailed(f"Error retrieving deployments: {err}") from None
        if as_json:
            meta.ui.output(to_json(to_api(deployment) if deployment is not None else None))
            return 0
        meta.ui.output(meta.ui.colorize(format_deployment(deployment, length)))
        return 0
    try:
        deployments, _ = client.job_deployments(job_id, all_versions=all_versions,
                                                namespace=namespace or None)
    except ApiError as err:
        raise CommandFailed(f"Error retrieving deployments: {err}") from None
    if as_json:
        meta.ui.output(to_json([to_api(d) for d in deployments]))
        return 0
    meta.ui.output(format_deployments(deployments, length))
    return 0
