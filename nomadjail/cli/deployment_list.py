"""``deployment list``: every deployment the cluster tracks, newest first.

::

    ID        Job ID  Job Version  Status      Description
    e2e8b1b9  web     3            running     Deployment is running but requires manual promotion
    0b23e51c  web     2            successful  Deployment completed successfully
"""

from __future__ import annotations

import click

from ..api import ApiError
from ..structs import to_api
from .flags import nomad_option
from .format import FULL_ID, SHORT_ID, to_json
from .meta import CommandFailed, Meta, NomadCommand, common_options
from .views import format_deployments


@click.command("list", cls=NomadCommand)
@common_options
@nomad_option("-json", "as_json", is_flag=True, help="Print the deployments as JSON.")
@nomad_option("-filter", "filter_expr", default="", metavar="EXPR",
              help="Only the deployments the filter expression selects (server side).")
@nomad_option("-verbose", "verbose", is_flag=True, help="Full IDs.")
@click.argument("args", nargs=-1, metavar="")
def deployment_list(meta: Meta, args: tuple[str, ...], as_json: bool, filter_expr: str,
                    verbose: bool) -> int:
    """List all deployments."""
    if args:
        raise meta.usage_error("This command takes no arguments")
    client = meta.client()
    try:
        deployments, _ = client.deployments(filter_expr=filter_expr)
    except ApiError as err:
        raise CommandFailed(f"Error retrieving deployments: {err}") from None
    if as_json:
        meta.ui.output(to_json([to_api(d) for d in deployments]))
        return 0
    meta.ui.output(format_deployments(deployments, FULL_ID if verbose else SHORT_ID))
    return 0
